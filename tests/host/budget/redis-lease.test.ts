// The Redis budget lease (host/src/control/budget-redis.ts) against the real
// Redis at 127.0.0.1:6379 (own key prefix, deleted at the end) with a simulated
// clock: refill at the pacing target, total and daily caps across pods, day
// rollover, returns, idempotent retries, pause. Tests that flush scripts or
// data use a private redis-server.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { pino } from "pino";
import { RedisBudgetSource, BudgetUnavailableError, type LeaseResult } from "../../../host/src/control/budget-redis.ts";
import { budgetDay } from "../../../host/src/control/fleet-spend.ts";
import type { CampaignLimits, PodReport, SlicePolicy } from "../../../host/src/control/budget.ts";
import { HostMetrics } from "../../../host/src/server/host-metrics.ts";
import { RedisServer, deletePrefix, uniquePrefix } from "../../helpers/redis-server.ts";

const SHARED_URL = process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const DAY = 86_400_000;
/** Noon UTC of a fixed day: the simulated clock's origin. */
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);

/** A pod's filter ledger, as the sync protocol reports it. */
class SimPod {
  granted = 0;
  charged = 0;
  reserved = 0;
  dailyCharged = 0;
  day = budgetDay(T0, 0);
  constructor(readonly id: string) {}
  report(campaignId: string): PodReport {
    return { campaignId, podId: this.id, granted: this.granted, charged: this.charged, reserved: this.reserved, dailyCharged: this.dailyCharged };
  }
  /** What the filter does with an answer: a grant never takes back what is charged or reserved. */
  apply(answer: number): void {
    this.granted = Math.max(answer, this.charged + this.reserved);
  }
  get free(): number {
    return this.granted - this.charged - this.reserved;
  }
  reserve(x: number): void {
    assert.ok(x <= this.free, `${this.id} reserves ${x} with ${this.free} free`);
    this.reserved += x;
  }
  settle(x: number): void {
    this.reserved -= x;
    this.charged += x;
    this.dailyCharged += x;
  }
  spendAll(): void {
    const x = this.free;
    this.charged += x;
    this.dailyCharged += x;
  }
  newDay(nowMs: number): void {
    const d = budgetDay(nowMs, 0);
    if (d !== this.day) {
      this.day = d;
      this.dailyCharged = 0;
    }
  }
}

