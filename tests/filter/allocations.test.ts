// No allocation on the warm bid path: the filter built with AssemblyScript's
// allocation tracing (ASC_RTRACE, build/nexus_filter.rtrace.wasm) runs in the
// standalone host; after warm-up, bid requests (bids, no-bids, malformed) and
// notices must not allocate at all. Ticks (cold path) are outside the window.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AllocationCounter } from "../helpers/rtrace.ts";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { FIXTURES, README_REQUEST } from "../helpers/bidder.ts";
import { tcString } from "../helpers/tcf.ts";
import { gppString, usnat } from "../helpers/gpp.ts";
import { PACKAGE_ROOT } from "../../host/src/paths.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

let sim: SimBidder;
const rt = new AllocationCounter();
const dec = new TextDecoder();

before(async () => {
  sim = await startSimBidder({
    vms: 1,
    wasmPath: join(PACKAGE_ROOT, "build/nexus_filter.rtrace.wasm"),
    plugin: { decision_budget_ms: 1000 },
    budget: { minSliceMicros: 900_000_000 }, // the whole test budget granted at once: no tick needed
    instrumentation: rt.imports(),
  });
  await sim.untilReady();
});
after(async () => {
  await sim?.close();
});

function status(out: HttpOutcome): number {
  return out.kind === "local" ? out.status : -1;
}

const requests = {
  bid: README_REQUEST,
  multiImp: JSON.stringify({ ...JSON.parse(README_REQUEST), imp: [{ id: "a", banner: { w: 300, h: 250 } }, { id: "b", banner: { format: [{ w: 728, h: 90 }] } }] }),
  noBid: JSON.stringify({ id: "n", imp: [{ id: "1", banner: { w: 1, h: 1 } }] }),
  malformed: '{"id": 1, "imp": [}',
  escaped: '{"id":"e\\u00e9\\ud83d\\ude00","imp":[{"id":"1","banner":{"w":300,"h":250}}],"site":{"domain":"news.example"}}',
  // Privacy signals: a TCF string decoded on the bid path (granted, range-encoded), and a contextual bid.
  consented: JSON.stringify({ ...JSON.parse(README_REQUEST), regs: { gdpr: 1 }, user: { consent: tcString({ ranges: [[1, 40], [77, 77]] }) + ".YAAAAAAAAAAAAAAAAAA" } }),
  contextual: JSON.stringify({ ...JSON.parse(README_REQUEST), regs: { coppa: 1, us_privacy: "1YYN" }, device: { lmt: 1, ua: "x", ip: "203.0.113.7" } }),
  // GPP: a usnat section with GPC and a TCF EU section decoded on the bid path (both apply).
  gpp: JSON.stringify({ ...JSON.parse(README_REQUEST), regs: { gpp: gppString([[2, tcString({ vendors: [77] })], [7, usnat({ gpc: false })]]), gpp_sid: [2, 7] } }),
  // A supply chain whose nodes' asi and sid are kept (one escaped), longer than the 16 kept.
  supplyChain: JSON.stringify({
    ...JSON.parse(README_REQUEST),
    source: { schain: { complete: 1, ver: "1.0", nodes: Array.from({ length: 18 }, (_, i) => ({ asi: i === 0 ? "ssp.ex\u0061mple" : `n${i}.example`, sid: String(i), hp: 1 })) } },
  }).replace("\\\\u0061", "\\u0061"),
};

