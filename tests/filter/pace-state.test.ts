// The leader's pacing state (PID, hourly/minute soft-cap windows, the fleet's daily spend) lives
// in shared data (nexus/v1/pace-state/<campaign>), so it survives what used to reset it: a new
// campaign set (every CampaignRuntime is rebuilt) and leadership moving to another VM. The
// hourly soft cap shows it: once the hour's spend passes the cap, the multiplier stays at its
// floor until the hour ends. A reset window forgets that spend and bids at full price again.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bidAndWin, startSimBidder, type SimBidder, configVersions, ticks } from "../helpers/sim-bidder.ts";
import { FIXTURES, README_REQUEST } from "../helpers/bidder.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

const dec = new TextDecoder();
const NO_FLOOR = JSON.stringify({ ...JSON.parse(README_REQUEST), imp: [{ id: "1", banner: { w: 300, h: 250 } }] });
const LEADER_KEY = "nexus/v1/leader";

function bidOf(out: HttpOutcome): { price: number; nurl: string } {
  assert.ok(out.kind === "local" && out.status === 200, "a bid");
  return JSON.parse(dec.decode(out.body)).seatbid[0].bid[0];
}

function leaderOf(sim: SimBidder): number {
  const cur = sim.pool.shared.get(LEADER_KEY)!;
  return new DataView(cur.value.buffer, cur.value.byteOffset, 16).getUint32(0, true);
}

describe("pacing state across campaign reloads and leader changes", () => {
  let sim: SimBidder;
  let full: number;
  before(async () => {
    const c = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    c.campaigns[0].budget = { total_micros: 0, daily_micros: 0, hourly_micros: 5_000, minute_micros: 0 };
    sim = await startSimBidder({ vms: 2, campaigns: c, startMs: Date.UTC(2026, 10, 2, 10, 5), budget: { minSliceMicros: 10_000_000 } });
    await sim.untilReady();
    full = bidOf(await sim.bid(NO_FLOOR)).price;
    // Spend past the hourly cap; the leader then publishes the floor multiplier.
    await bidAndWin(sim, NO_FLOOR, 10);
    await ticks(sim, 2);
  });
  after(async () => {
    await sim?.close();
  });

  const shaded = async (what: string) => {
    const price = bidOf(await sim.bid(NO_FLOOR)).price;
    assert.ok(price <= full * 0.1, `${what}: ${price} (unshaded ${full}): the hour's spend was forgotten`);
  };

  it("the hourly cap's floor holds before anything changes", async () => {
    await shaded("after the cap");
    assert.ok(sim.pool.shared.get("nexus/v1/pace-state/test-cpa"), "the leader published its state");
  });

  it("survives a new campaign set (every campaign runtime is rebuilt)", async () => {
    const before = Math.max(...configVersions(sim));
    // Any change publishes a new version, which every VM loads (and rebuilds its runtimes for).
    sim.cp.catalog.update("test-cpa", (c) => {
      c.active = true;
    });
    for (let i = 0; i < 20 && Math.min(...configVersions(sim)) <= before; i++) await ticks(sim, 1);
    assert.ok(Math.min(...configVersions(sim)) > before, "every VM loaded the new campaign set");
    await ticks(sim, 2);
    await shaded("after the reload");
  });

  it("survives leadership moving to another VM", async () => {
    const owner = leaderOf(sim);
    const other = sim.pool.shared
      .keys()
      .filter((k) => k.startsWith("nexus/v1/vm/"))
      .map((k) => Number(k.slice("nexus/v1/vm/".length)))
      .find((s) => s !== owner)!;
    // The leader stalls past its lease; the other VM takes it (what tryLead does, by CAS).
    const cur = sim.pool.shared.get(LEADER_KEY)!;
    const v = new Uint8Array(16);
    const dv = new DataView(v.buffer);
    dv.setUint32(0, other, true);
    dv.setBigInt64(8, BigInt(sim.clock.now + 1500), true); // the new owner renews it on its next tick
    assert.equal(sim.pool.shared.set(LEADER_KEY, v, cur.cas), 0);
    await ticks(sim, 3);
    assert.equal(leaderOf(sim), other, "the other VM leads");
    await shaded("after the leader change");
  });

  it("the hour's end still lifts the floor (the restored window is the hour's, not for ever)", async () => {
    sim.clock.now = Date.UTC(2026, 10, 2, 11, 1);
    await ticks(sim, 3);
    const price = bidOf(await sim.bid(NO_FLOOR)).price;
    assert.ok(price > full * 0.5, `next hour: ${price} vs unshaded ${full}`);
  });
});

