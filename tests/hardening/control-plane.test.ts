// The control plane's defences: the admin API's bearer token (constant-time
// comparison; no token or a wrong one → 401; no token configured → the admin
// API is off), hostile bodies on the sync endpoints, and the loopback default
// of the listener that serves the (unauthenticated) sync endpoints.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { defaultConfig, loadConfig, type HostConfig } from "../../host/src/config.ts";
import { startControlPlane, type ControlPlane } from "../../host/src/standalone.ts";
import { silentLogger } from "../../host/src/log.ts";
import { PACKAGE_ROOT } from "../../host/src/paths.ts";

const TOKEN = "hardening-admin-token-0123456789abcdef";

async function start(adminToken: string, host = "127.0.0.1"): Promise<ControlPlane> {
  const cfg: HostConfig = defaultConfig();
  cfg.control = { host, port: 0 };
  cfg.adminToken = adminToken;
  return startControlPlane(cfg, silentLogger());
}

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
  before(async () => {
    cp = await start(TOKEN);
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

  it("the right token: 200; the scheme is case-insensitive (RFC 7235)", async () => {
    assert.equal((await call(cp, "GET", "/admin/v1/state", { authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.equal((await call(cp, "GET", "/admin/v1/state", { authorization: `bearer ${TOKEN}` })).status, 200);
  });

  it("compares in constant time: SHA-256 digests of both sides through crypto.timingSafeEqual", () => {
    const src = readFileSync(join(PACKAGE_ROOT, "host/src/server/control-server.ts"), "utf8");
    const fn = src.slice(src.indexOf("private authorized("), src.indexOf("private async admin("));
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
    ];
    for (const [what, body] of notJson) {
      const r = await call(cp, "POST", "/nexus/v1/sync", { "content-type": "application/json" }, body);
      assert.equal(r.status, 400, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
    }
    // The sync report parser is lenient: JSON of another shape is read as an empty report.
    const odd: Array<[string, string]> = [
      ["array", "[]"],
      ["deep valid", "[".repeat(5000) + "]".repeat(5000)],
      ["proto", "{\"__proto__\":{\"polluted\":1},\"constructor\":{\"prototype\":{\"polluted\":1}},\"campaigns\":[{\"id\":\"__proto__\",\"granted_micros\":1e308}]}"],
    ];
    for (const [what, body] of odd) {
      const r = await call(cp, "POST", "/nexus/v1/sync", { "content-type": "application/json" }, body);
      assert.ok(r.status === 200 || r.status === 400, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, "no prototype pollution");
    // A body above the sync endpoint's 4 MiB limit: refused without reading it all, and the server lives on.
    const big = await call(cp, "POST", "/nexus/v1/sync", { "content-type": "application/json" }, Buffer.alloc(5 << 20, 0x20));
    assert.ok(big.status >= 400, `oversized sync body: ${big.status}`);
    assert.equal((await call(cp, "GET", "/healthz")).status, 200);
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
