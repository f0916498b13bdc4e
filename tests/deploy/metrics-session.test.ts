// A scripted session against a real standalone bidder (the compiled filter in the project's
// proxy-wasm host), then its /metrics: every counter must say exactly what happened — bids,
// no-bids by reason, bad requests, reservations and their micros, a win at a known price
// (spend), a loss (refund), refused notices — plus the gauges (model, campaigns, pacing).
// These are the names Envoy's /stats/prometheus exports for the same filter.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestBidder, post, get, README_REQUEST, noticeUrl } from "../helpers/bidder.ts";
import { noBidReasons } from "./helpers.ts";

type Samples = Map<string, number>;

/** name{labels} -> value, from the Prometheus text format. */
function parseSamples(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

const request = (id: string, patch: (r: any) => void = () => {}) => {
  const r = JSON.parse(README_REQUEST);
  r.id = id;
  patch(r);
  return JSON.stringify(r);
};

const REASONS = noBidReasons();

test("after a scripted session, /metrics counts exactly what happened", async () => {
  const app = await startTestBidder();
  try {
    const scrape = async () => parseSamples((await get(`${app.controlUrl}/metrics`)).text);
    const before = await scrape();
    const delta = (after: Samples, name: string) => (after.get(name) ?? NaN) - (before.get(name) ?? 0);

    // N = 4 bids.
    const bids: { id: string; price: number; nurl: string; lurl: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await post(`${app.bidUrl}/openrtb2/bid`, request(`session-bid-${i}`));
      assert.equal(r.status, 200, r.text);
      const b = r.json().seatbid[0].bid[0];
      bids.push({ id: b.id, price: b.price, nurl: b.nurl, lurl: b.lurl });
    }
    // M = 5 no-bids, by reason.
    const noBids: [string, string][] = [
      ["no_match", request("session-nb-size-1", (r) => (r.imp[0].banner = { w: 999, h: 999 }))],
      ["no_match", request("session-nb-size-2", (r) => (r.imp[0].banner = { w: 1, h: 1 }))],
      ["below_floor", request("session-nb-floor", (r) => (r.imp[0].bidfloor = 100))],
      ["blocked", request("session-nb-badv", (r) => (r.badv = ["nexus-demo.example"]))],
      ["currency", request("session-nb-cur", (r) => (r.imp[0].bidfloorcur = "JPY"))],
    ];
    for (const [reason, body] of noBids) {
      const r = await post(`${app.bidUrl}/openrtb2/bid`, body);
      assert.equal(r.status, 204);
      assert.equal(r.headers["x-nexus-nobid-reason"], reason);
    }
    // One malformed request.
    assert.equal((await post(`${app.bidUrl}/openrtb2/bid`, "{")).status, 400);

    // Notices: a win at a known price (1.5 CPM = 1500 micros), the same win again, a loss,
    // an unknown bid, an unparsable price and a price above the bid (won, the price pending: the
    // money stays reserved, nothing charged yet).
    const win = await get(noticeUrl(bids[0]!.nurl, "1.5"));
    assert.deepEqual(win.json(), { status: "charged" });
    assert.deepEqual((await get(noticeUrl(bids[0]!.nurl, "1.5"))).json(), { status: "already_settled" });
    assert.deepEqual((await get(noticeUrl(bids[1]!.lurl, "0"))).json(), { status: "refunded" });
    assert.equal((await get(`${app.bidUrl}/openrtb2/win?bid=nonsense&price=1`)).status, 404);
    assert.deepEqual((await get(noticeUrl(bids[2]!.nurl, "abc"))).json(), { status: "won_price_pending" });
    assert.deepEqual((await get(noticeUrl(bids[3]!.nurl, String(bids[3]!.price + 100)))).json(), { status: "won_price_pending" });

    const after = await scrape();
    const expect = (name: string, value: number) => assert.equal(delta(after, name), value, name);
    expect("nexus_bid_requests_total", 4 + 5 + 1);
    expect("nexus_bid_responses_total", 4);
    expect("nexus_bids_total", 4);
    expect("nexus_bad_requests_total", 1);
    expect("nexus_too_large_total", 0);
    const byReason: Record<string, number> = {};
    for (const [reason] of noBids) byReason[reason] = (byReason[reason] ?? 0) + 1;
    assert.ok(REASONS.length >= 12 && Object.keys(byReason).every((r) => REASONS.includes(r)));
    for (const r of REASONS) expect(`nexus_nobids_${r}_total`, byReason[r] ?? 0);
    expect("nexus_reservations_total", 4);
    expect("nexus_reserved_micros_total", bids.reduce((s, b) => s + Math.round(b.price * 1000), 0));
    expect("nexus_wins_total", 1);
    expect("nexus_spend_micros_total", 1500);
    expect("nexus_late_wins_total", 0);
    expect("nexus_losses_total", 1);
    expect("nexus_refunds_total", 1);
    expect("nexus_reservations_expired_total", 0);
    expect("nexus_notices_duplicate_total", 1);
    expect("nexus_notices_unknown_total", 1);
    expect("nexus_notices_invalid_total", 2);
    expect("nexus_cas_giveups_total", 0);
    // One decision latency observation per request that reached a decision (not the 400).
    expect("nexus_decision_latency_us_count", 9);
    assert.ok(delta(after, "nexus_decision_latency_us_sum") > 0);
    assert.equal(after.get('nexus_decision_latency_us_bucket{le="+Inf"}'), after.get("nexus_decision_latency_us_count"));

    // Gauges: the model (its digest), the campaigns, pacing per campaign.
    assert.equal(after.get("nexus_model_loaded"), 1);
    assert.equal(after.get("nexus_model_digest_prefix"), parseInt(app.models.current!.sha256.slice(0, 12), 16));
    assert.equal(after.get("nexus_config_version"), 1);
    const pacing = after.get("nexus_pacing_multiplier_ppm_test_cpa");
    assert.ok(pacing !== undefined && pacing >= 50_000 && pacing <= 1_000_000, `pacing multiplier ${pacing}`);
    // The host's side of the same session.
    const sum = (prefix: string, label: string) => [...after].filter(([k]) => k.startsWith(prefix + "{") && k.includes(label)).reduce((a, [, v]) => a + v, 0);
    assert.equal(sum("nexus_host_model_loads_total", 'outcome="ok"'), 1);
    assert.equal(sum("nexus_host_model_loads_total", 'outcome="refused"'), 0);
    assert.equal(after.get("nexus_host_model_loaded"), 1);
    assert.equal(after.get("nexus_host_budget_source_up"), 1);
    assert.ok((after.get('nexus_host_sync_requests_total{outcome="ok"}') ?? 0) >= 1);
    assert.ok((after.get('nexus_host_granted_micros{campaign="test-cpa"}') ?? 0) > 0);
    assert.ok((after.get("nexus_sync_ok_total") ?? 0) >= 1);
    assert.equal(after.get("nexus_sync_failed_total"), 0);
  } finally {
    await app.close();
  }
});
