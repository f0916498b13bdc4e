// Deterministic CAS contention: the host injects a competing shared-data write
// between the filter's read and its write; the filter retries and the final
// balances are exact.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST, get, post, startTestBidder, noticeUrl } from "../helpers/bidder.ts";
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
    const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(await (await fetch(`${app.controlUrl}/metrics`)).text())?.[1] ?? 0);
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
