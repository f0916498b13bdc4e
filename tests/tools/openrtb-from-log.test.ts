// The one log → OpenRTB mapping: golden requests for real rows, the UA round
// trip through the compiled core, and "the trainer and the filter put the
// same request into the same buckets" — the documented feature strings of
// docs/FEATURES.md, hashed here with the core's murmur3, must be exactly the
// buckets the core's extractor produces.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { Featindex, readLibfm, readRawLog } from "../../host/src/data/ipinyou.ts";
import { bidRequestFromLog, deviceIpOf, segmentsOf, SLOT_VISIBILITY_POS } from "../../host/src/data/openrtb-from-log.ts";
import { allUaClasses, userAgentFor } from "../../host/src/data/user-agents.ts";
import { ParseError, type NexusCore } from "../../host/src/tools/core.ts";
import { enc, fixture, loadCore, sharedData } from "./helpers.ts";

let core: NexusCore;
before(async () => {
  core = await loadCore();
});

async function rawRecords(path: string) {
  const out = [];
  for await (const r of readRawLog(path)) out.push(r);
  return out;
}

describe("log → OpenRTB mapping", () => {
  it("matches the golden requests of real rows", async () => {
    const golden = JSON.parse(readFileSync(fixture("openrtb-golden.json"), "utf8")) as Array<Record<string, unknown>>;
    const recs = await rawRecords(fixture("raw-log.sample.txt"));
    assert.equal(recs.length, golden.length);
    recs.forEach((rec, i) => {
      const r = bidRequestFromLog(rec);
      assert.deepEqual(
        { line: rec.lineNo, timeMs: r.timeMs, utcOffsetMinutes: r.utcOffsetMinutes, marketPriceFen: r.marketPriceFen, click: r.click, request: r.request },
        golden[i],
      );
      assert.equal(r.json, JSON.stringify(r.request));
      // and the filter's parser accepts it
      assert.ok(!(core.requestFeatures(enc.encode(r.json), 0, r.timeMs, r.utcOffsetMinutes) instanceof ParseError));
    });
  });

  it("maps the small fields as documented", () => {
    assert.equal(deviceIpOf("113.76.1.*"), "113.76.1.1");
    assert.equal(deviceIpOf("10.0.0.7"), "10.0.0.7");
    assert.equal(deviceIpOf("300.1.1.*"), undefined);
    assert.equal(deviceIpOf("null"), undefined);
    assert.deepEqual(segmentsOf("10006,10063,,10006"), ["10006", "10063"]);
    assert.deepEqual(segmentsOf("null"), []);
    assert.deepEqual(SLOT_VISIBILITY_POS, { FirstView: 1, SecondView: 3, ThirdView: 3, FourthView: 3, FifthView: 3, OtherView: 3, "1": 1, "2": 3, "255": 3 });
    const r = bidRequestFromLog({ bidid: "x", timestamp: "20131020000000000", slotvisibility: "Na", slotprice: 0, adexchange: "null", usertag: "null" });
    assert.deepEqual(r.request, { id: "x", imp: [{ id: "1", banner: {} }], device: { geo: { country: "CHN" } }, at: 2 });
    assert.throws(() => bidRequestFromLog({ bidid: "x", timestamp: "2013" }), (e: Error & { code?: string }) => e.code === "DATA_BAD_RECORD");
  });
});

describe("user agents round-trip through the core's classifier", () => {
  it("every os_browser class (6 OS × 9 browsers)", () => {
    for (const cls of allUaClasses()) assert.equal(core.userAgentClass(userAgentFor(cls)!), cls, userAgentFor(cls));
    assert.equal(userAgentFor("beos_netpositive"), undefined);
  });

  it("every os_browser value present in the data", async () => {
    const values = new Set<string>();
    for (const r of await rawRecords(fixture("raw-log.sample.txt"))) values.add(r.useragent);
    const raw = sharedData("ipinyou-2259-logs/train.log.txt");
    if (raw) for (const r of await rawRecords(raw)) values.add(r.useragent);
    const fiPath = sharedData("ipinyou-2997-ctr/featindex.txt");
    if (fiPath) {
      const fi = await Featindex.read(fiPath);
      for (const e of fi.entries) if (e.field === 7 && e.value !== "other") values.add(e.value);
    }
    if (raw && fiPath) assert.ok(values.size >= 20, `only ${values.size} classes found`);
    for (const cls of values) {
      const ua = userAgentFor(cls);
      assert.ok(ua, `no UA for ${cls}`);
      assert.equal(core.userAgentClass(ua), cls, ua);
    }
  });
});

