// A standalone start that fails once its control plane is up (a bid or control port taken) must
// leave nothing behind: an ops audit found the pod's notice-peers entry still in Redis after such
// a start exited (listed for 30 s, other pods forwarded this pod's notices to a process that was
// gone and answered exchanges 503). Real Redis (own key prefix), real ports.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { rmSync } from "node:fs";
import { Redis } from "ioredis";
import { testBidderConfig } from "../../helpers/bidder.ts";
import { uniquePrefix } from "../../helpers/redis-server.ts";
import { SHARED_REDIS_URL, deleteTestKeys, podOptions } from "../../hardening/replay-pods.ts";
import { startStandalone } from "../../../host/src/standalone.ts";
import { silentLogger } from "../../../host/src/log.ts";

function takenPort(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

describe("a standalone start that fails on a taken port", () => {
  for (const which of ["bid", "control"] as const) {
    it(`(${which} port) fails with EADDRINUSE and leaves no notice-peers entry in Redis`, async () => {
      const keyPrefix = uniquePrefix(`failed-start-${which}`);
      const redis = new Redis(SHARED_REDIS_URL);
      const taken = await takenPort();
      const pod = `failed-start-${which}`;
      const { cfg, dir } = testBidderConfig(podOptions(pod, { redisUrl: SHARED_REDIS_URL, keyPrefix, noticeForwardUrl: "http://127.0.0.1:9" }));
      cfg[which] = { host: "127.0.0.1", port: taken.port };
      try {
        await assert.rejects(startStandalone(cfg, silentLogger()), (e: Error & { code?: string }) => e.code === "EADDRINUSE");
        assert.equal(await redis.hget(`nexus:${keyPrefix}:notice-peers`, pod), null, "the pod is not listed for notices");
      } finally {
        taken.server.close();
        rmSync(dir, { recursive: true, force: true });
        await deleteTestKeys(redis, keyPrefix);
        redis.disconnect();
      }
    });
  }
});
