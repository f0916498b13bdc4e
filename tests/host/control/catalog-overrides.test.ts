// The catalog's layer of fleet overrides (campaigns.ts, campaign-overrides.ts): laid over the
// file's documents, kept across a reload (the file's values change underneath), kept for a campaign
// the file removed (back in force when it is added again), and a new version only when the
// published set changes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CampaignCatalog, type CampaignSet } from "../../../host/src/control/campaigns.ts";
import type { CampaignOverride } from "../../../host/src/control/campaign-overrides.ts";

const creative = () => ({ crid: "cr-1", w: 300, h: 250, adm: "<div>ad</div>" });
const set = (version: number, total: number, ...ids: string[]): CampaignSet => ({
  version,
  campaigns: ids.map((id) => ({ id, active: true, creatives: [creative()], budget: { total_micros: total, daily_micros: total, hourly_micros: 7 } })),
});
const paused: CampaignOverride = { paused: true, updatedMs: 1, updatedBy: "pod-a" };
const capped: CampaignOverride = { paused: false, totalMicros: 500, updatedMs: 2, updatedBy: "pod-b" };

describe("CampaignCatalog overrides", () => {
  it("lays the override over the file's document; the base document stays the file's", () => {
    const catalog = new CampaignCatalog(set(1, 1000, "a", "b"));
    assert.equal(catalog.setOverride("a", paused), true);
    assert.equal(catalog.version, 2);
    assert.equal(catalog.get("a")!.active, false);
    assert.equal(catalog.baseDoc("a")!.active, true);
    assert.equal(catalog.get("b")!.active, true, "other campaigns untouched");
    assert.equal(catalog.setOverride("a", capped), true);
    assert.deepEqual(catalog.get("a")!.budget, { total_micros: 500, daily_micros: 1000, hourly_micros: 7 }, "only the overridden field");
    assert.equal(catalog.get("a")!.active, true);
    assert.equal(JSON.parse(catalog.json).campaigns[0].budget.total_micros, 500, "what the filter is served");
  });

  it("the same override again is no new version", () => {
    const catalog = new CampaignCatalog(set(1, 1000, "a"));
    catalog.setOverride("a", capped);
    assert.equal(catalog.setOverride("a", { ...capped }), false);
    assert.equal(catalog.version, 2);
  });

  it("a reload keeps the override over the new file's values; clearing it gives the file's back", () => {
    const catalog = new CampaignCatalog(set(1, 1000, "a"));
    catalog.setOverride("a", { ...capped, paused: true });
    catalog.replace(set(5, 2000, "a"));
    assert.equal(catalog.version, 5);
    assert.equal(catalog.get("a")!.budget!.total_micros, 500);
    assert.equal(catalog.get("a")!.budget!.daily_micros, 2000, "the new file's daily");
    assert.equal(catalog.get("a")!.active, false);
    catalog.setOverride("a", null);
    assert.equal(catalog.version, 6);
    assert.equal(catalog.get("a")!.budget!.total_micros, 2000);
    assert.equal(catalog.get("a")!.active, true);
  });

  it("an override of a campaign the file removed applies again when it is added back", () => {
    const catalog = new CampaignCatalog(set(1, 1000, "a", "b"));
    catalog.setOverride("b", paused);
    catalog.replace(set(3, 1000, "a"));
    assert.equal(catalog.get("b"), undefined);
    assert.deepEqual(catalog.override("b"), paused);
    catalog.replace(set(4, 1000, "a", "b"));
    assert.equal(catalog.get("b")!.active, false);
  });

  it("this process's own admin change (memory source) goes to the base, under the override", () => {
    const catalog = new CampaignCatalog(set(1, 1000, "a"));
    catalog.setOverride("a", capped);
    catalog.update("a", (c) => void (c.budget = { total_micros: 300, daily_micros: 300 }));
    assert.equal(catalog.baseDoc("a")!.budget!.total_micros, 300);
    assert.equal(catalog.get("a")!.budget!.total_micros, 500);
  });
});
