// Helpers of the cross-pod replay tests: bidder "pods" (standalone bidders,
// each with its own VMs and shared data) sharing one Redis under a test key
// prefix, unique bid requests, and cleanup of every key the prefix made.
import { readFileSync } from "node:fs";
import { after, before } from "node:test";
import { Redis } from "ioredis";
import { CAMPAIGN, startHardeningBidder, type HardeningBidder } from "./helpers.ts";
import { readLedger } from "../helpers/ledger.ts";
import { README_REQUEST, TEST_TICK_MS, testBidderConfig, type TestBidderOptions } from "../helpers/bidder.ts";
import { startControlPlane, HOST_CLUSTER, hostUpstreams, vmStatuses, type ControlPlane } from "../../host/src/standalone.ts";
import { VmPool } from "../../host/src/proxy-wasm/pool.ts";
import { silentLogger } from "../../host/src/log.ts";
import { deleteKeysStartingWith, deletePrefix, uniquePrefix } from "../helpers/redis-server.ts";

/** The Redis every test file may use (tests use their own key prefix and clean up). */
export const SHARED_REDIS_URL = process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export interface PodOptions {
  redisUrl: string;
  keyPrefix: string;
  plugin?: Record<string, unknown>;
  vms?: number;
  vmMode?: "inline" | "workers";
  /** The host's Redis timeout for replay claims (default: the host's, 20 ms). */
  replayRedisTimeoutMs?: number;
  /** The bid listener's port (default: any free one). */
  bidPort?: number;
  /** budget.noticeForwardUrl: where the other pods send notices of this pod's bids. */
  noticeForwardUrl?: string;
  /** The campaign set (default: tests/fixtures/campaigns/test-campaigns.json). */
  campaigns?: unknown;
}

/** The pods' plugin settings: guard and claims on, a decision budget this shared machine meets. */
export const POD_PLUGIN = { replay_ttl_ms: 60_000, decision_budget_ms: 1000, replay_claim_timeout_ms: 1000 };

export function podOptions(name: string, o: PodOptions): TestBidderOptions {
  return {
    ...(o.bidPort !== undefined ? { bidPort: o.bidPort } : {}),
    vms: o.vms ?? 2,
    vmMode: o.vmMode ?? "inline",
    plugin: { ...POD_PLUGIN, ...(o.plugin ?? {}) },
    ...(o.campaigns !== undefined ? { campaigns: o.campaigns } : {}),
    // Budgets leased from the same Redis (distinct pod ids), paced fast (the daily budget over a
    // minute, 10 s slices) so that every pod holds money from its first syncs.
    budget: { source: "redis", redisUrl: o.redisUrl, keyPrefix: o.keyPrefix, podId: name, pacingSeconds: 60, leaseSeconds: 10, minSliceMicros: 1_000_000, redisTimeoutMs: 200, ...(o.replayRedisTimeoutMs !== undefined ? { replayRedisTimeoutMs: o.replayRedisTimeoutMs } : {}), ...(o.noticeForwardUrl ? { noticeForwardUrl: o.noticeForwardUrl } : {}) },
  };
}

/**
 * A standalone bidder (bid server, control plane, VMs with their own shared data) on a shared Redis,
 * returned once it holds money. Pods started together race for one token bucket: the loser's first
 * grants are what the bucket refilled meanwhile (possibly nothing yet), and a VM that found the
 * ledger empty keeps its campaign "exhausted" until its next tick. So readiness (which does not
 * wait for money, on purpose) is not enough for a test that expects a bid.
 */
export async function startPod(name: string, o: PodOptions): Promise<HardeningBidder> {
  const pod = await startHardeningBidder(podOptions(name, o));
  await holdsBudget(pod, name);
  return pod;
}

/** Waits until the pod's ledger has at least `micros` unreserved, then for every VM to tick. */
export async function holdsBudget(pod: { pool: VmPool }, name: string, micros = 1_000_000n): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const l = readLedger(pod.pool.shared, CAMPAIGN);
    if (l && l.granted - l.charged - l.reserved >= micros) break;
    if (Date.now() > deadline) throw new Error(`${name}: no budget granted after 20 s`);
    await new Promise((r) => setTimeout(r, 25));
  }
  await new Promise((r) => setTimeout(r, 3 * TEST_TICK_MS));
}

export interface BarePod {
  cp: ControlPlane;
  pool: VmPool;
  close(): Promise<void>;
}