describe("redis budget lease (shared redis)", () => {
  let client: Redis;
  const prefixes: string[] = [];
  const sources: RedisBudgetSource[] = [];

  before(async () => {
    client = new Redis(SHARED_URL, { maxRetriesPerRequest: 1 });
    await client.ping();
  });
  after(async () => {
    for (const s of sources) await s.close();
    for (const p of prefixes) await deletePrefix(client, p);
    for (const p of prefixes) assert.equal(await deletePrefix(client, p), 0);
    client.disconnect();
  });

  function source(policy: SlicePolicy, extra: { recoveryHoldMs?: number; metrics?: HostMetrics } = {}): RedisBudgetSource {
    const prefix = uniquePrefix("lease");
    prefixes.push(prefix);
    const s = new RedisBudgetSource({ client, keyPrefix: prefix, policy, utcOffsetMinutes: 0, recoveryHoldMs: extra.recoveryHoldMs ?? 0, metrics: extra.metrics });
    sources.push(s);
    return s;
  }

  async function lease(s: RedisBudgetSource, l: CampaignLimits, pod: SimPod, now: number): Promise<LeaseResult> {
    pod.newDay(now);
    const r = await s.lease(l, pod.report(l.id), now);
    assert.ok(r.granted >= pod.charged + pod.reserved, "never below charged + reserved");
    pod.apply(r.granted);
    return r;
  }

  it("refills at the pacing target rate (daily / 86 400 s), in slices of at least minSliceMicros", async () => {
    // 86.4 M daily: 1000 micros/s; leaseSeconds 10: a bucket (and slice) of 10 000.
    const s = source({ leaseSeconds: 10, minSliceMicros: 1000 });
    const l: CampaignLimits = { id: "pace", totalMicros: 0, dailyMicros: 86_400_000, active: true };
    const pod = new SimPod("a");
    assert.equal((await lease(s, l, pod, T0)).granted, 10_000, "a full bucket to start");
    pod.spendAll();
    assert.equal((await lease(s, l, pod, T0)).granted, 10_000, "an empty bucket: nothing more at the same instant");
    // Half a second refills 500 (< minSliceMicros): nothing; a second refills 1000.
    assert.equal((await lease(s, l, pod, T0 + 500)).granted, 10_000);
    assert.equal((await lease(s, l, pod, T0 + 1000)).granted, 11_000);
    for (let t = 2; t <= 100; t++) {
      pod.spendAll();
      await lease(s, l, pod, T0 + t * 1000);
    }
    assert.equal(pod.granted, 10_000 + 100 * 1000, "100 s at 1000 micros/s after the first bucket");
    // An idle pod: the bucket fills to its size and no further.
    pod.spendAll();
    const r = await lease(s, l, pod, T0 + 1000 * 1000);
    assert.equal(r.granted - pod.charged, 10_000, "one bucket, however long the pause");
  });

  it("never grants beyond the total or the daily budget, whatever the number of pods (concurrent leases)", async () => {
    // 9000 micros/s (90 000 a day over 10 s), slices of 9000: the daily cap binds within a day.
    const s = source({ leaseSeconds: 1, minSliceMicros: 500, pacingSeconds: 10 });
    const l: CampaignLimits = { id: "caps", totalMicros: 250_000, dailyMicros: 90_000, active: true };
    const pods = Array.from({ length: 5 }, (_, i) => new SimPod(`p${i}`));
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    let now = T0;
    for (let step = 0; step < 120; step++) {
      now += Math.floor(rnd() * 400) + (step % 40 === 39 ? DAY / 2 : 0); // a few day rollovers
      // Every pod spends part of what it holds (reserve, then win or lose), then all lease at once.
      for (const p of pods) {
        // Last step's bids end (won or lost), new ones are in flight while the pods lease.
        if (rnd() < 0.8) p.settle(p.reserved);
        else p.reserved = 0;
        const x = Math.floor(p.free * rnd() * 0.5);
        p.reserve(x);
        if (rnd() < 0.5) p.settle(Math.floor(x / 2));
      }
      const results = await Promise.all(pods.map((p) => lease(s, l, p, now)));
      const st = await s.campaignState(l.id, now);
      const sum = Object.values(st.pods).reduce((a, p) => a + p.granted, 0);
      assert.equal(st.granted, sum, "the campaign's sum is the sum of its pods");
      assert.ok(st.granted <= l.totalMicros, `Σ granted ${st.granted} ≤ total`);
      assert.ok(st.dayGranted <= l.dailyMicros, `Σ granted today ${st.dayGranted} ≤ daily`);
      for (const r of results) assert.ok(r.campaignGranted <= l.totalMicros && r.dayGranted <= l.dailyMicros);
      const held = pods.reduce((a, p) => a + p.granted, 0);
      assert.ok(held <= l.totalMicros, `the pods' ledgers hold ${held}`);
    }
    // Spend everything that is left, day after day: the total is reached, never passed.
    for (const p of pods) p.settle(p.reserved);
    for (let day = 1; day <= 6; day++) {
      for (let k = 0; k < 30; k++) {
        now += 1000;
        for (const p of pods) p.spendAll();
        await Promise.all(pods.map((p) => lease(s, l, p, now)));
      }
      now += DAY;
    }
    for (const p of pods) p.spendAll();
    const charged = pods.reduce((a, p) => a + p.charged, 0);
    assert.ok(charged <= l.totalMicros, `charged ${charged}`);
    assert.equal(charged, l.totalMicros, "the whole budget is used");
  });

  it("rolls over the day: a new day has its daily budget, the total still caps", async () => {
    const s = source({ leaseSeconds: 10, minSliceMicros: 1000, pacingSeconds: 10 });
    const l: CampaignLimits = { id: "days", totalMicros: 50_000, dailyMicros: 20_000, active: true };
    const [a, b] = [new SimPod("a"), new SimPod("b")];
    let now = T0;
    const spendDay = async () => {
      for (let k = 0; k < 20; k++) {
        now += 1000;
        a.spendAll();
        b.spendAll();
        await lease(s, l, a, now);
        await lease(s, l, b, now);
      }
    };
    await spendDay();
    a.spendAll();
    b.spendAll();
    assert.equal(a.charged + b.charged, 20_000, "day 1: the daily budget");
    const st1 = await s.campaignState(l.id, now);
    assert.equal(st1.dayGranted, 20_000);
    const ttl = await client.pttl(`{nexus:${prefixes.at(-1)}:days}:day:${st1.day}`);
    assert.ok(ttl > 2 * DAY && ttl <= 3 * DAY, `day key expires (${ttl} ms)`);
    now += DAY;
    await spendDay();
    a.spendAll();
    b.spendAll();
    assert.equal(a.charged + b.charged, 40_000, "day 2: another daily budget");
    const st2 = await s.campaignState(l.id, now);
    assert.equal(st2.day, st1.day + 1);
    assert.equal(st2.dayGranted, 20_000);
    now += DAY;
    await spendDay();
    now += DAY;
    await spendDay();
    a.spendAll();
    b.spendAll();
    assert.equal(a.charged + b.charged, 50_000, "the total caps days 3 and 4");
    assert.equal((await s.campaignState(l.id, now)).granted, 50_000);
  });

  it("counts what a pod holds at midnight against the new day", async () => {
    const s = source({ leaseSeconds: 10, minSliceMicros: 1000, pacingSeconds: 10 });
    const l: CampaignLimits = { id: "carry", totalMicros: 0, dailyMicros: 20_000, active: true };
    const a = new SimPod("a");
    const midnight = (Math.floor(T0 / DAY) + 1) * DAY;
    await lease(s, l, a, midnight - 1000); // holds a slice of 20 000 (unspent) at midnight
    assert.equal(a.granted, 20_000);
    a.spendAll(); // spent after midnight, before its next lease
    a.newDay(midnight + 100);
    a.dailyCharged = 20_000;
    const r = await lease(s, l, a, midnight + 100);
    assert.equal(r.dayGranted, 20_000, "the held slice was today's budget");
    assert.equal(r.granted, 20_000, "nothing more today");
  });

  it("a lower cumulative grant returns money, which other pods then get", async () => {
    // Slices of 20 000 (minSliceMicros), total 50 000, a fast refill.
    const s = source({ leaseSeconds: 0.4, minSliceMicros: 20_000, pacingSeconds: 1 });
    const l: CampaignLimits = { id: "returns", totalMicros: 50_000, dailyMicros: 0, active: true };
    const [a, b] = [new SimPod("a"), new SimPod("b")];
    let now = T0;
    assert.equal((await lease(s, l, a, (now += 1000))).granted, 20_000);
    a.reserve(20_000); // bids in flight: a wants another slice ahead
    assert.equal((await lease(s, l, a, (now += 1000))).granted, 40_000);
    b.reserve(0);
    assert.equal((await lease(s, l, b, (now += 1000))).granted, 10_000, "b gets what is left");
    a.reserved = 0; // a's bids lost: refunded
    const ra = await lease(s, l, a, (now += 1000));
    assert.equal(ra.granted, 20_000, "a gets back to one slice ahead: a lower grant");
    assert.equal(ra.counted, 40_000, "counted until a's ledger confirms it let go");
    b.spendAll();
    assert.equal((await lease(s, l, b, (now += 1000))).granted, 10_000, "not yet free");
    const ra2 = await lease(s, l, a, (now += 1000)); // a reports its ledger's grant: 20 000
    assert.equal(ra2.counted, 20_000);
    assert.equal(ra2.campaignGranted, 30_000, "20 000 returned");
    const rb = await lease(s, l, b, (now += 1000));
    assert.equal(rb.granted, 30_000, "b holds a slice ahead of its 10 000 spent: the returned money");
    assert.equal(rb.campaignGranted, 50_000);
  });

  it("money a pod gives back refills the bucket: another pod gets it at once, not at the pace", async () => {
    // 1 micro/s: the bucket (one slice, 1,000) does not refill by itself during the test.
    const s = source({ leaseSeconds: 10, minSliceMicros: 1_000, pacingSeconds: 1_000_000_000 });
    const l: CampaignLimits = { id: "give-back", totalMicros: 1_000_000_000, dailyMicros: 0, active: true };
    const report = (o: Partial<PodReport>): PodReport => ({ campaignId: l.id, podId: "a", granted: 0, charged: 0, reserved: 0, dailyCharged: 0, ledgerEpoch: 1, ...o });
    const a1 = (await s.lease(l, report({ podId: "a" }), T0)).granted;
    assert.equal(a1, 1_000);
    assert.equal((await s.lease(l, report({ podId: "b" }), T0)).granted, 0, "the bucket is empty");
    // a stops gracefully: answered what it holds (0), then its report shows the lowered grant.
    assert.equal((await s.lease(l, report({ podId: "a", granted: a1, returning: true }), T0 + 10)).granted, 0);
    await s.lease(l, report({ podId: "a", granted: 0, returning: true }), T0 + 20);
    assert.equal((await s.lease(l, report({ podId: "b" }), T0 + 30)).granted, 1_000, "the 1,000 a gave back");
  });

  it("retries are idempotent: the same report twice gives the same grant and counts once", async () => {
    const s = source({ leaseSeconds: 10, minSliceMicros: 1000, pacingSeconds: 1000 });
    const l: CampaignLimits = { id: "retry", totalMicros: 1_000_000, dailyMicros: 0, active: true };
    const a = new SimPod("a");
    const now = T0 + 5000;
    const first = await s.lease(l, a.report(l.id), now);
    const again = await s.lease(l, a.report(l.id), now); // the answer was lost (timeout): the same report again
    const third = await s.lease(l, a.report(l.id), now + 10);
    assert.equal(again.granted, first.granted);
    assert.equal(third.granted, first.granted);
    assert.equal(again.campaignGranted, first.campaignGranted, "no double counting");
    assert.equal(third.campaignGranted, first.campaignGranted);
    a.apply(first.granted);
    a.reserve(3000);
    a.settle(3000);
    const r1 = await s.lease(l, a.report(l.id), now + 1000);
    const r2 = await s.lease(l, a.report(l.id), now + 1000);
    assert.equal(r2.granted, r1.granted);
    assert.equal(r2.campaignGranted, r1.campaignGranted);
    const st = await s.campaignState(l.id, now);
    assert.equal(st.granted, r1.granted);
    assert.equal(st.charged, 3000, "spend is recorded once");
    assert.equal(st.pods.a!.charged, 3000, "per pod");
  });

  it("a paused campaign takes back unspent slices; resuming grants again", async () => {
    const s = source({ leaseSeconds: 10, minSliceMicros: 1000, pacingSeconds: 100 });
    const l: CampaignLimits = { id: "pause", totalMicros: 1_000_000, dailyMicros: 0, active: true };
    const a = new SimPod("a");
    let now = T0;
    assert.equal((await lease(s, l, a, now)).granted, 100_000);
    a.reserve(30_000);
    a.settle(20_000); // 20 000 charged, 10 000 reserved
    const paused = { ...l, active: false };
    const r = await lease(s, paused, a, (now += 100));
    assert.equal(r.granted, 30_000, "only charged + reserved");
    assert.equal(a.granted, 30_000);
    const r2 = await lease(s, paused, a, (now += 100));
    assert.equal(r2.campaignGranted, 30_000, "the unspent 90 000 is back once the ledger applied it");
    const st = await s.campaignState(l.id, now);
    assert.equal(st.active, false);
    assert.ok((await lease(s, l, a, (now += 1000))).granted > 30_000, "resumed");
  });

  it("a restarted ledger (charged went backwards) keeps its old grant counted", async () => {
    // 1500 micros/s, slices of 15 000.
    const s = source({ leaseSeconds: 10, minSliceMicros: 1000, pacingSeconds: 100 });
    const l: CampaignLimits = { id: "restart", totalMicros: 150_000, dailyMicros: 0, active: true };
    const a = new SimPod("a");
    assert.equal((await lease(s, l, a, T0)).granted, 15_000);
    a.spendAll();
    assert.equal((await lease(s, l, a, T0 + 10_000)).granted, 30_000);
    a.spendAll(); // 30 000 charged, then the filter restarts with an empty ledger under the same pod id
    const fresh = new SimPod("a");
    const r = await lease(s, l, fresh, T0 + 20_000);
    assert.equal(r.registered, 2);
    assert.equal(r.granted, 15_000, "a new slice for the new ledger");
    assert.equal(r.campaignGranted, 45_000, "the old 30 000 stays counted (spent)");
    const st = await s.campaignState(l.id, T0 + 20_000);
    assert.equal(st.resets, 1);
    assert.equal(st.charged, 15_000, "the spend the old ledger reported stays recorded");
  });

  it("a pod's hash and the pod set expire a week after its last lease; the campaign's grants never do", async () => {
    const s = source({ leaseSeconds: 10, minSliceMicros: 1000, pacingSeconds: 100 });
    const l: CampaignLimits = { id: "expiry", totalMicros: 150_000, dailyMicros: 0, active: true };
    const a = new SimPod("a");
    await lease(s, l, a, T0);
    const [ck, pk, , sk] = s.keys(l.id, "a", 0);
    const week = 7 * 86_400_000;
    for (const k of [pk, sk]) {
      const ttl = await client.pttl(k);
      assert.ok(ttl > week - 60_000 && ttl <= week, `${k}: ${ttl} ms`);
    }
    assert.equal(await client.pttl(ck), -1, "the campaign's hash holds the total cap: no expiry");
    // A pod whose hash expired is left out of the state (its grant stays in the campaign's).
    await client.del(pk);
    const st = await s.campaignState(l.id, T0);
    assert.deepEqual(Object.keys(st.pods), []);
    assert.equal(st.granted, 15_000);
  });

  it("writes the limits it is given and initialises campaigns that Redis lacks", async () => {
    const s = source({ leaseSeconds: 10, minSliceMicros: 1000, pacingSeconds: 10 });
    await s.init([{ id: "init", totalMicros: 7000, dailyMicros: 5000, active: true }]);
    await s.init([{ id: "init", totalMicros: 1, dailyMicros: 1, active: false }]); // present: unchanged
    let st = await s.campaignState("init");
    assert.deepEqual([st.exists, st.totalMicros, st.dailyMicros, st.active], [true, 7000, 5000, true]);
    // An admin change reaches Redis with the next lease (the host's limits are authoritative).
    await s.lease({ id: "init", totalMicros: 9000, dailyMicros: 6000, active: true }, new SimPod("a").report("init"), T0);
    st = await s.campaignState("init", T0);
    assert.deepEqual([st.totalMicros, st.dailyMicros, st.granted], [9000, 6000, 6000]);
  });
});

