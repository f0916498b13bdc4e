// An impression goes to the best campaign that can pay. A campaign whose remaining budget cannot
// cover its bid above the floor (300 micros left, a 0.5 CPM floor) kept winning the choice, and
// every impression then went without a bid although another campaign had the money (an audit:
// 204 "budget" for good).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, README_REQUEST, get, noticeUrl, post, startTestBidder } from "../helpers/bidder.ts";
import type { Standalone } from "../../host/src/standalone.ts";

let app: Standalone;

before(async () => {
  const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  const base = set.campaigns[0];
  // "poor" bids 4 (its cap) and has 4,300 micros in all: one win at 4 leaves 300, under any floor
  // of 0.5; "rich" bids 1 (its cap) with money to spare.
  const poor = { ...structuredClone(base), id: "poor", value_per_conversion_micros: 200_000_000, max_bid_cpm_micros: 4_000_000, budget: { total_micros: 4300, daily_micros: 0, hourly_micros: 0, minute_micros: 0 } };
  const rich = { ...structuredClone(base), id: "rich", max_bid_cpm_micros: 1_000_000 };
  delete poor.frequency_cap;
  set.campaigns = [poor, rich];
  app = await startTestBidder({ vms: 1, campaigns: set });
});
after(async () => {
  await app?.close();
});

describe("the best campaign that can pay", () => {
  it("gets the impression when the best bid's campaign cannot cover it", async () => {
    const first = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
    assert.equal(first.status, 200, String(first.headers["x-nexus-nobid-reason"]));
    const b = first.json().seatbid[0].bid[0];
    assert.equal(b.cid, "poor");
    assert.equal(b.price, 4);
    assert.deepEqual((await get(noticeUrl(b.nurl, "4"))).json(), { status: "charged" });
    for (let i = 0; i < 3; i++) {
      const r = await post(`${app.bidUrl}/openrtb2/bid`, JSON.stringify({ ...JSON.parse(README_REQUEST), id: `after-${i}` }));
      assert.equal(r.status, 200, `request ${i}: ${r.status} ${String(r.headers["x-nexus-nobid-reason"])}`);
      const next = r.json().seatbid[0].bid[0];
      assert.equal(next.cid, "rich");
      assert.equal(next.price, 1);
      await get(noticeUrl(next.lurl, "0"));
    }
  });
});
