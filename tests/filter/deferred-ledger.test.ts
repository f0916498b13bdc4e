// A ledger change whose CAS loop gave up waits in the VM's deferred queue until a tick applies it
// (assembly/filter/deferred-updates.ts). Meanwhile the ledger in shared data does not show it, so
// the VM's own bids must not reserve the money it owes. Simulated clock: no tick runs unless the
// test asks, so the change stays deferred for as long as the test needs.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST, noticeUrl } from "../helpers/bidder.ts";
import { readLedger, cpmToMicros } from "../helpers/ledger.ts";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

const LEDGER_KEY = "nexus/v1/ledger/test-cpa";
const dec = new TextDecoder();
let sim: SimBidder;

before(async () => {
  sim = await startSimBidder({ budget: { minSliceMicros: 10_000_000 } });
  await sim.untilReady();
});
after(async () => {
  sim.pool.shared.onBeforeSet = undefined;
  await sim?.close();
});

const metric = (name: string) => sim.pool.metrics.find(name)?.value ?? 0n;

function header(out: HttpOutcome, name: string): string | undefined {
  return out.kind === "local" ? out.headers.find(([k]) => k === name)?.[1] : undefined;
}

async function bid(): Promise<{ price: number; nurl: string; lurl: string }> {
  const out = await sim.bid(README_REQUEST);
  assert.equal(out.kind === "local" && out.status, 200, `no bid: ${header(out, "x-nexus-nobid-reason")}`);
  return JSON.parse(dec.decode(out.kind === "local" ? out.body : new Uint8Array())).seatbid[0].bid[0];
}

async function notice(template: string, price: string): Promise<string> {
  const u = new URL(noticeUrl(template, price));
  const out = await sim.get(u.pathname + u.search);
  assert.equal(out.kind === "local" && out.status, 200);
  return JSON.parse(dec.decode(out.kind === "local" ? out.body : new Uint8Array())).status;
}

/** Every ledger write meets a competing writer (same bytes, new CAS): the filter's CAS loop gives up. */
function contendLedger(): void {
  sim.pool.shared.onBeforeSet = (key) => {
    if (key !== LEDGER_KEY) return;
    const cur = sim.pool.shared.get(key)!;
    assert.equal(sim.pool.shared.set(key, Uint8Array.from(cur.value), cur.cas), 0);
  };
}

/** Sets the ledger's grant so that exactly `micros` are left to reserve (as a host grant would). */
function leaveAvailable(micros: bigint): void {
  const cur = sim.pool.shared.get(LEDGER_KEY)!;
  const bytes = Uint8Array.from(cur.value);
  const v = new DataView(bytes.buffer);
  v.setBigInt64(8, v.getBigInt64(16, true) + v.getBigInt64(24, true) + micros, true);
  assert.equal(sim.pool.shared.set(LEDGER_KEY, bytes, cur.cas), 0);
}

describe("deferred ledger changes", () => {
  it("a deferred late charge counts as spent for the VM's bids until a tick applies it, once", async () => {
    const b = await bid();
    assert.equal(await notice(b.lurl, "0"), "refunded");
    const priceMicros = cpmToMicros(String(b.price));
    const deferred = metric("nexus_ledger_updates_deferred_total");
    const recovered = metric("nexus_ledger_updates_recovered_total");
    const lost = metric("nexus_ledger_updates_lost_total");
    const before = readLedger(sim.pool.shared, "test-cpa")!;

    contendLedger();
    assert.equal(await notice(b.nurl, String(b.price)), "late_charged");
    sim.pool.shared.onBeforeSet = undefined;
    assert.equal(metric("nexus_ledger_updates_deferred_total"), deferred + 1n);
    assert.equal(readLedger(sim.pool.shared, "test-cpa")!.charged, before.charged, "not in the ledger yet");

    // What is left is exactly what the late win owes: nothing may be reserved from it.
    leaveAvailable(priceMicros);
    const again = await sim.bid(README_REQUEST);
    assert.equal(again.kind === "local" && again.status, 204, "the owed late charge was reserved again");
    assert.equal(header(again, "x-nexus-nobid-reason"), "budget");
    assert.equal(readLedger(sim.pool.shared, "test-cpa")!.reserved, before.reserved);

    // The next tick applies it, once; later ticks do not apply it again.
    sim.clock.now += 1000;
    await sim.tick();
    sim.clock.now += 1000;
    await sim.tick();
    const after = readLedger(sim.pool.shared, "test-cpa")!;
    assert.equal(after.charged - before.charged, priceMicros, "charged once, at the win price");
    assert.equal(after.lateCharged - before.lateCharged, priceMicros);
    assert.equal(metric("nexus_ledger_updates_recovered_total"), recovered + 1n);
    assert.equal(metric("nexus_ledger_updates_lost_total"), lost);
  });

  it("a deferred on-time charge keeps its reservation in the ledger until a tick applies it", async () => {
    // Lift the grant again (the previous test left nothing); a tick applies whatever it left
    // queued and lets the VM see the money.
    leaveAvailable(10_000_000n);
    sim.clock.now += 1000;
    await sim.tick();
    const b = await bid();
    const before = readLedger(sim.pool.shared, "test-cpa")!;
    const reservedMicros = cpmToMicros(String(b.price));
    const deferred = metric("nexus_ledger_updates_deferred_total");

    contendLedger();
    assert.equal(await notice(b.nurl, String(b.price)), "charged");
    sim.pool.shared.onBeforeSet = undefined;
    assert.equal(metric("nexus_ledger_updates_deferred_total"), deferred + 1n);

    // The reservation still holds the money (at least the price): nothing is left to reserve.
    leaveAvailable(0n);
    const again = await sim.bid(README_REQUEST);
    assert.equal(again.kind === "local" && again.status, 204, "the deferred charge's money was reserved again");
    assert.equal(header(again, "x-nexus-nobid-reason"), "budget");

    sim.clock.now += 1000;
    await sim.tick();
    const after = readLedger(sim.pool.shared, "test-cpa")!;
    assert.equal(after.charged - before.charged, reservedMicros);
    assert.equal(after.reserved - before.reserved, -reservedMicros, "the reservation is released");
  });
});
