// iPinYou libFM rows ("click idx:1 idx:1 ...") and their featindex
// ("field:value<TAB>idx", field = raw-log column number, 1 weekday … 26 usertag).
//
// Two index layouts exist:
//   direct   — the libFM index is the featindex idx (make-ipinyou-data).
//   deep-ctr — the layout of wnzhang/deep-ctr's train/test.fm.txt (the
//              ipinyou-2997-ctr set): the same entries renumbered field by
//              field, in the order of DEEP_CTR_FIELDS, each field's entries in
//              the order of their featindex idx (that repository's
//              featindex.fm.txt; its featindex.txt is the one shipped here).
// Read with the direct layout, every 2997 row would hold 13 IP addresses and
// no domain; with deep-ctr each row has exactly one value of each of 16
// fields. `detectLayout` picks the layout the rows are consistent with.
//
// A libFM row becomes a partial raw-log record (the fields it has) so that it
// goes through the one log → OpenRTB mapping (openrtb-from-log.ts).
import { DataError } from "./errors.ts";
import { formatIpinyouTimestamp, IPINYOU_UTC_OFFSET_MINUTES, RAW_LOG_COLUMNS, type RawLogRecord } from "./ipinyou-raw.ts";
import { LineStats, parseUint, readLines, type LineResult, type NumberedLine } from "./lines.ts";

export interface FeatindexEntry {
  /** Raw-log column number (1 weekday, 2 hour, 7 useragent, … 26 usertag). */
  field: number;
  /** Raw value as logged ("windows_chrome", "216", "1-10" for a slotprice bucket, "other" for rare values). */
  value: string;
  /** The featindex idx. */
  idx: number;
}

export type LibfmLayoutName = "direct" | "deep-ctr";

/** Field order of the deep-ctr layout: weekday, hour, useragent, IP, region, city, adexchange, domain, slotid, slotwidth, slotheight, slotvisibility, slotformat, creative, advertiser, slotprice. */
export const DEEP_CTR_FIELDS: readonly number[] = [1, 2, 7, 8, 9, 10, 11, 12, 15, 16, 17, 18, 19, 21, 25, 20];

/** Fields a row may hold several values of (user segments). */
const MULTI_VALUED_FIELDS = new Set([26]);

/** Representative CPM fen inside each iPinYou slotprice bucket. */
export const SLOTPRICE_BUCKET_PRICE: Readonly<Record<string, number>> = {
  "0": 0,
  "1-10": 5,
  "11-50": 30,
  "51-100": 75,
  "101+": 150,
};

/** Sunday 2013-10-20 00:00 China time: the week synthetic libFM timestamps fall in. */
export const SYNTHETIC_WEEK_START_MS = Date.UTC(2013, 9, 20) - IPINYOU_UTC_OFFSET_MINUTES * 60_000;

export type FeatindexLineResult = LineResult<FeatindexEntry> & { salvaged?: string };

/**
 * Parses one featindex line. Skip reasons: blank-line, column-count (not one
 * tab), no-field (no "field:" prefix, e.g. "truncate\t0"), bad-index (the idx
 * is not a number). A line whose idx has trailing garbage after its digits
 * (`20:1-10\t42悠易互通.`) keeps the leading number and is reported as salvaged
 * "trailing-garbage": dropping it would shift the deep-ctr layout.
 */
export function parseFeatindexLine(text: string): FeatindexLineResult {
  if (text.trim().length === 0) return { ok: false, reason: "blank-line" };
  const parts = text.split("\t");
  if (parts.length !== 2) return { ok: false, reason: "column-count" };
  const [key, idxText] = parts as [string, string];
  const m = /^(\d+):(.*)$/s.exec(key);
  if (!m) return { ok: false, reason: "no-field" };
  const field = Number(m[1]);
  const value = m[2]!;
  const exact = parseUint(idxText);
  if (exact !== undefined) return { ok: true, value: { field, value, idx: exact } };
  const lead = /^(\d+)(\D.*)$/s.exec(idxText);
  if (lead) return { ok: true, value: { field, value, idx: Number(lead[1]) }, salvaged: "trailing-garbage" };
  return { ok: false, reason: "bad-index" };
}

/** A featindex file: entries in file order plus the index layouts built from it. */
export class Featindex {
  readonly entries: FeatindexEntry[] = [];
  readonly stats: LineStats;
  private readonly layouts = new Map<LibfmLayoutName, Map<number, FeatindexEntry>>();

  private constructor(stats: LineStats) {
    this.stats = stats;
  }

