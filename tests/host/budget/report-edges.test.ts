// Reports the budget sources must not misread (both sources, the same rules):
//   - a report the filter made before its midnight and the host leases after its own: its
//     daily_charged is yesterday's (PodReport.reportDay), not today's spend;
//   - a campaign the filter has not loaded yet, leased on zeros (PodReport.unreported), while the
//     pod's ledger of the same epoch has history for it (its records outlive a configuration
//     reload): not a restarted ledger, whose whole history the next real report would count again;
// and the sync with Redis stalled: one command timeout for all campaigns, not one per campaign.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { RedisBudgetSource } from "../../../host/src/control/budget-redis.ts";
import { MemoryBudgetSource, type BudgetSource, type CampaignLimits, type PodReport } from "../../../host/src/control/budget.ts";
import { budgetDay } from "../../../host/src/control/fleet-spend.ts";
import { SyncService } from "../../../host/src/control/sync-service.ts";
import { silentLogger } from "../../../host/src/log.ts";
import { sharedRedisPrefixes } from "../../helpers/redis-server.ts";

const DAY_MS = 86_400_000;
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const MIDNIGHT = (budgetDay(T0, 0) + 1) * DAY_MS;
const policy = { leaseSeconds: 60, minSliceMicros: 1000, pacingSeconds: 3600 };
const daily: CampaignLimits = { id: "c", totalMicros: 0, dailyMicros: 10_000_000, active: true };
const total: CampaignLimits = { id: "c", totalMicros: 10_000_000, dailyMicros: 0, active: true };

/** A pod's ledger as the filter reports it: spends all it is granted. */
class Pod {
  granted = 0;
  charged = 0;
  daily = 0;
  day = budgetDay(T0, 0);
  reportMs = 1;
  constructor(readonly id: string, readonly epoch = 7) {}
  report(madeAtMs: number): PodReport {
    const d = budgetDay(madeAtMs, 0);
    if (d !== this.day) [this.day, this.daily] = [d, 0];
    return { campaignId: "c", podId: this.id, granted: this.granted, charged: this.charged, reserved: 0, dailyCharged: this.daily, ledgerEpoch: this.epoch, utcOffsetMinutes: 0, reportMs: this.reportMs++, reportDay: d };
  }
  apply(granted: number): void {
    this.granted = Math.max(granted, this.charged);
  }
  spendAll(): number {
    const x = this.granted - this.charged;
    this.charged += x;
    this.daily += x;
    return x;
  }
  /** A report made and leased at `atMs`, its grant applied and all of it spent; returns the spend. */
  async leaseAndSpend(s: BudgetSource, limits: CampaignLimits, atMs: number): Promise<number> {
    this.apply((await s.lease(limits, this.report(atMs), atMs)).granted);
    return this.spendAll();
  }
}

