// Typed wrappers over the raw imports: statuses come back as values (NOT_FOUND
// and CAS_MISMATCH are expected outcomes, not errors), out-parameters land in
// static slots, and nothing on these paths allocates. Bytes the host copies in
// (HostBytes) live in the host-copy arena or, when it is full, on the heap:
// either way valid until the outermost callback returns (see memory.ts); copy
// out what must outlive it.
import * as raw from "./imports";
import { Status, GRPC_STATUS_NONE, LogLevel } from "./types";
import { freeHostCopy, hostCopyEpoch } from "./memory";

// Out-parameter slots: two pointers/sizes, a CAS, a u64.
const RET_PTR = memory.data(4);
const RET_LEN = memory.data(4);
const RET_CAS = memory.data(4);
const RET_U64 = memory.data(8);

/** A byte range the host copied into the VM, plus the status of the call that produced it. */
export class HostBytes {
  status: u32 = Status.NOT_FOUND;
  ptr: usize = 0;
  len: i32 = 0;
  /** CAS token of a shared-data read. */
  cas: u32 = 0;
  /** hostCopyEpoch() when `ptr` was copied in: a copy from an earlier callback is already freed. */
  epoch: u32 = 0;

  @inline get ok(): bool {
    return this.status == Status.OK;
  }

  /** Frees a heap-backed copy early (large values, long loops of reads); arena copies are rewound anyway. */
  release(): void {
    if (this.epoch == hostCopyEpoch()) freeHostCopy(this.ptr);
    this.ptr = 0;
    this.len = 0;
  }
}

@inline function takeBytes(status: u32, out: HostBytes): u32 {
  out.status = status;
  out.epoch = hostCopyEpoch();
  if (status == Status.OK) {
    out.ptr = <usize>load<u32>(RET_PTR);
    out.len = <i32>load<u32>(RET_LEN);
  } else {
    out.ptr = 0;
    out.len = 0;
  }
  // Consume the slots: a host that answers OK without writing them (older cpp-host, for an empty
  // buffer) must leave 0/0 for the next call, not this call's pointer and size.
  store<u32>(RET_PTR, 0);
  store<u32>(RET_LEN, 0);
  return status;
}

// ---- logging -------------------------------------------------------------

export function logBytes(level: u32, ptr: usize, len: i32): void {
  raw.proxy_log(level, ptr, <usize>len);
}

/** Cold paths only: encodes the message (allocates). */
export function log(level: u32, message: string): void {
  const buf = String.UTF8.encode(message);
  raw.proxy_log(level, changetype<usize>(buf), <usize>buf.byteLength);
}

// ---- clock and timers ----------------------------------------------------

/** Wall-clock time from the host, in nanoseconds since the epoch (0 if unavailable). */
export function currentTimeNanos(): u64 {
  if (raw.proxy_get_current_time_nanoseconds(RET_U64) != Status.OK) return 0;
  return load<u64>(RET_U64);
}

export function setTickPeriodMillis(ms: u32): u32 {
  return raw.proxy_set_tick_period_milliseconds(ms);
}

// ---- buffers -------------------------------------------------------------

export function getBufferBytes(bufferType: u32, start: usize, maxSize: usize, out: HostBytes): u32 {
  return takeBytes(raw.proxy_get_buffer_bytes(bufferType, start, maxSize, RET_PTR, RET_LEN), out);
}

// ---- header maps ---------------------------------------------------------

export function getHeaderMapPairs(mapType: u32, out: HostBytes): u32 {
  return takeBytes(raw.proxy_get_header_map_pairs(mapType, RET_PTR, RET_LEN), out);
}

export function getHeaderMapValue(mapType: u32, keyPtr: usize, keyLen: i32, out: HostBytes): u32 {
  return takeBytes(raw.proxy_get_header_map_value(mapType, keyPtr, <usize>keyLen, RET_PTR, RET_LEN), out);
}

export function addHeaderMapValue(mapType: u32, keyPtr: usize, keyLen: i32, valuePtr: usize, valueLen: i32): u32 {
  return raw.proxy_add_header_map_value(mapType, keyPtr, <usize>keyLen, valuePtr, <usize>valueLen);
}

export function replaceHeaderMapValue(mapType: u32, keyPtr: usize, keyLen: i32, valuePtr: usize, valueLen: i32): u32 {
  return raw.proxy_replace_header_map_value(mapType, keyPtr, <usize>keyLen, valuePtr, <usize>valueLen);
}

