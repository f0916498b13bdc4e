// The control plane's defences: the admin API's bearer token (constant-time
// comparison; no token or a wrong one → 401; no token configured → the admin
// API is off), the filter endpoints' bearer sync token (/nexus/v1/*: sync,
// config, model, replay claims; end to end with the compiled filter, inline or
// through a VM environment variable), hostile bodies on the sync and replay
// endpoints (413, 415, 400 with a reason, never 500), and the loopback default.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { gzipSync } from "node:zlib";
import { pino } from "pino";
import { request } from "undici";
import { defaultConfig, loadConfig, type HostConfig } from "../../host/src/config.ts";
import { startControlPlane, HOST_CLUSTER, vmStatuses, type ControlPlane } from "../../host/src/standalone.ts";
import { bearerTokenMatches } from "../../host/src/server/control-server.ts";
import { silentLogger } from "../../host/src/log.ts";
import { PACKAGE_ROOT } from "../../host/src/paths.ts";
import { VmPool } from "../../host/src/proxy-wasm/pool.ts";
import { testBidderConfig, README_REQUEST } from "../helpers/bidder.ts";
import { metricValue } from "../host/budget/bidders.ts";
import { answerOf } from "./helpers.ts";

const TOKEN = "hardening-admin-token-0123456789abcdef";
const SYNC_TOKEN = "hardening-sync-token-0123456789abcdef";

async function start(adminToken: string, host = "127.0.0.1", log = silentLogger()): Promise<ControlPlane> {
  const cfg: HostConfig = defaultConfig();
  cfg.control = { host, port: 0 };
  cfg.adminToken = adminToken;
  cfg.syncToken = SYNC_TOKEN;
  return startControlPlane(cfg, log);
}

/** A logger whose JSON lines land in `lines`. */
function capturingLogger(lines: Array<{ level: number; event?: string }>) {
  return pino({ level: "debug" }, new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  }));
}

const SYNC_AUTH = { authorization: `Bearer ${SYNC_TOKEN}` };

async function stop(cp: ControlPlane | undefined): Promise<void> {
  if (!cp) return;
  await cp.control.close();
  await cp.budget.close();
}

async function call(cp: ControlPlane, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer) {
  const r = await request(`${cp.controlUrl}${path}`, { method: method as "GET", headers, body });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text };
}

