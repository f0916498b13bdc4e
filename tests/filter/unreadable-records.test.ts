// Shared data can hold records this filter cannot read: another version's layout
// under the same key (a rolling filter update in one Envoy). Treating such a
// record as empty and writing over it would wipe a ledger's grant and charge
// history, or a live reservation. The filter refuses instead: no write, counted
// in nexus_shared_data_errors_total (and a notice's lost change in
// nexus_ledger_updates_lost_total).
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { README_REQUEST, noticeUrl } from "../helpers/bidder.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

const LEDGER_KEY = "nexus/v1/ledger/test-cpa";
const dec = new TextDecoder();

let sim: SimBidder;

before(async () => {
  sim = await startSimBidder();
  await sim.untilReady();
});
after(async () => {
  await sim?.close();
});

const status = (o: HttpOutcome) => (o.kind === "local" ? o.status : -1);
const counter = (name: string) => Number(sim.pool.metrics.find(name)?.value ?? 0n);
const bytesOf = (key: string) => Uint8Array.from(sim.pool.shared.get(key)!.value);
const pathOf = (url: string) => new URL(url).pathname + new URL(url).search;

/** Bids once; returns the bid and its reservation sequence number. */
async function bid(): Promise<{ lurl: string; seq: number }> {
  const out = await sim.bid(README_REQUEST);
  assert.equal(status(out), 200);
  const b = out.kind === "local" ? JSON.parse(dec.decode(out.body)).seatbid[0].bid[0] : null;
  const seq = parseInt(new URL(noticeUrl(b.nurl, "0")).searchParams.get("bid")!.split("-")[0]!, 16);
  return { lurl: b.lurl, seq };
}

/** Replaces `key`'s value, as a writer of another version would. */
function overwrite(key: string, bytes: Uint8Array): void {
  const cur = sim.pool.shared.get(key);
  assert.equal(sim.pool.shared.set(key, bytes, cur?.cas ?? 0), 0);
}

describe("records of another layout", () => {
  let readable: Uint8Array;
  beforeEach(() => {
    readable = bytesOf(LEDGER_KEY);
  });
  /** Puts the readable record back; a tick lets every VM see the budget again (refresh). */
  const restoreLedger = async () => {
    overwrite(LEDGER_KEY, readable);
    sim.clock.now += 1000;
    await sim.tick();
  };

  it("a notice leaves an unreadable ledger record alone and counts its change as lost", async () => {
    const b = await bid();
    const future = bytesOf(LEDGER_KEY);
    future[3] = 0x32; // "NXL2"
    overwrite(LEDGER_KEY, future);
    const errors = counter("nexus_shared_data_errors_total");
    const lost = counter("nexus_ledger_updates_lost_total");
    try {
      const loss = await sim.get(pathOf(noticeUrl(b.lurl, "0")));
      assert.equal(status(loss), 200, "the reservation is released (its slot moved)");
      assert.deepEqual(bytesOf(LEDGER_KEY), future, "the record is untouched");
      assert.ok(counter("nexus_shared_data_errors_total") > errors);
      assert.equal(counter("nexus_ledger_updates_lost_total"), lost + 1);
    } finally {
      await restoreLedger();
    }
  });

  it("the leader's grant leaves an unreadable ledger record alone", async () => {
    const future = bytesOf(LEDGER_KEY);
    future[3] = 0x32;
    overwrite(LEDGER_KEY, future);
    const errors = counter("nexus_shared_data_errors_total");
    try {
      for (let i = 0; i < 5; i++) {
        sim.clock.now += 1000;
        await sim.tick();
        await new Promise((r) => setTimeout(r, 5)); // the sync answer over HTTP
      }
      assert.deepEqual(bytesOf(LEDGER_KEY), future, "the record is untouched");
      assert.ok(counter("nexus_shared_data_errors_total") > errors, "the refused grant is counted");
    } finally {
      await restoreLedger();
    }
  });

  it("a bid does not take a slot whose record it cannot read", async () => {
    const b = await bid();
    // The next bid of this (only) VM uses the next sequence number.
    const key = `nexus/v1/resv/${(b.seq + 1) % 65536}`;
    const future = new Uint8Array(64).fill(0x58); // no magic this version knows
    overwrite(key, future);
    const errors = counter("nexus_shared_data_errors_total");
    const reservedBefore = new DataView(bytesOf(LEDGER_KEY).buffer).getBigInt64(24, true);
    const out = await sim.bid(README_REQUEST);
    assert.equal(status(out), 204, "no bid: the slot may hold a live reservation");
    assert.deepEqual(bytesOf(key), future, "the slot record is untouched");
    assert.equal(new DataView(bytesOf(LEDGER_KEY).buffer).getBigInt64(24, true), reservedBefore, "the bid's reservation was handed back");
    assert.ok(counter("nexus_shared_data_errors_total") > errors);
    assert.equal(status(await sim.get(pathOf(noticeUrl(b.lurl, "0")))), 200);
  });
});
