// Reloading the campaign set at runtime (POST /admin/v1/campaigns/reload; SIGHUP is tested on
// the CLI process in tests/tools/cli.test.ts), through a real standalone bidder, with the
// in-memory budget source and with Redis: an added campaign is leased and bid for, a removed one
// gets no new money while a win for a bid made before the removal is still charged, a changed one
// gets its new settings and limits; a version that is not higher (409) or a bad file (400)
// changes nothing.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "undici";
import { FIXTURES, README_REQUEST, get, noticeUrl, post, testBidderConfig } from "../../helpers/bidder.ts";
import { cpmToMicros, readLedger } from "../../helpers/ledger.ts";
import { sharedRedisPrefixes } from "../../helpers/redis-server.ts";
import { until } from "../../hardening/helpers.ts";
import { startStandalone, type Standalone } from "../../../host/src/standalone.ts";
import { silentLogger } from "../../../host/src/log.ts";
import type { HostConfig } from "../../../host/src/config.ts";

const TOKEN = "reload-test-admin-token-0123456789";
const TOTAL = 5_000_000_000;

/** A campaign of the test fixture under another id (bids on README_REQUEST), budget `total`. */
function campaign(id: string, total = TOTAL): Record<string, any> {
  const c = JSON.parse(readFileSync(`${FIXTURES}campaigns/test-campaigns.json`, "utf8")).campaigns[0];
  return { ...c, id, budget: { total_micros: total, daily_micros: total, hourly_micros: 0, minute_micros: 0 } };
}

