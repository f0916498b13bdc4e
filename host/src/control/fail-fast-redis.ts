// The Redis client of the host's per-request and per-sync stores (replay claims, frequency counts):
// a command is answered now or failed, never queued while Redis is away nor resent after, so a
// dead Redis costs one timeout at most and the caller's failure policy decides. It reconnects for
// ever, at most half a second apart, and its connection alone does not keep a stopping process
// alive (close() may never be called).
import type { Redis } from "ioredis";
import { loadIoredis } from "../lazy-deps.ts";

/**
 * A connection that stops answering without closing (a failover that leaves the old endpoint
 * dark, a network partition) times out every command but is never dropped: TCP takes ~15 minutes
 * to give up on it. A socket that receives nothing for this long while a command waits is
 * destroyed and the client reconnects (ioredis socketTimeout); keep-alive probes find an idle one.
 * Every Redis client of the host takes these options.
 */
export function deadConnectionOptions(commandTimeoutMs: number): { socketTimeout: number; keepAlive: number } {
  return { socketTimeout: Math.max(2000, commandTimeoutMs * 10), keepAlive: 10_000 };
}

export function failFastRedis(url: string, commandTimeoutMs: number, onError: (err: Error) => void): Redis {
  const redis = new (loadIoredis().Redis)(url, {
    ...deadConnectionOptions(commandTimeoutMs),
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(1000, commandTimeoutMs * 5),
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    lazyConnect: false,
    retryStrategy: (times: number) => Math.min(50 * times, 500),
  });
  redis.on("error", onError);
  redis.on("connect", () => redis.stream?.unref?.());
  return redis;
}

/** Quits politely, or drops the connection when that fails. */
export async function closeRedis(redis: Redis): Promise<void> {
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
