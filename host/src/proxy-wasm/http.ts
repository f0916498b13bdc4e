// The HTTP stream state machine: which callbacks run, in which order, with Envoy's semantics.
//
// Request: proxy_on_context_create(id, 1); proxy_on_request_headers(id, n, eos);
//   - PAUSE from headers stops everything (Envoy StopAllIteration): body chunks are held back and,
//     once the filter calls proxy_continue_stream, delivered as one chunk (Envoy's buffered data).
//   - proxy_on_request_body(id, size, eos) per chunk: CONTINUE lets the buffered bytes go upstream
//     (they are no longer in the buffer); PAUSE (StopIterationAndBuffer) on a chunk that is not the
//     last keeps the bytes and the next size is cumulative; PAUSE on the last chunk waits for
//     proxy_continue_stream; results >= 3 (StopIterationNoBuffer) drop the chunk.
//   - proxy_on_request_trailers(id, n) when the request has trailers.
// A local reply (proxy_send_local_response) stops the stream whatever the callback returns; so do
// proxy_close_stream (reset), the per-request timeout and a VM failure.
// With an `upstream` handler the request then goes there and the answer runs through
// proxy_on_response_headers/body/trailers the same way. The stream then ends (vm.finishStream):
// proxy_on_done, proxy_on_log, proxy_on_delete.
//
// The machine is written as plain functions that run synchronously until the stream really has to
// wait (a pause, the upstream's answer); from there generators continue it, yielding the promise to
// wait for, and ProxyWasmVm.drive() runs them. A stream that never waits (every bid: the filter
// answers from on_request_body) runs to its end synchronously, without a microtask hop per step
// and without a generator object.

import { Action, ROOT_CONTEXT_ID } from "./constants.ts";
import { HeaderMap } from "./header-map.ts";
import { BodyBuffer, concatBytes, type Direction, type StreamContext } from "./stream.ts";
import type { ContinueOutcome, UpstreamHandler } from "./types.ts";
import type { ProxyWasmVm } from "./vm.ts";

/** A step that waits: yields the promise to wait for, receives its value. */
export type StreamSteps<T> = Generator<Promise<unknown>, T, unknown>;

const NAMES = {
  request: { headers: "proxy_on_request_headers", body: "proxy_on_request_body", trailers: "proxy_on_request_trailers" },
  response: { headers: "proxy_on_response_headers", body: "proxy_on_response_body", trailers: "proxy_on_response_trailers" },
} as const;

function terminal(vm: ProxyWasmVm, s: StreamContext): boolean {
  return vm.failure !== null || s.localReply !== null || s.resetRequested || s.timedOut || s.aborted;
}

function isPause(r: number | undefined): boolean {
  return r !== undefined && r !== Action.CONTINUE;
}

function resumed(s: StreamContext, dir: Direction): boolean {
  return dir === "request" ? s.resumeRequest : s.resumeResponse;
}

function clearResume(s: StreamContext, dir: Direction): void {
  if (dir === "request") s.resumeRequest = false;
  else s.resumeResponse = false;
}

/** Waits until the filter continues `dir`; false when the stream ended meanwhile. */
function* waitResume(vm: ProxyWasmVm, s: StreamContext, dir: Direction): StreamSteps<boolean> {
  for (;;) {
    if (terminal(vm, s)) return false;
    if (resumed(s, dir)) {
      clearResume(s, dir);
      return true;
    }
    yield s.wait();
  }
}

function setOpen(s: StreamContext, dir: Direction, what: "headers" | "trailers", open: boolean): void {
  if (dir === "request") {
    if (what === "headers") s.reqHeadersOpen = open;
    else s.reqTrailersOpen = open;
  } else if (what === "headers") s.respHeadersOpen = open;
  else s.respTrailersOpen = open;
}