/** One bidder whose campaigns file the test rewrites; `budget` selects the budget source. */
function reloadScenario(budget: () => Partial<HostConfig["budget"]>, redis?: ReturnType<typeof sharedRedisPrefixes>) {
  let app: Standalone;
  let cfg: HostConfig;
  let dir: string;

  const writeSet = (set: unknown) => writeFileSync(cfg.campaignsPath, typeof set === "string" ? set : JSON.stringify(set));
  const reload = async (token = TOKEN) => {
    const r = await request(`${app.controlUrl}/admin/v1/campaigns/reload`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    const text = await r.body.text();
    return { status: r.statusCode, text, json: () => JSON.parse(text) };
  };
  const state = async () => (await get(`${app.controlUrl}/admin/v1/state`, { authorization: `Bearer ${TOKEN}` })).json();
  const published = async () => (await get(`${app.controlUrl}/nexus/v1/config`, { authorization: `Bearer ${app.syncToken}` })).text;
  const bid = () => post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
  const bidFor = async () => {
    const r = await bid();
    return r.status === 200 ? (r.json().seatbid[0].bid[0].cid as string) : `no-bid ${r.headers["x-nexus-nobid-reason"]}`;
  };
  /** The campaign's hash in Redis (limits of the last lease, granted to all pods). */
  const redisCampaign = async (id: string) => redis!.client().hgetall(`{nexus:${cfg.budget.keyPrefix}:${id}}:campaign`);

  /** The campaign ids the budget source leases from now on. */
  const recordLeases = (): Set<string> => {
    const ids = new Set<string>();
    const lease = app.budget.lease.bind(app.budget);
    app.budget.lease = (limits, report, nowMs) => (ids.add(limits.id), lease(limits, report, nowMs));
    return ids;
  };

  before(async () => {
    ({ cfg, dir } = testBidderConfig({ vms: 2, adminToken: TOKEN, campaigns: { version: 1, campaigns: [campaign("old-cpa")] }, budget: budget() }));
    app = await startStandalone(cfg, silentLogger());
    await app.ready(20_000);
  });
  after(async () => {
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("adds and removes campaigns: the new one is bid for, the removed one gets no new money and its win is charged", async () => {
    assert.equal(await bidFor(), "old-cpa");
    // A bid of the campaign about to be removed: its reservation is settled after the removal.
    const b = (await bid()).json().seatbid[0].bid[0];
    assert.equal(b.cid, "old-cpa");

    writeSet({ version: 2, campaigns: [campaign("new-cpa")] });
    const r = await reload();
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json(), { config_version: 2, file_version: 2, added: ["new-cpa"], removed: ["old-cpa"], changed: [] });
    const s = await state();
    assert.equal(s.config_version, 2);
    assert.deepEqual(s.campaigns.map((c: { id: string }) => c.id), ["new-cpa"]);

    await until(async () => (await bidFor()) === "new-cpa", 10_000, "the filter bids for the added campaign");
    await until(() => app.sync.filter.configVersion === 2, 10_000, "the filter has loaded version 2");
    assert.ok(readLedger(app.pool.shared, "new-cpa")!.granted > 0n, "the added campaign was leased");
    if (redis) assert.equal(Number((await redisCampaign("new-cpa")).total), TOTAL, "Redis holds the added campaign's limits");

    // No new money for the removed campaign: the host leases it no more, its grant stays.
    const held = readLedger(app.pool.shared, "old-cpa")!;
    const redisGranted = redis ? (await redisCampaign("old-cpa")).granted : undefined;
    const leased = recordLeases();
    const syncs = app.sync.syncs;
    await until(() => app.sync.syncs >= syncs + 3, 10_000, "a few more syncs");
    assert.ok(leased.has("new-cpa") && !leased.has("old-cpa"), `leased: ${[...leased]}`);
    assert.equal(readLedger(app.pool.shared, "old-cpa")!.granted, held.granted, "no new grant for a removed campaign");
    if (redis) assert.equal((await redisCampaign("old-cpa")).granted, redisGranted, "Redis grants the removed campaign nothing more");
    assert.ok(held.reserved >= cpmToMicros(String(b.price)), "the bid's reservation is outstanding");

    // The win of the bid made before the removal is charged to the removed campaign.
    const price = (b.price * 0.5).toFixed(3);
    const win = await get(noticeUrl(b.nurl, price));
    assert.equal(win.status, 200, win.text);
    assert.deepEqual(win.json(), { status: "charged" });
    const after = readLedger(app.pool.shared, "old-cpa")!;
    assert.equal(after.charged - held.charged, cpmToMicros(price));
    assert.equal(after.wins - held.wins, 1n);
    assert.ok(after.reserved < held.reserved, "the reservation is released");
    // The host keeps answering syncs (a report that still names the removed campaign is no error).
    const ok = app.sync.syncs;
    await until(() => app.sync.syncs >= ok + 2, 10_000, "syncs go on");
    assert.equal(app.sync.budgetErrors, 0);
    // Host metrics: grants are counted; the removed campaign's granted gauge is gone, not stale.
    const metrics = (await get(`${app.controlUrl}/metrics`)).text;
    assert.match(metrics, /^nexus_host_grants_total\{campaign="new-cpa"\} [1-9]/m);
    assert.match(metrics, /^nexus_host_granted_micros\{campaign="new-cpa"\} [1-9]/m);
    assert.doesNotMatch(metrics, /^nexus_host_granted_micros\{campaign="old-cpa"\}/m);
    if (redis) {
      assert.match(metrics, /^nexus_host_budget_campaign_granted_micros\{campaign="new-cpa"\} [1-9]/m);
      assert.doesNotMatch(metrics, /^nexus_host_budget_campaign_granted_micros\{campaign="old-cpa"\}/m);
    }
    // Nor is the filter's last report of it kept (only the set's campaigns are shown and leased).
    assert.deepEqual([...app.sync.filter.campaigns.keys()], ["new-cpa"]);
  });

  it("changes a campaign: new settings reach the filter, new limits the budget source", async () => {
    const changed = { ...campaign("new-cpa", TOTAL / 2), active: false };
    writeSet({ version: 3, campaigns: [changed] });
    const r = await reload();
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json(), { config_version: 3, file_version: 3, added: [], removed: [], changed: ["new-cpa"] });
    await until(async () => (await bidFor()) === "no-bid paused", 10_000, "the filter applies the change (paused)");
    assert.equal((await state()).campaigns[0].budget.total_micros, TOTAL / 2);
    if (redis) await until(async () => Number((await redisCampaign("new-cpa")).total) === TOTAL / 2, 10_000, "the lease passes the new limits to Redis");
    // The same documents with the keys in another order: a new version, nothing changed.
    const reordered = Object.fromEntries(Object.entries(changed).reverse());
    writeSet({ campaigns: [reordered], version: 4 });
    assert.deepEqual((await reload()).json(), { config_version: 4, file_version: 4, added: [], removed: [], changed: [] });
  });

  it("refuses a version that is not higher (409) and changes nothing", async () => {
    const before = await published();
    for (const version of [4, 3]) {
      writeSet({ version, campaigns: [campaign("other-cpa")] });
      const r = await reload();
      assert.equal(r.status, 409, r.text);
      assert.match(r.json().error, /version \d is not higher than the file version 4 loaded before/);
    }
    assert.equal(await published(), before);
    assert.equal((await state()).config_version, 4);
  });

  it("refuses an unreadable file or an invalid set (400) and changes nothing", async () => {
    const before = await published();
    const bad: Array<[string, RegExp]> = [
      ["{ not json", /CAMPAIGNS_UNREADABLE/],
      [JSON.stringify({ version: 9, campaigns: [campaign("a"), campaign("a")] }), /duplicate "a"/],
      // One metric series for two campaigns: exporters turn "-" and "." into "_" (and Envoy turns each byte of "é" into one).
      [JSON.stringify({ version: 9, campaigns: [campaign("brand-a"), campaign("brand_b"), campaign("brand.a")] }), /campaigns\[2\]\.id: "brand\.a" and "brand-a" would share one metric series/],
      [JSON.stringify({ version: 9, campaigns: [campaign("café"), campaign("caf__")] }), /"caf__" and "café" would share/],
      [JSON.stringify({ version: 9, campaigns: [campaign("café"), campaign("cafè")] }), /"cafè" and "café" would share/],
      [JSON.stringify({ version: 9, campaigns: [{ ...campaign("a"), budget: { total_micros: -1, daily_micros: 0 } }] }), /budget.total_micros/],
      [JSON.stringify({ version: -1, campaigns: [] }), /version/],
    ];
    for (const [text, reason] of bad) {
      writeSet(text);
      const r = await reload();
      assert.equal(r.status, 400, r.text);
      assert.match(`${r.json().code}: ${r.json().error}`, reason);
    }
    rmSync(cfg.campaignsPath);
    const missing = await reload();
    assert.equal(missing.status, 400, missing.text);
    assert.equal(missing.json().code, "CAMPAIGNS_UNREADABLE");
    assert.equal(await published(), before);
    assert.equal((await state()).config_version, 4);
  });

  it("refuses a set with a null budget (400 CAMPAIGNS_INVALID, not a 500) and changes nothing", async () => {
    const before = await published();
    writeSet({ version: 9, campaigns: [{ ...campaign("a"), budget: null }] });
    const r = await reload();
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json().code, "CAMPAIGNS_INVALID");
    assert.match(r.json().error, /budget/);
    assert.equal(await published(), before);
    assert.equal((await state()).config_version, 4);
  });

  it("needs the admin token", async () => {
    writeSet({ version: 10, campaigns: [] });
    assert.equal((await reload("wrong-token-wrong-token")).status, 401);
    assert.equal((await state()).config_version, 4);
  });

  it("refuses a set the filter's parser would refuse (400, the parser's reason): nothing changes, the filter bids on", async () => {
    writeSet({ version: 11, campaigns: [campaign("new-cpa")] });
    assert.equal((await reload()).status, 200);
    await until(async () => (await bidFor()) === "new-cpa" && app.sync.filter.configVersion === 11, 10_000, "the filter bids with version 11");
    const before = await published();
    const loadFailures = async () => /^nexus_config_load_failures_total\S* (\d+)/m.exec((await get(`${app.controlUrl}/metrics`)).text)?.[1];
    const failuresBefore = await loadFailures();
    assert.ok(failuresBefore !== undefined, "the filter's metrics are served");

    // The host's own checks pass this set (version, ids, budgets); the filter's parser does not.
    const bad = campaign("bad-cpa");
    bad.creatives = [{ ...bad.creatives[0], adm: "x".repeat(32_769) }];
    writeSet({ version: 12, campaigns: [campaign("new-cpa"), bad] });
    const r = await reload();
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json().code, "CAMPAIGNS_INVALID");
    assert.match(r.json().error, /campaigns\[1\]\.creatives\[0\]\.adm: longer than 32768 bytes/);
    assert.equal(r.json().config_version, 11);

    assert.equal(await published(), before, "the published set is unchanged");
    assert.deepEqual((await state()).campaigns.map((c: { id: string }) => c.id), ["new-cpa"]);
    const leased = recordLeases();
    const syncs = app.sync.syncs;
    await until(() => app.sync.syncs >= syncs + 3, 10_000, "a few more syncs");
    assert.ok(!leased.has("bad-cpa"), `no lease for a campaign no filter runs: ${[...leased]}`);
    assert.equal(app.sync.filter.configVersion, 11, "the filter still runs version 11");
    assert.equal(await bidFor(), "new-cpa");
    assert.equal(await loadFailures(), failuresBefore, "no filter was sent a set it refuses");
  });

  it("after admin changes, the next file version is taken (not one above every change) and published above them", async () => {
    const admin = async (action: string) => {
      const r = await request(`${app.controlUrl}/admin/v1/campaigns/new-cpa/${action}`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(r.statusCode, 200, await r.body.text());
    };
    await admin("pause");
    await admin("resume");
    const s = await state();
    assert.ok(s.config_version >= 13, `admin changes published ${s.config_version}`);
    assert.equal(s.file_version, 11, "the file is still version 11");
    // Before, this file was refused (409): its version was not above the admin changes' 13.
    writeSet({ version: 12, campaigns: [campaign("new-cpa"), campaign("next-cpa")] });
    const r = await reload();
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json(), { config_version: s.config_version + 1, file_version: 12, added: ["next-cpa"], removed: [], changed: [] });
    await until(() => app.sync.filter.configVersion === s.config_version + 1, 10_000, "the filter loads the published version");
    // The file before is still refused.
    writeSet({ version: 11, campaigns: [] });
    assert.equal((await reload()).status, 409);
  });
}