  static async read(path: string): Promise<Featindex> {
    const fi = new Featindex(new LineStats());
    for await (const line of readLines(path)) fi.addLine(line);
    if (fi.entries.length === 0) throw new DataError("DATA_EMPTY", `${path}: no featindex entries`);
    return fi;
  }

  static fromLines(lines: readonly string[]): Featindex {
    const fi = new Featindex(new LineStats());
    lines.forEach((text, i) => fi.addLine({ lineNo: i + 1, text }));
    return fi;
  }

  private readonly seenIdx = new Set<number>();
  private readonly seenKey = new Set<string>();

  private addLine(line: NumberedLine): void {
    this.stats.lines++;
    const r = parseFeatindexLine(line.text);
    if (!r.ok) {
      this.stats.skip(r.reason, line);
      return;
    }
    const e = r.value;
    const key = `${e.field}:${e.value}`;
    if (this.seenIdx.has(e.idx)) {
      this.stats.skip("duplicate-index", line);
      return;
    }
    if (this.seenKey.has(key)) {
      this.stats.skip("duplicate-key", line);
      return;
    }
    if (r.salvaged) this.stats.salvage(r.salvaged, line);
    this.seenIdx.add(e.idx);
    this.seenKey.add(key);
    this.entries.push(e);
    this.stats.used++;
  }

  /** libFM index → entry under a layout. */
  layout(name: LibfmLayoutName): Map<number, FeatindexEntry> {
    let m = this.layouts.get(name);
    if (m) return m;
    m = new Map();
    if (name === "direct") {
      for (const e of this.entries) m.set(e.idx, e);
    } else {
      let next = 0;
      for (const field of DEEP_CTR_FIELDS) {
        const own = this.entries.filter((e) => e.field === field).sort((a, b) => a.idx - b.idx);
        for (const e of own) m.set(next++, e);
      }
    }
    this.layouts.set(name, m);
    return m;
  }
}

export interface LibfmRow {
  click: 0 | 1;
  /** Active feature indices (value 1), in line order. */
  indices: number[];
}

/**
 * Parses one libFM line ("click idx:val ..."). Features with value 0 are
 * inactive and left out. Skip reasons: blank-line, bad-label, bad-feature
 * (a token that is not idx:value), non-binary-value (a value other than 0/1).
 */
export function parseLibfmLine(text: string): LineResult<LibfmRow> {
  const tokens = text.trim().split(/[ \t]+/);
  if (tokens.length === 0 || tokens[0] === "") return { ok: false, reason: "blank-line" };
  const label = tokens[0];
  let click: 0 | 1;
  if (label === "1" || label === "+1" || label === "1.0") click = 1;
  else if (label === "0" || label === "-1" || label === "0.0") click = 0;
  else return { ok: false, reason: "bad-label" };
  const indices: number[] = [];
  for (let i = 1; i < tokens.length; i++) {
    const m = /^(\d+):(.+)$/.exec(tokens[i]!);
    if (!m) return { ok: false, reason: "bad-feature" };
    const v = Number(m[2]);
    if (v === 0) continue;
    if (v !== 1) return { ok: false, reason: "non-binary-value" };
    indices.push(Number(m[1]));
  }
  return { ok: true, value: { click, indices } };
}

/** The fields of a raw-log record a libFM row can give (plus the synthetic id and time). */
export type PartialRawLog = Partial<RawLogRecord> & { bidid: string; timestamp: string };

/**
 * The partial raw-log record of a libFM row under `layout`: each feature's
 * "field:value" goes to its raw-log column; "other" (make-ipinyou-data's
 * bucket of rare values) and "null" leave the column out; weekday and hour
 * become a synthetic timestamp (that weekday and hour, minute 0, of the week of
 * SYNTHETIC_WEEK_START_MS); a slotprice bucket becomes SLOTPRICE_BUCKET_PRICE.
 * Skip reasons: unknown-index, duplicate-field (two values of a single-valued
 * field), missing-time (no weekday or hour), bad-value (a number field that is
 * not a number or an unknown slotprice bucket).
 */
