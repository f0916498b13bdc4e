// One simulated day through the real filter (simulated clock, traffic shaped by
// the iPinYou hour-of-day volumes, budget at half of demand): the PID pacing
// spends the whole daily budget, never breaches the hard cap, and follows the
// traffic-shaped plan. The full-size run with its figures: `npm run sim:pacing`.
// The same day over two pods (own filters and shared data, one Redis budget): each pod paces
// the fleet's spend (its own + what the host says the others spent today) against the plan.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { hourlyVolumesFromLogs, pacingSimMain, runPacingSim } from "../../bench/pacing-sim.ts";
import { defaultConfig, leasePolicy } from "../../host/src/config.ts";
import { campaignPaceFactor, planPeakFactor } from "../../host/src/control/pace-plan.ts";

describe("pacing over a simulated day", () => {
  it("uses ≥ 98% of the daily budget, never breaches it, within 10% RMS of the plan", async () => {
    const r = await runPacingSim({ requestsPerDay: 20_000, budgetFraction: 0.5, seed: 7, vms: 2, tickMs: 5000 });
    assert.ok(r.utilisation >= 0.98, `utilisation ${r.utilisation}`);
    assert.ok(r.utilisation <= 1.0, `overspend: utilisation ${r.utilisation}`);
    assert.equal(r.hardCapBreaches, 0);
    assert.ok(r.pacingErrorRms <= 0.1, `pacing error ${r.pacingErrorRms}`);
    // Budget below demand: unpaced, the campaign would have spent about twice as much.
    assert.ok(r.unpacedDemandMicros > 1.8 * r.dailyBudgetMicros);
    // Spend follows traffic: nothing planned (hours without traffic) means nothing spent.
    r.planBySlot.forEach((p, s) => {
      if (p === 0) assert.equal(r.spendBySlot[s], 0, `slot ${s}`);
    });
  });
});

describe("pacing a dayparted campaign", () => {
  it("plans its budget over its own hours: ≥ 90% spent in 9-12 h, nothing outside them", async () => {
    // Flat traffic; the budget is 10% of the day's demand, 60% of what its four hours offer.
    // Paced against the whole day's plan it was "ahead" from its first hour, shaded to the
    // floor, and spent 55% (audit).
    const r = await runPacingSim({ requestsPerDay: 20_000, budgetFraction: 0.1, seed: 7, vms: 1, tickMs: 5000, hourlyWeights: new Array(24).fill(1), hours: [9, 10, 11, 12] });
    assert.ok(r.utilisation >= 0.9 && r.utilisation <= 1.0, `utilisation ${r.utilisation}`);
    assert.equal(r.hardCapBreaches, 0);
    const hourOf = (slot: number) => Math.floor(slot / 4);
    r.spendBySlot.forEach((spend, slot) => {
      if (hourOf(slot) < 9 || hourOf(slot) > 12) assert.equal(spend, 0, `slot ${slot}`);
    });
    // Spread over the four hours, not spent in the first.
    const byHour = [9, 10, 11, 12].map((h) => r.spendBySlot.slice(h * 4, h * 4 + 4).reduce((x, y) => x + y, 0));
    for (const spend of byHour) assert.ok(spend >= 0.12 * r.spentMicros && spend <= 0.4 * r.spentMicros, `spend by hour ${byHour.join(", ")}`);
  });
});

describe("pacing over a simulated day, two pods on one Redis budget", () => {
  it("the fleet follows the plan: ≥ 98% used, never over the daily cap, within 10% RMS", async () => {
    const r = await runPacingSim({
      requestsPerDay: 20_000, budgetFraction: 0.5, seed: 7, vms: 2, tickMs: 5000, pods: 2,
      redisUrl: process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
    });
    assert.ok(r.utilisation >= 0.98 && r.utilisation <= 1.0, `utilisation ${r.utilisation}`);
    assert.equal(r.hardCapBreaches, 0);
    // Each pod alone compared half the fleet's spend with the whole plan, always looked behind,
    // never shaded, and the fleet spent the day's budget by noon (RMS error 1.1).
    assert.ok(r.pacingErrorRms <= 0.1, `pacing error ${r.pacingErrorRms}`);
    for (const s of r.spentByPod) assert.ok(s >= 0.3 * r.spentMicros, `pod shares ${r.spentByPod.join(", ")}`);
    // The evening hours, planned but past noon, got their share.
    const afternoon = (a: number[]) => a.slice(48).reduce((x, y) => x + y, 0);
    assert.ok(afternoon(r.spendBySlot) >= 0.8 * afternoon(r.planBySlot), `afternoon spend ${afternoon(r.spendBySlot)} vs plan ${afternoon(r.planBySlot)}`);
  });
});