export function removeHeaderMapValue(mapType: u32, keyPtr: usize, keyLen: i32): u32 {
  return raw.proxy_remove_header_map_value(mapType, keyPtr, <usize>keyLen);
}

// ---- stream control ------------------------------------------------------

/** Sends a local reply; the host stops the stream whatever the callback returns afterwards. */
export function sendLocalResponse(
  statusCode: u32,
  detailsPtr: usize, detailsLen: i32,
  bodyPtr: usize, bodyLen: i32,
  headersPtr: usize, headersLen: i32,
): u32 {
  return raw.proxy_send_local_response(
    statusCode, detailsPtr, <usize>detailsLen, bodyPtr, <usize>bodyLen, headersPtr, <usize>headersLen, GRPC_STATUS_NONE,
  );
}

export function continueStream(streamType: u32): u32 {
  return raw.proxy_continue_stream(streamType);
}

export function closeStream(streamType: u32): u32 {
  return raw.proxy_close_stream(streamType);
}

export function setEffectiveContext(contextId: u32): u32 {
  return raw.proxy_set_effective_context(contextId);
}

export function done(): u32 {
  return raw.proxy_done();
}

// ---- HTTP callouts -------------------------------------------------------

/** Result of httpCall: status OK and a token, or the failure status. */
export class CallToken {
  status: u32 = Status.OK;
  token: u32 = 0;
}

export function httpCall(
  upstreamPtr: usize, upstreamLen: i32,
  headersPtr: usize, headersLen: i32,
  bodyPtr: usize, bodyLen: i32,
  timeoutMs: u32,
  out: CallToken,
): u32 {
  const st = raw.proxy_http_call(
    upstreamPtr, <usize>upstreamLen, headersPtr, <usize>headersLen, bodyPtr, <usize>bodyLen, 0, 0, timeoutMs, RET_CAS,
  );
  out.status = st;
  out.token = st == Status.OK ? load<u32>(RET_CAS) : 0;
  return st;
}

// No wrapper for proxy_get_status: under Envoy it is not a callout's HTTP status (only a failed
// callout sets it, to 11, and nothing clears it); read ":status" from map 6 instead.

// ---- shared data ---------------------------------------------------------

/** Reads a shared-data value and its CAS token. NOT_FOUND is an expected outcome. */
export function getSharedData(keyPtr: usize, keyLen: i32, out: HostBytes): u32 {
  const st = raw.proxy_get_shared_data(keyPtr, <usize>keyLen, RET_PTR, RET_LEN, RET_CAS);
  takeBytes(st, out);
  out.cas = st == Status.OK ? load<u32>(RET_CAS) : 0;
  return st;
}

/** Writes a shared-data value; cas 0 writes unconditionally, a stale cas gives CAS_MISMATCH. */
export function setSharedData(keyPtr: usize, keyLen: i32, valuePtr: usize, valueLen: i32, cas: u32): u32 {
  return raw.proxy_set_shared_data(keyPtr, <usize>keyLen, valuePtr, <usize>valueLen, cas);
}

// ---- metrics -------------------------------------------------------------

/**
 * Defines (or finds, the host dedupes by name) a metric. Returns 0 on failure, logged as a
 * warning: a host that refuses it (e.g. a full metrics table) would otherwise leave the metric
 * missing from every scrape without a word. Cold path.
 */
export function defineMetric(metricType: u32, name: string): u32 {
  const buf = String.UTF8.encode(name);
  const st = raw.proxy_define_metric(metricType, changetype<usize>(buf), <usize>buf.byteLength, RET_CAS);
  if (st != Status.OK) {
    log(LogLevel.WARN, "nexus: metric " + name + " could not be defined (status " + st.toString() + "): it will not be exported");
    return 0;
  }
  return load<u32>(RET_CAS);
}

@inline export function incrementMetric(id: u32, delta: i64): void {
  if (id != 0) raw.proxy_increment_metric(id, delta);
}

@inline export function recordMetric(id: u32, value: u64): void {
  if (id != 0) raw.proxy_record_metric(id, value);
}

export function getMetric(id: u32): u64 {
  if (raw.proxy_get_metric(id, RET_U64) != Status.OK) return 0;
  return load<u64>(RET_U64);
}

// ---- properties ----------------------------------------------------------

/** Reads a host property; path segments are NUL-separated. */
export function getProperty(pathPtr: usize, pathLen: i32, out: HostBytes): u32 {
  return takeBytes(raw.proxy_get_property(pathPtr, <usize>pathLen, RET_PTR, RET_LEN), out);
}
