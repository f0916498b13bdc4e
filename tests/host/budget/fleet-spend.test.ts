// Every lease tells the pod what the OTHER pods charged in the budget day, the local hour and the
// local minute (BudgetLease.othersDailyCharged, othersHourlyCharged, othersMinuteCharged), so that
// its filter paces the fleet's spend against the campaign's daily plan and applies the hourly and
// minute soft caps to the fleet's spend (assembly/filter/sync.ts). The same rules for the Redis
// source (LEASE_LUA) and the memory source (fleet-spend.ts): other pods' spend in the same window
// counts, another window's does not, a pod's history before its first report is not this hour's,
// and a ledger that restarted keeps what it charged.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RedisBudgetSource } from "../../../host/src/control/budget-redis.ts";
import { MemoryBudgetSource, type BudgetSource, type CampaignLimits, type PodReport } from "../../../host/src/control/budget.ts";
import { budgetDay } from "../../../host/src/control/fleet-spend.ts";
import { sharedRedisPrefixes } from "../../helpers/redis-server.ts";

const OFFSET = 480; // the budget day is local (UTC+8) and starts at 16:00 UTC
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const limits: CampaignLimits = { id: "c", totalMicros: 0, dailyMicros: 10_000_000, active: true };
const policy = { leaseSeconds: 10, minSliceMicros: 1000 };

function report(pod: string, dailyCharged: number, ledgerEpoch = 1, charged = dailyCharged): PodReport {
  return { campaignId: "c", podId: pod, granted: 0, charged, reserved: 0, dailyCharged, ledgerEpoch };
}

