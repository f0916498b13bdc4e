// Video and audio campaigns end to end: campaigns with VAST creatives (campaigns file `"type":
// "video"` or `"audio"`) through the compiled filter in the standalone host, real HTTP — a video
// impression gets the VAST document with mtype 2, dur and protocol, an audio one mtype 3, a player
// the creative does not fit gets no bid, the exchange's price per second is a floor, and the win
// is charged like any other.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, README_REQUEST, get, noticeUrl, post, startTestBidder } from "../helpers/bidder.ts";
import type { Standalone } from "../../host/src/standalone.ts";

const VAST = '<VAST version="4.0"><Ad id="v-15"><InLine><AdSystem>Nexus</AdSystem>' +
  "<Impression><![CDATA[https://ads.nexus.example/imp?p=${AUCTION_PRICE}]]></Impression>" +
  "<Creatives><Creative><Linear><Duration>00:00:15</Duration></Linear></Creative></Creatives></InLine></Ad></VAST>";

const AUDIO_VAST = '<VAST version="4.1"><Ad id="a-30"><InLine><AdSystem>Nexus</AdSystem><AdType>audio</AdType>' +
  "<Creatives><Creative><Linear><Duration>00:00:30</Duration></Linear></Creative></Creatives></InLine></Ad></VAST>";

let app: Standalone;
let bidUrl: string;
let n = 0;

function request(imp: Record<string, unknown>): string {
  return JSON.stringify({ ...JSON.parse(README_REQUEST), id: `video-${process.pid}-${n++}`, imp: [imp] });
}

function videoImp(video: Record<string, unknown>, floor = 0.5): Record<string, unknown> {
  return { id: "1", video: { mimes: ["video/mp4"], minduration: 5, maxduration: 30, protocols: [2, 3, 7], ...video }, bidfloor: floor };
}

before(async () => {
  const campaigns = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  campaigns.campaigns.push({
    id: "test-video",
    value_per_conversion_micros: 20_000_000,
    max_bid_cpm_micros: 40_000_000,
    creatives: [{ crid: "v-15", type: "video", duration: 15, mimes: ["video/mp4", "video/webm"], adm: VAST, adomain: ["nexus-demo.example"] }],
  });
  campaigns.campaigns.push({
    id: "test-audio",
    value_per_conversion_micros: 20_000_000,
    max_bid_cpm_micros: 10_000_000,
    creatives: [{ crid: "a-30", type: "audio", duration: 30, mimes: ["audio/mpeg"], adm: AUDIO_VAST, adomain: ["nexus-demo.example"] }],
  });
  app = await startTestBidder({ vms: 1, campaigns, model: { pCtr: 0.5, pCvr: 0.5 } });
  bidUrl = `${app.bidUrl}/openrtb2/bid`;
});
after(async () => {
  await app?.close();
});

