// The leader's sync schedule and the leader lease run on the host's monotonic clock
// (assembly/filter/sync.ts, leader-lease.ts). On the wall clock, a step back (NTP) of an hour
// meant an hour without a sync (grants stopped, the pod ran dry and answered no-bids) and an hour
// in which a dead leader's lease looked live, so no other VM could take over.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startSimBidder, type SimBidder, ticks } from "../helpers/sim-bidder.ts";

const LEADER_KEY = "nexus/v1/leader";
const HOUR_MS = 3_600_000;

function leaderOf(sim: SimBidder): number {
  const cur = sim.pool.shared.get(LEADER_KEY)!;
  return new DataView(cur.value.buffer, cur.value.byteOffset, 16).getUint32(0, true);
}

describe("sync schedule and a wall clock that steps back", () => {
  let sim: SimBidder;
  before(async () => {
    sim = await startSimBidder({ startMs: Date.UTC(2026, 10, 2, 10, 5) });
    await sim.untilReady();
  });
  after(async () => {
    await sim?.close();
  });

  it("keeps syncing every sync_period_ms after the wall clock steps back an hour", async () => {
    await ticks(sim, 3);
    const steady = sim.cp.sync.syncs;
    await ticks(sim, 5);
    assert.ok(sim.cp.sync.syncs > steady, "syncs while the clock is steady");
    sim.clock.wallOffsetMs -= HOUR_MS;
    const stepped = sim.cp.sync.syncs;
    await ticks(sim, 10);
    // sync_period_ms is one tick: about one sync per tick.
    assert.ok(sim.cp.sync.syncs >= stepped + 8, `syncs in the 10 s after the step: ${stepped} -> ${sim.cp.sync.syncs}`);
  });
});

describe("leader lease and a wall clock that steps back", () => {
  let sim: SimBidder;
  type Ticking = { tick(): Promise<void> };
  let slots: Ticking[];
  before(async () => {
    sim = await startSimBidder({ vms: 2 });
    await sim.untilReady();
    slots = (sim.pool as unknown as { slots: Ticking[] }).slots;
  });
  after(async () => {
    await sim?.close();
  });

  it("a dead leader is replaced once its lease (5 ticks) of monotonic time has passed", async () => {
    await ticks(sim, 2);
    const first = leaderOf(sim);
    // Which slot leads: the leader renews its lease on every tick, another VM leaves it alone.
    const cas = sim.pool.shared.get(LEADER_KEY)!.cas;
    await slots[0]!.tick();
    const survivor = sim.pool.shared.get(LEADER_KEY)!.cas === cas ? slots[0]! : slots[1]!;
    // The leader dies (stops ticking) just as the wall clock steps back an hour.
    sim.clock.wallOffsetMs -= HOUR_MS;
    await ticks(sim, 10, () => survivor.tick());
    assert.notEqual(leaderOf(sim), first, "the other VM leads 10 s after the leader died");
    const syncs = sim.cp.sync.syncs;
    await ticks(sim, 3, () => survivor.tick());
    assert.ok(sim.cp.sync.syncs > syncs, "the new leader syncs");
  });
});

// An Envoy process can run an older filter build beside this one during a config update (or a
// rollback); it writes the lease's expiry in wall-clock ms and reads this build's the same way.
describe("leader lease shared with an older filter build", () => {
  let sim: SimBidder;
  before(async () => {
    sim = await startSimBidder({ vms: 2 });
    await sim.untilReady();
  });
  after(async () => {
    await sim?.close();
  });

  const expiryOf = () => {
    const cur = sim.pool.shared.get(LEADER_KEY)!;
    return new DataView(cur.value.buffer, cur.value.byteOffset, 16).getBigInt64(8, true);
  };

  it("this build's expiry is marked (negative): an older build reads it as lapsed and can take over", async () => {
    await ticks(sim, 2);
    assert.ok(expiryOf() < 0n, `expiry ${expiryOf()}`);
  });

  it("an older build's wall-clock lease is respected until the wall clock passes it", async () => {
    const cur = sim.pool.shared.get(LEADER_KEY)!;
    const v = new Uint8Array(16);
    const dv = new DataView(v.buffer);
    dv.setUint32(0, 99, true); // a VM of the older build
    dv.setBigInt64(8, BigInt(sim.clock.now + sim.clock.wallOffsetMs + 5000), true);
    assert.equal(sim.pool.shared.set(LEADER_KEY, v, cur.cas), 0);
    await ticks(sim, 3);
    assert.equal(leaderOf(sim), 99, "within its lease");
    await ticks(sim, 3);
    assert.notEqual(leaderOf(sim), 99, "lapsed: a VM of this build leads");
    assert.ok(expiryOf() < 0n);
  });
});
