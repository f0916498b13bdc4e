// The host configuration: defaults, file, environment, and clear errors.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../../host/src/config.ts";
import { ConfigError } from "../../../host/src/errors.ts";

function file(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "nexus-cfg-"));
  const p = join(dir, "config.json");
  writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
  return p;
}

describe("host configuration", () => {
  it("defaults to standalone on loopback with the demo model", () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.mode, "standalone");
    assert.equal(c.bid.host, "127.0.0.1");
    assert.equal(c.control.host, "127.0.0.1");
    assert.ok(c.model.store.endsWith(join("models", "demo")));
    assert.equal(c.model.allowUnsigned, false);
  });

  it("merges a file and then the environment", () => {
    const f = file({ vms: 4, bid: { port: 18080 }, model: { pollMs: 2000 }, campaignsPath: "c.json" });
    const c = loadConfig({ file: f, env: { NEXUS_VMS: "3", NEXUS_BUDGET_SOURCE: "redis" } });
    assert.equal(c.vms, 3);
    assert.equal(c.bid.port, 18080);
    assert.equal(c.model.pollMs, 2000);
    assert.equal(c.budget.source, "redis");
    assert.equal(c.campaignsPath, join(f, "..", "c.json"), "paths in a file are relative to it");
  });

  it("the model store: s3:// in any case is S3, a path is a directory made absolute", () => {
    assert.equal(loadConfig({ env: { NEXUS_MODEL_STORE: "S3://nexus-models/prod" } }).model.store, "s3://nexus-models/prod");
    assert.equal(loadConfig({ env: { NEXUS_MODEL_STORE: "s3://nexus-models" } }).model.store, "s3://nexus-models");
    assert.equal(loadConfig({ env: { NEXUS_MODEL_STORE: "models/x" } }).model.store, join(process.cwd(), "models", "x"));
    assert.throws(() => loadConfig({ env: { NEXUS_MODEL_STORE: "https://bucket.example/models" } }), /model\.store: .*expected a directory or s3:\/\/bucket\/prefix/);
    assert.equal(loadConfig({ env: { NEXUS_S3_ENDPOINT: "http://minio:9000" } }).model.s3Endpoint, "http://minio:9000");
  });

  it("the graceful stop: 15 s of drain with a 10 s notice window by default, from the file or NEXUS_DRAIN_MS / NEXUS_NOTICE_DRAIN_MS", () => {
    assert.deepEqual(loadConfig({ env: {} }).drain, { totalMs: 15_000, noticeMs: 10_000 });
    assert.deepEqual(loadConfig({ file: file({ drain: { noticeMs: 4000 } }), env: { NEXUS_DRAIN_MS: "25000" } }).drain, { totalMs: 25_000, noticeMs: 4000 });
    assert.equal(loadConfig({ env: { NEXUS_NOTICE_DRAIN_MS: "0" } }).drain.noticeMs, 0, "0: no window");
    assert.throws(() => loadConfig({ env: { NEXUS_NOTICE_DRAIN_MS: "-1" } }), /drain\.noticeMs: expected an integer 0-/);
    assert.throws(() => loadConfig({ env: { NEXUS_DRAIN_MS: "1.5" } }), /drain\.totalMs: expected an integer 0-/);
  });

  it("the filter's hash_bits for a sidecar host: 0 (not given) by default, 10-24 from the file or NEXUS_MODEL_HASH_BITS", () => {
    assert.equal(loadConfig({ env: {} }).model.hashBits, 0);
    assert.equal(loadConfig({ env: { NEXUS_MODEL_HASH_BITS: "18" } }).model.hashBits, 18);
    assert.equal(loadConfig({ file: file({ model: { hashBits: 20 } }), env: {} }).model.hashBits, 20);
    for (const bad of ["9", "25", "18.5", "-1"]) {
      assert.throws(() => loadConfig({ env: { NEXUS_MODEL_HASH_BITS: bad } }), /model\.hashBits: expected 0 \(not given\) or an integer 10-24/, bad);
    }
  });

  it("names the field of every invalid value", () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ nope: 1 }, /unknown key "nope"/],
      [{ bid: { prot: 1 } }, /bid\.prot: unknown key/],
      [{ vms: 0 }, /vms: expected 1-64/],
      [{ mode: "edge" }, /mode: expected one of standalone, sidecar/],
      [{ bid: { port: 70000 } }, /bid\.port: expected a port/],
      [{ adminToken: "short" }, /adminToken: use at least 16 characters/],
      // Tokens no Authorization header can carry: the admin API would answer 401 to every call.
      [{ adminToken: "admintoken-0123456789\n" }, /adminToken: use printable ASCII without spaces/],
      [{ adminToken: "pässwörd-0123456789" }, /adminToken: use printable ASCII without spaces/],
      [{ adminToken: "admin token 0123456789" }, /adminToken: use printable ASCII without spaces/],
      // Found only at the first poll before: a scheme the store does not take, an endpoint without one.
      [{ model: { store: "gs://bucket/models" } }, /model\.store: "gs:\/\/bucket\/models": expected a directory or s3:\/\/bucket\/prefix/],
      [{ model: { s3Endpoint: "minio:9000" } }, /model\.s3Endpoint: "minio:9000": expected an http:\/\/ or https:\/\/ URL/],
      [{ plugin: [] }, /plugin: expected an object/],
      // Types: the string "false" would be truthy (unsigned models accepted); a number is no token.
      [{ model: { allowUnsigned: "false" } }, /model\.allowUnsigned: expected a boolean/],
      [{ adminToken: 1234567890123456789 }, /adminToken: expected a string/],
      [{ budget: { pacingSeconds: "60" } }, /budget\.pacingSeconds: expected a number/],
      ['{"budget": {"leaseSeconds": 1e999}}', /budget\.leaseSeconds: expected a finite number/],
      // Node's timers fire after 1 ms above 2^31 - 1 ms: the model store would be polled in a loop.
      [{ model: { pollMs: 1e12 } }, /model\.pollMs: expected an integer 100-2147483647/],
      [{ budget: { redisTimeoutMs: 2 ** 31 } }, /budget\.redisTimeoutMs: expected an integer/],
      [{ logLevel: "verbose" }, /logLevel: expected one of/],
    ];
    for (const [content, msg] of cases) {
      assert.throws(() => loadConfig({ file: file(content), env: {} }), (e: unknown) => e instanceof ConfigError && msg.test((e as Error).message), JSON.stringify(content));
    }
    assert.throws(() => loadConfig({ file: file("{broken"), env: {} }), /config file .*: /);
    assert.throws(() => loadConfig({ env: { NEXUS_VMS: "many" } }), /NEXUS_VMS: expected a number/);
    assert.throws(() => loadConfig({ env: { NEXUS_BID_PORT: " " } }), /NEXUS_BID_PORT: expected a number/, "blank is not port 0");
    assert.throws(() => loadConfig({ env: { NEXUS_MODEL_POLL_MS: "1e12" } }), /model\.pollMs: expected an integer/);
    assert.throws(() => loadConfig({ env: { NEXUS_PLUGIN_CONFIG: "{x" } }), /NEXUS_PLUGIN_CONFIG/);
    assert.throws(() => loadConfig({ env: { NEXUS_PLUGIN_CONFIG: "[]" } }), (e: Error) => e.message === "NEXUS_PLUGIN_CONFIG: expected a JSON object");
    // A repeated key, refused in a config file, was taken silently here (the last one won).
    assert.throws(
      () => loadConfig({ env: { NEXUS_PLUGIN_CONFIG: '{"fx_rates":{"EUR":1.08,"EUR":108}}' } }),
      (e: Error) => e instanceof ConfigError && /^NEXUS_PLUGIN_CONFIG: .*EUR.*repeated key/.test(e.message),
    );
    // Hexadecimal is not a port number in disguise (Number("0x1F90") is 8080).
    assert.throws(() => loadConfig({ env: { NEXUS_BID_PORT: "0x1F90" } }), /NEXUS_BID_PORT: expected a number, got "0x1F90"/);
    assert.equal(loadConfig({ env: { NEXUS_BID_PORT: " 8081 " } }).bid.port, 8081);
    // A boolean that is not 1/true/0/false is refused, not read as false.
    for (const v of ["yes", "TRUE", "on"]) assert.throws(() => loadConfig({ env: { NEXUS_MODEL_ALLOW_UNSIGNED: v } }), /NEXUS_MODEL_ALLOW_UNSIGNED: expected 1, true, 0 or false/, v);
    assert.equal(loadConfig({ env: { NEXUS_MODEL_ALLOW_UNSIGNED: "true" } }).model.allowUnsigned, true);
    assert.equal(loadConfig({ env: { NEXUS_MODEL_ALLOW_UNSIGNED: "0" } }).model.allowUnsigned, false);
    // A Redis URL that is no URL (ioredis would take it as a host name and retry for ever); not echoed.
    assert.throws(() => loadConfig({ env: { NEXUS_BUDGET_SOURCE: "redis", NEXUS_REDIS_URL: "notaurl" } }), (e: Error) => /budget\.redisUrl: expected redis:\/\//.test(e.message) && !e.message.includes("notaurl"));
    // The budget state file is the memory source's; a path from the environment is made absolute.
    assert.throws(() => loadConfig({ env: { NEXUS_BUDGET_SOURCE: "redis", NEXUS_BUDGET_STATE_FILE: "s.json" } }), /budget\.stateFile: only for budget\.source memory/);
    assert.equal(loadConfig({ env: { NEXUS_BUDGET_STATE_FILE: "s.json" } }).budget.stateFile, join(process.cwd(), "s.json"));
    assert.equal(loadConfig({ env: { NEXUS_BUDGET_STATE_FILE: "s.json" } }).budget.stateLockWaitMs, 30_000);
    assert.equal(loadConfig({ env: { NEXUS_BUDGET_STATE_LOCK_WAIT_MS: "0" } }).budget.stateLockWaitMs, 0);
    assert.throws(() => loadConfig({ env: { NEXUS_BUDGET_STATE_LOCK_WAIT_MS: "-1" } }), /budget\.stateLockWaitMs/);
    // Envoy's ledgers outlive a restart of the sidecar host: their grants would be counted twice.
    assert.throws(() => loadConfig({ env: { NEXUS_MODE: "sidecar", NEXUS_SYNC_TOKEN: "sidecar-token-0123456789", NEXUS_BUDGET_STATE_FILE: "s.json" } }), /budget\.stateFile: standalone mode only/);
    for (const url of ["redis://127.0.0.1:6379", "rediss://:secret@cache.internal:6380/2", "/run/redis.sock"]) {
      assert.equal(loadConfig({ env: { NEXUS_BUDGET_SOURCE: "redis", NEXUS_REDIS_URL: url } }).budget.redisUrl, url);
    }
  });

  it("refuses another account currency with the default (USD) exchange rates", () => {
    // They would be read as rates into that currency: a 10 CNY floor taken for 1.4 JPY.
    for (const env of [{ NEXUS_PLUGIN_CONFIG: '{"currency":"JPY"}' }, { NEXUS_PLUGIN_CONFIG: '{"currency":"EUR"}' }]) {
      assert.throws(() => loadConfig({ env }), (e: Error) => e instanceof ConfigError && /plugin\.currency .*demo rates to USD.*set plugin\.fx_rates/.test(e.message), JSON.stringify(env));
    }
    assert.throws(() => loadConfig({ file: file({ plugin: { currency: "JPY" } }), env: {} }), /plugin\.currency "JPY"/);
    // With rates of its own, or none, it starts; USD keeps the defaults.
    assert.deepEqual(loadConfig({ env: { NEXUS_PLUGIN_CONFIG: '{"currency":"JPY","fx_rates":{"USD":150,"CNY":21}}' } }).plugin.fx_rates, { USD: 150, CNY: 21 });
    assert.deepEqual(loadConfig({ env: { NEXUS_PLUGIN_CONFIG: '{"currency":"JPY","fx_rates":{}}' } }).plugin.fx_rates, {});
    assert.deepEqual(loadConfig({ env: { NEXUS_PLUGIN_CONFIG: '{"currency":"USD"}' } }).plugin.fx_rates, { CNY: 0.14, EUR: 1.08, GBP: 1.27 });
  });

  it("floor_feature_currency: CNY for the bundled demo model only; one without a rate is refused", () => {
    // npm start: the demo model learned CNY floors.
    assert.equal(loadConfig({ env: {} }).plugin.floor_feature_currency, "CNY");
    // Another model keeps floors as sent (a model trained on USD floors must not get them in CNY).
    assert.equal(loadConfig({ env: { NEXUS_MODEL_STORE: "/srv/models" } }).plugin.floor_feature_currency, undefined);
    // The demo model with rates that have no CNY: floors as sent, not a refusal (it started before).
    assert.equal(loadConfig({ env: { NEXUS_PLUGIN_CONFIG: '{"fx_rates":{"EUR":1.08}}' } }).plugin.floor_feature_currency, undefined);
    assert.equal(loadConfig({ env: { NEXUS_PLUGIN_CONFIG: '{"currency":"JPY","fx_rates":{"USD":150}}' } }).plugin.floor_feature_currency, undefined);
    // Said explicitly: kept, and refused without a rate.
    assert.equal(loadConfig({ env: { NEXUS_PLUGIN_CONFIG: '{"floor_feature_currency":""}' } }).plugin.floor_feature_currency, "");
    assert.throws(
      () => loadConfig({ env: { NEXUS_MODEL_STORE: "/srv/models", NEXUS_PLUGIN_CONFIG: '{"fx_rates":{"EUR":1.08},"floor_feature_currency":"CNY"}' } }),
      (e: Error) => e instanceof ConfigError && /plugin\.floor_feature_currency "CNY" .*has no rate in plugin\.fx_rates/.test(e.message),
    );
    assert.equal(loadConfig({ env: { NEXUS_PLUGIN_CONFIG: '{"fx_rates":{"EUR":1.08},"floor_feature_currency":"USD"}' } }).plugin.floor_feature_currency, "USD", "the account currency needs no rate");
  });

  it("sidecar mode does not judge the filter's currency fields (Envoy's plugin configuration holds them)", () => {
    const sidecar = { NEXUS_MODE: "sidecar", NEXUS_SYNC_TOKEN: "sidecar-token-0123456789" };
    assert.equal(loadConfig({ env: { ...sidecar, NEXUS_PLUGIN_CONFIG: '{"currency":"EUR","utc_offset_minutes":60}' } }).plugin.currency, "EUR");
    assert.equal(loadConfig({ env: { ...sidecar, NEXUS_PLUGIN_CONFIG: '{"currency":"EUR","fx_rates":{"USD":0.92}}' } }).plugin.floor_feature_currency, undefined);
  });
});
