// Hard and soft caps with a simulated clock: the daily cap blocks reservations
// until the day boundary of the configured time zone, then bidding resumes;
// the hourly soft cap never blocks, it drops the pacing multiplier to its floor
// until the hour ends.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bidAndWin, startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { FIXTURES, README_REQUEST } from "../helpers/bidder.ts";
import { readLedger } from "../helpers/ledger.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

const dec = new TextDecoder();
const OFFSET_MIN = 120; // UTC+2: the day starts at 22:00 UTC

function campaignsWith(budget: Record<string, number>): unknown {
  const c = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  c.campaigns[0].budget = { total_micros: 0, daily_micros: 0, hourly_micros: 0, minute_micros: 0, ...budget };
  return c;
}

function bidOf(out: HttpOutcome): { price: number; nurl: string } | undefined {
  if (out.kind !== "local" || out.status !== 200) return undefined;
  return JSON.parse(dec.decode(out.body)).seatbid[0].bid[0];
}

async function win(sim: SimBidder, nurl: string, price: string): Promise<void> {
  const u = new URL(nurl.replace("${AUCTION_PRICE}", price));
  const out = await sim.get(u.pathname + u.search);
  assert.equal(out.kind === "local" && out.status, 200);
}

describe("daily hard cap", () => {
  let sim: SimBidder;
  before(async () => {
    // 21:00 UTC = 23:00 local: one hour before the local midnight.
    sim = await startSimBidder({ campaigns: campaignsWith({ daily_micros: 20_000 }), startMs: Date.UTC(2026, 10, 2, 21), plugin: { utc_offset_minutes: OFFSET_MIN }, budget: { minSliceMicros: 10_000_000 } });
    await sim.untilReady();
  });
  after(async () => {
    await sim?.close();
  });

  it("blocks reservations once the day's budget is spent, and resumes the next local day", async () => {
    let spent = 0;
    for (let i = 0; i < 100; i++) {
      const b = bidOf(await sim.bid(README_REQUEST));
      if (!b) break;
      await win(sim, b.nurl, b.price.toFixed(3));
      spent++;
    }
    const l = readLedger(sim.pool.shared, "test-cpa")!;
    assert.ok(spent > 3, `${spent} wins before the cap`);
    assert.ok(l.dailyCharged + l.reserved <= 20_000n, `daily ${l.dailyCharged} + reserved ${l.reserved}`);
    const blocked = await sim.bid(README_REQUEST);
    assert.equal(blocked.kind === "local" && blocked.status, 204);
    // 22:30 UTC = 00:30 local: a new day for the cap.
    sim.clock.now = Date.UTC(2026, 10, 2, 22, 30);
    await sim.tick();
    await sim.tick();
    const again = bidOf(await sim.bid(README_REQUEST));
    assert.ok(again, "bids again after the local midnight");
  });
});

describe("hourly soft cap", () => {
  let sim: SimBidder;
  // No floor: the shaded bid is tiny and must still be sent.
  const NO_FLOOR = JSON.stringify({ ...JSON.parse(README_REQUEST), imp: [{ id: "1", banner: { w: 300, h: 250 } }] });
  before(async () => {
    sim = await startSimBidder({ campaigns: campaignsWith({ hourly_micros: 5_000 }), startMs: Date.UTC(2026, 10, 2, 10, 5), budget: { minSliceMicros: 10_000_000 } });
    await sim.untilReady();
  });
  after(async () => {
    await sim?.close();
  });

  it("never blocks, but drops the shading to its floor until the hour ends", async () => {
    const first = bidOf(await sim.bid(NO_FLOOR))!;
    assert.ok(first);
    // Spend past the hourly cap.
    await bidAndWin(sim, NO_FLOOR, 10);
    sim.clock.now += 1000;
    await sim.tick(); // the leader sees the hour's spend and publishes the floor multiplier
    sim.clock.now += 1000;
    await sim.tick(); // every VM picks it up
    const shaded = bidOf(await sim.bid(NO_FLOOR));
    assert.ok(shaded, "a soft cap never blocks the bid");
    assert.ok(shaded.price <= first.price * 0.1, `shaded ${shaded.price} vs ${first.price}`);
    // Next hour: the cap's window restarts and the multiplier recovers.
    sim.clock.now = Date.UTC(2026, 10, 2, 11, 1);
    for (let i = 0; i < 3; i++) {
      await sim.tick();
      sim.clock.now += 1000;
    }
    const recovered = bidOf(await sim.bid(NO_FLOOR))!;
    assert.ok(recovered.price > shaded.price * 2, `recovered ${recovered.price} vs shaded ${shaded.price}`);
  });
});
