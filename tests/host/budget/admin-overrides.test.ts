// Admin changes on the Redis budget source hold for the whole fleet, also for pods started after
// them from the campaigns file (an HPA scale-up, a restart): the money audit found a pause on two
// pods while a third one started later still spent 67,990 micros, and a total lowered to 100,000
// on two pods while the fleet's spend reached 186,513 once a third pod started. Standalone "pods"
// (their own VMs, shared data and control plane, the admin API over HTTP) on the real Redis at
// 127.0.0.1:6379 under a key prefix per test, deleted afterwards; a private redis-server for the
// outage.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { request } from "undici";
import { post, README_REQUEST } from "../../helpers/bidder.ts";
import { readLedger } from "../../helpers/ledger.ts";
import { RedisServer, uniquePrefix } from "../../helpers/redis-server.ts";
import { CAMPAIGN, startHardeningBidder, until, type HardeningBidder } from "../../hardening/helpers.ts";
import { deleteTestKeys, holdsBudget, SHARED_REDIS_URL } from "../../hardening/replay-pods.ts";

const TOKEN = "override-test-admin-token-0123";
/** The fixture's budget (tests/fixtures/campaigns/test-campaigns.json): what a pod started from the file leases by. */
const FILE_TOTAL = 1_000_000_000;

/**
 * A standalone bidder leasing from Redis under pod id `name`, paced fast (the daily budget over a
 * minute, 10 s slices: a pod leasing by the file's limits holds millions at once), with the
 * admin API on. Does not wait for money: a pod started during a pause must not get any.
 */
function startPod(name: string, redisUrl: string, keyPrefix: string): Promise<HardeningBidder> {
  return startHardeningBidder({
    vms: 2,
    adminToken: TOKEN,
    plugin: { decision_budget_ms: 1000 },
    budget: { source: "redis", redisUrl, keyPrefix, podId: name, pacingSeconds: 60, leaseSeconds: 10, minSliceMicros: 1_000_000, redisTimeoutMs: 200 },
  });
}

