// A leader VM that stalls with its sync report unsent (its worker's event loop stopped) loses the
// lease; the next leader reports, then the stalled one's older report reaches the host. Its numbers
// are lower (charged went down), which both budget sources used to read as a ledger restart: the
// pod's grant was retired as consumed (lost to bidding) and its spend counted twice in the fleet
// figures. The filter now stamps each report with its monotonic clock (report_ms, one clock for
// every VM of a ledger); a report of the same ledger older than one applied changes nothing.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RedisBudgetSource } from "../../../host/src/control/budget-redis.ts";
import { MemoryBudgetSource, type BudgetSource, type CampaignLimits, type PodReport } from "../../../host/src/control/budget.ts";
import { sharedRedisPrefixes } from "../../helpers/redis-server.ts";
import { HostMetrics } from "../../../host/src/server/host-metrics.ts";

const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const limits: CampaignLimits = { id: "c", totalMicros: 0, dailyMicros: 10_000_000, active: true };
const policy = { leaseSeconds: 10, minSliceMicros: 1000 };

function report(pod: string, granted: number, charged: number, reportMs: number | undefined): PodReport {
  return { campaignId: "c", podId: pod, granted, charged, reserved: 0, dailyCharged: charged, ledgerEpoch: 7, utcOffsetMinutes: 0, reportMs };
}

function staleCases(make: () => BudgetSource, resets: (s: BudgetSource) => Promise<number>, olderFilters = true): void {
  it("an older report of the same ledger changes nothing: no restart, the same grant, no double count", async () => {
    const s = make();
    try {
      const l1 = await s.lease(limits, report("a", 0, 100, 1000), T0);
      const l2 = await s.lease(limits, report("a", l1.granted, 300, 2000), T0 + 1000);
      await s.lease(limits, report("b", 0, 0, 500), T0 + 1000);
      const stale = await s.lease(limits, report("a", l1.granted, 200, 1500), T0 + 2000);
      assert.equal(stale.granted, l2.granted, "answered what was answered");
      assert.equal(await resets(s), 0, "not taken for a ledger restart");
      const b = await s.lease(limits, report("b", 0, 0, 600), T0 + 3000);
      assert.equal(b.othersDailyCharged, 300, "pod a's day counted once, from its newest report");
      const l3 = await s.lease(limits, report("a", l2.granted, 350, 3000), T0 + 4000);
      assert.ok(l3.granted >= l2.granted);
      assert.equal(await resets(s), 0);
    } finally {
      await s.close();
    }
  });

  if (olderFilters) it("without report_ms (older filters) a lower charged is still a restart", async () => {
    const s = make();
    try {
      const l1 = await s.lease(limits, { ...report("a", 0, 100, undefined), ledgerEpoch: undefined }, T0);
      await s.lease(limits, { ...report("a", l1.granted, 300, undefined), ledgerEpoch: undefined }, T0 + 1000);
      await s.lease(limits, { ...report("a", l1.granted, 200, undefined), ledgerEpoch: undefined }, T0 + 2000);
      assert.equal(await resets(s), 1);
    } finally {
      await s.close();
    }
  });
}

describe("stale reports: redis source", () => {
  const redis = sharedRedisPrefixes("stale-report");
  const metrics = new HostMetrics();
  staleCases(
    () => new RedisBudgetSource({ client: redis.client(), keyPrefix: redis.fresh(), policy, utcOffsetMinutes: 0, recoveryHoldMs: 0, metrics }),
    async (s) => (await (s as RedisBudgetSource).campaignState("c", T0)).resets,
  );
  it("counts the stale reports it ignored (nexus_host_budget_stale_reports_total)", async () => {
    const text = await metrics.registry.metrics();
    assert.match(text, /^nexus_host_budget_stale_reports_total\{campaign="c"\} 1$/m);
  });
});

describe("stale reports: memory source", () => {
  // The memory source has no reset counter: a restart shows as the old grant retired (counted as
  // consumed). It retires grants on a new epoch only, so the older-filter case is Redis's alone.
  staleCases(
    () => new MemoryBudgetSource(policy, 0),
    async (s) => (((s as unknown as { retired: Map<string, number> }).retired.get("c") ?? 0) > 0 ? 1 : 0),
    false,
  );
});
