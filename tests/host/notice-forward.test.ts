// The host's side of notice forwarding (host/src/control/notice-forward.ts, SECURITY.md G12): the
// notice goes to every other listed pod over real HTTP; the owner's answer (anything but 404) comes
// back marked with its pod id; no owner: 404 marked "none"; a pod that does not answer, or a
// directory that cannot be read, is a 503 without the mark (the filter then asks the exchange to
// retry: that pod may be the owner).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { Registry } from "prom-client";
import { Redis } from "ioredis";
import type { Logger } from "../../host/src/log.ts";
import { RedisServer, uniquePrefix } from "../helpers/redis-server.ts";
import { SHARED_REDIS_URL } from "../hardening/replay-pods.ts";
import {
  FILTER_NOTICE_MARK, MAX_FORWARDS_IN_FLIGHT, NOTICE_FORWARD_MARK, NoticeForwardMetrics, NoticeForwardService, RedisNoticePeers, isNoticeBaseUrl, noticePeersKey,
  type NoticePeer, type NoticePeerDirectory,
} from "../../host/src/control/notice-forward.ts";

/** A filter's notice answer (marked x-nexus-notice), something else's (unmarked), or none. */
type Reply = { status: number; body: string; unmarked?: boolean } | "hang";
const servers: Server[] = [];
const seen: Array<{ pod: string; path: string; forwarded: string | undefined }> = [];

async function peer(pod: string, reply: (path: string) => Reply): Promise<NoticePeer> {
  const s = createServer((req, res) => {
    seen.push({ pod, path: req.url ?? "", forwarded: req.headers["x-nexus-forwarded"] as string | undefined });
    const r = reply(req.url ?? "");
    if (r === "hang") return; // never answers
    res.writeHead(r.status, { "content-type": "application/json", ...(r.unmarked ? {} : { [FILTER_NOTICE_MARK]: "1" }) });
    res.end(r.body);
  });
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  return { podId: pod, url: `http://127.0.0.1:${(s.address() as { port: number }).port}` };
}

const directory = (peers: NoticePeer[] | Error): NoticePeerDirectory => ({
  peers: async () => {
    if (peers instanceof Error) throw peers;
    return peers;
  },
  close: async () => {},
});
const service = (d: NoticePeerDirectory | null) => new NoticeForwardService(d, new NoticeForwardMetrics(new Registry()));
/** The filter's announced wait in these tests (the host answers within it, less 50 ms). */
const WAIT_MS = 350;
const bytes = (s: string) => new TextEncoder().encode(s);
const PATH = "/openrtb2/win?bid=1a-0badcafe&price=1.5";
const unknown = { status: 404, body: '{"error":"unknown bid id"}' };