describe("redis budget lease (private redis-server)", () => {
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    await server?.stop();
  });

  const policy: SlicePolicy = { leaseSeconds: 10, minSliceMicros: 1000, pacingSeconds: 100 };
  const l: CampaignLimits = { id: "c1", totalMicros: 100_000, dailyMicros: 0, active: true };

  it("reloads the script after SCRIPT FLUSH (NOSCRIPT: EVAL fallback)", async () => {
    const metrics = new HostMetrics(false);
    const s = new RedisBudgetSource({ url: server.url, keyPrefix: uniquePrefix("noscript"), policy, metrics });
    try {
      assert.ok(await s.waitReady(5000));
      const a = new SimPod("a");
      a.apply(await s.grant(l, a.report(l.id), T0));
      const loads = async () => (await metrics.redisScriptLoads.get()).values[0]?.value ?? 0;
      const before = await loads();
      assert.equal(await s.grant(l, a.report(l.id), T0), a.granted, "cached script: no load");
      assert.equal(await loads(), before);
      await s.redis.script("FLUSH");
      assert.equal(await s.grant(l, a.report(l.id), T0), a.granted, "works after the flush");
      assert.equal(await loads(), before + 1, "one EVAL fallback");
      assert.equal(await s.grant(l, a.report(l.id), T0), a.granted);
      assert.equal(await loads(), before + 1, "cached again");
    } finally {
      await s.close();
    }
  });

  it("close() is a stop, not an outage: no budget_source_down warning", async () => {
    const events: string[] = [];
    const log = pino({ level: "debug" }, { write: (line: string) => void events.push(JSON.parse(line).event) });
    const s = new RedisBudgetSource({ url: server.url, keyPrefix: uniquePrefix("close"), policy, log });
    assert.ok(await s.waitReady(5000));
    await s.grant(l, new SimPod("a").report(l.id), T0);
    await s.close();
    assert.equal(s.healthy(), false, "closed");
    assert.ok(!events.includes("budget_source_down"), JSON.stringify(events));
  });

  it("Redis down: grant() throws at once, healthy() is false; it recovers by itself", async () => {
    const metrics = new HostMetrics(false);
    const s = new RedisBudgetSource({ url: server.url, keyPrefix: uniquePrefix("down"), policy, metrics, commandTimeoutMs: 200 });
    try {
      assert.ok(await s.waitReady(5000));
      const a = new SimPod("a");
      a.apply(await s.grant(l, a.report(l.id), T0));
      assert.equal(s.healthy(), true);
      await server.kill();
      const t = Date.now();
      await assert.rejects(s.grant(l, a.report(l.id), T0 + 1000), BudgetUnavailableError);
      await assert.rejects(s.grant(l, a.report(l.id), T0 + 1000), BudgetUnavailableError);
      assert.ok(Date.now() - t < 2000, "fails fast");
      assert.equal(s.healthy(), false);
      assert.equal((await metrics.budgetUp.get()).values[0]?.value, 0);
      const errors = (await metrics.redisErrors.get()).values.find((v) => v.labels.operation === "lease")?.value ?? 0;
      assert.ok(errors >= 2, `errors counted: ${errors}`);
      await server.restart();
      assert.ok(await s.waitReady(5000), "reconnects");
      // The restarted server lost everything: the pod registers what it holds.
      const r = await s.lease(l, a.report(l.id), T0 + 2000);
      assert.equal(s.healthy(), true);
      assert.equal((await metrics.budgetUp.get()).values[0]?.value, 1);
      assert.equal(r.registered, 1);
      assert.equal(r.campaignGranted, a.granted);
    } finally {
      await s.close();
    }
  });

  it("after data loss, rebuilds Σ granted from what the pods hold and holds new money while they register", async () => {
    const prefix = uniquePrefix("loss");
    const metrics = new HostMetrics();
    const s = new RedisBudgetSource({ url: server.url, keyPrefix: prefix, policy: { leaseSeconds: 1, minSliceMicros: 10_000, pacingSeconds: 10 }, recoveryHoldMs: 3000, metrics });
    try {
      assert.ok(await s.waitReady(5000));
      const lim: CampaignLimits = { id: "c2", totalMicros: 100_000, dailyMicros: 0, active: true };
      const pods = [new SimPod("a"), new SimPod("b"), new SimPod("c")];
      let now = T0;
      for (let k = 0; k < 12; k++) {
        now += 1000;
        for (const p of pods) {
          p.reserve(p.free);
          p.settle(p.reserved);
          p.apply(await s.grant(lim, p.report(lim.id), now));
        }
      }
      const heldBefore = pods.reduce((a, p) => a + p.granted, 0);
      assert.equal(heldBefore, 100_000, "the budget is out");
      const lostPods = async () => (await metrics.budgetStoreLostPod.get()).values.reduce((a, v) => a + v.value, 0);
      assert.equal(await lostPods(), 0, "new pods holding nothing are not a loss");
      await s.redis.flushall();
      // a first: must not get b's and c's share (they spent it) — no new money during the hold.
      const ra = await s.lease(lim, pods[0]!.report(lim.id), (now += 100));
      assert.equal(ra.registered, 1);
      assert.equal(ra.holding, true);
      assert.equal(ra.granted, pods[0]!.granted, "no new money while pods re-register");
      for (const p of pods.slice(1)) p.apply(await s.grant(lim, p.report(lim.id), (now += 100)));
      const st = await s.campaignState(lim.id, now);
      assert.equal(st.granted, heldBefore, "rebuilt from the pods' ledgers");
      // The only trace of the loss for an SRE (alert NexusBudgetStoreLostData): a pod that held
      // money (a took the whole budget; b and c, holding nothing, register as new pods).
      assert.deepEqual(pods.map((p) => p.granted > 0), [true, false, false]);
      assert.equal(await lostPods(), 1);
      now += 5000;
      for (const p of pods) p.apply(await s.grant(lim, p.report(lim.id), now));
      assert.ok(pods.reduce((a, p) => a + p.granted, 0) <= lim.totalMicros, "never beyond the budget");
    } finally {
      await s.close();
    }
  });
});

