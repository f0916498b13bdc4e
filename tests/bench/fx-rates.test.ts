// The bench decides the log requests (CNY floors) as `npm start` does: the core section gets
// the default configuration's exchange rates through the core's setFxRate export, and the
// filter section through its plugin configuration. Without them those requests are early
// "currency" no-bids and the core looks cheaper than the HTTP section's bidder.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIXTURES, README_REQUEST, writeTestModel } from "../helpers/bidder.ts";
import { loadCore } from "../../bench/core-bench.ts";
import { BENCH_FLOOR_FEATURE_CURRENCY, BENCH_FX_RATES } from "../../bench/corpus.ts";
import { FILTER_BENCH_BIDDER } from "../../bench/filter-bench.ts";
import { defaultConfig } from "../../host/src/config.ts";

const NO_BID_CURRENCY = 7; // assembly/core/bidding/reasons.ts
const dir = mkdtempSync(join(tmpdir(), "nexus-bench-fx-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const cnyRequest = (() => {
  const r = JSON.parse(README_REQUEST);
  r.imp[0].bidfloor = 3.5; // 3.5 CNY = 0.49 USD at the default rate
  r.imp[0].bidfloorcur = "CNY";
  return new TextEncoder().encode(JSON.stringify(r));
})();

describe("bench exchange rates", () => {
  it("are the default configuration's, CNY included", () => {
    assert.deepEqual(BENCH_FX_RATES, defaultConfig().plugin.fx_rates);
    assert.ok(BENCH_FX_RATES.CNY! > 0);
    assert.deepEqual((FILTER_BENCH_BIDDER.plugin as Record<string, unknown>).fx_rates, BENCH_FX_RATES);
    // And npm start's floor_feature_currency (the HTTP section's bidder runs with it).
    assert.equal(BENCH_FLOOR_FEATURE_CURRENCY, "CNY");
    assert.equal((FILTER_BENCH_BIDDER.plugin as Record<string, unknown>).floor_feature_currency, BENCH_FLOOR_FEATURE_CURRENCY);
  });

  it("let the core section decide a CNY-floored request in full (a bid, not a currency no-bid)", async () => {
    const model = new Uint8Array(readFileSync(writeTestModel(dir, {}).file));
    const campaigns = readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8");
    const { api, put } = await loadCore(model, campaigns);
    const now = BigInt(Date.UTC(2026, 10, 25, 12));
    assert.equal(api.decide(put(cnyRequest), now), 200);
    // The control: the same core without a CNY rate refuses the floor's currency. A rate set
    // again replaces the first (the last of a repeated key, as in the filter's fx_rates).
    api.setFxRate(put(new TextEncoder().encode("CNY")), 1e-9);
    api.setFxRate(put(new TextEncoder().encode("CNY")), 0);
    const code = api.decide(put(cnyRequest), now);
    assert.equal(code & 0xffff, 204);
    assert.equal(code >>> 16, NO_BID_CURRENCY);
  });
});
