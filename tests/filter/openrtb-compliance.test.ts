// OpenRTB 2.5/2.6 compliance as an exchange sees it: the compiled filter in the
// standalone host, real HTTP. Each case is a request an exchange really sends.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, README_REQUEST, get, noticeUrl, post, startTestBidder } from "../helpers/bidder.ts";
import type { Standalone } from "../../host/src/standalone.ts";

let app: Standalone;
let bidUrl: string;
let n = 0;

/** README_REQUEST with a fresh id and `patch` merged at the top level. */
function request(patch: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...JSON.parse(README_REQUEST), id: `rtb-${process.pid}-${n++}`, ...patch });
}

const BANNER_IMP = { id: "1", banner: { w: 300, h: 250 }, bidfloor: 0.5 };

/** Sends a loss notice for every bid of a 200 answer so reservations do not pile up. */
async function settle(r: { status: number; text: string }): Promise<void> {
  if (r.status !== 200) return;
  for (const sb of JSON.parse(r.text).seatbid ?? []) {
    for (const b of sb.bid ?? []) await get(noticeUrl(b.lurl, "0"));
  }
}

before(async () => {
  const campaigns = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  app = await startTestBidder({ vms: 1, campaigns });
  bidUrl = `${app.bidUrl}/openrtb2/bid`;
});
after(async () => {
  await app?.close();
});

