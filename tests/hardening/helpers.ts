// Helpers of the hardening suites: a standalone bidder whose logs can be read,
// requests straight into the VM pool (no HTTP: the fast path of the property
// tests), loss notices for every bid of a reply, and the ledger's `reserved`.
import { rmSync } from "node:fs";
import { Writable } from "node:stream";
import { pino } from "pino";
import { startStandalone, type Standalone } from "../../host/src/standalone.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";
import { testBidderConfig, type TestBidderOptions } from "../helpers/bidder.ts";
import { readLedger } from "../helpers/ledger.ts";

export const CAMPAIGN = "test-cpa";
export const BID_PATH = "/openrtb2/bid";

/** One log line of the host's pino logger, parsed. */
export type LogLine = Record<string, unknown> & { level: number; msg?: string };

export interface HardeningBidder extends Standalone {
  /** Every log line so far (pino JSON, level "debug" and up). */
  logs: LogLine[];
}

/**
 * startTestBidder (tests/helpers/bidder.ts) with the host's log kept in memory,
 * so that a test can look at what the filter and the pool logged.
 */
export async function startHardeningBidder(o: TestBidderOptions = {}): Promise<HardeningBidder> {
  const { cfg, dir } = testBidderConfig(o);
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim()) {
          try {
            logs.push(JSON.parse(line) as LogLine);
          } catch {
            // not JSON: ignore
          }
        }
      }
      done();
    },
  });
  const app = await startStandalone(cfg, pino({ level: "debug" }, sink));
  const close = app.close.bind(app);
  const out = Object.assign(app, { logs }) as HardeningBidder;
  out.close = async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  };
  await out.ready(20_000);
  return out;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The outcome kind when it was not a local reply (vm_failed, continue, timeout). */
  kind: HttpOutcome["kind"];
  /** The body is valid UTF-8 (JSON must be: RFC 8259 section 8.1). */
  utf8: boolean;
}

const dec = new TextDecoder();
const strict = new TextDecoder("utf-8", { fatal: true });

function isUtf8(b: Uint8Array): boolean {
  try {
    strict.decode(b);
    return true;
  } catch {
    return false;
  }
}

export function answerOf(o: HttpOutcome): Answer {
  if (o.kind !== "local") return { status: -1, headers: {}, text: "", kind: o.kind, utf8: true };
  const headers: Record<string, string> = {};
  for (const [k, v] of o.headers) headers[k] = v;
  return { status: o.status, headers, text: dec.decode(o.body), kind: o.kind, utf8: isUtf8(o.body) };
}

/** POSTs a bid body straight into the pool, with the headers the bid server would give. */
export interface BidOptions {
  /** Extra headers (after the pseudo-headers and content-type). */
  extra?: Array<[string, string]>;
  /** Deliver the body in chunks cut at these offsets (each a separate body callback). */
  cuts?: number[];
  /** Request trailers (the body's last chunk then does not end the stream). */
  trailers?: Array<[string, string]>;
}

/** POSTs a bid body straight into the pool, with the headers the bid server would give. */
export async function poolBid(app: Standalone, body: Uint8Array | string, o: BidOptions | Array<[string, string]> = {}): Promise<Answer> {
  const opts: BidOptions = Array.isArray(o) ? { extra: o } : o;
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  const headers: Array<[string, string]> = [
    [":method", "POST"],
    [":path", BID_PATH],
    [":authority", "bidder.test"],
    [":scheme", "http"],
    ["content-type", "application/json"],
    ...(opts.extra ?? []),
  ];
  if (bytes.byteLength === 0) headers.push(["content-length", "0"]);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const c of [...(opts.cuts ?? [])].sort((a, b) => a - b)) {
    if (c > at && c < bytes.byteLength) {
      chunks.push(bytes.subarray(at, c));
      at = c;
    }
  }
  if (bytes.byteLength > at) chunks.push(bytes.subarray(at));
  return answerOf(await app.pool.handleHttpRequest({ headers, body: chunks, ...(opts.trailers ? { trailers: opts.trailers } : {}) }));
}

/** GETs a path (with query) straight from the pool. */
export async function poolGet(app: Standalone, pathAndQuery: string): Promise<Answer> {
  const headers: Array<[string, string]> = [
    [":method", "GET"],
    [":path", pathAndQuery],
    [":authority", "bidder.test"],
    [":scheme", "http"],
  ];
  return answerOf(await app.pool.handleHttpRequest({ headers, body: [] }));
}

interface BidLike {
  id: string;
  impid: string;
  price: number;
  nurl?: string;
  lurl?: string;
}