let owner: NoticePeer;
let other: NoticePeer;
let silent: NoticePeer;
let overloaded: NoticePeer;
let busyOwner: NoticePeer;
before(async () => {
  // The owner's ledger slot contended (assembly/filter/root.ts): "retry the notice", marked.
  busyOwner = await peer("busy-owner", () => ({ status: 503, body: '{"error":"busy: retry the notice"}' }));
  overloaded = await peer("overloaded", () => ({ status: 503, body: "overloaded", unmarked: true }));
  owner = await peer("owner", (p) => (p.startsWith(PATH) ? { status: 200, body: '{"status":"charged"}' } : unknown));
  other = await peer("other", () => unknown);
  silent = await peer("silent", () => "hang");
});
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe("NoticeForwardService", () => {
  it("sends the notice's path to every other pod with x-nexus-forwarded, and answers with the owner's answer, marked with its pod id", async () => {
    seen.length = 0;
    const a = await service(directory([other, owner])).forward(bytes(PATH), WAIT_MS);
    assert.deepEqual(a, { status: 200, headers: { [NOTICE_FORWARD_MARK]: "owner" }, body: '{"status":"charged"}' });
    assert.deepEqual(
      seen.map((s) => [s.pod, s.path, s.forwarded]).sort(),
      [["other", PATH, "1"], ["owner", PATH, "1"]],
    );
  });

  it("a notice tagged with a listed pod's tag (&pod=) goes to that pod alone; an unlisted tag or none, to every pod", async () => {
    const tagged = (tag: string | undefined): NoticePeer[] => [{ ...other, tag: "0000aaaa" }, { ...owner, ...(tag ? { tag } : {}) }];
    seen.length = 0;
    const a = await service(directory(tagged("0000bbbb"))).forward(bytes(PATH + "&pod=0000bbbb"), WAIT_MS);
    assert.deepEqual([a.status, a.headers[NOTICE_FORWARD_MARK]], [200, "owner"]);
    assert.deepEqual(seen.map((s) => s.pod), ["owner"], "only the tagged pod was asked");
    for (const [tag, path] of [[undefined, PATH + "&pod=0000bbbb"], ["0000bbbb", PATH + "&pod=0000cccc"], ["0000bbbb", PATH]] as const) {
      seen.length = 0;
      const b = await service(directory(tagged(tag))).forward(bytes(path), WAIT_MS);
      assert.equal(b.status, 200);
      assert.deepEqual(seen.map((s) => s.pod).sort(), ["other", "owner"], `${tag} / ${path}`);
    }
  });

  it("no pod knows the bid (or no pod is listed, or no directory): 404 marked none", async () => {
    for (const d of [directory([other]), directory([]), null]) {
      const a = await service(d).forward(bytes("/openrtb2/win?bid=2b-00000000&price=1"), WAIT_MS);
      assert.equal(a.status, 404);
      assert.equal(a.headers[NOTICE_FORWARD_MARK], "none");
      assert.equal(JSON.parse(a.body).error, "unknown bid id");
    }
  });

  it("the owner answers before a pod that hangs: its answer; a pod that hangs and no owner: 503 without the mark", async () => {
    assert.equal((await service(directory([silent, owner])).forward(bytes(PATH), WAIT_MS)).status, 200);
    const a = await service(directory([silent, other])).forward(bytes("/openrtb2/win?bid=3c-00000000&price=1"), WAIT_MS);
    assert.equal(a.status, 503);
    assert.equal(a.headers[NOTICE_FORWARD_MARK], undefined);
  });

  it("answers without a filter's mark (an overloaded Envoy's 503, whatever listens at a stale address) are not the owner's", async () => {
    const a = await service(directory([overloaded, owner])).forward(bytes(PATH), WAIT_MS);
    assert.deepEqual([a.status, a.headers[NOTICE_FORWARD_MARK]], [200, "owner"]);
    const b = await service(directory([overloaded, other])).forward(bytes("/openrtb2/win?bid=4d-00000000&price=1"), WAIT_MS);
    assert.equal(b.status, 503, "it may have been the owner: the exchange should retry");
    assert.equal(b.headers[NOTICE_FORWARD_MARK], undefined);
  });

  it("the owner's marked 503 (busy: retry) is relayed as the owner's answer, not turned into 404 unknown", async () => {
    // A 404 "unknown" tells the exchange to stop retrying: a win it bills would never be charged.
    const a = await service(directory([other, busyOwner])).forward(bytes(PATH), WAIT_MS);
    assert.deepEqual([a.status, a.headers[NOTICE_FORWARD_MARK]], [503, "busy-owner"]);
    assert.match(JSON.parse(a.body).error, /busy/);
  });

  it("answers within the filter's announced wait, and takes no more than MAX_FORWARDS_IN_FLIGHT at once", async () => {
    const s = service(directory([silent]));
    const t0 = Date.now();
    // A 200 ms wait: answered at 150 ms; without the deadline a silent pod held a forward 800 ms.
    let hungAnswered = false;
    const hung = Promise.all(Array.from({ length: MAX_FORWARDS_IN_FLIGHT }, () => s.forward(bytes(PATH), 200))).finally(() => (hungAnswered = true));
    const extra = await s.forward(bytes(PATH), 200);
    assert.equal(extra.status, 503);
    assert.match(JSON.parse(extra.body).error, /too many/);
    assert.equal(hungAnswered, false, "the one over the cap is refused before the others are answered");
    for (const a of await hung) assert.equal(a.status, 503);
    const took = Date.now() - t0;
    assert.ok(took < 700, `answered within the wait (plus this machine's noise): ${took} ms`);
    const after = await s.forward(bytes(PATH), 200);
    assert.equal(after.status, 503);
    assert.doesNotMatch(JSON.parse(after.body).error, /too many/, "the cap is free again once they are answered");
  });

  it("a directory that cannot be read: 503 without the mark", async () => {
    const a = await service(directory(new Error("redis down"))).forward(bytes(PATH), WAIT_MS);
    assert.equal(a.status, 503);
    assert.equal(a.headers[NOTICE_FORWARD_MARK], undefined);
    assert.match(JSON.parse(a.body).error, /redis down/);
  });

  it("a path that is not one (empty, no leading /, spaces or controls, over 4096 bytes): 400 marked none, nothing sent", async () => {
    seen.length = 0;
    for (const p of ["", "openrtb2/win?bid=1", "/openrtb2/win?bid=1 HTTP/1.1", "/win\r\nx: y", "/" + "a".repeat(4096)]) {
      const a = await service(directory([owner])).forward(bytes(p), WAIT_MS);
      assert.equal(a.status, 400, JSON.stringify(p));
      assert.equal(a.headers[NOTICE_FORWARD_MARK], "none");
    }
    assert.equal(seen.length, 0);
  });

  it("notice URLs: a base URL fetch() takes (IPv6 in brackets), nothing else", () => {
    for (const ok of ["http://10.1.2.3:8080", "https://bidder-0.example:8443", "http://[fd00::1]:8080"]) assert.ok(isNoticeBaseUrl(ok), ok);
    for (const bad of ["10.1.2.3:8080", "http://fd00::1:8080", "http://10.1.2.3:8080/notices", "http://10.1.2.3:8080?x", "ftp://h:1", "http://a b:1"]) assert.ok(!isNoticeBaseUrl(bad), bad);
  });
});

