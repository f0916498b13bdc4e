// The bidder's own event log for training: JSON Lines, one impression per line:
//
//   {"request": <OpenRTB BidRequest>, "time_ms": 1700000000000, "click": 0, "conversion": 0}
//
//   request             the BidRequest as received (object), required
//   time_ms             request time, epoch milliseconds, required
//   click               0 or 1, required
//   conversion          0 or 1, optional (absent = unknown: the row does not train pCVR)
//   imp                 index of the impression in request.imp, optional, default 0
//   utc_offset_minutes  the offset the filter ran with (its utc_offset_minutes), optional, default 0
//
// Features come from the same compiled extractor as in the filter, so the
// request must be what the filter parsed. Docs: docs/TOOLS.md.
import { LineStats, readLines, type LineResult } from "./lines.ts";

export interface BidderEvent {
  request: Record<string, unknown>;
  /** JSON text of the request, as handed to the core. */
  json: string;
  timeMs: number;
  utcOffsetMinutes: number;
  impIndex: number;
  click: 0 | 1;
  /** undefined = not known. */
  conversion?: 0 | 1;
}

const KNOWN_KEYS = new Set(["request", "time_ms", "click", "conversion", "imp", "utc_offset_minutes"]);

function flag(v: unknown): 0 | 1 | undefined {
  return v === 0 || v === 1 ? v : v === true ? 1 : v === false ? 0 : undefined;
}

/**
 * Parses one event line. Skip reasons: blank-line, bad-json (not a JSON
 * object), unknown-key, no-request (request missing or not an object),
 * bad-time, bad-click, bad-conversion, bad-imp, bad-utc-offset.
 */
export function parseEventLine(text: string): LineResult<BidderEvent> {
  if (text.trim().length === 0) return { ok: false, reason: "blank-line" };
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return { ok: false, reason: "bad-json" };
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) return { ok: false, reason: "bad-json" };
  const e = o as Record<string, unknown>;
  for (const k of Object.keys(e)) if (!KNOWN_KEYS.has(k)) return { ok: false, reason: "unknown-key" };
  const request = e.request;
  if (typeof request !== "object" || request === null || Array.isArray(request)) return { ok: false, reason: "no-request" };
  const t = e.time_ms;
  if (typeof t !== "number" || !Number.isSafeInteger(t) || t < 0) return { ok: false, reason: "bad-time" };
  const click = flag(e.click);
  if (click === undefined) return { ok: false, reason: "bad-click" };
  let conversion: 0 | 1 | undefined;
  if (e.conversion !== undefined && e.conversion !== null) {
    conversion = flag(e.conversion);
    if (conversion === undefined) return { ok: false, reason: "bad-conversion" };
  }
  const imp = e.imp ?? 0;
  if (typeof imp !== "number" || !Number.isInteger(imp) || imp < 0 || imp > 15) return { ok: false, reason: "bad-imp" };
  const off = e.utc_offset_minutes ?? 0;
  // The filter's range (plugin utc_offset_minutes).
  if (typeof off !== "number" || !Number.isInteger(off) || off < -840 || off > 840) return { ok: false, reason: "bad-utc-offset" };
  // The request's own bytes, not JSON.stringify of what JSON.parse made of them: that would keep
  // the last of two duplicate keys (the filter refuses the request) and turn 1e400 into null.
  const json = rawMember(text, "request");
  if (json === undefined) return { ok: false, reason: "no-request" };
  const ev: BidderEvent = {
    request: request as Record<string, unknown>,
    json,
    timeMs: t,
    utcOffsetMinutes: off,
    impIndex: imp,
    click,
  };
  if (conversion !== undefined) ev.conversion = conversion;
  return { ok: true, value: ev };
}

export async function* readEvents(path: string, stats: LineStats = new LineStats()): AsyncGenerator<BidderEvent & { lineNo: number }> {
  for await (const line of readLines(path)) {
    stats.lines++;
    const r = parseEventLine(line.text);
    if (!r.ok) {
      stats.skip(r.reason, line);
      continue;
    }
    stats.used++;
    yield { ...r.value, lineNo: line.lineNo };
  }
}

/**
 * The text of the top-level member `key` of a JSON object `text` that JSON.parse accepted (the
 * last one, as JSON.parse takes it, when the key is repeated); undefined when there is none.
 */
export function rawMember(text: string, key: string): string | undefined {
  let found: string | undefined;
  let i = text.indexOf("{") + 1;
  const skipSpace = (): void => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  /** End (exclusive) of the string starting at the quote at `from`. */
  const stringEnd = (from: number): number => {
    let j = from + 1;
    while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
    return j + 1;
  };
  for (;;) {
    skipSpace();
    if (text[i] !== '"') return found; // "}": the end of the object
    const keyEnd = stringEnd(i);
    const name = JSON.parse(text.slice(i, keyEnd)) as string;
    i = keyEnd;
    skipSpace();
    i++; // ':'
    skipSpace();
    const start = i;
    let depth = 0;
    for (;;) {
      const c = text[i]!;
      if (c === '"') {
        i = stringEnd(i);
        if (depth === 0) break;
        continue;
      }
      if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") {
        if (depth === 0) break; // the end of the enclosing object: a scalar value ended
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      } else if (c === "," && depth === 0) break;
      i++;
    }
    if (name === key) found = text.slice(start, i).trimEnd();
    skipSpace();
    if (text[i] === ",") i++;
  }
}
