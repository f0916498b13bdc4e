// proxy-wasm ABI v0.2.1 constants and signature tables.
// Source: github.com/proxy-wasm/spec abi-versions/v0.2.1/README.md, and the host library that
// Envoy embeds (proxy-wasm/proxy-wasm-cpp-host: include/proxy-wasm/wasm_vm.h, src/exports.cc).

export const Status = {
  OK: 0,
  NOT_FOUND: 1,
  BAD_ARGUMENT: 2,
  SERIALIZATION_FAILURE: 3,
  PARSE_FAILURE: 4,
  INVALID_MEMORY_ACCESS: 6,
  EMPTY: 7,
  CAS_MISMATCH: 8,
  INTERNAL_FAILURE: 10,
  /** cpp-host's WasmResult::BrokenConnection; what Envoy's proxy_get_status reports for a failed callout. */
  BROKEN_CONNECTION: 11,
  UNIMPLEMENTED: 12,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

export const Action = { CONTINUE: 0, PAUSE: 1 } as const;

export const BufferType = {
  HTTP_REQUEST_BODY: 0,
  HTTP_RESPONSE_BODY: 1,
  DOWNSTREAM_DATA: 2,
  UPSTREAM_DATA: 3,
  HTTP_CALL_RESPONSE_BODY: 4,
  GRPC_CALL_MESSAGE: 5,
  VM_CONFIGURATION: 6,
  PLUGIN_CONFIGURATION: 7,
  FOREIGN_FUNCTION_ARGUMENTS: 8,
} as const;
export const BUFFER_TYPE_MAX = 8;

export const MapType = {
  HTTP_REQUEST_HEADERS: 0,
  HTTP_REQUEST_TRAILERS: 1,
  HTTP_RESPONSE_HEADERS: 2,
  HTTP_RESPONSE_TRAILERS: 3,
  GRPC_CALL_INITIAL_METADATA: 4,
  GRPC_CALL_TRAILING_METADATA: 5,
  HTTP_CALL_RESPONSE_HEADERS: 6,
  HTTP_CALL_RESPONSE_TRAILERS: 7,
} as const;
export const MAP_TYPE_MAX = 7;

export const LogLevel = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, CRITICAL: 5 } as const;
export const LOG_LEVEL_MAX = 5;
export const LOG_LEVEL_NAMES = ["trace", "debug", "info", "warn", "error", "critical"] as const;

export const MetricType = { COUNTER: 0, GAUGE: 1, HISTOGRAM: 2 } as const;
export type MetricType = (typeof MetricType)[keyof typeof MetricType];
export const METRIC_TYPE_MAX = 2;

export const StreamType = { HTTP_REQUEST: 0, HTTP_RESPONSE: 1, DOWNSTREAM: 2, UPSTREAM: 3 } as const;
export const STREAM_TYPE_MAX = 3;

export const PeerType = { UNKNOWN: 0, LOCAL: 1, REMOTE: 2 } as const;

export const WasiErrno = {
  SUCCESS: 0,
  BADF: 8,
  FAULT: 21,
  INVAL: 28,
  NOENT: 44,
  NOSYS: 52,
  NOTSUP: 58,
  NOTCAPABLE: 76,
} as const;

/** Limits of cpp-host (include/proxy-wasm/limits.h). */
export const PAIRS_MAX_BYTES = 1024 * 1024;
export const PAIRS_MAX_COUNT = 1024;
export const RANDOM_GET_MAX_BYTES = 64 * 1024;

/** grpc_status value meaning "not a gRPC reply" (the SDKs pass -1). */
export const GRPC_STATUS_NONE = 0xffffffff;

