// The notice window of a graceful stop (Standalone.stop(), what SIGTERM runs): new bids are
// refused at once, but the win and loss notices of the bids this process made are still answered
// and charged by its filter, on the same listener, until the window ends. Before, the stop closed
// the bid listener at once: such a notice was refused (ECONNREFUSED) and, sent again to the
// restarted process, was a 404 (unknown bid id): a win never charged nor reported.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { Redis } from "ioredis";
import { README_REQUEST, get, noticeUrl, post, startTestBidder } from "../../helpers/bidder.ts";
import { cpmToMicros, readLedger } from "../../helpers/ledger.ts";
import { freePort, uniquePrefix } from "../../helpers/redis-server.ts";
import { CAMPAIGN, filterMetric, type HardeningBidder } from "../../hardening/helpers.ts";
import { SHARED_REDIS_URL, deleteTestKeys, startPod, uniqueRequest } from "../../hardening/replay-pods.ts";
import type { Standalone } from "../../../host/src/standalone.ts";

let seq = 0;
/** A bid of `app` (a fresh request id): its price in micros, its win notice (at its price) and its loss notice. */
async function bid(app: Standalone): Promise<{ micros: bigint; nurl: string; lurl: string }> {
  const r = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST.replace('"id":"req-1"', `"id":"drain-${process.pid}-${++seq}"`));
  assert.equal(r.status, 200, `a bid: ${r.status} ${String(r.headers["x-nexus-nobid-reason"] ?? "")} ${r.text}`);
  const b = r.json().seatbid[0].bid[0] as { price: number; nurl: string; lurl: string };
  return { micros: cpmToMicros(String(b.price)), nurl: noticeUrl(b.nurl, String(b.price)), lurl: noticeUrl(b.lurl, String(b.price)) };
}

const ledger = (app: Standalone) => readLedger(app.pool.shared, CAMPAIGN)!;

function refused(port: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(undefined)));
    s.once("error", reject);
  });
}

