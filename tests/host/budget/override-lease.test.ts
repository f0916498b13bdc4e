// The lease script applies a campaign's fleet override ({nexus:P:C}:override, written by the admin
// API of any pod) over the limits the calling host passes, however stale they are: a pod started
// from the campaigns file after a pause or a lowered cap leases by the override, atomically. Real
// Redis at 127.0.0.1:6379, own key prefix per test (deleted afterwards), simulated clock.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RedisBudgetSource } from "../../../host/src/control/budget-redis.ts";
import { FleetOverrides } from "../../../host/src/control/fleet-overrides.ts";
import { CampaignCatalog } from "../../../host/src/control/campaigns.ts";
import { silentLogger } from "../../../host/src/log.ts";
import type { CampaignLimits, PodReport } from "../../../host/src/control/budget.ts";
import { sharedRedisPrefixes } from "../../helpers/redis-server.ts";
import { FIXTURES } from "../../helpers/bidder.ts";

const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
/** The campaigns file's limits: what a pod started from it passes, whatever the fleet decided. */
const FILE: CampaignLimits = { id: "camp", totalMicros: 1_000_000_000, dailyMicros: 1_000_000_000, active: true };
const POLICY = { leaseSeconds: 60, minSliceMicros: 1, pacingSeconds: 86_400 };

/** The test fixture's campaign under FILE's id and limits (a document the filter's parser takes). */
function fileCatalog(): CampaignCatalog {
  const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  set.campaigns = [{ ...set.campaigns[0], id: FILE.id, active: true, budget: { total_micros: FILE.totalMicros, daily_micros: FILE.dailyMicros } }];
  return new CampaignCatalog(set);
}

function report(podId: string, granted = 0, charged = 0, reserved = 0): PodReport {
  return { campaignId: FILE.id, podId, granted, charged, reserved, dailyCharged: charged };
}

