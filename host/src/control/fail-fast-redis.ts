// The Redis client of the host's per-request and per-sync stores (replay claims, frequency counts):
// a command is answered now or failed, never queued while Redis is away nor resent after, so a
// dead Redis costs one timeout at most and the caller's failure policy decides. It reconnects for
// ever, at most half a second apart, and its connection alone does not keep a stopping process
// alive (close() may never be called).
import type { Redis } from "ioredis";
import { loadIoredis } from "../lazy-deps.ts";

export function failFastRedis(url: string, commandTimeoutMs: number, onError: (err: Error) => void): Redis {
  const redis = new (loadIoredis().Redis)(url, {
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
