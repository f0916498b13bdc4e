// Public types of the standalone proxy-wasm host (shared by the VM, the pool and the worker).

import type { HeaderPair } from "./header-map.ts";

export type { HeaderPair };

/** A downstream HTTP request, as the HTTP server hands it to the filter. */
export interface HttpRequest {
  /** All headers, including ":method", ":path", ":authority" and ":scheme". Keys are lower-cased by the host. */
  headers: HeaderPair[];
  /**
   * Body chunks as they arrived; an empty array means no body (end_of_stream on the headers).
   * The host reads the chunks without copying them: leave them unchanged until the outcome.
   */
  body: Uint8Array[];
  /** Request trailers, if any. */
  trailers?: HeaderPair[];
}

export interface LocalReply {
  kind: "local";
  /** HTTP status code given to proxy_send_local_response. */
  status: number;
  /** Response code details, with white space replaced by "_" (as Envoy does). */
  details: string;
  /** Headers the filter added (keys lower-cased). A malformed serialised map gives no headers. */
  headers: HeaderPair[];
  body: Uint8Array;
  /** gRPC status, or null when the filter passed -1 ("not gRPC") or an unknown code. */
  grpcStatus: number | null;
}

export interface UpstreamResponse {
  headers: HeaderPair[];
  body: Uint8Array;
  trailers?: HeaderPair[];
}

export interface ContinueOutcome {
  kind: "continue";
  /** Request headers after the filter (possibly modified). */
  headers: HeaderPair[];
  /** Request body bytes the filter let through. */
  body: Uint8Array;
  trailers?: HeaderPair[];
  /** Present when an `upstream` handler answered: the response after the filter's response callbacks. */
  response?: UpstreamResponse;
}

export interface VmFailure {
  /** The callback (export name) that trapped. */
  callback: string;
  contextId: number;
  /** Error message (and stack when available). */
  error: string;
  /** The last message the module logged at critical level (an AssemblyScript abort routes there). */
  lastCriticalLog: string | null;
}

export type HttpOutcome =
  | LocalReply
  | ContinueOutcome
  | { kind: "timeout" }
  | { kind: "reset" }
  | { kind: "vm_failed"; failure: VmFailure | null };

/** Answer of an HTTP callout handler; null means the call failed (reset). */
export interface HttpCallResult {
  /** HTTP status; when absent it is taken from a ":status" header (default 200). */
  status?: number;
  headers: HeaderPair[];
  body: Uint8Array;
  trailers?: HeaderPair[];
}

export type HttpCallHandler = (
  upstream: string,
  headers: HeaderPair[],
  body: Uint8Array,
  trailers: HeaderPair[],
  timeoutMs: number,
  signal: AbortSignal,
) => Promise<HttpCallResult | null>;

/** Response path: called with the request the filter let through; its answer goes through on_response_*. */
export type UpstreamHandler = (request: { headers: HeaderPair[]; body: Uint8Array; trailers?: HeaderPair[] }) => Promise<{
  status?: number;
  headers: HeaderPair[];
  body?: Uint8Array | Uint8Array[];
  trailers?: HeaderPair[];
}>;

export interface Clock {
  /** Wall clock, nanoseconds since the Unix epoch. */
  nowNanos(): bigint;
  /** Monotonic clock in nanoseconds (WASI clock 1); defaults to process.hrtime. */
  monotonicNanos?(): bigint;
}

/** Log sink: level is the proxy-wasm level (0 trace .. 5 critical). */
export type LogSink = (level: number, message: string, contextId: number) => void;

export interface PluginConfig {
  /** The plugin's root_id string (exposed as property plugin_root_id). Default "". */
  rootIdName?: string;
  vmConfig?: Uint8Array | string;
  pluginConfig?: Uint8Array | string;
}