/** The filter is done with the headers or trailers of `dir` (continued at once or after a pause). */
function closePhase(s: StreamContext, dir: Direction, what: "headers" | "trailers"): void {
  clearResume(s, dir);
  setOpen(s, dir, what, false);
}

function forward(s: StreamContext, dir: Direction): void {
  const buf = dir === "request" ? s.reqBody : s.respBody;
  if (buf && buf.data.length > 0) {
    if (dir === "request") (s.forwardedReq ??= []).push(buf.data);
    else (s.forwardedResp ??= []).push(buf.data);
  }
  if (dir === "request") s.reqBody = null;
  else s.respBody = null;
}

/**
 * What a direction (or the stream) gives when run synchronously: its result when it got to its end
 * without waiting, else the steps that continue it from the wait (started by the caller at once).
 */
type Sync<T> = T | StreamSteps<T>;

function isSteps<T>(r: Sync<T>): r is StreamSteps<T> {
  return typeof r === "object" && r !== null;
}

/**
 * Runs headers, body chunks and trailers of one direction. False when the stream ended early.
 * Runs synchronously as far as it can: a stream that never pauses (every bid) gets no generator
 * object; the first pause hands the rest over to a generator that continues from there.
 */
function runDirection(
  vm: ProxyWasmVm,
  s: StreamContext,
  dir: Direction,
  headerCount: number,
  chunks: readonly Uint8Array[],
  trailers: ReadonlyArray<readonly [string, string]> | undefined,
): Sync<boolean> {
  const names = NAMES[dir];
  const hasBody = chunks.length > 0;
  const hasTrailers = trailers !== undefined;
  clearResume(s, dir);

  setOpen(s, dir, "headers", true);
  const r = vm.callVm(names.headers, s.id, s.id, headerCount, !hasBody && !hasTrailers ? 1 : 0);
  if (terminal(vm, s)) return false;
  if (isPause(r) && !resumed(s, dir)) return afterHeadersPause(vm, s, dir, chunks, trailers);
  closePhase(s, dir, "headers");
  return bodyAndTrailers(vm, s, dir, chunks, trailers);
}

/** runDirection from a pause in the headers callback: waits, then the buffered body as one chunk. */
function* afterHeadersPause(
  vm: ProxyWasmVm,
  s: StreamContext,
  dir: Direction,
  chunks: readonly Uint8Array[],
  trailers: ReadonlyArray<readonly [string, string]> | undefined,
): StreamSteps<boolean> {
  if (!(yield* waitResume(vm, s, dir))) return false;
  closePhase(s, dir, "headers");
  const rest = bodyAndTrailers(vm, s, dir, chunks.length > 0 ? [concatBytes(chunks)] : chunks, trailers);
  return isSteps(rest) ? yield* rest : rest;
}

/** runDirection after the headers: body chunks, then trailers. */
function bodyAndTrailers(
  vm: ProxyWasmVm,
  s: StreamContext,
  dir: Direction,
  list: readonly Uint8Array[],
  trailers: ReadonlyArray<readonly [string, string]> | undefined,
): Sync<boolean> {
  const names = NAMES[dir];
  const hasTrailers = trailers !== undefined;
  for (let i = 0; i < list.length; i++) {
    const eos = i === list.length - 1 && !hasTrailers;
    let buf = dir === "request" ? s.reqBody : s.respBody;
    if (!buf) {
      // No copy: BodyBuffer never writes into its bytes (changes replace them), and the caller
      // leaves the chunks alone until the outcome (see HttpRequest).
      buf = new BodyBuffer(list[i]!);
      if (dir === "request") s.reqBody = buf;
      else s.respBody = buf;
    } else {
      buf.append(list[i]!);
    }
    if (dir === "request") s.reqTrailersAddable = eos;
    else s.respTrailersAddable = eos;
    const rb = vm.callVm(names.body, s.id, s.id, buf.data.length, eos ? 1 : 0);
    if (dir === "request") s.reqTrailersAddable = false;
    else s.respTrailersAddable = false;
    if (terminal(vm, s)) return false;
    if (!isPause(rb) || resumed(s, dir)) {
      clearResume(s, dir);
      forward(s, dir);
      continue;
    }
    if (rb! >= 3) {
      // StopIterationNoBuffer: the chunk is not kept.
      if (dir === "request") s.reqBody = null;
      else s.respBody = null;
    }
    if (!eos) continue;
    // The last chunk, and no trailers: what is left is the wait.
    return afterLastChunkPause(vm, s, dir);
  }
  if (hasTrailers) return runTrailers(vm, s, dir, trailers);
  return true;
}

