// A Redis connection that goes dark without closing (a failover that leaves the old endpoint
// silent, a partition): every command times out, and without a socket timeout the client never
// drops the connection (TCP gives up after ~15 minutes), so the host stayed without a budget
// store for as long. Here a proxy in front of the real Redis stops answering on the connections it
// has while new ones get through, as a failover does; the host's client must reconnect and answer.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect, type Server, type Socket } from "node:net";
import { closeRedis, deadConnectionOptions, failFastRedis } from "../../host/src/control/fail-fast-redis.ts";

const REDIS_PORT = Number(new URL(process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379").port || 6379);

/** A TCP proxy to Redis; dark(): the connections it has get nothing more, new ones work. */
function failoverProxy(): { server: Server; dark(): void; port(): number } {
  const open = new Set<{ client: Socket; upstream: Socket; dark: boolean }>();
  const server = createServer((client) => {
    const upstream = connect(REDIS_PORT, "127.0.0.1");
    const link = { client, upstream, dark: false };
    open.add(link);
    client.on("data", (d) => void (!link.dark && upstream.write(d)));
    upstream.on("data", (d) => void (!link.dark && client.write(d)));
    const end = () => {
      open.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  return {
    server,
    dark: () => open.forEach((l) => (l.dark = true)),
    port: () => (server.address() as { port: number }).port,
  };
}

describe("a Redis connection that goes dark without closing", () => {
  const proxy = failoverProxy();
  before(() => new Promise<void>((r) => proxy.server.listen(0, "127.0.0.1", () => r())));
  after(() => new Promise<void>((r) => proxy.server.close(() => r())));

  it("is dropped after the socket timeout and the client answers again on a new connection", async () => {
    const commandTimeoutMs = 100;
    assert.equal(deadConnectionOptions(commandTimeoutMs).socketTimeout, 2000);
    const redis = failFastRedis(`redis://127.0.0.1:${proxy.port()}`, commandTimeoutMs, () => {});
    try {
      for (let i = 0; i < 50 && redis.status !== "ready"; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await redis.ping(), "PONG");
      proxy.dark();
      await assert.rejects(redis.ping(), /timed out/i);
      // Commands keep failing until the socket timeout drops the silent connection, then work.
      const t0 = Date.now();
      let answered = false;
      while (Date.now() - t0 < 8000 && !answered) {
        answered = await redis.ping().then(() => true, () => false);
        if (!answered) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(answered, "still no answer 8 s after the connection went dark");
      assert.ok(Date.now() - t0 < 5000, `reconnected after ${Date.now() - t0} ms`);
    } finally {
      await closeRedis(redis);
    }
  });
});
