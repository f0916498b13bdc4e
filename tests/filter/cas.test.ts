// Deterministic CAS contention: the host injects a competing shared-data write
// between the filter's read and its write; the filter retries and the final
// balances are exact.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST, get, metricValue, post, startTestBidder, noticeUrl } from "../helpers/bidder.ts";
import { decodeLedger, readLedger, cpmToMicros } from "../helpers/ledger.ts";
import type { Standalone } from "../../host/src/standalone.ts";

let app: Standalone;
const LEDGER_KEY = "nexus/v1/ledger/test-cpa";

before(async () => {
  // One inline VM: the hook runs in the thread that runs the filter.
  app = await startTestBidder({ vms: 1, vmMode: "inline" });
});
after(async () => {
  app.pool.shared.onBeforeSet = undefined;
  await app?.close();
});

/** Adds `delta` to the ledger's reserved field as another worker would, with its own CAS write. */
function competingReserve(delta: bigint): void {
  const cur = app.pool.shared.get(LEDGER_KEY);
  if (!cur) return;
  const bytes = Uint8Array.from(cur.value);
  const v = new DataView(bytes.buffer);
  v.setBigInt64(24, v.getBigInt64(24, true) + delta, true);
  v.setBigInt64(72, v.getBigInt64(72, true) + 1n, true);
  assert.equal(app.pool.shared.set(LEDGER_KEY, bytes, cur.cas), 0);
}

/** The reservation slot key of a bid (the ring has the default 65,536 slots). */
function slotKeyOf(nurl: string): { key: string; seq: number } {
  const seq = parseInt(new URL(noticeUrl(nurl, "0")).searchParams.get("bid")!.split("-")[0]!, 16);
  return { key: `nexus/v1/resv/${seq % 65536}`, seq };
}

/** A bid whose reservation a loss notice already released: its win is late. */
async function lostBid(): Promise<{ price: number; nurl: string; key: string; seq: number }> {
  const r = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
  assert.equal(r.status, 200, `${r.status} ${String(r.headers["x-nexus-nobid-reason"])}`);
  const b = r.json().seatbid[0].bid[0];
  assert.equal((await get(noticeUrl(b.lurl, "0"))).json().status, "refunded");
  return { price: b.price, nurl: b.nurl, ...slotKeyOf(b.nurl) };
}

