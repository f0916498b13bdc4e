// Auctions for the replay: from a replay file (click, market price, pCTR —
// rows in time order) or from iPinYou raw logs with payprice as the market
// price and pCTR from our own model, scored by the core on the features of the
// request the one log → OpenRTB mapping builds (rows sorted by timestamp).
import { MAX_MARKET_PRICE, readRawLog, readReplay } from "../data/ipinyou.ts";
import { LineStats, noRowsText } from "../data/lines.ts";
import { bidRequestFromLog } from "../data/openrtb-from-log.ts";
import { toWireBlob, type LrModelPair } from "../models/index.ts";
import { ParseError, rejectedAs, type NexusCore } from "./core.ts";
import { ToolError } from "./errors.ts";
import { replayData, type ReplayData } from "./replay-sim.ts";

export type ReplayFormat = "replay" | "raw";

export interface LoadedReplay {
  path: string;
  data: ReplayData;
  stats: LineStats;
  /** First and last timestamps (epoch ms) of raw logs. */
  period?: { startMs: number; endMs: number };
}

export async function loadReplayFile(path: string): Promise<LoadedReplay> {
  const stats = new LineStats();
  const rows: Array<{ click: number; price: number; pctr: number }> = [];
  for await (const r of readReplay(path, stats)) rows.push({ click: r.click, price: r.marketPrice, pctr: r.pctr });
  if (rows.length === 0) throw new ToolError("NO_DATA", noRowsText(path, "replay", stats, "--format replay|raw"));
  return { path, data: replayData(rows), stats };
}

const enc = new TextEncoder();

/**
 * Raw logs as auctions: market price = payprice, pCTR = the model's, time =
 * the position of the timestamp between the first and the last one.
 */
export async function loadRawLogReplay(path: string, core: NexusCore, model: LrModelPair): Promise<LoadedReplay> {
  core.setHashBits(model.hashBits);
  core.loadModel(toWireBlob(model), model.hashBits);
  const stats = new LineStats();
  const rows: Array<{ click: number; price: number; pctr: number; t: number }> = [];
  for await (const rec of readRawLog(path, stats)) {
    if (rec.payprice > MAX_MARKET_PRICE) {
      // The market price of the replay: a broken row, as in a replay file (parseReplayLine).
      stats.reject("bad-price", { lineNo: rec.lineNo, text: String(rec.payprice) });
      continue;
    }
    const r = bidRequestFromLog(rec);
    const buckets = core.requestFeatures(enc.encode(r.json), 0, r.timeMs, r.utcOffsetMinutes);
    if (buckets instanceof ParseError) {
      stats.reject(rejectedAs(buckets), { lineNo: rec.lineNo, text: buckets.message });
      continue;
    }
    rows.push({ click: rec.click, price: rec.payprice, pctr: core.score(buckets).pCtr, t: r.timeMs });
  }
  if (rows.length === 0) throw new ToolError("NO_DATA", noRowsText(path, "raw log", stats, "--format replay|raw"));
  rows.sort((a, b) => a.t - b.t);
  const start = rows[0]!.t;
  const end = rows[rows.length - 1]!.t;
  const span = end - start;
  const data = replayData(rows.map((r, i) => ({ click: r.click, price: r.price, pctr: r.pctr, time: span > 0 ? Math.min((r.t - start) / span, 1 - 1e-12) : i / rows.length })));
  return { path, data, stats, period: { startMs: start, endMs: end } };
}

/** Splits time-ordered auctions at `fraction` of the rows (first part for tuning, the rest for testing), re-spreading time over each part. */
export function splitByTime(d: ReplayData, fraction: number): { train: ReplayData; test: ReplayData } {
  const cut = Math.max(1, Math.min(d.n - 1, Math.round(d.n * fraction)));
  const part = (from: number, to: number): ReplayData => {
    const t0 = d.time[from]!;
    const t1 = to < d.n ? d.time[to]! : 1;
    const span = t1 - t0;
    const rows = [];
    for (let i = from; i < to; i++) {
      rows.push({ click: d.click[i]!, price: d.price[i]!, pctr: d.pctr[i]!, time: span > 0 ? Math.min((d.time[i]! - t0) / span, 1 - 1e-12) : (i - from) / (to - from) });
    }
    return replayData(rows);
  };
  return { train: part(0, cut), test: part(cut, d.n) };
}
