// HTTP callouts of one VM (proxy_http_call -> proxy_on_http_call_response), after Envoy's
// Context::httpCall / onHttpCallSuccess / onHttpCallFailure:
//   - checks, in Envoy's order: negative timeout, unknown upstream (cluster), missing ":method",
//     ":path" or ":authority" (a malformed header map reads as empty, so it fails here too) -> BAD_ARGUMENT;
//   - tokens 4, 8, 12... per VM (cpp-host: next_http_call_id_ += 4), a u32 counter that wraps
//     through 0 (a token still pending is skipped: our calls are kept by token);
//   - the call belongs to the root context; the answer arrives as
//     proxy_on_http_call_response(1, token, num_headers, body_size, num_trailers). While that runs,
//     the response is readable as map 6/7 and buffer 4 from any effective context;
//   - a timeout is an answer, as from Envoy's AsyncClient (its router ends the request with a local
//     reply): 504, content-type text/plain, body "upstream request timeout";
//   - a failed transport (the handler returns null or throws) is Envoy's onHttpCallFailure, a
//     reset: num_headers 0, no response maps, and while the callback runs proxy_get_status gives
//     11 (BrokenConnection) with "reset". Envoy sets that code only there and never clears it
//     (the message is cleared after the callback): a success leaves it as it was, 0 before any
//     failure. It is not the HTTP status; read ":status" from map 6.

import { Status } from "./constants.ts";
import { HeaderMap, type HeaderPair } from "./header-map.ts";
import type { HttpCallHandler, HttpCallResult } from "./types.ts";

export interface CalloutResponse {
  headers: HeaderMap;
  body: Uint8Array;
  trailers: HeaderMap | null;
}

export interface CalloutHost {
  /** Known upstreams (name -> base URL). */
  upstreams(): Readonly<Record<string, string>>;
  handler(): HttpCallHandler;
  /** False once the VM failed or closed: late answers are dropped. */
  alive(): boolean;
  /** Calls proxy_on_http_call_response on the root context. */
  deliver(token: number, numHeaders: number, bodySize: number, numTrailers: number): void;
}

const EMPTY = new Uint8Array(0);
const RESET = new TextEncoder().encode("reset");
const TIMEOUT_BODY = new TextEncoder().encode("upstream request timeout");
/** What Envoy's AsyncClient answers when the callout's timeout passes (its router's local reply). */
const TIMEOUT_ANSWER: HttpCallResult = {
  status: 504,
  headers: [[":status", "504"], ["content-length", String(TIMEOUT_BODY.length)], ["content-type", "text/plain"]],
  body: TIMEOUT_BODY,
};

export class Callouts {
  private readonly pending = new Map<number, { abort: AbortController; timer: NodeJS.Timeout | undefined }>();
  /** The response being delivered (only while proxy_on_http_call_response runs). */
  current: CalloutResponse | null = null;
  /** What proxy_get_status reports. */
  status: { code: number; message: Uint8Array } = { code: 0, message: EMPTY };

  constructor(
    private nextToken: number,
    private readonly host: CalloutHost,
  ) {}

  start(upstream: string, headers: HeaderPair[], body: Uint8Array, trailers: HeaderPair[], timeoutMs: number): { status: Status; token: number } {
    if (timeoutMs < 0) return { status: Status.BAD_ARGUMENT, token: 0 };
    if (!Object.hasOwn(this.host.upstreams(), upstream)) return { status: Status.BAD_ARGUMENT, token: 0 };
    const h = new HeaderMap(headers);
    if (!h.has(":method") || !h.has(":path") || !h.has(":authority")) return { status: Status.BAD_ARGUMENT, token: 0 };
    do {
      this.nextToken = (this.nextToken + 4) >>> 0;
    } while (this.pending.has(this.nextToken));
    const token = this.nextToken;
    const handler = this.host.handler();
    const abort = new AbortController();
    let settled = false;
    const settle = (res: HttpCallResult | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(this.pending.get(token)?.timer);
      this.pending.delete(token);
      this.deliver(token, res);
    };
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            abort.abort();
            settle(TIMEOUT_ANSWER);
          }, timeoutMs)
        : undefined;
    this.pending.set(token, { abort, timer });
    const pairs = h.pairs();
    const tr = trailers.map(([k, v]): HeaderPair => [k.toLowerCase(), v]);
    // The request starts after the current VM call, like Envoy's async client.
    queueMicrotask(() => {
      Promise.resolve()
        .then(() => handler(upstream, pairs, body, tr, timeoutMs, abort.signal))
        .then(
          (res) => settle(res),
          () => settle(null),
        );
    });
    return { status: Status.OK, token };
  }

  abortAll(): void {
    for (const c of this.pending.values()) {
      clearTimeout(c.timer);
      c.abort.abort();
    }
    this.pending.clear();
  }

  private deliver(token: number, res: HttpCallResult | null): void {
    if (!this.host.alive()) return;
    if (res) {
      let headers = new HeaderMap(res.headers);
      const status = res.status ?? (Number.parseInt(headers.get(":status") ?? "", 10) || 200);
      if (!headers.has(":status")) headers = new HeaderMap([[":status", String(status)], ...headers.pairs()]);
      const trailers = res.trailers && res.trailers.length > 0 ? new HeaderMap(res.trailers) : null;
      this.current = { headers, body: res.body, trailers };
      this.host.deliver(token, headers.size, res.body.length, trailers?.size ?? 0);
    } else {
      this.current = null;
      this.status = { code: Status.BROKEN_CONNECTION, message: RESET };
      this.host.deliver(token, 0, 0, 0);
    }
    this.current = null;
    this.status = { code: this.status.code, message: EMPTY };
  }
}
