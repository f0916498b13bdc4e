// `npm run bench --compare FILE` reads the earlier run before measuring anything: a wrong path is
// an error at once, not after minutes of benchmarks.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../host/src/paths.ts";

describe("bench/run.ts --compare", () => {
  it("refuses a missing file before measuring (exit 2, the path named)", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", join(PACKAGE_ROOT, "bench/run.ts"), "--compare", "/nonexistent/nexus-bench.json"], {
      cwd: PACKAGE_ROOT,
      encoding: "utf8",
      timeout: 60_000, // without the early check the whole bench would run: killed, status null
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--compare \/nonexistent\/nexus-bench\.json: ENOENT/);
    assert.doesNotMatch(r.stdout, /core\s+decision/, "no section ran");
  });
});
