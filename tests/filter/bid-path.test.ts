// The bid path end to end: the compiled filter in the standalone host, real HTTP.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { request } from "undici";
import { FIXTURES, README_REQUEST, get, post, startTestBidder } from "../helpers/bidder.ts";
import type { Standalone } from "../../host/src/standalone.ts";

let app: Standalone;
let bidUrl: string;

before(async () => {
  app = await startTestBidder({ vms: 2 });
  bidUrl = `${app.bidUrl}/openrtb2/bid`;
});
after(async () => {
  await app?.close();
});

describe("bid path", () => {
  it("answers the README request with a valid BidResponse", async () => {
    const r = await post(bidUrl, README_REQUEST);
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers["content-type"]), /application\/json/);
    const res = r.json();
    assert.equal(res.id, "req-1");
    assert.equal(res.cur, "USD");
    const bid = res.seatbid[0].bid[0];
    assert.equal(bid.impid, "1");
    assert.ok(bid.price > 0.5, `price ${bid.price} must clear the 0.5 floor`);
    assert.equal(bid.crid, "cr-300x250");
    assert.equal(bid.cid, "test-cpa");
    assert.deepEqual(bid.adomain, ["nexus-demo.example"]);
    assert.equal(bid.w, 300);
    assert.equal(bid.h, 250);
    assert.ok(bid.nurl.includes("${AUCTION_PRICE}"), "nurl carries the price macro");
    assert.ok(bid.burl.includes("${AUCTION_PRICE}"));
    assert.ok(bid.lurl.includes("/openrtb2/loss?"));
    assert.ok(bid.nurl.startsWith(app.bidUrl + "/openrtb2/win?bid=" + bid.id), bid.nurl);
    assert.match(bid.adm, /300x250/);
  });

  it("prices with the model: EV x shading x alpha", async () => {
    // The test model scores pCTR = 0.002 and pCVR = 0.05 before feature weights; value $20:
    // EV = 0.002 x 0.05 x 20 USD = 0.002 USD per impression = 2 USD CPM, moved by the feature weights.
    const r = await post(bidUrl, README_REQUEST);
    const price = r.json().seatbid[0].bid[0].price as number;
    assert.ok(price > 0.5 && price < 20, `price ${price}`);
  });

  it("rejects a malformed body with 400 and names the problem", async () => {
    const r = await post(bidUrl, '{"id": true, "imp": []}');
    assert.equal(r.status, 400);
    assert.deepEqual(r.json(), { error: "id: expected string" });
    const bad = await post(bidUrl, "{not json");
    assert.equal(bad.status, 400);
    assert.match(bad.json().error, /^\$: /);
  });

  it("answers 204 with a reason when no campaign matches", async () => {
    const r = await post(bidUrl, JSON.stringify({ id: "r2", imp: [{ id: "1", banner: { w: 1, h: 1 } }] }));
    assert.equal(r.status, 204);
    assert.equal(r.headers["x-nexus-nobid-reason"], "no_match");
    assert.equal(r.text, "");
    // RFC 9110 §8.6: a 204 carries no Content-Length (a strict client or proxy refuses one).
    assert.equal(r.headers["content-length"], undefined);
  });

  it("does not bid below the floor", async () => {
    const req = JSON.parse(README_REQUEST);
    req.imp[0].bidfloor = 50;
    const r = await post(bidUrl, JSON.stringify(req));
    assert.equal(r.status, 204);
    assert.equal(r.headers["x-nexus-nobid-reason"], "below_floor");
  });

  it("honours the exchange's block lists and the campaign's domain block list", async () => {
    const req = JSON.parse(README_REQUEST);
    req.badv = ["nexus-demo.example"];
    let r = await post(bidUrl, JSON.stringify(req));
    assert.equal(r.status, 204);
    assert.equal(r.headers["x-nexus-nobid-reason"], "blocked");
    const req2 = JSON.parse(README_REQUEST);
    req2.site.domain = "www.blocked.example";
    r = await post(bidUrl, JSON.stringify(req2));
    assert.equal(r.status, 204);
  });

  it("converts the floor currency and refuses unknown currencies", async () => {
    const req = JSON.parse(README_REQUEST);
    req.imp[0].bidfloorcur = "XYZ";
    let r = await post(bidUrl, JSON.stringify(req));
    assert.equal(r.status, 204);
    assert.equal(r.headers["x-nexus-nobid-reason"], "currency");
    const req2 = JSON.parse(README_REQUEST);
    req2.cur = ["EUR"];
    r = await post(bidUrl, JSON.stringify(req2));
    assert.equal(r.headers["x-nexus-nobid-reason"], "currency");
  });

  it("prices each imp of a multi-imp request", async () => {
    const req = JSON.parse(README_REQUEST);
    req.imp = [
      { id: "a", banner: { w: 300, h: 250 } },
      { id: "b", banner: { format: [{ w: 728, h: 90 }] } },
      { id: "c", banner: { w: 5, h: 5 } },
    ];
    const r = await post(bidUrl, JSON.stringify(req));
    assert.equal(r.status, 200);
    const bids = r.json().seatbid[0].bid;
    assert.deepEqual(bids.map((b: { impid: string }) => b.impid).sort(), ["a", "b"]);
    assert.notEqual(bids[0].id, bids[1].id);
  });

  it("answers 405 to GET on the bid path, 413 above the body limit, 404 off its paths", async () => {
    const notAllowed = await get(bidUrl);
    assert.equal(notAllowed.status, 405);
    assert.equal(notAllowed.headers["allow"], "POST", "RFC 9110: a 405 names the allowed methods");
    const noticeDelete = await request(`${app.bidUrl}/openrtb2/win?bid=1-00000000&price=1`, { method: "DELETE" });
    assert.equal(noticeDelete.statusCode, 405);
    assert.equal(noticeDelete.headers["allow"], "GET, POST");
    await noticeDelete.body.text();
    const big = JSON.stringify({ id: "x", imp: [{ id: "1", banner: { w: 300, h: 250 } }], pad: "x".repeat(70_000) });
    assert.equal((await post(bidUrl, big)).status, 413);
    assert.equal((await get(`${app.bidUrl}/elsewhere`)).status, 404);
  });
});

