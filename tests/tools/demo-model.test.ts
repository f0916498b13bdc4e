// The committed demo model and campaign set: signed with the committed public
// key, small and sparse, loadable by the filter's loader, and the campaign set
// parses with the filter's campaign parser and bids roughly $0.5–5 CPM on the
// kind of traffic the model was trained on; traffic unlike it (the README's
// request) scores near the training click rate, not at the bid cap.
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { loadModelFile, readNxmHeader, toWireBlob } from "../../host/src/models/index.ts";
import { bidRequestFromLog } from "../../host/src/data/openrtb-from-log.ts";
import { Featindex, readLibfm } from "../../host/src/data/ipinyou.ts";
import type { NexusCore } from "../../host/src/tools/core.ts";
import { fixture, loadCore, ROOT } from "./helpers.ts";

const DEMO = join(ROOT, "models", "demo");
let core: NexusCore;
before(async () => {
  core = await loadCore();
});

describe("models/demo", () => {
  it("demo.nxm is signed with demo-public.pem, sparse and under 1 MB", async () => {
    const pub = readFileSync(join(DEMO, "demo-public.pem"), "utf8");
    assert.match(pub, /^-----BEGIN PUBLIC KEY-----\n/);
    const m = await loadModelFile(join(DEMO, "demo.nxm"), { publicKey: pub, allowUnsigned: false });
    assert.equal(m.signed, true);
    assert.equal(m.model.hashBits, 18);
    assert.ok(statSync(join(DEMO, "demo.nxm")).size < 1 << 20);
    assert.equal(readNxmHeader(new Uint8Array(readFileSync(join(DEMO, "demo.nxm")))).encoding, "sparse");
    assert.ok(Math.abs(1 / (1 + Math.exp(-m.model.bCvr)) - 0.05) < 1e-6); // the constant pCVR model
    core.loadModel(toWireBlob(m.model), 18);
  });

  it("a request whose features it never saw (the README's) scores near the training click rate", async () => {
    core.loadModel(new Uint8Array(readFileSync(join(DEMO, "demo.nxm"))), 18);
    const readme = JSON.stringify({
      id: "req-1",
      imp: [{ id: "1", banner: { w: 300, h: 250 }, bidfloor: 0.5 }],
      site: { domain: "news.example", page: "https://news.example/a" },
      device: { ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0", ip: "203.0.113.7", geo: { country: "USA" } },
    });
    // campaign 2997's training click rate is 255 / 26,773 = 0.95%; every hour of a week
    for (let h = 0; h < 24 * 7; h++) {
      const now = Date.UTC(2025, 0, 12, h);
      const b = core.requestFeatures(new TextEncoder().encode(readme), 0, now, 480);
      assert.ok(b instanceof Uint32Array);
      const p = core.score(b).pCtr;
      assert.ok(p > 0.002 && p < 0.02, `pCTR ${p} at hour ${h} of the week`);
    }
  });

  it("campaigns.json parses with the filter's parser and bids $0.5–5 CPM on typical requests", async () => {
    const text = readFileSync(join(DEMO, "campaigns.json"), "utf8");
    const doc = JSON.parse(text) as { campaigns: Array<{ creatives: Array<{ w: number; h: number; type?: string; duration?: number }>; targeting: { sizes: string[] } }> };
    assert.deepEqual(doc.campaigns[0]!.targeting.sizes, ["300x250", "728x90", "320x50", "160x600", "300x600"]);
    // A banner creative for every targeted size, the 15-second video of the README's video request and its native ad.
    const creatives = doc.campaigns[0]!.creatives;
    assert.deepEqual(creatives.filter((c) => c.type === undefined).map((c) => `${c.w}x${c.h}`), doc.campaigns[0]!.targeting.sizes);
    assert.deepEqual(creatives.filter((c) => c.type === "video").map((c) => c.duration), [15]);
    assert.equal(creatives.filter((c) => c.type === "native").length, 1);
    core.loadModel(new Uint8Array(readFileSync(join(DEMO, "demo.nxm"))), 18);
    core.loadCampaigns(text);
    const fi = await Featindex.read(fixture("featindex.sample.txt"));
    const prices: number[] = [];
    for await (const rec of readLibfm(fixture("libfm-deepctr.sample.txt"), fi)) {
      // mobile 320x50 traffic, as in campaign 2997, without a floor
      const r = bidRequestFromLog({ ...rec, slotwidth: 320, slotheight: 50, slotprice: 0 });
      const d = core.decide(r.json, r.timeMs);
      assert.equal(d.status, 200, `no bid: reason ${d.reason}`);
      const resp = JSON.parse(d.body!) as { cur: string; seatbid: Array<{ bid: Array<{ price: number; crid: string }> }> };
      assert.equal(resp.cur, "USD");
      assert.equal(resp.seatbid[0]!.bid[0]!.crid, "demo-320x50");
      prices.push(resp.seatbid[0]!.bid[0]!.price);
    }
    prices.sort((a, b) => a - b);
    const median = prices[Math.floor(prices.length / 2)]!;
    assert.ok(median >= 0.5 && median <= 5, `median bid $${median} CPM`);
    assert.ok(prices[prices.length - 1]! <= 8, "max_bid_cpm caps bids at $8");
  });
});
