// Every sync report carries report_ms, the filter's monotonic clock when the report was made (the
// host ignores a report of the same ledger older than one it applied: a stalled leader's). All VMs
// of a ledger read one clock, so the stamps keep growing when leadership moves. They also carry the
// filter's budget day (what daily_charged_micros counts), and the host marks the campaigns a report
// did not carry (the filter had not loaded them yet) as unreported.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { MemoryBudgetSource, type BudgetLease, type BudgetSource, type CampaignLimits, type PodReport } from "../../host/src/control/budget.ts";
import { budgetDay } from "../../host/src/control/fleet-spend.ts";

class RecordingSource implements BudgetSource {
  readonly reports: PodReport[] = [];
  private readonly inner = new MemoryBudgetSource({ leaseSeconds: 60, minSliceMicros: 1_000_000 });
  grant(l: CampaignLimits, r: PodReport, now: number): Promise<number> {
    this.reports.push(r);
    return this.inner.grant(l, r, now);
  }
  lease(l: CampaignLimits, r: PodReport, now: number): Promise<BudgetLease> {
    this.reports.push(r);
    return this.inner.lease(l, r, now);
  }
  healthy(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

describe("sync reports carry report_ms", () => {
  const source = new RecordingSource();
  let sim: SimBidder;
  before(async () => {
    sim = await startSimBidder({ vms: 2, budgetSource: source });
    await sim.untilReady();
  });
  after(async () => {
    await sim?.close();
  });

  const leaderOf = () => {
    const v = sim.pool.shared.get("nexus/v1/leader")!;
    return { owner: new DataView(v.value.buffer, v.value.byteOffset, 16).getUint32(0, true), cas: v.cas };
  };
  const ticks = async (n: number) => {
    for (let i = 0; i < n; i++) {
      sim.clock.now += 1000;
      await sim.tick();
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  it("on the monotonic clock, growing across a leader change", async () => {
    await ticks(3);
    const first = leaderOf().owner;
    // The other VM takes the lease (the leader stalled past it).
    const other = sim.pool.shared.keys().filter((k) => k.startsWith("nexus/v1/vm/")).map((k) => Number(k.slice("nexus/v1/vm/".length))).find((s) => s !== first)!;
    const v = new Uint8Array(16);
    new DataView(v.buffer).setUint32(0, other, true);
    new DataView(v.buffer).setBigInt64(8, BigInt(sim.clock.now + 1500), true);
    assert.equal(sim.pool.shared.set("nexus/v1/leader", v, leaderOf().cas), 0);
    await ticks(3);
    assert.equal(leaderOf().owner, other);
    const stamps = source.reports.map((r) => r.reportMs);
    assert.ok(stamps.length >= 4, `${stamps.length} reports`);
    for (const s of stamps) assert.equal(typeof s, "number", "every report carries report_ms");
    for (let i = 1; i < stamps.length; i++) assert.ok(stamps[i]! >= stamps[i - 1]!, `report_ms went back: ${stamps.join(", ")}`);
    // The sim's monotonic clock is its `now`: the stamp is when the report was made.
    assert.ok(stamps.at(-1)! <= sim.clock.now && stamps.at(-1)! > sim.clock.now - 5000);
  });

  it("with the filter's budget day; campaigns it has not loaded are marked unreported", async () => {
    await ticks(1);
    const last = source.reports.at(-1)!;
    assert.equal(last.reportDay, budgetDay(sim.clock.now + sim.clock.wallOffsetMs, 0));
    assert.equal(last.unreported, false, "a campaign of the loaded configuration");
    // The first sync came before the filter had its configuration: no campaign in it.
    assert.equal(source.reports[0]!.unreported, true);
  });
});