describe("RedisNoticePeers (the real Redis, a test key prefix)", () => {
  const prefix = uniquePrefix("peers");
  let redis: Redis;
  before(() => {
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    await redis.del(noticePeersKey(prefix));
    redis.disconnect();
  });

  it("lists each pod with its URL, never itself; a second process under one pod id with another URL is logged as a conflict", async () => {
    const errors: string[] = [];
    const log = { error: (o: { event: string; pod: string }) => errors.push(`${o.event} ${o.pod}`), warn: () => {}, debug: () => {} } as unknown as Logger;
    const make = (podId: string, selfUrl: string) => new RedisNoticePeers({ url: SHARED_REDIS_URL, keyPrefix: prefix, podId, selfUrl, refreshMs: 100, cacheMs: 0, log });
    const a = make("pod-a", "http://10.0.0.1:8080");
    const b = make("pod-b", "http://10.0.0.2:8080");
    const twin = make("pod-a", "http://10.0.0.3:8080");
    const restarted = make("pod-b", "http://10.0.0.2:8080");
    try {
      a.start();
      b.start();
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(await a.peers(), [{ podId: "pod-b", url: "http://10.0.0.2:8080" }]);
      assert.equal(errors.length, 0, "no conflict yet");
      twin.start();
      await new Promise((r) => setTimeout(r, 350));
      assert.ok(errors.includes("notice_peer_conflict pod-a"), JSON.stringify(errors));
      // Its id held by the other process, pod-a still forwards (the conflict is logged, not a 503 for ever).
      assert.ok((await a.peers()).some((p) => p.podId === "pod-b"));
      // A restart in place (the same URL under the same id) is not a conflict (pod-a's two go on
      // logging theirs meanwhile, once a minute each).
      restarted.start();
      await new Promise((r) => setTimeout(r, 350));
      assert.ok(!errors.includes("notice_peer_conflict pod-b"), JSON.stringify(errors));
    } finally {
      for (const p of [a, b, twin, restarted]) await p.close();
    }
    assert.equal(await redis.exists(noticePeersKey(prefix)), 0, "closed processes take themselves off the list");
  });

  it("Redis lost the entries (flushed, restarted empty): the list is refused until the pods are listed again", async () => {
    // An empty list read as the fleet's answered "unknown bid" (404, never retried) for wins
    // another pod made: charged nowhere (an audit: 2-6 of 14 cross-pod wins after a FLUSHALL).
    const lostPrefix = uniquePrefix("peers-lost");
    const warnings: string[] = [];
    const log = { warn: (o: { event: string }) => warnings.push(o.event), error: () => {}, debug: () => {} } as unknown as Logger;
    const make = (podId: string, selfUrl: string) => new RedisNoticePeers({ url: SHARED_REDIS_URL, keyPrefix: lostPrefix, podId, selfUrl, refreshMs: 300, cacheMs: 0, log });
    const a = make("pod-a", "http://10.0.1.1:8080");
    const b = make("pod-b", "http://10.0.1.2:8080");
    try {
      a.start();
      b.start();
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual((await a.peers()).map((p) => p.podId), ["pod-b"]);
      await redis.del(noticePeersKey(lostPrefix));
      await assert.rejects(a.peers(), /entry is gone/);
      assert.ok(warnings.includes("notice_peers_lost"), JSON.stringify(warnings));
      await new Promise((r) => setTimeout(r, 100));
      assert.notEqual(await redis.hget(noticePeersKey(lostPrefix), "pod-a"), null, "listed again at once");
      await assert.rejects(a.peers(), /listing themselves again/, "b may not be listed yet");
      await new Promise((r) => setTimeout(r, 1_400)); // a refresh period and a second
      assert.deepEqual((await a.peers()).map((p) => p.podId), ["pod-b"]);
    } finally {
      for (const p of [a, b]) await p.close();
      await redis.del(noticePeersKey(lostPrefix));
    }
  });

  it("Redis refusing writes (full, a private server): entries that expired with this pod's own stay listed", async () => {
    // Listings of 600 ms refreshed every 300 ms, then every write refused (maxmemory, noeviction):
    // past a TTL and a refresh period every entry has expired. Judged against the clock, the list
    // was empty and every forwarded win a 404 (an audit billed 146% of a daily cap that way).
    const server = await RedisServer.start();
    const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    const make = (podId: string, selfUrl: string) => new RedisNoticePeers({ url: server.url, keyPrefix: "full", podId, selfUrl, refreshMs: 300, ttlMs: 600, cacheMs: 0 });
    const a = make("pod-a", "http://10.0.2.1:8080");
    const b = make("pod-b", "http://10.0.2.2:8080");
    try {
      a.start();
      b.start();
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual((await a.peers()).map((p) => p.podId), ["pod-b"]);
      await admin.config("SET", "maxmemory-policy", "noeviction");
      await admin.config("SET", "maxmemory", "1");
      await assert.rejects(admin.set("probe", "x"), /OOM/);
      await new Promise((r) => setTimeout(r, 2_000));
      const raw = await admin.hgetall(noticePeersKey("full"));
      const expiries = Object.values(raw).map((v) => (JSON.parse(v) as { expires_ms: number }).expires_ms);
      const [sec, usec] = (await admin.time()) as unknown as [string, string];
      assert.ok(expiries.every((e) => e < Number(sec) * 1000 + Number(usec) / 1000 - 1_000), "every entry expired over a second ago");
      assert.deepEqual((await a.peers()).map((p) => p.podId), ["pod-b"]);
    } finally {
      for (const p of [a, b]) await p.close();
      admin.disconnect();
      await server.stop();
    }
  });

  it("judges a listing's expiry on Redis's clock: a pod whose clock runs a minute behind (or ahead) is listed all the same", async () => {
    const skewedPrefix = uniquePrefix("peers-skew");
    const make = (podId: string, selfUrl: string) => new RedisNoticePeers({ url: SHARED_REDIS_URL, keyPrefix: skewedPrefix, podId, selfUrl, refreshMs: 60_000, cacheMs: 0 });
    const realNow = Date.now;
    const behind = make("pod-behind", "http://10.0.0.8:8080");
    const ahead = make("pod-ahead", "http://10.0.0.9:8080");
    const reader = make("pod-reader", "http://10.0.0.7:8080");
    try {
      // The two pods list themselves with their clocks off by a minute (the listing lasts 30 s).
      Date.now = () => realNow() - 60_000;
      behind.start();
      await new Promise((r) => setTimeout(r, 200));
      Date.now = () => realNow() + 60_000;
      ahead.start();
      await new Promise((r) => setTimeout(r, 200));
      Date.now = realNow;
      const listed = (await reader.peers()).map((p) => p.podId).sort();
      assert.deepEqual(listed, ["pod-ahead", "pod-behind"]);
      // And a reader whose own clock is off sees the same.
      Date.now = () => realNow() + 60_000;
      assert.deepEqual((await reader.peers()).map((p) => p.podId).sort(), ["pod-ahead", "pod-behind"]);
    } finally {
      Date.now = realNow;
      for (const p of [behind, ahead, reader]) await p.close();
      await redis.del(noticePeersKey(skewedPrefix));
    }
  });
});
