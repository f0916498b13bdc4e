// `nexus-rtb loadgen`: turns iPinYou raw logs into OpenRTB 2.6 bid requests
// (the one log → OpenRTB mapping), fires them at a bidder with undici at a
// fixed concurrency (closed loop) or a fixed rate (open loop), and for every
// bid whose price is above the logged market price (payprice) sends its win
// notice (nurl, ${AUCTION_PRICE} = that market price in the response
// currency). Works against any OpenRTB bidder: it only reads seatbid[].bid[]
// price/nurl (lurl with --loss-notices) and cur.
//
// Money: iPinYou prices are CNY fen CPM. A market price of P fen is P/100 CNY
// CPM, converted into the response currency with --fx (the value of 1 CNY in
// that currency; default USD 0.14, i.e. 7.14 CNY per USD). A win is charged
// P/100 × rate CPM, i.e. that × 1000 micros per impression: the price the
// win notice announces (≤ 6 decimals), rounded up to a whole micro as the
// bidder books it.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Agent, Pool } from "undici";
import { readRawLog } from "../data/ipinyou.ts";
import { LineStats, noRowsText, skippedText } from "../data/lines.ts";
import { bidRequestFromLog } from "../data/openrtb-from-log.ts";
import { PACKAGE_ROOT } from "../paths.ts";
import { flag, num, optNum, parse, processIo, runTool, str, type Io } from "./args.ts";
import { chargedMicros, formatPrice, parseBidResponse, substituteMacros, type ParsedBidResponse } from "./bid-response.ts";
import { ToolError, UsageError } from "./errors.ts";
import { runOpenLoop } from "./open-loop.ts";

export { parseBidResponse, substituteMacros, formatPrice, chargedMicros } from "./bid-response.ts";

export const DEFAULT_BID_URL = "http://127.0.0.1:8080/openrtb2/bid";
export const DEFAULT_LOG = join(PACKAGE_ROOT, "..", "shared", "data", "ipinyou-2259-logs", "train.log.txt");
/** Value of 1 CNY in other currencies (2024 rates, rounded); override with --fx. */
export const DEFAULT_FX: Readonly<Record<string, number>> = { CNY: 1, USD: 0.14, EUR: 0.13 };
/** OpenRTB loss reason 102: lost to a higher bid. */
const LOSS_LOST_TO_HIGHER_BID = "102";

export const LOADGEN_USAGE = `usage: nexus-rtb loadgen [options]

  --url URL            bidder endpoint (default ${DEFAULT_BID_URL})
  --log FILE           iPinYou raw log (default ../shared/data/ipinyou-2259-logs/train.log.txt)
  --concurrency N      requests in flight (closed loop; default 16)
  --rate R             requests per second (open loop; --concurrency then caps the in-flight count, default 1024)
  --duration S         run for S seconds
  --requests N         send N requests (default: every log row once, unless --duration)
  --timeout-ms MS      per-request timeout (default 1000)
  --fx CUR=RATE,...    value of 1 CNY in the response currency (default USD=0.14,EUR=0.13)
  --no-win-notices     do not send win notices
  --loss-notices       also send lurl (reason 102) for bids that lost
  --json               machine-readable results on stdout
`;

export interface LogAuction {
  request: Record<string, unknown>;
  /** Logged market price, CPM fen. */
  marketPriceFen: number;
}

/** The auctions of a raw log (request + market price), in file order. */
export async function loadAuctions(path: string, stats: LineStats = new LineStats()): Promise<LogAuction[]> {
  const out: LogAuction[] = [];
  for await (const rec of readRawLog(path, stats)) {
    const r = bidRequestFromLog(rec);
    out.push({ request: r.request, marketPriceFen: rec.payprice });
  }
  if (out.length === 0) throw new ToolError("NO_DATA", noRowsText(path, "raw log", stats, "loadgen reads raw iPinYou logs (27 tab-separated columns)"));
  return out;
}

