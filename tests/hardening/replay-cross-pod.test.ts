// Replay protection across pods: two standalone bidders ("pods": separate VMs and
// shared data) claim request ids in one real Redis through their hosts (the
// compiled filter; the standalone pods' claims are answered in-process,
// host/src/standalone-callouts.ts, the bare pods' over real HTTP). The same id to pod A then pod B: B answers no-bid
// "replay" and counts it; different ids bid on both; a race on one id has one
// winner; Redis down or hanging gives the configured fail mode, counted, within
// the request's time budget; a stream reset while its claim is pending leaks
// nothing. Keys live under a unique prefix and are deleted afterwards.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { post, type HttpReply } from "../helpers/bidder.ts";
import { RedisServer, uniquePrefix } from "../helpers/redis-server.ts";
import { answerOf, lossAll, poolBid, reserved, type HardeningBidder } from "./helpers.ts";
import { SHARED_REDIS_URL, deleteTestKeys, holdsBudget, metric, startBarePod, startPod, twoPodsOnSharedRedis, uniqueRequest, type BarePod } from "./replay-pods.ts";
import { replayKey } from "../../host/src/control/replay-claims.ts";
import { metricValue } from "../host/budget/bidders.ts";
import { readLedger } from "../helpers/ledger.ts";
import { testBidderConfig } from "../helpers/bidder.ts";
import { startControlPlane, type ControlPlane } from "../../host/src/standalone.ts";
import { silentLogger } from "../../host/src/log.ts";

const reasonOf = (r: HttpReply) => r.headers["x-nexus-nobid-reason"];
const bid = (pod: HardeningBidder, body: string) => post(`${pod.bidUrl}/openrtb2/bid`, body);
const hostMetric = async (pod: HardeningBidder, name: string, labels: Record<string, string>) => {
  const v = metricValue(await (await fetch(`${pod.controlUrl}/metrics`)).text(), name, labels);
  return Number.isNaN(v) ? 0 : v;
};

