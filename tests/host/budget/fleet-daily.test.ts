// Every lease tells the pod what the OTHER pods charged on the budget day (BudgetLease
// .othersDailyCharged), so that its filter paces the fleet's spend against the campaign's daily
// plan (assembly/filter/sync.ts pace()). The same rules for the Redis source (LEASE_LUA: the day
// hash's charged without this report's) and the memory source: other pods' reports of the same
// day count, another day's do not, and a ledger that restarted keeps what it charged that day.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { RedisBudgetSource } from "../../../host/src/control/budget-redis.ts";
import { MemoryBudgetSource, budgetDay, type BudgetSource, type CampaignLimits, type PodReport } from "../../../host/src/control/budget.ts";
import { deletePrefix, uniquePrefix } from "../../helpers/redis-server.ts";

const SHARED_URL = process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const OFFSET = 480; // the budget day is local (UTC+8) and starts at 16:00 UTC
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const limits: CampaignLimits = { id: "c", totalMicros: 0, dailyMicros: 10_000_000, active: true };
const policy = { leaseSeconds: 10, minSliceMicros: 1000 };

function report(pod: string, dailyCharged: number, ledgerEpoch = 1): PodReport {
  // Cumulative charged ≥ daily charged; a fixed reserve, so grants stay above what is held.
  return { campaignId: "c", podId: pod, granted: 0, charged: dailyCharged, reserved: 0, dailyCharged, ledgerEpoch };
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

  it("a ledger that restarted keeps what it charged today in the fleet's spend", async () => {
    const s = make();
    try {
      await s.lease(limits, report("a", 900, 11), T0);
      await s.lease(limits, report("b", 100), T0);
      // Pod a's Envoy restarts: a new ledger (new epoch) that has charged nothing yet.
      const fresh = await s.lease(limits, report("a", 0, 12), T0 + 1000);
      assert.equal(fresh.othersDailyCharged, 1000, "the old ledger's 900 were spent today, by this fleet");
    } finally {
      await s.close();
    }
  });
}

describe("fleet daily spend: memory source", () => {
  fleetDailyCases(() => new MemoryBudgetSource(policy, OFFSET));
});

describe("fleet daily spend: redis source", () => {
  let client: Redis;
  const prefixes: string[] = [];
  before(async () => {
    client = new Redis(SHARED_URL, { maxRetriesPerRequest: 1 });
    await client.ping();
  });
  after(async () => {
    for (const p of prefixes) {
      await deletePrefix(client, p);
      assert.equal(await deletePrefix(client, p), 0);
    }
    client.disconnect();
  });

  fleetDailyCases(() => {
    const keyPrefix = uniquePrefix("fleet-daily");
    prefixes.push(keyPrefix);
    // recoveryHoldMs 0: registrations hold no money back (not what these cases measure).
    return new RedisBudgetSource({ client, keyPrefix, policy, utcOffsetMinutes: OFFSET, recoveryHoldMs: 0 });
  });
});