// The token bucket's clock is each host's (its lease's nowMs), so that tests and replays can run
// it on their own time; but one pod whose clock ran ahead wrote the bucket's ts in the future, and
// the pods with right clocks got no new money until real time caught up (measured: 10 minutes
// ahead froze every refill for 10 minutes). The script caps the bucket's clock at Redis's own
// clock + 1 s.
describe("redis budget lease: a pod whose clock runs ahead", () => {
  let client: Redis;
  const prefix = uniquePrefix("clock-ahead");
  before(async () => {
    client = new Redis(SHARED_URL, { maxRetriesPerRequest: 1 });
    await client.ping();
  });
  after(async () => {
    await deletePrefix(client, prefix);
    client.disconnect();
  });

  it("does not stop the refills of the pods with right clocks", async () => {
    // 1500 micros/s, slices of 15 000: the bucket starts full, and pod a takes it all.
    const s = new RedisBudgetSource({ client, keyPrefix: prefix, policy: { leaseSeconds: 10, minSliceMicros: 1000, pacingSeconds: 20 }, utcOffsetMinutes: 0, recoveryHoldMs: 0 });
    const limits: CampaignLimits = { id: "ahead", totalMicros: 30_000, dailyMicros: 0, active: true };
    const report = (pod: string): PodReport => ({ campaignId: "ahead", podId: pod, granted: 0, charged: 0, reserved: 0, dailyCharged: 0 });
    try {
      const a = await s.grant(limits, report("a"), Date.now() + 10 * 60_000);
      assert.equal(a, 15_000);
      // Two and a half seconds later, pod b (right clock) finds the bucket refilled for what
      // passed since, not frozen until pod a's clock.
      await new Promise((r) => setTimeout(r, 2500));
      const b = await s.grant(limits, report("b"), Date.now());
      assert.ok(b >= 1000 && b <= 4500, `pod b was granted ${b}`);
    } finally {
      await s.close();
    }
  });
});
