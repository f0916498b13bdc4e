// The host's logs: JSON lines (pino) with ids to correlate (sync_id per sync call, req_id per
// admin call), and nothing that must not leave the process: no admin token (given or wrong), no
// Authorization header, no bid request body or its personal data, at any level.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { defaultConfig } from "../../host/src/config.ts";
import { createLogger } from "../../host/src/log.ts";
import { startStandalone } from "../../host/src/standalone.ts";
import { FIXTURES, get, post, writeTestModel } from "../helpers/bidder.ts";

const TOKEN = "log-test-admin-token-5f0c2a9e71d4";
const WRONG = "wrong-token-3b8e6d1c0a97f254";

test("host logs are JSON lines with sync/request ids, and never carry the token or a bid request", async () => {
  const lines: string[] = [];
  const log = createLogger("debug", "nexus-host", { write: (s: string) => void lines.push(s) });
  const dir = mkdtempSync(join(tmpdir(), "nexus-logs-"));
  const { publicKeyPem } = writeTestModel(dir);
  writeFileSync(join(dir, "campaigns.json"), readFileSync(join(FIXTURES, "campaigns/test-campaigns.json")));
  const cfg = defaultConfig();
  cfg.bid = { host: "127.0.0.1", port: 0 };
  cfg.control = { host: "127.0.0.1", port: 0 };
  cfg.plugin = { tick_ms: 50, sync_period_ms: 100, decision_budget_ms: 1000 };
  cfg.campaignsPath = join(dir, "campaigns.json");
  cfg.model = { ...cfg.model, store: dir, file: "test.nxm", publicKey: publicKeyPem };
  cfg.adminToken = TOKEN;
  const app = await startStandalone(cfg, log);
  // What a bid request carries that must not be logged.
  const secrets = { domain: "marker-4c1d.example", page: "https://marker-4c1d.example/private/article?u=77", ua: "MarkerAgent/9.9 (secret-ua-e7b2)", ip: "198.51.100.77", buyer: "buyer-uid-9d3f1a" };
  const bidBody = JSON.stringify({
    id: "log-req-1",
    imp: [{ id: "1", banner: { w: 300, h: 250 }, bidfloor: 0.5 }],
    site: { domain: secrets.domain, page: secrets.page },
    device: { ua: secrets.ua, ip: secrets.ip, geo: { country: "USA" } },
    user: { buyeruid: secrets.buyer },
  });
  try {
    await app.ready(20_000);
    assert.equal((await post(`${app.bidUrl}/openrtb2/bid`, bidBody)).status, 200);
    assert.equal((await post(`${app.bidUrl}/openrtb2/bid`, bidBody.replace('"log-req-1"', '"log-req-2"').replace('"w":300', '"w":999'))).status, 204);
    assert.equal((await post(`${app.bidUrl}/openrtb2/bid`, bidBody.slice(0, 80))).status, 400);
    const auth = { authorization: `Bearer ${TOKEN}` };
    assert.equal((await get(`${app.controlUrl}/admin/v1/state`, auth)).status, 200);
    assert.equal((await post(`${app.controlUrl}/admin/v1/campaigns/test-cpa/pause`, "", auth)).status, 200);
    assert.equal((await post(`${app.controlUrl}/admin/v1/campaigns/test-cpa/resume`, "", { ...auth, "x-request-id": "ops-ticket-42" })).status, 200);
    const budget = await request(`${app.controlUrl}/admin/v1/campaigns/test-cpa/budget`, { method: "PUT", body: JSON.stringify({ daily_micros: 5_000_000 }), headers: { ...auth, "content-type": "application/json" } });
    assert.equal(budget.statusCode, 200);
    await budget.body.text();
    assert.equal((await get(`${app.controlUrl}/admin/v1/state`, { authorization: `Bearer ${WRONG}` })).status, 401);
    // A sync call the host refuses (logged as a warning with its sync id).
    assert.equal((await post(`${app.controlUrl}/nexus/v1/sync`, `{"vm": 1, "token": "${TOKEN}"`, { authorization: `Bearer ${app.syncToken}` })).status, 400);
    await new Promise((r) => setTimeout(r, 300)); // a few more syncs from the filter
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const all = lines.join("");
  const records = lines.flatMap((chunk) => chunk.split("\n").filter((l) => l.length > 0)).map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      assert.fail(`not a JSON line: ${l}`);
    }
  });
  assert.ok(records.length > 5, `${records.length} log lines`);
  for (const r of records) {
    assert.equal(typeof r.level, "number");
    assert.equal(typeof r.time, "string");
    assert.equal(r.service, "nexus-host");
    assert.equal(typeof r.msg, "string");
  }
  // Nothing secret, at any level (debug included).
  for (const s of [TOKEN, WRONG, app.syncToken, "Bearer", bidBody, ...Object.values(secrets)]) assert.ok(!all.includes(s), `the logs contain ${s}`);
  // At info level and above: no part of a bid request at all (not even its id).
  const info = records.filter((r) => (r.level as number) >= 30);
  assert.ok(!JSON.stringify(info).includes("log-req-"), "bid request ids are not logged at info");
  // Ids to correlate.
  const admin = records.filter((r) => r.event === "admin_request");
  assert.equal(admin.length, 5);
  for (const r of admin) assert.match(String(r.req_id), /^[\w.:-]+$/);
  assert.ok(admin.some((r) => r.req_id === "ops-ticket-42"), "a caller's x-request-id is kept");
  assert.deepEqual(admin.map((r) => r.status), [200, 200, 200, 200, 401]);
  assert.ok(records.some((r) => r.event === "admin_pause" && typeof r.req_id === "string"));
  assert.ok(records.some((r) => r.event === "admin_budget" && typeof r.req_id === "string"));
  const syncs = records.filter((r) => r.event === "sync");
  assert.ok(syncs.length >= 1, "sync lines at debug level");
  for (const r of syncs) assert.equal(typeof r.sync_id, "string");
  assert.equal(new Set(syncs.map((r) => r.sync_id)).size, syncs.length, "one id per sync round trip");
  const failed = records.find((r) => r.event === "sync_failed");
  assert.ok(failed && typeof failed.sync_id === "string" && (failed.level as number) === 40);
});

test("LogThrottle: one line per interval for a recurring failure, the lines held back counted in the next", async () => {
  const { LogThrottle } = await import("../../host/src/log.ts");
  let now = 0;
  const t = new LogThrottle(10_000, () => now);
  assert.equal(t.take(), 0, "the first is written");
  for (let i = 0; i < 39; i++) assert.equal(t.take(), undefined, "held back within the interval");
  now = 9_999;
  assert.equal(t.take(), undefined);
  now = 10_000;
  assert.equal(t.take(), 40, "written, with the 40 held back");
  now = 30_000;
  assert.equal(t.take(), 0);
});
