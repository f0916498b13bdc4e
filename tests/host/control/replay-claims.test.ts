// The host's replay claim store on a real Redis: the first claim of an id wins, later ones see
// it, the key expires with the TTL; and a Redis that stops answering fails a claim after the
// claim timeout (replayRedisTimeoutMs), not after the budget's longer one.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { RedisServer } from "../../helpers/redis-server.ts";
import { RedisReplayClaims, ReplayClaimMetrics, ReplayClaimService, ReplayStoreUnavailable, replayKey } from "../../../host/src/control/replay-claims.ts";
import { Registry } from "prom-client";
import { createServer, type Server } from "node:net";

describe("Redis replay claims", () => {
  let server: RedisServer;
  let probe: Redis;
  let store: RedisReplayClaims;
  const prefix = "replay-claims-test";
  const id = (s: string) => new TextEncoder().encode(s);

  before(async () => {
    server = await RedisServer.start();
    probe = new Redis(server.url, { maxRetriesPerRequest: 0 });
    store = new RedisReplayClaims({ url: server.url, keyPrefix: prefix, commandTimeoutMs: 30 });
  });

  after(async () => {
    await store?.close();
    probe?.disconnect();
    await server?.stop();
  });

  it("claims an id once within its TTL", async () => {
    // The store connects on its own; the first claim may race the connection.
    let first: boolean | undefined;
    for (let i = 0; i < 50 && first === undefined; i++) {
      try {
        first = await store.claim(id("r-1"), 60_000);
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    assert.equal(first, true);
    assert.equal(await store.claim(id("r-1"), 60_000), false);
    assert.equal(await store.claim(id("r-2"), 60_000), true);
    const ttl = await probe.pttl(replayKey(prefix, id("r-1")));
    assert.ok(ttl > 59_000 && ttl <= 60_000, `ttl ${ttl}`);
    assert.equal(await store.claim(id("short"), 50), true);
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(await store.claim(id("short"), 50), true, "claimable again once expired");
  });

  it("fails a claim after its own timeout while Redis does not answer", async () => {
    await probe.call("CLIENT", "PAUSE", "1500", "ALL");
    const t0 = performance.now();
    await assert.rejects(store.claim(id("r-paused"), 60_000), ReplayStoreUnavailable);
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `failed after ${ms.toFixed(0)} ms, not at the end of Redis's 1.5 s pause`);
    await new Promise((r) => setTimeout(r, 1600));
  });
});

describe("readiness waits for the claim store's first connection", () => {
  it("a store never reached keeps the host not ready; once reached it stays ready through an outage", async () => {
    // A port that accepts TCP but never speaks Redis: the client never becomes ready.
    const mute: Server = createServer(() => {});
    await new Promise<void>((r) => mute.listen(0, "127.0.0.1", () => r()));
    const port = (mute.address() as { port: number }).port;
    const silent = new RedisReplayClaims({ url: `redis://127.0.0.1:${port}`, keyPrefix: "readiness-test", commandTimeoutMs: 30 });
    const silentService = new ReplayClaimService(silent, new ReplayClaimMetrics(new Registry()));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(silentService.notReadyReason, "replay claims: Redis not reached yet");
    await silent.close();
    mute.close();

    const server = await RedisServer.start();
    const store = new RedisReplayClaims({ url: server.url, keyPrefix: "readiness-test", commandTimeoutMs: 30 });
    const service = new ReplayClaimService(store, new ReplayClaimMetrics(new Registry()));
    try {
      for (let i = 0; i < 100 && service.notReadyReason !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(service.notReadyReason, undefined, "reached");
      await server.stop();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(service.notReadyReason, undefined, "a later outage is the failure policy's, not readiness's");
    } finally {
      await store.close();
      await server.stop().catch(() => {});
    }
    // No store at all (no Redis configured): nothing to wait for.
    assert.equal(new ReplayClaimService(null, new ReplayClaimMetrics(new Registry())).notReadyReason, undefined);
  });
});