/** Sorted-sample percentile (nearest rank). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export interface LoadgenOptions {
  url: string;
  auctions: LogAuction[];
  concurrency: number;
  rate?: number;
  durationS?: number;
  requests?: number;
  timeoutMs: number;
  fx: Record<string, number>;
  winNotices: boolean;
  lossNotices: boolean;
  /** Stops sending when aborted (Ctrl-C): the requests in flight and their notices still finish. */
  signal?: AbortSignal;
}

export interface LoadgenResult {
  url: string;
  mode: "concurrency" | "rate";
  concurrency: number;
  rate?: number;
  wallSeconds: number;
  requests: number;
  responses: number;
  /** Responses per second over the run. */
  throughput: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  noBids: number;
  /** Responses carrying at least one bid. */
  bidResponses: number;
  bids: number;
  /** bidResponses / responses. */
  bidRate: number;
  wins: number;
  /** wins / bids. */
  winRate: number;
  /** Charged at the market price, micros per currency. */
  spendMicros: Record<string, number>;
  /**
   * The wins whose win notice the bidder answered 2xx, and their spend: what the bidder's own
   * metrics count. Below wins/spendMicros when notices fail, are off, or a bid has no nurl.
   */
  booked: { wins: number; spendMicros: Record<string, number> };
  errors: Record<string, number>;
  notices: { winSent: number; winOk: number; lossSent: number; lossOk: number; failed: Record<string, number> };
  /** Open loop: requests started more than 10 ms after their scheduled time. */
  late?: number;
  /** Stopped early by its signal (Ctrl-C): the figures cover what was sent until then. */
  interrupted: boolean;
}

/** A failed request's key in `errors`: "timeout" past --timeout-ms, else the error's code. */
function errorCode(err: unknown): string {
  if ((err as { name?: string }).name === "TimeoutError") return "timeout";
  return (err as { code?: string }).code ?? "request-failed";
}

function bump(m: Record<string, number>, k: string, by = 1): void {
  m[k] = (m[k] ?? 0) + by;
}

