// The daily hard cap when the wall clock steps back across midnight (an NTP step, a VM
// migration): the ledger's day must never go backwards. Before the fix, rollDay() started a
// "new" day whenever the day number differed, so stepping forward into tomorrow and back
// into today reset today's spend twice and the same day could spend its cap again.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { FIXTURES, README_REQUEST } from "../helpers/bidder.ts";
import { readLedger } from "../helpers/ledger.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

const dec = new TextDecoder();
const DAILY = 20_000;

function bidOf(out: HttpOutcome): { price: number; nurl: string } | undefined {
  if (out.kind !== "local" || out.status !== 200) return undefined;
  return JSON.parse(dec.decode(out.body)).seatbid[0].bid[0];
}

/** Bids and wins at the bid price until the cap blocks; returns the micros charged. */
async function spendToCap(sim: SimBidder): Promise<number> {
  let spent = 0;
  for (let i = 0; i < 100; i++) {
    const b = bidOf(await sim.bid(README_REQUEST));
    if (!b) return spent;
    const u = new URL(b.nurl.replace("${AUCTION_PRICE}", b.price.toFixed(3)));
    const out = await sim.get(u.pathname + u.search);
    assert.equal(out.kind === "local" && out.status, 200);
    spent += Math.round(b.price * 1000);
  }
  throw new Error("the daily cap never blocked");
}

describe("daily hard cap and a clock that steps back", () => {
  let sim: SimBidder;
  before(async () => {
    const c = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    c.campaigns[0].budget = { total_micros: 0, daily_micros: DAILY, hourly_micros: 0, minute_micros: 0 };
    sim = await startSimBidder({ campaigns: c, startMs: Date.UTC(2026, 10, 2, 23, 0), budget: { minSliceMicros: 10_000_000 } });
    await sim.untilReady();
  });
  after(async () => {
    await sim?.close();
  });

  it("a day whose cap is spent stays blocked after the clock steps into tomorrow and back", async () => {
    const today = Date.UTC(2026, 10, 2, 23, 30);
    sim.clock.now = today;
    const first = await spendToCap(sim);
    assert.ok(first > DAILY / 2, `spent ${first} today`);
    // The clock steps one hour ahead (into tomorrow) for a while: to the ledger that is a new day.
    sim.clock.now = today + 3_600_000;
    await sim.tick();
    const stepped = await spendToCap(sim);
    // And back into today (which has already spent its cap, plus what was spent meanwhile).
    sim.clock.now = today + 60_000;
    await sim.tick();
    await sim.tick();
    const again = await sim.bid(README_REQUEST);
    const l = readLedger(sim.pool.shared, "test-cpa")!;
    assert.equal(
      again.kind === "local" && again.status,
      204,
      `today spent ${first}, then ${stepped} while the clock was ahead, and bids again (ledger day ${l.day}, daily charged ${l.dailyCharged})`,
    );
  });
  it("a brief step into tomorrow with no bids meanwhile neither reopens today nor spends tomorrow's cap", async () => {
    // Found by an audit: a grant written while the clock was ahead moved the ledger to tomorrow;
    // back on today, today's spend was gone (spent twice), and what today spent then was counted
    // against tomorrow, which started its real day blocked.
    const day = Date.UTC(2026, 10, 5, 23, 30);
    sim.clock.now = day;
    await sim.tick();
    const first = await spendToCap(sim);
    assert.ok(first > DAILY / 2, `spent ${first} today`);
    sim.clock.now = day + 3_600_000;
    await sim.tick();
    await sim.tick();
    sim.clock.now = day + 60_000;
    await sim.tick();
    await sim.tick();
    const again = await spendToCap(sim);
    const l = readLedger(sim.pool.shared, "test-cpa")!;
    assert.equal(again, 0, `today spent ${first}, then ${again} more after the clock came back (ledger day ${l.day}, daily ${l.dailyCharged}, previous day ${l.prevDay} with ${l.prevDailyCharged})`);
    sim.clock.now = Date.UTC(2026, 10, 6, 12, 0);
    await sim.tick();
    await sim.tick();
    const tomorrow = await spendToCap(sim);
    assert.ok(tomorrow > DAILY / 2, `tomorrow spent ${tomorrow} of its ${DAILY} cap`);
  });
});