async function admin(pod: HardeningBidder, method: string, path: string, body?: unknown) {
  const r = await request(`${pod.controlUrl}/admin/v1${path}`, {
    method: method as "GET",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.body.text();
  return { status: r.statusCode, text, json: () => JSON.parse(text) };
}

async function campaignState(pod: HardeningBidder) {
  const r = await admin(pod, "GET", "/state");
  assert.equal(r.status, 200, r.text);
  return (r.json().campaigns as Array<Record<string, any>>).find((c) => c.id === CAMPAIGN)!;
}

async function metricsOf(pod: HardeningBidder): Promise<string> {
  const r = await request(`${pod.controlUrl}/metrics`);
  return r.body.text();
}

async function bid(pod: HardeningBidder): Promise<number> {
  return (await post(`${pod.bidUrl}/openrtb2/bid`, README_REQUEST)).status;
}

/** What the pod's filter may still spend: its grant less what it charged and holds reserved. */
function unspent(pod: HardeningBidder): bigint {
  const l = readLedger(pod.pool.shared, CAMPAIGN);
  return l ? l.granted - l.charged - l.reserved : 0n;
}

/** What the pod spent: charged plus what its bids hold reserved (billed if they win). */
function spent(pod: HardeningBidder): bigint {
  const l = readLedger(pod.pool.shared, CAMPAIGN);
  return l ? l.charged + l.reserved : 0n;
}

/** Several sync periods (100 ms in the test bidders) and ticks. */
const syncs = () => new Promise((r) => setTimeout(r, 600));

describe("admin changes hold for pods started after them (Redis budget source)", () => {
  const prefixes: string[] = [];
  const pods: HardeningBidder[] = [];
  let redis: Redis;
  const fresh = (tag: string) => {
    const p = uniquePrefix(tag);
    prefixes.push(p);
    return p;
  };
  const pod = async (name: string, prefix: string) => {
    const p = await startPod(name, SHARED_REDIS_URL, prefix);
    pods.push(p);
    return p;
  };

  before(async () => {
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    for (const p of pods) await p.close();
    for (const p of prefixes) await deleteTestKeys(redis, p);
    for (const p of prefixes) assert.deepEqual((await redis.scan("0", "MATCH", `*${p}*`, "COUNT", 10_000))[1], [], "the test's keys are gone");
    redis.disconnect();
  });

  it("a pause on pod A: pod C started afterwards from the same file gets no grant and bids nothing; resume lets it bid again", async () => {
    const prefix = fresh("ov-pause");
    const a = await pod("ov-pause-a", prefix);
    await holdsBudget(a, "A");
    assert.equal(await bid(a), 200);

    const paused = await admin(a, "POST", `/campaigns/${CAMPAIGN}/pause`);
    assert.equal(paused.status, 200, paused.text);
    assert.equal(paused.json().active, false);

    // The money first (what the audit found), then how the API and the state show it.
    const c = await pod("ov-pause-c", prefix);
    await syncs();
    assert.equal(unspent(c), 0n, "C holds no money of the paused campaign");
    for (let i = 0; i < 20; i++) assert.equal(await bid(c), 204, "C bids nothing");
    assert.equal(paused.json().scope, "fleet");
    assert.equal(paused.json().override.paused, true);
    assert.equal(paused.json().override.updated_by, "ov-pause-a");
    assert.equal(await redis.hget(`{nexus:${prefix}:${CAMPAIGN}}:override`, "paused"), "1", "stored in Redis");
    const state = await campaignState(c);
    assert.equal(state.active, false, "C's catalog shows the pause in force");
    assert.equal(state.file.active, true, "the file's value");
    assert.equal(state.override.paused, true);
    assert.equal(state.override.updated_by, "ov-pause-a");
    await until(() => unspent(a) === 0n, 10_000, "A's unspent slice given back");
    // SREs see it on every pod's /metrics, the one that learnt it from Redis included.
    const overridden = new RegExp(`^nexus_host_campaign_overridden\\{campaign="${CAMPAIGN}"\\} 1$`, "m");
    assert.match(await metricsOf(a), overridden);
    assert.match(await metricsOf(c), overridden);

    const resumed = await admin(a, "POST", `/campaigns/${CAMPAIGN}/resume`);
    assert.equal(resumed.status, 200, resumed.text);
    assert.equal(resumed.json().active, true, "the file's active applies again");
    assert.equal(resumed.json().override, null, "nothing else was overridden: no override left");
    await holdsBudget(c, "C after the resume");
    assert.equal(await bid(c), 200);
    assert.equal((await campaignState(c)).override, null);
    assert.doesNotMatch(await metricsOf(c), /^nexus_host_campaign_overridden\{/m, "no override, no series");
  });

  it("a total lowered on A holds for C started later: the fleet's spend stays within the new cap; clearing the override gives the file's total back", async () => {
    const prefix = fresh("ov-cap");
    const [a, b] = await Promise.all([pod("ov-cap-a", prefix), pod("ov-cap-b", prefix)]);
    await Promise.all([holdsBudget(a, "A"), holdsBudget(b, "B")]);
    for (let i = 0; i < 5; i++) assert.equal(await bid(a), 200);
    const cap = 100_000;
    assert.ok(spent(a) + spent(b) < BigInt(cap) / 2n, "the cap leaves money to spend");

    // Past the filter's range (1e15 micros): a 400 and nothing stored. It was stored for the fleet
    // before the catalog refused it (500), and every pod's leases then failed on it (audit).
    for (const total of [1e15 + 1, Number.MAX_SAFE_INTEGER]) {
      const refused = await admin(a, "PUT", `/campaigns/${CAMPAIGN}/budget`, { total_micros: total });
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.json().error, /from 0 to 1000000000000000/);
    }
    assert.equal(await redis.exists(`{nexus:${prefix}:${CAMPAIGN}}:override`), 0, "no override stored");

    const lowered = await admin(a, "PUT", `/campaigns/${CAMPAIGN}/budget`, { total_micros: cap });
    assert.equal(lowered.status, 200, lowered.text);
    assert.equal(lowered.json().budget.total_micros, cap);

    const c = await pod("ov-cap-c", prefix);
    await syncs();
    let bidsC = 0;
    for (let i = 0; i < 150; i++) if ((await bid(c)) === 200) bidsC++;
    for (let i = 0; i < 20; i++) await Promise.all([bid(a), bid(b)]);
    await syncs();
    const fleet = spent(a) + spent(b) + spent(c);
    assert.ok(fleet <= BigInt(cap), `fleet spend ${fleet} ≤ the lowered total ${cap} (C bid ${bidsC} times)`);
    // C may have bid nothing: A's and B's leases share what is left under the cap first come, first served.
    const granted = Number(await redis.hget(`{nexus:${prefix}:${CAMPAIGN}}:campaign`, "granted"));
    assert.ok(granted <= cap, `Redis counts ${granted} granted ≤ ${cap}`);
    assert.equal(lowered.json().override.total_micros, cap);
    assert.equal(lowered.json().override.daily_micros, null, "the file's daily budget applies");
    assert.equal((await campaignState(c)).budget.total_micros, cap, "C's catalog shows the cap in force");
    assert.equal((await campaignState(c)).file.budget.total_micros, FILE_TOTAL, "and the file's");
    assert.equal((await campaignState(b)).budget.total_micros, cap, "and B's, learned from its lease");

    // Cleared on C: every pod leases by the file's total again, and shows it.
    const cleared = await admin(c, "DELETE", `/campaigns/${CAMPAIGN}/override`);
    assert.equal(cleared.status, 200, cleared.text);
    assert.equal(cleared.json().cleared.total_micros, cap);
    assert.equal(cleared.json().budget.total_micros, FILE_TOTAL);
    for (const p of [a, b, c]) await until(async () => (await campaignState(p)).budget.total_micros === FILE_TOTAL && (await campaignState(p)).override === null, 10_000, "the file's total in force");
    await until(async () => Number(await redis.hget(`{nexus:${prefix}:${CAMPAIGN}}:campaign`, "total")) === FILE_TOTAL, 10_000, "Redis leases by the file's total");
    await holdsBudget(c, "C after the clear");
    assert.equal(await bid(c), 200);
  });
});

describe("an admin change while Redis is down", () => {
  let server: RedisServer;
  let a: HardeningBidder;

  before(async () => {
    server = await RedisServer.start();
    a = await startPod("ov-down-a", server.url, uniquePrefix("ov-down"));
  });
  after(async () => {
    await a?.close();
    await server?.stop();
  });

  it("answers 503 with the reason, and changes nothing on this pod either", async () => {
    await server.kill();
    const before = await campaignState(a);
    for (const [method, action, body] of [["POST", "pause"], ["POST", "resume"], ["PUT", "budget", { total_micros: 1000 }], ["DELETE", "override"]] as const) {
      const r = await admin(a, method, `/campaigns/${CAMPAIGN}/${action}`, body);
      assert.equal(r.status, 503, `${action}: ${r.text}`);
      assert.equal(r.json().code, "OVERRIDE_STORE_UNAVAILABLE");
      assert.match(r.json().error, /nothing was changed/);
    }
    const state = await campaignState(a);
    assert.equal(state.active, true);
    assert.deepEqual(state.budget, before.budget);
    assert.equal(state.override, null);
  });
});

// A Redis that is connected but answers late: the write was sent and a timeout does not cancel
// it, so the host cannot say "nothing was changed" (it said so, and the pause then held for the
// whole fleet a moment later).
describe("an admin change Redis answers too late", () => {
  let server: RedisServer;
  let a: HardeningBidder;
  let control: Redis;

  before(async () => {
    server = await RedisServer.start();
    a = await startPod("ov-slow-a", server.url, uniquePrefix("ov-slow"));
    control = new Redis(server.url);
  });
  after(async () => {
    control?.disconnect();
    await a?.close();
    await server?.stop();
  });

  it("answers 503 OVERRIDE_OUTCOME_UNKNOWN, and the state then shows the change Redis made after all", async () => {
    // Writes wait 1.5 s (this test's own Redis server): longer than the host's command timeout.
    await control.call("CLIENT", "PAUSE", "1500", "WRITE");
    const r = await admin(a, "POST", `/campaigns/${CAMPAIGN}/pause`);
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json().code, "OVERRIDE_OUTCOME_UNKNOWN");
    assert.match(r.json().error, /may still take effect/);
    await until(async () => (await campaignState(a)).active === false, 10_000, "the pause Redis ran late is learned");
    assert.equal((await campaignState(a)).override?.paused, true);
  });
});

// Redis restarts empty (no persistence, a flush): the override key is gone with everything else.
// The hosts' leases then read "no override", which looked like an operator's clear: a fleet-wide
// pause was lifted without anyone asking (the only trace an info line). A pod the store forgot
// now keeps the override it knew and writes it back for the fleet.
describe("a Redis that loses its data while a campaign is paused", () => {
  let server: RedisServer;
  let a: HardeningBidder;
  let control: Redis;
  const prefix = uniquePrefix("ov-lost");

  before(async () => {
    server = await RedisServer.start();
    a = await startPod("ov-lost-a", server.url, prefix);
    control = new Redis(server.url);
  });
  after(async () => {
    control?.disconnect();
    await a?.close();
    await server?.stop();
  });

  it("keeps the pause on the pod and writes it back to Redis", async () => {
    const paused = await admin(a, "POST", `/campaigns/${CAMPAIGN}/pause`);
    assert.equal(paused.status, 200, paused.text);
    await until(async () => (await bid(a)) === 204, 10_000, "the pause holds");
    await control.flushall(); // this test's own Redis server
    // Leases go on against the empty store (the pod registers again): the pause must survive them.
    await until(async () => (await control.exists(`{nexus:${prefix}:${CAMPAIGN}}:override`)) === 1, 10_000, "the override written back");
    assert.equal(await control.hget(`{nexus:${prefix}:${CAMPAIGN}}:override`, "paused"), "1");
    await new Promise((r) => setTimeout(r, 1500)); // more leases
    const state = await campaignState(a);
    assert.equal(state.active, false);
    assert.equal(state.override?.paused, true);
    assert.equal(await bid(a), 204);
    // An operator's clear still clears it (the pod is known to the store again).
    const cleared = await admin(a, "DELETE", `/campaigns/${CAMPAIGN}/override`);
    assert.equal(cleared.status, 200, cleared.text);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await campaignState(a)).override, null);
    assert.equal(await control.exists(`{nexus:${prefix}:${CAMPAIGN}}:override`), 0);
  });
});
