// A graceful stop gives the pod's unspent grant back to the shared budget (Redis) through the
// sync protocol: the host answers the filter's syncs as for a paused campaign, the filter lowers
// its grant to charged + reserved, and its next report lets Redis un-count the rest. Before, a
// stopped pod's unspent slice stayed counted as granted for ever: every rolling deploy took one
// slice per pod out of every campaign's budget. What is reserved (bids waiting for notices) stays
// counted, and a Redis that does not answer makes the stop give nothing back, within its bound.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { FIXTURES, README_REQUEST, get, noticeUrl, post, testBidderConfig } from "../../helpers/bidder.ts";
import { RedisServer, sharedRedisPrefixes } from "../../helpers/redis-server.ts";
import { cpmToMicros } from "../../helpers/ledger.ts";
import { startStandalone, type Standalone } from "../../../host/src/standalone.ts";
import { silentLogger } from "../../../host/src/log.ts";
import { SyncService } from "../../../host/src/control/sync-service.ts";
import { MemoryBudgetSource } from "../../../host/src/control/budget.ts";
import { PLUGIN, sleep } from "./bidders.ts";
import type { HostConfig } from "../../../host/src/config.ts";

const CAMPAIGN = "test-cpa";
// One slice of 200 000 micros (10 bids at the $20 CPM cap): pacing at 1 micro/s over a lease of
// 200 000 s, so the bucket does not refill during the test and the first pod keeps its one slice.
// The total leaves 20 000 beyond it: a second pod gets (nearly) nothing unless the first gives back.
const SLICE = 200_000;
const TOTAL = 220_000;
const BUDGET = { leaseSeconds: 200_000, pacingSeconds: TOTAL, minSliceMicros: 10_000, recoveryHoldMs: 0 };

/** The fixture campaign set with the test's budget. */
function campaignSet(): unknown {
  const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  set.campaigns[0].budget = { total_micros: TOTAL, daily_micros: TOTAL, hourly_micros: 0, minute_micros: 0 };
  return set;
}

interface Pod {
  app: Standalone;
  cfg: HostConfig;
  dir: string;
}

async function startPod(redisUrl: string, keyPrefix: string, podId: string, budget: Partial<HostConfig["budget"]> = {}): Promise<Pod> {
  const { cfg, dir } = testBidderConfig({
    vms: 1,
    plugin: PLUGIN,
    campaigns: campaignSet(),
    model: { pCtr: 0.01, pCvr: 0.5 }, // bids hit the $20 CPM cap: 20 000 micros each
    budget: { source: "redis", redisUrl, keyPrefix, podId, ...BUDGET, ...budget },
  });
  const app = await startStandalone(cfg, silentLogger());
  await app.ready(20_000);
  return { app, cfg, dir };
}

let seq = 0;
/** One bid: its price in micros and its notice URL (won at its price). */
async function bid(pod: Pod): Promise<{ micros: number; nurl: string }> {
  const r = await post(`${pod.app.bidUrl}/openrtb2/bid`, README_REQUEST.replace('"id":"req-1"', `"id":"return-${process.pid}-${++seq}"`));
  assert.equal(r.status, 200, `a bid: ${r.status} ${String(r.headers["x-nexus-nobid-reason"] ?? "")} ${r.text}`);
  const b = r.json().seatbid[0].bid[0] as { price: number; nurl: string };
  return { micros: Number(cpmToMicros(String(b.price))), nurl: noticeUrl(b.nurl, String(b.price)) };
}

/** Waits until the filter's report shows what the test did (Redis's pod hash: charged and reserved). */
async function reported(redis: Redis, podKey: string, charged: number, reserved: number): Promise<Record<string, string>> {
  const end = Date.now() + 10_000;
  for (;;) {
    const pod = await redis.hgetall(podKey);
    if (Number(pod.charged) === charged && Number(pod.reserved) === reserved) return pod;
    if (Date.now() > end) assert.fail(`Redis never saw charged ${charged} reserved ${reserved}: ${JSON.stringify(pod)}`);
    await sleep(50);
  }
}