describe("OpenRTB corpus over HTTP", () => {
  const validDir = join(FIXTURES, "openrtb/valid");
  const invalidDir = join(FIXTURES, "openrtb/invalid");

  it("answers every realistic request with 200 or 204, consistently with the request", async () => {
    const files = readdirSync(validDir).filter((f) => f.endsWith(".json"));
    assert.ok(files.length >= 30, `corpus has ${files.length} requests`);
    let bids = 0;
    for (const f of files) {
      const body = readFileSync(join(validDir, f));
      const r = await post(bidUrl, body);
      assert.ok(r.status === 200 || r.status === 204, `${f}: ${r.status} ${r.text}`);
      if (r.status === 200) {
        bids++;
        const req = JSON.parse(body.toString("utf8"));
        const res = r.json();
        assert.equal(res.id, req.id, `${f}: id echo`);
        const impIds = new Set(req.imp.map((i: { id: string }) => i.id));
        for (const b of res.seatbid[0].bid) {
          assert.ok(impIds.has(b.impid), `${f}: impid ${b.impid} not in request`);
          assert.ok(b.price > 0, `${f}: price`);
        }
      } else {
        assert.ok(r.headers["x-nexus-nobid-reason"], `${f}: 204 without a reason`);
      }
    }
    assert.ok(bids >= 10, `only ${bids} of ${files.length} realistic requests got a bid`);
  });

  it("answers every malformed request with 400 and the expected reason", async () => {
    const expected = JSON.parse(readFileSync(join(invalidDir, "expected.json"), "utf8")) as Record<string, string>;
    const names = Object.keys(expected);
    assert.ok(names.length >= 40);
    for (const name of names) {
      const body = readFileSync(join(invalidDir, name));
      const r = await post(bidUrl, body);
      if (body.length > 65536) {
        assert.equal(r.status, 413, name);
        continue;
      }
      assert.equal(r.status, 400, `${name}: ${r.status} ${r.text}`);
      assert.ok(r.json().error.includes(expected[name]), `${name}: got "${r.json().error}", want "${expected[name]}"`);
    }
  });
});

