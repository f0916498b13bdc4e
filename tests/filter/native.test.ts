// Native campaigns end to end: a campaign with a native creative (campaigns file `"type":
// "native"`) through the compiled filter in the standalone host, real HTTP. The OpenRTB 2.5 spec's
// in-feed native impression (its request document as a string) and the same document sent as an
// object get a Native 1.2 response in adm answering their asset ids, with mtype 4; the win is
// charged like any other; a document the filter cannot read is a no-bid, counted.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, README_REQUEST, get, metricValue, noticeUrl, post, startTestBidder } from "../helpers/bidder.ts";
import type { Standalone } from "../../host/src/standalone.ts";

let app: Standalone;
let bidUrl: string;
let n = 0;

const NATIVE_CREATIVE = {
  crid: "n-feed",
  type: "native",
  title: "Summer sale: 40% off everything",
  images: [
    { type: "main", url: "https://cdn.nexus.example/n/main-1200x627.jpg", w: 1200, h: 627 },
    { type: "icon", url: "https://cdn.nexus.example/n/icon-80.png", w: 80, h: 80 },
  ],
  data: { sponsored: "Nexus Demo", desc: "Everything in the shop, this week only." },
  link: "https://nexus-demo.example/sale",
  clicktrackers: ["https://t.nexus.example/click"],
  imptrackers: ["https://t.nexus.example/imp"],
  privacy: "https://nexus-demo.example/privacy",
  adomain: ["nexus-demo.example"],
  video: "n-vast",
};
const VAST = '<VAST version="4.0"><Ad id="n-vast"><InLine><AdSystem>Nexus</AdSystem></InLine></Ad></VAST>';
// The video creative the native ad's video assets get (by crid); it also bids on imp.video.
const VIDEO_CREATIVE = { crid: "n-vast", type: "video", duration: 15, mimes: ["video/mp4"], adm: VAST, adomain: ["nexus-demo.example"] };

function fixtureNative(name: string): Record<string, unknown> {
  const doc = JSON.parse(readFileSync(join(FIXTURES, "openrtb/valid", name), "utf8"));
  return doc.imp[0].native;
}

function request(imp: Record<string, unknown>): string {
  return JSON.stringify({ ...JSON.parse(README_REQUEST), id: `native-${process.pid}-${n++}`, imp: [imp] });
}

before(async () => {
  const campaigns = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  campaigns.campaigns.push({
    id: "test-native",
    value_per_conversion_micros: 20_000_000,
    max_bid_cpm_micros: 40_000_000,
    creatives: [NATIVE_CREATIVE, VIDEO_CREATIVE],
  });
  app = await startTestBidder({ vms: 1, campaigns, model: { pCtr: 0.5, pCvr: 0.5 } });
  bidUrl = `${app.bidUrl}/openrtb2/bid`;
});
after(async () => {
  await app?.close();
});