/**
 * A pod without the bid server, for options startStandalone does not expose (the host's own
 * request timeout, which resets a stream as Envoy's request_timeout does). The claim still goes
 * over real HTTP to the real control plane and Redis.
 */
export interface BarePodOptions extends PodOptions {
  requestTimeoutMs: number;
  firstCalloutToken?: number;
  /** The plugin's host_cluster (default nexus_host). */
  hostCluster?: string;
  /** The Envoy clusters the VMs know, given the pod's control URL (default: the standalone host's). */
  upstreams?: (controlUrl: string) => Record<string, string>;
}

export async function startBarePod(name: string, o: BarePodOptions): Promise<BarePod> {
  const { cfg, dir } = testBidderConfig(podOptions(name, o));
  const cp = await startControlPlane(cfg, silentLogger());
  const pool = await VmPool.start({
    wasm: readFileSync(cfg.wasmPath),
    vms: o.vms ?? 1,
    mode: "inline",
    rootId: "nexus",
    vmId: "nexus",
    pluginConfig: JSON.stringify({ replay_claim: true, ...cfg.plugin, host_cluster: o.hostCluster ?? HOST_CLUSTER, sync_token: cp.syncToken }),
    upstreams: o.upstreams ? o.upstreams(cp.controlUrl) : hostUpstreams(cp.controlUrl),
    sharedData: { bytes: 128 << 20, maxKeys: 200_000 },
    autoTick: true,
    requestTimeoutMs: o.requestTimeoutMs,
    ...(o.firstCalloutToken !== undefined ? { firstCalloutToken: o.firstCalloutToken } : {}),
    log: () => {},
  });
  const deadline = Date.now() + 20_000;
  while (vmStatuses(pool).filter((s) => s.modelLoaded && s.configVersion >= 0).length < pool.size || !pool.shared.get("nexus/v1/ledger/test-cpa")) {
    if (Date.now() > deadline) throw new Error(`${name}: VMs not ready`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    cp,
    pool,
    async close() {
      await pool.close();
      await cp.modelWatcher.stop();
      await cp.control.close();
      await cp.budget.close();
      const { rmSync } = await import("node:fs");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let seq = 0;
/** README_REQUEST with a fresh id (and optional extra top-level fields). */
export function uniqueRequest(tag: string, extra: Record<string, unknown> = {}): { id: string; body: string } {
  const id = `${tag}-${process.pid}-${++seq}`;
  return { id, body: JSON.stringify({ ...JSON.parse(README_REQUEST), id, ...extra }) };
}

/** Deletes every key a test prefix made: replay claims (nexus:P:replay:{h}), the notice peers (nexus:P:notice-peers) and budget keys ({nexus:P:C}:…). */
export async function deleteTestKeys(redis: Redis, keyPrefix: string): Promise<number> {
  return (await deleteKeysStartingWith(redis, `nexus:${keyPrefix}:`)) + (await deletePrefix(redis, keyPrefix));
}

/**
 * Two pods on the shared Redis under a fresh key prefix, for the calling describe block: started
 * in its before(), closed and their keys deleted in its after(). Read `a` and `b` from the
 * returned object once the block's tests run.
 */
export function twoPodsOnSharedRedis(tag: string, o: Omit<PodOptions, "redisUrl" | "keyPrefix"> = {}): { a: HardeningBidder; b: HardeningBidder; keyPrefix: string } {
  const keyPrefix = uniquePrefix(tag);
  const pods = { keyPrefix } as { a: HardeningBidder; b: HardeningBidder; keyPrefix: string };
  let redis: Redis | undefined;
  before(async () => {
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
    // The host's Redis timeout for claims is 20 ms in production; on this shared machine a Redis
    // answer now and then takes longer under load, and the claim then fails open (the second pod
    // bids: a flake in the worker-thread test). These pods test the claim path, not that timeout.
    const po = { replayRedisTimeoutMs: 1000, ...o, redisUrl: SHARED_REDIS_URL, keyPrefix };
    [pods.a, pods.b] = await Promise.all([startPod(`${tag}-a`, po), startPod(`${tag}-b`, po)]);
  });
  after(async () => {
    await pods.a?.close();
    await pods.b?.close();
    if (redis) {
      await deleteTestKeys(redis, keyPrefix);
      redis.disconnect();
    }
  });
  return pods;
}

/** A filter metric summed over the metric registry (0 when not defined yet). */
export function metric(pool: VmPool, name: string): number {
  return Number(pool.metrics.find(name)?.value ?? 0n);
}