describe("replay claims across two pods on one Redis", () => {
  const prefix = uniquePrefix("xpod");
  let redis: Redis;
  let a: HardeningBidder;
  let b: HardeningBidder;

  before(async () => {
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
    // Redis gets 2 s per claim here (default 20 ms): these tests are about exactly-once claims, and
    // on a busy machine 50 claims at once can take longer than 20 ms, which fails them open (both
    // pods bid, as documented). The timeout paths have their own tests below.
    const o = { redisUrl: SHARED_REDIS_URL, keyPrefix: prefix, replayRedisTimeoutMs: 2000 };
    [a, b] = await Promise.all([startPod("pod-a", o), startPod("pod-b", o)]);
  });

  after(async () => {
    await a?.close();
    await b?.close();
    if (redis) {
      await deleteTestKeys(redis, prefix);
      const left = await redis.scan("0", "MATCH", `*${prefix}*`, "COUNT", 10_000);
      redis.disconnect();
      assert.deepEqual(left[1], [], "the test's keys are gone");
    }
  });

  it("the same id to pod A then pod B: A bids, B answers no-bid replay and counts it", async () => {
    const { id, body } = uniqueRequest("xpod-same");
    const startA = reserved(a);
    const ra = await bid(a, body);
    assert.equal(ra.status, 200, ra.text);
    assert.equal(ra.json().id, id);
    const rb = await bid(b, body);
    assert.equal(rb.status, 204, rb.text);
    assert.equal(reasonOf(rb), "replay");
    assert.equal(metric(b.pool, "nexus_replay_claims_seen_total"), 1);
    assert.equal(metric(b.pool, "nexus_nobids_replay_total"), 1);
    assert.equal(metric(b.pool, "nexus_reservations_total"), 0, "B reserved nothing for it");
    assert.equal(metric(b.pool, "nexus_replay_claims_claimed_total"), 0);
    assert.equal(metric(a.pool, "nexus_replay_claims_claimed_total"), 1);
    assert.equal(metric(a.pool, "nexus_replay_claims_seen_total"), 0);
    // The claim in Redis: a key per id hash, expiring with the filter's replay_ttl_ms.
    const ttl = await redis.pttl(replayKey(prefix, Buffer.from(id)));
    assert.ok(ttl > 0 && ttl <= 60_000, `claim TTL ${ttl} ms`);
    assert.equal(await hostMetric(b, "nexus_host_replay_claims_total", { outcome: "seen" }), 1);
    assert.equal(await hostMetric(a, "nexus_host_replay_claims_total", { outcome: "claimed" }), 1);
    // B's own guard has seen the id now: a third copy is refused locally, without a claim.
    const claims = metric(b.pool, "nexus_replay_claims_total");
    const again = await bid(b, body);
    assert.equal(reasonOf(again), "replay");
    assert.equal(metric(b.pool, "nexus_replay_claims_total"), claims);
    // B reserved nothing for the replay; A's bid settles and its ledger returns to its start.
    assert.equal(await lossAll(a, ra.text), 1);
    assert.equal(reserved(a), startA);
  });

  it("a request that would not bid is not claimed: no round trip, no Redis key, its own no-bid reason", async () => {
    const { id, body } = uniqueRequest("xpod-nobid", { imp: [{ id: "1", banner: { w: 1, h: 1 } }] });
    const claims = metric(a.pool, "nexus_replay_claims_total");
    for (let i = 0; i < 3; i++) {
      const r = await bid(a, body);
      assert.equal(r.status, 204, r.text);
      assert.equal(reasonOf(r), "no_match", "decided without a claim, and resent: still its own reason");
    }
    assert.equal(metric(a.pool, "nexus_replay_claims_total"), claims, "no claim for a request that would not bid");
    assert.equal(await redis.exists(replayKey(prefix, Buffer.from(id))), 0, "nothing in Redis for it");
    // The same id once it would bid: claimed once, bid once; the copy to the other pod is a replay.
    const bidding = JSON.stringify({ ...JSON.parse(body), imp: JSON.parse(uniqueRequest("x").body).imp });
    const ra = await bid(a, bidding);
    assert.equal(ra.status, 200, ra.text);
    assert.equal(metric(a.pool, "nexus_replay_claims_total"), claims + 1);
    assert.equal(reasonOf(await bid(b, bidding)), "replay");
    await lossAll(a, ra.text);
  });

  it("a body in chunks or ended by trailers is read again after the claim: same answers as in one piece", async () => {
    for (const opts of [{ cuts: [1, 17, 40, 90] }, { trailers: [["x-checksum", "1"]] as Array<[string, string]> }, { cuts: [5, 60], trailers: [["x-t", "2"]] as Array<[string, string]> }]) {
      const { id, body } = uniqueRequest("xpod-chunks");
      const ra = await poolBid(a, body, opts);
      assert.equal(ra.status, 200, `${JSON.stringify(opts)}: ${ra.status} ${ra.text}`);
      assert.equal(JSON.parse(ra.text).id, id);
      const rb = await poolBid(b, body, opts);
      assert.equal(rb.status, 204);
      assert.equal(rb.headers["x-nexus-nobid-reason"], "replay");
      await lossAll(a, ra.text);
    }
  });

  it("different ids bid on both pods", async () => {
    for (let i = 0; i < 5; i++) {
      for (const pod of [a, b]) {
        const { body } = uniqueRequest("xpod-distinct");
        const r = await bid(pod, body);
        assert.equal(r.status, 200, `${r.status} ${String(reasonOf(r))}`);
        await lossAll(pod, r.text);
      }
    }
  });

  it("one id sent to both pods at the same moment: exactly one bids", async () => {
    const seenBefore = metric(a.pool, "nexus_replay_claims_seen_total") + metric(b.pool, "nexus_replay_claims_seen_total");
    const ids = Array.from({ length: 25 }, () => uniqueRequest("xpod-race"));
    const results = await Promise.all(ids.map(async ({ body }) => Promise.all([bid(a, body), bid(b, body)])));
    for (const [ra, rb] of results) {
      const statuses = [ra.status, rb.status].sort();
      assert.deepEqual(statuses, [200, 204], `one 200 and one 204, got ${statuses}`);
      const loser = ra.status === 204 ? ra : rb;
      assert.equal(reasonOf(loser), "replay");
      const winner = ra.status === 200 ? a : b;
      await lossAll(winner, (ra.status === 200 ? ra : rb).text);
    }
    const seenAfter = metric(a.pool, "nexus_replay_claims_seen_total") + metric(b.pool, "nexus_replay_claims_seen_total");
    assert.equal(seenAfter - seenBefore, ids.length);
  });

  it("every claim is accounted for: started = claimed + seen + failed + abandoned", () => {
    for (const pod of [a, b]) {
      const started = metric(pod.pool, "nexus_replay_claims_total");
      const settled = ["claimed", "seen"].map((k) => metric(pod.pool, `nexus_replay_claims_${k}_total`)).reduce((x, y) => x + y) +
        metric(pod.pool, "nexus_replay_claim_failures_total") + metric(pod.pool, "nexus_replay_claims_abandoned_total");
      assert.ok(started > 0);
      assert.equal(settled, started);
      assert.equal(metric(pod.pool, "nexus_replay_claim_failures_total"), 0);
      assert.equal(metric(pod.pool, "nexus_replay_claims_rejected_total"), 0);
    }
  });
});

