// The hourly and minute soft-cap windows only move forward (assembly/filter/sync.ts
// applySoftCaps). They used to restart whenever the hour number changed, backwards too: a wall
// clock that stepped back across the hour (NTP) and then forward again opened the hour anew
// twice, its spend was forgotten and the campaign bid at full price past its cap. A step back of
// more than an hour (a bogus step forward, corrected) is followed: windows never freeze in the future.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bidAndWin, startSimBidder, type SimBidder, ticks } from "../helpers/sim-bidder.ts";
import { FIXTURES, README_REQUEST } from "../helpers/bidder.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

const dec = new TextDecoder();
const NO_FLOOR = JSON.stringify({ ...JSON.parse(README_REQUEST), imp: [{ id: "1", banner: { w: 300, h: 250 } }] });

function priceOf(out: HttpOutcome): number {
  assert.ok(out.kind === "local" && out.status === 200, "a bid");
  return JSON.parse(dec.decode(out.body)).seatbid[0].bid[0].price;
}

describe("hourly soft cap and a wall clock that steps back across the hour", () => {
  let sim: SimBidder;
  let full = 0;
  before(async () => {
    const c = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    c.campaigns[0].budget = { total_micros: 0, daily_micros: 0, hourly_micros: 5_000, minute_micros: 0 };
    sim = await startSimBidder({ campaigns: c, startMs: Date.UTC(2026, 10, 2, 10, 2), budget: { minSliceMicros: 10_000_000 } });
    await sim.untilReady();
  });
  after(async () => {
    await sim?.close();
  });

  it("keeps the hour's window and its spend through the step and back", async () => {
    full = priceOf(await sim.bid(NO_FLOOR));
    await bidAndWin(sim, NO_FLOOR, 10);
    await ticks(sim, 2);
    assert.ok(priceOf(await sim.bid(NO_FLOOR)) <= full * 0.1, "the hour's cap is spent: the floor");
    sim.clock.wallOffsetMs -= 5 * 60_000; // 09:57: the window of 10:00 stays, and so does the floor
    await ticks(sim, 2);
    assert.ok(priceOf(await sim.bid(NO_FLOOR)) <= full * 0.1, "stepped back into hour 9: still the floor");
    sim.clock.wallOffsetMs += 5 * 60_000; // 10:02 again, the hour whose cap is spent
    await ticks(sim, 2);
    const p = priceOf(await sim.bid(NO_FLOOR));
    assert.ok(p <= full * 0.1, `back in hour 10: bid ${p}, unshaded ${full}`);
  });

  it("the next hour still opens a new window", async () => {
    sim.clock.now = Date.UTC(2026, 10, 2, 11, 1);
    await ticks(sim, 3);
    const p = priceOf(await sim.bid(NO_FLOOR));
    assert.ok(p > full * 0.5, `hour 11: bid ${p}, unshaded ${full}`);
  });

  it("a bogus step a day ahead, corrected: the window follows the clock back (not frozen in the future)", async () => {
    sim.clock.wallOffsetMs += 86_400_000; // tomorrow 11:0x: a new window, whose cap this spends
    await ticks(sim, 2);
    await bidAndWin(sim, NO_FLOOR, 10);
    await ticks(sim, 2);
    assert.ok(priceOf(await sim.bid(NO_FLOOR)) <= full * 0.1, "tomorrow's hour is spent: the floor");
    sim.clock.wallOffsetMs -= 86_400_000; // corrected: today 11:0x again
    sim.clock.now = Date.UTC(2026, 10, 2, 12, 1); // and into the next hour
    await ticks(sim, 3);
    const p = priceOf(await sim.bid(NO_FLOOR));
    assert.ok(p > full * 0.5, `today's hour 12: bid ${p}, unshaded ${full}`);
  });
});