/** ASCII lower case only, as the filter compares (a Unicode toLowerCase maps more). */
const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/**
 * A 200's bids against the request's own lists, read from the request independently of the
 * filter (docs/CAMPAIGNS.md): no bid's adomain under a badv entry; its categories (bid.cat, in
 * bid.cattax, default 1) in the request's cattax whenever bcat or acat is given, none under a
 * bcat entry and each under an acat entry (IAB 1.0 entries cover subcategories, other taxonomies
 * compare exactly); a language (bid.language or bid.langb) that wlang (its first subtag against
 * each entry's language, a locale entry such as "en-US" read as "en") and
 * wlangb (RFC 4647 basic filtering) allow, "xx" passing both; bid.ext.dsa where
 * regs.ext.dsa.dsarequired is 2 or more; no bid.bundle (the app an ad installs) in bapp, in any
 * letter case, and none at all when bapp is longer than the filter reads (512).
 */
export function exchangeListProblems(request: Record<string, unknown>, text: string): string[] {
  const problems: string[] = [];
  const res = JSON.parse(text) as { seatbid?: Array<{ bid?: Array<Record<string, any>> }> };
  const badv = strings(request.badv).filter((e) => e !== "").map(asciiLower);
  const bcat = strings(request.bcat);
  const acat = strings(request.acat);
  const wlang = strings(request.wlang);
  const wlangb = strings(request.wlangb);
  const bapp = strings(request.bapp).filter((e) => e !== "").map(asciiLower);
  const bappCut = Array.isArray(request.bapp) && request.bapp.length > 512;
  const cattax = typeof request.cattax === "number" ? request.cattax : 1;
  const dsaRequired = (request.regs as any)?.ext?.dsa?.dsarequired;
  const under = (cat: string, entry: string) => entry !== "" && (cat === entry || (cattax === 1 && cat.startsWith(entry + "-")));
  for (const b of (res.seatbid ?? []).flatMap((s) => s.bid ?? [])) {
    const what = `bid ${b.id}`;
    for (const d of strings(b.adomain).map(asciiLower)) {
      if (badv.some((e) => d === e || d.endsWith("." + e))) problems.push(`${what}: adomain ${d} is under badv`);
    }
    if (typeof b.bundle === "string" && (bappCut || bapp.includes(asciiLower(b.bundle)))) problems.push(`${what}: bundle ${b.bundle} is in bapp${bappCut ? " (or its part past 512)" : ""}`);
    const cats = strings(b.cat);
    if (bcat.length + acat.length > 0) {
      if (cats.length > 0 && (b.cattax ?? 1) !== cattax) problems.push(`${what}: categories in taxonomy ${b.cattax ?? 1}, the request's lists are in ${cattax}`);
      else {
        for (const c of cats) if (bcat.some((e) => under(c, e))) problems.push(`${what}: category ${c} is under bcat`);
        if (acat.length > 0 && (cats.length === 0 || !cats.every((c) => acat.some((e) => under(c, e))))) problems.push(`${what}: categories ${JSON.stringify(cats)} not all in acat`);
      }
    }
    if (wlang.length + wlangb.length > 0) {
      const tag = typeof b.language === "string" ? b.language : typeof b.langb === "string" ? b.langb : undefined;
      const lower = tag === undefined ? undefined : asciiLower(tag);
      if (lower === undefined) problems.push(`${what}: no language, and the request limits languages`);
      else if (lower !== "xx") {
        // A wlang entry written as a locale ("en-US", "pt_BR") stands for its language.
        if (wlang.length > 0 && !wlang.some((e) => asciiLower(e).split(/[-_]/)[0] === lower.split("-")[0])) problems.push(`${what}: language ${tag} not in wlang`);
        if (wlangb.length > 0 && !wlangb.some((r) => r === "*" || (r !== "" && (lower === asciiLower(r) || lower.startsWith(asciiLower(r) + "-"))))) problems.push(`${what}: language ${tag} not in wlangb`);
      }
    }
    if (typeof dsaRequired === "number" && dsaRequired >= 2 && !(typeof b.ext?.dsa?.behalf === "string" && typeof b.ext?.dsa?.paid === "string")) problems.push(`${what}: no ext.dsa, and the request requires it`);
  }
  return problems;
}

/** The bids of a 200 reply (empty for anything else). */
export function bidsOf(text: string): BidLike[] {
  const res = JSON.parse(text) as { seatbid?: Array<{ bid?: BidLike[] }> };
  return (res.seatbid ?? []).flatMap((s) => s.bid ?? []);
}

/**
 * Path and query of a notice URL with its macros replaced. Works on notice URLs
 * that are not valid URLs too (known defect D1: a hostile Host header ends up
 * in them): the path is what follows the first "/" after "scheme://authority".
 */
export function noticePath(url: string, price = "0"): string {
  const full = url.replace("${AUCTION_PRICE}", price).replace("${AUCTION_LOSS}", "102");
  try {
    const u = new URL(full);
    return u.pathname + u.search;
  } catch {
    const i = full.indexOf("/openrtb2/");
    if (i < 0) throw new Error(`not a notice URL: ${full}`);
    return full.slice(i);
  }
}

