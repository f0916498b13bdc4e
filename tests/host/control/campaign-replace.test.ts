// CampaignCatalog.replace (what a reload publishes) and the sync right after it, without
// HTTP: the new set is checked as at start-up, only a higher version is taken, nothing changes
// on an error, a filter report that still names a removed campaign is answered (no grant for
// it, the new campaigns leased), and a lease running when the set changes is answered by the
// new set (memory and Redis budget sources).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CampaignCatalog, CampaignError, type CampaignSet } from "../../../host/src/control/campaigns.ts";
import { MemoryBudgetSource, type BudgetLease, type BudgetSource, type CampaignLimits, type PodReport } from "../../../host/src/control/budget.ts";
import { RedisBudgetSource } from "../../../host/src/control/budget-redis.ts";
import { sharedRedisPrefixes } from "../../helpers/redis-server.ts";
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

  it("after admin changes, takes a file whose own version is higher and publishes it above them", () => {
    const catalog = new CampaignCatalog(set(5, "a", "b"));
    // Three admin changes on this pod: published 6, 7, 8; the file is still at 5.
    catalog.update("a", (c) => (c.active = false));
    catalog.setOverride("b", { paused: true, updatedMs: 1, updatedBy: "pod-a" });
    catalog.update("a", (c) => (c.active = true));
    assert.equal(catalog.version, 8);
    assert.equal(catalog.fileVersion, 5);
    // The next file only needs to be above the last file (5), not above the published 8.
    assert.equal(catalog.replace(set(6, "a", "b")).version, 9, "published above the admin changes");
    assert.equal(catalog.fileVersion, 6);
    assert.equal(JSON.parse(catalog.json).version, 9, "the filter is served the published version");
    // A file far ahead is published as written.
    assert.equal(catalog.replace(set(20, "a", "b")).version, 20);
    assert.equal(catalog.fileVersion, 20);
    // Still never an older or the same file.
    refused(catalog, set(20, "a"), "CAMPAIGNS_VERSION_NOT_HIGHER");
    refused(catalog, set(19, "a"), "CAMPAIGNS_VERSION_NOT_HIGHER");
    assert.equal(catalog.version, 20);
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
    const first = await sync.sync(report(-1, "old")); // a fresh filter holds no set yet
    assert.deepEqual(first.grants.map((g) => g.id), ["old"]);

    catalog.replace(set(2, "new"));
    const answer = await sync.sync(report(1, "old"));
    assert.equal(answer.config_version, 2);
    assert.deepEqual(answer.grants.map((g) => g.id), ["new"]);
    assert.ok(answer.grants[0]!.granted_micros > 0, "the added campaign gets its first grant");
    assert.equal(sync.budgetErrors, 0);
  });

  it("keeps the filter's last report of the current set's campaigns only: a removed one's is dropped", async () => {
    const catalog = new CampaignCatalog(set(1, "old", "kept"));
    const sync = new SyncService("pod", catalog, new ModelRegistry({ allowUnsigned: true, log: silentLogger() }), new MemoryBudgetSource(POLICY), silentLogger());
    await sync.sync(holding(3000, "old", "kept"));
    assert.deepEqual([...sync.filter.campaigns.keys()], ["old", "kept"]);

    catalog.replace(set(2, "kept", "new"));
    // A filter on the old set still reports "old": not kept.
    await sync.sync(holding(3000, "old", "kept"));
    assert.deepEqual([...sync.filter.campaigns.keys()], ["kept"]);
    // Removed while the filter no longer reports it: dropped all the same.
    await sync.sync(holding(3000, "kept", "new"));
    catalog.replace(set(3, "kept"));
    await sync.sync(holding(3000, "kept"));
    assert.deepEqual([...sync.filter.campaigns.keys()], ["kept"]);
  });
});

/**
 * A budget source whose leases run at once but answer only once released: a lease in flight (the
 * source has decided, and Redis counted) while the test changes the set.
 */
class HeldLeases implements BudgetSource {
  readonly leased: CampaignLimits[] = [];
  private readonly waiting: Array<() => void> = [];
  private held = true;
  private onWait: (() => void) | undefined;

  constructor(private readonly inner: BudgetSource) {}

