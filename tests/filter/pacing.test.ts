// One simulated day through the real filter (simulated clock, traffic shaped by
// the iPinYou hour-of-day volumes, budget at half of demand): the PID pacing
// spends the whole daily budget, never breaches the hard cap, and follows the
// traffic-shaped plan. The full-size run with its figures: `npm run sim:pacing`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runPacingSim } from "../../bench/pacing-sim.ts";

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