describe("graceful stop: the notice window", () => {
  it("a win notice during the drain is charged, a new bid is refused (503, connection: close), and the window ends once nothing is reserved", async () => {
    const app = await startTestBidder({ vms: 1 });
    const port = Number(new URL(app.bidUrl).port);
    try {
      const w = await bid(app);
      assert.equal(ledger(app).reserved, w.micros);
      const requestsBefore = filterMetric(app, "nexus_requests_total");
      const winsBefore = filterMetric(app, "nexus_wins_total");

      const t0 = Date.now();
      let stopped = false;
      const stopping = app.stop(8000, 4000).then(() => (stopped = true));
      const ready = await get(`${app.controlUrl}/readyz`);
      assert.equal(ready.status, 503);
      assert.match(ready.text, /draining/);

      // A new bid: refused by the host before the filter sees it (no reservation, no bid).
      const late = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST.replace('"id":"req-1"', '"id":"drain-late"'));
      assert.equal(late.status, 503, late.text);
      assert.match(late.text, /draining/);
      assert.equal(late.headers.connection, "close");
      assert.equal(filterMetric(app, "nexus_requests_total"), requestsBefore, "the filter never saw the refused bid");

      // The win notice of the bid made before the stop: answered by the filter and charged.
      const win = await get(w.nurl);
      assert.equal(win.status, 200, win.text);
      assert.equal(win.json().status, "charged");
      assert.equal(win.headers.connection, "close", "every answer of a draining listener closes its connection");
      assert.equal(ledger(app).charged, w.micros, "charged in the ledger");
      assert.equal(ledger(app).reserved, 0n);
      assert.equal(filterMetric(app, "nexus_wins_total"), winsBefore + 1n);
      assert.equal(stopped, false);

      // Nothing reserved any more: the window ends early (two reports show it), not after 4 s.
      await stopping;
      const took = Date.now() - t0;
      assert.ok(took < 3500, `the stop took ${took} ms: the window should end once the filter reports nothing reserved`);
      await assert.rejects(refused(port), /ECONNREFUSED/, "the listener is closed after the window");
    } finally {
      await app.close().catch(() => {});
    }
  });

  it("a reservation refunded at its TTL still waits for its win: the window runs from the expiry, and the late win is charged", async () => {
    // A soak audit: with a 1 s TTL the window ended as soon as nothing was reserved (1.6 s after the
    // signal), and a win sent 3 s after its bid found the listener closed: billed, charged nowhere.
    const app = await startTestBidder({ vms: 1, plugin: { reservation_ttl_ms: 1000 } });
    try {
      const w = await bid(app);
      const deadline = Date.now() + 10_000;
      while (ledger(app).reserved !== 0n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(ledger(app).reserved, 0n, "refunded at its TTL");
      // The filter's reports say so (what a sidecar host, which sees no filter metric, goes by).
      while (app.sync.filter.reservationsExpired < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(app.sync.filter.reservationsExpired, 1);
      const t0 = Date.now();
      const stopping = app.stop(8000, 4000);
      await new Promise((r) => setTimeout(r, 2500));
      const win = await get(w.nurl);
      assert.equal(win.json().status, "late_charged", win.text);
      assert.equal(ledger(app).charged, w.micros);
      await stopping;
      assert.ok(Date.now() - t0 < 7000, `stopped in ${Date.now() - t0} ms`);
    } finally {
      await app.close();
    }
  });

  it("with a bid still waiting for its notice the window lasts its time; a notice answered twice is charged once; a loss notice refunds; then the stop ends within its bound", async () => {
    const app = await startTestBidder({ vms: 2, budget: { returnWaitMs: 500 } });
    const port = Number(new URL(app.bidUrl).port);
    try {
      const [won, lost, open] = [await bid(app), await bid(app), await bid(app)];
      const reservedBefore = ledger(app).reserved;
      assert.equal(reservedBefore, won.micros + lost.micros + open.micros);

      const t0 = Date.now();
      const stopping = app.stop(3000, 1500);
      await new Promise((r) => setTimeout(r, 300));
      const win = await get(won.nurl);
      assert.equal(win.json().status, "charged", win.text);
      const again = await get(won.nurl);
      assert.equal(again.json().status, "already_settled", again.text);
      const loss = await get(lost.lurl);
      assert.equal(loss.json().status, "refunded", loss.text);
      const l = ledger(app);
      assert.equal(l.charged, won.micros, "charged once");
      assert.equal(l.reserved, open.micros, "the bid without a notice stays reserved");

      await stopping;
      const took = Date.now() - t0;
      assert.ok(took >= 1400, `the window lasts its time while a bid is reserved: the stop took ${took} ms`);
      assert.ok(took < 3000 + 500, `the stop ended within its bound (3 s): ${took} ms`);
      await assert.rejects(refused(port), /ECONNREFUSED/);
    } finally {
      await app.close().catch(() => {});
    }
  });
});

describe("graceful stop: notices forwarded by another pod during the window", () => {
  const prefix = uniquePrefix("drain-fwd");
  let redis: Redis;
  let a: HardeningBidder;
  let b: HardeningBidder;

  before(async () => {
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
    const o = { redisUrl: SHARED_REDIS_URL, keyPrefix: prefix, plugin: { replay_ttl_ms: 0 } };
    // Listening on a known port first: each pod lists its own bid listener for the others.
    const ports = await Promise.all([freePort(), freePort()]);
    [a, b] = await Promise.all([
      startPod("drain-fwd-a", { ...o, bidPort: ports[0], noticeForwardUrl: `http://127.0.0.1:${ports[0]}` }),
      startPod("drain-fwd-b", { ...o, bidPort: ports[1], noticeForwardUrl: `http://127.0.0.1:${ports[1]}` }),
    ]);
  });

  after(async () => {
    await a?.close().catch(() => {});
    await b?.close();
    await deleteTestKeys(redis, prefix);
    redis.disconnect();
  });

  it("a win notice of the stopping pod's bid that reached the other pod is forwarded to it and charged there", async () => {
    const r = await post(`${a.bidUrl}/openrtb2/bid`, uniqueRequest("drain-fwd").body);
    assert.equal(r.status, 200, r.text);
    const bidA = r.json().seatbid[0].bid[0] as { price: number; nurl: string };
    const micros = cpmToMicros(String(bidA.price));
    const nurl = new URL(noticeUrl(bidA.nurl, String(bidA.price)));

    const forwardsB = filterMetric(b, "nexus_notice_forwards_settled_total");
    const stopping = a.stop(8000, 3000);
    await new Promise((r) => setTimeout(r, 100));
    // The load balancer already sends everything to B: the notice comes there.
    const res = await get(b.bidUrl + nurl.pathname + nurl.search);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().status, "charged");
    assert.equal(filterMetric(b, "nexus_notice_forwards_settled_total"), forwardsB + 1n, "B forwarded it, and A settled it");
    assert.equal(readLedger(a.pool.shared, CAMPAIGN)!.charged, micros, "charged in A's ledger");
    assert.equal(readLedger(b.pool.shared, CAMPAIGN)!.charged, 0n, "B's ledger is untouched");
    await stopping;
    // A's report after the window carried the charge to Redis (the shared budget: pacing and spend).
    const podA = await redis.hgetall(`{nexus:${prefix}:${CAMPAIGN}}:pod:drain-fwd-a`);
    assert.equal(BigInt(podA.charged ?? "0"), micros, JSON.stringify(podA));
  });
});
