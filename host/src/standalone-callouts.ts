// The standalone's transport for the filter's proxy_http_call. Here the filter's VMs run in the
// host's own process, and with `replay_claim` on (the standalone's default with a Redis budget)
// every bid request waits for a claim (POST /nexus/v1/replay) under a timeout of a few ms. Over
// loopback HTTP the round trip alone used up that timeout, and each timed-out call tore its
// socket down, so under load the server spent its CPU opening connections. A claim from a caller
// with the sync token is therefore answered by a function call into the control server, through
// the same code as its HTTP endpoint; everything else (syncs, config and model fetches, a call
// without the token, an oversized id) still goes over HTTP, where the control server refuses or
// answers it as it would any client.
import type { HttpCallHandler, HttpCallResult } from "./proxy-wasm/types.ts";
import { defaultHttpCall } from "./proxy-wasm/defaults.ts";
import { MAX_REPLAY_ID_BYTES } from "./control/replay-claims.ts";
import type { ControlServer } from "./server/control-server.ts";

const REPLAY_PATH = "/nexus/v1/replay";
const encoder = new TextEncoder();

export interface StandaloneCalloutOptions {
  /** The upstreams (Envoy cluster name -> base URL) that reach this process's control server. */
  upstreams: Readonly<Record<string, string>>;
  control: Pick<ControlServer, "replayAnswer" | "filterAuthorized">;
  /** The HTTP transport for everything else (default: node:http to the upstream's URL). */
  http?: HttpCallHandler;
}

export function standaloneHttpCall(o: StandaloneCalloutOptions): HttpCallHandler {
  const http = o.http ?? defaultHttpCall(o.upstreams);
  return (upstream, headers, body, trailers, timeoutMs, signal) => {
    if (Object.hasOwn(o.upstreams, upstream) && body.length <= MAX_REPLAY_ID_BYTES) {
      let method: string | undefined;
      let path: string | undefined;
      let authorization: string | undefined;
      for (const [k, v] of headers) {
        if (k === ":method") method = v;
        else if (k === ":path") path = v;
        else if (k === "authorization") authorization = v;
      }
      if (method === "POST" && path !== undefined && o.control.filterAuthorized(authorization)) {
        const q = path.indexOf("?");
        if ((q < 0 ? path : path.slice(0, q)) === REPLAY_PATH) {
          const ttl = new URLSearchParams(q < 0 ? "" : path.slice(q + 1)).get("ttl_ms");
          return o.control.replayAnswer(body, ttl).then(toResult, () => null);
        }
      }
    }
    return http(upstream, headers, body, trailers, timeoutMs, signal);
  };
}

function toResult(a: { status: number; headers: Record<string, string>; body: unknown }): HttpCallResult {
  const body = encoder.encode(JSON.stringify(a.body));
  const headers: Array<[string, string]> = [
    [":status", String(a.status)],
    ["content-type", "application/json"],
    ["content-length", String(body.length)],
  ];
  for (const [k, v] of Object.entries(a.headers)) headers.push([k, v]);
  return { status: a.status, headers, body };
}
