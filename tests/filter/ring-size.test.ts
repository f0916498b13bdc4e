// The reservation ring keeps its size for the life of the shared data. Envoy starts the VMs of a
// new plugin configuration on the same shared data (same vm_id) while the bids of the old ones are
// still out: with another reservation_slots they looked for those bids at other slots (seq modulo
// the size), so a win was answered 404 and never charged, and the reservations beyond a smaller
// ring were never swept (their money reserved for good). The recorded size wins; the new one
// takes effect when Envoy restarts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { README_REQUEST } from "../helpers/bidder.ts";
import { readLedger } from "../helpers/ledger.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

const dec = new TextDecoder();
const status = (o: HttpOutcome) => (o.kind === "local" ? o.status : -1);
const json = (o: HttpOutcome) => (o.kind === "local" ? JSON.parse(dec.decode(o.body) || "null") : null);

/** A notice URL of a bid with its macros filled, as a path. */
function noticePath(url: string, price: string): string {
  const u = new URL(url.replace("${AUCTION_PRICE}", price).replace("${AUCTION_LOSS}", "102"));
  return u.pathname + u.search;
}

describe("reservation ring size across a configuration change", () => {
  it("VMs with another reservation_slots on the same shared data charge the old bids' wins and sweep their reservations", async () => {
    const old = await startSimBidder({ plugin: { reservation_ttl_ms: 60_000 } });
    let next: SimBidder | undefined;
    try {
      await old.untilReady();
      // Where a busy bidder's cursor would be: seq 5000 is slot 5000 of 65536, slot 904 of 1024.
      const cursor = old.pool.shared.get("nexus/v1/resv/cursor")!;
      const v = new Uint8Array(8);
      new DataView(v.buffer).setBigUint64(0, 5000n, true);
      assert.equal(old.pool.shared.set("nexus/v1/resv/cursor", v, cursor.cas), 0);
      const before = readLedger(old.pool.shared, "test-cpa")!;
      const won = json(await old.bid(README_REQUEST)).seatbid[0].bid[0];
      const expiring = json(await old.bid(JSON.stringify({ ...JSON.parse(README_REQUEST), id: "req-2" }))).seatbid[0].bid[0];
      // The operator changes reservation_slots: new VMs on the same shared data take over.
      next = await startSimBidder({ sharedData: old.pool.shared, controlPlane: old.cp, plugin: { reservation_ttl_ms: 60_000, reservation_slots: 1024 } });
      next.clock.now = old.clock.now + 10_000; // past the old leader's lease
      await next.untilReady();
      const win = await next.get(noticePath(won.nurl, "0.5"));
      assert.equal(status(win), 200, JSON.stringify(json(win)));
      assert.equal(json(win).status, "charged");
      // Past the other bid's TTL: the new leader's sweep finds it where it is (slot 5001 of 65,536).
      next.clock.now += 60_000;
      for (let i = 0; i < 5; i++) {
        next.clock.now += 1000;
        await next.tick();
      }
      const after = readLedger(old.pool.shared, "test-cpa")!;
      assert.equal(after.charged - before.charged, 500n, "the win is charged at its price");
      assert.equal(after.reserved, before.reserved, "the other bid's reservation expired and was refunded");
      assert.ok(expiring.price > 0);
    } finally {
      await next?.close();
      await old.pool.close();
      await old.cp.control.close();
    }
  });
});
