// Win and loss notices settle each reservation exactly once, in integer micros.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, README_REQUEST, get, post, startTestBidder, noticeUrl } from "../helpers/bidder.ts";
import { readLedger, cpmToMicros } from "../helpers/ledger.ts";
import type { Standalone } from "../../host/src/standalone.ts";

let app: Standalone;

before(async () => {
  // Holds from an imp's exp up to 10 s (reservation_exp_max_ms; off by default).
  app = await startTestBidder({ vms: 2, plugin: { reservation_ttl_ms: 1000, reservation_exp_max_ms: 10_000 } });
});
after(async () => {
  await app?.close();
});

async function bid(): Promise<{ id: string; price: number; nurl: string; burl: string; lurl: string }> {
  const r = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
  assert.equal(r.status, 200, `${r.status} ${String(r.headers["x-nexus-nobid-reason"])}`);
  return r.json().seatbid[0].bid[0];
}

const ledger = () => readLedger(app.pool.shared, "test-cpa")!;
/** The notice counters on /metrics. */
async function counters(): Promise<Record<string, number>> {
  const text = await (await fetch(`${app.controlUrl}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  return Object.fromEntries(["nexus_wins_total", "nexus_late_wins_total", "nexus_notices_invalid_total", "nexus_wins_charged_at_bid_total"].map((n) => [n, value(n)]));
}
function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((k) => [k.replace(/^nexus_|_total$/g, ""), after[k]! - before[k]!]));
}
/** The money fields (the grant moves with every sync, independently of notices). */
const money = () => {
  const { granted: _g, ...rest } = ledger();
  return rest;
};

describe("notices", () => {
  it("a bid reserves its price; a win charges the clearing price and refunds the rest", async () => {
    const before = ledger();
    const b = await bid();
    const reservedMicros = cpmToMicros(String(b.price));
    const mid = ledger();
    assert.equal(mid.reserved - before.reserved, reservedMicros, "the bid's price is reserved");
    const price = (b.price * 0.6).toFixed(3);
    const r = await get(noticeUrl(b.nurl, price));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json(), { status: "charged" });
    const end = ledger();
    assert.equal(end.charged - before.charged, cpmToMicros(price));
    assert.equal(end.reserved, before.reserved, "the reservation is released");
    assert.equal(end.wins - before.wins, 1n);
  });

  it("a win priced as exchanges print it (an exponent, percent-encoded, a plus sign, spaces) is charged at that price", async () => {
    for (const form of [(p: string) => `${p}E0`, (p: string) => `${p.replace(".", "")}e-3`, (p: string) => p.replace(".", "%2E"), (p: string) => `%2B${p}%20`]) {
      const b = await bid();
      const price = (b.price / 2).toFixed(3);
      const before = ledger();
      // Written into the URL as is: the notice's query carries the exchange's bytes.
      const r = await get(b.nurl.replace("${AUCTION_PRICE}", form(price)));
      assert.deepEqual(r.json(), { status: "charged" }, form(price));
      const after = ledger();
      assert.equal(after.charged - before.charged, cpmToMicros(price), form(price));
      assert.equal(after.reserved, before.reserved - cpmToMicros(String(b.price)));
    }
  });

  it("a repeated notice (nurl then burl) changes nothing", async () => {
    const b = await bid();
    const price = (b.price / 2).toFixed(3);
    assert.equal((await get(noticeUrl(b.nurl, price))).json().status, "charged");
    const once = money();
    const again = await get(noticeUrl(b.burl, price));
    assert.equal(again.status, 200);
    assert.equal(again.json().status, "already_settled");
    assert.deepEqual(money(), once);
  });

  it("an unknown or forged bid id is a 404 and changes nothing", async () => {
    const snap = ledger();
    assert.equal((await get(`${app.bidUrl}/openrtb2/win?bid=ffff-00000000&price=1`)).status, 404);
    assert.equal((await get(`${app.bidUrl}/openrtb2/win?bid=nonsense&price=1`)).status, 404);
    assert.equal((await get(`${app.bidUrl}/openrtb2/win?price=1`)).status, 404);
    const b = await bid();
    const forged = b.nurl.replace(/bid=([0-9a-f]+)-([0-9a-f]{8})/, (_m, seq: string, nonce: string) => `bid=${seq}-${nonce === "00000000" ? "00000001" : "00000000"}`);
    assert.equal((await get(noticeUrl(forged, "0.1"))).status, 404);
    const after = ledger();
    assert.equal(after.charged, snap.charged);
    await get(noticeUrl(b.lurl, "0")); // release the test's reservation
  });

  it("a win whose price is unusable (above the bid, negative, non-numeric, missing, an unsubstituted macro) keeps its money reserved until a priced notice settles it", async () => {
    const prices: Array<(bidPrice: number) => string | null> = [
      (bp) => (bp * 2).toFixed(3), // above the bid
      ...["-1", "abc", "${AUCTION_PRICE}", "1e3", "", "1.2.3", "0.123456789".padEnd(41, "1")].map((p) => () => p),
      () => null, // no price parameter at all
    ];
    for (const priceOf of prices) {
      const b = await bid();
      const price = priceOf(b.price);
      const url = price === null ? b.nurl.replace(/&price=[^&]*/, "") : b.nurl.replace("${AUCTION_PRICE}", encodeURIComponent(price));
      if (price === null) assert.ok(!url.includes("price="), url);
      const before = money();
      const countsBefore = await counters();
      for (let i = 0; i < 2; i++) {
        const r = await get(url);
        assert.equal(r.status, 200, `price ${JSON.stringify(price)}: ${r.status} ${r.text}`);
        assert.deepEqual(r.json(), { status: "won_price_pending" }, `price ${JSON.stringify(price)}`);
      }
      assert.deepEqual(money(), before, "nothing charged or refunded yet: the bid's money stays reserved");
      // The burl with the clearing price settles it at that price.
      const r = await get(noticeUrl(b.burl, "0.5"));
      assert.deepEqual(r.json(), { status: "charged" });
      const after = money();
      assert.equal(after.charged - before.charged, cpmToMicros("0.5"));
      assert.equal(after.reserved, before.reserved - cpmToMicros(String(b.price)));
      assert.equal((await get(url)).json().status, "already_settled");
      // One win, priced by its burl: one invalid notice counted (not the repeat, not the one
      // after it was settled), nothing charged at the bid.
      assert.deepEqual(delta(await counters(), countsBefore), { wins: 1, late_wins: 0, notices_invalid: 1, wins_charged_at_bid: 0 }, `price ${JSON.stringify(price)}`);
    }
  });

  it("a pending win (no usable price) is charged at the bid at its TTL, and kept out of the market-price estimate", async () => {
    const b = await bid();
    const bidMicros = cpmToMicros(String(b.price));
    const before = money();
    const countsBefore = await counters();
    assert.deepEqual((await get(noticeUrl(b.nurl, "${AUCTION_PRICE}"))).json(), { status: "won_price_pending" });
    // The TTL here is 1 s; the leader's sweep (or the next bid needing the slot) ends it.
    const deadline = Date.now() + 8000;
    while (money().charged === before.charged && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const after = money();
    assert.equal(after.charged - before.charged, bidMicros, "charged at the bid");
    assert.equal(after.lateWins - before.lateWins, 1n, "an unpriced win is not averaged as a clearing price");
    assert.equal(after.reservations, before.reservations);
    assert.equal((await get(noticeUrl(b.nurl, "0.1"))).json().status, "already_settled");
    assert.deepEqual(delta(await counters(), countsBefore), { wins: 1, late_wins: 0, notices_invalid: 1, wins_charged_at_bid: 1 });
  });

  it("a loss notice after a pending win changes nothing: the win is still charged at the bid at its TTL", async () => {
    // Ending the reservation as lost would leave the won impression charged nowhere (only the
    // random property test caught that change; this pins it).
    const b = await bid();
    const bidMicros = cpmToMicros(String(b.price));
    const before = money();
    assert.deepEqual((await get(noticeUrl(b.nurl, "${AUCTION_PRICE}"))).json(), { status: "won_price_pending" });
    assert.deepEqual((await get(noticeUrl(b.lurl, "0"))).json(), { status: "already_settled" });
    const deadline = Date.now() + 8000;
    while (money().charged === before.charged && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const after = money();
    assert.equal(after.charged - before.charged, bidMicros, "charged at the bid");
    assert.equal(after.reservations, before.reservations, "its reservation is released");
  });

  it("a win without a usable price after its loss notice is charged at the bid at once, and counted as a win like the ledger does", async () => {
    const b = await bid();
    const before = money();
    const countsBefore = await counters();
    assert.deepEqual((await get(noticeUrl(b.lurl, "0"))).json(), { status: "refunded" });
    assert.deepEqual((await get(noticeUrl(b.nurl, "${AUCTION_PRICE}"))).json(), { status: "late_charged_at_bid" });
    const after = money();
    assert.equal(after.charged - before.charged, cpmToMicros(String(b.price)));
    assert.equal(after.wins - before.wins, 1n);
    assert.deepEqual(delta(await counters(), countsBefore), { wins: 1, late_wins: 1, notices_invalid: 1, wins_charged_at_bid: 1 });
  });

  it("a win priced AUDIT (OpenRTB 2.6 §4.4: a test or ad-quality rendering) changes nothing; the real notice settles it", async () => {
    const b = await bid();
    const snap = money();
    const r = await get(noticeUrl(b.nurl, "AUDIT"));
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { status: "audit" });
    assert.deepEqual(money(), snap, "an audit notice changes no money");
    assert.equal((await get(noticeUrl(b.nurl, "0.001"))).json().status, "charged");
  });

  it("a bid on a test request (test = 1: not billable) reserves nothing, and its notices charge nothing", async () => {
    const snap = money();
    const r = await post(`${app.bidUrl}/openrtb2/bid`, JSON.stringify({ ...JSON.parse(README_REQUEST), test: 1 }));
    assert.equal(r.status, 200, r.text);
    const b = r.json().seatbid[0].bid[0];
    assert.match(b.id, /^test-[0-9a-f]{8}$/);
    assert.ok(b.price > 0 && b.nurl.includes(`bid=${b.id}`), JSON.stringify(b));
    assert.deepEqual(money(), snap, "a test bid reserves nothing");
    for (const url of [noticeUrl(b.nurl, "1.0"), noticeUrl(b.burl, "1.0"), noticeUrl(b.lurl, "0"), noticeUrl(b.nurl, "junk")]) {
      const n = await get(url);
      assert.equal(n.status, 200, url);
      assert.deepEqual(n.json(), { status: "test" });
    }
    assert.deepEqual(money(), snap, "its notices change no money");
    // A forged test id is still only a test id: nothing to charge.
    assert.deepEqual((await get(`${app.bidUrl}/openrtb2/win?bid=test-00000000&price=1`)).json(), { status: "test" });
    assert.equal((await get(`${app.bidUrl}/openrtb2/win?bid=test-0000000&price=1`)).status, 404);
  });

  it("a bid whose imp says billing may come later (imp.exp) keeps its reservation past reservation_ttl_ms (reservation_exp_max_ms set)", async () => {
    const withExp = JSON.parse(README_REQUEST);
    withExp.id = "exp-1";
    withExp.imp[0].exp = 30; // seconds
    const held = (await post(`${app.bidUrl}/openrtb2/bid`, JSON.stringify(withExp))).json().seatbid[0].bid[0];
    const control = await bid(); // no exp: reservation_ttl_ms (1 s here)
    const heldMicros = cpmToMicros(String(held.price));
    const controlMicros = cpmToMicros(String(control.price));
    const start = ledger().reserved;
    assert.ok(start >= heldMicros + controlMicros);
    // Wait for the control's reservation to expire (the TTL, then the leader's sweep).
    const deadline = Date.now() + 8000;
    while (ledger().reserved > start - controlMicros && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(ledger().reserved, start - controlMicros, "the control expired, the imp.exp bid is still held");
    assert.deepEqual((await get(noticeUrl(held.nurl, "0.5"))).json(), { status: "charged" }, "its money was still reserved");
    assert.deepEqual((await get(noticeUrl(control.nurl, "0.5"))).json(), { status: "late_charged" });
  });

  it("without reservation_exp_max_ms (the default) an imp's exp does not extend the hold", async () => {
    const plain = await startTestBidder({ plugin: { reservation_ttl_ms: 1000 } });
    try {
      const withExp = JSON.parse(README_REQUEST);
      withExp.imp[0].exp = 30;
      const r = await post(`${plain.bidUrl}/openrtb2/bid`, JSON.stringify(withExp));
      assert.equal(r.status, 200);
      const b = r.json().seatbid[0].bid[0];
      const plainLedger = () => readLedger(plain.pool.shared, "test-cpa")!;
      assert.ok(plainLedger().reserved >= cpmToMicros(String(b.price)));
      const deadline = Date.now() + 8000;
      while (plainLedger().reserved !== 0n && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
      assert.equal(plainLedger().reserved, 0n, "refunded at reservation_ttl_ms despite exp 30 s");
      assert.deepEqual((await get(noticeUrl(b.nurl, "0.5"))).json(), { status: "late_charged" });
    } finally {
      await plain.close();
    }
  });

  it("a loss notice refunds the reservation once", async () => {
    const before = ledger();
    const b = await bid();
    const r = await get(noticeUrl(b.lurl, "0"));
    assert.deepEqual(r.json(), { status: "refunded" });
    const end = ledger();
    assert.equal(end.reserved, before.reserved);
    assert.equal(end.charged, before.charged);
    assert.equal((await get(noticeUrl(b.lurl, "0"))).json().status, "already_settled");
  });

  it("a reservation without a notice is refunded after the TTL; a late win is still charged and counted", async () => {
    const b = await bid();
    assert.ok(ledger().reserved >= cpmToMicros(String(b.price)));
    // Every reservation of this file is settled or ends by TTL (1 s): wait for the ledger to hold none.
    const deadline = Date.now() + 8000;
    while (ledger().reserved !== 0n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const expired = ledger();
    assert.equal(expired.reserved, 0n, "refunded after the TTL");
    const r = await get(noticeUrl(b.nurl, "0.5"));
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { status: "late_charged" });
    const end = ledger();
    assert.equal(end.charged - expired.charged, cpmToMicros("0.5"));
    assert.equal(end.lateWins - expired.lateWins, 1n);
    assert.equal((await get(noticeUrl(b.nurl, "0.5"))).json().status, "already_settled");
  });
});

describe("a first-price win priced as a float32", () => {
  let capped: Standalone;
  before(async () => {
    // Bids of 1.1 (max_bid_cpm_micros): a float32 holds 1.100000023841858.
    const c = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    c.campaigns[0].max_bid_cpm_micros = 1_100_000;
    capped = await startTestBidder({ vms: 1, campaigns: c });
  });
  after(async () => {
    await capped?.close();
  });

  it("is charged at once at the bid it stands for, not one micro above it (which left it pending)", async () => {
    const r = await post(`${capped.bidUrl}/openrtb2/bid`, README_REQUEST);
    const b = r.json().seatbid[0].bid[0];
    assert.equal(b.price, 1.1);
    const before = readLedger(capped.pool.shared, "test-cpa")!;
    const w = await get(noticeUrl(b.nurl, String(Math.fround(1.1)))); // "1.100000023841858"
    assert.deepEqual(w.json(), { status: "charged" });
    const after = readLedger(capped.pool.shared, "test-cpa")!;
    assert.equal(after.charged - before.charged, 1100n);
    assert.equal(after.lateWins, before.lateWins, "not a win charged at the bid");
  });
});

describe("notice_base_url", () => {
  let based: Standalone;
  before(async () => {
    // Written with a trailing slash, as base URLs often are.
    based = await startTestBidder({ vms: 1, plugin: { notice_base_url: "http://bidder.nexus.test/" } });
  });
  after(async () => {
    await based?.close();
  });

  it("notice URLs start with the base and one slash, and the win they carry is charged", async () => {
    const r = await post(`${based.bidUrl}/openrtb2/bid`, README_REQUEST);
    assert.equal(r.status, 200);
    const b = r.json().seatbid[0].bid[0];
    for (const url of [b.nurl, b.burl, b.lurl]) assert.match(url, /^http:\/\/bidder\.nexus\.test\/openrtb2\/(win|loss)\?/);
    const before = readLedger(based.pool.shared, "test-cpa")!;
    const u = new URL(noticeUrl(b.nurl, "0.5"));
    const w = await get(`${based.bidUrl}${u.pathname}${u.search}`);
    assert.deepEqual(w.json(), { status: "charged" });
    assert.equal(readLedger(based.pool.shared, "test-cpa")!.charged - before.charged, cpmToMicros("0.5"));
  });
});
