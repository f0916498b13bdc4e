// Property tests of native requests through the compiled filter, with a native campaign loaded
// (only then is a native request document read): the document is the exchange's own format inside
// a valid bid request, so whatever it holds the answer is a 200 or a 204, never a 400 or a trap.
//   - random documents built from the Native 1.0–1.2 vocabulary (assets of every kind, repeated
//     ids, limits, versions, the "native" root, string or object form): a 200 answers only assets
//     the request has, each once, every required one, in the request's form (root and version);
//   - random byte edits of the OpenRTB 2.5 spec's in-feed document: 200 or 204, and a 200's
//     markup is JSON.
// Every bid is then lost: the ledger's reserved is back to its start. NEXUS_FUZZ_SEED replays a run.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { FIXTURES, README_REQUEST, startTestBidder } from "../helpers/bidder.ts";
import type { Standalone } from "../../host/src/standalone.ts";
import { lossAll, poolBid, reserved } from "./helpers.ts";

const seed = process.env.NEXUS_FUZZ_SEED ? Number(process.env.NEXUS_FUZZ_SEED) : Date.now() % 2_147_483_647;
const scale = Number(process.env.NEXUS_FUZZ_SCALE ?? "1");

const CREATIVE = {
  crid: "n-fuzz",
  type: "native",
  title: "Fuzzed \"native\" ad \\ with escapes",
  images: [
    { type: "main", url: "https://cdn.nexus.example/n/main.jpg", w: 1200, h: 627 },
    { type: "icon", url: "https://cdn.nexus.example/n/icon.png", w: 80, h: 80 },
  ],
  data: { sponsored: "Nexus", desc: "Twenty-nine chars of text ok.", ctatext: "Go" },
  link: "https://nexus-demo.example/n",
  imptrackers: ["https://t.nexus.example/i"],
  adomain: ["nexus-demo.example"],
};

let app: Standalone;
let startReserved = 0n;
let startRestarts = 0;
let ids = 0;

before(async () => {
  const campaigns = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  campaigns.campaigns.push({ id: "test-native", value_per_conversion_micros: 20_000_000, max_bid_cpm_micros: 40_000_000, creatives: [CREATIVE] });
  app = await startTestBidder({ vms: 2, campaigns, model: { pCtr: 0.5, pCvr: 0.5 }, plugin: { replay_ttl_ms: 60_000 } });
  startReserved = reserved(app);
  startRestarts = app.pool.vmRestarts;
  console.log(`# fast-check seed ${seed} (NEXUS_FUZZ_SEED=${seed} to replay)`);
});
after(async () => {
  await app?.close();
});

/** A bid request whose only impression is native with this request document (as a string or as an object). */
function bidRequest(document: unknown): string {
  return JSON.stringify({ ...JSON.parse(README_REQUEST), id: `nf-${process.pid}-${ids++}`, imp: [{ id: "1", native: { request: document } }] });
}

const small = fc.integer({ min: 0, max: 1300 });
const kind = fc.oneof(
  { weight: 3, arbitrary: fc.record({ title: fc.record({ len: fc.integer({ min: 0, max: 60 }) }, { requiredKeys: [] }) }) },
  { weight: 3, arbitrary: fc.record({ img: fc.record({ type: fc.integer({ min: 0, max: 4 }), w: small, h: small, wmin: small, hmin: small, mimes: fc.subarray(["image/jpeg", "image/png", "IMAGE/GIF"]) }, { requiredKeys: [] }) }) },
  { weight: 3, arbitrary: fc.record({ data: fc.record({ type: fc.integer({ min: 0, max: 14 }), len: fc.integer({ min: 0, max: 40 }) }, { requiredKeys: [] }) }) },
  { weight: 1, arbitrary: fc.constant({ video: { mimes: ["video/mp4"] } }) },
  // Not an asset a reader can take: no kind, or two.
  { weight: 1, arbitrary: fc.constantFrom({}, { title: { len: 9 }, data: { type: 1 } }) },
);
// Ids by position, now and then one repeated or left out; required now and then.
const asset = fc.record({ kind, required: fc.constantFrom(0, 0, 0, 1), id: fc.constantFrom("own", "own", "own", "own", "own", "own", "repeat", "none") });
const assets = fc.array(asset, { maxLength: 18 }).map((list) =>
  list.map((a, i) => ({
    ...(a.id === "none" ? {} : { id: a.id === "repeat" && i > 0 ? i - 1 : i }),
    required: a.required,
    ...a.kind,
  })),
);
const documentCase = fc.record({
  ver: fc.option(fc.constantFrom("1.0", "1.1", "1.2", "x".repeat(20)), { nil: undefined }),
  assets: fc.option(assets, { nil: undefined, freq: 10 }),
  eventtrackers: fc.option(fc.array(fc.record({ event: fc.integer({ min: 1, max: 3 }), methods: fc.subarray([1, 2]) }), { maxLength: 2 }), { nil: undefined }),
  privacy: fc.option(fc.constantFrom(0, 1), { nil: undefined }),
  wrapped: fc.boolean(),
  asObject: fc.boolean(),
});

