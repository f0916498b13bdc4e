// The iPinYou parsers: raw logs, featindex + libFM (both index layouts),
// replay rows, and the bidder event log. Malformed lines are skipped and
// counted by reason, never turned into records.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseEventLine, readEvents } from "../../host/src/data/events.ts";
import {
  DEEP_CTR_FIELDS, detectLayout, Featindex, formatIpinyouTimestamp, libfmRowToRawLog, parseFeatindexLine, parseIpinyouTimestamp,
  parseLibfmLine, parseRawLogLine, parseReplayLine, readLibfm, readRawLog, readReplay, SLOTPRICE_BUCKET_PRICE, type LibfmRow,
} from "../../host/src/data/ipinyou.ts";
import { LineStats, readLines } from "../../host/src/data/lines.ts";
import { fixture, sharedData } from "./helpers.ts";

async function collect<T>(gen: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

describe("raw logs", () => {
  it("reads the real rows and counts every malformed line by reason", async () => {
    const stats = new LineStats();
    const recs = await collect(readRawLog(fixture("raw-log.sample.txt"), stats));
    assert.equal(recs.length, 5);
    assert.equal(stats.lines, 12);
    assert.equal(stats.used, 5);
    assert.deepEqual(stats.skipped, {
      header: 1, "column-count": 1, "bad-click": 1, "bad-timestamp": 1, "time-mismatch": 1, "bad-number": 1, "blank-line": 1,
    });
    const r = recs[0]!;
    assert.equal(r.click, 0);
    assert.equal(r.weekday, 2);
    assert.equal(r.hour, 13);
    assert.equal(r.useragent, "windows_chrome");
    assert.equal(r.ip, "113.76.1.*");
    assert.equal(r.slotwidth, 200);
    assert.equal(r.slotprice, 13);
    assert.equal(r.payprice, 205);
    assert.equal(r.usertag, "11423");
    assert.equal(recs[3]!.click, 1);
  });

  it("rejects what is not a raw log line", () => {
    assert.deepEqual(parseRawLogLine("   "), { ok: false, reason: "blank-line" });
    assert.deepEqual(parseRawLogLine("1\t2\t3"), { ok: false, reason: "column-count" });
  });

  it("timestamps are China time (UTC+8)", () => {
    const t = parseIpinyouTimestamp("20131022135101295")!;
    assert.equal(t, Date.UTC(2013, 9, 22, 5, 51, 1, 295));
    assert.equal(formatIpinyouTimestamp(t), "20131022135101295");
    for (const bad of ["2013102213510129", "20131322135101295", "20130230000000000", "2013102213510129x", "20131022245101295"]) {
      assert.equal(parseIpinyouTimestamp(bad), undefined, bad);
    }
  });
});

describe("reading lines", () => {
  it("a file that opens but cannot be read (a directory) is DATA_UNREADABLE with its path", async () => {
    const dir = fixture(".");
    await assert.rejects(
      async () => {
        for await (const _ of readLines(dir)) void _;
      },
      (e: Error & { code?: string }) => e.code === "DATA_UNREADABLE" && e.message.includes(dir) && /EISDIR/.test(e.message),
    );
  });
});

describe("featindex", () => {
  it("skips junk lines, salvages an idx with trailing garbage, refuses duplicates", async () => {
    const fi = await Featindex.read(fixture("featindex.sample.txt"));
    assert.deepEqual(fi.stats.skipped, { "no-field": 1, "column-count": 1, "bad-index": 1, "duplicate-key": 1, "duplicate-index": 1 });
    assert.deepEqual(fi.stats.salvaged, { "trailing-garbage": 1 });
    const salvaged = fi.entries.find((e) => e.field === 20 && e.value === "1-10");
    assert.deepEqual(salvaged, { field: 20, value: "1-10", idx: 36 });
    assert.equal(fi.entries.length, 27);
  });

  it("parses single lines", () => {
    assert.deepEqual(parseFeatindexLine("truncate\t0"), { ok: false, reason: "no-field" });
    assert.deepEqual(parseFeatindexLine("20:1-10\t42悠易互通."), { ok: true, value: { field: 20, value: "1-10", idx: 42 }, salvaged: "trailing-garbage" });
    assert.deepEqual(parseFeatindexLine("8:60.22.69.*\t29"), { ok: true, value: { field: 8, value: "60.22.69.*", idx: 29 } });
    assert.deepEqual(parseFeatindexLine("12:x\t"), { ok: false, reason: "bad-index" });
  });

  it("builds the deep-ctr layout field by field, entries in idx order", async () => {
    const fi = await Featindex.read(fixture("featindex.sample.txt"));
    const l = fi.layout("deep-ctr");
    const at = (i: number): string => `${l.get(i)!.field}:${l.get(i)!.value}`;
    assert.equal(at(0), "1:other");
    assert.equal(at(1), "1:3");
    assert.equal(at(4), "2:22");
    assert.equal(at(7), "7:android_safari");
    assert.equal(at(24), "20:1-10");
    assert.equal(at(25), "20:101+");
    assert.equal(l.size, 26); // usertag (26) has no place in this layout
    assert.deepEqual(DEEP_CTR_FIELDS, [1, 2, 7, 8, 9, 10, 11, 12, 15, 16, 17, 18, 19, 21, 25, 20]);
  });
});

describe("libFM rows", () => {
  it("parses labels and binary features", () => {
    assert.deepEqual(parseLibfmLine("1 3:1 5:1"), { ok: true, value: { click: 1, indices: [3, 5] } });
    assert.deepEqual(parseLibfmLine("0 3:1 5:0"), { ok: true, value: { click: 0, indices: [3] } });
    assert.deepEqual(parseLibfmLine("x 3:1"), { ok: false, reason: "bad-label" });
    assert.deepEqual(parseLibfmLine("0 3:1 bad"), { ok: false, reason: "bad-feature" });
    assert.deepEqual(parseLibfmLine("0 3:0.5"), { ok: false, reason: "non-binary-value" });
    assert.deepEqual(parseLibfmLine(""), { ok: false, reason: "blank-line" });
  });

  it("detects the deep-ctr layout and turns rows into partial raw-log records", async () => {
    const fi = await Featindex.read(fixture("featindex.sample.txt"));
    const stats = new LineStats();
    let layout = "";
    const recs = await collect(readLibfm(fixture("libfm-deepctr.sample.txt"), fi, { stats, onLayout: (l) => (layout = l) }));
    assert.equal(layout, "deep-ctr");
    assert.deepEqual(stats.skipped, {
      "bad-label": 1, "bad-feature": 1, "non-binary-value": 1, "unknown-index": 1, "duplicate-field": 1, "missing-time": 1, "blank-line": 1,
    });
    assert.equal(recs.length, 62);
    const r = recs[0]!;
    assert.equal(r.click, 1);
    assert.equal(r.bidid, "fm-1");
    assert.equal(r.weekday, 3);
    assert.equal(r.hour, 9);
    assert.equal(r.timestamp, "20131023090000000"); // Wednesday of the synthetic week, 09:00 China time
    assert.equal(r.useragent, "windows_chrome");
    assert.equal(r.ip, "1.2.3.*");
    assert.equal(r.domain, "dom-a");
    assert.equal(r.slotid, "slot-a");
    assert.equal(r.slotwidth, 300);
    assert.equal(r.slotheight, 250);
    assert.equal(r.slotvisibility, "FirstView");
    assert.equal(r.slotprice, SLOTPRICE_BUCKET_PRICE["1-10"]);
    // the row with an inactive (value 0) feature: weekday, hour and domain
    const last = recs[recs.length - 1]!;
    assert.equal(last.domain, "dom-a");
    assert.equal(last.useragent, undefined);
  });

  it("detects the direct layout (make-ipinyou-data), with user tags", async () => {
    const fi = await Featindex.read(fixture("featindex.sample.txt"));
    let layout = "";
    const recs = await collect(readLibfm(fixture("libfm-direct.sample.txt"), fi, { onLayout: (l) => (layout = l) }));
    assert.equal(layout, "direct");
    assert.equal(recs.length, 3);
    assert.equal(recs[0]!.usertag, "10006");
    assert.equal(recs[0]!.slotprice, 5);
    assert.equal(recs[1]!.slotprice, 150);
    // "other" values leave the column out
    assert.equal(recs[2]!.ip, undefined);
    assert.equal(recs[2]!.domain, undefined);
    assert.equal(recs[2]!.useragent, undefined);
  });

  it("refuses rows whose indices fit no layout", async () => {
    const fi = Featindex.fromLines(["1:2\t1", "2:13\t2", "8:1.1.1.*\t3"]);
    const rows: LibfmRow[] = [{ click: 0, indices: [1, 2, 3, 77] }, { click: 0, indices: [1, 2, 88] }];
    assert.throws(() => detectLayout(fi, rows), (e: Error & { code?: string }) => e.code === "FEATINDEX_LAYOUT_UNKNOWN");
    assert.deepEqual(libfmRowToRawLog({ click: 0, indices: [1, 2, 3] }, fi.layout("direct"), "x").ok, true);
  });

  it("real data: the 2997 rows fit the deep-ctr layout, one value of each of 16 fields", { skip: !sharedData("ipinyou-2997-ctr/featindex.txt") }, async () => {
    const fi = await Featindex.read(sharedData("ipinyou-2997-ctr/featindex.txt")!);
    assert.deepEqual(fi.stats.skipped, { "no-field": 1 }); // "truncate\t0"
    assert.deepEqual(fi.stats.salvaged, { "trailing-garbage": 1 }); // "20:1-10\t42悠易互通."
    // Indices pinned from wnzhang/deep-ctr data/featindex.fm.txt (the layout of train/test.fm.txt).
    const l = fi.layout("deep-ctr");
    const pinned: Array<[number, string]> = [
      [1, "1:2"], [6, "2:18"], [31, "7:android_safari"], [45, "8:60.22.69.*"], [133077, "15:2"], [133445, "16:320"],
      [133449, "18:FirstView"], [133455, "21:11908"], [133459, "25:2997"], [133461, "20:1-10"], [133464, "20:51-100"],
    ];
    for (const [i, kv] of pinned) assert.equal(`${l.get(i)!.field}:${l.get(i)!.value}`, kv, `index ${i}`);
    const rows: LibfmRow[] = [];
    for await (const line of readLines(sharedData("ipinyou-2997-ctr/train.fm.txt")!)) {
      const r = parseLibfmLine(line.text);
      if (r.ok) rows.push(r.value);
      if (rows.length === 500) break;
    }
    assert.equal(detectLayout(fi, rows), "deep-ctr");
    for (const row of rows) {
      const fields = row.indices.map((i) => l.get(i)!.field).sort((a, b) => a - b);
      assert.deepEqual(fields, [...DEEP_CTR_FIELDS].sort((a, b) => a - b));
    }
  });
});

describe("replay rows", () => {
  it("reads click, market price and pCTR; counts malformed lines", async () => {
    const stats = new LineStats();
    const rows = await collect(readReplay(fixture("replay.sample.txt"), stats));
    assert.deepEqual(rows, [
      { click: 0, marketPrice: 80, pctr: 0.000062 },
      { click: 1, marketPrice: 50, pctr: 0.5 },
      { click: 0, marketPrice: 300, pctr: 1e-4 },
    ]);
    assert.deepEqual(stats.skipped, { "bad-click": 1, "bad-price": 1, "bad-pctr": 1, "column-count": 1, "blank-line": 1 });
    assert.deepEqual(parseReplayLine("0\t1\tNaN\t1"), { ok: false, reason: "bad-pctr" });
    // A market price above the bidder's own ceiling (1,000,000 CPM) is a broken row: one such row
    // would make every budget fraction of the set meaningless.
    assert.deepEqual(parseReplayLine("0\t1000000\t0.001\t0"), { ok: true, value: { click: 0, marketPrice: 1_000_000, pctr: 0.001 } });
    assert.deepEqual(parseReplayLine("0\t99999999999\t0.001\t0"), { ok: false, reason: "bad-price" });
  });
});

describe("bidder event log", () => {
  it("reads events and counts malformed lines", async () => {
    const stats = new LineStats();
    const evs = await collect(readEvents(fixture("events.sample.jsonl"), stats));
    assert.equal(evs.length, 3);
    assert.equal(evs[0]!.conversion, 0);
    assert.equal(evs[1]!.conversion, undefined);
    assert.equal(evs[1]!.utcOffsetMinutes, 60);
    assert.equal(evs[2]!.impIndex, 3);
    assert.deepEqual(stats.skipped, {
      "bad-json": 1, "unknown-key": 1, "no-request": 1, "bad-time": 1, "bad-click": 1, "bad-conversion": 1, "blank-line": 1,
    });
    assert.deepEqual(parseEventLine("[1]"), { ok: false, reason: "bad-json" });
    // Nested deeper than V8 can write it back: passed on as it is (the core refuses it: depth 32).
    const deepRequest = `{"id":"r","imp":[{"id":"1","banner":{}}],"ext":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
    const deep = parseEventLine(`{"time_ms":1700000000000,"click":0,"request":${deepRequest}}`);
    assert.ok(deep.ok && deep.value.json === deepRequest);
    // The filter's range of utc_offset_minutes.
    assert.equal(parseEventLine('{"time_ms":1,"click":0,"utc_offset_minutes":840,"request":{"id":"r"}}').ok, true);
    assert.deepEqual(parseEventLine('{"time_ms":1,"click":0,"utc_offset_minutes":841,"request":{"id":"r"}}'), { ok: false, reason: "bad-utc-offset" });
  });

  it("hands on the request's own bytes: a duplicate key or a number JSON cannot hold reaches the core as logged", () => {
    const request = '{"id":"r","site":{"domain":"a.com", "domain":"b.com"},"imp":[{"id":"1","bidfloor":1e400}]}';
    const r = parseEventLine(`{ "click" : 1 , "request" :${request} , "time_ms":1700000000000, "imp": 0}`);
    assert.ok(r.ok);
    assert.equal(r.value.json, request);
    // A repeated top-level key: the last, as JSON.parse reads the line.
    const last = parseEventLine(`{"time_ms":1,"click":0,"request":{"id":"first"},"request":{"id":"last","s":"}\\"]"}}`);
    assert.ok(last.ok);
    assert.equal(last.value.json, '{"id":"last","s":"}\\"]"}');
  });
});
