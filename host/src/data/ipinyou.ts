// Parsers for the iPinYou data in ../shared/data (see its README.md):
//   (a) raw logs: 27 tab-separated columns, the make-ipinyou-data schema (ipinyou-raw.ts)
//   (b) libFM rows + featindex (ipinyou-libfm.ts)
//   (c) replay rows: click, market price, pCTR, unused (here)
// Every parser is line-by-line and streaming; a malformed line is skipped and
// counted under a reason (LineStats), never turned into a wrong record.
import { LineStats, parseUint, readLines, type LineResult } from "./lines.ts";

export * from "./ipinyou-raw.ts";
export * from "./ipinyou-libfm.ts";

// ---- (c) replay rows ---------------------------------------------------------

/** One won impression of a replay file. */
export interface ReplayRow {
  click: 0 | 1;
  /** The market (second) price paid, CPM fen. */
  marketPrice: number;
  /** pCTR of the authors' logistic regression. */
  pctr: number;
}

/**
 * The highest market price a replay takes (CPM, in the log's money): 1,000,000, the bidder's own
 * ceiling on a win price. A row above it is a broken row, not an auction: one such row would set
 * every budget fraction (1/k of the set's total cost) to nonsense.
 */
export const MAX_MARKET_PRICE = 1_000_000;

/**
 * Parses one replay line: click, market price, pCTR, unused (tab separated;
 * the 4th column is optional). Skip reasons: blank-line, column-count,
 * bad-click, bad-price (not a non-negative integer, or above MAX_MARKET_PRICE),
 * bad-pctr (not a number in [0, 1]).
 */
export function parseReplayLine(text: string): LineResult<ReplayRow> {
  if (text.trim().length === 0) return { ok: false, reason: "blank-line" };
  const cols = text.split("\t");
  if (cols.length < 3 || cols.length > 4) return { ok: false, reason: "column-count" };
  const click = cols[0];
  if (click !== "0" && click !== "1") return { ok: false, reason: "bad-click" };
  const price = parseUint(cols[1]!);
  if (price === undefined || price > MAX_MARKET_PRICE) return { ok: false, reason: "bad-price" };
  const p = cols[2]!;
  const pctr = /^[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?$/.test(p) ? Number(p) : Number.NaN;
  if (!(pctr >= 0 && pctr <= 1)) return { ok: false, reason: "bad-pctr" };
  return { ok: true, value: { click: click === "1" ? 1 : 0, marketPrice: price, pctr } };
}

export async function* readReplay(path: string, stats: LineStats = new LineStats()): AsyncGenerator<ReplayRow> {
  for await (const line of readLines(path)) {
    stats.lines++;
    const r = parseReplayLine(line.text);
    if (!r.ok) {
      stats.skip(r.reason, line);
      continue;
    }
    stats.used++;
    yield r.value;
  }
}
