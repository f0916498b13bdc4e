// The in-memory budget source with a state file (budget.stateFile): what each campaign's ledgers
// were granted and what they charged in the latest day, hour and minute outlive the process, so a
// restart does not start the total and daily caps from zero. Without it (the demo), they do.
// Unit level here (FleetSpend carry-over, the source, the file); the whole bidder restarting on
// its file is in state-file-restart.test.ts.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryBudgetSource, type CampaignLimits, type PodReport } from "../../../host/src/control/budget.ts";
import { BudgetStateFile, readBudgetState, readBudgetStateText, type MemoryBudgetState } from "../../../host/src/control/budget-state-file.ts";
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
    // Today: the 60 000 charged, and apart from it the 5 000 still reserved (their notices will
    // reach the next process as unknown bids, but the exchange bills them today).
    assert.equal(state.campaigns.c!.spend.day.micros, 60_000);
    assert.deepEqual(state.campaigns.c!.unbilled, { day: state.campaigns.c!.spend.day.period, micros: 5_000 });

    const second = new MemoryBudgetSource(policy, 0, { restored: JSON.parse(JSON.stringify(state)) as MemoryBudgetState });
    const lease = await second.lease(limits, report("pod", 0, 0, 2), T0 + 2000);
    // The total would leave 35 000 (100 000 − 65 000 consumed); the day leaves 15 000 (80 000 − the
    // 65 000 of today before the restart), which the new ledger's own day does not know.
    assert.equal(lease.granted, 15_000);
    // Pacing reads what was charged: the 5 000 held count against the cap only.
    assert.equal(lease.othersDailyCharged, 60_000, "today's charges before the restart, for pacing");
    assert.equal(second.snapshot().campaigns.c!.consumedMicros, 80_000);
    // The next day, the total is what is left: 35 000.
    assert.equal((await second.lease(limits, { ...report("pod", 0, 0, 2), dailyCharged: 0 }, T0 + DAY)).granted, 35_000);
    // Without the state, a restart grants the whole budget again and reports no spend today.
    const forgetful = await new MemoryBudgetSource(policy, 0).lease(limits, report("pod", 0, 0, 2), T0 + 2000);
    assert.deepEqual([forgetful.granted, forgetful.othersDailyCharged], [100_000, 0]);
  });
});

describe("the day a crash leaves behind", () => {
  it("what a live ledger holds beyond what it charged counts against today's cap on file (a crash cannot reopen the day), not as charged (pacing)", async () => {
    const source = new MemoryBudgetSource({ leaseSeconds: 1, minSliceMicros: 30_000 }, 0);
    const a = await source.lease(limits, report("pod", 0), T0);
    assert.equal(a.granted, 30_000);
    await source.lease(limits, report("pod", 10_000, 5_000), T0 + 1000);
    const { spend, unbilled } = source.snapshot().campaigns.c!;
    // Charged 10 000, granted 45 000 (held 15 000 + a 30 000 slice): all of it may be gone by a crash.
    assert.equal(spend.day.micros, 10_000);
    assert.deepEqual(unbilled, { day: spend.day.period, micros: 35_000 });
    const next = await new MemoryBudgetSource({ leaseSeconds: 1, minSliceMicros: 30_000 }, 0, { restored: source.snapshot() }).lease(limits, report("pod", 0, 0, 2), T0 + 2000);
    assert.equal(next.granted, 30_000, "a slice, within the day's 80 000 − 45 000");
    // The next process paces by the 10 000 charged. Before, by all 45 000: an audit's bidder,
    // restarted with most of its grant reserved, had its multiplier at the floor and bid nothing.
    assert.equal(next.othersDailyCharged, 10_000);
    // The held 35 000 still bound the day after a second restart, and are gone the next day.
    const third = new MemoryBudgetSource({ leaseSeconds: 1, minSliceMicros: 1_000 }, 0, { restored: JSON.parse(JSON.stringify(source.snapshot())) as MemoryBudgetState });
    const again = await third.lease({ ...limits, totalMicros: 1_000_000 }, report("pod", 0, 0, 3), T0 + 3000);
    assert.equal(again.granted, 1_000);
    const bigSlice = new MemoryBudgetSource({ leaseSeconds: 1, minSliceMicros: 100_000 }, 0, { restored: JSON.parse(JSON.stringify(source.snapshot())) as MemoryBudgetState });
    assert.equal((await bigSlice.lease({ ...limits, totalMicros: 1_000_000 }, report("pod", 0, 0, 3), T0 + 3000)).granted, 35_000, "80 000 − 10 000 charged − 35 000 held");
    const tomorrow = new MemoryBudgetSource({ leaseSeconds: 1, minSliceMicros: 100_000 }, 0, { restored: JSON.parse(JSON.stringify(source.snapshot())) as MemoryBudgetState });
    // The next day nothing of yesterday bounds the grant: a whole slice (the filter's own ledger
    // holds its day to the cap).
    assert.equal((await tomorrow.lease({ ...limits, totalMicros: 1_000_000 }, report("pod", 0, 0, 3), T0 + DAY)).granted, 100_000);
  });

  it("a window of a later period on file (a clock that ran ahead, another utc offset) is counted in today's, not kept apart for ever", async () => {
    const w = windowsAt(T0, 0);
    const restored: MemoryBudgetState = {
      version: 1,
      campaigns: { c: { consumedMicros: 0, spend: { day: { period: w.day + 1, micros: 70_000 }, hour: { period: w.hour + 24, micros: 0 }, minute: { period: w.minute + 1440, micros: 0 } } } },
    };
    const source = new MemoryBudgetSource(policy, 0, { restored });
    const lease = await source.lease(limits, report("pod", 0), T0);
    // That spend was made today (the clock, or the offset, went back): it counts against today's
    // cap and in pacing. Before, the lease read today's window only and granted the whole day
    // again: a restart with utc_offset_minutes lowered spent the daily cap twice (audit).
    assert.equal(lease.othersDailyCharged, 70_000);
    assert.ok(lease.granted <= limits.dailyMicros - 70_000, `granted ${lease.granted} within the day's ${limits.dailyMicros} − 70 000`);
    // The file made now keeps the 70 000 in today's window (and today's grant beside it).
    const { spend, unbilled } = source.snapshot().campaigns.c!;
    assert.equal(spend.day.period, w.day);
    assert.equal(spend.day.micros, 70_000);
    assert.deepEqual(unbilled, { day: w.day, micros: lease.granted });
  });
});

