// The host side of the ABI: the import object the module is instantiated with. This file only
// marshals (bounds checks, (de)serialisation, copies through the module's allocator); the
// semantics live behind the AbiHost interface (implemented by ProxyWasmVm).
//
// Order of checks and statuses follow cpp-host src/exports.cc: e.g. map/buffer type range first
// (BAD_ARGUMENT), then memory (INVALID_MEMORY_ACCESS), then the operation.

import {
  type AbiVersion,
  BUFFER_TYPE_MAX,
  LOG_LEVEL_MAX,
  MAP_TYPE_MAX,
  RANDOM_GET_MAX_BYTES,
  Status,
  STREAM_TYPE_MAX,
  WASI_MODULES,
  WasiErrno,
} from "./constants.ts";
import { deserializeHeaderMapAt, type HeaderMap, type HeaderPair } from "./header-map.ts";
import type { VmMemory } from "./memory.ts";
import { RecentBytes } from "./recent-bytes.ts";
import type { SharedDataStore } from "./shared-data.ts";
import type { VmMetrics } from "./metrics.ts";
import type { WasmImports } from "./wasm-api.ts";
import { Buffer } from "node:buffer";
import { webcrypto } from "node:crypto";

const utf8 = new TextDecoder("utf-8");
/** Local-reply header maps remembered per VM, and the largest one remembered (bytes). */
const REPLY_HEADERS_CACHED = 8;
const REPLY_HEADERS_CACHED_BYTES = 512;
/** Local-reply details remembered per VM, and the longest one remembered (bytes). */
const REPLY_DETAILS_CACHED = 8;
const REPLY_DETAILS_CACHED_BYTES = 64;

/** A buffer visible to the VM (HTTP body, configuration, callout body...). */
export interface BufferRef {
  bytes(): Uint8Array;
  /** Envoy Buffer::copyFrom semantics; absent for read-only buffers (-> BAD_ARGUMENT). */
  set?(start: number, length: number, data: Uint8Array): Status;
}

export interface AbiHost {
  readonly mem: VmMemory;
  readonly shared: SharedDataStore;
  readonly metrics: VmMetrics;
  /** Non-null while only some host calls are allowed (start-up, allocator). */
  readonly restricted: ReadonlySet<string> | null;
  /** Throws HostTrap when `name` ("env.proxy_log") is not allowed now. */
  checkRestricted(name: string): void;
  /** Allocates `data.length` bytes with the module's allocator and copies `data` there; 0 on failure. */
  allocate(data: Uint8Array): number;
  /** Allocates `size` bytes with the module's allocator (the caller fills them); 0 on failure. */
  allocateSize(size: number): number;
  logLevel(): number;
  log(level: number, message: string): void;
  nowNanos(): bigint;
  /** Writes nowNanos() as a u64 at ptr; false when out of bounds. */
  writeNowNanos(ptr: number): boolean;
  monotonicNanos(): bigint;
  setTickPeriod(ms: number): Status;
  getProperty(path: Uint8Array): { status: Status; value?: Uint8Array };
  setProperty(path: Uint8Array, value: Uint8Array): Status;
  continueStream(type: number): Status;
  closeStream(type: number): Status;
  /** `headers`: keys already lower-cased. */
  sendLocalResponse(code: number, details: string, body: Uint8Array, headers: HeaderPair[], grpcStatus: number): Status;
  setEffectiveContext(id: number): Status;
  done(): Status;
  getStatus(): { code: number; message: Uint8Array };
  buffer(type: number): BufferRef | null;
  /** The header map of `type` for reading or writing in the current (effective) context, or null. */
  map(type: number, mode: "read" | "write"): HeaderMap | null;
  /** True while proxy_on_log runs (missing maps read as NOT_FOUND there, as in Envoy). */
  inAccessLog(): boolean;
  httpCall(upstream: string, headers: HeaderPair[], body: Uint8Array, trailers: HeaderPair[], timeoutMs: number): { status: Status; token: number };
  registerQueue(name: string): number;
  resolveQueue(vmId: string, name: string): number;
  enqueue(token: number, data: Uint8Array): Status;
  dequeue(token: number): { status: Status; data?: Uint8Array };
  env(): ReadonlyArray<readonly [string, string]>;
}

type Fn = (...args: never[]) => unknown;