function cases(name: string, make: () => BudgetSource, redisOnly: boolean): void {
  describe(name, () => {
    if (redisOnly) {
      it("a report made before the filter's midnight and leased after the host's does not take the new day's budget", async () => {
        /** What the pod can spend in the first hours of the next day. */
        const nextDaySpend = async (straddle: boolean) => {
          const s = make();
          try {
            const p = new Pod("a");
            for (let t = MIDNIGHT - 4 * 3_600_000; t < MIDNIGHT - 1000; t += 60_000) await p.leaseAndSpend(s, daily, t);
            // Made at 23:59:59.999 (yesterday's spend, its day), leased at 00:00:00.005.
            const r = p.report(straddle ? MIDNIGHT - 1 : MIDNIGHT + 5);
            p.apply((await s.lease(daily, r, MIDNIGHT + 5)).granted);
            let spent = 0;
            for (let t = MIDNIGHT + 60_000; t < MIDNIGHT + 3 * 3_600_000; t += 60_000) spent += await p.leaseAndSpend(s, daily, t);
            return spent;
          } finally {
            await s.close();
          }
        };
        const normal = await nextDaySpend(false);
        assert.ok(normal > 0);
        assert.equal(await nextDaySpend(true), normal);
      });
    }

    it("others' daily figure: pod a's late report of yesterday does not count in today's", async () => {
      const s = make();
      try {
        const a = new Pod("a");
        await a.leaseAndSpend(s, total, MIDNIGHT - 60_000);
        await s.lease(total, a.report(MIDNIGHT - 1), MIDNIGHT + 5);
        const b = await s.lease(total, new Pod("b", 9).report(MIDNIGHT + 10), MIDNIGHT + 10);
        assert.equal(b.day, budgetDay(MIDNIGHT, 0));
        assert.equal(b.othersDailyCharged, 0, "pod a has spent nothing today");
      } finally {
        await s.close();
      }
    });

    it("a campaign the filter has not loaded yet (zeros, unreported) changes nothing for a ledger with history", async () => {
      const s = make();
      try {
        const a = new Pod("a");
        await a.leaseAndSpend(s, total, T0);
        const before = await s.lease(total, a.report(T0 + 1000), T0 + 1000);
        // New VMs after a configuration reload: the campaign is not in their configuration yet.
        const zeros = { ...a.report(T0 + 2000), granted: 0, charged: 0, dailyCharged: 0, unreported: true };
        const during = await s.lease(total, zeros, T0 + 2000);
        assert.equal(during.granted, before.granted, "the same answer");
        a.apply((await s.lease(total, a.report(T0 + 3000), T0 + 3000)).granted);
        const b = await s.lease(total, new Pod("b", 9).report(T0 + 4000), T0 + 4000);
        assert.equal(b.othersDailyCharged, a.daily, "pod a's day counted once");
        assert.equal(b.othersHourlyCharged, a.charged, "pod a's hour counted once");
        if (s instanceof RedisBudgetSource) {
          const st = await s.campaignState("c", T0 + 4000);
          assert.equal(st.charged, a.charged, "charged counted once");
          assert.equal(st.resets, 0, "no ledger restart");
        }
      } finally {
        await s.close();
      }
    });

    it("an unreported campaign with another ledger epoch is a restarted ledger as before (its old grant stays counted)", async () => {
      const s = make();
      try {
        const a = new Pod("a");
        await a.leaseAndSpend(s, total, T0);
        const fresh = new Pod("a", 8);
        const r = await s.lease(total, { ...fresh.report(T0 + 1000), unreported: true }, T0 + 1000);
        assert.ok(r.granted <= total.totalMicros - a.granted, `the new ledger gets at most what the old did not take: ${r.granted}`);
        if (s instanceof RedisBudgetSource) assert.equal((await s.campaignState("c", T0 + 1000)).resets, 1);
      } finally {
        await s.close();
      }
    });
  });
}

const redis = sharedRedisPrefixes("report-edges");
cases("memory source", () => new MemoryBudgetSource(policy, 0), false);
cases("Redis source", () => new RedisBudgetSource({ client: redis.client(), keyPrefix: redis.fresh(), policy, utcOffsetMinutes: 0, recoveryHoldMs: 0 }), true);

describe("sync with Redis stalled", () => {
  it("answers within about one command timeout for 20 campaigns (the leases run at once)", async () => {
    let stalled = false;
    const sockets: net.Socket[] = [];
    // A TCP proxy in front of Redis that stops forwarding: a Redis that hangs.
    const proxy = net.createServer((client) => {
      const upstream = net.connect(6379, "127.0.0.1");
      sockets.push(client, upstream);
      client.on("data", (d) => {
        if (!stalled) upstream.write(d);
      });
      upstream.on("data", (d) => client.write(d));
      client.on("error", () => {});
      upstream.on("error", () => {});
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const port = (proxy.address() as net.AddressInfo).port;
    const prefix = redis.fresh();
    const src = new RedisBudgetSource({ url: `redis://127.0.0.1:${port}`, keyPrefix: prefix, policy: { leaseSeconds: 10, minSliceMicros: 1000 }, podId: "p", commandTimeoutMs: 200 });
    try {
      assert.ok(await src.waitReady(2000));
      const campaigns = Array.from({ length: 20 }, (_, i) => ({ id: `c${i}`, active: true, budget: { total_micros: 0, daily_micros: 1_000_000 } }));
      const catalog = { campaigns, version: 2, json: "{}", publishAbove: () => false } as unknown as ConstructorParameters<typeof SyncService>[1];
      const models = { announcement: () => null, expectHashBits() {} } as unknown as ConstructorParameters<typeof SyncService>[2];
      const sync = new SyncService("p", catalog, models, src, silentLogger());
      const body = { vm: 1, config_version: 1, campaigns: [] };
      assert.equal((await sync.sync(body)).grants.length, 20, "healthy: every campaign leased");
      stalled = true;
      const t0 = Date.now();
      const answer = await sync.sync(body);
      const ms = Date.now() - t0;
      assert.equal(answer.grants.length, 0, "no new money while Redis hangs");
      assert.equal(answer.config_version, 2, "the rest of the answer still goes out");
      // One timeout (200 ms) and the probe guard; in turn it took 20 × 200 ms.
      assert.ok(ms < 1500, `the sync took ${ms} ms`);
    } finally {
      stalled = false;
      await src.close();
      for (const s of sockets) s.destroy();
      proxy.close();
    }
  });
});