export function libfmRowToRawLog(row: LibfmRow, layout: Map<number, FeatindexEntry>, id: string): LineResult<PartialRawLog> {
  const values = new Map<number, string[]>();
  for (const idx of row.indices) {
    const e = layout.get(idx);
    if (!e) return { ok: false, reason: "unknown-index" };
    const list = values.get(e.field);
    if (list && !MULTI_VALUED_FIELDS.has(e.field)) return { ok: false, reason: "duplicate-field" };
    if (list) list.push(e.value);
    else values.set(e.field, [e.value]);
  }
  const one = (field: number): string | undefined => {
    const v = values.get(field)?.[0];
    return v === undefined || v === "other" || v === "null" ? undefined : v;
  };
  const weekday = parseUint(one(1) ?? "");
  const hour = parseUint(one(2) ?? "");
  if (weekday === undefined || hour === undefined || weekday > 6 || hour > 23) return { ok: false, reason: "missing-time" };
  const rec: Record<string, string | number> = {
    click: row.click,
    weekday,
    hour,
    bidid: id,
    timestamp: formatIpinyouTimestamp(SYNTHETIC_WEEK_START_MS + weekday * 86_400_000 + hour * 3_600_000),
  };
  for (const [field, list] of values) {
    if (field <= 2) continue;
    const column = RAW_LOG_COLUMNS[field];
    if (column === undefined) return { ok: false, reason: "unknown-index" };
    const kept = list.filter((v) => v !== "other" && v !== "null");
    if (kept.length === 0) continue;
    if (column === "usertag") {
      rec.usertag = kept.join(",");
    } else if (column === "slotprice") {
      const price = SLOTPRICE_BUCKET_PRICE[kept[0]!];
      if (price === undefined) return { ok: false, reason: "bad-value" };
      rec.slotprice = price;
    } else if (column === "slotwidth" || column === "slotheight" || column === "bidprice" || column === "payprice") {
      const n = parseUint(kept[0]!);
      if (n === undefined) return { ok: false, reason: "bad-value" };
      rec[column] = n;
    } else {
      rec[column] = kept[0]!;
    }
  }
  return { ok: true, value: rec as unknown as PartialRawLog };
}

/** Largest share of sample rows that may be inconsistent under the chosen layout (malformed rows exist). */
export const LAYOUT_TOLERANCE = 0.05;

/**
 * The layout under which the sample rows are consistent (every index known,
 * at most one value per single-valued field): the one with the fewest
 * inconsistent rows, direct first on a tie. Throws DataError
 * FEATINDEX_LAYOUT_UNKNOWN when even that one has more than LAYOUT_TOLERANCE
 * of the rows inconsistent.
 */
export function detectLayout(fi: Featindex, sample: readonly LibfmRow[]): LibfmLayoutName {
  const tried: Array<{ name: LibfmLayoutName; bad: number }> = [];
  for (const name of ["direct", "deep-ctr"] as const) {
    const layout = fi.layout(name);
    let bad = 0;
    for (const row of sample) {
      const r = libfmRowToRawLog(row, layout, "probe");
      if (!r.ok && (r.reason === "unknown-index" || r.reason === "duplicate-field")) bad++;
    }
    tried.push({ name, bad });
  }
  const best = tried.reduce((a, b) => (b.bad < a.bad ? b : a));
  if (best.bad > LAYOUT_TOLERANCE * sample.length) {
    throw new DataError(
      "FEATINDEX_LAYOUT_UNKNOWN",
      `the libFM indices fit no known featindex layout (${tried.map((t) => `${t.name}: ${t.bad}/${sample.length} rows inconsistent`).join("; ")})`,
    );
  }
  return best.name;
}

/**
 * Partial raw-log records of a libFM file with its featindex, streamed. The
 * layout is detected on the first `sampleRows` rows unless given. Row ids are
 * `<idPrefix><line number>`.
 */
export async function* readLibfm(
  path: string,
  fi: Featindex,
  options: { layout?: LibfmLayoutName; sampleRows?: number; idPrefix?: string; stats?: LineStats; onLayout?: (l: LibfmLayoutName) => void } = {},
): AsyncGenerator<PartialRawLog & { lineNo: number }> {
  const stats = options.stats ?? new LineStats();
  let layoutName = options.layout;
  if (layoutName === undefined) {
    const sample: LibfmRow[] = [];
    const max = options.sampleRows ?? 2000;
    for await (const line of readLines(path)) {
      const r = parseLibfmLine(line.text);
      if (r.ok) sample.push(r.value);
      if (sample.length >= max) break;
    }
    if (sample.length === 0) throw new DataError("DATA_EMPTY", `${path}: no libFM rows`);
    layoutName = detectLayout(fi, sample);
  }
  options.onLayout?.(layoutName);
  const layout = fi.layout(layoutName);
  const prefix = options.idPrefix ?? "fm-";
  for await (const line of readLines(path)) {
    stats.lines++;
    const r = parseLibfmLine(line.text);
    if (!r.ok) {
      stats.skip(r.reason, line);
      continue;
    }
    const rec = libfmRowToRawLog(r.value, layout, `${prefix}${line.lineNo}`);
    if (!rec.ok) {
      stats.skip(rec.reason, line);
      continue;
    }
    stats.used++;
    yield { ...rec.value, lineNo: line.lineNo };
  }
}