/**
 * A memory source saving to `path` (claimed, as at start); `restored`: a previous process's state.
 * `snapshots` counts the writes (each takes one snapshot); errors and warnings are collected.
 */
async function persisted(path: string, restored?: MemoryBudgetState) {
  const log = { errors: [] as string[], warnings: [] as string[], snapshots: 0 };
  let file: BudgetStateFile | undefined;
  const source = new MemoryBudgetSource(policy, 0, { restored, persist: () => file!.save() });
  file = new BudgetStateFile(path, () => (log.snapshots++, source.snapshot()), (err) => log.errors.push(err.message), (m) => log.warnings.push(m));
  const claimed = await file.claim().then(() => true, () => false);
  return { source, file, log, claimed };
}

describe("the state file", () => {
  it("no file yet: no state; a file that is not a budget state stops the start with the reason", () => {
    assert.equal(readBudgetState(join(dir, "none.json")), undefined);
    for (const [text, why] of [
      ["{", /budget state .*bad\.json: /],
      ['{"version": 2, "campaigns": {}}', /not a version 1 budget state/],
      ['{"version": 1, "campaigns": {"c": {"consumedMicros": -1}}}', /c\.consumedMicros: expected a non-negative integer/],
      ['{"version": 1, "campaigns": {"c": {"consumedMicros": 5, "spend": {"day": {"period": 1, "micros": 2}}}}}', /c\.spend\.hour: expected/],
      ['{"version": 1, "campaigns": {"c": {"consumedMicros": 5, "spend": {"day": {"period": 1, "micros": 2}, "hour": {"period": 1, "micros": 2}, "minute": {"period": 1, "micros": 2}}, "unbilled": {"day": 1, "micros": -3}}}}', /c\.unbilled: expected \{day, micros\}/],
    ] as const) {
      writeFileSync(join(dir, "bad.json"), text);
      assert.throws(() => readBudgetState(join(dir, "bad.json")), (e: Error & { code?: string }) => e.code === "BUDGET_STATE_INVALID" && why.test(e.message), text);
    }
  });

  it("each lease is saved before it is answered (mode 0600), and a restart reads it back", async () => {
    const path = join(dir, "state.json");
    const { source, file } = await persisted(path);
    assert.equal(source.shared, true, "a graceful stop's return is kept: the state outlives the process");
    const lease = await source.lease(limits, report("pod", 1_000), T0);
    const saved = readBudgetState(path)!;
    assert.equal(saved.campaigns.c!.consumedMicros, lease.granted, "on disk when the lease returned");
    assert.equal(saved.writer, file.writer);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const { writer: _w, ...state } = saved;
    assert.deepEqual(JSON.parse(JSON.stringify(new MemoryBudgetSource(policy, 0, { restored: saved }).snapshot())), state);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith(".tmp")), [], "no temporary file left");
  });

  it("a file deleted under the process is written again at the next save; temporary files a killed process left go at the claim", async () => {
    const path = join(dir, "deleted.json");
    writeFileSync(`${path}.deadbeef.0001.tmp`, "half a state");
    const { source, log } = await persisted(path);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith("deleted.json.")), [], "the stale temporary file is gone");
    await source.lease(limits, report("pod", 0), T0);
    rmSync(path);
    await source.lease(limits, report("pod", 1_000), T0 + 1000);
    assert.equal(readBudgetState(path)!.campaigns.c!.consumedMicros, 100_000, "written again, whole");
    assert.match(log.warnings.join(), /was missing: written again/);
    assert.equal(source.healthy(), true);
  });

  it("saves asked for while one waits share it: one sync of many campaigns is not one write per campaign", async () => {
    const path = join(dir, "many.json");
    const { source, log } = await persisted(path);
    log.snapshots = 0;
    const ids = Array.from({ length: 50 }, (_, i) => `c${i}`);
    await Promise.all(ids.map((id) => source.lease({ ...limits, id }, { ...report("pod", 0), campaignId: id }, T0)));
    assert.ok(log.snapshots <= 2, `${log.snapshots} writes for 50 leases`);
    assert.deepEqual(Object.keys(readBudgetState(path)!.campaigns).sort(), [...ids].sort(), "every lease's grant is in the file");
  });

  it("one process per file: once another took the file over, this one's saves fail and it grants nothing more", async () => {
    const path = join(dir, "shared.json");
    const { source: old } = await persisted(path);
    await old.lease(limits, report("pod", 0), T0);
    // A new process starts on the same file (a rolling update) and takes it.
    const { file: newFile } = await persisted(path, readBudgetState(path)!);
    await assert.rejects(old.lease(limits, report("pod", 1000), T0 + 1000), /another process .* has taken the file over/);
    assert.equal(old.healthy(), false);
    assert.equal(readBudgetState(path)!.writer, newFile.writer, "the old process did not overwrite the new one's state");
  });

  it("a file that changed between the start's read and its claim (the old process saved meanwhile) fails the claim: its grant is not overwritten", async () => {
    const path = join(dir, "race.json");
    const { source: old } = await persisted(path);
    await old.lease(limits, report("pod", 0), T0);
    const startedFrom = readBudgetStateText(path)!;
    // The old process saves again (a lease) after the new one read the file, before it claims.
    await old.lease({ ...limits, id: "c2" }, { ...report("pod", 0), campaignId: "c2" }, T0 + 500);
    const next = new BudgetStateFile(path, () => new MemoryBudgetSource(policy, 0, { restored: startedFrom.state }).snapshot(), () => {});
    await assert.rejects(next.claim(startedFrom.text), /changed while this process started/);
    assert.ok(readBudgetState(path)!.campaigns.c2, "the old process's last grant is still on file");
    // Read again, the claim goes through; a claim with no file at start fails once one appeared.
    await next.claim(readBudgetStateText(path)!.text);
    await assert.rejects(new BudgetStateFile(path, () => ({ version: 1, campaigns: {} }), () => {}).claim(null), /changed while this process started/);
  });

  it("a campaign whose id is __proto__ is saved like any other", () => {
    const source = new MemoryBudgetSource(policy, 0, {});
    return source.lease({ ...limits, id: "__proto__" }, { ...report("pod", 0), campaignId: "__proto__" }, T0).then(() => {
      const text = JSON.stringify(source.snapshot());
      assert.match(text, /"__proto__":\{"consumedMicros":100000/);
      const back = JSON.parse(text) as MemoryBudgetState;
      assert.equal(new MemoryBudgetSource(policy, 0, { restored: back }).snapshot().campaigns["__proto__"]?.consumedMicros, 100_000);
    });
  });

  it("a state that cannot be saved fails the lease (no new money) and makes the source unhealthy", async () => {
    const path = join(dir, "no-such-dir", "state.json");
    const { source, file, log, claimed } = await persisted(path);
    assert.equal(claimed, false, "the start's claim fails: the start fails");
    await assert.rejects(file.save(), /not saved/);
    await assert.rejects(source.lease(limits, report("pod", 0), T0), (e: Error & { code?: string }) => e.code === "BUDGET_STATE_INVALID" && /not saved/.test(e.message));
    assert.equal(source.healthy(), false);
    assert.equal(log.errors.length, 3);
    assert.throws(() => readFileSync(path));
  });
});
