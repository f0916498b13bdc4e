// An Envoy restart under a host that keeps running: the filter's shared data, and with it its
// ledger, is new, while its old reservations are bids the exchanges will still bill. The new
// ledger has charged nothing, so `charged` going backwards cannot tell the host; the ledger epoch
// in the sync report does (nexus/v1/ledger-epoch, random per shared-data store). Two VM pools with
// their own shared data stand for the Envoy process before and after, against one control plane
// (memory budget source, one pod id).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { FIXTURES, README_REQUEST } from "../helpers/bidder.ts";
import { readLedger } from "../helpers/ledger.ts";
import type { SharedDataStore } from "../../host/src/proxy-wasm/shared-data.ts";

const TOTAL = 20_000;
const SLICE = 15_000;
// (Slices: the grant is held + SLICE, so a ledger with reservations out asks for more than TOTAL.)

function epochOf(shared: SharedDataStore): number {
  const v = shared.get("nexus/v1/ledger-epoch");
  assert.ok(v && v.value.byteLength === 4, "the leader created the ledger epoch");
  return new DataView(v.value.buffer, v.value.byteOffset, 4).getUint32(0, true);
}

/** Bids (no notices: every bid stays reserved) until the ledger says no; returns the bids made. */
async function bidUntilBlocked(sim: SimBidder): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const out = await sim.bid(README_REQUEST);
    if (!(out.kind === "local" && out.status === 200)) return i;
  }
  throw new Error("the budget never blocked");
}

describe("ledger epoch: an Envoy restart under the same host", () => {
  let first: SimBidder;
  let second: SimBidder | undefined;
  before(async () => {
    const c = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    c.campaigns[0].budget = { total_micros: TOTAL, daily_micros: 0, hourly_micros: 0, minute_micros: 0 };
    c.campaigns = [c.campaigns[0]];
    first = await startSimBidder({ campaigns: c, budget: { minSliceMicros: SLICE, leaseSeconds: 1 } });
    await first.untilReady();
  });
  after(async () => {
    await second?.close();
    await first?.close();
  });

  it("the restarted ledger gets only what the old one did not hold", async () => {
    await first.tick();
    const bids = await bidUntilBlocked(first);
    assert.equal(readLedger(first.pool.shared, "test-cpa")!.granted, BigInt(SLICE));
    const oldEpoch = epochOf(first.pool.shared);
    // More syncs: the epoch is stable within one store; the pod's grant grows to what is left.
    for (let i = 0; i < 3; i++) {
      first.clock.now += 1000;
      await first.tick();
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(epochOf(first.pool.shared), oldEpoch);
    const old = readLedger(first.pool.shared, "test-cpa")!;
    assert.ok(bids > 0 && old.reserved > 0n && old.charged === 0n, `first ledger: ${bids} bids, ${old.reserved} reserved, ${old.charged} charged`);
    assert.ok(old.granted > BigInt(SLICE), `the first ledger's grant grew (${old.granted})`);

    // Envoy restarts: a new shared-data store; the host (control plane) goes on.
    second = await startSimBidder({ controlPlane: first.cp, startMs: first.clock.now + 1000 });
    await second.untilReady();
    for (let i = 0; i < 3; i++) {
      second.clock.now += 1000;
      await second.tick();
      await new Promise((r) => setTimeout(r, 5));
    }
    const fresh = readLedger(second.pool.shared, "test-cpa")!;
    assert.notEqual(epochOf(second.pool.shared), oldEpoch, "a new store has a new epoch");
    const exposure = old.reserved + fresh.granted;
    assert.ok(
      exposure <= BigInt(TOTAL),
      `old bids ${old.reserved} + new grant ${fresh.granted} = ${exposure} may be spent of a ${TOTAL} total`,
    );
    assert.equal(fresh.granted, BigInt(TOTAL) - old.granted, "the new ledger gets what the old one was not granted, no more");
  });
});

describe("sync answers that arrive after leadership moved", () => {
  let sim: SimBidder;
  before(async () => {
    sim = await startSimBidder({ vms: 2 });
    await sim.untilReady();
  });
  after(async () => {
    await sim?.close();
  });

  const counter = (name: string) => Number(sim.pool.metrics.find(name)?.value ?? 0n);

  it("are dropped and counted: an older grant must not undo what the new leader applied", async () => {
    const leaderKey = "nexus/v1/leader";
    const seqs = sim.pool.shared.keys().filter((k) => k.startsWith("nexus/v1/vm/")).map((k) => Number(k.slice("nexus/v1/vm/".length)));
    assert.equal(seqs.length, 2);
    const staleBefore = counter("nexus_sync_stale_answers_total");
    const okBefore = counter("nexus_sync_ok_total");
    // The leader sends its sync (the answer is on its way over HTTP)...
    sim.clock.now += 1000;
    await sim.pool.tickAll();
    const cur = sim.pool.shared.get(leaderKey)!;
    const owner = new DataView(cur.value.buffer, cur.value.byteOffset, 16).getUint32(0, true);
    const other = seqs.find((s) => s !== owner)!;
    // ...and before it arrives, the other VM takes the lease (the leader stalled past it).
    const v = new Uint8Array(16);
    const dv = new DataView(v.buffer);
    dv.setUint32(0, other, true);
    dv.setBigInt64(8, BigInt(sim.clock.now + 60_000), true);
    assert.equal(sim.pool.shared.set(leaderKey, v, cur.cas), 0);
    for (let i = 0; i < 50 && counter("nexus_sync_stale_answers_total") === staleBefore; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(counter("nexus_sync_stale_answers_total"), staleBefore + 1, "the former leader's answer was dropped");
    assert.equal(counter("nexus_sync_ok_total"), okBefore, "and not applied");
  });
});
