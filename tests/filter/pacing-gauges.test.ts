// The per-campaign pacing gauges (nexus_pacing_multiplier_ppm.<id>) when a campaign leaves the
// set. Envoy keeps a metric once it is defined, so a removed campaign's gauge would keep the last
// multiplier paced for it: at the floor, the NexusSpendAbovePace alert (prometheus/alerts.yml,
// `<= 50001` for 30m) kept firing for a campaign that no longer exists. A campaign that leaves
// the set now reads 1,000,000 ppm (multiplier 1: not shading); the others are still paced.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bidAndWin, startSimBidder, type SimBidder, configVersions, ticks } from "../helpers/sim-bidder.ts";
import { FIXTURES, README_REQUEST } from "../helpers/bidder.ts";
import { MetricType } from "../../host/src/proxy-wasm/constants.ts";

const NO_FLOOR = JSON.stringify({ ...JSON.parse(README_REQUEST), imp: [{ id: "1", banner: { w: 300, h: 250 } }] });
const GAUGE = "nexus_pacing_multiplier_ppm.";
/** Default pacing.min_multiplier (0.05) in ppm, and the alert's threshold just above it. */
const FLOOR_PPM = 50_000;
const ALERT_AT_OR_BELOW = 50_001;

function gauge(sim: SimBidder, id: string): number | undefined {
  const v = sim.pool.metrics.find(GAUGE + id)?.value;
  return v === undefined ? undefined : Number(v);
}

/** The multiplier the leader last published for `id` (nexus/v1/pace/<id>), in ppm as the gauge records it. */
function pacedPpm(sim: SimBidder, id: string): number {
  const v = sim.pool.shared.get("nexus/v1/pace/" + id)!.value;
  return Math.trunc(new DataView(v.buffer, v.byteOffset, 16).getFloat64(0, true) * 1e6);
}

/**
 * The host publishes a new campaign set without `id` (what a reload of an edited campaigns file
 * does): the leader fetches it and publishes it in shared data, and every VM loads it from there.
 */
function publishWithout(sim: SimBidder, id: string): void {
  const cur = sim.cp.catalog;
  cur.replace({ version: cur.version + 1, campaigns: cur.campaigns.filter((c) => c.id !== id) });
}

describe("pacing gauges of a campaign removed from the set", () => {
  let sim: SimBidder;
  before(async () => {
    const c = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    // test-cpa: an hourly cap that a few wins pass, which holds its multiplier at the floor.
    c.campaigns[0].budget = { total_micros: 0, daily_micros: 0, hourly_micros: 5_000, minute_micros: 0 };
    // test-keep: stays in the set; another size, so that it never takes test-cpa's bids.
    const keep = structuredClone(c.campaigns[0]);
    keep.id = "test-keep";
    keep.targeting.sizes = ["728x90"];
    keep.budget = { total_micros: 0, daily_micros: 1_000_000_000, hourly_micros: 0, minute_micros: 0 };
    c.campaigns.push(keep);
    sim = await startSimBidder({ vms: 2, campaigns: c, startMs: Date.UTC(2026, 10, 2, 10, 5), budget: { minSliceMicros: 10_000_000 } });
    await sim.untilReady();
    await bidAndWin(sim, NO_FLOOR, 10);
    await ticks(sim, 2);
  });
  after(async () => {
    await sim?.close();
  });

  it("before: the capped campaign's gauge is at the floor (the alert's condition)", () => {
    assert.equal(gauge(sim, "test-cpa"), FLOOR_PPM);
    assert.ok(gauge(sim, "test-keep") !== undefined, "the other campaign has its gauge");
  });

  it("after a set without it: the removed campaign reads 1,000,000 ppm, the others are still paced", async () => {
    // A value the filter never records: the kept campaign's gauge must be written again after the change.
    const keepSlot = sim.pool.metrics.define(MetricType.GAUGE, GAUGE + "test-keep");
    assert.ok("slot" in keepSlot);
    sim.pool.metrics.setValue(keepSlot.slot, 7n);

    const before = Math.max(...configVersions(sim));
    publishWithout(sim, "test-cpa");
    for (let i = 0; i < 20 && Math.min(...configVersions(sim)) <= before; i++) await ticks(sim, 1);
    assert.ok(Math.min(...configVersions(sim)) > before, "every VM loaded the new campaign set");
    await ticks(sim, 2);

    const removed = gauge(sim, "test-cpa");
    assert.equal(removed, 1_000_000, `test-cpa is no longer in the set, its gauge reads ${removed}`);
    assert.ok(removed! > ALERT_AT_OR_BELOW);
    const kept = gauge(sim, "test-keep");
    assert.notEqual(kept, 7, "test-keep's gauge is no longer recorded");
    assert.equal(kept, pacedPpm(sim, "test-keep"), "test-keep's gauge is its current multiplier");
  });
});