type Asset = { id?: number; required?: number; title?: object; img?: object; data?: object; video?: object };
const kindsOf = (a: Asset) => ["title", "img", "data", "video"].filter((k) => k in a);

describe("native requests through the compiled filter, with a native campaign", () => {
  it(`random native documents: 200 or 204, and a 200 answers the request's assets in its form (${Math.round(1500 * scale)} cases)`, async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(documentCase, async (c) => {
        const inner: Record<string, unknown> = {};
        if (c.ver !== undefined) inner.ver = c.ver;
        if (c.assets !== undefined) inner.assets = c.assets;
        if (c.eventtrackers !== undefined) inner.eventtrackers = c.eventtrackers;
        if (c.privacy !== undefined) inner.privacy = c.privacy;
        const doc = c.wrapped ? { native: inner } : inner;
        const r = await poolBid(app, bidRequest(c.asObject ? doc : JSON.stringify(doc)));
        const key = r.status === 204 ? `204/${r.headers["x-nexus-nobid-reason"]}` : String(r.status);
        seen.set(key, (seen.get(key) ?? 0) + 1);
        assert.ok(r.status === 200 || r.status === 204, `${r.status} ${r.text}`);
        if (r.status !== 200) return;
        const bid = JSON.parse(r.text).seatbid[0].bid[0];
        await lossAll(app, r.text);
        assert.equal(bid.mtype, 4);
        const markup = JSON.parse(bid.adm);
        const body = c.wrapped ? markup.native : markup;
        assert.ok(body, `the answer's root follows the request's: ${bid.adm}`);
        assert.equal(body.ver, c.ver !== undefined && c.ver.length <= 16 ? c.ver : c.wrapped ? "1.1" : "1.2");
        const asked = (c.assets ?? []) as Asset[];
        const answered: number[] = body.assets.map((a: { id: number }) => a.id);
        assert.equal(new Set(answered).size, answered.length, "each asset once");
        assert.ok(answered.length > 0);
        for (const id of answered) assert.ok(asked.some((a) => a.id === id), `asset ${id} was asked for`);
        for (const a of asked) if (a.required === 1) assert.ok(answered.includes(a.id!), `required asset ${a.id} answered: ${bid.adm}`);
        // Only a readable document gets a bid: ids unique, one kind each, at most 16 assets.
        assert.ok(asked.length <= 16 && asked.every((a) => kindsOf(a).length === 1 && a.id !== undefined));
        assert.equal(new Set(asked.map((a) => a.id)).size, asked.length);
      }),
      { numRuns: Math.round(1500 * scale), seed, endOnFailure: true, includeErrorInReport: true },
    );
    console.log(`# native documents: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
    assert.ok((seen.get("200") ?? 0) > 0 && (seen.get("204/no_match") ?? 0) > 0, "both bids and misfits were generated");
  });

  it(`random edits of the spec's in-feed document: 200 or 204, never a trap (${Math.round(2000 * scale)} cases)`, async () => {
    const spec = JSON.parse(readFileSync(join(FIXTURES, "openrtb/valid/spec25-native-in-feed.json"), "utf8")).imp[0].native.request as string;
    const edit = fc.record({ at: fc.nat({ max: spec.length }), cut: fc.nat({ max: 4 }), insert: fc.string({ maxLength: 4, unit: fc.constantFrom("{", "}", "[", "]", '"', ",", ":", "\\", "1", "-", "e", "a", "\u00e9", " ") }) });
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 3 }), async (edits) => {
        let doc = spec;
        for (const e of edits) doc = doc.slice(0, e.at) + e.insert + doc.slice(e.at + e.cut);
        const r = await poolBid(app, bidRequest(doc));
        seen.set(String(r.status), (seen.get(String(r.status)) ?? 0) + 1);
        assert.ok(r.status === 200 || r.status === 204, `${r.status} ${r.text} for ${doc}`);
        if (r.status === 200) {
          JSON.parse(JSON.parse(r.text).seatbid[0].bid[0].adm);
          await lossAll(app, r.text);
        }
      }),
      { numRuns: Math.round(2000 * scale), seed, endOnFailure: true, includeErrorInReport: true },
    );
    console.log(`# edited documents: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
    assert.equal(app.pool.vmRestarts, startRestarts, "no VM trapped");
    assert.equal(reserved(app), startReserved, "every bid was lost: nothing stays reserved");
  });
});
