// The standalone's proxy_http_call transport: replay claims with the sync token are answered
// in-process (no loopback HTTP round trip per bid request), everything else goes over HTTP.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { standaloneHttpCall } from "../../host/src/standalone-callouts.ts";
import type { HttpCallHandler, HttpCallResult } from "../../host/src/proxy-wasm/types.ts";
import { bearerTokenMatches } from "../../host/src/server/control-server.ts";
import { post } from "../helpers/bidder.ts";
import { metric, twoPodsOnSharedRedis, uniqueRequest } from "../hardening/replay-pods.ts";

const TOKEN = "t".repeat(32);
const UPSTREAMS = { nexus_host: "http://127.0.0.1:1", nexus_replay: "http://127.0.0.1:1" };
const claimHeaders = (path = "/nexus/v1/replay?ttl_ms=60000", token = TOKEN): Array<[string, string]> => [
  [":method", "POST"],
  [":path", path],
  [":authority", "nexus-host"],
  ["authorization", `Bearer ${token}`],
];
const dec = new TextDecoder();

/** A transport whose control server and HTTP fallback record what reached them. */
function transport(answer: () => Promise<{ status: number; headers: Record<string, string>; body: unknown }>) {
  const claims: Array<{ id: string; ttl: string | null }> = [];
  const overHttp: string[] = [];
  const http: HttpCallHandler = async (upstream, headers) => {
    overHttp.push(`${upstream} ${headers.find(([k]) => k === ":path")?.[1]}`);
    return { status: 204, headers: [[":status", "204"]], body: new Uint8Array() };
  };
  const call = standaloneHttpCall({
    upstreams: UPSTREAMS,
    http,
    control: {
      filterAuthorized: (authorization) => bearerTokenMatches(authorization, TOKEN),
      replayAnswer: (id, ttl) => {
        claims.push({ id: dec.decode(id), ttl });
        return answer();
      },
    },
  });
  const send = (upstream: string, headers: Array<[string, string]>, body = "req-1") => call(upstream, headers, new TextEncoder().encode(body), [], 2, new AbortController().signal);
  return { claims, overHttp, send };
}

const claimed = async () => ({ status: 200, headers: { "x-nexus-replay": "claimed" }, body: { claimed: true } });

describe("standaloneHttpCall", () => {
  it("answers a claim with the sync token in-process: the control server's status, mark and body", async () => {
    const t = transport(claimed);
    for (const upstream of ["nexus_host", "nexus_replay"]) {
      const r = (await t.send(upstream, claimHeaders(), "bid-42")) as HttpCallResult;
      assert.equal(r.status, 200);
      assert.deepEqual(r.headers.find(([k]) => k === "x-nexus-replay"), ["x-nexus-replay", "claimed"]);
      assert.deepEqual(JSON.parse(dec.decode(r.body)), { claimed: true });
      assert.equal(r.headers.find(([k]) => k === ":status")?.[1], "200");
    }
    assert.deepEqual(t.claims, [{ id: "bid-42", ttl: "60000" }, { id: "bid-42", ttl: "60000" }]);
    assert.deepEqual(t.overHttp, []);
  });

  it("sends over HTTP what the control server must see as a client would: a wrong token, other paths and methods, an oversized id, another upstream", async () => {
    const t = transport(claimed);
    await t.send("nexus_host", claimHeaders(undefined, "w".repeat(32)));
    await t.send("nexus_host", claimHeaders("/nexus/v1/sync"));
    await t.send("nexus_host", claimHeaders("/nexus/v1/replayx?ttl_ms=1"));
    await t.send("nexus_host", [[":method", "GET"], ...claimHeaders().slice(1)]);
    await t.send("nexus_host", claimHeaders(), "x".repeat(1025));
    await t.send("elsewhere", claimHeaders());
    assert.deepEqual(t.claims, []);
    assert.equal(t.overHttp.length, 6);
  });

  it("a claim the control server fails to answer is a failed call (null), as a reset would be", async () => {
    const t = transport(() => Promise.reject(new Error("boom")));
    assert.equal(await t.send("nexus_host", claimHeaders()), null);
  });
});

describe("a standalone pod on Redis claims in-process", () => {
  const pods = twoPodsOnSharedRedis("inproc", { replayRedisTimeoutMs: 2000 });
  const overHttp = { a: 0, b: 0 };
  before(() => {
    pods.a.control.server.on("request", (req) => req.url?.startsWith("/nexus/v1/replay") && overHttp.a++);
    pods.b.control.server.on("request", (req) => req.url?.startsWith("/nexus/v1/replay") && overHttp.b++);
  });

  it("claims reach Redis without an HTTP request to the control server; the other pod answers replay", async () => {
    const { a, b } = pods;
    for (let i = 0; i < 5; i++) {
      const { body } = uniqueRequest("inproc");
      const ra = await post(`${a.bidUrl}/openrtb2/bid`, body);
      assert.equal(ra.status, 200, `${ra.status} ${String(ra.headers["x-nexus-nobid-reason"])}`);
      const rb = await post(`${b.bidUrl}/openrtb2/bid`, body);
      assert.equal(rb.headers["x-nexus-nobid-reason"], "replay");
    }
    assert.equal(metric(a.pool, "nexus_replay_claims_claimed_total"), 5);
    assert.equal(metric(b.pool, "nexus_replay_claims_seen_total"), 5);
    assert.deepEqual(overHttp, { a: 0, b: 0 }, "no claim went over HTTP");
  });
});