describe("replay claims from worker-thread VMs (the token through the VM environment)", () => {
  const pods = twoPodsOnSharedRedis("xpod-workers", { vmMode: "workers", plugin: { sync_token_env: "NEXUS_SYNC_TOKEN" } });

  it("claims from worker VMs reach the host (through the main thread, in-process); the second pod answers replay", async () => {
    const { a, b } = pods;
    for (let i = 0; i < 4; i++) {
      const { body } = uniqueRequest("xpod-workers");
      const ra = await bid(a, body);
      assert.equal(ra.status, 200, `${ra.status} ${String(reasonOf(ra))}`);
      const rb = await bid(b, body);
      const failures = (pod: typeof a) => metric(pod.pool, "nexus_replay_claim_failures_total");
      assert.equal(reasonOf(rb), "replay", `${rb.status} ${String(reasonOf(rb))}, claim failures on a: ${failures(a)}, on b: ${failures(b)}`);
      await lossAll(a, ra.text);
    }
    assert.equal(metric(b.pool, "nexus_replay_claims_seen_total"), 4);
  });
});

describe("replay claims when Redis fails", () => {
  const prefix = uniquePrefix("xpod-fail");
  let server: RedisServer;
  let probe: Redis;
  let open: HardeningBidder;
  let closed: HardeningBidder;

  before(async () => {
    server = await RedisServer.start();
    probe = new Redis(server.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 100 });
    probe.on("error", () => {});
    // Durations far apart so a loaded machine cannot blur them: the tmax budget (10 ms) and
    // a dead Redis (immediate) against the claim timeout (400 ms) against Redis's pause (3 s).
    const timeout = { replay_claim_timeout_ms: 400 };
    [open, closed] = await Promise.all([
      // The host waits for Redis longer than the filter waits for the host: the filter's own
      // claim timeout is what ends a claim here.
      startPod("pod-open", { redisUrl: server.url, keyPrefix: prefix, replayRedisTimeoutMs: 5000, plugin: { ...timeout, replay_claim_failure: "open" } }),
      startPod("pod-closed", { redisUrl: server.url, keyPrefix: prefix, replayRedisTimeoutMs: 5000, plugin: { ...timeout, replay_claim_failure: "closed" } }),
    ]);
  });

  after(async () => {
    await open?.close();
    await closed?.close();
    probe?.disconnect();
    await server?.stop();
  });

  const failures = (p: HardeningBidder) => metric(p.pool, "nexus_replay_claim_failures_total");

  it("Redis hanging: fail open bids after the claim timeout, fail closed answers contention; both counted", async () => {
    await probe.call("CLIENT", "PAUSE", "3000", "ALL");
    const t0 = performance.now();
    const [ro, rc] = await Promise.all([bid(open, uniqueRequest("hang-open").body), bid(closed, uniqueRequest("hang-closed").body)]);
    const ms = performance.now() - t0;
    assert.equal(ro.status, 200, `${ro.status} ${String(reasonOf(ro))}`);
    assert.equal(rc.status, 204);
    assert.equal(reasonOf(rc), "contention");
    assert.ok(ms < 2500, `answered in ${ms.toFixed(0)} ms, not after Redis's 3000 ms pause`);
    assert.equal(failures(open), 1);
    assert.equal(failures(closed), 1);
    assert.equal(metric(closed.pool, "nexus_nobids_contention_total"), 1);
    await lossAll(open, ro.text);
  });

  it("the request's time budget (tmax) bounds the wait, not replay_claim_timeout_ms; a late claim reserves nothing", async () => {
    await new Promise((r) => setTimeout(r, 3100)); // the previous pause is over
    const start = reserved(open);
    await probe.call("CLIENT", "PAUSE", "3000", "ALL");
    // tmax 20 ms × tmax_share 0.5: a 10 ms budget, far below replay_claim_timeout_ms (400).
    const t0 = performance.now();
    const r = await bid(open, uniqueRequest("hang-tmax", { tmax: 20 }).body);
    const ms = performance.now() - t0;
    assert.ok(ms < 300, `answered in ${ms.toFixed(1)} ms: the claim waited for the 10 ms budget, not the 400 ms claim timeout`);
    // Fail open: the decision runs in what is left of the budget: a bid only if still in time.
    assert.ok(r.status === 200 || reasonOf(r) === "timeout", `${r.status} ${String(reasonOf(r))}`);
    assert.equal(failures(open), 2);
    if (r.status === 200) await lossAll(open, r.text);
    assert.equal(reserved(open), start, "no reservation survives");
    // A budget with less than 1 ms left is not even claimed: no-bid timeout in every fail mode.
    const claims = metric(open.pool, "nexus_replay_claims_total");
    const tiny = await bid(open, uniqueRequest("tmax-1", { tmax: 1 }).body);
    assert.equal(reasonOf(tiny), "timeout");
    assert.equal(metric(open.pool, "nexus_replay_claims_total"), claims);
  });

  it("Redis down: the host answers 503 at once; fail open bids, fail closed does not; the local guard still applies", async () => {
    await new Promise((r) => setTimeout(r, 3100));
    await server.kill();
    const before = [failures(open), failures(closed)];
    const o = uniqueRequest("down-open");
    const t0 = performance.now();
    const ro = await bid(open, o.body);
    const ms = performance.now() - t0;
    assert.equal(ro.status, 200, `${ro.status} ${String(reasonOf(ro))}`);
    assert.ok(ms < 300, `a dead Redis fails the claim at once (${ms.toFixed(1)} ms, not the 400 ms claim timeout)`);
    const rc = await bid(closed, uniqueRequest("down-closed").body);
    assert.equal(reasonOf(rc), "contention");
    assert.deepEqual([failures(open), failures(closed)], [before[0]! + 1, before[1]! + 1]);
    assert.ok((await hostMetric(open, "nexus_host_replay_claims_total", { outcome: "unavailable" })) >= 1);
    // A 503 (and the timeouts before it) is a failure, not a refusal: nothing counted as rejected.
    assert.deepEqual([metric(open.pool, "nexus_replay_claims_rejected_total"), metric(closed.pool, "nexus_replay_claims_rejected_total")], [0, 0]);
    // Fail open never skips the pod's own guard.
    const again = await bid(open, o.body);
    assert.equal(reasonOf(again), "replay");
    await lossAll(open, ro.text);
  });

  it("Redis back: claims succeed again without a restart", async () => {
    await server.restart();
    const deadline = Date.now() + 10_000;
    let r: HttpReply;
    do {
      r = await bid(closed, uniqueRequest("back").body);
      if (r.status === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    } while (Date.now() < deadline);
    assert.equal(r.status, 200, `${r.status} ${String(reasonOf(r))}`);
    await lossAll(closed, r.text);
  });
});

