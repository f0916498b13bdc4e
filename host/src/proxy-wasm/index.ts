// Standalone proxy-wasm ABI v0.2.1 host: runs the project's filter .wasm (the file Envoy loads)
// inside Node, with the behaviour of Envoy's host library (proxy-wasm-cpp-host).
//
//   VmPool (pool.ts)            N VMs like Envoy worker threads, inline or in worker_threads
//   ProxyWasmVm (vm.ts)         one VM: load/link checks, start-up, plugin start, requests, ticks
//   runStream (http.ts)         the HTTP stream state machine (pause/continue/local reply/...)
//   createImports (abi.ts)      the host functions (env + WASI), bounds-checked marshalling
//   SharedDataStore             proxy-wasm shared data with CAS over a SharedArrayBuffer
//   MetricsRegistry             filter metrics over a SharedArrayBuffer; renderPrometheus()
//   header-map.ts               the ABI's header map serialisation

export { VmPool, type PoolOptions } from "./pool.ts";
export { ProxyWasmVm, type VmOptions } from "./vm.ts";
export { compileFilter, type CompiledFilter, type FilterSource } from "./compile.ts";
export { SharedDataStore, type SharedDataOptions, type SharedDataStats, type SharedValue } from "./shared-data.ts";
export { SharedQueues } from "./shared-queue.ts";
export {
  envoyStatName,
  exportedName,
  HISTOGRAM_BUCKETS,
  type MetricSnapshot,
  MetricsRegistry,
  renderPrometheus,
  type PrometheusOptions,
  VmMetrics,
} from "./metrics.ts";
export { decodeHeaderMap, deserializeHeaderMap, HeaderMap, serializeHeaderMap, type HeaderPair } from "./header-map.ts";
export { defaultHttpCall, jsonStderrLog, realClock } from "./defaults.ts";
export { spawnWorker } from "./worker-spawn.ts";
export * from "./constants.ts";
export * from "./errors.ts";
export type {
  Clock,
  ContinueOutcome,
  HttpCallHandler,
  HttpCallResult,
  HttpOutcome,
  HttpRequest,
  LocalReply,
  LogSink,
  PluginConfig,
  UpstreamHandler,
  UpstreamResponse,
  VmFailure,
} from "./types.ts";
export { parseModuleInfo, validateModule, type ModuleInfo, type ValidatedModule } from "./module-info.ts";
export { wasmApi, type WasmModule } from "./wasm-api.ts";
