// Pods that lease one budget from Redis, each under its own pod id, on a simulated clock: the
// Redis day, hour and minute keys and the token bucket must see the time the filters see. Each
// pod is its own control plane (startSimBidder's budgetSource) with its own shared data.
import { Redis } from "ioredis";
import { RedisBudgetSource } from "../../host/src/control/budget-redis.ts";
import type { BudgetSource, SlicePolicy } from "../../host/src/control/budget.ts";
import { deleteKeysStartingWith } from "./redis-server.ts";

export class RedisFleet {
  readonly prefix: string;
  private readonly redis: Redis;

  /** `name` makes the key prefix (with the pid and the time): keys are deleted by close(). */
  constructor(url: string, name: string) {
    this.prefix = `${name}-${process.pid}-${Date.now().toString(36)}`;
    this.redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  }

  /**
   * Slices as in production (a minute of pace per sync), but by default a pace of 3× the flat
   * daily rate (pacingSeconds 8 h): the token bucket must not throttle the plan's peak hours, so
   * what the run measures is the filters' PID, and the day's cap is the store's Σ granted ≤ daily.
   * `policy`: the host's own (config.ts leasePolicy), to measure the bucket too.
   */
  source(podId: string, now: () => number, utcOffsetMinutes = 0, policy: SlicePolicy = { leaseSeconds: 60, minSliceMicros: 1, pacingSeconds: 28_800 }): BudgetSource {
    const inner = new RedisBudgetSource({ client: this.redis, keyPrefix: this.prefix, podId, policy, utcOffsetMinutes });
    return {
      grant: (limits, report) => inner.grant(limits, report, now()),
      lease: (limits, report) => inner.lease(limits, report, now()),
      healthy: () => inner.healthy(),
      close: () => inner.close(),
    };
  }

  async close(): Promise<void> {
    await deleteKeysStartingWith(this.redis, `{nexus:${this.prefix}:`);
    await this.redis.quit();
  }
}
