// The replay guard allocates nothing per request: the allocation-tracing build
// (build/nexus_filter.rtrace.wasm) with the guard on, after warm-up, answers
// fresh ids (bids), replayed ids (no-bids), ids that evict (full buckets),
// escaped ids and malformed requests without a single allocation or free.
// With cross-pod claims on (a real Redis behind the real host), the claim
// path too: claimed ids (bids), ids another pod claimed (no-bid replay) and
// failed claims (Redis down, fail open: bids) allocate nothing once warm.
// (tests/filter/allocations.test.ts proves the same for the rest of the bid
// path, with the guard off.)
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { AllocationCounter } from "../helpers/rtrace.ts";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { README_REQUEST } from "../helpers/bidder.ts";
import { PACKAGE_ROOT } from "../../host/src/paths.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";
import { Redis } from "ioredis";
import { RedisServer, uniquePrefix } from "../helpers/redis-server.ts";
import { replayKey } from "../../host/src/control/replay-claims.ts";
import { until } from "./helpers.ts";

let sim: SimBidder;
const rt = new AllocationCounter();
const dec = new TextDecoder();

before(async () => {
  sim = await startSimBidder({
    vms: 1,
    wasmPath: join(PACKAGE_ROOT, "build/nexus_filter.rtrace.wasm"),
    // 16 buckets: 256 ids fill them, so the warm window also runs the eviction path.
    plugin: { decision_budget_ms: 1000, replay_ttl_ms: 60_000, replay_buckets: 16 },
    budget: { minSliceMicros: 900_000_000 },
    instrumentation: rt.imports(),
  });
  await sim.untilReady();
});
after(async () => {
  await sim?.close();
});

const status = (o: HttpOutcome) => (o.kind === "local" ? o.status : -1);
const reason = (o: HttpOutcome) => (o.kind === "local" ? o.headers.find(([k]) => k === "x-nexus-nobid-reason")?.[1] : undefined);
const base = JSON.parse(README_REQUEST) as Record<string, unknown>;
let n = 0;

describe("replay guard allocations", () => {
  it("fresh, replayed, evicting, escaped and malformed requests allocate nothing once warm", async () => {
    const round = async () => {
      const id = `alloc-${n++}`;
      const fresh = JSON.stringify({ ...base, id });
      const b = await sim.bid(fresh);
      assert.equal(status(b), 200, String(reason(b)));
      const r = await sim.bid(fresh);
      assert.equal(status(r), 204);
      assert.equal(reason(r), "replay");
      const escaped = JSON.stringify({ ...base, id: `esc-${n}` }).replace(`"esc-`, `"\\u0065sc-`);
      assert.equal(status(await sim.bid(escaped)), 200);
      assert.equal(reason(await sim.bid(escaped)), "replay");
      assert.equal(status(await sim.bid(`{"id":"${id}","imp":[}`)), 400);
      // Settle the bid (loss) so that budget never runs out.
      if (b.kind === "local") {
        const lurl = JSON.parse(dec.decode(b.body)).seatbid[0].bid[0].lurl as string;
        const u = new URL(lurl.replace("${AUCTION_LOSS}", "102"));
        assert.equal(status(await sim.get(u.pathname + u.search)), 200);
      }
    };
    for (let i = 0; i < 300; i++) await round(); // warm-up; 600 ids > 256 entries: buckets are full
    rt.counting = true;
    for (let i = 0; i < 300; i++) await round();
    rt.counting = false;
    assert.equal(rt.allocations, 0, `${rt.allocations} allocations in 1800 warm requests`);
    assert.equal(rt.frees, 0, `${rt.frees} frees in 1800 warm requests`);
    const evictions = sim.pool.metrics.find("nexus_replay_evictions_total")?.value ?? 0n;
    assert.ok(evictions > 300n, `the eviction path ran (${evictions})`);
  });

  it("the tracing is live: a tick (cold path) does allocate", async () => {
    rt.counting = true;
    sim.clock.now += 5000;
    await sim.tick();
    sim.clock.now += 5000;
    await sim.tick();
    rt.counting = false;
    assert.ok(rt.allocations > 0);
  });
});

