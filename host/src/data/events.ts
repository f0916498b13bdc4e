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
  if (typeof off !== "number" || !Number.isInteger(off) || off < -1440 || off > 1440) return { ok: false, reason: "bad-utc-offset" };
  let json: string;
  try {
    json = JSON.stringify(request);
  } catch {
    // JSON.parse took it, but it is nested too deep to write again (V8's stack): the core would
    // refuse it anyway (its depth limit is 32).
    return { ok: false, reason: "request-rejected" };
  }
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