describe("admin API bearer token", () => {
  let cp: ControlPlane;
  const logLines: Array<{ level: number; event?: string }> = [];
  before(async () => {
    cp = await start(TOKEN, "127.0.0.1", capturingLogger(logLines));
  });
  after(async () => {
    await stop(cp);
  });

  it("no Authorization header: 401 with a Bearer challenge", async () => {
    const r = await call(cp, "GET", "/admin/v1/state");
    assert.equal(r.status, 401);
    assert.equal(r.headers["www-authenticate"], "Bearer");
    assert.deepEqual(JSON.parse(r.text), { error: "unauthorized" });
  });

  it("wrong tokens of every shape: 401, and nothing leaks in the answer", async () => {
    const wrong = [
      "Bearer " + TOKEN.slice(0, -1) + "x", // same length, last byte differs
      "Bearer x" + TOKEN.slice(1), // same length, first byte differs
      "Bearer " + TOKEN.slice(0, -1), // a prefix
      "Bearer " + TOKEN + "0", // longer
      "Bearer " + TOKEN.toUpperCase(),
      "Bearer ",
      "Bearer",
      "Bearer  " + TOKEN, // two spaces: the token would start with a space
      "Bearer\t" + TOKEN,
      TOKEN, // no scheme
      "Basic " + Buffer.from(`admin:${TOKEN}`).toString("base64"),
      "Token " + TOKEN,
      "Bearer " + "a".repeat(10_000),
      "Bearer " + "\u00e9".repeat(20),
    ];
    for (const auth of wrong) {
      const r = await call(cp, "GET", "/admin/v1/state", { authorization: auth });
      assert.equal(r.status, 401, `"${auth.slice(0, 40)}": ${r.status}`);
      assert.ok(!r.text.includes(TOKEN), "the token never appears in an answer");
    }
    // Mutating endpoints are guarded the same way (and change nothing).
    const before = cp.catalog.version;
    assert.equal((await call(cp, "POST", "/admin/v1/campaigns/test-cpa/pause", { authorization: "Bearer nope" })).status, 401);
    assert.equal((await call(cp, "PUT", "/admin/v1/campaigns/demo/budget", { authorization: "Bearer nope", "content-type": "application/json" }, "{\"daily_micros\":1}")).status, 401);
    assert.equal(cp.catalog.version, before);
  });

  it("a bad JSON body is a 400 logged as a refused request (warn), not as a failure of the host (error)", async () => {
    const id = cp.catalog.campaigns[0]!.id;
    const r = await call(cp, "PUT", `/admin/v1/campaigns/${id}/budget`, { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, "{not json");
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.text).error, /invalid JSON body/);
    assert.ok(logLines.some((l) => l.event === "control_bad_request" && l.level === 40), JSON.stringify(logLines.map((l) => l.event)));
    assert.ok(!logLines.some((l) => l.event === "control_error"), "no control_error for a client's bad JSON");
  });

  it("the right token: 200; the scheme is case-insensitive (RFC 7235)", async () => {
    assert.equal((await call(cp, "GET", "/admin/v1/state", { authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.equal((await call(cp, "GET", "/admin/v1/state", { authorization: `bearer ${TOKEN}` })).status, 200);
  });

  it("compares in constant time: SHA-256 digests of both sides through crypto.timingSafeEqual", () => {
    const src = readFileSync(join(PACKAGE_ROOT, "host/src/server/control-server.ts"), "utf8");
    // Timing cannot be asserted on a shared machine: the test pins the construction instead.
    const fn = src.slice(src.indexOf("export function bearerTokenMatches("));
    assert.ok(fn.length > 0 && /this\.d\.(adminToken|syncToken)/.test(src) && (src.match(/bearerTokenMatches\(/g) ?? []).length >= 2);
    assert.match(fn, /timingSafeEqual\(/);
    assert.match(fn, /createHash\("sha256"\)\.update\(given\)/);
    assert.match(fn, /createHash\("sha256"\)\.update\(token\)/);
    assert.doesNotMatch(fn, /given\s*===?\s*token|token\s*===?\s*given/, "no early-exit string comparison");
  });
});

describe("admin API without a configured token", () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await start("");
  });
  after(async () => {
    await stop(cp);
  });

  it("is disabled: every admin path answers 404, whatever the Authorization", async () => {
    for (const auth of [undefined, "Bearer ", "Bearer", "Bearer anything-at-all-0123456789"]) {
      for (const [method, path] of [["GET", "/admin/v1/state"], ["POST", "/admin/v1/campaigns/demo/pause"], ["PUT", "/admin/v1/campaigns/demo/budget"]] as const) {
        const r = await call(cp, method, path, auth === undefined ? {} : { authorization: auth });
        assert.equal(r.status, 404, `${method} ${path} with ${auth}`);
        assert.match(JSON.parse(r.text).error, /admin API disabled/);
      }
    }
  });

  it("a configured token must be long: the host refuses fewer than 16 characters", () => {
    assert.throws(() => loadConfig({ env: { NEXUS_ADMIN_TOKEN: "short" } }), /adminToken/);
  });
});

describe("sync endpoints under hostile bodies", () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await start("");
  });
  after(async () => {
    await stop(cp);
  });

  it("answer bodies that are not JSON with 400, odd JSON without harm, and never crash", async () => {
    const notJson: Array<[string, Buffer | string]> = [
      ["not json", "{not json"],
      ["invalid utf-8", Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d])],
      ["utf-16", Buffer.from("{}", "utf16le")],
      ["deep", "[".repeat(100_000) + "]".repeat(100_000) + "x"],
      ["null", "null"],
      // An array is no report (it was read as an empty one: 200 with grants, audit).
      ["array", "[]"],
      ["array of a report", '[{"vm":1,"campaigns":[]}]'],
      ["deep valid array", "[".repeat(5000) + "]".repeat(5000)],
    ];
    for (const [what, body] of notJson) {
      const r = await call(cp, "POST", "/nexus/v1/sync", { "content-type": "application/json", ...SYNC_AUTH }, body);
      assert.equal(r.status, 400, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
      assert.match(JSON.parse(r.text).error, /invalid JSON body|expected a JSON object/, `${what}: a reason`);
    }
    // The sync report parser is lenient: an object of another shape is read as an empty report.
    const odd: Array<[string, string]> = [
      ["proto", "{\"__proto__\":{\"polluted\":1},\"constructor\":{\"prototype\":{\"polluted\":1}},\"campaigns\":[{\"id\":\"__proto__\",\"granted_micros\":1e308}]}"],
    ];
    for (const [what, body] of odd) {
      const r = await call(cp, "POST", "/nexus/v1/sync", { "content-type": "application/json", ...SYNC_AUTH }, body);
      assert.ok(r.status === 200 || r.status === 400, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, "no prototype pollution");
    assert.equal((await call(cp, "GET", "/healthz")).status, 200);
  });

  it("a body above 4 MiB is 413 (also once inflated), an unknown encoding 415, a corrupt one 400: with a reason, never 500", async () => {
    const json = { "content-type": "application/json", ...SYNC_AUTH };
    const big = await call(cp, "POST", "/nexus/v1/sync", json, Buffer.alloc(5 << 20, 0x20));
    assert.equal(big.status, 413);
    assert.match(JSON.parse(big.text).error, /larger than 4194304 bytes/);
    // A gzip bomb: 64 MiB of spaces in 64 KiB, cut off at the limit while inflating.
    const bomb = await call(cp, "POST", "/nexus/v1/sync", { ...json, "content-encoding": "gzip" }, gzipSync(Buffer.alloc(64 << 20, 0x20)));
    assert.equal(bomb.status, 413);
    for (const enc of ["br", "compress", "gzip, br"]) {
      const r = await call(cp, "POST", "/nexus/v1/sync", { ...json, "content-encoding": enc }, "{}");
      assert.equal(r.status, 415, `${enc}: ${r.status}`);
      assert.match(JSON.parse(r.text).error, /unsupported content-encoding .*use identity, gzip or deflate/);
    }
    for (const enc of ["gzip", "deflate"]) {
      const r = await call(cp, "POST", "/nexus/v1/sync", { ...json, "content-encoding": enc }, Buffer.from("this is not compressed"));
      assert.equal(r.status, 400, `corrupt ${enc}: ${r.status}`);
      assert.match(JSON.parse(r.text).error, new RegExp(`invalid ${enc} body`));
    }
    // Control: a well-formed gzip report is read.
    const ok = await call(cp, "POST", "/nexus/v1/sync", { ...json, "content-encoding": "gzip" }, gzipSync(Buffer.from('{"vm":1,"campaigns":[]}')));
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await call(cp, "GET", "/healthz")).status, 200);
  });

  it("the replay endpoint: a bad ttl_ms or an empty id is 400, an id above 1 KiB 413, no Redis 503", async () => {
    const bin = { "content-type": "application/octet-stream", ...SYNC_AUTH };
    for (const q of ["", "?ttl_ms=0", "?ttl_ms=-1", "?ttl_ms=1e3", "?ttl_ms=86400001", "?ttl_ms=abc", "?ttl_ms=9999999999"]) {
      const r = await call(cp, "POST", `/nexus/v1/replay${q}`, bin, "req-1");
      assert.equal(r.status, 400, `${q}: ${r.status}`);
      assert.match(JSON.parse(r.text).error, /ttl_ms/);
    }
    const empty = await call(cp, "POST", "/nexus/v1/replay?ttl_ms=1000", bin, "");
    assert.equal(empty.status, 400);
    const long = await call(cp, "POST", "/nexus/v1/replay?ttl_ms=1000", bin, Buffer.alloc(1025, 0x61));
    assert.equal(long.status, 413);
    const noRedis = await call(cp, "POST", "/nexus/v1/replay?ttl_ms=1000", bin, "req-1");
    assert.equal(noRedis.status, 503);
    assert.match(JSON.parse(noRedis.text).error, /no shared replay store/);
    // Every refused claim is counted, the 413 too (it was not: an audit's 1,025-byte id left no trace).
    const metrics = (await call(cp, "GET", "/metrics")).text;
    assert.equal(metricValue(metrics, "nexus_host_replay_claims_total", { outcome: "bad_request" }), 7 + 1 + 1);
  });

  it("the notice-forward endpoint: a path over 4 KiB is 413, counted as a bad request as a malformed one is", async () => {
    const bin = { "content-type": "application/octet-stream", ...SYNC_AUTH };
    // NaN while the series does not exist yet.
    const before = metricValue((await call(cp, "GET", "/metrics")).text, "nexus_host_notice_forwards_total", { outcome: "bad_request" }) || 0;
    assert.equal((await call(cp, "POST", "/nexus/v1/notice-forward", bin, "no-slash")).status, 400);
    assert.equal((await call(cp, "POST", "/nexus/v1/notice-forward", bin, Buffer.alloc(5001, 0x61))).status, 413);
    const after = metricValue((await call(cp, "GET", "/metrics")).text, "nexus_host_notice_forwards_total", { outcome: "bad_request" });
    assert.equal(after - before, 2);
  });
});