describe("allocations on the warm path", () => {
  it("bids, no-bids, malformed requests and notices allocate nothing once warm", async () => {
    const nurls: string[] = [];
    const run = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const b = await sim.bid(requests.bid);
        assert.equal(status(b), 200);
        if (b.kind === "local") nurls.push(JSON.parse(dec.decode(b.body)).seatbid[0].bid[0].nurl);
        assert.equal(status(await sim.bid(requests.multiImp)), 200);
        assert.equal(status(await sim.bid(requests.noBid)), 204);
        assert.equal(status(await sim.bid(requests.malformed)), 400);
        assert.equal(status(await sim.bid(requests.escaped)), 200);
        assert.equal(status(await sim.bid(requests.consented)), 200);
        assert.equal(status(await sim.bid(requests.contextual)), 200);
        assert.equal(status(await sim.bid(requests.gpp)), 200);
        assert.equal(status(await sim.bid(requests.supplyChain)), 200);
        const nurl = nurls.shift()!;
        const win = await sim.get(new URL(nurl.replace("${AUCTION_PRICE}", "0.5")).pathname + new URL(nurl.replace("${AUCTION_PRICE}", "0.5")).search);
        assert.equal(status(win), 200);
      }
    };
    await run(50); // warm-up: pools, arenas, first-use paths
    rt.counting = true;
    await run(200);
    rt.counting = false;
    assert.equal(rt.allocations, 0, `${rt.allocations} allocations in 2000 warm requests`);
    assert.equal(rt.frees, 0, `${rt.frees} frees in 2000 warm requests`);
    assert.equal(rt.collections, 0, `${rt.collections} garbage collections in 2000 warm requests`);
  });

  it("the tracing is live: a tick (cold path) does allocate", async () => {
    rt.counting = true;
    sim.clock.now += 5000;
    await sim.tick();
    sim.clock.now += 5000;
    await sim.tick();
    rt.counting = false;
    assert.ok(rt.allocations > 0, "the rtrace hooks count allocations");
  });

  it("garbage from the cold path is collected (minimal runtime: after the outermost callback)", async () => {
    rt.counting = true;
    rt.frees = 0;
    rt.collections = 0;
    for (let i = 0; i < 60; i++) {
      sim.clock.now += 200;
      await sim.tick();
    }
    rt.counting = false;
    assert.ok(rt.collections >= 1, `${rt.collections} collections in 60 ticks`);
    assert.ok(rt.frees > 0, "the collection freed the ticks' garbage");
  });
});

describe("allocations on the warm path of a frequency-capped campaign", () => {
  let capped: SimBidder;
  const crt = new AllocationCounter();

  before(async () => {
    const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    set.campaigns[0].frequency_cap = { impressions: 3, seconds: 86_400 };
    capped = await startSimBidder({
      vms: 1,
      wasmPath: join(PACKAGE_ROOT, "build/nexus_filter.rtrace.wasm"),
      plugin: { decision_budget_ms: 1000 },
      budget: { minSliceMicros: 900_000_000 },
      campaigns: set,
      instrumentation: crt.imports(),
    });
    await capped.untilReady();
  });
  after(async () => {
    await capped?.close();
  });

  it("bids that read the counts, wins that count, and capped no-bids allocate nothing once warm", async () => {
    let users = 0;
    // A new user: three bids won (each win counted), then the cap answers 204 frequency.
    const run = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const body = JSON.stringify({ ...JSON.parse(README_REQUEST), user: { id: `user-${users++}` } });
        for (let k = 0; k < 3; k++) {
          const b = await capped.bid(body);
          assert.equal(status(b), 200);
          const nurl = new URL(JSON.parse(dec.decode(b.kind === "local" ? b.body : new Uint8Array())).seatbid[0].bid[0].nurl.replace("${AUCTION_PRICE}", "0.5"));
          assert.equal(status(await capped.get(nurl.pathname + nurl.search)), 200);
        }
        const full = await capped.bid(body);
        assert.equal(status(full), 204);
        assert.equal(full.kind === "local" ? full.headers.find(([h]) => h === "x-nexus-nobid-reason")?.[1] : "", "frequency");
      }
    };
    await run(30);
    crt.counting = true;
    await run(100);
    crt.counting = false;
    assert.equal(crt.allocations, 0, `${crt.allocations} allocations in 700 warm requests and notices`);
    assert.equal(crt.frees, 0);
    assert.equal(Number(capped.pool.metrics.find("nexus_frequency_counted_total")?.value ?? 0n), 390, "every win was counted");
  });
});

