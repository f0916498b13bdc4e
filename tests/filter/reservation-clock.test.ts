// Reservation TTLs run on the host's monotonic clock (assembly/filter/monotonic.ts). A wall clock
// that steps forward past the TTL (an NTP step, a resumed VM) used to expire every live
// reservation at the next sweep: its money went back to the ledger and was bid again, while the
// exchanges still bill the wins of the old bids (charged late, beyond the grant).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { README_REQUEST } from "../helpers/bidder.ts";
import { readLedger } from "../helpers/ledger.ts";

const TTL_MS = 10_000;

describe("reservation TTL and a wall clock that steps", () => {
  let sim: SimBidder;
  before(async () => {
    // A small ring: one tick sweeps all of it.
    sim = await startSimBidder({ plugin: { reservation_ttl_ms: TTL_MS, reservation_slots: 256 } });
    await sim.untilReady();
  });
  after(async () => {
    await sim?.close();
  });

  const reserved = () => readLedger(sim.pool.shared, "test-cpa")!.reserved;
  /** Ticks for `ms` of monotonic time, a second per tick (the leader sweeps a slice of the ring per tick). */
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 1000) {
      sim.clock.now += 1000;
      await sim.tick();
    }
  };

  it("a wall clock step of an hour expires nothing; the monotonic TTL still does", async () => {
    const out = await sim.bid(README_REQUEST);
    assert.equal(out.kind === "local" && out.status, 200);
    const held = reserved();
    assert.ok(held > 0n);
    sim.clock.wallOffsetMs = 3_600_000;
    await run(3000);
    assert.equal(reserved(), held, "the wall clock jumped an hour: the reservation is still live");
    await run(TTL_MS + 60_000);
    assert.equal(reserved(), 0n, "expired after its TTL of monotonic time");
  });
});
