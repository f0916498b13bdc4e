// Default clock, log sink and HTTP callout transport of the standalone host.

import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { performance } from "node:perf_hooks";
import { LOG_LEVEL_NAMES } from "./constants.ts";
import type { Clock, HttpCallHandler, HttpCallResult, LogSink } from "./types.ts";

const hr0 = process.hrtime.bigint();
const wall0 = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;

/** Wall clock with nanosecond resolution: the epoch time at start-up plus the monotonic hrtime since. */
export const realClock: Clock = {
  nowNanos: () => wall0 + (process.hrtime.bigint() - hr0),
  monotonicNanos: () => process.hrtime.bigint(),
};

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
