// The hourly and minute soft caps are the campaign's, across pods: two pods (each its own filter,
// shared data and control plane) lease from one Redis budget, pod A alone spends past the hourly
// cap, and pod B, which spent nothing, must shade to the floor too once its sync answer says what
// pod A charged this hour (others_hourly_charged_micros). Before, each pod compared only its own
// spend with the cap, so N pods could spend N times the hourly cap at full price.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bidAndWin, startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { FIXTURES, README_REQUEST } from "../helpers/bidder.ts";
import { RedisFleet } from "../helpers/redis-fleet.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

const dec = new TextDecoder();
const NO_FLOOR = JSON.stringify({ ...JSON.parse(README_REQUEST), imp: [{ id: "1", banner: { w: 300, h: 250 } }] });
const REDIS_URL = process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

function bidOf(out: HttpOutcome): { price: number; nurl: string } {
  assert.ok(out.kind === "local" && out.status === 200, "a bid");
  return JSON.parse(dec.decode(out.body)).seatbid[0].bid[0];
}

/**
 * `hostOffset`: the utc_offset_minutes of the hosts' budget sources. In sidecar mode the filter's
 * plugin configuration is Envoy's (deploy/k8s/envoy.yaml sets no utc_offset_minutes: 0), while the
 * host's `plugin` section (standalone only) defaults to 480: the windows must be the filter's.
 */
for (const hostOffset of [0, 480]) describe(`soft caps across pods (host offset ${hostOffset}, filter 0)`, () => {
  const fleet = new RedisFleet(REDIS_URL, `fleet-caps-${hostOffset}`);
  const pods: SimBidder[] = [];
  const setClock = (t: number) => {
    for (const p of pods) p.clock.now = t;
  };
  /** Both pods tick (syncs go out), then the event loop delivers their answers. */
  const ticks = async (n: number) => {
    for (let i = 0; i < n; i++) {
      setClock(pods[0]!.clock.now + 1000);
      for (const p of pods) await p.tick();
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  before(async () => {
    const c = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    // A total budget gives the Redis source a pace (its slices); the hourly cap is what is measured.
    c.campaigns[0].budget = { total_micros: 100_000_000, daily_micros: 0, hourly_micros: 5_000, minute_micros: 0 };
    const start = Date.UTC(2026, 10, 2, 10, 5);
    for (const name of ["pod-a", "pod-b"]) {
      const sim = await startSimBidder({ campaigns: c, startMs: start, budgetSource: fleet.source(name, () => pods[0]?.clock.now ?? start, hostOffset) });
      pods.push(sim);
      await sim.untilReady();
    }
    setClock(Math.max(...pods.map((p) => p.clock.now)));
    await ticks(2);
  });
  after(async () => {
    for (const p of pods) await p.close();
    await fleet.close();
  });

  it("pod B shades to the floor when pod A spent the campaign's hourly cap", async () => {
    const [a, b] = pods as [SimBidder, SimBidder];
    const full = bidOf(await b.bid(NO_FLOOR)).price;
    await bidAndWin(a, NO_FLOOR, 10);
    // Pod A reports its spend, then pod B's next sync answer carries it; B's leader paces with it.
    await ticks(4);
    const shaded = bidOf(await b.bid(NO_FLOOR)).price;
    assert.ok(shaded <= full * 0.1, `pod B bid ${shaded} (unshaded ${full}) although the fleet spent the hour's cap`);
    // The next hour: the cap's window starts over in both pods.
    setClock(Date.UTC(2026, 10, 2, 11, 1));
    await ticks(4);
    const next = bidOf(await b.bid(NO_FLOOR)).price;
    assert.ok(next > full * 0.5, `next hour: ${next} vs unshaded ${full}`);
  });
});