function copyPairs(pairs: readonly HeaderPair[]): HeaderPair[] {
  const out: HeaderPair[] = new Array(pairs.length);
  for (let i = 0; i < pairs.length; i++) out[i] = [pairs[i]![0], pairs[i]![1]];
  return out;
}

export function createImports(host: AbiHost, abi: AbiVersion): WasmImports {
  const mem = host.mem;
  const guard = (name: string): void => {
    if (host.restricted !== null) host.checkRestricted(name);
  };
  /** cpp-host copyToPointerSize: empty -> (0, 0) without calling the allocator. */
  const copyOut = (data: Uint8Array, ptrPtr: number, sizePtr: number): boolean => {
    let ptr = 0;
    if (data.length > 0) {
      ptr = host.allocate(data);
      if (ptr === 0) return false;
    }
    return mem.writeU32(ptrPtr, ptr) && mem.writeU32(sizePtr, data.length);
  };
  /**
   * Allocates `size` bytes in the VM and writes the pointer and size out (copyToPointerSize without
   * the copy: the caller writes the bytes). Returns the pointer, 0 for size 0 (nothing allocated),
   * or -1 when the allocation or a write failed.
   */
  const allocOut = (size: number, ptrPtr: number, sizePtr: number): number => {
    let ptr = 0;
    if (size > 0) {
      ptr = host.allocateSize(size);
      if (ptr === 0) return -1;
    }
    return mem.writeU32(ptrPtr, ptr) && mem.writeU32(sizePtr, size) ? ptr : -1;
  };
  /** A serialised header map at (ptr, size) as pairs (malformed: []); undefined when out of bounds. */
  const readPairs = (ptr: number, size: number, lowerKeys: boolean): HeaderPair[] | undefined => {
    if (!mem.inBounds(ptr, size)) return undefined;
    return deserializeHeaderMapAt(mem.buffer(), ptr >>> 0, size >>> 0, lowerKeys);
  };
  /**
   * The headers of proxy_send_local_response, keys lower-cased. A byte-equal map of one of the
   * last few replies (RecentBytes) gets fresh pairs of the same strings instead of decoding new
   * ones (the pairs go out in the reply, where their receiver may change them).
   */
  const replyHeaders = new RecentBytes<HeaderPair[]>(REPLY_HEADERS_CACHED, REPLY_HEADERS_CACHED_BYTES);
  const readReplyHeaders = (ptr: number, size: number): HeaderPair[] | undefined => {
    if (!mem.inBounds(ptr, size)) return undefined;
    const p = ptr >>> 0;
    const n = size >>> 0;
    const m = mem.bytes();
    const kept = replyHeaders.find(m, p, n);
    if (kept !== undefined) return copyPairs(kept);
    const pairs = deserializeHeaderMapAt(mem.buffer(), p, n, true);
    if (n <= replyHeaders.maxBytes) replyHeaders.keep(m, p, n, copyPairs(pairs));
    return pairs;
  };
  /**
   * The details of proxy_send_local_response: a byte-equal one of the last few short ones
   * (RecentBytes) gets the same string (strings are immutable) instead of a decode.
   */
  const replyDetails = new RecentBytes<string>(REPLY_DETAILS_CACHED, REPLY_DETAILS_CACHED_BYTES);
  const readReplyDetails = (ptr: number, size: number): string | undefined => {
    const p = ptr >>> 0;
    const n = size >>> 0;
    if (n > replyDetails.maxBytes) return mem.utf8(p, n);
    if (!mem.inBounds(p, n)) return undefined;
    const m = mem.bytes();
    const kept = replyDetails.find(m, p, n);
    if (kept !== undefined) return kept;
    const text = mem.utf8(p, n)!;
    replyDetails.keep(m, p, n, text);
    return text;
  };
  /** proxy_add/replace_header_map_value after their guard: same checks, one map operation apart. */
  const writePair = (type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number, op: "add" | "replace"): number => {
    if (type >>> 0 > MAP_TYPE_MAX) return Status.BAD_ARGUMENT;
    const key = mem.latin1(keyPtr, keySize);
    const value = mem.latin1(valuePtr, valueSize);
    if (key === undefined || value === undefined) return Status.INVALID_MEMORY_ACCESS;
    const map = host.map(type, "write");
    if (!map) return Status.BAD_ARGUMENT;
    map[op](key, value);
    return Status.OK;
  };

  const env: Record<string, Fn> = {
    proxy_log(level: number, ptr: number, size: number): number {
      guard("env.proxy_log");
      if (level >>> 0 > LOG_LEVEL_MAX) return Status.BAD_ARGUMENT;
      const msg = mem.utf8(ptr, size);
      if (msg === undefined) return Status.INVALID_MEMORY_ACCESS;
      host.log(level >>> 0, msg);
      return Status.OK;
    },
    proxy_get_status(codePtr: number, msgPtrPtr: number, msgSizePtr: number): number {
      guard("env.proxy_get_status");
      const s = host.getStatus();
      if (!mem.writeU32(codePtr, s.code)) return Status.INVALID_MEMORY_ACCESS;
      return copyOut(s.message, msgPtrPtr, msgSizePtr) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_set_property(pathPtr: number, pathSize: number, valuePtr: number, valueSize: number): number {
      guard("env.proxy_set_property");
      const path = mem.copy(pathPtr, pathSize);
      const value = mem.copy(valuePtr, valueSize);
      if (!path || !value) return Status.INVALID_MEMORY_ACCESS;
      return host.setProperty(path, value);
    },
    proxy_get_property(pathPtr: number, pathSize: number, valuePtrPtr: number, valueSizePtr: number): number {
      guard("env.proxy_get_property");
      const path = mem.copy(pathPtr, pathSize);
      if (!path) return Status.INVALID_MEMORY_ACCESS;
      const r = host.getProperty(path);
      if (r.status !== Status.OK) return r.status;
      return copyOut(r.value ?? new Uint8Array(0), valuePtrPtr, valueSizePtr) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_send_local_response(
      code: number,
      detailsPtr: number,
      detailsSize: number,
      bodyPtr: number,
      bodySize: number,
      headersPtr: number,
      headersSize: number,
      grpcStatus: number,
    ): number {
      guard("env.proxy_send_local_response");
      const details = readReplyDetails(detailsPtr, detailsSize);
      const body = mem.copy(bodyPtr, bodySize);
      const headers = readReplyHeaders(headersPtr, headersSize);
      if (details === undefined || !body || !headers) return Status.INVALID_MEMORY_ACCESS;
      return host.sendLocalResponse(code >>> 0, details, body, headers, grpcStatus >>> 0);
    },
    proxy_get_shared_data(keyPtr: number, keySize: number, valuePtrPtr: number, valueSizePtr: number, casPtr: number): number {
      guard("env.proxy_get_shared_data");
      if (!mem.inBounds(keyPtr, keySize)) return Status.INVALID_MEMORY_ACCESS;
      const store = host.shared;
      const len = store.readValueAt(mem.bytes(), keyPtr >>> 0, keySize >>> 0);
      if (len < 0) return Status.NOT_FOUND;
      // Take what readValueAt left in the store before the allocator runs (it is VM code).
      const value = store.valueBytes;
      const cas = store.valueCas;
      const ptr = allocOut(len, valuePtrPtr, valueSizePtr);
      if (ptr < 0) return Status.INVALID_MEMORY_ACCESS;
      const m = mem.bytes();
      if (len <= 64) for (let i = 0; i < len; i++) m[ptr + i] = value[i]!;
      else m.set(value, ptr);
      return mem.writeU32(casPtr, cas) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_set_shared_data(keyPtr: number, keySize: number, valuePtr: number, valueSize: number, cas: number): number {
      guard("env.proxy_set_shared_data");
      if (!mem.inBounds(keyPtr, keySize) || !mem.inBounds(valuePtr, valueSize)) return Status.INVALID_MEMORY_ACCESS;
      // Straight from the VM's memory: the store copies both under its lock, and no VM code runs before.
      const m = mem.bytes();
      return host.shared.setAt(m, keyPtr >>> 0, keySize >>> 0, m, valuePtr >>> 0, valueSize >>> 0, cas >>> 0);
    },
    proxy_register_shared_queue(namePtr: number, nameSize: number, tokenPtr: number): number {
      guard("env.proxy_register_shared_queue");
      const name = mem.read(namePtr, nameSize);
      if (!name) return Status.INVALID_MEMORY_ACCESS;
      const token = host.registerQueue(utf8.decode(name));
      return mem.writeU32(tokenPtr, token) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_resolve_shared_queue(vmIdPtr: number, vmIdSize: number, namePtr: number, nameSize: number, tokenPtr: number): number {
      guard("env.proxy_resolve_shared_queue");
      const vmId = mem.read(vmIdPtr, vmIdSize);
      const name = mem.read(namePtr, nameSize);
      if (!vmId || !name) return Status.INVALID_MEMORY_ACCESS;
      const token = host.resolveQueue(utf8.decode(vmId), utf8.decode(name));
      if (token === 0) return Status.NOT_FOUND;
      return mem.writeU32(tokenPtr, token) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_dequeue_shared_queue(token: number, dataPtrPtr: number, dataSizePtr: number): number {
      guard("env.proxy_dequeue_shared_queue");
      const r = host.dequeue(token >>> 0);
      if (r.status !== Status.OK) return r.status;
      return copyOut(r.data!, dataPtrPtr, dataSizePtr) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_enqueue_shared_queue(token: number, dataPtr: number, dataSize: number): number {
      guard("env.proxy_enqueue_shared_queue");
      const data = mem.read(dataPtr, dataSize);
      if (!data) return Status.INVALID_MEMORY_ACCESS;
      return host.enqueue(token >>> 0, data);
    },
    proxy_get_header_map_value(type: number, keyPtr: number, keySize: number, valuePtrPtr: number, valueSizePtr: number): number {
      guard("env.proxy_get_header_map_value");
      if (type >>> 0 > MAP_TYPE_MAX) return Status.BAD_ARGUMENT;
      const key = mem.latin1(keyPtr, keySize);
      if (key === undefined) return Status.INVALID_MEMORY_ACCESS;
      const map = host.map(type, "read");
      if (!map) return host.inAccessLog() ? Status.NOT_FOUND : Status.BAD_ARGUMENT;
      const value = map.get(key);
      if (value === undefined) return Status.NOT_FOUND;
      const ptr = allocOut(value.length, valuePtrPtr, valueSizePtr);
      if (ptr < 0) return Status.INVALID_MEMORY_ACCESS;
      mem.writeLatin1(ptr, value);
      return Status.OK;
    },
    proxy_add_header_map_value(type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number): number {
      guard("env.proxy_add_header_map_value");
      return writePair(type, keyPtr, keySize, valuePtr, valueSize, "add");
    },
    proxy_replace_header_map_value(type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number): number {
      guard("env.proxy_replace_header_map_value");
      return writePair(type, keyPtr, keySize, valuePtr, valueSize, "replace");
    },
    proxy_remove_header_map_value(type: number, keyPtr: number, keySize: number): number {
      guard("env.proxy_remove_header_map_value");
      if (type >>> 0 > MAP_TYPE_MAX) return Status.BAD_ARGUMENT;
      const key = mem.latin1(keyPtr, keySize);
      if (key === undefined) return Status.INVALID_MEMORY_ACCESS;
      const map = host.map(type, "write");
      if (!map) return Status.BAD_ARGUMENT;
      map.remove(key);
      return Status.OK;
    },
    proxy_get_header_map_pairs(type: number, ptrPtr: number, sizePtr: number): number {
      guard("env.proxy_get_header_map_pairs");
      if (type >>> 0 > MAP_TYPE_MAX) return Status.BAD_ARGUMENT;
      // Envoy: an unavailable map reads as an empty one here (headerMapToPairs(nullptr)).
      const map = host.map(type, "read");
      const size = map ? map.serializedSize() : 0;
      // Serialised straight into the VM's memory.
      const ptr = allocOut(size, ptrPtr, sizePtr);
      if (ptr < 0) return Status.INVALID_MEMORY_ACCESS;
      if (size > 0) map!.serializeInto(mem.buffer(), ptr);
      return Status.OK;
    },
    proxy_set_header_map_pairs(type: number, ptr: number, size: number): number {
      guard("env.proxy_set_header_map_pairs");
      if (type >>> 0 > MAP_TYPE_MAX) return Status.BAD_ARGUMENT;
      const pairs = readPairs(ptr, size, false);
      if (!pairs) return Status.INVALID_MEMORY_ACCESS;
      const map = host.map(type, "write");
      if (!map) return Status.BAD_ARGUMENT;
      map.setAll(pairs);
      return Status.OK;
    },
    proxy_get_header_map_size(type: number, sizePtr: number): number {
      guard("env.proxy_get_header_map_size");
      if (type >>> 0 > MAP_TYPE_MAX) return Status.BAD_ARGUMENT;
      // Envoy answers from the mutable map (getMap), i.e. not for callout responses or in on_log.
      const map = host.map(type, "write");
      if (!map) return Status.BAD_ARGUMENT;
      return mem.writeU32(sizePtr, map.byteSize()) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_get_buffer_status(type: number, lengthPtr: number, flagsPtr: number): number {
      guard("env.proxy_get_buffer_status");
      if (type >>> 0 > BUFFER_TYPE_MAX) return Status.BAD_ARGUMENT;
      const buf = host.buffer(type >>> 0);
      if (!buf) return Status.NOT_FOUND;
      if (!mem.writeU32(lengthPtr, buf.bytes().length)) return Status.INVALID_MEMORY_ACCESS;
      return mem.writeU32(flagsPtr, 0) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_get_buffer_bytes(type: number, start: number, length: number, ptrPtr: number, sizePtr: number): number {
      guard("env.proxy_get_buffer_bytes");
      if (type >>> 0 > BUFFER_TYPE_MAX) return Status.BAD_ARGUMENT;
      const buf = host.buffer(type >>> 0);
      if (!buf) return Status.NOT_FOUND;
      // cpp-host: start/length are 64-bit "Words" built from u32 arguments, so start + length
      // cannot overflow: an oversized range is clamped, never BAD_ARGUMENT.
      const bytes = buf.bytes();
      const s = start >>> 0;
      let n = length >>> 0;
      if (s > bytes.length) n = 0;
      else if (s + n > bytes.length) n = bytes.length - s;
      if (n === 0) {
        return mem.writeU32(ptrPtr, 0) && mem.writeU32(sizePtr, 0) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
      }
      return copyOut(n === bytes.length ? bytes : bytes.subarray(s, s + n), ptrPtr, sizePtr) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_set_buffer_bytes(type: number, start: number, length: number, dataPtr: number, dataSize: number): number {
      guard("env.proxy_set_buffer_bytes");
      if (type >>> 0 > BUFFER_TYPE_MAX) return Status.BAD_ARGUMENT;
      const buf = host.buffer(type >>> 0);
      if (!buf) return Status.NOT_FOUND;
      const data = mem.copy(dataPtr, dataSize);
      if (!data) return Status.INVALID_MEMORY_ACCESS;
      if (!buf.set) return Status.BAD_ARGUMENT;
      return buf.set(start >>> 0, length >>> 0, data);
    },
    proxy_http_call(
      upstreamPtr: number,
      upstreamSize: number,
      headersPtr: number,
      headersSize: number,
      bodyPtr: number,
      bodySize: number,
      trailersPtr: number,
      trailersSize: number,
      timeoutMs: number,
      tokenPtr: number,
    ): number {
      guard("env.proxy_http_call");
      const upstream = mem.utf8(upstreamPtr, upstreamSize);
      const body = mem.copy(bodyPtr, bodySize);
      const headers = readPairs(headersPtr, headersSize, false);
      const trailers = readPairs(trailersPtr, trailersSize, false);
      if (upstream === undefined || !body || !headers || !trailers) return Status.INVALID_MEMORY_ACCESS;
      // cpp-host writes the token once before the call to check the pointer.
      if (!mem.writeU32(tokenPtr, 0)) return Status.INVALID_MEMORY_ACCESS;
      const r = host.httpCall(upstream, headers, body, trailers, timeoutMs | 0);
      mem.writeU32(tokenPtr, r.token);
      return r.status;
    },
    proxy_grpc_call(...args: number[]): number {
      guard("env.proxy_grpc_call");
      for (let i = 0; i < 10; i += 2) if (!mem.inBounds(args[i]!, args[i + 1]!)) return Status.INVALID_MEMORY_ACCESS;
      // No gRPC upstream exists in the standalone host: every service is unknown (spec: PARSE_FAILURE).
      return Status.PARSE_FAILURE;
    },
    proxy_grpc_stream(...args: number[]): number {
      guard("env.proxy_grpc_stream");
      for (let i = 0; i < 8; i += 2) if (!mem.inBounds(args[i]!, args[i + 1]!)) return Status.INVALID_MEMORY_ACCESS;
      return Status.PARSE_FAILURE;
    },
    proxy_grpc_close(token: number): number {
      guard("env.proxy_grpc_close");
      const kind = token & 3;
      return kind === 1 || kind === 2 ? Status.NOT_FOUND : Status.BAD_ARGUMENT;
    },
    proxy_grpc_cancel(token: number): number {
      guard("env.proxy_grpc_cancel");
      const kind = token & 3;
      return kind === 1 || kind === 2 ? Status.NOT_FOUND : Status.BAD_ARGUMENT;
    },
    proxy_grpc_send(token: number, msgPtr: number, msgSize: number): number {
      guard("env.proxy_grpc_send");
      if (!mem.inBounds(msgPtr, msgSize)) return Status.INVALID_MEMORY_ACCESS;
      return (token & 3) === 2 ? Status.NOT_FOUND : Status.BAD_ARGUMENT;
    },
    proxy_set_tick_period_milliseconds(period: number): number {
      guard("env.proxy_set_tick_period_milliseconds");
      return host.setTickPeriod(period >>> 0);
    },
    proxy_get_current_time_nanoseconds(resultPtr: number): number {
      guard("env.proxy_get_current_time_nanoseconds");
      return host.writeNowNanos(resultPtr) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_define_metric(type: number, namePtr: number, nameSize: number, idPtr: number): number {
      guard("env.proxy_define_metric");
      const name = mem.copy(namePtr, nameSize);
      if (!name) return Status.INVALID_MEMORY_ACCESS;
      const r = host.metrics.define(type >>> 0, name);
      if (r.status !== Status.OK) return r.status;
      return mem.writeU32(idPtr, r.id) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_increment_metric(id: number, delta: bigint): number {
      guard("env.proxy_increment_metric");
      return host.metrics.increment(id >>> 0, BigInt.asIntN(64, delta));
    },
    proxy_record_metric(id: number, value: bigint): number {
      guard("env.proxy_record_metric");
      return host.metrics.record(id >>> 0, BigInt.asUintN(64, value));
    },
    proxy_get_metric(id: number, resultPtr: number): number {
      guard("env.proxy_get_metric");
      const r = host.metrics.get(id >>> 0);
      if (r.status !== Status.OK) return r.status;
      return mem.writeU64(resultPtr, r.value) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_set_effective_context(id: number): number {
      guard("env.proxy_set_effective_context");
      return host.setEffectiveContext(id >>> 0);
    },
    proxy_done(): number {
      guard("env.proxy_done");
      return host.done();
    },
    proxy_call_foreign_function(namePtr: number, nameSize: number, argsPtr: number, argsSize: number): number {
      guard("env.proxy_call_foreign_function");
      if (!mem.inBounds(namePtr, nameSize) || !mem.inBounds(argsPtr, argsSize)) return Status.INVALID_MEMORY_ACCESS;
      // No foreign functions are registered in the standalone host.
      return Status.NOT_FOUND;
    },
    proxy_continue_stream(type: number): number {
      guard("env.proxy_continue_stream");
      if (type >>> 0 > STREAM_TYPE_MAX) return Status.BAD_ARGUMENT;
      return host.continueStream(type >>> 0);
    },
    proxy_close_stream(type: number): number {
      guard("env.proxy_close_stream");
      if (type >>> 0 > STREAM_TYPE_MAX) return Status.BAD_ARGUMENT;
      return host.closeStream(type >>> 0);
    },
    pthread_equal(a: number, b: number): number {
      guard("env.pthread_equal");
      return a === b ? 1 : 0;
    },
    emscripten_notify_memory_growth(): void {
      guard("env.emscripten_notify_memory_growth");
    },
  };
  if (abi === "0.2.1") {
    env.proxy_get_log_level = (resultPtr: number): number => {
      guard("env.proxy_get_log_level");
      return mem.writeU32(resultPtr, host.logLevel()) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    };
  }

  const imports: WasmImports = { env };
  for (const m of WASI_MODULES) imports[m] = createWasi(host, m);
  return imports;
}

function createWasi(host: AbiHost, module: string): Record<string, Fn> {
  const mem = host.mem;
  const guard = (name: string): void => {
    if (host.restricted !== null) host.checkRestricted(`${module}.${name}`);
  };
  const envBytes = (): Uint8Array[] => host.env().map(([k, v]) => new TextEncoder().encode(`${k}=${v}\u0000`));
  return {
    fd_write(fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
      guard("fd_write");
      let level: number;
      if (fd === 1) level = 2;
      else if (fd === 2) level = 4;
      else return WasiErrno.BADF;
      const parts: Uint8Array[] = [];
      let total = 0;
      for (let i = 0; i < iovsLen >>> 0; i++) {
        const base = mem.readU32(iovs + i * 8);
        const len = mem.readU32(iovs + i * 8 + 4);
        if (base === undefined || len === undefined) return WasiErrno.FAULT;
        if (len !== 0) {
          const part = mem.read(base, len);
          if (!part) return WasiErrno.FAULT;
          parts.push(part);
          total += len;
        }
      }
      if (total > 0) {
        let s = utf8.decode(Buffer.concat(parts));
        if (s.endsWith("\n")) s = s.slice(0, -1);
        host.log(level, s);
      }
      return mem.writeU32(nwrittenPtr, total) ? WasiErrno.SUCCESS : WasiErrno.FAULT;
    },
    fd_read(): number {
      guard("fd_read");
      return WasiErrno.NOSYS;
    },
    fd_seek(): number {
      guard("fd_seek");
      host.log(4, "wasi_unstable fd_seek");
      return WasiErrno.SUCCESS;
    },
    fd_close(): number {
      guard("fd_close");
      host.log(4, "wasi_unstable fd_close");
      return WasiErrno.SUCCESS;
    },
    fd_fdstat_get(fd: number, statPtr: number): number {
      guard("fd_fdstat_get");
      if (fd !== 1 && fd !== 2) return WasiErrno.BADF;
      const stat = new Uint8Array(24);
      stat[8] = 64; // fs_rights_base = __WASI_RIGHTS_FD_WRITE
      mem.write(statPtr, stat);
      return WasiErrno.SUCCESS;
    },
    environ_get(arrayPtr: number, bufPtr: number): number {
      guard("environ_get");
      let a = arrayPtr >>> 0;
      let b = bufPtr >>> 0;
      for (const e of envBytes()) {
        if (!mem.writeU32(a, b)) return WasiErrno.FAULT;
        if (!mem.write(b, e)) return WasiErrno.FAULT;
        b += e.length;
        a += 4;
      }
      return WasiErrno.SUCCESS;
    },
    environ_sizes_get(countPtr: number, sizePtr: number): number {
      guard("environ_sizes_get");
      const e = envBytes();
      if (!mem.writeU32(countPtr, e.length)) return WasiErrno.FAULT;
      return mem.writeU32(sizePtr, e.reduce((n, x) => n + x.length, 0)) ? WasiErrno.SUCCESS : WasiErrno.FAULT;
    },
    args_get(): number {
      guard("args_get");
      return WasiErrno.SUCCESS;
    },
    args_sizes_get(argcPtr: number, sizePtr: number): number {
      guard("args_sizes_get");
      if (!mem.writeU32(argcPtr, 0)) return WasiErrno.FAULT;
      return mem.writeU32(sizePtr, 0) ? WasiErrno.SUCCESS : WasiErrno.FAULT;
    },
    clock_time_get(clockId: number, _precision: bigint, resultPtr: number): number {
      guard("clock_time_get");
      let t: bigint;
      if (clockId === 0) t = host.nowNanos();
      else if (clockId === 1) t = host.monotonicNanos();
      else return WasiErrno.NOTSUP;
      return mem.writeU64(resultPtr, t) ? WasiErrno.SUCCESS : WasiErrno.FAULT;
    },
    random_get(bufPtr: number, bufLen: number): number {
      guard("random_get");
      const n = bufLen >>> 0;
      if (n > RANDOM_GET_MAX_BYTES) return WasiErrno.INVAL;
      if (n === 0) return WasiErrno.SUCCESS;
      const bytes = new Uint8Array(n);
      webcrypto.getRandomValues(bytes);
      return mem.write(bufPtr, bytes) ? WasiErrno.SUCCESS : WasiErrno.FAULT;
    },
    proc_exit(): void {
      guard("proc_exit");
      // cpp-host only reports it; the module usually traps right after.
      host.log(4, "wasi_unstable proc_exit");
    },
    path_open(): number {
      guard("path_open");
      return WasiErrno.NOENT;
    },
    fd_prestat_get(): number {
      guard("fd_prestat_get");
      return WasiErrno.BADF;
    },
    fd_prestat_dir_name(): number {
      guard("fd_prestat_dir_name");
      return WasiErrno.NOSYS;
    },
  };
}

