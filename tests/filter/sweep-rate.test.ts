// The leader sweeps the reservation ring a slice per tick. The slice was capped at 4096 records
// whatever the ring's size, so on a large ring a lap took longer than the reservation TTL and an
// expired reservation's money stayed reserved (no bids with it) for several TTLs. Now the slice
// grows to one lap per TTL when 4096 a tick cannot do that: the money is back within about two
// TTLs, wherever the reservation sits in the ring.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { README_REQUEST } from "../helpers/bidder.ts";
import { readLedger } from "../helpers/ledger.ts";

let sim: SimBidder;

before(async () => {
  // 65,536 slots, TTL 2 s, a tick a second: a lap per TTL is 32,768 records a tick.
  sim = await startSimBidder({ plugin: { reservation_ttl_ms: 2000, reservation_slots: 65_536, tick_ms: 1000 } });
  await sim.untilReady();
});
after(async () => {
  await sim?.close();
});

describe("reservation sweep on a large ring", () => {
  it("refunds an expired reservation far into the ring within two TTLs", async () => {
    // A bid at sequence 40,000: a sweep of 4096 records a tick reaches it at the tenth tick.
    const cursor = sim.pool.shared.get("nexus/v1/resv/cursor")!;
    const v = new Uint8Array(8);
    new DataView(v.buffer).setBigUint64(0, 40_000n, true);
    assert.equal(sim.pool.shared.set("nexus/v1/resv/cursor", v, cursor.cas), 0);
    const before = readLedger(sim.pool.shared, "test-cpa")!;
    const out = await sim.bid(README_REQUEST);
    assert.ok(out.kind === "local" && out.status === 200);
    assert.ok(readLedger(sim.pool.shared, "test-cpa")!.reserved > before.reserved, "the bid reserved");
    for (let i = 0; i < 4; i++) {
      sim.clock.now += 1000;
      await sim.tick();
    }
    assert.equal(readLedger(sim.pool.shared, "test-cpa")!.reserved, before.reserved, "refunded within 4 s (two TTLs)");
  });
});
