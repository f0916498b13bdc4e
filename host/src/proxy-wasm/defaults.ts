// Default clock, log sink and HTTP callout transport of the standalone host.

import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { performance } from "node:perf_hooks";
import { LOG_LEVEL_NAMES } from "./constants.ts";
import type { Clock, HttpCallHandler, HttpCallResult, LogSink } from "./types.ts";

// Wall clock with nanosecond resolution: the epoch time at start-up (in µs) plus the monotonic
// time since, from performance.now() (a double in ms; its sub-ns rounding is far below what a
// filter can observe). The same arithmetic gives a BigInt (nowNanos) or, on the hot path of
// proxy_get_current_time_nanoseconds, the two u32 halves without any BigInt.
const perf0 = performance.now();
const wall0Micros = Math.round((performance.timeOrigin + perf0) * 1000);
const wall0 = BigInt(wall0Micros) * 1000n;
const TWO32 = 0x1_0000_0000;
// wall0 as u32 halves (wall0Micros * 1000 < 2^64 for the next few centuries).
const wall0Hi = Math.floor(wall0Micros / TWO32) * 1000 + Math.floor(((wall0Micros % TWO32) * 1000) / TWO32);
const wall0Lo = ((wall0Micros % TWO32) * 1000) % TWO32;

function sinceStartNanos(): number {
  return Math.round((performance.now() - perf0) * 1e6);
}

export const realClock: Clock = {
  nowNanos: () => wall0 + BigInt(sinceStartNanos()),
  monotonicNanos: () => process.hrtime.bigint(),
};

/** realClock.nowNanos() as out[0] = low 32 bits, out[1] = high 32 bits. */
export function realNowNanosParts(out: Float64Array): void {
  const d = sinceStartNanos();
  const lo = wall0Lo + (d % TWO32);
  out[0] = lo % TWO32;
  out[1] = (wall0Hi + Math.floor(d / TWO32) + (lo >= TWO32 ? 1 : 0)) % TWO32;
}

/** Default log sink: one JSON line per message on stderr. */
export function jsonStderrLog(label?: string): LogSink {
  return (level, message, contextId) => {
    const line = JSON.stringify({
      time: new Date().toISOString(),
      level: LOG_LEVEL_NAMES[level] ?? String(level),
      source: "proxy-wasm",
      ...(label !== undefined ? { vm: label } : {}),
      context: contextId,
      msg: message,
    });
    process.stderr.write(line + "\n");
  };
}

/**
 * HTTP callouts with node:http(s): `upstreams` maps an upstream (Envoy cluster) name to a base URL
 * such as "http://127.0.0.1:9090". The request goes to base URL + ":path", with ":method" as the
 * method and ":authority" as the Host header (as Envoy's async client does); other pseudo-headers
 * are dropped. Trailers are not sent. Any error or abort is a failed call (null).
 * (Not fetch: fetch refuses to set the Host header.)
 */
export function defaultHttpCall(upstreams: Readonly<Record<string, string>>): HttpCallHandler {
  return (upstream, headers, body, _trailers, _timeoutMs, signal) =>
    new Promise<HttpCallResult | null>((resolve) => {
      const base = upstreams[upstream];
      if (base === undefined) return resolve(null);
      let method = "GET";
      let path = "/";
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of headers) {
        if (k === ":method") method = v;
        else if (k === ":path") path = v;
        else if (k === ":authority") out.host = v;
        else if (!k.startsWith(":")) {
          const prev = out[k];
          out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
        }
      }
      if (body.length > 0) out["content-length"] = String(body.length);
      let url: URL;
      try {
        url = new URL(path, base);
      } catch {
        return resolve(null);
      }
      const send = url.protocol === "https:" ? httpsRequest : httpRequest;
      const req = send(url, { method, headers: out, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", () => resolve(null));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          const pairs: Array<[string, string]> = [[":status", String(status)]];
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!]);
          const trailers: Array<[string, string]> = [];
          for (let i = 0; i + 1 < res.rawTrailers.length; i += 2) trailers.push([res.rawTrailers[i]!.toLowerCase(), res.rawTrailers[i + 1]!]);
          const result: HttpCallResult = { status, headers: pairs, body: new Uint8Array(Buffer.concat(chunks)) };
          if (trailers.length > 0) result.trailers = trailers;
          resolve(result);
        });
      });
      req.on("error", () => resolve(null));
      req.end(body.length > 0 ? body : undefined);
    });
}