describe("allocations on the warm path of a video, audio and native campaign", () => {
  let video: SimBidder;
  const vrt = new AllocationCounter();

  before(async () => {
    const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    set.campaigns[0].creatives.push({ crid: "v-15", type: "video", duration: 15, mimes: ["video/mp4"], adm: '<VAST version="4.0"><Ad/></VAST>' });
    set.campaigns[0].creatives.push({ crid: "a-30", type: "audio", duration: 30, mimes: ["audio/mpeg"], adm: '<DAAST version="1.0"><Ad/></DAAST>' });
    set.campaigns[0].creatives.push({
      crid: "n-1", type: "native", title: "A \"quoted\" title", link: "https://a.example/",
      images: [{ url: "https://a.example/m.jpg", w: 1200, h: 627 }], data: { sponsored: "Acme" }, imptrackers: ["https://t.example/i"],
    });
    video = await startSimBidder({
      vms: 1,
      wasmPath: join(PACKAGE_ROOT, "build/nexus_filter.rtrace.wasm"),
      plugin: { decision_budget_ms: 1000 },
      budget: { minSliceMicros: 900_000_000 },
      campaigns: set,
      instrumentation: vrt.imports(),
    });
    await video.untilReady();
  });
  after(async () => {
    await video?.close();
  });

  it("video, audio and native bids (a per-second floor included), players they do not fit, unreadable native documents and multi-format imps allocate nothing once warm", async () => {
    let ids = 0;
    const withImp = (imp: unknown) => JSON.stringify({ ...JSON.parse(README_REQUEST), id: `v-${ids++}`, imp: [imp] });
    const player = { mimes: ["video/mp4", "video/webm"], maxduration: 30, protocols: [3, 7], mincpmpersec: 0.01 };
    const nativeDoc = JSON.stringify({
      ver: "1.2",
      assets: [{ id: 1, required: 1, title: { len: 90 } }, { id: 2, img: { type: 3, wmin: 600, hmin: 300 } }, { id: 3, data: { type: 1 } }],
      eventtrackers: [{ event: 1, methods: [1] }],
    });
    const run = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const b = await video.bid(withImp({ id: "1", video: player, bidfloor: 0.1 }));
        assert.equal(status(b), 200);
        assert.equal(JSON.parse(dec.decode(b.kind === "local" ? b.body : new Uint8Array())).seatbid[0].bid[0].mtype, 2);
        assert.equal(status(await video.bid(withImp({ id: "1", video: { ...player, rqddurs: [6] } }))), 204);
        assert.equal(status(await video.bid(withImp({ id: "1", banner: { w: 1, h: 1 }, video: player }))), 200);
        const a = await video.bid(withImp({ id: "1", audio: { mimes: ["audio/mpeg"], maxduration: 30, mincpmpersec: 0.001, podid: "p" } }));
        assert.equal(JSON.parse(dec.decode(a.kind === "local" ? a.body : new Uint8Array())).seatbid[0].bid[0].mtype, 3);
        const nb = await video.bid(withImp({ id: "1", native: { request: nativeDoc }, bidfloor: 0.1 }));
        assert.equal(JSON.parse(dec.decode(nb.kind === "local" ? nb.body : new Uint8Array())).seatbid[0].bid[0].mtype, 4);
        assert.equal(status(await video.bid(withImp({ id: "1", native: { request: JSON.parse(nativeDoc) } }))), 200);
        assert.equal(status(await video.bid(withImp({ id: "1", native: { request: '{"assets":[{"id":1}]}' } }))), 204);
      }
    };
    await run(30);
    vrt.counting = true;
    await run(100);
    vrt.counting = false;
    assert.equal(vrt.allocations, 0, `${vrt.allocations} allocations in 700 warm requests`);
  });
});