describe("video and audio through the filter", () => {
  it("bids the VAST creative on a video impression (mtype 2, dur, protocol), and its win is charged", async () => {
    const r = await post(bidUrl, request(videoImp({})));
    assert.equal(r.status, 200, r.text);
    const bid = r.json().seatbid[0].bid[0];
    assert.equal(bid.crid, "v-15");
    assert.equal(bid.cid, "test-video");
    assert.equal(bid.adm, VAST);
    assert.equal(bid.mtype, 2);
    assert.equal(bid.dur, 15);
    assert.equal(bid.protocol, 7);
    assert.equal(bid.w, undefined);
    assert.match(await (await fetch(`${app.controlUrl}/metrics`)).text(), /^nexus_video_bids_total 1$/m);
    const win = await get(noticeUrl(bid.nurl, String(bid.price)));
    assert.equal(win.status, 200, win.text);
    assert.equal(win.json().status, "charged");
  });

  it("a banner impression still gets a banner creative (mtype 1), never the video", async () => {
    const r = await post(bidUrl, request({ id: "1", banner: { w: 300, h: 250 }, bidfloor: 0.5 }));
    assert.equal(r.status, 200, r.text);
    const bid = r.json().seatbid[0].bid[0];
    assert.equal(bid.mtype, 1);
    assert.equal(bid.dur, undefined);
    assert.notEqual(bid.crid, "v-15");
    await get(noticeUrl(bid.lurl, "0"));
  });

  it("a player the creative does not fit gets no bid (no_match): media type, duration, protocol, overlay, a shorter dynamic pod", async () => {
    for (const video of [{ mimes: ["video/ogg"] }, { minduration: 20 }, { rqddurs: [6, 30] }, { protocols: [2, 3] }, { linearity: 2 }, { poddur: 10 }]) {
      const r = await post(bidUrl, request(videoImp(video)));
      assert.equal(r.status, 204, `${JSON.stringify(video)}: ${r.text}`);
      assert.equal(r.headers["x-nexus-nobid-reason"], "no_match", JSON.stringify(video));
    }
  });

  it("the exchange's price per second (mincpmpersec) is a floor for the ad's duration", async () => {
    const cleared = await post(bidUrl, request(videoImp({ mincpmpersec: 0.01 }, 0)));
    assert.equal(cleared.status, 200, cleared.text);
    const price = cleared.json().seatbid[0].bid[0].price as number;
    assert.ok(price >= 0.15, `price ${price} under 0.01/s × 15 s`);
    await get(noticeUrl(cleared.json().seatbid[0].bid[0].lurl, "0"));
    // A per-second price whose 15 s exceed what the campaign would pay.
    const over = await post(bidUrl, request(videoImp({ mincpmpersec: (price + 1) / 15 }, 0)));
    assert.equal(over.status, 204, over.text);
    assert.equal(over.headers["x-nexus-nobid-reason"], "below_floor");
  });

  it("a CTV ad pod request (OpenRTB 2.6 fixture): one bid in the pod, above the slot's floors", async () => {
    const pod = JSON.parse(readFileSync(join(FIXTURES, "openrtb/valid/ortb26-ctv-video-pod.json"), "utf8"));
    pod.id = `ctv-${process.pid}-${n++}`;
    const r = await post(bidUrl, JSON.stringify(pod));
    assert.equal(r.status, 200, r.text);
    const bids = r.json().seatbid[0].bid as Array<Record<string, unknown>>;
    // Both slots take mp4, 15-30 s and VAST 4.0, but they are one commercial break (podid "pod-1"):
    // the campaign's ad runs once in it.
    assert.deepEqual(bids.map((b) => b.impid), ["pod1-slot1"]);
    const bid = bids[0]!;
    assert.equal(bid.mtype, 2);
    assert.equal(bid.crid, "v-15");
    // The slot's floor is 18.5 USD (0.6/s × 15 s = 9 under it).
    assert.ok((bid.price as number) >= 18.5, `${bid.price} under 18.5`);
    await get(noticeUrl(bid.lurl as string, "0"));
    // Without the pod, each slot is an impression of its own.
    for (const imp of pod.imp) delete imp.video.podid;
    pod.id = `ctv-${process.pid}-${n++}`;
    const apart = await post(bidUrl, JSON.stringify(pod));
    assert.equal(apart.status, 200, apart.text);
    const both = apart.json().seatbid[0].bid as Array<Record<string, unknown>>;
    assert.deepEqual(both.map((b) => b.impid).sort(), ["pod1-slot1", "pod1-slot2"]);
    for (const b of both) await get(noticeUrl(b.lurl as string, "0"));
  });

  it("an audio impression gets the audio creative (mtype 3, dur 30, VAST 4.1 = 11), and its win is charged", async () => {
    const r = await post(bidUrl, request({ id: "1", audio: { mimes: ["audio/mpeg", "audio/mp4"], minduration: 10, maxduration: 60 }, bidfloor: 0.5 }));
    assert.equal(r.status, 200, r.text);
    const bid = r.json().seatbid[0].bid[0];
    assert.deepEqual([bid.crid, bid.cid, bid.mtype, bid.dur, bid.protocol], ["a-30", "test-audio", 3, 30, 11]);
    assert.equal(bid.adm, AUDIO_VAST);
    assert.match(await (await fetch(`${app.controlUrl}/metrics`)).text(), /^nexus_audio_bids_total 1$/m);
    const win = await get(noticeUrl(bid.nurl, String(bid.price)));
    assert.equal(win.json().status, "charged");
    // A player that takes no mp3 gets nothing.
    const none = await post(bidUrl, request({ id: "1", audio: { mimes: ["audio/ogg"] }, bidfloor: 0.5 }));
    assert.equal(none.status, 204, none.text);
    assert.equal(none.headers["x-nexus-nobid-reason"], "no_match");
  });
});
