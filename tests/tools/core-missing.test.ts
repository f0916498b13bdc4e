// A core that is not built (or a wrong --core path) is a ToolError CORE_WASM_MISSING that says how
// to build it, from the asynchronous load() (the tools) and loadSync() (the host's campaign check).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { NexusCore } from "../../host/src/tools/core.ts";
import { ROOT } from "./helpers.ts";

const MISSING = "/nonexistent/nexus_core.wasm";
const expected = { name: "ToolError", code: "CORE_WASM_MISSING", message: /cannot read \/nonexistent\/nexus_core\.wasm: build it with `npx asc assembly\/tools\/index\.ts --target tools`/ };

describe("a core that is not there", () => {
  it("load() rejects with CORE_WASM_MISSING and the build command", async () => {
    await assert.rejects(NexusCore.load(MISSING), expected);
  });

  it("loadSync() throws the same", () => {
    assert.throws(() => NexusCore.loadSync(MISSING), expected);
  });
});

describe("a file that is not the compiled core", () => {
  // A model (not Wasm at all) and the filter's .wasm (Wasm that imports the proxy-wasm ABI).
  for (const path of [join(ROOT, "models/demo/demo.nxm"), join(ROOT, "build/nexus_filter.wasm")]) {
    const wrong = { name: "ToolError", code: "CORE_EXPORT_MISSING", message: /is not the compiled core \(build\/nexus_core\.wasm, made by npm run build\)/ };
    it(`load() and loadSync() say so with a code: ${path.split("/").pop()}`, async () => {
      await assert.rejects(NexusCore.load(path), wrong);
      assert.throws(() => NexusCore.loadSync(path), wrong);
    });
  }
});