/** bodyAndTrailers from a pause on the last chunk of a direction without trailers. */
function* afterLastChunkPause(vm: ProxyWasmVm, s: StreamContext, dir: Direction): StreamSteps<boolean> {
  if (!(yield* waitResume(vm, s, dir))) return false;
  forward(s, dir);
  return true;
}

function runTrailers(vm: ProxyWasmVm, s: StreamContext, dir: Direction, trailers: ReadonlyArray<readonly [string, string]>): Sync<boolean> {
  const t = new HeaderMap(trailers);
  if (dir === "request") s.reqTrailers = t;
  else s.respTrailers = t;
  setOpen(s, dir, "trailers", true);
  const rt = vm.callVm(NAMES[dir].trailers, s.id, s.id, t.size);
  if (terminal(vm, s)) return false;
  if (isPause(rt) && !resumed(s, dir)) return afterTrailersPause(vm, s, dir);
  closePhase(s, dir, "trailers");
  forward(s, dir);
  return true;
}

function* afterTrailersPause(vm: ProxyWasmVm, s: StreamContext, dir: Direction): StreamSteps<boolean> {
  if (!(yield* waitResume(vm, s, dir))) return false;
  closePhase(s, dir, "trailers");
  forward(s, dir);
  return true;
}

/** runDirection as steps (for the generators below): delegates to the continuation when it waits. */
function* runDirectionSteps(
  vm: ProxyWasmVm,
  s: StreamContext,
  dir: Direction,
  headerCount: number,
  chunks: readonly Uint8Array[],
  trailers: ReadonlyArray<readonly [string, string]> | undefined,
): StreamSteps<boolean> {
  const r = runDirection(vm, s, dir, headerCount, chunks, trailers);
  return isSteps(r) ? yield* r : r;
}

/** Optional: a request-phase local reply goes through the filter's own response callbacks (Envoy). */
function* localReplyThroughFilter(vm: ProxyWasmVm, s: StreamContext): StreamSteps<void> {
  const reply = s.localReply;
  if (!reply || !vm.options.localReplyThroughFilter || vm.failure || s.resetRequested || s.timedOut || s.aborted) return;
  // A module without response callbacks would see nothing of it (hosts call only what is exported).
  if (!vm.hasResponseCallbacks) return;
  s.localReply = null;
  s.respHeaders = null;
  s.respHeadersOf = reply;
  const ok = yield* runDirectionSteps(vm, s, "response", reply.headers.length + 1, reply.body.length > 0 ? [reply.body] : [], undefined);
  s.respHeadersOf = null;
  if (s.localReply !== null || !ok) {
    // A second local reply while encoding replaces the first (Envoy: sendDirectLocalReply); a
    // reset, timeout or VM failure wins over both.
    if (s.localReply === null) s.localReply = reply;
    return;
  }
  const body = concatBytes(s.forwardedResp);
  // (Made only if the filter looked at them; TypeScript cannot see the callbacks set it.)
  const headers = s.respHeaders as HeaderMap | null;
  if (headers === null || headers.changes === 0) {
    // The filter let the reply through as it was (the usual case): keep its status and headers.
    s.localReply = body === reply.body ? reply : { ...reply, body };
    return;
  }
  const status = Number.parseInt(headers.get(":status") ?? "", 10);
  s.localReply = {
    kind: "local",
    status: Number.isFinite(status) ? status : reply.status,
    details: reply.details,
    headers: headers.pairs().filter(([k]) => k !== ":status"),
    body,
    grpcStatus: reply.grpcStatus,
  };
}