describe("fleet overrides in the lease script", () => {
  const redis = sharedRedisPrefixes("override-lease");
  /** A pod's source on the shared client (each adds its listeners to it: a dozen pods in this file). */
  const sourceOf = (prefix: string, podId: string) => {
    redis.client().setMaxListeners(64);
    return new RedisBudgetSource({ client: redis.client(), keyPrefix: prefix, podId, policy: POLICY });
  };
  /** Another pod's admin call: the override hash as fleet-overrides.ts writes it. */
  const writeOverride = (s: RedisBudgetSource, fields: Record<string, string>) =>
    redis.client().hset(s.overrideKey(FILE.id), { updated_ms: String(T0), updated_by: "pod-a", ...fields });

  it("a paused campaign: a host passing active limits gets no new money, and one holding a slice gives the unspent part back", async () => {
    const prefix = redis.fresh();
    const old = sourceOf(prefix, "old");
    const first = await old.lease(FILE, report("old"), T0);
    assert.ok(first.granted > 0);
    assert.equal(first.override, null);
    await writeOverride(old, { paused: "1" });

    // A pod started from the file afterwards: active in its limits, paused in Redis.
    const late = await sourceOf(prefix, "late").lease(FILE, report("late"), T0 + 1000);
    assert.equal(late.granted, 0, "no grant while paused");
    assert.deepEqual(late.override, { paused: true, updatedMs: T0, updatedBy: "pod-a" });
    // The pod that held a slice: back to what it holds (charged 100 + reserved 50).
    const back = await old.lease(FILE, report("old", first.granted, 100, 50), T0 + 1000);
    assert.equal(back.granted, 150);
    const state = await old.campaignState(FILE.id, T0 + 1000);
    assert.equal(state.active, false, "the campaign hash shows the limits in force");
    assert.equal(state.override?.paused, true);
  });

  it("a lowered total holds across pods whose hosts pass the file's total", async () => {
    const prefix = redis.fresh();
    const a = sourceOf(prefix, "a");
    await writeOverride(a, { total: "50000" });
    let granted = 0;
    for (const pod of ["a", "b", "c"]) {
      const r = await sourceOf(prefix, pod).lease(FILE, report(pod), T0);
      assert.equal(r.override?.totalMicros, 50_000);
      granted += r.granted;
    }
    assert.ok(granted <= 50_000, `Σ granted ${granted} ≤ the stored total`);
    const state = await a.campaignState(FILE.id, T0);
    assert.equal(state.totalMicros, 50_000);
    assert.ok(state.granted <= 50_000);
  });

  it("a lowered daily budget holds, and the slice follows its pace (not the file's)", async () => {
    const prefix = redis.fresh();
    const s = sourceOf(prefix, "a");
    // 864,000 a day over 86,400 s: 10 micros/s, a 60 s slice is 600 (the file's would be 694,445).
    await writeOverride(s, { daily: "864000" });
    const r = await s.lease(FILE, report("a"), T0);
    assert.equal(r.granted, 600);
    assert.equal(r.override?.dailyMicros, 864_000);
    assert.equal(r.override?.totalMicros, undefined, "the file's total applies");
    let day = r.granted;
    for (const pod of ["b", "c", "d"]) day += (await sourceOf(prefix, pod).lease(FILE, report(pod), T0 + 3_600_000)).granted;
    assert.ok(day <= 864_000);
  });

  it("a report the store changes nothing for (a campaign the filter has not loaded) still carries the override", async () => {
    const prefix = redis.fresh();
    const s = sourceOf(prefix, "a");
    await s.lease(FILE, { ...report("a"), ledgerEpoch: 7 }, T0);
    await writeOverride(s, { paused: "1" });
    const r = await s.lease(FILE, { ...report("a"), ledgerEpoch: 7, unreported: true }, T0 + 1000);
    assert.equal(r.registered, 4);
    assert.equal(r.override?.paused, true);
  });

  it("admin writes (FleetOverrides): resume removes the pause only, a cleared override gives the file's limits back to every lease", async () => {
    const prefix = redis.fresh();
    const s = sourceOf(prefix, "a");
    const catalog = fileCatalog();
    const fleet = new FleetOverrides({ source: s, catalog, instance: "pod-a", log: silentLogger(), now: () => T0 });
    await fleet.pause(FILE.id);
    const o = await fleet.setBudget(FILE.id, { totalMicros: 40_000 });
    assert.deepEqual(o, { paused: true, totalMicros: 40_000, updatedMs: T0, updatedBy: "pod-a" });
    assert.equal(catalog.get(FILE.id)!.active, false, "laid over this host's catalog at once");
    assert.equal(catalog.get(FILE.id)!.budget!.total_micros, 40_000);
    assert.equal(catalog.version, 3);

    assert.deepEqual(await fleet.resume(FILE.id), { paused: false, totalMicros: 40_000, updatedMs: T0, updatedBy: "pod-a" });
    assert.equal(catalog.get(FILE.id)!.active, true);
    const capped = await sourceOf(prefix, "b").lease(FILE, report("b"), T0);
    assert.ok(capped.granted > 0 && capped.granted <= 40_000, `granted ${capped.granted}`);

    assert.equal((await fleet.clear(FILE.id))?.totalMicros, 40_000);
    assert.equal(await redis.client().exists(s.overrideKey(FILE.id)), 0, "no override key left");
    assert.equal(catalog.get(FILE.id)!.budget!.total_micros, FILE.totalMicros, "the file's total again");
    assert.equal(catalog.override(FILE.id), undefined);
    const free = await sourceOf(prefix, "c").lease(FILE, report("c"), T0 + 1000);
    assert.equal(free.override, null);
    assert.equal((await s.campaignState(FILE.id, T0 + 1000)).totalMicros, FILE.totalMicros, "the lease wrote the file's limits back");
  });

  it("a lease that started before this host's own write does not undo it in the catalog", async () => {
    const prefix = redis.fresh();
    const s = sourceOf(prefix, "a");
    const catalog = fileCatalog();
    const fleet = new FleetOverrides({ source: s, catalog, instance: "pod-a", log: silentLogger() });
    const ticket = fleet.ticket();
    await fleet.pause(FILE.id);
    fleet.learned(FILE.id, null, ticket); // read before the pause
    assert.equal(catalog.get(FILE.id)!.active, false);
    fleet.learned(FILE.id, null, fleet.ticket()); // a later lease saw it cleared (by another pod)
    assert.equal(catalog.get(FILE.id)!.active, true);
  });
});
