// CampaignCatalog.replace (what a reload publishes) and the sync right after it, without
// HTTP: the new set is checked as at start-up, only a higher version is taken, nothing changes
// on an error, and a filter report that still names a removed campaign is answered (no grant
// for it, the new campaigns leased).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CampaignCatalog, CampaignError, type CampaignSet } from "../../../host/src/control/campaigns.ts";
import { MemoryBudgetSource } from "../../../host/src/control/budget.ts";
import { SyncService } from "../../../host/src/control/sync-service.ts";
import { ModelRegistry } from "../../../host/src/control/model-registry.ts";
import { silentLogger } from "../../../host/src/log.ts";

const budget = (total: number) => ({ total_micros: total, daily_micros: total });
const creative = () => ({ crid: "cr-1", w: 300, h: 250, adm: "<div>ad</div>" });
const set = (version: number, ...ids: string[]): CampaignSet => ({ version, campaigns: ids.map((id) => ({ id, creatives: [creative()], budget: budget(1_000_000) })) });

function refused(catalog: CampaignCatalog, next: unknown, code: string): void {
  const json = catalog.json;
  assert.throws(() => catalog.replace(next as CampaignSet), (err: unknown) => err instanceof CampaignError && err.code === code);
  assert.equal(catalog.json, json, "nothing changed");
}

describe("CampaignCatalog.replace", () => {
  it("publishes a higher version and says what was added, removed and changed", () => {
    const catalog = new CampaignCatalog(set(1, "a", "b", "c"));
    const next = set(2, "b", "c", "d");
    next.campaigns[1]!.budget = budget(7);
    assert.deepEqual(catalog.replace(next), { version: 2, added: ["d"], removed: ["a"], changed: ["c"] });
    assert.equal(catalog.version, 2);
    assert.deepEqual(JSON.parse(catalog.json), next);
    next.campaigns.pop();
    assert.ok(catalog.get("d"), "the catalog keeps its own copy");
  });

  it("refuses a version that is not higher, or a set start-up refuses, changing nothing", () => {
    const catalog = new CampaignCatalog(set(5, "a"));
    refused(catalog, set(5, "b"), "CAMPAIGNS_VERSION_NOT_HIGHER");
    refused(catalog, set(4, "b"), "CAMPAIGNS_VERSION_NOT_HIGHER");
    refused(catalog, set(6, "b", "b"), "CAMPAIGNS_INVALID");
    refused(catalog, { version: 6, campaigns: [{ id: "" }] }, "CAMPAIGNS_INVALID");
    refused(catalog, { version: 6 }, "CAMPAIGNS_INVALID");
    refused(catalog, null, "CAMPAIGNS_INVALID");
  });
});

describe("the filter's parser checks every set the catalog publishes", () => {
  // Sets the host's own checks (version, ids, budget numbers) pass and the filter's parser refuses.
  const refusedByFilter: Array<[string, (s: CampaignSet) => void, RegExp]> = [
    ["a creative without w", (s) => delete (s.campaigns[0] as any).creatives[0].w, /campaigns\[0\]\.creatives\[0\]: crid, w and h are required/],
    ["an oversized adm", (s) => ((s.campaigns[0] as any).creatives[0].adm = "x".repeat(32_769)), /campaigns\[0\]\.creatives\[0\]\.adm: longer than 32768 bytes/],
    ["a size that is not WxH", (s) => ((s.campaigns[0] as any).targeting = { sizes: ["300X250"] }), /campaigns\[0\]\.targeting\.sizes\[0\]: expected "WxH"/],
    ["an unknown campaign key", (s) => ((s.campaigns[0] as any).max_bid = 5), /campaigns\[0\]\.max_bid: unknown key/],
    ["no creative", (s) => ((s.campaigns[0] as any).creatives = []), /campaigns\[0\]: creatives: at least one required/],
  ];

  it("refuses at construction (start-up) a set the filter would refuse, with the parser's reason", () => {
    for (const [what, spoil, reason] of refusedByFilter) {
      const s = set(1, "a");
      spoil(s);
      assert.throws(() => new CampaignCatalog(s), (err: unknown) => err instanceof CampaignError && err.code === "CAMPAIGNS_INVALID" && reason.test(err.message), what);
    }
  });

  it("refuses such a set on replace (reload), changing nothing", () => {
    const catalog = new CampaignCatalog(set(1, "a"));
    for (const [, spoil] of refusedByFilter) {
      const s = set(2, "a", "b");
      spoil(s);
      refused(catalog, s, "CAMPAIGNS_INVALID");
    }
    assert.equal(catalog.version, 1);
  });

  it("passes the JSON text it will publish to the check, and a check that accepts everything lets such a set through", () => {
    const seen: string[] = [];
    const s = set(1, "a");
    (s.campaigns[0] as any).creatives = [];
    const catalog = new CampaignCatalog(s, (json) => void seen.push(json));
    assert.deepEqual(seen, [catalog.json]);
    catalog.update("a", (c) => void (c.active = false));
    assert.deepEqual(seen.at(-1), catalog.json, "an admin change is checked too");
  });

  it("refuses an admin change whose set the check refuses, changing nothing", () => {
    let refuse = false;
    const catalog = new CampaignCatalog(set(1, "a"), () => (refuse ? "campaigns[0].budget.total_micros: must be between 0 and 1000000000000000000" : undefined));
    refuse = true;
    const json = catalog.json;
    assert.throws(() => catalog.update("a", (c) => void (c.active = false)), (err: unknown) => err instanceof CampaignError && err.code === "CAMPAIGNS_INVALID");
    assert.equal(catalog.json, json);
  });
});

describe("sync after a replace", () => {
  it("answers a report that still names a removed campaign: no grant for it, the added one leased", async () => {
    const catalog = new CampaignCatalog(set(1, "old"));
    const source = new MemoryBudgetSource({ leaseSeconds: 10, minSliceMicros: 1000 });
    const sync = new SyncService("pod", catalog, new ModelRegistry({ allowUnsigned: true, log: silentLogger() }), source, silentLogger());
    const report = (version: number, ...ids: string[]) => ({
      vm: 1, config_version: version, model_loaded: true, ledger_epoch: 7,
      campaigns: ids.map((id) => ({ id, granted_micros: 5000, charged_micros: 1000, reserved_micros: 2000, daily_charged_micros: 1000 })),
    });
    const first = await sync.sync(report(1, "old"));
    assert.deepEqual(first.grants.map((g) => g.id), ["old"]);

    catalog.replace(set(2, "new"));
    const answer = await sync.sync(report(1, "old"));
    assert.equal(answer.config_version, 2);
    assert.deepEqual(answer.grants.map((g) => g.id), ["new"]);
    assert.ok(answer.grants[0]!.granted_micros > 0, "the added campaign gets its first grant");
    assert.equal(sync.budgetErrors, 0);
  });
});
