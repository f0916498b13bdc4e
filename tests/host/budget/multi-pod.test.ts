// Three bidder PROCESSES (each its own host and filter VMs) share one campaign
// budget in Redis under more load than the budget buys: together they never
// spend more than the budget, and they spend nearly all of it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { deletePrefix, uniquePrefix } from "../../helpers/redis-server.ts";
import { ADMIN_TOKEN, BidderProcess, CAMPAIGN, LoadStats, PLUGIN, metricValue, runLoad, sleep, tempDir, writeBudgetFixtures } from "./bidders.ts";

const REDIS_URL = process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const BUDGET = 2_000_000; // $2: 100 wins at the $20 CPM cap
const PODS = 3;

describe("global budget across 3 bidder processes", () => {
  const prefix = uniquePrefix("multipod");
  const tmp = tempDir("multipod");
  const bidders: BidderProcess[] = [];
  let redis: Redis;

  before(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    await redis.ping();
    const { campaigns, publicKeyPem } = writeBudgetFixtures(tmp.dir, BUDGET);
    const env = {
      NEXUS_BUDGET_SOURCE: "redis",
      NEXUS_REDIS_URL: REDIS_URL,
      NEXUS_REDIS_PREFIX: prefix,
      NEXUS_CAMPAIGNS: campaigns,
      NEXUS_MODEL_STORE: tmp.dir,
      NEXUS_MODEL_FILE: "test.nxm",
      NEXUS_MODEL_PUBLIC_KEY: publicKeyPem,
      NEXUS_PLUGIN_CONFIG: JSON.stringify(PLUGIN),
      NEXUS_ADMIN_TOKEN: ADMIN_TOKEN,
      NEXUS_VMS: "2",
      // Pace the $2 over 4 s (500 000 micros/s) so the test is short; slices of 0.2 s of pace
      // (100 000 = 5 bids), at least 20 000 (one bid).
      NEXUS_BUDGET_PACING_SECONDS: "4",
      NEXUS_BUDGET_LEASE_SECONDS: "0.2",
      NEXUS_BUDGET_MIN_SLICE_MICROS: "20000",
    };
    const started = await Promise.allSettled(Array.from({ length: PODS }, (_, i) => BidderProcess.start(`pod-${i + 1}`, { ...env, NEXUS_POD_ID: `pod-${i + 1}` })));
    for (const s of started) if (s.status === "fulfilled") bidders.push(s.value);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
  });

  after(async () => {
    await Promise.all(bidders.map((b) => b.stop()));
    if (redis) {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    }
    tmp.remove();
  });

  it("spends at most the budget, and at least 95% of it", async (t) => {
    const stats = bidders.map(() => new LoadStats());
    const t0 = Date.now();
    let stop = false;
    // Every pod answers only budget no-bids for 1.5 s (15 sync periods): the budget is out.
    const exhausted = () =>
      stats.every((s) => s.bids > 0 && s.lastReason === "budget" && s.sinceBid >= 10 && Date.now() - s.lastBidAt > 1500);
    const load = Promise.all(bidders.map((b, i) => runLoad(b.bidUrl, stats[i]!, 4, () => stop)));
    const deadline = Date.now() + 40_000;
    while (!exhausted() && Date.now() < deadline) await sleep(100);
    stop = true;
    await load;
    const seconds = (Date.now() - t0) / 1000;
    assert.ok(exhausted(), `budget not exhausted after 40 s: ${stats.map((s) => `${s.bids} bids, last "${s.lastReason}" ${s.lastError}`).join("; ")}`);
    for (const s of stats) assert.equal(s.errors, 0, s.lastError);

    // Let every filter report its final ledger (a few sync periods).
    await sleep(600);
    const states = await Promise.all(bidders.map((b) => b.adminState()));
    const ledgers = states.map((s) => s.campaigns.find((c: { id: string }) => c.id === CAMPAIGN).filter);
    const campaign = await redis.hgetall(`{nexus:${prefix}:${CAMPAIGN}}:campaign`);
    const podKeys = await Promise.all(bidders.map((b) => redis.hgetall(`{nexus:${prefix}:${CAMPAIGN}}:pod:${b.name}`)));

    const clientCharged = stats.reduce((a, s) => a + s.chargedMicros, 0n);
    const ledgerCharged = ledgers.reduce((a, l) => a + l.charged_micros, 0);
    const ledgerGranted = ledgers.reduce((a, l) => a + l.granted_micros, 0);
    const requests = stats.reduce((a, s) => a + s.requests, 0);
    const figures = {
      budget: BUDGET,
      seconds,
      requests,
      wins: stats.map((s) => s.wins),
      charged_by_pod: ledgers.map((l) => l.charged_micros),
      total_charged: ledgerCharged,
      used_pct: Math.round((ledgerCharged / BUDGET) * 10000) / 100,
      granted_by_pod: ledgers.map((l) => l.granted_micros),
      redis_granted: Number(campaign.granted),
      redis_charged: Number(campaign.charged),
      redis_leases: Number(campaign.leases),
      nobid_reasons: stats.map((s) => Object.fromEntries(s.reasons)),
    };
    t.diagnostic(JSON.stringify(figures));
    console.log("multi-pod figures:", JSON.stringify(figures));

    assert.equal(BigInt(ledgerCharged), clientCharged, "the ledgers charged exactly the wins");
    assert.ok(ledgerCharged <= BUDGET, `total charged ${ledgerCharged} > budget ${BUDGET}`);
    assert.ok(ledgerCharged >= 0.95 * BUDGET, `only ${ledgerCharged} of ${BUDGET} used`);
    assert.ok(ledgerGranted <= BUDGET, `the pods hold ${ledgerGranted} > budget`);
    assert.ok(Number(campaign.granted) <= BUDGET, `Redis Σ granted ${campaign.granted} > budget`);
    assert.equal(Number(campaign.charged), ledgerCharged, "Redis records the spend the pods reported");
    for (const [i, l] of ledgers.entries()) {
      assert.ok(l.reserved_micros === 0, "every bid was settled");
      assert.ok(l.granted_micros >= l.charged_micros + l.reserved_micros);
      assert.ok(l.charged_micros > 0, `pod ${i + 1} bid too`);
      assert.equal(Number(podKeys[i]!.charged), l.charged_micros, `Redis records pod ${i + 1}'s spend`);
    }
    const metrics = await bidders[0]!.metrics();
    assert.equal(metricValue(metrics, "nexus_host_budget_source_up"), 1);
    assert.ok(metricValue(metrics, "nexus_host_budget_leases_total", { campaign: CAMPAIGN }) > 0);
    assert.ok(metricValue(metrics, "nexus_host_budget_leased_micros_total", { campaign: CAMPAIGN }) > 0);
  });
});
