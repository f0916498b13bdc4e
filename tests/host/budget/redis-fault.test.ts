// Redis dies in the middle of a run (SIGKILL) and comes back empty (no
// persistence): the bidder never spends money it was not granted, bids on what
// it holds, then answers no-bids (budget), and resumes by itself when Redis
// answers again; /metrics shows the outage.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { startTestBidder } from "../../helpers/bidder.ts";
import { readLedger, type Ledger } from "../../helpers/ledger.ts";
import { RedisServer, uniquePrefix } from "../../helpers/redis-server.ts";
import type { Standalone } from "../../../host/src/standalone.ts";
import { ADMIN_TOKEN, CAMPAIGN, LoadStats, PLUGIN, metricValue, runLoad, sleep, tempDir, writeBudgetFixtures } from "./bidders.ts";
import { readFileSync } from "node:fs";

const BUDGET = 2_500_000;
// 250 000 micros/s (the budget over 10 s); a slice (and bucket) of 2 s of pace: 500 000.
const POLICY = { pacingSeconds: 10, leaseSeconds: 2, minSliceMicros: 20_000, recoveryHoldMs: 1000, redisTimeoutMs: 200 };

describe("Redis outage and data loss", () => {
  let server: RedisServer;
  let app: Standalone;
  let probe: Redis;
  const prefix = uniquePrefix("fault");
  const tmp = tempDir("fault");
  // The test's loops end when it ends, passed or failed.
  let stop = false;
  let monitoring = true;
  const running: Array<Promise<unknown>> = [];

  before(async () => {
    server = await RedisServer.start();
    probe = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 200, retryStrategy: () => 100 });
    probe.on("error", () => {});
    const { campaigns } = writeBudgetFixtures(tmp.dir, BUDGET);
    app = await startTestBidder({
      vms: 2,
      plugin: PLUGIN,
      campaigns: JSON.parse(readFileSync(campaigns, "utf8")),
      model: { pCtr: 0.01, pCvr: 0.5 },
      adminToken: ADMIN_TOKEN,
      budget: { source: "redis", redisUrl: server.url, keyPrefix: prefix, podId: "fault-pod", ...POLICY },
    });
  });

  after(async () => {
    stop = true;
    monitoring = false;
    await Promise.allSettled(running);
    await app?.close();
    probe?.disconnect();
    await server?.stop();
    tmp.remove();
  });

  it("no overspend, bids on held grants, stops, resumes after Redis returns; /metrics shows it", async (t) => {
    const ledger = (): Ledger => readLedger(app.pool.shared, CAMPAIGN)!;
    const metric = async (name: string, labels: Record<string, string> = {}) => {
      const r = await fetch(`${app.controlUrl}/metrics`);
      const v = metricValue(await r.text(), name, labels);
      return Number.isNaN(v) ? 0 : v;
    };
    const violations: string[] = [];
    let maxRedisGranted = 0;
    // Invariants, sampled every 25 ms for the whole run.
    const monitor = (async () => {
      while (monitoring) {
        const l = ledger();
        if (l) {
          if (l.charged + l.reserved > l.granted) violations.push(`charged ${l.charged} + reserved ${l.reserved} > granted ${l.granted}`);
          if (l.granted > BigInt(BUDGET)) violations.push(`ledger granted ${l.granted} > budget`);
        }
        try {
          const g = Number(await probe.hget(`{nexus:${prefix}:${CAMPAIGN}}:campaign`, "granted"));
          if (Number.isFinite(g)) maxRedisGranted = Math.max(maxRedisGranted, g);
        } catch {
          // Redis is down: nothing to read.
        }
        await sleep(25);
      }
    })();
    running.push(monitor);
    const timeline: Record<string, number> = {};
    const t0 = Date.now();
    const mark = (name: string) => (timeline[name] = Date.now() - t0);

    // 1. Redis up: the pod bids.
    const s1 = new LoadStats();
    let load = runLoad(app.bidUrl, s1, 4, () => stop);
    running.push(load);
    await sleep(1000);
    stop = true;
    await load;
    assert.ok(s1.wins > 0, `bids with Redis up: ${JSON.stringify(Object.fromEntries(s1.reasons))} ${s1.lastError}`);
    mark("phase1_end");

    // 2. Idle until the pod holds a full slice ahead, then kill Redis.
    const free = (l: Ledger) => Number(l.granted - l.charged - l.reserved);
    for (let deadline = Date.now() + 8000; free(ledger()) < 400_000 && Date.now() < deadline; ) await sleep(50);
    const errorsBefore = await metric("nexus_host_redis_errors_total", { operation: "lease" });
    assert.equal(await metric("nexus_host_budget_source_up"), 1);
    await server.kill();
    mark("redis_killed");
    const atKill = ledger();
    const heldAtKill = free(atKill);
    assert.ok(heldAtKill > 0, "the pod holds a slice");

    // 3. Redis down: bids continue on what the pod holds, then stop with no-bid "budget".
    const s2 = new LoadStats();
    stop = false;
    load = runLoad(app.bidUrl, s2, 4, () => stop);
    running.push(load);
    for (let deadline = Date.now() + 15_000; !(s2.lastReason === "budget" && s2.sinceBid >= 20) && Date.now() < deadline; ) await sleep(50);
    mark("outage_budget_nobids");
    const duringOutage = ledger();
    await sleep(700); // a few more sync periods without Redis
    const lateOutage = ledger();
    const upDuring = await metric("nexus_host_budget_source_up");
    const errorsDuring = await metric("nexus_host_redis_errors_total", { operation: "lease" });
    stop = true;
    await load;
    assert.ok(s2.wins > 0, "bids continued on the held grant");
    assert.equal(s2.lastReason, "budget", `then no-bids for budget: ${JSON.stringify(Object.fromEntries(s2.reasons))}`);
    assert.equal(duringOutage.granted, atKill.granted, "no new money while Redis is down");
    assert.equal(lateOutage.granted, atKill.granted);
    assert.ok(Number(lateOutage.charged - atKill.charged) <= heldAtKill, "spent at most what it held");
    assert.equal(upDuring, 0, "nexus_host_budget_source_up went to 0");
    assert.ok(errorsDuring > errorsBefore, `Redis errors counted (${errorsBefore} → ${errorsDuring})`);
    const readyz = await fetch(`${app.controlUrl}/readyz`);
    assert.equal(readyz.status, 200, "ready: the pod is within its safe fallback");

    // 4. Redis returns (empty): the pod re-registers what it holds, waits the recovery hold, bids again.
    const s3 = new LoadStats();
    stop = false;
    load = runLoad(app.bidUrl, s3, 4, () => stop);
    running.push(load);
    await server.restart();
    mark("redis_restarted");
    for (let deadline = Date.now() + 15_000; s3.wins === 0 && Date.now() < deadline; ) await sleep(25);
    mark("bids_resumed");
    assert.ok(s3.wins > 0, `bids resume after Redis returns: ${JSON.stringify(Object.fromEntries(s3.reasons))} ${s3.lastError}`);
    const resumeMs = timeline.bids_resumed! - timeline.redis_restarted!;
    assert.ok(resumeMs < 10_000, `resumed within ${resumeMs} ms`);
    assert.equal(await metric("nexus_host_budget_source_up"), 1, "nexus_host_budget_source_up back to 1");

    // 5. Spend the rest: the budget holds even though Redis lost its data.
    for (let deadline = Date.now() + 20_000; !(s3.lastReason === "budget" && s3.sinceBid >= 20 && Date.now() - s3.lastBidAt > 1000) && Date.now() < deadline; ) await sleep(50);
    stop = true;
    await load;
    mark("budget_exhausted");
    await sleep(300);
    monitoring = false;
    await monitor;

    const end = ledger();
    const redisState = await probe.hgetall(`{nexus:${prefix}:${CAMPAIGN}}:campaign`);
    const figures = {
      budget: BUDGET,
      timeline_ms: timeline,
      resume_ms: resumeMs,
      held_at_kill: heldAtKill,
      spent_during_outage: Number(lateOutage.charged - atKill.charged),
      wins: { before: s1.wins, outage: s2.wins, after: s3.wins },
      charged: Number(end.charged),
      used_pct: Math.round((Number(end.charged) / BUDGET) * 10000) / 100,
      ledger_granted: Number(end.granted),
      redis_granted_after_restart: Number(redisState.granted),
      max_redis_granted: maxRedisGranted,
      redis_registrations: Number(redisState.registrations ?? 0),
      redis_errors_lease: await metric("nexus_host_redis_errors_total", { operation: "lease" }),
    };
    t.diagnostic(JSON.stringify(figures));
    console.log("fault figures:", JSON.stringify(figures));

    assert.deepEqual(violations.slice(0, 5), [], "the ledger never held more than its grant, nor the grant more than the budget");
    assert.ok(end.charged + end.reserved <= end.granted);
    assert.ok(end.charged <= BigInt(BUDGET), `charged ${end.charged} > budget`);
    assert.ok(maxRedisGranted <= BUDGET, `Redis Σ granted ${maxRedisGranted} > budget`);
    assert.ok(Number(redisState.granted) <= BUDGET);
    assert.ok(Number(redisState.registrations) >= 1, "the pod re-registered after the data loss");
    assert.ok(Number(end.charged) >= 0.95 * BUDGET, `only ${end.charged} of ${BUDGET} spent`);
  });
});
