// The OpenRTB fixture corpus through the parser alone, compiled with allocation tracing
// (tests/fixtures/openrtb/check.mjs): valid requests parse without allocating, invalid ones give
// their message, type slips parse by default and give their message under strict types.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { FIXTURES } from "../helpers/bidder.ts";

describe("OpenRTB fixture corpus, parser alone", () => {
  it("passes check.mjs: every fixture as expected, no parse allocates", () => {
    const r = spawnSync(process.execPath, [join(FIXTURES, "openrtb/check.mjs")], { encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /\d+ valid, \d+ invalid, \d+ type-slip fixtures, 0 failure\(s\)/);
  });
});
