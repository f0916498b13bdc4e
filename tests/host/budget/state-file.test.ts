// The in-memory budget source with a state file (budget.stateFile): what each campaign's ledgers
// were granted and what they charged in the latest day, hour and minute outlive the process, so a
// restart does not start the total and daily caps from zero. Without it (the demo), they do.
// Unit level here (FleetSpend carry-over, the source, the file); the whole bidder restarting on
// its file is in state-file-restart.test.ts.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryBudgetSource, type CampaignLimits, type PodReport } from "../../../host/src/control/budget.ts";
import { BudgetStateFile, readBudgetState, type MemoryBudgetState } from "../../../host/src/control/budget-state-file.ts";
import { FleetSpend, windowsAt } from "../../../host/src/control/fleet-spend.ts";

const dir = mkdtempSync(join(tmpdir(), "nexus-budget-state-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);
const DAY = 86_400_000;
const limits: CampaignLimits = { id: "c", totalMicros: 100_000, dailyMicros: 80_000, active: true };
// A slice larger than the budget: every lease asks for all that is left.
const policy = { leaseSeconds: 1_000_000, minSliceMicros: 1_000_000 };

function report(pod: string, charged: number, reserved = 0, ledgerEpoch = 1, returning = false): PodReport {
  return { campaignId: "c", podId: pod, granted: 0, charged, reserved, dailyCharged: charged, ledgerEpoch, returning };
}

describe("FleetSpend across a restart", () => {
  it("snapshot() sums every pod's and retired ledger's latest windows; a carried snapshot counts as others' spend in its windows only", () => {
    const w = windowsAt(T0, 0);
    const f = new FleetSpend();
    f.report("a", 300, 300, w);
    f.report("b", 200, 200, w);
    f.retire("b"); // b's ledger restarted: its 200 stays
    f.report("b", 50, 50, w);
    const snap = f.snapshot();
    assert.deepEqual(snap.day, { period: w.day, micros: 550 });
    const carried = new FleetSpend(snap);
    assert.equal(carried.report("new", 10, 10, w).daily, 550, "the same day: the previous process's 550 are others' spend");
    const tomorrow = windowsAt(T0 + DAY, 0);
    assert.equal(new FleetSpend(snap).report("new", 10, 10, tomorrow).daily, 0, "the next day: nothing carried");
  });
});

describe("MemoryBudgetSource with a restored state", () => {
  it("counts what the previous process granted against the total and what it charged today as others' spend", async () => {
    const first = new MemoryBudgetSource(policy, 0);
    // The total bounds a grant; the daily cap is the filter's (with the others' daily spend of the lease).
    assert.equal((await first.lease(limits, report("pod", 0), T0)).granted, 100_000);
    // A graceful stop: the grant comes down to what is held (charged 60 000 + reserved 5 000).
    await first.lease(limits, report("pod", 60_000, 5_000, 1, true), T0 + 1000);
    const state = first.snapshot();
    assert.deepEqual(state.campaigns.c!.consumedMicros, 65_000);
    assert.equal(state.campaigns.c!.spend.day.micros, 60_000);

    const second = new MemoryBudgetSource(policy, 0, { restored: JSON.parse(JSON.stringify(state)) as MemoryBudgetState });
    const lease = await second.lease(limits, report("pod", 0, 0, 2), T0 + 2000);
    assert.equal(lease.granted, 35_000, "100 000 total − 65 000 consumed before the restart");
    assert.equal(lease.othersDailyCharged, 60_000, "today's spend before the restart: the filter's daily cap counts it");
    assert.equal(second.snapshot().campaigns.c!.consumedMicros, 100_000);
    // Without the state, a restart grants the whole budget again and reports no spend today.
    const forgetful = await new MemoryBudgetSource(policy, 0).lease(limits, report("pod", 0, 0, 2), T0 + 2000);
    assert.deepEqual([forgetful.granted, forgetful.othersDailyCharged], [100_000, 0]);
  });
});

describe("the state file", () => {
  it("no file yet: no state; a file that is not a budget state stops the start with the reason", () => {
    assert.equal(readBudgetState(join(dir, "none.json")), undefined);
    for (const [text, why] of [
      ["{", /budget state .*bad\.json: /],
      ['{"version": 2, "campaigns": {}}', /not a version 1 budget state/],
      ['{"version": 1, "campaigns": {"c": {"consumedMicros": -1}}}', /c\.consumedMicros: expected a non-negative integer/],
      ['{"version": 1, "campaigns": {"c": {"consumedMicros": 5, "spend": {"day": {"period": 1, "micros": 2}}}}}', /c\.spend\.hour: expected/],
    ] as const) {
      writeFileSync(join(dir, "bad.json"), text);
      assert.throws(() => readBudgetState(join(dir, "bad.json")), (e: Error & { code?: string }) => e.code === "BUDGET_STATE_INVALID" && why.test(e.message), text);
    }
  });

  it("each lease is saved before it is answered (mode 0600), and a restart reads it back", async () => {
    const path = join(dir, "state.json");
    let file: BudgetStateFile | undefined;
    const source = new MemoryBudgetSource(policy, 0, { persist: () => file!.save() });
    file = new BudgetStateFile(path, () => source.snapshot(), () => {});
    assert.equal(source.shared, true, "a graceful stop's return is kept: the state outlives the process");
    const lease = await source.lease(limits, report("pod", 1_000), T0);
    const saved = readBudgetState(path)!;
    assert.equal(saved.campaigns.c!.consumedMicros, lease.granted, "on disk when the lease returned");
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(new MemoryBudgetSource(policy, 0, { restored: saved }).snapshot(), saved);
  });

  it("a state that cannot be saved fails the lease (no new money) and makes the source unhealthy", async () => {
    const path = join(dir, "no-such-dir", "state.json");
    const errors: string[] = [];
    let file: BudgetStateFile | undefined;
    const source = new MemoryBudgetSource(policy, 0, { persist: () => file!.save() });
    file = new BudgetStateFile(path, () => source.snapshot(), (err) => errors.push(err.message));
    await assert.rejects(source.lease(limits, report("pod", 0), T0), (e: Error & { code?: string }) => e.code === "BUDGET_STATE_INVALID" && /not saved/.test(e.message));
    assert.equal(source.healthy(), false);
    assert.equal(errors.length, 1);
    assert.throws(() => readFileSync(path));
  });
});
