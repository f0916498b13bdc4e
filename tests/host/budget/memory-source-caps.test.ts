// Rules of the memory budget source that a mutation audit found no test for (each assertion below
// failed on a one-line change of budget.ts or fleet-spend.ts that the suite let through): what a
// pod holds reserved counts against the day, a lowered total never answers below what a pod holds,
// and ledger restarts (an Envoy that restarts twice in a day, a host restart after one) keep the
// old ledgers' charges and bids out in the day.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryBudgetSource, type CampaignLimits, type PodReport } from "../../../host/src/control/budget.ts";
import { FleetSpend, windowsAt } from "../../../host/src/control/fleet-spend.ts";

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);
const report = (o: Partial<PodReport>): PodReport => ({ campaignId: "c", podId: "a", granted: 0, charged: 0, reserved: 0, dailyCharged: 0, ...o });
const daily = (micros: number): CampaignLimits => ({ id: "c", totalMicros: 0, dailyMicros: micros, active: true });

describe("memory budget source: caps against what pods hold", () => {
  it("a pod's reserved bids count in the day once other pods charged in it", async () => {
    const s = new MemoryBudgetSource({ leaseSeconds: 1_000_000, minSliceMicros: 1_000_000 }, 0);
    const ga = (await s.lease(daily(100_000), report({ podId: "a" }), T0)).granted;
    const gb = (await s.lease(daily(100_000), report({ podId: "b" }), T0)).granted;
    await s.lease(daily(100_000), report({ podId: "b", granted: gb, charged: 50_000, dailyCharged: 50_000 }), T0 + 1000);
    // a has 40,000 of bids out and nothing charged; b charged 50,000 today: a may hold 50,000.
    const a = (await s.lease(daily(100_000), report({ podId: "a", granted: ga, reserved: 40_000 }), T0 + 2000)).granted;
    assert.equal(a, 50_000, `b's 50,000 + a's grant ${a} against a daily 100,000`);
  });

  it("a total lowered below what the pods hold: no answer below a pod's charged + reserved, and no more money", async () => {
    const limits: CampaignLimits = { id: "c", totalMicros: 100_000, dailyMicros: 0, active: true };
    const s = new MemoryBudgetSource({ leaseSeconds: 1, minSliceMicros: 40_000 }, 0);
    const a1 = (await s.lease(limits, report({ podId: "a" }), T0)).granted;
    const b1 = (await s.lease(limits, report({ podId: "b" }), T0)).granted;
    const a2 = (await s.lease(limits, report({ podId: "a", granted: a1, charged: 40_000, dailyCharged: 40_000 }), T0 + 1000)).granted;
    assert.deepEqual([a1, b1, a2], [40_000, 40_000, 60_000]);
    const lowered = { ...limits, totalMicros: 70_000 };
    const b2 = (await s.lease(lowered, report({ podId: "b", granted: b1, charged: 40_000, dailyCharged: 40_000 }), T0 + 2000)).granted;
    assert.ok(b2 >= 40_000, `b holds 40,000 charged; answered ${b2}`);
    // a charged 50,000 of its 60,000: with b's 40,000 the fleet is past 70,000 already.
    const a3 = (await s.lease(lowered, report({ podId: "a", granted: a2, charged: 50_000, dailyCharged: 50_000 }), T0 + 3000)).granted;
    assert.equal(a3, 50_000);
  });
});

describe("memory budget source: ledger restarts within a day", () => {
  const policy = { leaseSeconds: 86_400, minSliceMicros: 10_000, pacingSeconds: 86_400 };
  /** Epoch 1 is granted the day's 10,000, charges 2,000 with 8,000 out; then Envoy restarts (epoch 2). */
  async function restartedOnce(s: MemoryBudgetSource): Promise<void> {
    const g1 = (await s.lease(daily(10_000), report({ ledgerEpoch: 1 }), T0)).granted;
    assert.equal(g1, 10_000);
    await s.lease(daily(10_000), report({ ledgerEpoch: 1, granted: g1, charged: 2_000, dailyCharged: 2_000, reserved: 8_000 }), T0 + 1000);
    assert.equal((await s.lease(daily(10_000), report({ ledgerEpoch: 2 }), T0 + 2000)).granted, 0, "first restart");
  }

  it("a second restart keeps the first one's bids out counted", async () => {
    const s = new MemoryBudgetSource(policy, 0);
    await restartedOnce(s);
    assert.equal((await s.lease(daily(10_000), report({ ledgerEpoch: 3 }), T0 + 3000)).granted, 0, "2,000 charged + 8,000 out fill the day");
  });

  it("the state file keeps a restarted ledger's bids out in the day (a host restart after an Envoy restart)", async () => {
    const s = new MemoryBudgetSource(policy, 0);
    await restartedOnce(s);
    const next = new MemoryBudgetSource(policy, 0, { restored: JSON.parse(JSON.stringify(s.snapshot())) });
    const g = (await next.lease(daily(10_000), report({ ledgerEpoch: 3 }), T0 + 3000)).granted;
    assert.equal(g, 0, `2,000 charged + 8,000 out + ${g} against a daily 10,000`);
  });
});

describe("fleet spend (memory source)", () => {
  it("two ledger restarts in a day: both old ledgers' charges stay in the fleet's day", () => {
    const w = windowsAt(T0, 0);
    const f = new FleetSpend();
    f.report("a", 3_000, 3_000, w);
    f.retire("a");
    f.report("a", 2_000, 2_000, w);
    f.retire("a");
    assert.equal(f.report("a", 0, 0, w).daily, 5_000);
  });

  it("another pod's spend filed under a later day number (a filter whose day began) counts in today's", () => {
    const t = Date.UTC(2026, 11, 5, 23, 0, 0);
    const f = new FleetSpend();
    f.report("a", 500, 500, windowsAt(t, 120)); // UTC+2: already tomorrow
    assert.equal(f.report("b", 0, 0, windowsAt(t, 0)).daily, 500);
  });
});
