// bench/worst-case.ts measures what it says: the heavy campaign set loads, and each heavy request is
// decided (not refused as malformed, which would time a parse error), with the outcome the line names.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchWorstCase } from "../../bench/worst-case.ts";
import { writeTestModel } from "../helpers/bidder.ts";

describe("bench worst case", () => {
  it("decides every heavy request against the 256-campaign set: bids, and the all-blocking bcat a 'blocked' no-bid", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nexus-worst-test-"));
    try {
      const model = new Uint8Array(readFileSync(writeTestModel(dir, {}).file));
      const lines = await benchWorstCase(model, 1);
      assert.deepEqual(lines.map((l) => [l.status, l.reason]), [[200, 0], [204, 11], [200, 0]], JSON.stringify(lines));
      for (const l of lines) assert.ok(l.bytes > 10_000 && l.us > 0, JSON.stringify(l));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
