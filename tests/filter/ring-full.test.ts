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

let sim: SimBidder;
let n = 0;

before(async () => {
  // The whole budget granted at once: the ring, not the money, is what runs out. No tick runs
  // while bids are out, so no reservation expires (the TTL stays at its default, 120 s).
  sim = await startSimBidder({ plugin: { reservation_slots: SLOTS }, budget: { minSliceMicros: 900_000_000 } });
  await sim.untilReady();
});
after(async () => {
  await sim?.close();
});

const counter = (name: string) => Number(sim.pool.metrics.find(name)?.value ?? 0n);
const header = (o: HttpOutcome, name: string) => (o.kind === "local" ? o.headers.find(([h]) => h === name)?.[1] : undefined);
const status = (o: HttpOutcome) => (o.kind === "local" ? o.status : -1);

function bid(): Promise<HttpOutcome> {
  return sim.bid(JSON.stringify({ ...JSON.parse(README_REQUEST), id: `ring-${n++}` }));
}

/** A bid's first seatbid bid; fails on a no-bid. */
async function bidOk(): Promise<{ price: number; lurl: string }> {
  const o = await bid();
  assert.equal(status(o), 200, `no bid: ${header(o, "x-nexus-nobid-reason")}`);
  return JSON.parse(dec.decode(o.kind === "local" ? o.body : new Uint8Array())).seatbid[0].bid[0];
}

async function loss(lurl: string): Promise<void> {
  const u = new URL(lurl.replace("${AUCTION_LOSS}", "102"));
  const o = await sim.get(u.pathname + u.search);
  assert.equal(status(o), 200);
  assert.match(o.kind === "local" ? dec.decode(o.body) : "", /refunded/);
}

describe("reservation ring full", () => {
  it("a bid that finds no free slot is a no-bid ring_full, counted apart, its reservation handed back; loss notices free the ring", async () => {
    const bids = [];
    for (let i = 0; i < SLOTS; i++) bids.push(await bidOk());
    const before = readLedger(sim.pool.shared, "test-cpa")!;
    const contentionBefore = counter("nexus_nobids_contention_total");

    // A lap later, the next slot still holds the first bid's live reservation.
    const full = await bid();
    assert.equal(status(full), 204);
    assert.equal(header(full, "x-nexus-nobid-reason"), "ring_full");
    assert.equal(counter("nexus_nobids_ring_full_total"), 1);
    assert.equal(counter("nexus_nobids_contention_total"), contentionBefore, "not counted as contention");

    // The ledger reserved for it and handed it all back: nothing charged, nothing held.
    const after = readLedger(sim.pool.shared, "test-cpa")!;
    assert.equal(after.reserved, before.reserved, "nothing stays reserved");
    assert.equal(after.charged, before.charged, "nothing charged");
    assert.equal(after.reservations - before.reservations, 1n);
    assert.equal(after.refunded - before.refunded, cpmToMicros(String(bids[0]!.price)), "the bid's reservation came back");

    // The exchange's loss notices free the slots: the bidder bids again.
    for (const b of bids) await loss(b.lurl);
    assert.equal(readLedger(sim.pool.shared, "test-cpa")!.reserved, 0n, "every reservation refunded");
    await bidOk();
    assert.equal(counter("nexus_nobids_ring_full_total"), 1);
  });
});

describe("reservation ring: a slot past its TTL, not yet swept", () => {
  let sim2: SimBidder;
  let m = 0;
  before(async () => {
    sim2 = await startSimBidder({ plugin: { reservation_slots: SLOTS }, budget: { minSliceMicros: 900_000_000 } });
    await sim2.untilReady();
  });
  after(async () => {
    await sim2?.close();
  });
  const count = (name: string) => Number(sim2.pool.metrics.find(name)?.value ?? 0n);
  const bid2 = () => sim2.bid(JSON.stringify({ ...JSON.parse(README_REQUEST), id: `ttl-${m++}` }));

  it("is expired by the bid that needs it: refunded to its campaign, counted as expired, and the bid gets the slot", async () => {
    const prices: number[] = [];
    for (let i = 0; i < SLOTS; i++) {
      const o = await bid2();
      assert.equal(status(o), 200, `no bid: ${header(o, "x-nexus-nobid-reason")}`);
      prices.push(JSON.parse(dec.decode(o.kind === "local" ? o.body : new Uint8Array())).seatbid[0].bid[0].price);
    }
    const full = await bid2();
    assert.equal(header(full, "x-nexus-nobid-reason"), "ring_full", "within the TTL the ring is full");

    // The default TTL (120 s) passes on the monotonic clock, and no tick runs: nothing is swept.
    sim2.clock.now += 121_000;
    const before = readLedger(sim2.pool.shared, "test-cpa")!;
    const expiredBefore = count("nexus_reservations_expired_total");
    const o = await bid2();
    assert.equal(status(o), 200, `no bid: ${header(o, "x-nexus-nobid-reason")}`);
    const price = JSON.parse(dec.decode(o.kind === "local" ? o.body : new Uint8Array())).seatbid[0].bid[0].price as number;

    assert.equal(count("nexus_reservations_expired_total") - expiredBefore, 1, "the first bid's reservation expired");
    const after = readLedger(sim2.pool.shared, "test-cpa")!;
    assert.equal(after.refunded - before.refunded, cpmToMicros(String(prices[0])), "its amount went back to the ledger");
    assert.equal(after.reserved - before.reserved, cpmToMicros(String(price)) - cpmToMicros(String(prices[0])), "and the new bid holds its own");
    assert.equal(after.charged, before.charged, "nothing charged");
  });
});