describe("start-up with a campaigns file the filter's parser refuses", () => {
  it("refuses to start with CAMPAIGNS_INVALID and the parser's reason", async () => {
    const bad = campaign("bad-cpa");
    bad.targeting = { ...bad.targeting, sizes: ["300X250"] };
    const { cfg, dir } = testBidderConfig({ vms: 1, campaigns: { version: 1, campaigns: [campaign("ok-cpa"), bad] } });
    try {
      const started = await startStandalone(cfg, silentLogger()).catch((err: Error & { code?: string }) => err);
      if (!(started instanceof Error)) {
        await started.close();
        assert.fail("the bidder started on a set its filter refuses");
      }
      assert.equal(started.code, "CAMPAIGNS_INVALID");
      assert.match(started.message, /campaigns\[1\]\.targeting\.sizes\[0\]: expected "WxH"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("campaign reload, in-memory budget", () => {
  reloadScenario(() => ({}));
});

describe("campaign reload, Redis budget", () => {
  // Hooks run in the order they are registered: the scenario's (which closes its bidder) first,
  // then the prefixes' cleanup and its check that nothing is left — registered the other way
  // round, a sync of the still running bidder could write a key between the two.
  let redis: ReturnType<typeof sharedRedisPrefixes> | undefined;
  const lazy = { client: () => redis!.client(), fresh: () => redis!.fresh() };
  reloadScenario(() => ({ source: "redis", redisUrl: process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379", keyPrefix: lazy.fresh() }), lazy);
  redis = sharedRedisPrefixes("reload");
});
