// Enumerations of proxy-wasm ABI v0.2.1 ("Types" in the spec).

export namespace Status {
  export const OK: u32 = 0;
  export const NOT_FOUND: u32 = 1;
  export const BAD_ARGUMENT: u32 = 2;
  export const SERIALIZATION_FAILURE: u32 = 3;
  export const PARSE_FAILURE: u32 = 4;
  export const INVALID_MEMORY_ACCESS: u32 = 6;
  export const EMPTY: u32 = 7;
  export const CAS_MISMATCH: u32 = 8;
  export const INTERNAL_FAILURE: u32 = 10;
  export const UNIMPLEMENTED: u32 = 12;
}

export namespace Action {
  export const CONTINUE: u32 = 0;
  export const PAUSE: u32 = 1;
}

export namespace LogLevel {
  export const TRACE: u32 = 0;
  export const DEBUG: u32 = 1;
  export const INFO: u32 = 2;
  export const WARN: u32 = 3;
  export const ERROR: u32 = 4;
  export const CRITICAL: u32 = 5;
}

export namespace BufferType {
  export const HTTP_REQUEST_BODY: u32 = 0;
  export const HTTP_RESPONSE_BODY: u32 = 1;
  export const DOWNSTREAM_DATA: u32 = 2;
  export const UPSTREAM_DATA: u32 = 3;
  export const HTTP_CALL_RESPONSE_BODY: u32 = 4;
  export const GRPC_CALL_MESSAGE: u32 = 5;
  export const VM_CONFIGURATION: u32 = 6;
  export const PLUGIN_CONFIGURATION: u32 = 7;
}

export namespace MapType {
  export const HTTP_REQUEST_HEADERS: u32 = 0;
  export const HTTP_REQUEST_TRAILERS: u32 = 1;
  export const HTTP_RESPONSE_HEADERS: u32 = 2;
  export const HTTP_RESPONSE_TRAILERS: u32 = 3;
  export const HTTP_CALL_RESPONSE_HEADERS: u32 = 6;
  export const HTTP_CALL_RESPONSE_TRAILERS: u32 = 7;
}

export namespace StreamType {
  export const HTTP_REQUEST: u32 = 0;
  export const HTTP_RESPONSE: u32 = 1;
}

export namespace MetricType {
  export const COUNTER: u32 = 0;
  export const GAUGE: u32 = 1;
  export const HISTOGRAM: u32 = 2;
}

/** gRPC status to pass to proxy_send_local_response for a plain HTTP reply. */
export const GRPC_STATUS_NONE: i32 = -1;