describe("a graceful stop returns the unspent grant to Redis", () => {
  const redis = sharedRedisPrefixes("return");
  const url = process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("gives back granted − charged − reserved; the reservations stay counted; another pod can lease the money", async () => {
    const prefix = redis.fresh();
    const key = (k: string) => `{nexus:${prefix}:${CAMPAIGN}}:${k}`;
    const a = await startPod(url, prefix, "pod-a");
    dirs.push(a.dir);
    let b: Pod | undefined;
    try {
      // Three bids won at their price (charged), two left waiting for their notices (reserved).
      const bids = [];
      for (let i = 0; i < 5; i++) bids.push(await bid(a));
      let charged = 0;
      for (const w of bids.slice(0, 3)) {
        const r = await get(w.nurl);
        assert.equal(r.status, 200, r.text);
        charged += w.micros;
      }
      const reserved = bids.slice(3).reduce((s, x) => s + x.micros, 0);
      assert.ok(charged > 0 && reserved > 0);
      const before = await reported(redis.client(), key("pod:pod-a"), charged, reserved);
      const grantedBefore = Number(before.granted);
      assert.equal(grantedBefore, SLICE, "the pod holds its one slice");
      assert.equal(Number(await redis.client().hget(key("campaign"), "granted")), SLICE);

      await a.app.stop(5000);

      const pod = await redis.client().hgetall(key("pod:pod-a"));
      const campaign = await redis.client().hgetall(key("campaign"));
      const unspent = grantedBefore - charged - reserved;
      assert.equal(Number(pod.granted), charged + reserved, `the pod's counted grant is what it spent or reserved: ${JSON.stringify(pod)}`);
      assert.equal(Number(campaign.granted), SLICE - unspent, "the campaign's granted dropped by the pod's unspent");
      assert.equal(Number(pod.reserved), reserved, "the reservations stay held");

      // Another pod leases the money given back (the bucket took it back), never beyond the total.
      b = await startPod(url, prefix, "pod-b");
      dirs.push(b.dir);
      const podB = await redis.client().hgetall(key("pod:pod-b"));
      const after = await redis.client().hgetall(key("campaign"));
      assert.ok(Number(podB.granted) >= unspent, `pod-b leased ${podB.granted}, ${unspent} was given back`);
      assert.ok(Number(after.granted) <= TOTAL, `Σ granted ${after.granted} ≤ total ${TOTAL}`);
    } finally {
      await b?.app.close();
      await a.app.close().catch(() => {});
    }
  });

  it("a Redis that does not answer: the stop ends within its bound and gives nothing back", async () => {
    // A private Redis, frozen while the pod stops: the leases time out at the host (200 ms), so
    // the filter never sees a lowered grant; they run in Redis once it resumes, on reports that
    // show the old grant, and must not un-count it (the filter could have spent it).
    const server = await RedisServer.start();
    const prefix = "return-frozen";
    const key = (k: string) => `{nexus:${prefix}:${CAMPAIGN}}:${k}`;
    const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
    const a = await startPod(server.url, prefix, "pod-a", { returnWaitMs: 1000 });
    dirs.push(a.dir);
    try {
      const w = await bid(a);
      await reported(client, key("pod:pod-a"), 0, w.micros);
      assert.equal(Number(await client.hget(key("campaign"), "granted")), SLICE);
      const leasesBefore = Number(await client.hget(key("campaign"), "leases"));

      server.freeze();
      const t0 = Date.now();
      // No notice window (its bid stays reserved, so the window would last its time): the return's bound alone.
      await a.app.stop(5000, 0);
      const took = Date.now() - t0;
      server.resume();
      assert.ok(took < 2500, `the stop took ${took} ms (return bound 1000 ms)`);

      await sleep(300); // the leases sent while frozen run now
      const campaign = await client.hgetall(key("campaign"));
      const pod = await client.hgetall(key("pod:pod-a"));
      assert.ok(Number(campaign.leases) > leasesBefore, `leases sent while frozen ran: ${campaign.leases} (before ${leasesBefore})`);
      assert.equal(Number(campaign.granted), SLICE, `the campaign's granted is unchanged: ${JSON.stringify(campaign)}`);
      assert.equal(Number(pod.granted), SLICE, "the pod's grant stays counted");
    } finally {
      server.resume();
      await a.app.close().catch(() => {});
      client.disconnect();
      await server.stop();
    }
  });
});