describe("filter endpoints: the sync token", () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await start(TOKEN);
  });
  after(async () => {
    await stop(cp);
  });

  const endpoints: Array<[string, string, string | undefined]> = [
    ["POST", "/nexus/v1/sync", '{"vm":1,"campaigns":[]}'],
    ["GET", "/nexus/v1/config", undefined],
    ["GET", "/nexus/v1/model", undefined],
    ["POST", "/nexus/v1/replay?ttl_ms=1000", "req-1"],
    ["GET", "/nexus/v1/anything-else", undefined],
  ];

  it("no token, a wrong one, or the admin token: 401 with a Bearer challenge on every endpoint, before anything is read", async () => {
    const wrong = [
      undefined,
      "Bearer " + SYNC_TOKEN.slice(0, -1) + "x",
      "Bearer " + SYNC_TOKEN.slice(0, -1),
      "Bearer " + SYNC_TOKEN + "0",
      "Bearer " + SYNC_TOKEN.toUpperCase(),
      "Bearer ",
      "Bearer  " + SYNC_TOKEN,
      SYNC_TOKEN,
      "Basic " + Buffer.from(`nexus:${SYNC_TOKEN}`).toString("base64"),
      "Bearer " + TOKEN, // the admin token is not the sync token
    ];
    for (const [method, path, body] of endpoints) {
      for (const auth of wrong) {
        const r = await call(cp, method, path, auth === undefined ? {} : { authorization: auth }, body);
        assert.equal(r.status, 401, `${method} ${path} with ${String(auth).slice(0, 30)}: ${r.status}`);
        assert.equal(r.headers["www-authenticate"], "Bearer");
        assert.deepEqual(JSON.parse(r.text), { error: "unauthorized" });
      }
    }
    // A refused sync changes nothing the filter could see.
    assert.equal(cp.sync.syncs, 0);
    const metrics = (await call(cp, "GET", "/metrics")).text;
    assert.equal(metricValue(metrics, "nexus_host_filter_unauthorized_total", { endpoint: "sync" }), wrong.length);
    assert.equal(metricValue(metrics, "nexus_host_filter_unauthorized_total", { endpoint: "replay" }), wrong.length);
    assert.equal(metricValue(metrics, "nexus_host_filter_unauthorized_total", { endpoint: "other" }), wrong.length);
  });

  it("the right token: the endpoints answer; the sync token does not open the admin API", async () => {
    const sync = await call(cp, "POST", "/nexus/v1/sync", { "content-type": "application/json", ...SYNC_AUTH }, '{"vm":1,"campaigns":[]}');
    assert.equal(sync.status, 200, sync.text);
    assert.equal((await call(cp, "GET", "/nexus/v1/config", { authorization: `bearer ${SYNC_TOKEN}` })).status, 200);
    assert.equal((await call(cp, "GET", "/nexus/v1/model", SYNC_AUTH)).status, 404, "no such model version: past the token check");
    assert.equal((await call(cp, "GET", "/nexus/v1/anything-else", SYNC_AUTH)).status, 404);
    assert.equal((await call(cp, "GET", "/admin/v1/state", SYNC_AUTH)).status, 401);
  });

  it("the token check: exact token only, any scheme case, never an empty token", () => {
    const t = SYNC_TOKEN;
    assert.equal(bearerTokenMatches(`Bearer ${t}`, t), true);
    assert.equal(bearerTokenMatches(`bEaReR ${t}`, t), true);
    for (const bad of [undefined, "", "Bearer", "Bearer ", `Basic ${t}`, `Bearer ${t} `, `Bearer  ${t}`, `Bearer ${t.slice(0, -1)}`, `Bearer ${t}x`, `Bearer ${t.toUpperCase()}`, t]) {
      assert.equal(bearerTokenMatches(bad, t), false, String(bad));
    }
    assert.equal(bearerTokenMatches("Bearer ", ""), false, "no token configured: nothing matches");
    assert.equal(bearerTokenMatches(undefined, ""), false);
  });

  it("sidecar mode requires a token; tokens are 16-512 token68 characters", () => {
    assert.throws(() => loadConfig({ env: { NEXUS_MODE: "sidecar" } }), /syncToken: required in sidecar mode/);
    assert.equal(loadConfig({ env: { NEXUS_MODE: "sidecar", NEXUS_SYNC_TOKEN: SYNC_TOKEN } }).syncToken, SYNC_TOKEN);
    for (const bad of ["short-token", "a".repeat(513), "has space in it 0123456789", "quote\"0123456789abcdef", "pad=middle0123456789"]) {
      assert.throws(() => loadConfig({ env: { NEXUS_SYNC_TOKEN: bad } }), /syncToken/, bad);
    }
    assert.equal(loadConfig({ env: { NEXUS_SYNC_TOKEN: "AbC-._~+/0123456789==" } }).syncToken, "AbC-._~+/0123456789==");
  });

  it("standalone without a configured token makes a random one per process", async () => {
    const a = await startControlPlane({ ...defaultConfig(), control: { host: "127.0.0.1", port: 0 } }, silentLogger());
    const b = await startControlPlane({ ...defaultConfig(), control: { host: "127.0.0.1", port: 0 } }, silentLogger());
    try {
      assert.ok(a.syncToken.length >= 32 && b.syncToken.length >= 32);
      assert.notEqual(a.syncToken, b.syncToken);
      assert.equal((await call(a, "GET", "/nexus/v1/config")).status, 401);
      assert.equal((await call(a, "GET", "/nexus/v1/config", { authorization: `Bearer ${a.syncToken}` })).status, 200);
    } finally {
      await stop(a);
      await stop(b);
    }
  });
});

