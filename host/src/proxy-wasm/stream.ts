// State of one HTTP stream context (ids 2, 3, ...) and of the root context, as the host sees it.
// What the filter may touch at a given moment follows Envoy's Context (context.cc):
//   - request headers: in on_request_headers and while paused from it (Envoy nulls its pointer
//     once the headers continue), read-only in on_log;
//   - request body: the buffered bytes, from on_request_body while they are buffered;
//   - request trailers: in on_request_trailers / while paused from it; can be added in the last
//     on_request_body when the request has none;
//   - same for the response side; callout response maps/body belong to the VM while
//     on_http_call_response runs, whatever the effective context.

import { Status } from "./constants.ts";
import { HeaderMap, type HeaderPair } from "./header-map.ts";
import type { BufferRef } from "./abi.ts";
import type { HttpOutcome, HttpRequest, LocalReply } from "./types.ts";

export class RootContext {
  readonly kind = "root" as const;
  /** on_done returned false; waiting for proxy_done. */
  pendingDone = false;
  onDoneResolved: (() => void) | undefined;
  constructor(readonly id: number) {}
}

/** A mutable body buffer with Envoy's Buffer::copyFrom rules. */
export class BodyBuffer implements BufferRef {
  constructor(public data: Uint8Array) {}
  bytes(): Uint8Array {
    return this.data;
  }
  append(chunk: Uint8Array): void {
    const out = new Uint8Array(this.data.length + chunk.length);
    out.set(this.data);
    out.set(chunk, this.data.length);
    this.data = out;
  }
  /** prepend (0, 0), replace all (0, >= size), append (start >= size); anything else BAD_ARGUMENT. */
  set(start: number, length: number, value: Uint8Array): Status {
    const size = this.data.length;
    if (start === 0) {
      if (length === 0) {
        const out = new Uint8Array(size + value.length);
        out.set(value);
        out.set(this.data, value.length);
        this.data = out;
        return Status.OK;
      }
      if (length >= size) {
        this.data = value.slice();
        return Status.OK;
      }
      return Status.BAD_ARGUMENT;
    }
    if (start >= size) {
      this.append(value);
      return Status.OK;
    }
    return Status.BAD_ARGUMENT;
  }
}

export type Direction = "request" | "response";

function ignoreOutcome(_o: HttpOutcome): void {}

export class StreamContext {
  readonly kind = "stream" as const;
  readonly reqHeaders: HeaderMap;
  reqHeadersOpen = false;
  reqTrailers: HeaderMap | null = null;
  reqTrailersOpen = false;
  /** Trailers may be added during the last on_request_body of a request without trailers. */
  reqTrailersAddable = false;
  reqBody: BodyBuffer | null = null;
  /** Request body bytes the filter let through (created on the first). */
  forwardedReq: Uint8Array[] | null = null;

  respHeaders: HeaderMap | null = null;
  /**
   * A local reply going through the response callbacks: its headers become respHeaders only when
   * the filter first reaches for them (most filters never do).
   */
  respHeadersOf: LocalReply | null = null;
  respHeadersOpen = false;
  respTrailers: HeaderMap | null = null;
  respTrailersOpen = false;
  respTrailersAddable = false;
  respBody: BodyBuffer | null = null;
  forwardedResp: Uint8Array[] | null = null;

  /** proxy_continue_stream was called for the request / response (applies after the current callback). */
  resumeRequest = false;
  resumeResponse = false;
  localReply: LocalReply | null = null;
  resetRequested = false;
  timedOut = false;
  /** Set by the host when the VM closes while the stream is active. */
  aborted = false;
  accessLog = false;
  finished = false;
  pendingDone = false;
  /** What the filter stored with proxy_set_property (created on the first). */
  properties: Map<string, Uint8Array> | null = null;
  /** The request timeout, armed when the stream first has to wait (a stream that never pauses needs none). */
  timer: NodeJS.Timeout | undefined;
  private waker: (() => void) | undefined;
  resolve: (o: HttpOutcome) => void = ignoreOutcome;

  constructor(
    readonly id: number,
    readonly request: HttpRequest,
  ) {
    this.reqHeaders = new HeaderMap(request.headers);
  }

  /** Resolves when something happens to a paused stream (continue, local reply, reset, timeout...). */
  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.waker = resolve;
    });
  }

  wake(): void {
    const w = this.waker;
    this.waker = undefined;
    w?.();
  }

  headersFor(type: "request" | "response"): HeaderMap | null {
    return type === "request" ? this.reqHeaders : this.responseHeaders();
  }

  /** The response headers, made from a local reply (respHeadersOf) on first use. */
  responseHeaders(): HeaderMap | null {
    const reply = this.respHeadersOf;
    if (this.respHeaders === null && reply !== null) {
      const h = new HeaderMap([[":status", String(reply.status)]]);
      for (const [k, v] of reply.headers) h.add(k, v);
      h.changes = 0;
      this.respHeaders = h;
      this.respHeadersOf = null;
    }
    return this.respHeaders;
  }

  /** Headers as they were when the stream ended (what on_log reads). */
  logResponseHeaders(): HeaderMap | null {
    if (this.localReply) {
      const h = new HeaderMap([[":status", String(this.localReply.status)]]);
      for (const [k, v] of this.localReply.headers) h.add(k, v);
      if (!h.has("content-length")) h.add("content-length", String(this.localReply.body.length));
      return h;
    }
    return this.respHeaders;
  }
}

export type AnyContext = RootContext | StreamContext;

const EMPTY = new Uint8Array(0);

export function concatBytes(chunks: readonly Uint8Array[] | null): Uint8Array {
  if (chunks === null || chunks.length === 0) return EMPTY;
  if (chunks.length === 1) return chunks[0]!;
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

export function pairsOf(map: HeaderMap | null): HeaderPair[] | undefined {
  return map ? map.pairs() : undefined;
}