/** Runs the load; never throws for a failed request (failures are counted). */
export async function runLoadgen(o: LoadgenOptions, log: (m: string) => void = () => {}): Promise<LoadgenResult> {
  const target = new URL(o.url);
  const rateMode = o.rate !== undefined;
  const maxInFlight = Math.max(1, o.concurrency);
  const pool = new Pool(target.origin, { connections: maxInFlight, pipelining: 1, keepAliveTimeout: 10_000 });
  const noticeAgent = new Agent({ connections: 64 });
  const path = `${target.pathname}${target.search}`;
  const total = o.requests ?? (o.durationS === undefined ? o.auctions.length : Number.POSITIVE_INFINITY);
  const deadline = o.durationS === undefined ? Number.POSITIVE_INFINITY : performance.now() + o.durationS * 1000;

  let latencies = new Float64Array(1 << 14);
  let nLat = 0;
  const res: LoadgenResult = {
    url: o.url, mode: rateMode ? "rate" : "concurrency", concurrency: maxInFlight, wallSeconds: 0, requests: 0, responses: 0, throughput: 0,
    latencyMs: { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 }, noBids: 0, bidResponses: 0, bids: 0, bidRate: 0, wins: 0, winRate: 0,
    spendMicros: {}, booked: { wins: 0, spendMicros: {} }, errors: {}, notices: { winSent: 0, winOk: 0, lossSent: 0, lossOk: 0, failed: {} },
    interrupted: false,
  };
  if (rateMode) {
    res.rate = o.rate!;
    res.late = 0;
  }
  const pendingNotices = new Set<Promise<void>>();

  /** `charge`: a win's currency and micros, booked when the bidder answers 2xx. */
  const notice = (url: string, kind: "win" | "loss", charge?: { cur: string; micros: number }): void => {
    if (kind === "win") res.notices.winSent++;
    else res.notices.lossSent++;
    const p = (async () => {
      try {
        const u = new URL(url, o.url);
        // undici's own timeouts here, which start when the notice is sent: a signal's would also run
        // while it queues for one of the agent's connections (many wins at a high rate).
        const r = await noticeAgent.request({ origin: u.origin, path: `${u.pathname}${u.search}`, method: "GET", headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs });
        await r.body.dump();
        if (r.statusCode >= 200 && r.statusCode < 300) {
          if (kind === "win") {
            res.notices.winOk++;
            if (charge) {
              res.booked.wins++;
              bump(res.booked.spendMicros, charge.cur, charge.micros);
            }
          } else res.notices.lossOk++;
        } else bump(res.notices.failed, `${kind}-http-${r.statusCode}`);
      } catch (err) {
        bump(res.notices.failed, `${kind}-${errorCode(err)}`);
      }
    })();
    pendingNotices.add(p);
    void p.finally(() => pendingNotices.delete(p));
  };

  const settle = (auction: LogAuction, reqId: string, parsed: ParsedBidResponse): void => {
    const rate = o.fx[parsed.cur];
    for (const bid of parsed.bids) {
      res.bids++;
      if (rate === undefined) {
        bump(res.errors, `unknown-currency-${parsed.cur}`);
        continue;
      }
      const clearing = (auction.marketPriceFen / 100) * rate; // CPM in the response currency
      const macros = {
        AUCTION_ID: reqId,
        AUCTION_BID_ID: parsed.bidid ?? bid.id,
        AUCTION_IMP_ID: bid.impid,
        AUCTION_SEAT_ID: bid.seat ?? "",
        AUCTION_AD_ID: bid.adid ?? "",
        AUCTION_PRICE: formatPrice(clearing),
        AUCTION_CURRENCY: parsed.cur,
      };
      if (bid.price > clearing) {
        res.wins++;
        const micros = chargedMicros(macros.AUCTION_PRICE);
        bump(res.spendMicros, parsed.cur, micros);
        if (o.winNotices && bid.nurl) notice(substituteMacros(bid.nurl, macros), "win", { cur: parsed.cur, micros });
      } else if (o.lossNotices && bid.lurl) {
        notice(substituteMacros(bid.lurl, { ...macros, AUCTION_LOSS: LOSS_LOST_TO_HIGHER_BID }), "loss");
      }
    }
  };

  let seq = 0;
  // Unique ids: bidders reject repeated request ids (replay protection), logs repeat when cycled,
  // and a second run must not reuse the first one's ids either.
  const runTag = Date.now().toString(36);
  const nextAuction = (): { auction: LogAuction; body: string; id: string } | undefined => {
    if (seq >= total || performance.now() >= deadline) return undefined;
    if (o.signal?.aborted) {
      res.interrupted = true;
      return undefined;
    }
    const i = seq++;
    const auction = o.auctions[i % o.auctions.length]!;
    const id = `${String(auction.request.id)}-${runTag}-${i}`;
    return { auction, id, body: JSON.stringify({ ...auction.request, id }) };
  };

  const fire = async (a: { auction: LogAuction; body: string; id: string }): Promise<void> => {
    res.requests++;
    const t0 = performance.now();
    try {
      // The whole exchange (headers and body) within --timeout-ms. undici's own headersTimeout and
      // bodyTimeout run on a timer of about a second and each covers only its half: an answer 500 ms
      // late passed a 100 ms timeout.
      const r = await pool.request({
        path, method: "POST", body: a.body,
        headers: { "content-type": "application/json", "x-openrtb-version": "2.6" },
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      const text = await r.body.text();
      const ms = performance.now() - t0;
      if (nLat === latencies.length) {
        const next = new Float64Array(latencies.length * 2);
        next.set(latencies);
        latencies = next;
      }
      latencies[nLat++] = ms;
      res.responses++;
      if (r.statusCode === 204) {
        res.noBids++;
        return;
      }
      if (r.statusCode !== 200) {
        bump(res.errors, `http-${r.statusCode}`);
        return;
      }
      const parsed = parseBidResponse(text);
      if ("error" in parsed) {
        bump(res.errors, `response-${parsed.error}`);
        return;
      }
      if (parsed.bids.length === 0) res.noBids++;
      else res.bidResponses++;
      settle(a.auction, a.id, parsed);
    } catch (err) {
      bump(res.errors, errorCode(err));
    }
  };

  const start = performance.now();
  let lastLog = start;
  const progress = (): void => {
    const now = performance.now();
    if (now - lastLog > 1000) {
      lastLog = now;
      log(`${res.requests} requests, ${res.responses} responses, ${res.bids} bids, ${res.wins} wins`);
    }
  };

  if (!rateMode) {
    const worker = async (): Promise<void> => {
      for (let a = nextAuction(); a !== undefined; a = nextAuction()) {
        await fire(a);
        progress();
      }
    };
    await Promise.all(Array.from({ length: maxInFlight }, () => worker()));
  } else {
    res.late = (await runOpenLoop({ rate: o.rate!, maxInFlight, next: nextAuction, fire, onSent: progress })).late;
  }
  const end = performance.now();
  await Promise.all(pendingNotices);
  await pool.close();
  await noticeAgent.close();

  res.wallSeconds = (end - start) / 1000;
  res.throughput = res.wallSeconds > 0 ? res.responses / res.wallSeconds : 0;
  const sorted = latencies.slice(0, nLat).sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  res.latencyMs = { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: nLat > 0 ? sorted[nLat - 1]! : Number.NaN, mean: nLat > 0 ? sum / nLat : Number.NaN };
  res.bidRate = res.responses > 0 ? res.bidResponses / res.responses : 0;
  res.winRate = res.bids > 0 ? res.wins / res.bids : 0;
  return res;
}

/** The summary as text; `log`: the log the requests came from, with its line counts (skipped lines by reason). */
export function formatLoadgenResult(r: LoadgenResult, log?: { path: string; stats: LineStats }): string {
  const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
  const lines = [
    ...(log ? [`log        ${log.path}: ${log.stats.lines} lines, ${log.stats.used} requests; ${skippedText(log.stats)}`] : []),
    `target     ${r.url} (${r.mode === "rate" ? `${r.rate} req/s, ≤ ${r.concurrency} in flight` : `${r.concurrency} in flight`})`,
    `requests   ${r.requests} in ${r.wallSeconds.toFixed(2)} s${r.interrupted ? " (interrupted)" : ""}, ${r.responses} answers (bid responses, no-bids and HTTP errors), throughput ${r.throughput.toFixed(1)} answers/s${r.late !== undefined ? `, ${r.late} started late` : ""}`,
    `latency    p50 ${ms(r.latencyMs.p50)} ms  p90 ${ms(r.latencyMs.p90)} ms  p99 ${ms(r.latencyMs.p99)} ms  max ${ms(r.latencyMs.max)} ms  (mean ${ms(r.latencyMs.mean)} ms)`,
    `bids       ${r.bids} bids in ${r.bidResponses} responses (bid rate ${(100 * r.bidRate).toFixed(1)}%), ${r.noBids} no-bids`,
    `wins       ${r.wins} (win rate ${(100 * r.winRate).toFixed(1)}% of bids: price above the logged market price)`,
    `spend      ${Object.entries(r.spendMicros).map(([c, v]) => `${v} micros ${c}`).join(", ") || "0"}`,
    `booked     ${r.booked.wins} wins, ${Object.entries(r.booked.spendMicros).map(([c, v]) => `${v} micros ${c}`).join(", ") || "0"} (win notices the bidder answered 2xx: what its metrics count)`,
    `notices    win ${r.notices.winOk}/${r.notices.winSent} ok, loss ${r.notices.lossOk}/${r.notices.lossSent} ok${Object.keys(r.notices.failed).length ? `; failed ${JSON.stringify(r.notices.failed)}` : ""}`,
  ];
  if (Object.keys(r.errors).length > 0) lines.push(`errors     ${JSON.stringify(r.errors)}`);
  return `${lines.join("\n")}\n`;
}

/** "USD=0.14,EUR=0.13" → { CNY: 1, USD: 0.14, EUR: 0.13 }. */
export function parseFx(text: string): Record<string, number> {
  const fx: Record<string, number> = { CNY: 1 };
  for (const part of text.split(",")) {
    const m = /^\s*([A-Za-z]{3})\s*=\s*([0-9.eE+-]+)\s*$/.exec(part);
    const v = m ? Number(m[2]) : Number.NaN;
    if (!m) throw new UsageError(`--fx: ${JSON.stringify(part)} is not CUR=RATE`);
    if (!(v > 0) || !Number.isFinite(v)) throw new UsageError(`--fx: the rate of ${m[1]} must be a number above 0 (got ${JSON.stringify(m[2])})`);
    fx[m[1]!.toUpperCase()] = v;
  }
  return fx;
}

/** The flags main() parses; each is in LOADGEN_USAGE (tests/tools/usage.test.ts). */
export const LOADGEN_OPTIONS = {
  url: { type: "string" },
  log: { type: "string" },
  concurrency: { type: "string" },
  rate: { type: "string" },
  duration: { type: "string" },
  requests: { type: "string" },
  "timeout-ms": { type: "string" },
  fx: { type: "string" },
  "no-win-notices": { type: "boolean" },
  "loss-notices": { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  return runTool(io, LOADGEN_USAGE, async () => {
    const v = parse(argv, LOADGEN_OPTIONS);
    if (flag(v, "help")) {
      io.out(LOADGEN_USAGE);
      return 0;
    }
    const url = str(v, "url") ?? DEFAULT_BID_URL;
    try {
      const u = new URL(url);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http");
    } catch {
      throw new UsageError(`--url: ${JSON.stringify(url)} is not an http(s) URL`);
    }
    const logPath = str(v, "log") ?? DEFAULT_LOG;
    if (!existsSync(logPath)) throw new UsageError(`--log: ${logPath} does not exist`);
    const rate = optNum(v, "rate", { min: 0.001 });
    const o: LoadgenOptions = {
      url,
      auctions: [],
      concurrency: num(v, "concurrency", rate !== undefined ? 1024 : 16, { min: 1, max: 100_000, integer: true }),
      // At most 10 min: a timer over 2^31-1 ms would fire after 1 ms (Node clamps it).
      timeoutMs: num(v, "timeout-ms", 1000, { min: 1, max: 600_000, integer: true }),
      fx: str(v, "fx") !== undefined ? parseFx(str(v, "fx")!) : { ...DEFAULT_FX },
      winNotices: !flag(v, "no-win-notices"),
      lossNotices: flag(v, "loss-notices"),
    };
    if (rate !== undefined) o.rate = rate;
    const duration = optNum(v, "duration", { min: 0.001 });
    if (duration !== undefined) o.durationS = duration;
    const requests = optNum(v, "requests", { min: 1, integer: true });
    if (requests !== undefined) o.requests = requests;
    const json = flag(v, "json");
    const stats = new LineStats();
    o.auctions = await loadAuctions(logPath, stats);
    // Ctrl-C: stop sending, let the requests in flight and their notices finish, print the summary
    // of what was sent (exit 130). A second Ctrl-C ends the process at once (the default again).
    const stop = new AbortController();
    o.signal = stop.signal;
    const onInterrupt = (): void => {
      stop.abort();
      io.err("\ninterrupted: finishing the requests in flight and their notices (Ctrl-C again to quit at once)\n");
    };
    process.once("SIGINT", onInterrupt);
    let result: LoadgenResult;
    try {
      result = await runLoadgen(o, (m) => {
        if (io.progress && !json) io.err(`\r\x1b[K${m}`);
      });
    } finally {
      process.off("SIGINT", onInterrupt);
    }
    if (io.progress && !json) io.err("\r\x1b[K");
    io.out(json ? `${JSON.stringify({ ...result, log: { path: logPath, ...stats.toJSON() } }, null, 2)}\n` : formatLoadgenResult(result, { path: logPath, stats }));
    if (result.requests > 0 && result.responses === 0) {
      // Nothing answered (no bidder there, every request timed out): a script must not read this as a run.
      io.err(`error NO_RESPONSES: none of ${result.requests} requests got an answer from ${url} (${JSON.stringify(result.errors)})\n`);
      return 1;
    }
    if (result.responses > 0 && result.bidResponses + result.noBids === 0) {
      // Answers, but none from a bidder (a wrong path, the control port, a proxy's errors).
      io.err(`error NO_BID_ANSWERS: none of ${result.responses} answers from ${url} was a bid response or a no-bid (${JSON.stringify(result.errors)})\n`);
      return 1;
    }
    return result.interrupted ? 130 : 0;
  });
}