describe("SyncService.returnUnspent", () => {
  it("a return the filter's next report confirms ends at once, complete, with what went back", async () => {
    // Before, a confirmation had to show a grant above the answer: every graceful stop then waited
    // its whole returnWaitMs and logged it unconfirmed, while the money came out right.
    const doc = { id: "c", active: true, budget: { total_micros: 1_000_000, daily_micros: 0 } };
    const catalog = { campaigns: [doc], version: 1, json: "{}", publishAbove: () => false, get: (id: string) => (id === "c" ? doc : undefined) } as unknown as ConstructorParameters<typeof SyncService>[1];
    const models = { expectHashBits() {}, announcement: () => null } as unknown as ConstructorParameters<typeof SyncService>[2];
    // A persisted memory source is shared with the next start: what a stop gives back counts.
    const budget = new MemoryBudgetSource({ leaseSeconds: 1, minSliceMicros: 50_000 }, 0, { persist: async () => {} });
    const s = new SyncService("pod", catalog, models, budget, silentLogger());
    const report = (granted: number, charged: number) => ({ vm: 1, config_version: 1, ledger_epoch: 7, campaigns: [{ id: "c", granted_micros: granted, charged_micros: charged, reserved_micros: 0, daily_charged_micros: charged }] });
    const g = (await s.sync(report(0, 0))).grants[0]!.granted_micros;
    assert.equal(g, 50_000);
    await s.sync(report(g, 10_000));
    const t0 = Date.now();
    const done = s.returnUnspent(3_000);
    assert.equal((await s.sync(report(g, 10_000))).grants[0]!.granted_micros, 10_000, "returning: answered what it holds");
    await s.sync(report(10_000, 10_000)); // the filter applied it
    const outcome = await done;
    assert.equal(outcome.complete, true, JSON.stringify(outcome));
    assert.deepEqual(outcome.returned, { c: 50_000 }); // the store had counted 60,000 (the last answer); it keeps 10,000
    assert.ok(Date.now() - t0 < 2_000, `took ${Date.now() - t0} ms of the 3,000 allowed`);
  });

  it("a filter that synced but was never granted anything (the store never reached) holds nothing: no wait", async () => {
    const doc = { id: "c", active: true, budget: { total_micros: 1_000_000, daily_micros: 0 } };
    const catalog = { campaigns: [doc], version: 1, json: "{}", publishAbove: () => false, get: (id: string) => (id === "c" ? doc : undefined) } as unknown as ConstructorParameters<typeof SyncService>[1];
    const models = { expectHashBits() {}, announcement: () => null } as unknown as ConstructorParameters<typeof SyncService>[2];
    // A shared source whose every lease fails, as Redis down since the start.
    const budget = { shared: true, healthy: () => false, close: async () => {}, grant: async () => { throw new Error("unreachable"); }, lease: async () => { throw new Error("unreachable"); } } as unknown as ConstructorParameters<typeof SyncService>[3];
    const s = new SyncService("pod", catalog, models, budget, silentLogger());
    await s.sync({ vm: 1, config_version: 1, ledger_epoch: 7, campaigns: [{ id: "c", granted_micros: 0, charged_micros: 0, reserved_micros: 0, daily_charged_micros: 0 }] }).catch(() => undefined);
    assert.ok(s.syncs > 0, "the filter synced");
    const t0 = Date.now();
    const outcome = await s.returnUnspent(3_000);
    assert.equal(outcome.attempted, false, JSON.stringify(outcome));
    assert.ok(Date.now() - t0 < 500, `took ${Date.now() - t0} ms`);
    // A filter that reports a grant (one a previous host answered) is waited for as before.
    await s.sync({ vm: 1, config_version: 1, ledger_epoch: 7, campaigns: [{ id: "c", granted_micros: 5_000, charged_micros: 0, reserved_micros: 0, daily_charged_micros: 0 }] }).catch(() => undefined);
    assert.equal((await s.returnUnspent(100)).attempted, true);
  });
});