// A leader that stalled past its lease never saw it lose leadership: when it comes back after the
// VM that took over stalled in turn (its lease lapsed too), it takes the key back by CAS. The
// state the other VM published meanwhile (here: the new hour's window and the spend in it) is the
// current one, not the old leader's copy from before its stall.
describe("pacing state when a stalled leader takes the lead back", () => {
  let sim: SimBidder;
  type Ticking = { tick(): Promise<void>; handle(r: { headers: Array<[string, string]>; body: Uint8Array[] }): Promise<HttpOutcome> };
  // A stalled VM answers nothing: the checks bid on the VM that is ticking.
  const bidOn = (slot: Ticking) =>
    slot.handle({ headers: [[":method", "POST"], [":path", "/openrtb2/bid"], [":authority", "bidder.test"], [":scheme", "http"]], body: [new TextEncoder().encode(NO_FLOOR)] });
  let slots: Ticking[];
  const tickOnly = async (slot: Ticking, n: number) => {
    for (let i = 0; i < n; i++) {
      sim.clock.now += 1000;
      await slot.tick();
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  before(async () => {
    const c = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    c.campaigns[0].budget = { total_micros: 0, daily_micros: 0, hourly_micros: 5_000, minute_micros: 0 };
    sim = await startSimBidder({ vms: 2, campaigns: c, startMs: Date.UTC(2026, 10, 2, 10, 5), budget: { minSliceMicros: 10_000_000 } });
    await sim.untilReady();
    slots = (sim.pool as unknown as { slots: Ticking[] }).slots;
  });
  after(async () => {
    await sim?.close();
  });

  it("keeps the window the other VM opened and the spend in it", async () => {
    await ticks(sim, 2);
    const first = leaderOf(sim);
    const full = bidOf(await sim.bid(NO_FLOOR)).price;
    // Which slot leads (a), found without letting it tick in the new hour: slot 0 alone ticks,
    // still in this hour, and the status key it stamps names its VM.
    await tickOnly(slots[0]!, 1);
    const stamped = sim.pool.shared.keys().filter((k) => {
      const v = k.startsWith("nexus/v1/vm/") ? sim.pool.shared.get(k)!.value : undefined;
      return v !== undefined && new DataView(v.buffer, v.byteOffset, 8).getBigInt64(0, true) === BigInt(sim.clock.now);
    });
    assert.equal(stamped.length, 1);
    const [a, b] = stamped[0] === `nexus/v1/vm/${first}` ? [slots[0]!, slots[1]!] : [slots[1]!, slots[0]!];
    // The leader stalls; the other one takes over once its lease has lapsed.
    sim.clock.now = Date.UTC(2026, 10, 2, 11, 0, 10); // the next hour; the leader's lease has lapsed
    await tickOnly(b, 3);
    assert.notEqual(leaderOf(sim), first, "the other VM leads (the old leader is stalled)");
    // This hour's spend passes the cap; the new leader's window (opened at 11:00) holds it.
    await bidAndWin(sim, NO_FLOOR, 10);
    await tickOnly(b, 2);
    assert.ok(bidOf(await bidOn(b)).price <= full * 0.1, "the new leader shades to the floor");
    // Now the new leader stalls past its lease, and the old one wakes up and takes the key back.
    sim.clock.now += 6000;
    await tickOnly(a, 3);
    assert.equal(leaderOf(sim), first, "the old leader leads again");
    const price = bidOf(await bidOn(a)).price;
    assert.ok(price <= full * 0.1, `${price} (unshaded ${full}): the old leader reopened the hour from its stale copy and forgot its spend`);
  });
});

// Pacing state outlives the leader VM, so a leader may pace again long after the state was saved
// (it stalled, or the campaign comes back). That gap must not go into the PID's integral at once:
// a step longer than a minute counts as one tick (sync.ts MAX_PACE_STEP_MS).
describe("a pacing step after a long gap", () => {
  let sim: SimBidder;
  const DAILY = 20_000;
  const multiplier = () => {
    const v = sim.pool.shared.get("nexus/v1/pace/test-cpa")!.value;
    return new DataView(v.buffer, v.byteOffset, 16).getFloat64(0, true);
  };
  before(async () => {
    const c = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    c.campaigns[0].budget = { total_micros: 0, daily_micros: DAILY, hourly_micros: 0, minute_micros: 0 };
    // Integral only (kp 0): the multiplier is 1 + ki × integral, so a wound-up integral shows.
    sim = await startSimBidder({
      campaigns: c, startMs: Date.UTC(2026, 10, 2, 0, 5), budget: { minSliceMicros: 10_000_000 },
      plugin: { utc_offset_minutes: 0, pacing: { kp: 0, ki: 0.005, integral_limit: 50 } },
    });
    await sim.untilReady();
  });
  after(async () => {
    await sim?.close();
  });

  it("counts as one tick: the integral does not wind up to its limit", async () => {
    // Early in the day, spend about a third of the daily budget: far ahead of the flat plan.
    await bidAndWin(sim, NO_FLOOR, 3);
    await ticks(sim, 2);
    const before = multiplier();
    assert.ok(before < 1 && before > 0.99, `ahead of plan, a small integral: ${before}`);
    // Two hours without a pacing step (still ahead of plan), then one step.
    sim.clock.now += 2 * 3_600_000;
    await ticks(sim, 1);
    const after = multiplier();
    // Fed the whole gap, the integral would hit its limit: 1 + 0.005 × (−50) = 0.75.
    assert.ok(after > 0.99, `after the gap: ${after} (before: ${before})`);
  });
});
