// The leader's reservation sweep reads thousands of slot records per tick: more
// than the host-copy arena holds, so the rest are heap copies (memory.ts). They
// must be freed when the tick returns, or linear memory grows every tick until
// the VM traps out of memory.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { README_REQUEST } from "../helpers/bidder.ts";

// No bid floor: every request bids and reserves a slot.
const NO_FLOOR = JSON.stringify({ ...JSON.parse(README_REQUEST), imp: [{ id: "1", banner: { w: 300, h: 250 } }] });
const SLOTS = 4096;

let sim: SimBidder;

before(async () => {
  // A small arena (max_body_bytes 1 KiB: about 129 KiB) and a small ring that one tick sweeps
  // whole (TTL = tick): each tick reads ~4000 records, about 300 KB.
  sim = await startSimBidder({
    plugin: { reservation_ttl_ms: 1000, reservation_slots: SLOTS, max_body_bytes: 1024 },
    budget: { minSliceMicros: 900_000_000 },
  });
  await sim.untilReady();
});
after(async () => {
  await sim?.close();
});

async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    sim.clock.now += 1000;
    await sim.tick();
  }
}

describe("memory of the reservation sweep", () => {
  it("stays flat over hundreds of ticks on a nearly full ring", async () => {
    for (let i = 0; i < SLOTS - 96; i++) {
      const out = await sim.bid(NO_FLOOR);
      assert.equal(out.kind === "local" ? out.status : -1, 200, `bid ${i + 1}`);
    }
    await ticks(10); // every reservation expires; the records stay in the ring
    const start = sim.pool.memoryBytes()[0]!;
    await ticks(300);
    const end = sim.pool.memoryBytes()[0]!;
    assert.ok(end - start < 1 << 20, `linear memory grew ${((end - start) / 2 ** 20).toFixed(1)} MiB in 300 ticks (${start} -> ${end})`);
  });
});
