// A core that is not built (or a wrong --core path) is a ToolError CORE_WASM_MISSING that says how
// to build it, from the asynchronous load() (the tools) and loadSync() (the host's campaign check).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { NexusCore } from "../../host/src/tools/core.ts";

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