/** A bid request straight into a bare pod's VM pool (no bid server). */
function barePodBid(pod: BarePod, body: string) {
  return pod.pool.handleHttpRequest({
    headers: [[":method", "POST"], [":path", "/openrtb2/bid"], [":authority", "bidder.test"], [":scheme", "http"], ["content-type", "application/json"]],
    body: [new TextEncoder().encode(body)],
  });
}

describe("a stream reset while its claim is pending", () => {
  const prefix = uniquePrefix("xpod-reset");
  let server: RedisServer;
  let probe: Redis;
  let pod: BarePod;

  before(async () => {
    server = await RedisServer.start();
    probe = new Redis(server.url, { maxRetriesPerRequest: 0 });
    // The host's own request timeout (Envoy: request_timeout) resets the stream at 100 ms, the
    // claim waits up to 400 ms (and the host up to 1 s for Redis).
    pod = await startBarePod("pod-reset", { redisUrl: server.url, keyPrefix: prefix, requestTimeoutMs: 100, replayRedisTimeoutMs: 1000, plugin: { replay_claim_timeout_ms: 400 } });
  });

  after(async () => {
    await pod?.close();
    probe?.disconnect();
    await server?.stop();
  });

  const send = (body: string) => barePodBid(pod, body);
  const ledgerReserved = () => readLedger(pod.pool.shared, "test-cpa")?.reserved;

  it("ends without a reply, reserves nothing, and the late answer is counted as abandoned", async () => {
    const fresh = answerOf(await send(uniqueRequest("reset-warm").body));
    assert.equal(fresh.status, 200, fresh.text);
    const reservedBefore = ledgerReserved();
    await probe.call("CLIENT", "PAUSE", "1000", "ALL");
    const out = await send(uniqueRequest("reset").body);
    assert.equal(out.kind, "timeout", "the stream was reset by the host's request timeout");
    assert.equal(metric(pod.pool, "nexus_replay_claims_abandoned_total"), 0, "the claim is still pending");
    await new Promise((r) => setTimeout(r, 500)); // the claim's own timeout (400 ms) passes
    assert.equal(metric(pod.pool, "nexus_replay_claims_abandoned_total"), 1);
    assert.equal(ledgerReserved(), reservedBefore, "nothing reserved for the reset stream");
    // The VM carries on: its recycled stream objects bid again once Redis answers.
    await new Promise((r) => setTimeout(r, 600));
    const next = answerOf(await send(uniqueRequest("reset-after").body));
    assert.equal(next.status, 200, next.text);
    const started = metric(pod.pool, "nexus_replay_claims_total");
    const settled = metric(pod.pool, "nexus_replay_claims_claimed_total") + metric(pod.pool, "nexus_replay_claims_seen_total") +
      metric(pod.pool, "nexus_replay_claim_failures_total") + metric(pod.pool, "nexus_replay_claims_abandoned_total");
    assert.equal(settled, started);
  });
});

