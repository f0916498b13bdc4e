// A reply that would not fit the filter's reply buffer (256 KiB): 16 impressions of a campaign
// whose markup is 20 KB. Before, the whole reply was dropped and answered 204 "no_match", every
// bid refunded (an audit). Now the bids that fit are answered, the others refunded and counted.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, README_REQUEST, post, startTestBidder } from "../helpers/bidder.ts";
import { readLedger, cpmToMicros } from "../helpers/ledger.ts";
import { metricValue } from "../host/budget/bidders.ts";
import type { Standalone } from "../../host/src/standalone.ts";

let app: Standalone;
const MARKUP = `<script>${"x".repeat(20_000)}</script>`;

before(async () => {
  const c = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  c.campaigns[0].creatives[0].adm = MARKUP;
  app = await startTestBidder({ vms: 1, campaigns: c });
});
after(async () => {
  await app?.close();
});

describe("a reply larger than the reply buffer", () => {
  it("answers the bids that fit, whole and in order; the others are refunded and counted", async () => {
    const req = JSON.parse(README_REQUEST);
    req.imp = Array.from({ length: 16 }, (_, i) => ({ ...req.imp[0], id: String(i + 1) }));
    const metrics = async () => (await fetch(`${app.controlUrl}/metrics`)).text();
    const leftOutBefore = metricValue(await metrics(), "nexus_bids_left_out_total");
    const reservedBefore = readLedger(app.pool.shared, "test-cpa")!.reserved;
    const r = await post(`${app.bidUrl}/openrtb2/bid`, JSON.stringify(req));
    assert.equal(r.status, 200, `${r.status} ${String(r.headers["x-nexus-nobid-reason"])}`);
    assert.ok(Buffer.byteLength(r.text) <= 256 * 1024, `${Buffer.byteLength(r.text)} bytes`);
    const bids = r.json().seatbid[0].bid as Array<{ impid: string; price: number; adm: string }>;
    assert.ok(bids.length >= 8 && bids.length < 16, `${bids.length} bids`);
    assert.deepEqual(bids.map((b) => b.impid), Array.from({ length: bids.length }, (_, i) => String(i + 1)), "the first impressions, in order");
    for (const b of bids) assert.equal(b.adm, MARKUP);
    assert.equal(metricValue(await metrics(), "nexus_bids_left_out_total") - leftOutBefore, 16 - bids.length);
    // Only the answered bids hold money.
    const held = bids.reduce((sum, b) => sum + cpmToMicros(String(b.price)), 0n);
    assert.equal(readLedger(app.pool.shared, "test-cpa")!.reserved - reservedBefore, held);
  });
});