describe("native through the filter", () => {
  it("answers the spec's in-feed native impression with a Native 1.2 response (mtype 4), and its win is charged", async () => {
    const native = fixtureNative("spec25-native-in-feed.json");
    delete native.battr; // the fixture blocks attributes 13 and 14, which this creative does not declare either way
    const r = await post(bidUrl, request({ id: "1", native, bidfloor: 0.3 }));
    assert.equal(r.status, 200, r.text);
    const bid = r.json().seatbid[0].bid[0];
    assert.equal(bid.crid, "n-feed");
    assert.equal(bid.cid, "test-native");
    assert.equal(bid.mtype, 4);
    assert.equal(bid.w, undefined);
    assert.equal(typeof bid.adm, "string");
    assert.deepEqual(JSON.parse(bid.adm), {
      ver: "1.2",
      assets: [
        { id: 1, title: { text: NATIVE_CREATIVE.title } },
        { id: 2, img: { type: 3, url: NATIVE_CREATIVE.images[0]!.url, w: 1200, h: 627 } },
        { id: 3, data: { type: 2, value: NATIVE_CREATIVE.data.desc } },
        { id: 4, data: { type: 1, value: NATIVE_CREATIVE.data.sponsored } },
      ],
      link: { url: NATIVE_CREATIVE.link, clicktrackers: NATIVE_CREATIVE.clicktrackers },
      eventtrackers: [{ event: 1, method: 1, url: NATIVE_CREATIVE.imptrackers[0] }],
      privacy: NATIVE_CREATIVE.privacy,
    });
    assert.equal(await metricValue(app, "nexus_native_bids_total"), 1);
    const win = await get(noticeUrl(bid.nurl, String(bid.price)));
    assert.equal(win.status, 200, win.text);
    assert.equal(win.json().status, "charged");
  });

  it("takes the request document sent as an object too", async () => {
    const native = fixtureNative("native-request-as-object.json");
    delete native.battr;
    const r = await post(bidUrl, request({ id: "1", native, bidfloor: 0.3 }));
    assert.equal(r.status, 200, r.text);
    const bid = r.json().seatbid[0].bid[0];
    assert.equal(bid.mtype, 4);
    assert.deepEqual(JSON.parse(bid.adm).assets.map((a: { id: number }) => a.id), [1, 2, 3, 4]);
    await get(noticeUrl(bid.lurl, "0"));
  });

  it("a required video asset gets the VAST document of the video creative the native ad names", async () => {
    const player = { mimes: ["video/mp4"], minduration: 5, maxduration: 30, protocols: [7] };
    const doc = { ver: "1.2", assets: [{ id: 1, required: 1, title: { len: 90 } }, { id: 5, required: 1, video: player }] };
    const r = await post(bidUrl, request({ id: "1", native: { request: JSON.stringify(doc) }, bidfloor: 0.3 }));
    assert.equal(r.status, 200, r.text);
    const bid = r.json().seatbid[0].bid[0];
    assert.equal(bid.crid, "n-feed");
    assert.deepEqual(JSON.parse(bid.adm).assets, [{ id: 1, title: { text: NATIVE_CREATIVE.title } }, { id: 5, video: { vasttag: VAST } }]);
    await get(noticeUrl(bid.lurl, "0"));
    // A player the video does not fit (it runs 15 s): no bid.
    player.maxduration = 10;
    const misfit = await post(bidUrl, request({ id: "1", native: { request: JSON.stringify(doc) } }));
    assert.equal(misfit.status, 204, misfit.text);
  });

  it("no bid where the creative cannot fill a required asset, or the document cannot be read (counted)", async () => {
    const tooShort = JSON.stringify({ ver: "1.2", assets: [{ id: 1, required: 1, title: { len: 10 } }] });
    const r = await post(bidUrl, request({ id: "1", native: { request: tooShort } }));
    assert.equal(r.status, 204, r.text);
    assert.equal(r.headers["x-nexus-nobid-reason"], "no_match");
    const before = await metricValue(app, "nexus_native_requests_invalid_total");
    const broken = await post(bidUrl, request({ id: "1", native: { request: '{"ver":"1.2","assets":[{"id":1}]}' } }));
    assert.equal(broken.status, 204, broken.text);
    assert.equal(broken.headers["x-nexus-nobid-reason"], "no_match");
    assert.equal(await metricValue(app, "nexus_native_requests_invalid_total"), before + 1);
  });

  it("sixteen native impressions in one request keep a VM's linear memory within 8 MiB", async () => {
    // Each impression position gets its native request model the first time one comes (~17 KiB).
    const doc = JSON.stringify({ ver: "1.2", assets: Array.from({ length: 16 }, (_, i) => ({ id: i, title: { len: 90 } })) });
    const imps = Array.from({ length: 16 }, (_, i) => ({ id: String(i + 1), native: { request: doc } }));
    const r = await post(bidUrl, JSON.stringify({ ...JSON.parse(request({ id: "1", banner: { w: 1, h: 1 } })), imp: imps }));
    // Every impression's document is read (the budget here does not stretch to sixteen bids).
    assert.equal(r.status, 200, r.text);
    for (const bid of r.json().seatbid[0].bid) await get(noticeUrl(bid.lurl, "0"));
    for (const bytes of app.pool.memoryBytes()) assert.ok(bytes <= 8 * 2 ** 20, `${bytes / 2 ** 20} MiB of linear memory in a VM`);
  });

  it("a banner impression still gets a banner creative (mtype 1)", async () => {
    const r = await post(bidUrl, request({ id: "1", banner: { w: 300, h: 250 }, bidfloor: 0.5 }));
    assert.equal(r.status, 200, r.text);
    const bid = r.json().seatbid[0].bid[0];
    assert.equal(bid.mtype, 1);
    assert.notEqual(bid.crid, "n-feed");
    await get(noticeUrl(bid.lurl, "0"));
  });
});
