// The pacing multiplier stays within [pacing.min_multiplier, pacing.max_multiplier]
// (docs/PLUGIN_CONFIG.md) for every campaign, also for one without a daily budget
// (no PID: its neutral multiplier 1 is clamped into the configured range).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { assertSimRefused, startSimBidder } from "../helpers/sim-bidder.ts";
import { FIXTURES, README_REQUEST } from "../helpers/bidder.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

const dec = new TextDecoder();
const NO_FLOOR = JSON.stringify({ ...JSON.parse(README_REQUEST), imp: [{ id: "1", banner: { w: 300, h: 250 } }] });

function campaigns(daily: number): unknown {
  const c = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  c.campaigns[0].max_bid_cpm_micros = 0;
  c.campaigns[0].budget = { total_micros: 0, daily_micros: daily, hourly_micros: 0, minute_micros: 0 };
  return c;
}

function priceOf(out: HttpOutcome): number {
  assert.ok(out.kind === "local" && out.status === 200, "a bid");
  return JSON.parse(dec.decode(out.body)).seatbid[0].bid[0].price;
}

/** The price of one no-floor bid after a few ticks (the leader has paced). */
async function priceWith(pacing: Record<string, unknown>, daily: number): Promise<number> {
  const sim = await startSimBidder({ campaigns: campaigns(daily), plugin: { pacing }, budget: { minSliceMicros: 10_000_000 } });
  try {
    await sim.untilReady();
    for (let i = 0; i < 3; i++) {
      sim.clock.now += 1000;
      await sim.tick();
    }
    return priceOf(await sim.bid(NO_FLOOR));
  } finally {
    await sim.close();
  }
}

describe("pacing multiplier limits", () => {
  it("a campaign without a daily budget is shaded within [min_multiplier, max_multiplier]", async () => {
    const neutral = await priceWith({}, 0);
    const capped = await priceWith({ max_multiplier: 0.5 }, 0);
    const raised = await priceWith({ min_multiplier: 2, max_multiplier: 4 }, 0);
    assert.ok(neutral > 0);
    assert.ok(Math.abs(capped - neutral * 0.5) <= 0.002, `max_multiplier 0.5: ${capped} vs unshaded ${neutral}`);
    assert.ok(Math.abs(raised - neutral * 2) <= 0.002, `min_multiplier 2: ${raised} vs unshaded ${neutral}`);
  });
});

describe("pacing.hourly_weights", () => {
  it("24 zeros (no usable plan) fail the plugin start instead of silently pacing flat", async () => {
    await assertSimRefused({ plugin: { pacing: { hourly_weights: new Array(24).fill(0) } } });
  });

  it("a usable plan (one hour with a weight) is accepted: the plugin starts", async () => {
    const w = new Array(24).fill(0);
    w[12] = 1;
    const sim = await startSimBidder({ plugin: { pacing: { hourly_weights: w } } });
    await sim.close();
  });
});
