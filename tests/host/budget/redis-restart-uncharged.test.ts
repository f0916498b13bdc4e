// A pod's filter ledger restarts (Envoy restarted: shared data is gone) before it ever reported a
// charge. Its old reservations are bids already sent: the exchanges bill their wins, which the new
// ledger cannot charge (their ids are unknown to it). The lease must keep what the old ledger held
// counted. It detects a restart only by `charged` going backwards, which a ledger that charged
// nothing yet cannot show: the old holding is handed out again and the total cap is exceeded.
// KNOWN DEFECT (todo, not fixed: the fix spans the filter's ledger record, the sync report and the
// lease script): the filter should stamp each ledger record with a random epoch when it creates it
// (the record's unused bytes 4-7), report it ("ledger_epoch"), and LEASE_LUA should treat a changed
// epoch like `charged < pc` (registered 2: the old grant stays counted). Neither "granted went back
// to 0" nor "below the last answer" will do: an unreported campaign (SyncService fills zeros) and a
// lost answer look the same and would burn a slice per sync.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { RedisBudgetSource } from "../../../host/src/control/budget-redis.ts";
import type { CampaignLimits, PodReport } from "../../../host/src/control/budget.ts";
import { deletePrefix, uniquePrefix } from "../../helpers/redis-server.ts";

const SHARED_URL = process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);

describe("redis budget lease: a ledger that restarts before its first charge", () => {
  let client: Redis;
  const prefix = uniquePrefix("restart-uncharged");
  before(async () => {
    client = new Redis(SHARED_URL, { maxRetriesPerRequest: 1 });
    await client.ping();
  });
  after(async () => {
    await deletePrefix(client, prefix);
    assert.equal(await deletePrefix(client, prefix), 0);
    client.disconnect();
  });

  it("keeps the old ledger's reservations counted", { todo: "restart detection needs a ledger epoch in the sync report" }, async () => {
    const s = new RedisBudgetSource({ client, keyPrefix: prefix, policy: { leaseSeconds: 10, minSliceMicros: 1000, pacingSeconds: 20 }, utcOffsetMinutes: 0, recoveryHoldMs: 0 });
    try {
      // 1500 micros/s, slices of 15 000; the total is two slices.
      const l: CampaignLimits = { id: "c", totalMicros: 30_000, dailyMicros: 0, active: true };
      const rep = (pod: string, granted: number, reserved: number): PodReport => ({ campaignId: "c", podId: pod, granted, charged: 0, reserved, dailyCharged: 0 });
      const old = await s.grant(l, rep("a", 0, 0), T0);
      assert.equal(old, 15_000);
      // Pod a reserves its whole grant: 15 000 of bids are out, no notice yet; it reports that.
      assert.equal(await s.grant(l, rep("a", old, old), T0), old);
      const b = await s.grant(l, rep("b", 0, 0), T0 + 20_000);
      assert.equal(b, 15_000, "pod b takes the rest of the total");
      // Pod a's Envoy restarts: an empty ledger reports under the same pod id.
      const fresh = await s.lease(l, rep("a", 0, 0), T0 + 20_000);
      const exposure = old /* a's old bids, billed when they win */ + fresh.granted + b;
      assert.ok(
        exposure <= l.totalMicros,
        `the restarted ledger got ${fresh.granted} (registered ${fresh.registered}): ${exposure} may be spent of a ${l.totalMicros} total`,
      );
    } finally {
      await s.close();
    }
  });
});
