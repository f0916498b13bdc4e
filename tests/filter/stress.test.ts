// Parallel stress: 4 filter VMs in worker threads sharing data for real
// (SharedArrayBuffer + Atomics), 32 concurrent HTTP clients, a budget that
// runs out mid-test, win notices for a random half of the bids at random
// clearing prices ≤ bid. Charged + reserved never exceeds the cap at any
// sampled point, and at the end charged equals the sum of accepted win prices.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Agent, request } from "undici";
import { FIXTURES, README_REQUEST, startTestBidder, noticeUrl } from "../helpers/bidder.ts";
import { readLedger, cpmToMicros } from "../helpers/ledger.ts";
import type { Standalone } from "../../host/src/standalone.ts";

const CAP = 1_500_000n; // $1.50: a few hundred bids at ~$2-4 CPM
let app: Standalone;

before(async () => {
  const campaigns = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  campaigns.campaigns[0].budget = { total_micros: Number(CAP), daily_micros: 0, hourly_micros: 0, minute_micros: 0 };
  app = await startTestBidder({
    vms: 4,
    vmMode: "workers",
    campaigns,
    budget: { minSliceMicros: 400_000 },
    plugin: { tick_ms: 20, sync_period_ms: 50 },
  });
});
after(async () => {
  await app?.close();
});

// Seeded PRNG so a failure can be replayed.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("money under parallel load", () => {
  it("never exceeds the cap and charges exactly the accepted win prices", async () => {
    const agent = new Agent({ connections: 32, pipelining: 1 });
    const random = rng(20261125);
    let expectedCharged = 0n;
    let bids = 0;
    let budgetNoBids = 0;
    let wins = 0;
    let maxSeen = 0n;
    let samples = 0;
    let violation = "";
    const sampler = setInterval(() => {
      const l = readLedger(app.pool.shared, "test-cpa");
      if (!l) return;
      samples++;
      const used = l.charged + l.reserved;
      if (used > maxSeen) maxSeen = used;
      if (used > CAP && !violation) violation = `charged ${l.charged} + reserved ${l.reserved} > cap ${CAP}`;
    }, 2);

    const notices: Array<Promise<void>> = [];
    const client = async (id: number) => {
      for (let i = 0; i < 60; i++) {
        const req = JSON.parse(README_REQUEST);
        req.id = `stress-${id}-${i}`;
        req.imp[0].bidfloor = 0.1;
        const r = await request(`${app.bidUrl}/openrtb2/bid`, { method: "POST", body: JSON.stringify(req), dispatcher: agent });
        const text = await r.body.text();
        if (r.statusCode === 204) {
          if (r.headers["x-nexus-nobid-reason"] === "budget") budgetNoBids++;
          continue;
        }
        assert.equal(r.statusCode, 200, text);
        bids++;
        const bid = JSON.parse(text).seatbid[0].bid[0];
        if (random() < 0.5) {
          // A clearing price ≤ the bid, in whole thousandths of a CPM unit.
          const priceMilli = Math.floor(random() * Math.round(bid.price * 1000));
          const price = (priceMilli / 1000).toFixed(3);
          notices.push(
            request(noticeUrl(bid.nurl, price), { dispatcher: agent }).then(async (w) => {
              const body = JSON.parse(await w.body.text());
              assert.equal(w.statusCode, 200);
              if (body.status === "charged") {
                expectedCharged += cpmToMicros(price);
                wins++;
              }
            }),
          );
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, (_, i) => client(i)));
    await Promise.all(notices);
    clearInterval(sampler);
    await agent.close();

    const end = readLedger(app.pool.shared, "test-cpa")!;
    assert.equal(violation, "", violation);
    assert.ok(samples > 50, `sampled the ledger ${samples} times`);
    assert.ok(end.charged + end.reserved <= CAP, "final state within the cap");
    assert.ok(budgetNoBids > 0, "the budget ran out mid-test");
    assert.ok(bids > 100, `only ${bids} bids`);
    assert.equal(end.charged, expectedCharged, `charged ${end.charged} != sum of accepted win prices ${expectedCharged}`);
    assert.equal(end.wins, BigInt(wins));
    console.log(`stress: ${bids} bids, ${wins} wins, ${budgetNoBids} budget no-bids, max charged+reserved ${maxSeen} of ${CAP}, ${samples} samples`);
  });
});