describe("OpenRTB compliance: request", () => {
  it("bids on a request full of 2.6 fields and ext objects it does not read", async () => {
    const r = await post(bidUrl, request({
      imp: [{ ...BANNER_IMP, rwdd: 1, instl: 0, ext: { prebid: { a: [1, { b: null }] } }, metric: [{ type: "viewability", value: 0.7 }], banner: { w: 300, h: 250, format: [{ w: 300, h: 250 }, { wratio: 16, hratio: 9, wmin: 300 }], ext: {} } }],
      device: { ua: "Mozilla/5.0", ip: "203.0.113.7", sua: { browsers: [{ brand: "Chrome", version: ["120"] }], mobile: 0 }, geo: { country: "USA", ext: {} } },
      user: { id: "u", eids: [{ source: "id5-sync.com", uids: [{ id: "x", atype: 1 }] }], consent: "CO", ext: { eids: [] } },
      regs: { gdpr: 1, us_privacy: "1YNN", gpp: "DBAA", gpp_sid: [2], ext: { dsa: { dsarequired: 1 } } },
      source: { tid: "t", schain: { complete: 1, ver: "1.0", nodes: [{ asi: "exchange.example", sid: "1", hp: 1 }] } },
      at: 1, tmax: 300, test: 0, acat: ["IAB3"], cattax: 1, ext: { anything: true },
    }));
    try {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers["x-openrtb-version"], "2.6");
    } finally {
      await settle(r);
    }
  });

  it("skips video, native and audio imps without rejecting the request", async () => {
    const r = await post(bidUrl, request({
      imp: [
        { id: "v", video: { mimes: ["video/mp4"], w: 640, h: 480 } },
        { id: "n", native: { request: "{\"ver\":\"1.2\",\"assets\":[]}", ver: "1.2" } },
        { id: "a", audio: { mimes: ["audio/mp4"] } },
        { ...BANNER_IMP, id: "b" },
      ],
    }));
    try {
      assert.equal(r.status, 200, r.text);
      const bids = r.json().seatbid[0].bid;
      assert.deepEqual(bids.map((b: { impid: string }) => b.impid), ["b"]);
    } finally {
      await settle(r);
    }
    const only = await post(bidUrl, request({ imp: [{ id: "v", video: { mimes: ["video/mp4"], w: 300, h: 250 } }] }));
    assert.equal(only.status, 204, only.text);
  });

  it("bids when integers are written 200.0 or 3e2 and native.request is an object, as some exchanges send them", async () => {
    // JSON.stringify cannot write 200.0: placeholders are replaced in the text.
    const body = request({
      tmax: "@TMAX@",
      imp: [
        { id: "n", native: { request: { ver: "1.2", assets: [{ id: 1, required: 1, title: { len: 90 } }] }, ver: "1.2" } },
        { ...BANNER_IMP, banner: { w: "@W@", h: 250 } },
      ],
    }).replace("\"@TMAX@\"", "200.0").replace("\"@W@\"", "3e2");
    assert.ok(body.includes('"w":3e2,') && body.includes('"tmax":200.0'), body);
    const r = await post(bidUrl, body);
    try {
      assert.equal(r.status, 200, r.text);
      const bids = r.json().seatbid[0].bid;
      assert.deepEqual(bids.map((b: { impid: string }) => b.impid), ["1"]);
    } finally {
      await settle(r);
    }
  });

  it("answers in a currency of the request's cur list, and no-bids when it has none of them", async () => {
    const ok = await post(bidUrl, request({ cur: ["EUR", "USD"] }));
    try {
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json().cur, "USD");
    } finally {
      await settle(ok);
    }
    const eur = await post(bidUrl, request({ cur: ["EUR"] }));
    assert.equal(eur.status, 204, eur.text);
  });

  it("does not bid when the seat is not in wseat (allowed buyer seats)", async () => {
    const r = await post(bidUrl, request({ wseat: ["some-other-seat"] }));
    await settle(r);
    assert.equal(r.status, 204, `bid although wseat does not list our seat: ${r.text}`);
  });

  it("does not bid when the seat is in bseat (blocked buyer seats)", async () => {
    const r = await post(bidUrl, request({ bseat: ["nexus"] }));
    await settle(r);
    assert.equal(r.status, 204, `bid although bseat lists our seat: ${r.text}`);
  });

  it("still bids when wseat lists the seat", async () => {
    const r = await post(bidUrl, request({ wseat: ["other", "nexus"], bseat: ["other"] }));
    try {
      assert.equal(r.status, 200, r.text);
    } finally {
      await settle(r);
    }
  });

  it("does not bid a creative type the banner blocks (btype): the test creative's markup is an XHTML banner", async () => {
    const r = await post(bidUrl, request({ imp: [{ ...BANNER_IMP, banner: { w: 300, h: 250, btype: [1, 2] } }] }));
    await settle(r);
    assert.equal(r.status, 204, `bid an XHTML banner where btype blocks it: ${r.text}`);
    assert.equal(r.headers["x-nexus-nobid-reason"], "blocked");
    const ok = await post(bidUrl, request({ imp: [{ ...BANNER_IMP, banner: { w: 300, h: 250, btype: [3, 4] } }] }));
    try {
      assert.equal(ok.status, 200, ok.text);
    } finally {
      await settle(ok);
    }
  });

  it("bids on a secure imp with an HTTPS-only creative; a battr list that names none of its attributes does not block", async () => {
    const all = Array.from({ length: 17 }, (_, i) => i + 1);
    const r = await post(bidUrl, request({ imp: [{ ...BANNER_IMP, secure: 1, banner: { w: 300, h: 250, battr: all } }] }));
    try {
      assert.equal(r.status, 200, r.text);
    } finally {
      await settle(r);
    }
  });

  it("honours badv past the 64th entry (long block lists are common)", async () => {
    const badv = Array.from({ length: 100 }, (_, i) => `blocked-${i}.example`);
    badv.push("nexus-demo.example");
    const r = await post(bidUrl, request({ badv }));
    await settle(r);
    assert.equal(r.status, 204, `bid with an adomain the exchange blocked: ${r.text}`);
  });

  it("honours bcat past the 64th entry", async () => {
    const bcat = Array.from({ length: 100 }, (_, i) => `IAB${i + 100}`);
    bcat.push("IAB3");
    const r = await post(bidUrl, request({ bcat }));
    await settle(r);
    assert.equal(r.status, 204, `bid with a category the exchange blocked: ${r.text}`);
  });

  it("compares bcat and acat in the request's taxonomy and names the creative's categories in it", async () => {
    // The 300x250 creative has IAB 1.0 ["IAB3"] and Content Taxonomy 3.0 (cattax 7) ["52", "49"].
    const cases: Array<[Record<string, unknown>, number, string?]> = [
      [{ cattax: 7, bcat: ["9", "10"] }, 200],
      [{ cattax: 7, bcat: ["49"] }, 204, "blocked"],
      [{ cattax: 7, acat: ["52", "49", "1"] }, 200],
      [{ cattax: 7, acat: ["52"] }, 204, "blocked"],
      [{ cattax: 6, bcat: ["1"] }, 204, "blocked"], // nothing declared in 6: cannot be compared
      [{ acat: ["IAB3"] }, 200],
      [{ acat: ["IAB1"] }, 204, "blocked"],
    ];
    for (const [fields, status, reason] of cases) {
      const r = await post(bidUrl, request(fields));
      try {
        assert.equal(r.status, status, `${JSON.stringify(fields)}: ${r.text}`);
        if (reason) assert.equal(r.headers["x-nexus-nobid-reason"], reason, JSON.stringify(fields));
        if (status !== 200) continue;
        const bid = r.json().seatbid[0].bid[0];
        if (fields.cattax === 7) {
          assert.deepEqual([bid.cat, bid.cattax], [["52", "49"], 7], JSON.stringify(fields));
        } else {
          assert.deepEqual(bid.cat, ["IAB3"]);
          assert.equal(bid.cattax, undefined, "IAB 1.0 is bid.cattax's default: left out");
        }
      } finally {
        await settle(r);
      }
    }
  });

  it("bids only creatives in a language wlang or wlangb allows, and names the language", async () => {
    // The 300x250 creative is in "en"; the README request's imp is 300x250.
    const cases: Array<[Record<string, unknown>, number]> = [
      [{ wlang: ["fr", "en"] }, 200],
      [{ wlang: ["fr"] }, 204],
      [{ wlangb: ["en"] }, 200],
      [{ wlangb: ["en-US"] }, 204], // the range is narrower than the creative's tag
    ];
    for (const [fields, status] of cases) {
      const r = await post(bidUrl, request(fields));
      try {
        assert.equal(r.status, status, `${JSON.stringify(fields)}: ${r.text}`);
        if (status === 200) assert.equal(r.json().seatbid[0].bid[0].language, "en");
        else assert.equal(r.headers["x-nexus-nobid-reason"], "blocked");
      } finally {
        await settle(r);
      }
    }
    // A creative without a declared language cannot be shown to be allowed (the 728x90 has none).
    const leaderboard = await post(bidUrl, request({ imp: [{ id: "1", banner: { w: 728, h: 90 }, bidfloor: 0.1 }] }));
    await settle(leaderboard);
    assert.equal(leaderboard.status, 200, leaderboard.text);
    const refused = await post(bidUrl, request({ imp: [{ id: "1", banner: { w: 728, h: 90 }, bidfloor: 0.1 }], wlang: ["en"] }));
    await settle(refused);
    assert.equal(refused.status, 204, refused.text);
  });

  it("answers regs.ext.dsa: bid.ext.dsa where asked, a no-bid dsa where required and the rendering cannot fit", async () => {
    // The campaign declares dsa with adrender 0 (its creatives do not show the notice).
    const dsa = (o: Record<string, number>) => ({ regs: { ext: { dsa: { datatopub: 2, transparency: [{ domain: "ssp.example", dsaparams: [1] }], ...o } } } });
    const want = { behalf: "Nexus Demo Brand", paid: "Nexus Demo Agency", adrender: 0, transparency: [{ domain: "nexus-dsp.example", dsaparams: [2] }] };
    const cases: Array<[Record<string, unknown>, number, unknown]> = [
      [dsa({ dsarequired: 3, pubrender: 2 }), 200, want],
      [dsa({ dsarequired: 2, pubrender: 1 }), 200, want],
      [dsa({ dsarequired: 1, pubrender: 0 }), 200, undefined], // supported only, and nobody would render: without
      [dsa({ dsarequired: 0 }), 200, undefined],
      [{}, 200, undefined],
      [dsa({ dsarequired: 3, pubrender: 0 }), 204, undefined],
    ];
    for (const [fields, status, ext] of cases) {
      const r = await post(bidUrl, request(fields));
      try {
        assert.equal(r.status, status, `${JSON.stringify(fields)}: ${r.text}`);
        if (status === 200) assert.deepEqual(r.json().seatbid[0].bid[0].ext?.dsa, ext, JSON.stringify(fields));
        else assert.equal(r.headers["x-nexus-nobid-reason"], "dsa");
      } finally {
        await settle(r);
      }
    }
  });

  it("does not bid when a block list is longer than it can keep (the dropped entries could block it)", async () => {
    const badv = Array.from({ length: 600 }, (_, i) => `blocked-${i}.example`);
    const r = await post(bidUrl, request({ badv }));
    await settle(r);
    assert.equal(r.status, 204, r.text);
    assert.equal(r.headers["x-nexus-nobid-reason"], "blocked");
  });

  it("honours bseat past the entries the parser keeps (MAX_SEATS, 64)", async () => {
    // 200 seats: past the cap whatever it becomes (at 21 entries this test stopped reaching the
    // truncated-list rule when the cap went from 16 to 64).
    const bseat = Array.from({ length: 200 }, (_, i) => `seat-${i}`);
    bseat.push("nexus");
    const r = await post(bidUrl, request({ bseat }));
    await settle(r);
    assert.equal(r.status, 204, `bid although bseat lists our seat: ${r.text}`);
    assert.equal(r.headers["x-nexus-nobid-reason"], "blocked");
  });

  it("does not bid on a private auction it has no deal for, bids in the open auction of a pmp imp", async () => {
    const priv = await post(bidUrl, request({ imp: [{ ...BANNER_IMP, pmp: { private_auction: 1, deals: [{ id: "d1", bidfloor: 1 }] } }] }));
    await settle(priv);
    assert.equal(priv.status, 204, priv.text);
    const open = await post(bidUrl, request({ imp: [{ ...BANNER_IMP, pmp: { private_auction: 0, deals: [{ id: "d1", bidfloor: 1 }] } }] }));
    try {
      assert.equal(open.status, 200, open.text);
      assert.equal(open.json().seatbid[0].bid[0].dealid, undefined, "no deal id: the bid is an open-auction bid");
    } finally {
      await settle(open);
    }
  });
});