describe("callout tokens through the host counter's wrap", () => {
  // Each VM counts its callout tokens in a u32 (Envoy: += 4); past 0xFFFFFFFC the next is 0, a
  // token like any other. The filter once used 0 for "no call" in its claim table, so a claim
  // given token 0 was never found again and its request stalled until the request timeout.
  // Two VMs start their counters just below the wrap: the one that does not lead makes only
  // claims, so its second claim gets token 0; the leader's syncs go through the wrap as well.
  const prefix = uniquePrefix("xpod-wrap");
  let redis: Redis;
  let pod: BarePod;

  before(async () => {
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
    pod = await startBarePod("pod-wrap", { redisUrl: SHARED_REDIS_URL, keyPrefix: prefix, vms: 2, requestTimeoutMs: 3000, firstCalloutToken: 0xfffffff8 });
  });

  after(async () => {
    await pod?.close();
    if (redis) {
      await deleteTestKeys(redis, prefix);
      redis.disconnect();
    }
  });

  it("every claim is answered, token 0 included", async () => {
    for (let i = 0; i < 6; i++) {
      const out = answerOf(await barePodBid(pod, uniqueRequest("wrap").body));
      assert.equal(out.status, 200, `request ${i}: ${out.kind} ${out.status} ${out.text}`);
    }
    assert.equal(metric(pod.pool, "nexus_replay_claims_claimed_total"), 6);
    assert.equal(metric(pod.pool, "nexus_replay_claims_abandoned_total"), 0);
    assert.equal(metric(pod.pool, "nexus_replay_claim_failures_total"), 0);
  });
});