describe("the compiled filter sends the sync token", () => {
  /** Control plane + one inline VM of the real filter with the given plugin settings and VM environment. */
  async function filterWith(plugin: Record<string, unknown>, env: Record<string, string> = {}) {
    const { cfg, dir } = testBidderConfig({ vms: 1 });
    cfg.syncToken = SYNC_TOKEN;
    const cp = await startControlPlane(cfg, silentLogger());
    const logs: string[] = [];
    const pool = await VmPool.start({
      wasm: readFileSync(cfg.wasmPath), vms: 1, mode: "inline", rootId: "nexus", vmId: "nexus",
      pluginConfig: JSON.stringify({ ...cfg.plugin, host_cluster: HOST_CLUSTER, ...plugin }),
      upstreams: { [HOST_CLUSTER]: cp.controlUrl }, env, autoTick: true,
      sharedData: { bytes: 128 << 20, maxKeys: 200_000 },
      log: (_level, message) => logs.push(message),
    });
    return {
      cp, pool, logs,
      ready: () => vmStatuses(pool).some((s) => s.modelLoaded && s.configVersion >= 0),
      async close() {
        await pool.close();
        await stop(cp);
        await cp.modelWatcher.stop();
        const { rmSync } = await import("node:fs");
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const bidStatus = async (pool: VmPool) =>
    answerOf(await pool.handleHttpRequest({ headers: [[":method", "POST"], [":path", "/openrtb2/bid"], [":authority", "bidder.test"], [":scheme", "http"]], body: [new TextEncoder().encode(README_REQUEST)] }));

  it("inline sync_token: syncs, loads the model and bids", async () => {
    const f = await filterWith({ sync_token: SYNC_TOKEN });
    try {
      for (let i = 0; i < 200 && !f.ready(); i++) await wait(25);
      assert.ok(f.ready(), "model and campaigns loaded through the authenticated sync");
      assert.equal((await bidStatus(f.pool)).status, 200);
    } finally {
      await f.close();
    }
  });

  it("sync_token_env: the token from the VM environment (WASI environ_get, Envoy's vm_config.environment_variables)", async () => {
    const f = await filterWith({ sync_token_env: "NEXUS_SYNC_TOKEN" }, { OTHER: "x", NEXUS_SYNC_TOKEN: SYNC_TOKEN, NEXUS_SYNC_TOKEN_OLD: "y" });
    try {
      for (let i = 0; i < 200 && !f.ready(); i++) await wait(25);
      assert.ok(f.ready(), "model and campaigns loaded through the authenticated sync");
    } finally {
      await f.close();
    }
  });

  it("a wrong or missing token: every call refused (401), nothing loaded, no bids; counted on both sides", async () => {
    for (const [plugin, env, log] of [
      [{ sync_token: "wrong-token-0123456789abcdef" }, {}, undefined],
      [{ sync_token_env: "NEXUS_SYNC_TOKEN" }, {}, /NEXUS_SYNC_TOKEN is not set/],
      [{ sync_token_env: "NEXUS_SYNC_TOKEN" }, { NEXUS_SYNC_TOKEN: "short" }, /not a valid token/],
      [{}, {}, /no sync_token or sync_token_env/],
    ] as const) {
      const f = await filterWith(plugin, env);
      try {
        await wait(600); // a dozen ticks; the leader syncs every 100 ms
        assert.equal(f.ready(), false);
        const failed = Number(f.pool.metrics.find("nexus_sync_failed_total")?.value ?? 0n);
        assert.ok(failed >= 2, `nexus_sync_failed_total ${failed}`);
        const m = (await call(f.cp, "GET", "/metrics")).text;
        assert.ok(metricValue(m, "nexus_host_filter_unauthorized_total", { endpoint: "sync" }) >= 2);
        assert.equal(f.cp.sync.syncs, 0);
        const r = await bidStatus(f.pool);
        assert.equal(r.status, 204);
        assert.equal(r.headers["x-nexus-nobid-reason"], "no_model");
        if (log) assert.ok(f.logs.some((l) => log.test(l)), `logged: ${f.logs.join(" | ")}`);
      } finally {
        await f.close();
      }
    }
  });

  it("refuses a plugin configuration with both sync_token and sync_token_env, a malformed token, or bad replay claim settings", async () => {
    const { cfg, dir } = testBidderConfig({ vms: 1 });
    try {
      const bad = [
        { sync_token: SYNC_TOKEN, sync_token_env: "X" }, { sync_token: "short" }, { sync_token: "with space 0123456789abc" }, { sync_token_env: 5 },
        { replay_claim: "yes" }, { replay_claim_timeout_ms: 0 }, { replay_claim_timeout_ms: 1001 }, { replay_claim_failure: "maybe" }, { replay_claim_failure: true },
        { replay_cluster: "" }, { replay_cluster: 5 }, { replay_cluster: null },
      ];
      for (const plugin of bad) {
        await assert.rejects(
          VmPool.start({ wasm: readFileSync(cfg.wasmPath), vms: 1, mode: "inline", rootId: "nexus", pluginConfig: JSON.stringify({ ...plugin, host_cluster: HOST_CLUSTER }), upstreams: { [HOST_CLUSTER]: "http://127.0.0.1:9" }, log: () => {} }),
          /plugin configuration was rejected/,
          JSON.stringify(plugin),
        );
      }
    } finally {
      const { rmSync } = await import("node:fs");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("control plane listener", () => {
  it("binds to loopback by default (bid and control), from defaults and from an empty environment", () => {
    assert.equal(defaultConfig().control.host, "127.0.0.1");
    assert.equal(defaultConfig().bid.host, "127.0.0.1");
    const cfg = loadConfig({ env: {} });
    assert.equal(cfg.control.host, "127.0.0.1");
    assert.equal(cfg.bid.host, "127.0.0.1");
  });

  it("a default configuration listens on 127.0.0.1 only, not on 0.0.0.0 or another interface", async () => {
    const cfg = loadConfig({ env: {} });
    cfg.control.port = 0;
    const cp = await startControlPlane(cfg, silentLogger());
    try {
      const addr = cp.control.server.address();
      assert.ok(addr && typeof addr === "object");
      assert.equal(addr.address, "127.0.0.1");
      assert.notEqual(addr.address, "0.0.0.0");
      assert.notEqual(addr.address, "::");
      const external = Object.values(networkInterfaces())
        .flat()
        .filter((i) => i && !i.internal && i.family === "IPv4")
        .map((i) => i!.address);
      for (const ip of external) {
        const refused = await new Promise<boolean>((resolve) => {
          const s = connect(addr.port, ip);
          s.once("connect", () => {
            s.destroy();
            resolve(false);
          });
          s.once("error", () => resolve(true));
        });
        assert.ok(refused, `the control port answers on ${ip}`);
      }
    } finally {
      await stop(cp);
    }
  });
});