describe("OpenRTB type slips over HTTP", () => {
  // Requests with one type slip exchanges make (tests/fixtures/openrtb/type-slips: a number as a
  // string, a number for a string, one value for a list); expected.json gives the 400 reason
  // strict_types answers with.
  const dir = join(FIXTURES, "openrtb/type-slips");
  const expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8")) as Record<string, string>;

  it("reads them as meant by default: a bid or a no-bid with its reason, never a 400, and counts them", async () => {
    const names = Object.keys(expected);
    assert.ok(names.length >= 10);
    const before = await coercedCount(app);
    let bids = 0;
    for (const name of names) {
      const req = JSON.parse(readFileSync(join(dir, name), "utf8"));
      req.id = typeof req.id === "number" ? req.id + Math.floor(Math.random() * 1e6) : `${req.id}-${Math.random()}`; // past the replay guard
      const r = await post(bidUrl, JSON.stringify(req));
      assert.ok(r.status === 200 || r.status === 204, `${name}: ${r.status} ${r.text}`);
      if (r.status === 204) {
        assert.ok(r.headers["x-nexus-nobid-reason"], `${name}: 204 without a reason`);
        continue;
      }
      bids++;
      // A numeric request id is echoed as the string of its digits (the BidResponse's id is a string).
      assert.equal(r.json().id, String(req.id), `${name}: id echo`);
    }
    assert.ok(bids >= names.length / 2, `only ${bids} of ${names.length} bid`);
    assert.equal((await coercedCount(app)) - before, names.length, "nexus_bid_requests_coerced_total counts each request once");
  });

  it("refuses them with 400 and the reason under strict_types", async () => {
    const strict = await startTestBidder({ vms: 1, plugin: { strict_types: true } });
    try {
      for (const [name, want] of Object.entries(expected)) {
        const r = await post(`${strict.bidUrl}/openrtb2/bid`, readFileSync(join(dir, name)));
        assert.equal(r.status, 400, `${name}: ${r.status} ${r.text}`);
        assert.ok(r.json().error.includes(want), `${name}: got "${r.json().error}", want "${want}"`);
      }
    } finally {
      await strict.close();
    }
  });

  it("matches currency codes up to case", async () => {
    const req = JSON.parse(README_REQUEST);
    req.cur = ["usd"];
    req.imp[0].bidfloorcur = "usd";
    const r = await post(bidUrl, JSON.stringify(req));
    assert.equal(r.status, 200, `${r.status} ${r.headers["x-nexus-nobid-reason"]} ${r.text}`);
    assert.equal(r.json().cur, "USD");
  });
});

/** nexus_bid_requests_coerced_total on the control plane's /metrics. */
async function coercedCount(bidder: Standalone): Promise<number> {
  const text = (await get(`${bidder.controlUrl}/metrics`)).text;
  const m = /^nexus_bid_requests_coerced_total(?:\{[^}]*\})? (\d+)/m.exec(text);
  assert.ok(m, "nexus_bid_requests_coerced_total is exported");
  return Number(m[1]);
}

describe("bid path: the reply's bytes", () => {
  it("sends the filter's body bytes unchanged, UTF-8 creatives included, with their byte length", async () => {
    const campaigns = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    const adm = '<img src="https://ads.nexus.example/300x250.png" alt="Café Müller — 東京 ✓">';
    campaigns.campaigns[0].creatives[0].adm = adm;
    const bidder = await startTestBidder({ vms: 1, campaigns });
    try {
      const r = await request(`${bidder.bidUrl}/openrtb2/bid`, { method: "POST", body: README_REQUEST, headers: { "content-type": "application/json" } });
      const bytes = Buffer.from(await r.body.arrayBuffer());
      assert.equal(r.statusCode, 200, bytes.toString());
      assert.equal(Number(r.headers["content-length"]), bytes.length);
      // The creative goes out as raw UTF-8 (not \u escapes), so this test sees bytes above 0x7f.
      assert.ok(bytes.some((b) => b > 0x7f), "the reply has non-ASCII bytes");
      const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      assert.equal(JSON.parse(text).seatbid[0].bid[0].adm, adm);
    } finally {
      await bidder.close();
    }
  });
});
