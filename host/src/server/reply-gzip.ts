// Bid replies gzip-compressed for clients that accept it, as envoy.yaml's compressor filter does
// in front of the filter under Envoy (OpenRTB 2.6 §2.4 recommends compression both ways; a bid
// reply is ~1 KB of JSON and compresses to about a third). The same rules, so that an exchange
// sees the same answers from the standalone bidder as from the sidecar: only a 200 with an
// application/json body of at least 256 bytes, only when accept-encoding takes gzip.
import { gzipSync, constants } from "node:zlib";

/** envoy.yaml's min_content_length: smaller bodies (notice answers, errors) go as they are. */
export const GZIP_MIN_BYTES = 256;

/**
 * Whether an accept-encoding value takes gzip (RFC 9110 §12.5.3): a `gzip` (or `x-gzip`) entry
 * with q above 0, or else a `*` entry with q above 0. `gzip;q=0` refuses it whatever `*` says.
 */
export function acceptsGzip(value: string | undefined): boolean {
  if (value === undefined || value === "") return false;
  let star: boolean | undefined;
  for (const entry of value.split(",")) {
    const [coding = "", ...params] = entry.split(";").map((p) => p.trim());
    const name = coding.toLowerCase();
    if (name !== "gzip" && name !== "x-gzip" && name !== "*") continue;
    let q = 1;
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    const takes = q > 0;
    if (name === "*") star = takes;
    else return takes;
  }
  return star === true;
}

/** The reply's body gzipped when these rules want it compressed, else undefined. `headers`: flat [name, value, …], lower-case names. */
export function gzipReplyBody(status: number, headers: readonly string[], body: Uint8Array): Buffer | undefined {
  if (status !== 200 || body.byteLength < GZIP_MIN_BYTES) return undefined;
  let json = false;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i];
    if (name === "content-encoding") return undefined; // already encoded
    if (name === "content-type") json = /^application\/json\s*(;|$)/i.test(headers[i + 1]!);
  }
  // Level 1: a bid reply is small and latency-bound; the larger levels save a few bytes more.
  return json ? gzipSync(body, { level: constants.Z_BEST_SPEED }) : undefined;
}