  async lease(limits: CampaignLimits, report: PodReport, nowMs: number): Promise<BudgetLease> {
    this.leased.push(limits);
    const lease = await this.inner.lease(limits, report, nowMs);
    if (this.held) {
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        this.onWait?.();
      });
    }
    return lease;
  }

  /** Resolves once `n` leases have been decided and wait for release(). */
  decided(n: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => void (this.waiting.length >= n && resolve());
      this.onWait = check;
      check();
    });
  }

  release(): void {
    this.held = false;
    for (const r of this.waiting.splice(0)) r();
  }

  grant(limits: CampaignLimits, report: PodReport, nowMs: number): Promise<number> {
    return this.lease(limits, report, nowMs).then((l) => l.granted);
  }
  healthy(): boolean {
    return this.inner.healthy();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Slices of 1000 micros (the minimum: 1,000,000 a day is paced at 116 per 10 s). */
const POLICY = { leaseSeconds: 10, minSliceMicros: 1000 };
/**
 * The filter holds 3000 (charged 1000 + reserved 2000) of a grant of `granted`; its set is older
 * than the host's (a filter holding the host's version at a first sync makes it publish again).
 */
const holding = (granted: number, ...ids: string[]) => ({
  vm: 1, config_version: 0, model_loaded: true, ledger_epoch: 7,
  campaigns: ids.map((id) => ({ id, granted_micros: granted, charged_micros: 1000, reserved_micros: 2000, daily_charged_micros: 1000 })),
});

function leasesAcrossAChange(name: string, newSource: () => BudgetSource) {
  /**
   * One sync of `report` against the set `first`, whose leases are decided by `first` and answered
   * after `change` published a new set: the answer, and the limits each lease was run with.
   */
  async function acrossChange(first: CampaignSet, report: unknown, change: (c: CampaignCatalog) => void) {
    const catalog = new CampaignCatalog(first);
    const held = new HeldLeases(newSource());
    const sync = new SyncService("pod", catalog, new ModelRegistry({ allowUnsigned: true, log: silentLogger() }), held, silentLogger());
    try {
      const answer = sync.sync(report);
      await held.decided(first.campaigns.length);
      change(catalog);
      held.release();
      return { answer: await answer, leased: held.leased, budgetErrors: sync.budgetErrors };
    } finally {
      await held.close();
    }
  }
  const granted = (answer: { grants: Array<{ id: string; granted_micros: number }> }) => Object.fromEntries(answer.grants.map((g) => [g.id, g.granted_micros]));

  describe(`a lease in flight when the set changes (${name})`, () => {
    it("a campaign removed meanwhile gets no answer (no new money), the others theirs", async () => {
      // By the old set "a" would be answered 4000: held 3000 + a slice, new money.
      const { answer, budgetErrors } = await acrossChange(set(1, "a", "b"), holding(3000, "a", "b"), (c) => c.replace(set(2, "b")));
      assert.deepEqual(granted(answer), { b: 4000 });
      assert.equal(answer.config_version, 2);
      assert.equal(budgetErrors, 0);
    });

    it("a campaign whose budget was lowered meanwhile is answered by its new limits", async () => {
      const lowered = set(2, "a");
      lowered.campaigns[0]!.budget = budget(3500);
      const { answer, leased } = await acrossChange(set(1, "a"), holding(3000, "a"), (c) => c.replace(lowered));
      assert.deepEqual(granted(answer), { a: 3500 }, "not 4000 (held + a slice, by the old total)");
      assert.deepEqual(leased.map((l) => l.totalMicros), [1_000_000, 3500]);
    });

    it("a campaign paused meanwhile gets a lower answer, returning money, never below what the filter holds", async () => {
      const { answer } = await acrossChange(set(1, "a"), holding(5000, "a"), (c) => c.update("a", (x) => void (x.active = false)));
      assert.deepEqual(granted(answer), { a: 3000 }, "charged + reserved: the unspent 2000 go back (the old limits answered 4000)");
    });

    it("a campaign the filter has not loaded whose limits changed meanwhile gets no answer (the source would repeat the first)", async () => {
      const lowered = set(2, "a", "b");
      lowered.campaigns[1]!.budget = budget(500);
      const { answer } = await acrossChange(set(1, "a", "b"), holding(3000, "a"), (c) => c.replace(lowered));
      assert.deepEqual(granted(answer), { a: 4000 });
    });

    it("a change that leaves the campaign's limits alone: one lease, its answer", async () => {
      const { answer, leased } = await acrossChange(set(1, "a"), holding(3000, "a"), (c) => c.update("a", (x) => void (x.creatives = [{ ...creative(), crid: "cr-2" }])));
      assert.deepEqual(granted(answer), { a: 4000 });
      assert.equal(leased.length, 1);
    });
  });
}

leasesAcrossAChange("in-memory budget", () => new MemoryBudgetSource(POLICY));

describe("Redis budget", () => {
  const redis = sharedRedisPrefixes("replace");
  leasesAcrossAChange("Redis budget", () => new RedisBudgetSource({ client: redis.client(), keyPrefix: redis.fresh(), policy: POLICY, utcOffsetMinutes: 0, recoveryHoldMs: 0 }));
});

describe("a host restarted beside a running filter", () => {
  const report = (version: number) => ({ vm: 1, config_version: version, model_loaded: true, ledger_epoch: 7, campaigns: [] });
  const service = (catalog: CampaignCatalog) => new SyncService("pod", catalog, new ModelRegistry({ allowUnsigned: true, log: silentLogger() }), new MemoryBudgetSource(POLICY), silentLogger());

  it("publishes its set above the version the filter holds, so that the filter loads it", async () => {
    // The earlier host published v2 (an admin change); this one reads a file also numbered 2,
    // with another content (a lowered daily budget): the filter must not keep its own v2.
    const catalog = new CampaignCatalog(set(2, "a"));
    const sync = service(catalog);
    const answer = await sync.sync(report(2));
    assert.equal(answer.config_version, 3);
    assert.equal(catalog.version, 3);
    // Only at the first sync: afterwards the filter's version is one this host published.
    assert.equal((await sync.sync(report(3))).config_version, 3);
    // A reload is still judged by the file's own version.
    catalog.replace(set(3, "a", "b"));
    assert.equal((await sync.sync(report(3))).config_version, 4);
  });

  it("keeps its version when the filter holds none, or an older one", async () => {
    for (const held of [-1, 0, 1]) {
      const catalog = new CampaignCatalog(set(2, "a"));
      assert.equal((await service(catalog).sync(report(held))).config_version, 2, `filter at ${held}`);
    }
  });
});

describe("campaign ids and metric names", () => {
  it("ids that export as one metric name in one scheme are refused; ids that collide in none are taken", () => {
    assert.throws(() => new CampaignCatalog(set(1, "brand-a", "brand.a")), /would share one metric series/);
    // "é" is "_" per character (this host) and "__" per byte (Envoy); "é_" is "__" and "___".
    assert.doesNotThrow(() => new CampaignCatalog(set(1, "é", "é_")));
  });
});
