// A bid without a notice holds its reservation slot for reservation_ttl_ms. When the bid rate
// outruns the ring (reservation_slots per TTL), the slot a new bid needs still holds a live
// reservation: that bid is a no-bid. It was answered `contention`, like a CAS race, so nothing
// told the operator to raise reservation_slots; it is `ring_full` now, counted apart, and its
// ledger reservation is handed back as before. A slot whose reservation is past its TTL is not
// full, even before the leader's sweep (a slice of the ring per tick) reaches it: the bid that
// needs it expires it as the sweep would.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { README_REQUEST } from "../helpers/bidder.ts";
import { cpmToMicros, readLedger } from "../helpers/ledger.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

const SLOTS = 64; // the smallest ring: a cursor block is one number, so every bid takes the next slot
const dec = new TextDecoder();

const header = (o: HttpOutcome, name: string) => (o.kind === "local" ? o.headers.find(([h]) => h === name)?.[1] : undefined);
const status = (o: HttpOutcome) => (o.kind === "local" ? o.status : -1);

/**
 * A sim bidder with a 64-slot ring for the calling describe block, started in its before() and
 * closed in its after(). The whole budget is granted at once: the ring, not the money, is what
 * runs out. No tick runs while bids are out, so nothing is swept (the TTL stays at its default,
 * 120 s, of the sim's monotonic clock).
 */
function ringBidder(idTag: string) {
  let n = 0;
  const t = {
    sim: undefined as unknown as SimBidder,
    counter: (name: string) => Number(t.sim.pool.metrics.find(name)?.value ?? 0n),
    bid: (): Promise<HttpOutcome> => t.sim.bid(JSON.stringify({ ...JSON.parse(README_REQUEST), id: `${idTag}-${n++}` })),
    /** A bid's first seatbid bid; fails on a no-bid. */
    bidOk: async (): Promise<{ price: number; lurl: string }> => {
      const o = await t.bid();
      assert.equal(status(o), 200, `no bid: ${header(o, "x-nexus-nobid-reason")}`);
      return JSON.parse(dec.decode(o.kind === "local" ? o.body : new Uint8Array())).seatbid[0].bid[0];
    },
    ledger: () => readLedger(t.sim.pool.shared, "test-cpa")!,
  };
  before(async () => {
    t.sim = await startSimBidder({ plugin: { reservation_slots: SLOTS }, budget: { minSliceMicros: 900_000_000 } });
    await t.sim.untilReady();
  });
  after(async () => {
    await t.sim?.close();
  });
  return t;
}

async function loss(sim: SimBidder, lurl: string): Promise<void> {
  const u = new URL(lurl.replace("${AUCTION_LOSS}", "102"));
  const o = await sim.get(u.pathname + u.search);
  assert.equal(status(o), 200);
  assert.match(o.kind === "local" ? dec.decode(o.body) : "", /refunded/);
}

describe("reservation ring full", () => {
  const t = ringBidder("ring");
  const { counter, bid, bidOk, ledger } = t;

  it("a bid that finds no free slot is a no-bid ring_full, counted apart, its reservation handed back; loss notices free the ring", async () => {
    const bids = [];
    for (let i = 0; i < SLOTS; i++) bids.push(await bidOk());
    const before = ledger();
    const contentionBefore = counter("nexus_nobids_contention_total");

    // A lap later, the next slot still holds the first bid's live reservation.
    const full = await bid();
    assert.equal(status(full), 204);
    assert.equal(header(full, "x-nexus-nobid-reason"), "ring_full");
    assert.equal(counter("nexus_nobids_ring_full_total"), 1);
    assert.equal(counter("nexus_nobids_contention_total"), contentionBefore, "not counted as contention");

    // The ledger reserved for it and handed it all back: nothing charged, nothing held.
    const after = ledger();
    assert.equal(after.reserved, before.reserved, "nothing stays reserved");
    assert.equal(after.charged, before.charged, "nothing charged");
    assert.equal(after.reservations - before.reservations, 1n);
    assert.equal(after.refunded - before.refunded, cpmToMicros(String(bids[0]!.price)), "the bid's reservation came back");

    // The exchange's loss notices free the slots: the bidder bids again.
    for (const b of bids) await loss(t.sim, b.lurl);
    assert.equal(ledger().reserved, 0n, "every reservation refunded");
    await bidOk();
    assert.equal(counter("nexus_nobids_ring_full_total"), 1);
  });
});

describe("reservation ring: a slot past its TTL, not yet swept", () => {
  const t = ringBidder("ttl");

  it("is expired by the bid that needs it: refunded to its campaign, counted as expired, and the bid gets the slot", async () => {
    const prices: number[] = [];
    for (let i = 0; i < SLOTS; i++) prices.push((await t.bidOk()).price);
    const full = await t.bid();
    assert.equal(header(full, "x-nexus-nobid-reason"), "ring_full", "within the TTL the ring is full");

    // The default TTL (120 s) passes on the monotonic clock, and no tick runs: nothing is swept.
    t.sim.clock.now += 121_000;
    const before = t.ledger();
    const expiredBefore = t.counter("nexus_reservations_expired_total");
    const { price } = await t.bidOk();

    assert.equal(t.counter("nexus_reservations_expired_total") - expiredBefore, 1, "the first bid's reservation expired");
    const after = t.ledger();
    assert.equal(after.refunded - before.refunded, cpmToMicros(String(prices[0])), "its amount went back to the ledger");
    assert.equal(after.reserved - before.reserved, cpmToMicros(String(price)) - cpmToMicros(String(prices[0])), "and the new bid holds its own");
    assert.equal(after.charged, before.charged, "nothing charged");
  });
});