/** The scenario, on any source; `make` returns a fresh source. */
function fleetDailyCases(make: () => BudgetSource): void {
  it("counts the other pods' reports of the same day, not this pod's own", async () => {
    const s = make();
    try {
      const a0 = await s.lease(limits, report("a", 100), T0);
      assert.equal(a0.othersDailyCharged, 0, "alone in the fleet");
      assert.equal(a0.day, budgetDay(T0, OFFSET));
      const b = await s.lease(limits, report("b", 250), T0 + 1000);
      assert.equal(b.othersDailyCharged, 100);
      const a1 = await s.lease(limits, report("a", 400), T0 + 2000);
      assert.equal(a1.othersDailyCharged, 250, "pod a's own spend (400) is not in it");
      const c = await s.lease(limits, report("c", 0), T0 + 3000);
      assert.equal(c.othersDailyCharged, 650);
    } finally {
      await s.close();
    }
  });

  it("a new local day starts from nothing: yesterday's reports do not count", async () => {
    const s = make();
    try {
      await s.lease(limits, report("a", 5000), T0);
      await s.lease(limits, report("b", 7000), T0);
      // 16:30 UTC = 00:30 local the next day: pod a has rolled over and reports its new day.
      const next = T0 + 4.5 * 3_600_000;
      const a = await s.lease(limits, report("a", 30), next);
      assert.equal(a.day, budgetDay(T0, OFFSET) + 1);
      assert.equal(a.othersDailyCharged, 0, "pod b has not reported today yet");
      const b = await s.lease(limits, report("b", 20), next + 1000);
      assert.equal(b.othersDailyCharged, 30);
    } finally {
      await s.close();
    }
  });

  it("hour and minute: the growth of the other pods' charged in the window; history before a first report is not", async () => {
    const s = make();
    try {
      // Pod a has charged 10 000 before this store knew it (history), pod b 4 000.
      await s.lease(limits, report("a", 0, 1, 10_000), T0);
      await s.lease(limits, report("b", 0, 1, 4_000), T0);
      let b = await s.lease(limits, report("b", 0, 1, 4_000), T0 + 1000);
      assert.equal(b.othersHourlyCharged, 0, "a's history is not this hour's spend");
      assert.equal(b.hour, Math.floor((Math.floor(T0 / 60_000) + OFFSET) / 60));
      assert.equal(b.minute, Math.floor(T0 / 60_000) + OFFSET);
      await s.lease(limits, report("a", 0, 1, 10_700), T0 + 2000);
      b = await s.lease(limits, report("b", 0, 1, 4_100), T0 + 3000);
      assert.equal(b.othersHourlyCharged, 700);
      assert.equal(b.othersMinuteCharged, 700);
      const a = await s.lease(limits, report("a", 0, 1, 10_700), T0 + 4000);
      assert.equal(a.othersHourlyCharged, 100, "b's 100 this hour, not its history");
      // Two minutes later, same hour: the minute starts over.
      await s.lease(limits, report("a", 0, 1, 10_750), T0 + 120_000);
      b = await s.lease(limits, report("b", 0, 1, 4_100), T0 + 121_000);
      assert.equal(b.othersHourlyCharged, 750);
      assert.equal(b.othersMinuteCharged, 50);
      // The next hour starts over too.
      await s.lease(limits, report("a", 0, 1, 10_800), T0 + 3_600_000);
      b = await s.lease(limits, report("b", 0, 1, 4_100), T0 + 3_601_000);
      assert.equal(b.othersHourlyCharged, 50);
    } finally {
      await s.close();
    }
  });

  // The new ledger tells it by a new epoch, or (no new epoch) only by its charged going backwards.
  for (const [how, epoch] of [["with a new epoch", 12], ["its charged went backwards, same epoch", 11]] as const) {
    it(`a ledger that restarted (${how}) keeps what it charged today in the fleet's spend`, async () => {
      const s = make();
      try {
        await s.lease(limits, report("a", 900, 11), T0);
        await s.lease(limits, report("b", 100), T0);
        await s.lease(limits, report("a", 1300, 11), T0 + 500); // 400 more this hour
        // Pod a's Envoy restarts: a new ledger that has charged 50 so far (against 1300 before).
        const fresh = await s.lease(limits, report("a", 50, epoch), T0 + 1000);
        assert.equal(fresh.othersDailyCharged, 1400, "the old ledger's 1300 were spent today, by this fleet");
        assert.equal(fresh.othersHourlyCharged, 400, "and its 400 this hour");
        const b = await s.lease(limits, report("b", 100), T0 + 2000);
        assert.equal(b.othersHourlyCharged, 450, "the old ledger's 400 and the new one's 50");
        assert.equal(b.othersDailyCharged, 1350);
      } finally {
        await s.close();
      }
    });
  }

  it("a report of yesterday's spend that reaches the host just after midnight does not stay in today's", async () => {
    const s = make();
    try {
      const midnight = Date.UTC(2025, 0, 15, 16, 0, 0); // 00:00 local (UTC+8)
      await s.lease(limits, report("a", 5000), midnight - 1000);
      // Pod a's filter built this report at 23:59:59.99 local (its daily spend: yesterday's 6000);
      // the host leases it at 00:00:00.05, on the new day.
      await s.lease(limits, report("a", 6000), midnight + 50);
      // Its next report is of the new day: 10 so far.
      await s.lease(limits, report("a", 10, 1, 6010), midnight + 1000);
      const b = await s.lease(limits, report("b", 0), midnight + 2000);
      assert.equal(b.day, budgetDay(midnight, OFFSET));
      assert.equal(b.othersDailyCharged, 10, "pod a spent 10 today, not 6010");
    } finally {
      await s.close();
    }
  });
}

describe("fleet spend: memory source", () => {
  fleetDailyCases(() => new MemoryBudgetSource(policy, OFFSET));
});

describe("fleet spend: redis source", () => {
  const redis = sharedRedisPrefixes("fleet-spend");
  fleetDailyCases(() => {
    // recoveryHoldMs 0: registrations hold no money back (not what these cases measure).
    return new RedisBudgetSource({ client: redis.client(), keyPrefix: redis.fresh(), policy, utcOffsetMinutes: OFFSET, recoveryHoldMs: 0 });
  });
});