describe("replay_cluster: the Envoy cluster of the claims", () => {
  const prefix = uniquePrefix("xpod-cluster");
  let redis: Redis;
  let named: HardeningBidder;
  let unknownOpen: HardeningBidder;
  let unknownClosed: HardeningBidder;
  let renamed: BarePod;

  before(async () => {
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
    const o = (plugin: Record<string, unknown>) => ({ redisUrl: SHARED_REDIS_URL, keyPrefix: prefix, vms: 1, plugin });
    [named, unknownOpen, unknownClosed, renamed] = await Promise.all([
      // envoy.yaml's setting: the standalone host knows nexus_replay as it knows nexus_host.
      startPod("pod-named", o({ replay_cluster: "nexus_replay" })),
      startPod("pod-unknown-open", o({ replay_cluster: "no_such_cluster", replay_claim_failure: "open" })),
      startPod("pod-unknown-closed", o({ replay_cluster: "no_such_cluster", replay_claim_failure: "closed" })),
      // Unset, replay_cluster follows host_cluster: here a name other than nexus_host, and the
      // VMs know no other cluster (a default of the literal "nexus_host" would fail every claim).
      startBarePod("pod-renamed", { ...o({}), requestTimeoutMs: 3000, hostCluster: "control", upstreams: (url) => ({ control: url }) }),
    ]);
    await holdsBudget(renamed, "pod-renamed"); // a bare pod is ready before it holds money
  });

  after(async () => {
    await named?.close();
    await unknownOpen?.close();
    await unknownClosed?.close();
    await renamed?.close();
    if (redis) {
      await deleteTestKeys(redis, prefix);
      redis.disconnect();
    }
  });

  const claims = (pool: HardeningBidder["pool"]) =>
    ["nexus_replay_claims_total", "nexus_replay_claims_claimed_total", "nexus_replay_claim_failures_total"].map((n) => metric(pool, n));

  it("replay_cluster nexus_replay (envoy.yaml's) reaches the host: the claim is made", async () => {
    const r = await bid(named, uniqueRequest("cluster-named").body);
    assert.equal(r.status, 200, `${r.status} ${String(reasonOf(r))}`);
    assert.deepEqual(claims(named.pool), [1, 1, 0]);
    assert.equal(await hostMetric(named, "nexus_host_replay_claims_total", { outcome: "claimed" }), 1);
    await lossAll(named, r.text);
  });

  it("an unknown replay_cluster fails every claim before it starts: counted, fail open bids, fail closed answers contention", async () => {
    const ro = await bid(unknownOpen, uniqueRequest("cluster-unknown-open").body);
    assert.equal(ro.status, 200, `${ro.status} ${String(reasonOf(ro))}`);
    const rc = await bid(unknownClosed, uniqueRequest("cluster-unknown-closed").body);
    assert.equal(rc.status, 204);
    assert.equal(reasonOf(rc), "contention");
    for (const pod of [unknownOpen, unknownClosed]) {
      assert.deepEqual(claims(pod.pool), [1, 0, 1], "started 1, claimed 0, failed 1");
      // A configuration error (proxy_http_call: BAD_ARGUMENT), counted as such: no retry fixes it.
      assert.equal(metric(pod.pool, "nexus_replay_claims_rejected_total"), 1);
      // The syncs (host_cluster) are not affected; the host never saw a claim.
      assert.ok(pod.sync.syncs > 0);
      assert.equal(await hostMetric(pod, "nexus_host_replay_claims_total", { outcome: "claimed" }), 0);
    }
    assert.equal(metric(unknownClosed.pool, "nexus_nobids_contention_total"), 1);
    await lossAll(unknownOpen, ro.text);
  });

  it("unset, replay_cluster is host_cluster's value", async () => {
    const out = answerOf(await barePodBid(renamed, uniqueRequest("cluster-default").body));
    assert.equal(out.status, 200, `${out.kind} ${out.status} ${out.text}`);
    assert.deepEqual(claims(renamed.pool), [1, 1, 0]);
  });
});

