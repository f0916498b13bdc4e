// Messages between the pool (main thread) and a VM worker thread (worker-entry.ts).
//
// workerData: WorkerInit (the compiled module is structured-cloned; the shared data and metrics
// SharedArrayBuffers are shared, not copied).
// main -> worker: request | tick | close | httpCallResult | upstreamResult
// worker -> main: ready | startError | response | ack | log | httpCall | httpCallAbort | upstream
//                 | vmFailed | vmRestarted | restartError
// Request and response bodies travel as transferred ArrayBuffers (packChunks(), ownedBuffers()).

import type { CompiledFilter } from "./compile.ts";
import type { HeaderPair, HttpCallResult, HttpOutcome, HttpRequest, VmFailure } from "./types.ts";

export interface WorkerInit {
  index: number;
  compiled: CompiledFilter;
  sharedSab: SharedArrayBuffer;
  metricsSab: SharedArrayBuffer;
  vmId: string;
  pluginName: string;
  rootIdName: string;
  vmConfig: Uint8Array;
  pluginConfig: Uint8Array;
  upstreams: Record<string, string>;
  logLevel: number;
  requestTimeoutMs: number;
  autoTick: boolean;
  env: Record<string, string>;
  /** The main thread has an httpCall handler: callouts are proxied to it. Otherwise the worker calls the upstream itself (node:http). */
  proxyHttpCall: boolean;
  /** The main thread has an upstream handler: the response path is proxied to it. */
  proxyUpstream: boolean;
  /** The main thread has a log sink: log lines are posted to it. Otherwise JSON lines on stderr. */
  proxyLog: boolean;
  streamLifecycle: "spec" | "envoy";
  localReplyThroughFilter: boolean;
}

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export type ToWorker =
  | { t: "request"; id: number; request: HttpRequest }
  | { t: "tick"; id: number }
  | { t: "close"; id: number }
  | { t: "httpCallResult"; id: number; result: HttpCallResult | null }
  | { t: "upstreamResult"; id: number; result?: { status?: number; headers: HeaderPair[]; body?: Uint8Array[]; trailers?: HeaderPair[] }; error?: string };

export type FromWorker =
  | { t: "ready" }
  | { t: "startError"; error: SerializedError }
  | { t: "response"; id: number; outcome: HttpOutcome }
  | { t: "ack"; id: number }
  | { t: "log"; level: number; message: string; context: number }
  | { t: "httpCall"; id: number; upstream: string; headers: HeaderPair[]; body: Uint8Array; trailers: HeaderPair[]; timeoutMs: number }
  | { t: "httpCallAbort"; id: number }
  | { t: "upstream"; id: number; request: { headers: HeaderPair[]; body: Uint8Array; trailers?: HeaderPair[] } }
  | { t: "vmFailed"; failure: VmFailure }
  | { t: "vmRestarted" }
  | { t: "restartError"; error: SerializedError };

export function serializeError(e: unknown): SerializedError {
  const err = e as Error & { code?: string };
  const out: SerializedError = { name: err?.name ?? "Error", message: err?.message ?? String(e) };
  if (typeof err?.code === "string") out.code = err.code;
  if (typeof err?.stack === "string") out.stack = err.stack;
  return out;
}

export function deserializeError(s: SerializedError): Error & { code?: string } {
  const e = new Error(s.message) as Error & { code?: string };
  e.name = s.name;
  if (s.code !== undefined) e.code = s.code;
  if (s.stack !== undefined) e.stack = s.stack;
  return e;
}

/**
 * Copies body chunks into one new ArrayBuffer (views keep the chunk boundaries) that can be
 * transferred: the caller's own buffers are neither detached nor cloned one by one.
 */
export function packChunks(chunks: readonly Uint8Array[]): { chunks: Uint8Array[]; transfer: ArrayBuffer[] } {
  let n = 0;
  for (const c of chunks) n += c.byteLength;
  if (n === 0) return { chunks: chunks.map(() => new Uint8Array(0)), transfer: [] };
  const buf = new ArrayBuffer(n);
  const out: Uint8Array[] = [];
  let p = 0;
  for (const c of chunks) {
    const v = new Uint8Array(buf, p, c.byteLength);
    v.set(c);
    out.push(v);
    p += c.byteLength;
  }
  return { chunks: out, transfer: [buf] };
}

/** The ArrayBuffers that these arrays own entirely (safe to transfer: nothing else views them). */
export function ownedBuffers(arrays: readonly Uint8Array[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const a of arrays) {
    const b = a.buffer;
    if (b instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === b.byteLength && b.byteLength > 0 && !out.includes(b)) out.push(b);
  }
  return out;
}

/** Byte arrays carried by an outcome (to transfer them). */
export function outcomeBuffers(o: HttpOutcome): Uint8Array[] {
  if (o.kind === "local") return [o.body];
  if (o.kind === "continue") return o.response ? [o.body, o.response.body] : [o.body];
  return [];
}
