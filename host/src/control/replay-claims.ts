// Cross-pod replay claims (docs/SYNC_PROTOCOL.md, "Replay claims"): the filter's local replay
// guard covers the VMs of one Envoy process (shared data); a bid request id replayed to another
// pod is caught here, in the Redis every pod already shares for budgets.
//
// One claim = one command: SET nexus:<prefix>:replay:{<h>} 1 NX PX <ttl>, where <h> is the first
// 128 bits of SHA-256 of the id's bytes (hex). The first pod to claim an id within the TTL gets
// "OK" (claimed: it may bid); every later claim gets nil (seen: a replay). NX makes the check and
// the write one atomic step, so two pods racing on one id cannot both win. The key is the hash,
// not the id: bounded key length whatever the exchange sends, and the hash is the Redis Cluster
// hash tag, so claims spread over every slot.
//
// Redis down or slow: claim() throws (ReplayStoreUnavailable) after commandTimeoutMs at most;
// commands are never queued while disconnected (enableOfflineQueue false), so a dead Redis
// fails fast. The filter decides what a failed claim means (replay_claim_failure).
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Redis } from "ioredis";
import { closeRedis, failFastRedis } from "./fail-fast-redis.ts";
import { Counter, Histogram, type Registry } from "prom-client";
import { NexusError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** Largest id the host accepts (the filter refuses ids above 256 bytes anyway). */
export const MAX_REPLAY_ID_BYTES = 1024;
/** TTL bounds (the filter's replay_ttl_ms is at most a day). */
export const MAX_REPLAY_TTL_MS = 86_400_000;

export class ReplayStoreUnavailable extends NexusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("REPLAY_STORE_UNAVAILABLE", message, options);
  }
}

export interface ReplayClaimStore {
  /** True: this call claimed the id (first within the TTL). False: already claimed (a replay). Throws ReplayStoreUnavailable. */
  claim(id: Uint8Array, ttlMs: number): Promise<boolean>;
  /** False until the store was first reachable (the host's readiness waits for it); afterwards true for good. */
  readonly reached?: boolean;
  close(): Promise<void>;
}

/** The Redis key of an id's claim. */
export function replayKey(keyPrefix: string, id: Uint8Array): string {
  const h = createHash("sha256").update(id).digest("hex").slice(0, 32);
  return `nexus:${keyPrefix}:replay:{${h}}`;
}

export interface RedisReplayClaimsOptions {
  url: string;
  keyPrefix: string;
  /** A slower Redis answer is a failed claim. */
  commandTimeoutMs: number;
  log?: Logger;
}

export class RedisReplayClaims implements ReplayClaimStore {
  private readonly redis: Redis;
  private closed = false;
  /**
   * The connection was ready at least once. The client connects on its own and never queues
   * while offline, so a claim sent before that fails (and, under replay_claim_failure "open", is
   * bid on unchecked): the host's readiness waits for it, so that no traffic comes first.
   */
  reached = false;

  constructor(private readonly o: RedisReplayClaimsOptions) {
    this.redis = failFastRedis(o.url, o.commandTimeoutMs, (err) => o.log?.debug({ event: "replay_redis_error", err: err.message }, "replay claim store error"));
    this.redis.on("ready", () => {
      this.reached = true;
    });
  }

  async claim(id: Uint8Array, ttlMs: number): Promise<boolean> {
    if (this.closed) throw new ReplayStoreUnavailable("replay claim store closed");
    try {
      const r = await this.redis.set(replayKey(this.o.keyPrefix, id), "1", "PX", ttlMs, "NX");
      return r === "OK";
    } catch (err) {
      throw new ReplayStoreUnavailable(`redis replay claim: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeRedis(this.redis);
  }
}

/** The host's metrics of replay claims (on the host's registry). */
export class ReplayClaimMetrics {
  /** outcome: claimed | seen | unavailable (store down, slow or not configured) | bad_request (a wrong token is counted before, in nexus_host_filter_unauthorized_total). */
  readonly claims: Counter<"outcome">;
  readonly latency: Histogram;

  constructor(registry: Registry) {
    this.claims = new Counter({ name: "nexus_host_replay_claims_total", help: "Replay claims from the filter, by outcome", labelNames: ["outcome"], registers: [registry] });
    this.latency = new Histogram({
      name: "nexus_host_replay_claim_seconds",
      help: "Time to answer a replay claim (Redis round trip included)",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.2],
      registers: [registry],
    });
  }
}

/** What the control server answers to POST /nexus/v1/replay (after authentication). */
export type ClaimAnswer = { status: 200 | 409; body: { claimed: boolean } } | { status: 400 | 503; body: { error: string } };

export class ReplayClaimService {
  constructor(
    private readonly store: ReplayClaimStore | null,
    private readonly metrics: ReplayClaimMetrics,
  ) {}

  /** True when claims can be answered (a shared store is configured). */
  get configured(): boolean {
    return this.store !== null;
  }

  /**
   * Why the host is not ready yet on the claims' account: a configured store not reached since
   * the start (undefined otherwise). Only the first connection counts: a Redis outage later is
   * the failure policy's (replay_claim_failure), not a reason to take every pod out of service.
   */
  get notReadyReason(): string | undefined {
    return this.store !== null && this.store.reached === false ? "replay claims: Redis not reached yet" : undefined;
  }

  /** A claim whose body could not be read whole (over MAX_REPLAY_ID_BYTES: 413, or cut off): counted as a bad request. */
  unreadable(): void {
    this.metrics.claims.inc({ outcome: "bad_request" });
  }

  async claim(id: Uint8Array, ttlParam: string | null): Promise<ClaimAnswer> {
    const ttl = ttlParam !== null && /^[0-9]{1,9}$/.test(ttlParam) ? Number(ttlParam) : NaN;
    if (!(ttl >= 1 && ttl <= MAX_REPLAY_TTL_MS)) {
      this.metrics.claims.inc({ outcome: "bad_request" });
      return { status: 400, body: { error: `ttl_ms: expected an integer 1-${MAX_REPLAY_TTL_MS}` } };
    }
    if (id.length === 0) {
      this.metrics.claims.inc({ outcome: "bad_request" });
      return { status: 400, body: { error: "empty request id" } };
    }
    if (!this.store) {
      this.metrics.claims.inc({ outcome: "unavailable" });
      return { status: 503, body: { error: "no shared replay store: the host has no Redis (budget.source redis)" } };
    }
    const t0 = performance.now();
    try {
      const claimed = await this.store.claim(id, ttl);
      this.metrics.latency.observe((performance.now() - t0) / 1000);
      this.metrics.claims.inc({ outcome: claimed ? "claimed" : "seen" });
      return claimed ? { status: 200, body: { claimed: true } } : { status: 409, body: { claimed: false } };
    } catch (err) {
      this.metrics.claims.inc({ outcome: "unavailable" });
      return { status: 503, body: { error: (err as Error).message } };
    }
  }

  async close(): Promise<void> {
    await this.store?.close();
  }
}
