// Private-marketplace deals end to end: a campaign that buys in a deal (campaigns file `deals`)
// through the compiled filter in the standalone host, real HTTP — the bid names the deal, keeps
// to its floor or fixed price, and its win is charged like any other.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, README_REQUEST, get, noticeUrl, post, startTestBidder } from "../helpers/bidder.ts";
import type { Standalone } from "../../host/src/standalone.ts";

let app: Standalone;
let bidUrl: string;
let n = 0;

function request(imp: Record<string, unknown>, top: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...JSON.parse(README_REQUEST), id: `deal-${process.pid}-${n++}`, imp: [imp], ...top });
}

function pmpImp(privateAuction: number, deals: Array<Record<string, unknown>>): Record<string, unknown> {
  return { id: "1", banner: { w: 300, h: 250 }, bidfloor: 0.5, pmp: { private_auction: privateAuction, deals } };
}

before(async () => {
  const campaigns = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  campaigns.campaigns[0].deals = ["pmp-1", "pmp-fixed"];
  app = await startTestBidder({ vms: 1, campaigns });
  bidUrl = `${app.bidUrl}/openrtb2/bid`;
});
after(async () => {
  await app?.close();
});

describe("deals through the filter", () => {
  it("bids in a private auction through the campaign's deal, and its win is charged", async () => {
    const r = await post(bidUrl, request(pmpImp(1, [{ id: "other", bidfloor: 0.1 }, { id: "pmp-1", bidfloor: 1 }])));
    assert.equal(r.status, 200, r.text);
    const bid = r.json().seatbid[0].bid[0];
    assert.equal(bid.dealid, "pmp-1");
    assert.ok(bid.price >= 1, `price ${bid.price} under the deal's floor`);
    assert.match(await (await fetch(`${app.controlUrl}/metrics`)).text(), /^nexus_deal_bids_total 1$/m);
    const win = await get(noticeUrl(bid.nurl, String(bid.price)));
    assert.equal(win.status, 200, win.text);
    assert.equal(win.json().status, "charged");
  });

  it("does not bid in a private auction without one of its deals", async () => {
    const r = await post(bidUrl, request(pmpImp(1, [{ id: "other", bidfloor: 0.1 }])));
    assert.equal(r.status, 204, r.text);
    assert.equal(r.headers["x-nexus-nobid-reason"], "no_match");
  });

  it("bids the agreed price of a fixed-price deal (at 3)", async () => {
    const r = await post(bidUrl, request(pmpImp(1, [{ id: "pmp-fixed", bidfloor: 1.25, at: 3 }])));
    assert.equal(r.status, 200, r.text);
    const bid = r.json().seatbid[0].bid[0];
    assert.equal(bid.dealid, "pmp-fixed");
    assert.equal(bid.price, 1.25);
    const loss = await get(noticeUrl(bid.lurl, "0"));
    assert.equal(loss.json().status, "refunded");
  });

  it("falls back to the open auction when the deal's floor is out of reach", async () => {
    const r = await post(bidUrl, request(pmpImp(0, [{ id: "pmp-1", bidfloor: 10_000 }])));
    assert.equal(r.status, 200, r.text);
    const bid = r.json().seatbid[0].bid[0];
    assert.equal(bid.dealid, undefined);
    await get(noticeUrl(bid.lurl, "0"));
  });
});