describe("OpenRTB compliance: response", () => {
  it("writes a complete bid per imp with distinct bid ids and a price above the floor", async () => {
    const r = await post(bidUrl, request({ imp: [{ ...BANNER_IMP, id: "a" }, { id: "b", banner: { format: [{ w: 728, h: 90 }] }, bidfloor: 0.1 }] }));
    try {
      assert.equal(r.status, 200, r.text);
      assert.match(String(r.headers["content-type"]), /^application\/json/);
      const res = r.json();
      assert.equal(res.seatbid.length, 1);
      const bids = res.seatbid[0].bid;
      assert.equal(bids.length, 2);
      assert.notEqual(bids[0].id, bids[1].id);
      for (const b of bids) {
        assert.ok(b.price > 0);
        assert.ok(b.adm && b.crid && Array.isArray(b.adomain) && b.adomain.length > 0);
        assert.ok(b.w > 0 && b.h > 0);
      }
      assert.deepEqual([bids[1].w, bids[1].h], [728, 90]);
      assert.equal(typeof res.bidid, "string");
    } finally {
      await settle(r);
    }
  });
});

describe("OpenRTB compliance: notices", () => {
  it("charges a win whose ${AUCTION_PRICE} an exchange printed with a double's 17 significant digits", async () => {
    const r = await post(bidUrl, request({ imp: [{ ...BANNER_IMP, bidfloor: 0 }] }));
    assert.equal(r.status, 200, r.text);
    const bid = r.json().seatbid[0].bid[0];
    // 0.1 + 0.2 as JavaScript/Java/Go print it: a clearing price an exchange computed in floating point.
    const w = await get(noticeUrl(bid.nurl, "0.30000000000000004"));
    if (w.status !== 200) await get(noticeUrl(bid.lurl, "0"));
    assert.equal(w.status, 200, w.text);
    assert.equal(w.json().status, "charged");
  });

  it("charges a first-price win reported at the bid price in floating point noise", async () => {
    const r = await post(bidUrl, request({ imp: [{ ...BANNER_IMP, bidfloor: 0 }], at: 1 }));
    assert.equal(r.status, 200, r.text);
    const bid = r.json().seatbid[0].bid[0];
    const price = `${bid.price.toFixed(3)}0000000000001`; // the bid price, 1e-16 above in the last digit
    const w = await get(noticeUrl(bid.nurl, price));
    if (w.status !== 200) await get(noticeUrl(bid.lurl, "0"));
    assert.equal(w.status, 200, w.text);
    assert.equal(w.json().status, "charged");
  });
});