describe("the trainer and the filter put the same request into the same buckets", () => {
  /** The documented feature strings (docs/FEATURES.md) of a mapped record. */
  function documentedFeatures(rec: { weekday: number; hour: number; useragent: string; ip: string; region: string; city: string; adexchange: string; domain: string; url: string; slotid: string; slotwidth: number; slotheight: number; slotvisibility: string; slotprice: number; usertag: string }): string[] {
    const f = [`weekday=${rec.weekday}`, `hour=${rec.hour}`, `ua=${rec.useragent}`, `ip=${rec.ip}`, `region=${rec.region}`, `city=${rec.city}`, "country=CHN"];
    if (rec.adexchange !== "null") f.push(`pub=${rec.adexchange}`);
    if (rec.domain !== "null") f.push(`domain=${rec.domain}`);
    if (rec.url !== "null") f.push(`url=${rec.url}`);
    if (rec.slotid !== "null") f.push(`slot=${rec.slotid}`);
    f.push(`size=${rec.slotwidth}x${rec.slotheight}`);
    const pos = SLOT_VISIBILITY_POS[rec.slotvisibility];
    if (pos !== undefined) f.push(`pos=${pos}`);
    const p = rec.slotprice;
    f.push(`floor=${p === 0 ? "0" : p <= 10 ? "1-10" : p <= 50 ? "11-50" : p <= 100 ? "51-100" : "101+"}`);
    for (const t of segmentsOf(rec.usertag)) f.push(`tag=${t}`);
    return f;
  }

  it("for the real rows of the fixture", async () => {
    for (const rec of await rawRecords(fixture("raw-log.sample.txt"))) {
      const r = bidRequestFromLog(rec);
      const buckets = core.requestFeatures(enc.encode(r.json), 0, r.timeMs, r.utcOffsetMinutes);
      assert.ok(!(buckets instanceof ParseError));
      const expected = documentedFeatures(rec).map((s) => core.bucketOf(s));
      assert.deepEqual([...buckets], expected, `line ${rec.lineNo}: ${documentedFeatures(rec).join(" ")}`);
    }
  });

  it("pins the hash itself (murmur3_32 x86, seed 0, 2^18 buckets)", () => {
    assert.equal(core.hash("hello"), 0x248bfa47);
    assert.equal(core.hash(""), 0);
    assert.equal(core.hash("weekday=2") & 0x3ffff, core.bucketOf("weekday=2"));
    assert.equal(core.bucketOf("ua=windows_chrome"), core.hash(enc.encode("ua=windows_chrome")) & 0x3ffff);
  });

  it("for every row of the real raw log", { skip: !sharedData("ipinyou-2259-logs/train.log.txt") }, async () => {
    let n = 0;
    for (const rec of await rawRecords(sharedData("ipinyou-2259-logs/train.log.txt")!)) {
      const r = bidRequestFromLog(rec);
      const buckets = core.requestFeatures(enc.encode(r.json), 0, r.timeMs, r.utcOffsetMinutes);
      assert.ok(!(buckets instanceof ParseError));
      assert.deepEqual([...buckets], documentedFeatures(rec).map((s) => core.bucketOf(s)), `line ${rec.lineNo}`);
      n++;
    }
    assert.ok(n > 8000);
  });

  it("libFM rows: weekday and hour come from the synthetic timestamp", async () => {
    const fi = await Featindex.read(fixture("featindex.sample.txt"));
    for await (const rec of readLibfm(fixture("libfm-deepctr.sample.txt"), fi)) {
      const r = bidRequestFromLog(rec);
      const buckets = core.requestFeatures(enc.encode(r.json), 0, r.timeMs, r.utcOffsetMinutes) as Uint32Array;
      assert.equal(buckets[0], core.bucketOf(`weekday=${rec.weekday}`));
      assert.equal(buckets[1], core.bucketOf(`hour=${rec.hour}`));
      break;
    }
  });
});