describe("replay claim allocations (real Redis behind the real host)", () => {
  const rtc = new AllocationCounter();
  const prefix = uniquePrefix("claim-alloc");
  let server: RedisServer;
  let redis: Redis;
  let claimSim: SimBidder;
  let k = 0;

  before(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 200 });
    redis.on("error", () => {});
    claimSim = await startSimBidder({
      vms: 1,
      wasmPath: join(PACKAGE_ROOT, "build/nexus_filter.rtrace.wasm"),
      plugin: { decision_budget_ms: 1000, replay_ttl_ms: 60_000, replay_claim: true, replay_claim_timeout_ms: 1000, replay_claim_failure: "open" },
      budget: { source: "redis", redisUrl: server.url, keyPrefix: prefix, pacingSeconds: 10, minSliceMicros: 900_000_000 },
      instrumentation: rtc.imports(),
    });
    await claimSim.untilReady();
    // The host's claim client connects on its own and never queues while offline: until it is up,
    // claims fail open (a bid). Wait until an id claimed in Redis is answered as a replay (this
    // test's own client does not queue either: a set before it is connected is tried again).
    await until(async () => {
      const id = `probe-${k++}`;
      if ((await redis.set(replayKey(prefix, Buffer.from(id)), "1", "PX", 60_000, "NX").catch(() => null)) !== "OK") return false;
      const o = await claimSim.bid(JSON.stringify({ ...base, id }));
      await loss(o);
      return reason(o) === "replay";
    }, 10_000, "the host's replay claims reaching Redis");
  });
  after(async () => {
    await claimSim?.close();
    await claimSim?.cp.budget.close(); // its Redis client would otherwise keep reconnecting
    redis?.disconnect();
    await server?.stop();
  });

  const loss = async (b: HttpOutcome) => {
    if (b.kind !== "local" || b.status !== 200) return;
    const lurl = JSON.parse(dec.decode(b.body)).seatbid[0].bid[0].lurl as string;
    const u = new URL(lurl.replace("${AUCTION_LOSS}", "102"));
    assert.equal(status(await claimSim.get(u.pathname + u.search)), 200);
  };
  const metric = (name: string) => claimSim.pool.metrics.find(name)?.value ?? 0n;

  it("claimed, claimed elsewhere (409) and locally replayed ids allocate nothing once warm", async () => {
    const round = async () => {
      const fresh = JSON.stringify({ ...base, id: `claim-${k++}` });
      const b = await claimSim.bid(fresh);
      assert.equal(status(b), 200, String(reason(b)));
      assert.equal(reason(await claimSim.bid(fresh)), "replay"); // this pod's guard
      const elsewhere = `other-pod-${k++}`;
      assert.equal(await redis.set(replayKey(prefix, Buffer.from(elsewhere)), "1", "PX", 60_000, "NX"), "OK");
      const o = await claimSim.bid(JSON.stringify({ ...base, id: elsewhere }));
      assert.equal(status(o), 204);
      assert.equal(reason(o), "replay"); // the other pod's claim
      assert.equal(status(await claimSim.bid(`{"id":"${k}","imp":[}`)), 400);
      await loss(b);
    };
    for (let i = 0; i < 150; i++) await round();
    const claimsBefore = metric("nexus_replay_claims_total");
    rtc.counting = true;
    for (let i = 0; i < 150; i++) await round();
    rtc.counting = false;
    assert.equal(rtc.allocations, 0, `${rtc.allocations} allocations in 600 warm requests with claims`);
    assert.equal(rtc.frees, 0, `${rtc.frees} frees`);
    assert.equal(metric("nexus_replay_claims_total") - claimsBefore, 300n, "two claims per round went to the host");
    assert.ok(metric("nexus_replay_claims_seen_total") >= 150n);
  });

  it("failed claims (Redis down, fail open) allocate nothing once warm", async () => {
    await server.kill();
    const failuresBefore = metric("nexus_replay_claim_failures_total");
    const round = async () => {
      const b = await claimSim.bid(JSON.stringify({ ...base, id: `down-${k++}` }));
      assert.equal(status(b), 200, String(reason(b)));
      await loss(b);
    };
    for (let i = 0; i < 100; i++) await round();
    rtc.counting = true;
    for (let i = 0; i < 100; i++) await round();
    rtc.counting = false;
    assert.equal(rtc.allocations, 0, `${rtc.allocations} allocations in 100 warm failed claims`);
    assert.equal(metric("nexus_replay_claim_failures_total") - failuresBefore, 200n);
  });
});