// ---------------------------------------------------------------------------------------------
// Signatures. A Wasm value type is written as in the text format.
export type ValType = "i32" | "i64" | "f32" | "f64" | "v128" | "funcref" | "externref" | "unknown";
export interface FuncSig {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

function sig(params: number | ValType[], results: 0 | 1 | ValType[] = 0): FuncSig {
  const p: ValType[] = typeof params === "number" ? Array.from({ length: params }, () => "i32" as const) : params;
  const r: ValType[] = Array.isArray(results) ? results : results === 1 ? ["i32"] : [];
  return { params: p, results: r };
}

export function formatSig(s: FuncSig): string {
  return `(${s.params.join(", ")}) -> (${s.results.join(", ")})`;
}

export function sameSig(a: FuncSig, b: FuncSig): boolean {
  return (
    a.params.length === b.params.length &&
    a.results.length === b.results.length &&
    a.params.every((t, i) => t === b.params[i]) &&
    a.results.every((t, i) => t === b.results[i])
  );
}

export const ABI_MARKER_0_2_1 = "proxy_abi_version_0_2_1";
export const ABI_MARKER_0_2_0 = "proxy_abi_version_0_2_0";
export const ABI_MARKER_PREFIX = "proxy_abi_version_";
export type AbiVersion = "0.2.0" | "0.2.1";

/**
 * Every export the host looks up under ABI 0.2.x, with the exact type cpp-host checks
 * (WasmCallWord<N> = N i32 params -> i32; WasmCallVoid<N> = N i32 params -> nothing).
 * A present export with another type fails the load ("Bad function signature for: NAME").
 */
export const EXPORT_SIGNATURES: Readonly<Record<string, FuncSig>> = {
  _initialize: sig(0),
  _start: sig(0),
  main: sig(2, 1),
  malloc: sig(1, 1),
  proxy_on_memory_allocate: sig(1, 1),
  proxy_validate_configuration: sig(2, 1),
  proxy_on_vm_start: sig(2, 1),
  proxy_on_configure: sig(2, 1),
  proxy_on_tick: sig(1),
  proxy_on_context_create: sig(2),
  proxy_on_new_connection: sig(1, 1),
  proxy_on_downstream_data: sig(3, 1),
  proxy_on_upstream_data: sig(3, 1),
  proxy_on_downstream_connection_close: sig(2),
  proxy_on_upstream_connection_close: sig(2),
  proxy_on_request_headers: sig(3, 1),
  proxy_on_request_body: sig(3, 1),
  proxy_on_request_trailers: sig(2, 1),
  proxy_on_request_metadata: sig(2, 1),
  proxy_on_response_headers: sig(3, 1),
  proxy_on_response_body: sig(3, 1),
  proxy_on_response_trailers: sig(2, 1),
  proxy_on_response_metadata: sig(2, 1),
  proxy_on_http_call_response: sig(5),
  proxy_on_grpc_receive: sig(3),
  proxy_on_grpc_close: sig(3),
  proxy_on_grpc_receive_initial_metadata: sig(3),
  proxy_on_grpc_receive_trailing_metadata: sig(3),
  proxy_on_queue_ready: sig(2),
  proxy_on_foreign_function: sig(3),
  proxy_on_done: sig(1, 1),
  proxy_on_log: sig(1),
  proxy_on_delete: sig(1),
};

/** Host functions in module "env" (cpp-host FOR_ALL_HOST_FUNCTIONS + the 0.2.x specific ones). */
export const ENV_IMPORT_SIGNATURES: Readonly<Record<string, FuncSig>> = {
  proxy_log: sig(3, 1),
  proxy_get_status: sig(3, 1),
  proxy_set_property: sig(4, 1),
  proxy_get_property: sig(4, 1),
  proxy_send_local_response: sig(8, 1),
  proxy_get_shared_data: sig(5, 1),
  proxy_set_shared_data: sig(5, 1),
  proxy_register_shared_queue: sig(3, 1),
  proxy_resolve_shared_queue: sig(5, 1),
  proxy_dequeue_shared_queue: sig(3, 1),
  proxy_enqueue_shared_queue: sig(3, 1),
  proxy_get_header_map_value: sig(5, 1),
  proxy_add_header_map_value: sig(5, 1),
  proxy_replace_header_map_value: sig(5, 1),
  proxy_remove_header_map_value: sig(3, 1),
  proxy_get_header_map_pairs: sig(3, 1),
  proxy_set_header_map_pairs: sig(3, 1),
  proxy_get_header_map_size: sig(2, 1),
  proxy_get_buffer_status: sig(3, 1),
  proxy_get_buffer_bytes: sig(5, 1),
  proxy_set_buffer_bytes: sig(5, 1),
  proxy_http_call: sig(10, 1),
  proxy_grpc_call: sig(12, 1),
  proxy_grpc_stream: sig(9, 1),
  proxy_grpc_close: sig(1, 1),
  proxy_grpc_cancel: sig(1, 1),
  proxy_grpc_send: sig(4, 1),
  proxy_set_tick_period_milliseconds: sig(1, 1),
  proxy_get_current_time_nanoseconds: sig(1, 1),
  proxy_define_metric: sig(4, 1),
  proxy_increment_metric: sig(["i32", "i64"], 1),
  proxy_record_metric: sig(["i32", "i64"], 1),
  proxy_get_metric: sig(2, 1),
  proxy_set_effective_context: sig(1, 1),
  proxy_done: sig(0, 1),
  proxy_call_foreign_function: sig(6, 1),
  // ABI 0.2.x only:
  proxy_continue_stream: sig(1, 1),
  proxy_close_stream: sig(1, 1),
  // ABI 0.2.1 only:
  proxy_get_log_level: sig(1, 1),
  // Emscripten helpers cpp-host always registers:
  pthread_equal: sig(2, 1),
  emscripten_notify_memory_growth: sig(1),
};

/** Imports that exist only with the 0.2.1 marker. */
export const ENV_IMPORTS_0_2_1_ONLY: ReadonlySet<string> = new Set(["proxy_get_log_level"]);

/** WASI functions cpp-host registers, under both "wasi_snapshot_preview1" and "wasi_unstable". */
export const WASI_IMPORT_SIGNATURES: Readonly<Record<string, FuncSig>> = {
  fd_write: sig(4, 1),
  fd_read: sig(4, 1),
  fd_seek: sig(["i32", "i64", "i32", "i32"], 1),
  fd_close: sig(1, 1),
  fd_fdstat_get: sig(2, 1),
  environ_get: sig(2, 1),
  environ_sizes_get: sig(2, 1),
  args_get: sig(2, 1),
  args_sizes_get: sig(2, 1),
  clock_time_get: sig(["i32", "i64", "i32"], 1),
  random_get: sig(2, 1),
  proc_exit: sig(1),
  path_open: sig(["i32", "i32", "i32", "i32", "i32", "i64", "i64", "i32", "i32"], 1),
  fd_prestat_get: sig(2, 1),
  fd_prestat_dir_name: sig(3, 1),
};
export const WASI_MODULES: readonly string[] = ["wasi_snapshot_preview1", "wasi_unstable"];

/**
 * Host calls allowed while `_initialize`/`main`/`_start` run (cpp-host WasmBase::startVm).
 * Anything else traps with "restricted_callback" there, as on Envoy's V8 runtime.
 */
export const ALLOWED_DURING_START: ReadonlySet<string> = new Set([
  "env.proxy_log",
  ...WASI_MODULES.flatMap((m) =>
    [
      "fd_write",
      "args_sizes_get",
      "args_get",
      "environ_sizes_get",
      "environ_get",
      "fd_prestat_get",
      "fd_prestat_dir_name",
      "clock_time_get",
      "random_get",
    ].map((f) => `${m}.${f}`),
  ),
]);

/** Host calls allowed inside the module's allocator (cpp-host WasmBase::allocMemory). */
export const ALLOWED_DURING_ALLOC: ReadonlySet<string> = new Set([
  "env.proxy_log",
  ...WASI_MODULES.flatMap((m) => ["fd_write", "clock_time_get"].map((f) => `${m}.${f}`)),
]);

/** Context id of the VM context (used for start-up and allocator calls). */
export const VM_CONTEXT_ID = 0;
/** Root (plugin) context id: the first id the host allocates in every VM. */
export const ROOT_CONTEXT_ID = 1;
