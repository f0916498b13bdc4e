// The benchmark's request mix: the OpenRTB test corpus, plus requests built
// from the iPinYou raw logs (../shared/data) when the data set is present.
//
// Every body gets ID_SUFFIX appended to its top-level request id, and the
// benches stamp a fresh number into it for every request they send: with the
// replay guard on (the default), a resent id is a cheap no-bid, so cycling over
// the same ids would measure replays instead of decisions.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../host/src/paths.ts";
import { defaultConfig, loadConfig } from "../host/src/config.ts";

export const CORE_WASM = join(PACKAGE_ROOT, "build", "nexus_core.wasm");

/**
 * The exchange rates every section decides with: those `npm start` runs with (the host's default
 * plugin configuration). The requests built from the logs have CNY floors; without a CNY rate
 * the core and the filter would answer them with an early "currency" no-bid, while the HTTP
 * section's bidder (the default configuration) decides them in full.
 */
export const BENCH_FX_RATES = defaultConfig().plugin.fx_rates as Record<string, number>;
/** `npm start`'s floor_feature_currency (the demo model's CNY): USD floors converted for the floor= feature. */
export const BENCH_FLOOR_FEATURE_CURRENCY = loadConfig({ env: {} }).plugin.floor_feature_currency as string;

/** Appended to each request id; its 8 digits are overwritten per request. */
export const ID_SUFFIX = "-00000000";
const DIGITS = 8;

export interface BenchCorpus {
  bodies: Uint8Array[];
  /** Byte offset of the 8 id digits in each body (-1: no top-level string id found, sent as is). */
  idDigitsAt: number[];
  fromLogs: number;
}

export async function loadBenchCorpus(maxLogRequests = 2000): Promise<BenchCorpus> {
  const dir = join(PACKAGE_ROOT, "tests/fixtures/openrtb/valid");
  const raw: Uint8Array[] = readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => new Uint8Array(readFileSync(join(dir, f))));
  let fromLogs = 0;
  const logFile = join(PACKAGE_ROOT, "..", "shared", "data", "ipinyou-2259-logs", "train.log.txt");
  const mapping = join(PACKAGE_ROOT, "host/src/data/openrtb-from-log.ts");
  if (existsSync(logFile) && existsSync(mapping)) {
    try {
      const logs = await import("./log-requests.ts");
      for (const b of await logs.requestsFromLogs(logFile, maxLogRequests)) {
        raw.push(b);
        fromLogs++;
      }
    } catch (err) {
      console.error(`bench: requests from logs unavailable (${(err as Error).message}); using the corpus only`);
    }
  }
  const bodies: Uint8Array[] = [];
  const idDigitsAt: number[] = [];
  const dec = new TextDecoder();
  const enc = new TextEncoder();
  for (const b of raw) {
    const text = dec.decode(b);
    const end = topLevelIdEnd(text);
    if (end < 0) {
      bodies.push(b);
      idDigitsAt.push(-1);
      continue;
    }
    const prefix = text.slice(0, end) + ID_SUFFIX.slice(0, ID_SUFFIX.length - DIGITS);
    bodies.push(enc.encode(prefix + ID_SUFFIX.slice(-DIGITS) + text.slice(end)));
    idDigitsAt.push(enc.encode(prefix).length);
  }
  return { bodies, idDigitsAt, fromLogs };
}

/** Writes `n` (mod 10^8, zero-padded) into the id digits of `body` in place. */
export function stampId(body: Uint8Array, at: number, n: number): void {
  if (at < 0) return;
  let v = n % 1e8;
  for (let i = DIGITS - 1; i >= 0; i--) {
    body[at + i] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
}

/**
 * Index of the closing quote of the top-level "id" member's string value, or -1.
 * A small JSON scanner: depth and strings (with escapes) are tracked, nothing is decoded.
 */
export function topLevelIdEnd(text: string): number {
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i + 1;
      i = stringEnd(text, i);
      if (i < 0) return -1;
      if (depth === 1 && expectKey) {
        expectKey = false;
        if (text.slice(start, i) !== "id") continue;
        let j = i + 1;
        while (/\s/.test(text[j] ?? "")) j++;
        if (text[j] !== ":") return -1;
        j++;
        while (/\s/.test(text[j] ?? "")) j++;
        if (text[j] !== '"') return -1;
        return stringEnd(text, j);
      }
    } else if (c === "{" || c === "[") {
      depth++;
      expectKey = c === "{" && depth === 1;
    } else if (c === "}" || c === "]") {
      depth--;
    } else if (c === "," && depth === 1) {
      expectKey = true;
    }
  }
  return -1;
}

function stringEnd(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i;
  }
  return -1;
}