/**
 * Runs a stream: synchronously as far as it goes. Returns undefined when the stream ended (every
 * callback ran, vm.finishStream was called), else the steps that continue it from its first wait
 * (the caller drives them at once).
 */
export function runStream(vm: ProxyWasmVm, s: StreamContext): StreamSteps<void> | undefined {
  vm.callVm("proxy_on_context_create", s.id, s.id, ROOT_CONTEXT_ID);
  if (terminal(vm, s)) return finished(vm, s);
  const req = s.request;
  const r = runDirection(vm, s, "request", s.reqHeaders.size, req.body, req.trailers);
  return isSteps(r) ? requestWaited(vm, s, r) : requestDone(vm, s, r);
}

/** vm.finishStream, and nothing left to run. */
function finished(vm: ProxyWasmVm, s: StreamContext, outcome?: ContinueOutcome): undefined {
  vm.finishStream(s, outcome);
  return undefined;
}

function* requestWaited(vm: ProxyWasmVm, s: StreamContext, steps: StreamSteps<boolean>): StreamSteps<void> {
  const rest = requestDone(vm, s, yield* steps);
  if (rest !== undefined) yield* rest;
}

/** The stream after its request direction (`ok`: false when it ended early). */
function requestDone(vm: ProxyWasmVm, s: StreamContext, ok: boolean): StreamSteps<void> | undefined {
  if (!ok) {
    // (Checked here too: no generator object for the usual local reply that goes out as it is.)
    if (s.localReply !== null && vm.options.localReplyThroughFilter && vm.hasResponseCallbacks) return localReplyThenFinish(vm, s);
    return finished(vm, s);
  }
  const outcome: ContinueOutcome = { kind: "continue", headers: s.reqHeaders.pairs(), body: concatBytes(s.forwardedReq) };
  if (s.reqTrailers) outcome.trailers = s.reqTrailers.pairs();
  const upstream = vm.options.upstream;
  if (!upstream) return finished(vm, s, outcome);
  return responsePhase(vm, s, outcome, upstream);
}

function* localReplyThenFinish(vm: ProxyWasmVm, s: StreamContext): StreamSteps<void> {
  yield* localReplyThroughFilter(vm, s);
  return vm.finishStream(s);
}

function* responsePhase(vm: ProxyWasmVm, s: StreamContext, outcome: ContinueOutcome, upstream: UpstreamHandler): StreamSteps<void> {
  const call = upstream({ headers: outcome.headers, body: outcome.body, ...(outcome.trailers ? { trailers: outcome.trailers } : {}) }).then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  type Answer = Awaited<typeof call>;
  let answer: Answer | null = null;
  while (answer === null) {
    answer = (yield Promise.race([call, s.wait().then(() => null)])) as Answer | null;
    if (terminal(vm, s)) return vm.finishStream(s);
  }
  if ("error" in answer) {
    s.resetRequested = true;
    return vm.finishStream(s);
  }
  const res = answer.value;
  let headers = new HeaderMap(res.headers);
  if (!headers.has(":status")) headers = new HeaderMap([[":status", String(res.status ?? 200)], ...headers.pairs()]);
  s.respHeaders = headers;
  const body = res.body === undefined ? [] : Array.isArray(res.body) ? res.body : [res.body];
  if (!(yield* runDirectionSteps(vm, s, "response", headers.size, body, res.trailers))) return vm.finishStream(s);
  outcome.response = { headers: headers.pairs(), body: concatBytes(s.forwardedResp) };
  if (s.respTrailers) outcome.response.trailers = s.respTrailers.pairs();
  vm.finishStream(s, outcome);
}
