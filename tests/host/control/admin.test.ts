// Control-plane endpoints of a running bidder: health, readiness, metrics, and
// the admin API behind a bearer token (pause/resume and budgets reach the filter).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "undici";
import { README_REQUEST, get, post, startTestBidder } from "../../helpers/bidder.ts";
import type { Standalone } from "../../../host/src/standalone.ts";

const TOKEN = "test-admin-token-0123456789";
let app: Standalone;

before(async () => {
  app = await startTestBidder({ vms: 2, adminToken: TOKEN });
});
after(async () => {
  await app?.close();
});

async function admin(method: string, path: string, body?: unknown, token: string | null = TOKEN) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const r = await request(`${app.controlUrl}${path}`, { method: method as "GET", headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.body.text();
  return { status: r.statusCode, json: () => JSON.parse(text), text };
}

async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail("condition not reached in time");
}

describe("control plane", () => {
  it("is healthy and ready once the VMs have the model", async () => {
    assert.deepEqual((await get(`${app.controlUrl}/healthz`)).json(), { status: "ok" });
    const ready = await get(`${app.controlUrl}/readyz`);
    assert.equal(ready.status, 200, ready.text);
  });

  it("exports the host's and the filter's metrics on one /metrics", async () => {
    await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
    const text = (await get(`${app.controlUrl}/metrics`)).text;
    assert.match(text, /^nexus_host_sync_requests_total\{outcome="ok"\} [1-9]/m);
    assert.match(text, /^nexus_bid_requests_total [1-9]/m);
    assert.match(text, /^nexus_model_loaded 1/m);
  });

  it("refuses the admin API without the right bearer token", async () => {
    assert.equal((await admin("GET", "/admin/v1/state", undefined, null)).status, 401);
    assert.equal((await admin("GET", "/admin/v1/state", undefined, "wrong-token-wrong-token")).status, 401);
    assert.equal((await admin("GET", "/admin/v1/state", undefined, TOKEN.slice(0, -1))).status, 401);
    assert.equal((await admin("GET", "/admin/v1/state")).status, 200);
  });

  it("pauses and resumes a campaign: the filter stops and restarts bidding", async () => {
    const paused = await admin("POST", "/admin/v1/campaigns/test-cpa/pause");
    assert.equal(paused.status, 200, paused.text);
    await until(async () => (await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST)).headers["x-nexus-nobid-reason"] === "paused");
    assert.equal((await admin("POST", "/admin/v1/campaigns/test-cpa/resume")).status, 200);
    await until(async () => (await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST)).status === 200);
  });

  it("changes a budget, validating it", async () => {
    assert.equal((await admin("PUT", "/admin/v1/campaigns/test-cpa/budget", { daily_micros: -5 })).status, 400);
    assert.equal((await admin("PUT", "/admin/v1/campaigns/nope/budget", { daily_micros: 5 })).status, 404);
    const r = await admin("PUT", "/admin/v1/campaigns/test-cpa/budget", { daily_micros: 123456789 });
    assert.equal(r.status, 200);
    assert.equal(r.json().budget.daily_micros, 123456789);
    assert.equal(r.json().scope, "process", "the memory budget source: this process only");
    const state = (await admin("GET", "/admin/v1/state")).json();
    assert.equal(state.campaigns[0].budget.daily_micros, 123456789);
    assert.equal(state.campaigns[0].override, null, "no fleet override with the memory source");
  });

  it("has no fleet overrides to clear with the memory budget source", async () => {
    const r = await admin("DELETE", "/admin/v1/campaigns/test-cpa/override");
    assert.equal(r.status, 400, r.text);
    assert.match(r.json().error, /memory budget source/);
  });

  it("answers malformed admin calls with a 400 and a reason, and changes nothing", async () => {
    const version = (await admin("GET", "/admin/v1/state")).json().config_version;
    const bad = await admin("POST", "/admin/v1/campaigns/%E0%A4%A/pause");
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.json().error, /percent-encoding/);
    for (const body of [null, [1], "", {}]) {
      const r = await admin("PUT", "/admin/v1/campaigns/test-cpa/budget", body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    }
    assert.equal((await admin("GET", "/admin/v1/state")).json().config_version, version, "no new configuration version");
  });
});

describe("liveness when the VMs' shared data is wedged", () => {
  it("/healthz is a 503 with the reason, so that the orchestrator restarts the process", async () => {
    const wedged = await startTestBidder({ vms: 1 });
    try {
      assert.equal((await get(`${wedged.controlUrl}/healthz`)).status, 200);
      // As a thread that timed out on the lock marks it (SharedDataStore.lock): its holder died
      // inside the store (a worker terminated, out of memory), and every VM would wait on it for
      // ever, while /healthz said ok (audit).
      Atomics.store(new Int32Array(wedged.pool.shared.buffer), 11, 1);
      assert.equal(wedged.pool.shared.wedged(), true);
      const h = await get(`${wedged.controlUrl}/healthz`);
      assert.equal(h.status, 503);
      assert.equal(h.json().status, "dead");
      assert.match(h.json().reason, /shared data is locked for good/);
    } finally {
      await wedged.close();
    }
  });
});
