// Rules of the offline tools that a mutation audit (stop 34) found no test for: each test here
// failed on a one-line change of the code that the rest of the suite let through (the id in
// brackets names the change in the audit's table). Kept as regular tests of those rules.
// Covers: the iPinYou parsers (host/src/data/ipinyou*.ts)
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  detectLayout, Featindex, libfmRowToRawLog, parseIpinyouTimestamp, parseLibfmLine, parseRawLogLine, parseReplayLine, readLibfm,
} from "../../host/src/data/ipinyou.ts";
import { LineStats } from "../../host/src/data/lines.ts";
import { fixture } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "mut-parsers-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const rawLine = (): string[] => readFileSync(fixture("raw-log.sample.txt"), "utf8").split("\n")[1]!.split("\t");
const reason = (r: { ok: boolean; reason?: string }): string => (r.ok ? "ok" : r.reason!);

describe("pinned rules: replay rows", () => {
  it("a pCTR of exactly 1 is in [0, 1] [I02]", () => {
    const r = parseReplayLine("1\t10\t1");
    assert.ok(r.ok && r.value.pctr === 1);
  });
  it("more than 4 columns is column-count [I04]", () => {
    assert.equal(reason(parseReplayLine("0\t10\t0.1\t0\textra")), "column-count");
  });
});

describe("pinned rules: raw logs", () => {
  it("weekday 7 is bad-weekday [I05]", () => {
    const c = rawLine();
    c[1] = "7";
    assert.equal(reason(parseRawLogLine(c.join("\t"))), "bad-weekday");
  });
  it("an hour column that disagrees with the timestamp is time-mismatch [I06]", () => {
    const c = rawLine();
    assert.equal(reason(parseRawLogLine(c.join("\t"))), "ok");
    c[2] = String((Number(c[2]) + 1) % 24);
    assert.equal(reason(parseRawLogLine(c.join("\t"))), "time-mismatch");
  });
  it("minute or second 60 is not a real calendar time [I08]", () => {
    assert.notEqual(parseIpinyouTimestamp("20130606120000000"), undefined);
    assert.equal(parseIpinyouTimestamp("20130606120060000"), undefined);
    assert.equal(parseIpinyouTimestamp("20130606126000000"), undefined);
  });
});

describe("pinned rules: libFM", () => {
  it("deep-ctr numbers each field's entries in idx order, whatever the file order [L01]", () => {
    const fi = Featindex.fromLines(["1:0\t5", "1:1\t2", "2:0\t9"]);
    const l = fi.layout("deep-ctr");
    assert.deepEqual([0, 1, 2].map((i) => `${l.get(i)!.field}:${l.get(i)!.value}`), ["1:1", "1:0", "2:0"]);
  });
  it("a tie between the layouts goes to direct [L02]", () => {
    const fi = Featindex.fromLines(["1:0\t0", "2:0\t1"]);
    assert.equal(detectLayout(fi, [{ click: 0, indices: [0, 1] }]), "direct");
  });
  it("more than 5% of the sample inconsistent under every layout is FEATINDEX_LAYOUT_UNKNOWN [L03]", () => {
    const fi = Featindex.fromLines(["1:0\t0", "2:0\t1"]);
    const sample = [...Array.from({ length: 18 }, () => ({ click: 0 as const, indices: [0, 1] })), { click: 0 as const, indices: [7] }, { click: 0 as const, indices: [8] }];
    assert.throws(() => detectLayout(fi, sample), (e: Error & { code?: string }) => e.code === "FEATINDEX_LAYOUT_UNKNOWN");
  });
  it("label -1 is a non-click [L05]", () => {
    const r = parseLibfmLine("-1 1:1");
    assert.ok(r.ok && r.value.click === 0);
  });
  it("an hour value of 25 is missing-time [L07]", () => {
    const fi = Featindex.fromLines(["1:3\t0", "2:25\t1"]);
    assert.equal(reason(libfmRowToRawLog({ click: 0, indices: [0, 1] }, fi.layout("direct"), "x")), "missing-time");
  });
  it("the layout is detected on the first 2000 rows, not fewer [L08]", async () => {
    // direct: 0→2:5, 1→1:3, 2→1:4; deep-ctr: 0→1:3, 1→1:4, 2→2:5. Rows [0,2] fit both; rows [1,2] only deep-ctr.
    const fi = Featindex.fromLines(["2:5\t0", "1:3\t1", "1:4\t2"]);
    const path = join(tmp, "late.fm.txt");
    writeFileSync(path, [...Array(25).fill("0 0:1 2:1"), ...Array(5).fill("1 1:1 2:1")].join("\n") + "\n");
    const stats = new LineStats();
    let layout = "";
    let n = 0;
    for await (const _ of readLibfm(path, fi, { stats, onLayout: (l) => (layout = l) })) n++;
    assert.equal(layout, "deep-ctr");
    assert.equal(n, 30, JSON.stringify(stats.toJSON()));
  });
});