describe("CAS retries on the ledger", () => {
  it("a reservation retries after a competing write and keeps both", async () => {
    const before = readLedger(app.pool.shared, "test-cpa")!;
    let injected = 0;
    app.pool.shared.onBeforeSet = (key) => {
      if (key === LEDGER_KEY && injected < 3) {
        injected++;
        competingReserve(1000n);
      }
    };
    const r = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
    app.pool.shared.onBeforeSet = undefined;
    assert.equal(r.status, 200, `${r.status} ${String(r.headers["x-nexus-nobid-reason"])}`);
    assert.equal(injected, 3, "three competing writes were injected");
    const bidMicros = cpmToMicros(String(r.json().seatbid[0].bid[0].price));
    const after = readLedger(app.pool.shared, "test-cpa")!;
    assert.equal(after.reserved - before.reserved, 3000n + bidMicros, "both the competitor's and the filter's reservations count");
    assert.equal(after.reservations - before.reservations, 4n);
    const metrics = await (await fetch(`${app.controlUrl}/metrics`)).text();
    assert.match(metrics, /nexus_cas_retries_total [1-9]/);
  });

  it("a win notice retries its ledger update and charges exactly once", async () => {
    const r = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
    const b = r.json().seatbid[0].bid[0];
    const before = readLedger(app.pool.shared, "test-cpa")!;
    let injected = 0;
    app.pool.shared.onBeforeSet = (key) => {
      if (key === LEDGER_KEY && injected < 2) {
        injected++;
        competingReserve(500n);
      }
    };
    const price = (b.price / 3).toFixed(3);
    const w = await get(noticeUrl(b.nurl, price));
    app.pool.shared.onBeforeSet = undefined;
    assert.equal(w.json().status, "charged");
    const after = readLedger(app.pool.shared, "test-cpa")!;
    assert.equal(after.charged - before.charged, cpmToMicros(price));
    assert.equal(after.reserved - before.reserved, 1000n - cpmToMicros(String(b.price)), "competitors' 2×500 stay, the bid's reservation is released");
  });

  it("a win whose ledger update gives up is charged on a later tick, exactly once (not lost)", async () => {
    const metric = (name: string) => metricValue(app, name);
    const r = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
    const b = r.json().seatbid[0].bid[0];
    const before = readLedger(app.pool.shared, "test-cpa")!;
    const deferredBefore = await metric("nexus_ledger_updates_deferred_total");
    const recoveredBefore = await metric("nexus_ledger_updates_recovered_total");
    let injected = 0;
    // Every ledger write of the notice meets a competing writer: its CAS loop gives up.
    app.pool.shared.onBeforeSet = (key) => {
      if (key === LEDGER_KEY) {
        injected++;
        competingReserve(0n);
      }
    };
    const price = (b.price / 2).toFixed(3);
    const w = await get(noticeUrl(b.nurl, price));
    app.pool.shared.onBeforeSet = undefined;
    assert.equal(w.json().status, "charged", "the reservation moved to won");
    assert.ok(injected >= 256, `the update gave up after ${injected} tries`);
    assert.equal(readLedger(app.pool.shared, "test-cpa")!.charged, before.charged, "not in the ledger yet");
    assert.equal(await metric("nexus_ledger_updates_deferred_total"), deferredBefore + 1);
    // The VM's next tick applies it.
    for (let i = 0; i < 200 && readLedger(app.pool.shared, "test-cpa")!.charged === before.charged; i++) await new Promise((r) => setTimeout(r, 10));
    const after = readLedger(app.pool.shared, "test-cpa")!;
    assert.equal(after.charged - before.charged, cpmToMicros(price), "charged once, at the win price");
    assert.equal(after.reserved - before.reserved, -cpmToMicros(String(b.price)), "the reservation is released");
    assert.equal(await metric("nexus_ledger_updates_recovered_total"), recoveredBefore + 1);
    // Later ticks do not apply it again.
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(readLedger(app.pool.shared, "test-cpa")!.charged, after.charged);
  });

  it("a late win whose slot write gives up is a 503 (retried), not already_settled, and is charged on the retry", async () => {
    const b = await lostBid();
    const before = readLedger(app.pool.shared, "test-cpa")!;
    let injected = 0;
    // Every write of the slot meets a competing writer (same bytes, new CAS).
    app.pool.shared.onBeforeSet = (key) => {
      if (key !== b.key) return;
      injected++;
      const cur = app.pool.shared.get(key)!;
      app.pool.shared.set(key, Uint8Array.from(cur.value), cur.cas);
    };
    const price = (b.price / 2).toFixed(3);
    const w = await get(noticeUrl(b.nurl, price));
    app.pool.shared.onBeforeSet = undefined;
    assert.ok(injected >= 32, `the slot CAS loop tried ${injected} times`);
    assert.equal(w.status, 503, `${w.status} ${w.text}`);
    assert.equal(readLedger(app.pool.shared, "test-cpa")!.charged, before.charged, "nothing charged yet");
    // The exchange retries the notice.
    const again = await get(noticeUrl(b.nurl, price));
    assert.deepEqual(again.json(), { status: "late_charged" });
    assert.equal(readLedger(app.pool.shared, "test-cpa")!.charged - before.charged, cpmToMicros(price));
  });

  it("a late win whose slot goes to another bid before its write is a 404, charged nothing", async () => {
    const b = await lostBid();
    const before = readLedger(app.pool.shared, "test-cpa")!;
    let injected = 0;
    // The ring laps between the win's read and its write: a newer bid's record takes the slot.
    app.pool.shared.onBeforeSet = (key) => {
      if (key !== b.key || injected > 0) return;
      injected++;
      const cur = app.pool.shared.get(key)!;
      const bytes = Uint8Array.from(cur.value);
      new DataView(bytes.buffer).setBigUint64(8, BigInt(b.seq + 65536), true);
      assert.equal(app.pool.shared.set(key, bytes, cur.cas), 0);
    };
    const w = await get(noticeUrl(b.nurl, (b.price / 2).toFixed(3)));
    app.pool.shared.onBeforeSet = undefined;
    assert.equal(injected, 1);
    assert.equal(w.status, 404, `${w.status} ${w.text}`);
    assert.equal(readLedger(app.pool.shared, "test-cpa")!.charged, before.charged);
  });

  it("gives up after cas_retries and answers a no-bid, with nothing reserved", async () => {
    const before = readLedger(app.pool.shared, "test-cpa")!;
    let injected = 0;
    app.pool.shared.onBeforeSet = (key) => {
      if (key === LEDGER_KEY) {
        injected++;
        competingReserve(0n);
      }
    };
    const r = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
    app.pool.shared.onBeforeSet = undefined;
    assert.equal(r.status, 204);
    assert.equal(r.headers["x-nexus-nobid-reason"], "contention");
    assert.ok(injected >= 32, `the filter tried ${injected} times`);
    const after = decodeLedger(app.pool.shared.get(LEDGER_KEY)!.value);
    assert.equal(after.reserved, before.reserved, "nothing reserved by the give-up");
  });
});