/**
 * Sends a loss notice for every bid of a 200 reply through the pool; returns
 * how many were refunded. A bid that was not refunded is an error, except a bid
 * on a test request (id "test-…"), which reserved nothing: its answer is "test".
 */
export async function lossAll(app: Standalone, text: string): Promise<number> {
  let n = 0;
  for (const b of bidsOf(text)) {
    if (!b.lurl) throw new Error(`bid ${b.id} has no lurl`);
    const a = await poolGet(app, noticePath(b.lurl));
    const expected = b.id.startsWith("test-") ? '"test"' : '"refunded"';
    if (a.status !== 200 || !a.text.includes(expected)) throw new Error(`loss notice for ${b.id}: ${a.status} ${a.text}`);
    if (expected === '"refunded"') n++;
  }
  return n;
}

/** The campaign ledger's reserved micros (0 before the first grant). */
export function reserved(app: Standalone, campaign = CAMPAIGN): bigint {
  return readLedger(app.pool.shared, campaign)?.reserved ?? 0n;
}

/** A counter or gauge of the filter's metrics (0 when not defined yet). */
export function filterMetric(app: Standalone, name: string): bigint {
  return app.pool.metrics.find(name)?.value ?? 0n;
}

export async function until(check: () => boolean | Promise<boolean>, ms = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${what} not reached in ${ms} ms`);
}

/**
 * An id as the bidder echoes it (the type slips it reads: assembly/core/openrtb/README.md): a lone
 * surrogate as U+FFFD; a number as its text (compared by value here: the text as sent is gone
 * once the request is parsed).
 */
function echoedId(id: unknown): string {
  return typeof id === "string" ? id.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd") : String(id);
}

function sameId(echo: unknown, id: unknown): boolean {
  if (typeof id === "number") return typeof echo === "string" && Number(echo) === id;
  return echo === echoedId(id);
}

/**
 * Checks a 200 BidResponse against its request: id echoed, every impid one of
 * the request's kept imps (the first 16), prices > 0, at most one bid per imp,
 * unique bid ids, nurl with ${AUCTION_PRICE}. Returns the problems found.
 */
export function responseProblems(request: { id: string; imp: Array<{ id: string }> }, text: string, maxImps = 16): string[] {
  const problems: string[] = [];
  let res: { id?: unknown; seatbid?: Array<{ bid?: BidLike[] }> };
  try {
    res = JSON.parse(text);
  } catch (e) {
    return [`response is not JSON: ${(e as Error).message}`];
  }
  if (!sameId(res.id, request.id)) problems.push(`id ${JSON.stringify(res.id)} is not the request's ${JSON.stringify(request.id)}`);
  const keptIds = request.imp.slice(0, maxImps).map((i) => i.id);
  const kept = { has: (impid: unknown) => keptIds.some((id) => sameId(impid, id)) };
  const bids = (res.seatbid ?? []).flatMap((s) => s.bid ?? []);
  if (bids.length === 0) problems.push("a 200 without bids");
  const perImp = new Map<string, number>();
  const ids = new Set<string>();
  for (const b of bids) {
    if (!kept.has(b.impid)) problems.push(`impid ${JSON.stringify(b.impid)} is not one of the request's imps`);
    perImp.set(b.impid, (perImp.get(b.impid) ?? 0) + 1);
    if (!(typeof b.price === "number" && b.price > 0 && Number.isFinite(b.price))) problems.push(`price ${b.price}`);
    if (ids.has(b.id)) problems.push(`bid id ${b.id} repeated`);
    ids.add(b.id);
    if (typeof b.nurl !== "string" || !b.nurl.includes("${AUCTION_PRICE}")) problems.push(`nurl ${b.nurl} lacks \${AUCTION_PRICE}`);
    else {
      // The notice URL must carry the imp id percent-encoded: nothing from the request may add or override a parameter.
      try {
        const q = new URL(b.nurl).searchParams;
        if (q.getAll("bid").length !== 1 || q.get("bid") !== b.id) problems.push(`nurl bid parameter ${q.getAll("bid").join(",")} is not the bid id ${b.id}`);
        if (q.getAll("price").length !== 1 || q.get("price") !== "${AUCTION_PRICE}") problems.push(`nurl price parameters ${q.getAll("price").join(",")}`);
        if (q.get("imp") !== b.impid) problems.push(`nurl imp parameter ${q.get("imp")} is not the impid ${b.impid}`);
      } catch {
        problems.push(`nurl ${b.nurl} is not a URL`);
      }
    }
  }
  // Duplicate imp ids in a request are legal JSON; one bid per distinct imp id then may repeat an impid.
  const distinct = new Map<string, number>();
  for (const i of request.imp.slice(0, maxImps)) distinct.set(echoedId(i.id), (distinct.get(echoedId(i.id)) ?? 0) + 1);
  for (const [impid, n] of perImp) if (n > (distinct.get(impid) ?? 0)) problems.push(`${n} bids for imp ${impid}`);
  return problems;
}