describe("pacing over a simulated day, one pod leasing from Redis with the host's own lease policy", () => {
  it("the grant refill keeps up with the plan's busy hours: ≥ 95% used", async () => {
    // Production slices (a minute of pace, 100,000 micros at least) and the default pacingSeconds
    // (a day); the refill runs at the plan's peak pace (config.ts leasePolicy). At the flat pace
    // the bucket held every hour to a 24th of the budget: 76% used on this day (audit).
    const cfg = defaultConfig();
    cfg.plugin = { ...cfg.plugin, pacing: { hourly_weights: hourlyVolumesFromLogs() } };
    const policy = leasePolicy(cfg);
    assert.ok(policy.pacingSeconds < 86_400 / 1.5, `pacingSeconds ${policy.pacingSeconds}: the log's busiest hour is well above the mean`);
    const r = await runPacingSim({
      requestsPerDay: 20_000, budgetFraction: 0.5, seed: 7, vms: 1, tickMs: 5000, redisPolicy: policy,
      redisUrl: process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
    });
    assert.ok(r.utilisation >= 0.95 && r.utilisation <= 1.0, `utilisation ${r.utilisation}`);
    assert.equal(r.hardCapBreaches, 0);
  });

  it("a dayparted campaign's grants come at its hours' pace: ≥ 90% spent in its four hours", async () => {
    // Flat plan; its 4 hours need 6 times the flat pace (campaignPaceFactor). At the flat pace
    // the bucket let it spend 4/24 of its budget in them (audit: 21%).
    const cfg = defaultConfig();
    const r = await runPacingSim({
      requestsPerDay: 20_000, budgetFraction: 0.1, seed: 7, vms: 1, tickMs: 5000, hourlyWeights: new Array(24).fill(1), hours: [9, 10, 11, 12],
      redisPolicy: leasePolicy(cfg), redisUrl: process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
    });
    assert.ok(r.utilisation >= 0.9 && r.utilisation <= 1.0, `utilisation ${r.utilisation}`);
    assert.equal(r.hardCapBreaches, 0);
  });

  it("campaignPaceFactor: a campaign's hours against the plan's peak, on the budget's clock", () => {
    const flat = { weights: undefined, utcOffsetMinutes: 0 };
    assert.equal(campaignPaceFactor({}, flat), 1);
    assert.equal(campaignPaceFactor({ targeting: { hours: [9, 10, 11, 12] } }, flat), 6);
    assert.equal(campaignPaceFactor({ targeting: { hours: Array.from({ length: 24 }, (_, h) => h) } }, flat), 1);
    // Weighted: the plan peaks at 18 h (weight 3 of 26); hours 9-12 weigh 1 each.
    const peaked = { weights: new Array(24).fill(1).map((w, h) => (h === 18 ? 3 : w)), utcOffsetMinutes: 0 };
    assert.equal(campaignPaceFactor({ targeting: { hours: [9, 10, 11, 12] } }, peaked), 6 / ((24 * 3) / 26));
    // Hours on its own clock: 18 h at UTC-5 is 23 h UTC, the same share as any other hour.
    assert.equal(campaignPaceFactor({ targeting: { hours: [18, 19], daypart_utc_offset_minutes: -300 } }, peaked), Math.max(1, 12 / ((24 * 3) / 26)));
  });

  it("planPeakFactor: 24 × the busiest hour's share; 1 when flat, missing or unusable", () => {
    const flat = new Array(24).fill(1);
    assert.equal(planPeakFactor({}), 1);
    assert.equal(planPeakFactor({ pacing: { hourly_weights: flat } }), 1);
    assert.equal(planPeakFactor({ pacing: { hourly_weights: flat.map((w, h) => (h === 18 ? 3 : w)) } }), (24 * 3) / 26);
    assert.equal(planPeakFactor({ pacing: { hourly_weights: [1, 2] } }), 1);
    assert.equal(planPeakFactor({ pacing: { hourly_weights: new Array(24).fill(0) } }), 1);
    assert.equal(planPeakFactor({ pacing: { hourly_weights: flat.map((w, h) => (h === 0 ? -1 : w)) } }), 1);
  });
});

describe("npm run sim:pacing's command line", () => {
  const run = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await pacingSimMain(argv, { out: (x) => void out.push(x), err: (x) => void err.push(x) });
    return { code, out: out.join(""), err: err.join("") };
  };

  it("a bad command line is the reason and the usage, exit 2, before any run", async () => {
    for (const [argv, why] of [[["--pods", "0"], /--pods: expected 1-16/], [["--bogus"], /Unknown option '--bogus'/], [["abc"], /REQUESTS: expected an integer/], [["100", "200"], /unexpected argument "200"/]] as const) {
      const r = await run([...argv]);
      assert.equal(r.code, 2, argv.join(" "));
      assert.match(r.err, why);
      assert.match(r.err, /usage: npm run sim:pacing/);
      assert.equal(r.out, "", "nothing ran");
    }
  });

  it("REQUESTS sets the size of the day", async () => {
    const r = await run(["3000"]);
    assert.equal(r.code, 0, r.err);
    const summary = JSON.parse(r.out) as { requests: number };
    assert.ok(Math.abs(summary.requests - 3000) <= 24, `${summary.requests} requests for 3000 (per-hour counts rounded)`);
  });
});
