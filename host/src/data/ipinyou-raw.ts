// iPinYou raw logs: 27 tab-separated columns, the make-ipinyou-data schema,
// and the China-time timestamps they carry. Streaming; a malformed line is
// skipped and counted under a reason (LineStats), never turned into a record.
import { LineStats, parseUint, readLines, type LineResult } from "./lines.ts";

/** iPinYou timestamps and weekday/hour columns are China local time (UTC+8). */
export const IPINYOU_UTC_OFFSET_MINUTES = 480;

export const RAW_LOG_COLUMNS = [
  "click", "weekday", "hour", "bidid", "timestamp", "logtype", "ipinyouid", "useragent", "ip",
  "region", "city", "adexchange", "domain", "url", "urlid", "slotid", "slotwidth", "slotheight",
  "slotvisibility", "slotformat", "slotprice", "creative", "bidprice", "payprice", "keypage",
  "advertiser", "usertag",
] as const;

export type RawLogColumn = (typeof RAW_LOG_COLUMNS)[number];

/** One raw log row. Numbers are integers; prices are CPM in fen (1/100 CNY). */
export interface RawLogRecord {
  click: 0 | 1;
  /** 0 = Sunday … 6 = Saturday (China time). */
  weekday: number;
  hour: number;
  bidid: string;
  /** yyyyMMddHHmmssSSS, China time. */
  timestamp: string;
  logtype: string;
  ipinyouid: string;
  /** "os_browser", e.g. "windows_chrome". */
  useragent: string;
  /** "a.b.c.*" (last octet masked). */
  ip: string;
  region: string;
  city: string;
  adexchange: string;
  domain: string;
  url: string;
  urlid: string;
  slotid: string;
  slotwidth: number;
  slotheight: number;
  slotvisibility: string;
  slotformat: string;
  /** Floor, CPM fen. */
  slotprice: number;
  creative: string;
  bidprice: number;
  /** The price paid (second price), CPM fen: the market price. */
  payprice: number;
  keypage: string;
  advertiser: string;
  /** Comma-separated user segment ids, or "null". */
  usertag: string;
}

const NUMERIC_COLUMNS = new Set<RawLogColumn>(["slotwidth", "slotheight", "slotprice", "bidprice", "payprice"]);

/**
 * Epoch milliseconds of an iPinYou timestamp (yyyyMMddHHmmssSSS, China time,
 * UTC+8); undefined when it is not 17 digits of a real calendar time.
 */
export function parseIpinyouTimestamp(ts: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})$/.exec(ts);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined;
  const utc = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const check = new Date(utc);
  if (check.getUTCDate() !== d || check.getUTCMonth() !== mo - 1) return undefined; // 31 Feb and the like
  return utc - IPINYOU_UTC_OFFSET_MINUTES * 60_000;
}

/** yyyyMMddHHmmssSSS in China time of an epoch-ms instant (inverse of parseIpinyouTimestamp). */
export function formatIpinyouTimestamp(epochMs: number): string {
  const d = new Date(epochMs + IPINYOU_UTC_OFFSET_MINUTES * 60_000);
  const p = (v: number, n: number): string => String(v).padStart(n, "0");
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1, 2)}${p(d.getUTCDate(), 2)}${p(d.getUTCHours(), 2)}${p(d.getUTCMinutes(), 2)}${p(d.getUTCSeconds(), 2)}${p(d.getUTCMilliseconds(), 3)}`;
}

/** Weekday (0 = Sunday) and hour of an epoch-ms instant in China time. */
export function chinaWeekdayHour(epochMs: number): { weekday: number; hour: number } {
  const d = new Date(epochMs + IPINYOU_UTC_OFFSET_MINUTES * 60_000);
  return { weekday: d.getUTCDay(), hour: d.getUTCHours() };
}

/**
 * Parses one raw log line. Skip reasons: blank-line, header, column-count,
 * bad-click, bad-weekday, bad-hour, bad-timestamp, time-mismatch (weekday or
 * hour columns disagree with the timestamp), bad-number (a width, height or
 * price that is not a non-negative integer).
 */
export function parseRawLogLine(text: string): LineResult<RawLogRecord> {
  if (text.trim().length === 0) return { ok: false, reason: "blank-line" };
  const cols = text.split("\t");
  if (cols[0] === "click" && cols[1] === "weekday") return { ok: false, reason: "header" };
  if (cols.length !== RAW_LOG_COLUMNS.length) return { ok: false, reason: "column-count" };
  const rec: Record<string, string | number> = {};
  for (let i = 0; i < RAW_LOG_COLUMNS.length; i++) {
    const name = RAW_LOG_COLUMNS[i]!;
    const v = cols[i]!;
    if (NUMERIC_COLUMNS.has(name)) {
      const n = parseUint(v);
      if (n === undefined) return { ok: false, reason: "bad-number" };
      rec[name] = n;
    } else {
      rec[name] = v;
    }
  }
  const click = cols[0];
  if (click !== "0" && click !== "1") return { ok: false, reason: "bad-click" };
  const weekday = parseUint(cols[1]!);
  if (weekday === undefined || weekday > 6) return { ok: false, reason: "bad-weekday" };
  const hour = parseUint(cols[2]!);
  if (hour === undefined || hour > 23) return { ok: false, reason: "bad-hour" };
  const t = parseIpinyouTimestamp(cols[4]!);
  if (t === undefined) return { ok: false, reason: "bad-timestamp" };
  const wh = chinaWeekdayHour(t);
  if (wh.weekday !== weekday || wh.hour !== hour) return { ok: false, reason: "time-mismatch" };
  rec.click = click === "1" ? 1 : 0;
  rec.weekday = weekday;
  rec.hour = hour;
  return { ok: true, value: rec as unknown as RawLogRecord };
}

/** Raw log records of a file, streamed; `stats` counts used and skipped lines. */
export async function* readRawLog(path: string, stats: LineStats = new LineStats()): AsyncGenerator<RawLogRecord & { lineNo: number }> {
  for await (const line of readLines(path)) {
    stats.lines++;
    const r = parseRawLogLine(line.text);
    if (!r.ok) {
      stats.skip(r.reason, line);
      continue;
    }
    stats.used++;
    yield { ...r.value, lineNo: line.lineNo };
  }
}