describe("a claim answered by something that is not the host (no x-nexus-replay mark)", () => {
  // replay_cluster pointed at another service that answers 200 (or 409) to anything: without the
  // host's mark the answer is a failure and a configuration error, never a claim (before, every
  // claim "succeeded" there and the counters looked healthy while replays across pods were bid).
  const prefix = uniquePrefix("xpod-nomark");
  let impostor: import("node:http").Server;
  let open: BarePod;
  let closed: BarePod;
  let status = 200;

  before(async () => {
    const { createServer } = await import("node:http");
    impostor = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const body = status === 200 ? '{"claimed":true}' : '{"claimed":false}';
        res.writeHead(status, { "content-type": "application/json", "content-length": body.length });
        res.end(body);
      });
    });
    await new Promise<void>((r) => impostor.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(impostor.address() as { port: number }).port}`;
    const o = (failure: string) => ({ redisUrl: SHARED_REDIS_URL, keyPrefix: prefix, vms: 1, plugin: { replay_cluster: "elsewhere", replay_claim_failure: failure }, requestTimeoutMs: 3000, hostCluster: "control", upstreams: (cp: string) => ({ control: cp, elsewhere: url }) });
    [open, closed] = await Promise.all([startBarePod("pod-nomark-open", o("open")), startBarePod("pod-nomark-closed", o("closed"))]);
    await holdsBudget(open, "pod-nomark-open");
    await holdsBudget(closed, "pod-nomark-closed");
  });
  after(async () => {
    await open?.close();
    await closed?.close();
    impostor?.close();
    // The pods leased budget from the shared Redis under this prefix: their keys go with them.
    const redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      await deleteTestKeys(redis, prefix);
      assert.deepEqual((await redis.scan("0", "MATCH", `*${prefix}*`, "COUNT", 10_000))[1], [], "the test's keys are gone");
    } finally {
      redis.disconnect();
    }
  });

  for (const answer of [200, 409]) {
    it(`a ${answer} without the mark: a failure counted as rejected; fail open bids, fail closed answers contention`, async () => {
      status = answer;
      const before = (pool: BarePod["pool"]) => ["nexus_replay_claims_claimed_total", "nexus_replay_claim_failures_total", "nexus_replay_claims_rejected_total", "nexus_replay_claims_seen_total"].map((n) => metric(pool, n));
      const [o0, c0] = [before(open.pool), before(closed.pool)];
      const ro = answerOf(await barePodBid(open, uniqueRequest(`nomark-open-${answer}`).body));
      assert.equal(ro.status, 200, `${ro.kind} ${ro.status} ${ro.text}`);
      const rc = answerOf(await barePodBid(closed, uniqueRequest(`nomark-closed-${answer}`).body));
      assert.equal(rc.status, 204);
      for (const [pool, b] of [[open.pool, o0], [closed.pool, c0]] as const) {
        const d = before(pool).map((v, i) => v - b[i]!);
        assert.deepEqual(d, [0, 1, 1, 0], "claimed, failures, rejected, seen");
      }
    });
  }
});

describe("a claim the host refuses (401: the replay cluster's host has another sync token)", () => {
  // The pods sync with their own control plane (nexus_host); their replay_cluster reaches another
  // real control plane whose sync token differs, so every claim is answered 401: a configuration
  // error, counted apart from transient failures (timeouts, resets, 503) and failed all the same.
  const prefix = uniquePrefix("xpod-401");
  let redis: Redis;
  let other: ControlPlane;
  let otherDir: string;
  let open: BarePod;
  let closed: BarePod;

  before(async () => {
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
    const t = testBidderConfig({ vms: 1 });
    otherDir = t.dir;
    t.cfg.syncToken = "another-hosts-sync-token-0123456789";
    other = await startControlPlane(t.cfg, silentLogger());
    const o = (failure: string) => ({
      redisUrl: SHARED_REDIS_URL, keyPrefix: prefix, requestTimeoutMs: 3000,
      plugin: { replay_cluster: "nexus_replay", replay_claim_failure: failure },
      upstreams: (url: string) => ({ nexus_host: url, nexus_replay: other.controlUrl }),
    });
    [open, closed] = await Promise.all([startBarePod("pod-401-open", o("open")), startBarePod("pod-401-closed", o("closed"))]);
    // Bare pods are ready before they hold money (and these two race for one budget).
    await Promise.all([holdsBudget(open, "pod-401-open"), holdsBudget(closed, "pod-401-closed")]);
  });

  after(async () => {
    await open?.close();
    await closed?.close();
    if (other) {
      await other.modelWatcher.stop();
      await other.control.close();
      await other.budget.close();
    }
    if (otherDir) (await import("node:fs")).rmSync(otherDir, { recursive: true, force: true });
    if (redis) {
      await deleteTestKeys(redis, prefix);
      redis.disconnect();
    }
  });

  const counts = (pod: BarePod) =>
    Object.fromEntries(["claims_total", "claims_claimed_total", "claim_failures_total", "claims_rejected_total", "claims_abandoned_total"].map((k) => [k, metric(pod.pool, `nexus_replay_${k}`)]));

  it("counted as rejected and as failed, never as claimed; fail open bids, fail closed answers contention", async () => {
    const ro = answerOf(await barePodBid(open, uniqueRequest("refused-open").body));
    assert.equal(ro.status, 200, `${ro.kind} ${ro.status} ${ro.headers["x-nexus-nobid-reason"]}`);
    const rc = answerOf(await barePodBid(closed, uniqueRequest("refused-closed").body));
    assert.equal(rc.status, 204);
    assert.equal(rc.headers["x-nexus-nobid-reason"], "contention");
    const expected = { claims_total: 1, claims_claimed_total: 0, claim_failures_total: 1, claims_rejected_total: 1, claims_abandoned_total: 0 };
    assert.deepEqual(counts(open), expected);
    assert.deepEqual(counts(closed), expected);
    // The 401s came from the other host's sync token check, one per claim.
    const text = await (await fetch(`${other.controlUrl}/metrics`)).text();
    assert.equal(metricValue(text, "nexus_host_filter_unauthorized_total", { endpoint: "replay" }), 2);
    // The pods' own syncs are fine (a 401 there would be nexus_sync_failed_total).
    assert.ok(open.cp.sync.syncs > 0 && closed.cp.sync.syncs > 0);
  });
});
