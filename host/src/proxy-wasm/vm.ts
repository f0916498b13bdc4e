// ProxyWasmVm: one proxy-wasm VM (what one Envoy worker thread runs), hosting one plugin.
//
// Lifecycle (cpp-host WasmBase/ContextBase, Envoy Context):
//   create():     validate + instantiate with exactly the host's imports, then `_initialize` (and
//                 `main(0, 0)` if exported) or `_start`, with only proxy_log and a few WASI calls
//                 allowed (anything else traps "restricted_callback": the load fails).
//   startPlugin(): proxy_on_context_create(1, 0), proxy_on_vm_start(1, vm_config_size),
//                 proxy_on_configure(1, plugin_config_size); false -> PluginStartError.
//   requests:     see http.ts (context ids 2, 3, ...).
//   tick():       proxy_on_tick(1); autoTick runs it every period set by the filter.
//   close():      active streams are reset, then proxy_on_done(1) (waiting for proxy_done if it
//                 returns false), proxy_on_log(1), proxy_on_delete(1). discard() drops a canary VM
//                 without calling it (Envoy does not call on_done on the configuration canary).
// A trap in any callback kills the VM for good (vm.failure); requests then get { kind: "vm_failed" }.

import type { AbiHost, BufferRef } from "./abi.ts";
import { createImports } from "./abi.ts";
import { bufferFor, getProperty as accessGetProperty, mapFor, setProperty as accessSetProperty } from "./access.ts";
import { Callouts } from "./callouts.ts";
import { compileFilter, type CompiledFilter, type FilterSource } from "./compile.ts";
import { ContextTable } from "./context-table.ts";
import {
  ALLOWED_DURING_ALLOC,
  ALLOWED_DURING_START,
  LogLevel,
  ROOT_CONTEXT_ID,
  Status,
  StreamType,
  VM_CONTEXT_ID,
} from "./constants.ts";
import { defaultHttpCall, jsonStderrLog, realClock, realNowNanosParts } from "./defaults.ts";
import { HostTrap, PluginStartError, VmClosedError, VmStartError } from "./errors.ts";
import type { HeaderMap, HeaderPair } from "./header-map.ts";
import { VmMemory } from "./memory.ts";
import { MetricsRegistry, VmMetrics } from "./metrics.ts";
import type { ValidatedModule } from "./module-info.ts";
import { SharedDataStore } from "./shared-data.ts";
import { SharedQueues } from "./shared-queue.ts";
import { type AnyContext, RootContext, StreamContext } from "./stream.ts";
import { runStream, type StreamSteps } from "./http.ts";
import { isWasmMemory, wasmApi, type WasmInstance, type WasmMemory } from "./wasm-api.ts";
import type { Clock, HttpCallHandler, HttpOutcome, HttpRequest, LogSink, PluginConfig, UpstreamHandler, VmFailure } from "./types.ts";

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);
const WHITESPACE = /\s/;
const WHITESPACE_ALL = /\s/g;
// A promise's resolve function without a closure per request: the executor runs synchronously.
let capturedResolve: (o: HttpOutcome) => void = () => {};
function captureResolve(resolve: (o: HttpOutcome) => void): void {
  capturedResolve = resolve;
}
/** writeNowNanos' out-parameter: [low 32 bits, high 32 bits]. */
const nowParts = new Float64Array(2);

export interface VmOptions {
  wasm: FilterSource;
  /** Property plugin_vm_id (Envoy vm_config.vm_id). Default "". */
  vmId?: string;
  /** Property plugin_name (Envoy plugin name). Default "". */
  pluginName?: string;
  /** Shared data store (share one between the VMs of a process). Default: a new 4 MiB store. */
  shared?: SharedDataStore;
  /** Metrics registry (share one between the VMs of a process). Default: a new registry. */
  metrics?: MetricsRegistry;
  queues?: SharedQueues;
  /**
   * Known upstreams (Envoy clusters) for proxy_http_call: name -> base URL. Any other name is
   * BAD_ARGUMENT. Without `httpCall`, calls go to the base URL (node:http).
   */
  upstreams?: Readonly<Record<string, string>>;
  /** Callout transport (default: defaultHttpCall over node:http); null or rejection = failed call. */
  httpCall?: HttpCallHandler;
  /** Response path: when set, a request the filter lets through is sent here, and the answer goes through on_response_*. */
  upstream?: UpstreamHandler;
  clock?: Clock;
  log?: LogSink;
  /** Host log level (proxy_get_log_level; messages below it are dropped). Default INFO (2). */
  logLevel?: number;
  /** A stream paused for longer than this ends with { kind: "timeout" }. Default 15000; 0 = never. */
  requestTimeoutMs?: number;
  /**
   * Where the callout token counter starts (default 0: the first token is 4). Tests start it
   * near 2^32 to see a filter through the counter's wrap, where the token after 0xFFFFFFFC is 0.
   */
  firstCalloutToken?: number;
  /** Call proxy_on_tick(1) every tick period on a timer (unref'd). Default false. */
  autoTick?: boolean;
  /** WASI environment variables (default none). */
  env?: Readonly<Record<string, string>>;
  /** Label used by the default log sink. */
  label?: string;
  /**
   * Test-only instrumentation imports by module (e.g. AssemblyScript's "rtrace" allocation hooks
   * of an ASC_RTRACE build). Envoy provides no such imports: never use it for a production module.
   */
  instrumentation?: Record<string, Record<string, (...args: number[]) => unknown>>;
  /**
   * Test and bench only: called before every host function the module calls ("env.proxy_log",
   * "wasi_snapshot_preview1.clock_time_get") and every callback into it ("proxy_on_request_body").
   * Wraps every import and export once at instantiation; nothing is wrapped when unset.
   */
  traceCalls?: (name: string) => void;
  /**
   * Test only: replaces host functions ("env.proxy_get_buffer_bytes") with what the given function
   * makes of the original, e.g. to act like another host does. Nothing is replaced when unset.
   */
  interceptImports?: Record<string, (original: (...args: number[]) => number) => (...args: number[]) => number>;
  /**
   * End-of-stream callback order. "spec" (default): proxy_on_done, then (when it returns true, or
   * after proxy_done) proxy_on_log and proxy_on_delete. "envoy": what current Envoy does for HTTP
   * streams (ConnectionManagerImpl::doDeferredStreamDestroy runs the access log before
   * destroyFilters): proxy_on_log, then proxy_on_done (its result ignored), then proxy_on_delete.
   * A filter should work with both.
   */
  streamLifecycle?: "spec" | "envoy";
  /**
   * Envoy sends a local reply made in the request phase through every encoder filter, the sending
   * filter included (FilterManager::sendLocalReplyViaFilterChain -> encodeHeaders(nullptr, ...)):
   * its proxy_on_response_headers/body then see (and may change) the reply, with ":status" in the
   * response headers. Default false: the reply goes out as the filter made it.
   */
  localReplyThroughFilter?: boolean;
}

/** `fns` with every function wrapped to report `prefix + name` first (keeps each one's arity). */
function traced(fns: Record<string, unknown>, prefix: string, trace: (name: string) => void): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(fns)) {
    if (typeof f !== "function") {
      out[name] = f;
      continue;
    }
    const label = prefix + name;
    const fn = f as (...a: unknown[]) => unknown;
    const w = (...a: unknown[]): unknown => {
      trace(label);
      return fn(...a);
    };
    Object.defineProperty(w, "length", { value: fn.length });
    out[name] = w;
  }
  return out;
}

const RESPONSE_CALLBACKS = ["proxy_on_response_headers", "proxy_on_response_body", "proxy_on_response_trailers"];

function toBytes(x: Uint8Array | string | undefined): Uint8Array {
  if (x === undefined) return EMPTY;
  return typeof x === "string" ? utf8.encode(x) : x;
}

export class ProxyWasmVm implements AbiHost {
  readonly mem = new VmMemory();
  readonly shared: SharedDataStore;
  readonly metrics: VmMetrics;
  readonly queues: SharedQueues;
  readonly validated: ValidatedModule;
  readonly options: VmOptions;
  restricted: ReadonlySet<string> | null = null;
  /** Set when the VM trapped; it is dead for good. */
  failure: VmFailure | null = null;
  /** Period set by proxy_set_tick_period_milliseconds (0 = none). */
  tickPeriodMs = 0;
  lastCriticalLog: string | null = null;
  /** The filter's last error or critical log line (the reason it gives for refusing a configuration). */
  private lastErrorLog: string | null = null;
  /** The module exports a response callback (else a local reply has nothing to run through). */
  hasResponseCallbacks = false;

  private restrictedWhy = "";
  private allocatorWhy = "";
  private exports: Record<string, (...args: number[]) => number> = {};
  /** Exported functions with their parameter counts (Function#length is a native getter: read it once). */
  private readonly callbacks = new Map<string, { fn: (...args: number[]) => number; arity: number }>();
  private allocFn: (size: number) => number = () => 0;
  /** Live contexts by id (streams that have not finished are its activeStreams()). */
  readonly contexts = new ContextTable();
  private nextContextId = 1;
  currentContextId = VM_CONTEXT_ID;
  private effectiveContextId = 0;
  currentCallback = "";
  private depth = 0;
  private trapOrigin: string | undefined;
  /** Deferred actions: a function, or a stream to wake (no closure per local reply or continue). */
  private readonly after: Array<(() => void) | StreamContext> = [];
  private runningAfter = false;
  private started = false;
  private closed = false;
  private config: { rootIdName: string; vmConfig: Uint8Array; pluginConfig: Uint8Array } = {
    rootIdName: "",
    vmConfig: EMPTY,
    pluginConfig: EMPTY,
  };
  private tickTimer: NodeJS.Timeout | undefined;
  private readonly callouts: Callouts;
  private readonly failureListeners: Array<(f: VmFailure) => void> = [];
  private readonly sink: LogSink;
  private readonly clock: Clock;
  private readonly queueNotify = (token: number): void => this.onQueueReady(token);

  private constructor(options: VmOptions, compiled: CompiledFilter) {
    this.options = options;
    this.validated = compiled.validated;
    this.shared = options.shared ?? SharedDataStore.create({ bytes: 4 * 1024 * 1024, maxKeys: 1024 });
    this.metrics = new VmMetrics(options.metrics ?? MetricsRegistry.create());
    this.queues = options.queues ?? new SharedQueues();
    this.sink = options.log ?? jsonStderrLog(options.label);
    this.clock = options.clock ?? realClock;
    this.callouts = new Callouts(options.firstCalloutToken ?? 0, {
      upstreams: () => options.upstreams ?? {},
      handler: () => options.httpCall ?? defaultHttpCall(options.upstreams ?? {}),
      alive: () => !this.failure && !this.closed && this.exports.proxy_on_http_call_response !== undefined,
      deliver: (token, nh, bs, nt) => {
        this.callVm("proxy_on_http_call_response", ROOT_CONTEXT_ID, ROOT_CONTEXT_ID, token, nh, bs, nt);
      },
    });
  }

  /** Loads the module and runs its start-up functions. Throws ModuleLoadError, ModuleLinkError or VmStartError. */
  static async create(options: VmOptions): Promise<ProxyWasmVm> {
    const compiled = await compileFilter(options.wasm, new Set(Object.keys(options.instrumentation ?? {})));
    const vm = new ProxyWasmVm(options, compiled);
    await vm.instantiate(compiled);
    return vm;
  }

  private async instantiate(compiled: CompiledFilter): Promise<void> {
    const imports = createImports(this, this.validated.abiVersion);
    for (const [mod, fns] of Object.entries(this.options.instrumentation ?? {})) imports[mod] = { ...(imports[mod] ?? {}), ...fns };
    for (const [label, make] of Object.entries(this.options.interceptImports ?? {})) {
      const dot = label.indexOf(".");
      const fns = imports[label.slice(0, dot)];
      const original = fns?.[label.slice(dot + 1)];
      if (typeof original !== "function") throw new Error(`interceptImports: no host function ${label}`);
      fns![label.slice(dot + 1)] = make(original as (...args: number[]) => number);
    }
    const trace = this.options.traceCalls;
    if (trace) for (const [mod, fns] of Object.entries(imports)) imports[mod] = traced(fns, `${mod}.`, trace);
    let importedMemory: WasmMemory | undefined;
    for (const imp of this.validated.info.imports) {
      if (imp.kind === "memory" && imp.limits) {
        const d: { initial: number; maximum?: number; shared?: boolean } = { initial: imp.limits.min };
        if (imp.limits.max !== undefined) d.maximum = imp.limits.max;
        if (imp.limits.shared) d.shared = true;
        importedMemory = new wasmApi.Memory(d);
        (imports[imp.module] ??= {})[imp.name] = importedMemory;
      } else if (imp.kind === "table" && imp.limits) {
        const d: { element: string; initial: number; maximum?: number } = { element: imp.tableElement === "externref" ? "externref" : "anyfunc", initial: imp.limits.min };
        if (imp.limits.max !== undefined) d.maximum = imp.limits.max;
        (imports[imp.module] ??= {})[imp.name] = new wasmApi.Table(d);
      }
    }
    // A Wasm start section would run here, without any context: no host call is allowed.
    this.restricted = new Set();
    this.restrictedWhy = "during instantiation (Wasm start section)";
    let instance: WasmInstance;
    try {
      instance = await wasmApi.instantiate(compiled.module, imports);
    } catch (e) {
      throw new VmStartError(`Failed to instantiate Wasm module: ${(e as Error).message}`, { cause: e });
    } finally {
      this.restricted = null;
    }
    const ex = trace ? traced(instance.exports, "", trace) : instance.exports;
    let memory: WasmMemory | undefined = isWasmMemory(ex.memory) ? ex.memory : undefined;
    memory ??= Object.values(ex).find(isWasmMemory) ?? importedMemory;
    if (!memory) throw new VmStartError("Wasm module has no memory");
    this.mem.attach(memory);
    for (const [name, v] of Object.entries(ex)) {
      if (typeof v !== "function") continue;
      this.exports[name] = v as (...a: number[]) => number;
      this.callbacks.set(name, { fn: v as (...a: number[]) => number, arity: v.length });
    }
    this.hasResponseCallbacks = RESPONSE_CALLBACKS.some((name) => this.callbacks.has(name));
    this.allocFn = this.exports[this.validated.allocator]!;
    this.allocatorWhy = `inside the allocator (${this.validated.allocator})`;

    this.restricted = ALLOWED_DURING_START;
    this.restrictedWhy = "during _initialize/main/_start (only proxy_log and some WASI calls are allowed there)";
    try {
      if (this.exports._initialize) {
        this.callVm("_initialize", VM_CONTEXT_ID);
        if (!this.failure && this.exports.main) this.callVm("main", VM_CONTEXT_ID, 0, 0);
      } else if (this.exports._start) {
        this.callVm("_start", VM_CONTEXT_ID);
      }
    } finally {
      this.restricted = null;
    }
    if (this.failure) throw new VmStartError(`Wasm module start-up failed: ${this.failure.error}`);
  }

  /** (A method, so that TypeScript does not narrow `failure` across VM calls.) */
  failed(): VmFailure | null {
    return this.failure;
  }

  get abiVersion(): string {
    return this.validated.abiVersion;
  }

  get isStarted(): boolean {
    return this.started;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onFailure(listener: (f: VmFailure) => void): void {
    this.failureListeners.push(listener);
  }

  /** on_context_create(1, 0), on_vm_start, on_configure. Throws PluginStartError. */
  startPlugin(config: PluginConfig = {}): void {
    if (this.started) throw new Error("startPlugin: already started");
    if (this.failure) throw new PluginStartError("context_create", `VM failed: ${this.failure.error}`);
    this.config = { rootIdName: config.rootIdName ?? "", vmConfig: toBytes(config.vmConfig), pluginConfig: toBytes(config.pluginConfig) };
    const root = new RootContext(this.allocContextId());
    this.contexts.set(root);
    this.callVm("proxy_on_context_create", root.id, root.id, 0);
    if (this.failed()) throw new PluginStartError("context_create", `proxy_on_context_create failed: ${this.failed()!.error}`);
    const vmStart = this.callVm("proxy_on_vm_start", root.id, root.id, this.config.vmConfig.length);
    if (this.failed()) throw new PluginStartError("vm_start", `proxy_on_vm_start failed: ${this.failed()!.error}`);
    if (vmStart === 0) throw new PluginStartError("vm_start", `proxy_on_vm_start returned false (the VM configuration was rejected)${this.startErrorLog()}`);
    this.lastErrorLog = null;
    const configure = this.callVm("proxy_on_configure", root.id, root.id, this.config.pluginConfig.length);
    if (this.failed()) throw new PluginStartError("configure", `proxy_on_configure failed: ${this.failed()!.error}`);
    if (configure === 0) throw new PluginStartError("configure", `proxy_on_configure returned false (the plugin configuration was rejected)${this.startErrorLog()}`);
    this.started = true;
    this.scheduleTicks();
  }

  /** Runs one HTTP request through the filter. */
  handleHttpRequest(request: HttpRequest): Promise<HttpOutcome> {
    if (this.failure) return Promise.resolve({ kind: "vm_failed", failure: this.failure });
    if (this.closed || !this.started) return Promise.reject(new VmClosedError(this.closed ? undefined : "proxy-wasm VM: startPlugin() first"));
    const s = new StreamContext(this.allocContextId(), request);
    this.contexts.set(s);
    const outcome = new Promise<HttpOutcome>(captureResolve);
    s.resolve = capturedResolve;
    // Synchronously as far as the stream goes (a bid runs to its end here); steps when it waits.
    let steps: StreamSteps<void> | undefined;
    try {
      steps = runStream(this, s);
    } catch (err) {
      this.streamHostError(s, err);
      return outcome;
    }
    if (steps !== undefined) this.drive(s, steps, undefined);
    return outcome;
  }

  /** A host bug while running a stream: logged, and the stream ends as reset. */
  private streamHostError(s: StreamContext, err: unknown): void {
    this.emit(LogLevel.ERROR, `proxy-wasm host error on stream ${s.id}: ${(err as Error)?.stack ?? String(err)}`, s.id);
    s.resetRequested = true;
    this.finishStream(s);
  }

  /**
   * Runs the stream's steps until they finish or have to wait; then continues when the awaited
   * promise settles. The request timeout is armed when the stream first waits (a stream that runs
   * to its end at once needs no timer).
   */
  private drive(s: StreamContext, steps: StreamSteps<void>, input: unknown): void {
    let step: IteratorResult<Promise<unknown>, void>;
    try {
      step = steps.next(input);
    } catch (err) {
      this.streamHostError(s, err);
      return;
    }
    if (step.done) return;
    if (s.timer === undefined && !s.finished) {
      const timeout = this.options.requestTimeoutMs ?? 15_000;
      if (timeout > 0) {
        s.timer = setTimeout(() => {
          s.timedOut = true;
          s.wake();
        }, timeout);
      }
    }
    step.value.then(
      (value) => this.drive(s, steps, value),
      (err: unknown) => this.drive(s, steps, err),
    );
  }

  /** Calls proxy_on_tick(1) once. */
  tick(): void {
    if (!this.started || this.closed || this.failure) return;
    this.callVm("proxy_on_tick", ROOT_CONTEXT_ID, ROOT_CONTEXT_ID);
  }

  /** Normal shutdown (see the header). */
  async close(options: { doneTimeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTimers();
    const pending = this.contexts.activeStreams().map(
      (s) =>
        new Promise<void>((resolve) => {
          const prev = s.resolve;
          s.resolve = (o) => {
            prev(o);
            resolve();
          };
          s.aborted = true;
          s.wake();
        }),
    );
    await Promise.all(pending);
    const root = this.contexts.get(ROOT_CONTEXT_ID);
    if (this.started && !this.failure && root instanceof RootContext) {
      const done = this.callVm("proxy_on_done", root.id, root.id);
      if (done === 0 && !this.failure) {
        root.pendingDone = true;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, options.doneTimeoutMs ?? 1000);
          root.onDoneResolved = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      if (!this.failure) this.callVm("proxy_on_log", root.id, root.id);
      if (!this.failure) this.callVm("proxy_on_delete", root.id, root.id);
    }
    this.contexts.clear();
    this.queues.forget(this.queueNotify);
  }

  /** Drops the VM without calling it (configuration canary). */
  discard(): void {
    this.closed = true;
    this.stopTimers();
    for (const s of this.contexts.activeStreams()) {
      s.aborted = true;
      s.wake();
    }
    this.queues.forget(this.queueNotify);
  }

  // ---- calls into the VM ----------------------------------------------------------------------

  /**
   * Calls an export with the given current context and arguments (as many as the export takes);
   * undefined when not exported or when it trapped. Runs on every callback of every request: no
   * allocation here.
   */
  callVm(name: string, contextId: number, a = 0, b = 0, c = 0, d = 0, e = 0): number | undefined {
    const cb = this.callbacks.get(name);
    if (cb === undefined || this.failure) return undefined;
    const fn = cb.fn;
    const savedCtx = this.currentContextId;
    const savedEff = this.effectiveContextId;
    const savedCb = this.currentCallback;
    this.currentContextId = contextId;
    this.effectiveContextId = 0;
    this.currentCallback = name;
    this.depth++;
    try {
      switch (cb.arity) {
        case 0:
          return fn();
        case 1:
          return fn(a);
        case 2:
          return fn(a, b);
        case 3:
          return fn(a, b, c);
        case 4:
          return fn(a, b, c, d);
        default:
          return fn(a, b, c, d, e);
      }
    } catch (err) {
      this.fail(this.trapOrigin ?? name, contextId, err);
      if (this.depth > 1) throw err;
      return undefined;
    } finally {
      this.depth--;
      this.currentContextId = savedCtx;
      this.effectiveContextId = savedEff;
      this.currentCallback = savedCb;
      if (this.depth === 0) {
        this.trapOrigin = undefined;
        if (this.after.length > 0) this.runAfterActions();
      }
    }
  }

  /** Defers work until the outermost VM call returns (cpp-host DeferAfterCallActions). */
  private defer(action: (() => void) | StreamContext): void {
    this.after.push(action);
    if (this.depth === 0) this.runAfterActions();
  }

  private runAfterActions(): void {
    if (this.runningAfter) return;
    this.runningAfter = true;
    try {
      // Actions may defer more actions: run until none is left. One that throws (a host bug) is
      // logged and does not cost the others their turn (they wake and finish streams).
      for (let i = 0; i < this.after.length; i++) {
        try {
          const a = this.after[i]!;
          if (typeof a === "function") a();
          else a.wake();
        } catch (err) {
          this.emit(LogLevel.ERROR, `proxy-wasm host error in a deferred action: ${(err as Error)?.stack ?? String(err)}`, 0);
        }
      }
    } finally {
      this.after.length = 0;
      this.runningAfter = false;
    }
  }

  private fail(callback: string, contextId: number, err: unknown): void {
    if (this.failure) return;
    const e = err as Error;
    const message = `Function: ${callback} failed: ${e?.message ?? String(err)}`;
    this.failure = { callback, contextId, error: e?.stack ? `${message}\n${e.stack}` : message, lastCriticalLog: this.lastCriticalLog };
    this.emit(LogLevel.CRITICAL, message, contextId);
    this.stopTimers();
    queueMicrotask(() => {
      for (const s of this.contexts.activeStreams()) s.wake();
    });
    for (const l of this.failureListeners) {
      try {
        l(this.failure);
      } catch {
        // listeners must not break the VM bookkeeping
      }
    }
  }

  allocContextId(): number {
    // An id whose slot is taken is skipped: ids only need to be unique and non-zero (ContextTable).
    while (!this.contexts.canTake(this.nextContextId) || this.nextContextId === 0) {
      this.nextContextId = (this.nextContextId + 1) >>> 0;
    }
    const id = this.nextContextId;
    this.nextContextId = (id + 1) >>> 0;
    return id;
  }

  /** The context host calls act on: the effective context if set and alive, else the current one. */
  effectiveContext(): AnyContext | undefined {
    if (this.effectiveContextId !== 0) {
      const c = this.contexts.get(this.effectiveContextId);
      if (c) return c;
    }
    return this.contexts.get(this.currentContextId);
  }

  // ---- stream end (shared with http.ts) --------------------------------------------------------

  finishStream(s: StreamContext, completed?: HttpOutcome): void {
    if (s.finished) return;
    s.finished = true;
    clearTimeout(s.timer);
    let outcome: HttpOutcome;
    if (this.failure) outcome = { kind: "vm_failed", failure: this.failure };
    else if (s.localReply) outcome = s.localReply;
    else if (s.resetRequested || s.aborted) outcome = { kind: "reset" };
    else if (s.timedOut) outcome = { kind: "timeout" };
    else outcome = completed ?? { kind: "reset" };
    s.reqHeadersOpen = s.reqTrailersOpen = s.respHeadersOpen = s.respTrailersOpen = false;
    s.reqBody = s.respBody = null;
    if (this.options.streamLifecycle === "envoy") {
      if (!this.failure) {
        s.accessLog = true;
        this.callVm("proxy_on_log", s.id, s.id);
        s.accessLog = false;
      }
      if (!this.failure) this.callVm("proxy_on_done", s.id, s.id);
      if (!this.failure) this.callVm("proxy_on_delete", s.id, s.id);
      this.contexts.delete(s.id);
      s.resolve(outcome);
      return;
    }
    if (!this.failure) {
      const done = this.callVm("proxy_on_done", s.id, s.id);
      if (done === 0 && !this.failure) {
        // The filter will call proxy_done later (spec); Envoy itself ignores on_done's result for HTTP streams.
        s.pendingDone = true;
        s.resolve(outcome);
        return;
      }
    }
    this.finalizeStream(s);
    s.resolve(outcome);
  }

  private finalizeStream(s: StreamContext): void {
    if (!this.failure) {
      s.accessLog = true;
      this.callVm("proxy_on_log", s.id, s.id);
      s.accessLog = false;
      if (!this.failure) this.callVm("proxy_on_delete", s.id, s.id);
    }
    this.contexts.delete(s.id);
  }

  // ---- timers and callouts ---------------------------------------------------------------------

  private scheduleTicks(): void {
    clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    if (!this.options.autoTick || !this.started || this.closed || this.failure || this.tickPeriodMs <= 0) return;
    this.tickTimer = setInterval(() => this.tick(), this.tickPeriodMs);
    this.tickTimer.unref();
  }

  private stopTimers(): void {
    clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    this.callouts.abortAll();
  }

  private onQueueReady(token: number): void {
    if (!this.started || this.closed || this.failure) return;
    this.callVm("proxy_on_queue_ready", ROOT_CONTEXT_ID, ROOT_CONTEXT_ID, token);
  }

  /** Logs bypassing the level filter check of the module's own messages. */
  private emit(level: number, message: string, contextId: number): void {
    if (level < (this.options.logLevel ?? LogLevel.INFO)) return;
    try {
      this.sink(level, message, contextId);
    } catch {
      // a broken sink must not break the VM
    }
  }

  // ---- AbiHost ----------------------------------------------------------------------------------

  checkRestricted(name: string): void {
    if (this.restricted !== null && !this.restricted.has(name)) {
      throw new HostTrap(`restricted_callback: ${name} called ${this.restrictedWhy}`);
    }
  }

  allocate(data: Uint8Array): number {
    const ptr = this.allocateSize(data.length);
    if (ptr === 0 || !this.mem.write(ptr, data)) return 0;
    return ptr;
  }

  allocateSize(size: number): number {
    const savedCtx = this.currentContextId;
    const savedEff = this.effectiveContextId;
    const savedRestricted = this.restricted;
    const savedWhy = this.restrictedWhy;
    this.currentContextId = VM_CONTEXT_ID;
    this.effectiveContextId = 0;
    this.restricted = ALLOWED_DURING_ALLOC;
    this.restrictedWhy = this.allocatorWhy;
    let ptr: number;
    try {
      ptr = this.allocFn(size) >>> 0;
    } catch (e) {
      this.trapOrigin ??= this.validated.allocator;
      throw e;
    } finally {
      this.currentContextId = savedCtx;
      this.effectiveContextId = savedEff;
      this.restricted = savedRestricted;
      this.restrictedWhy = savedWhy;
    }
    if (ptr === 0 || !this.mem.inBounds(ptr, size)) return 0;
    return ptr;
  }

  logLevel(): number {
    return this.options.logLevel ?? LogLevel.INFO;
  }

  /** ": <the filter's last error log>" for a refused start, which a filter logs its reason with ("" when none). */
  private startErrorLog(): string {
    return this.lastErrorLog === null ? "" : `: ${this.lastErrorLog}`;
  }

  log(level: number, message: string): void {
    if (level === LogLevel.CRITICAL) this.lastCriticalLog = message;
    if (level >= LogLevel.ERROR) this.lastErrorLog = message;
    this.emit(level, message, this.effectiveContext()?.id ?? this.currentContextId);
  }

  nowNanos(): bigint {
    return this.clock.nowNanos();
  }

  writeNowNanos(ptr: number): boolean {
    if (this.clock === realClock) {
      // The default clock without BigInt: the filter reads the time several times per request.
      realNowNanosParts(nowParts);
      return this.mem.writeU64Parts(ptr, nowParts[0]!, nowParts[1]!);
    }
    return this.mem.writeU64(ptr, this.clock.nowNanos());
  }

  monotonicNanos(): bigint {
    return this.clock.monotonicNanos ? this.clock.monotonicNanos() : process.hrtime.bigint();
  }

  setTickPeriod(ms: number): Status {
    this.tickPeriodMs = ms;
    this.scheduleTicks();
    return Status.OK;
  }

  getProperty(path: Uint8Array): { status: Status; value?: Uint8Array } {
    return accessGetProperty(this.effectiveContext(), path, {
      plugin_name: this.options.pluginName ?? "",
      plugin_root_id: this.config.rootIdName,
      plugin_vm_id: this.options.vmId ?? "",
    });
  }

  setProperty(path: Uint8Array, value: Uint8Array): Status {
    return accessSetProperty(this.effectiveContext(), path, value);
  }

  continueStream(type: number): Status {
    if (type === StreamType.UPSTREAM) return Status.UNIMPLEMENTED;
    if (type === StreamType.DOWNSTREAM) return Status.OK;
    const ctx = this.effectiveContext();
    if (!(ctx instanceof StreamContext) || ctx.finished) return Status.OK;
    if (type === StreamType.HTTP_REQUEST) {
      ctx.reqHeadersOpen = ctx.reqTrailersOpen = false;
      ctx.resumeRequest = true;
    } else {
      ctx.respHeadersOpen = ctx.respTrailersOpen = false;
      ctx.resumeResponse = true;
    }
    this.defer(ctx);
    return Status.OK;
  }

  closeStream(type: number): Status {
    if (type !== StreamType.HTTP_REQUEST && type !== StreamType.HTTP_RESPONSE) return Status.OK;
    const ctx = this.effectiveContext();
    if (ctx instanceof StreamContext && !ctx.finished) {
      ctx.resetRequested = true;
      this.defer(ctx);
    }
    return Status.OK;
  }

  sendLocalResponse(code: number, details: string, body: Uint8Array, headers: HeaderPair[], grpcStatus: number): Status {
    const ctx = this.effectiveContext();
    // On the root context (no stream) Envoy does nothing and still returns OK.
    if (ctx instanceof StreamContext && !ctx.finished && ctx.localReply === null) {
      ctx.localReply = {
        kind: "local",
        status: code,
        details: WHITESPACE.test(details) ? details.replace(WHITESPACE_ALL, "_") : details,
        headers, // keys lower-cased by the caller
        body,
        grpcStatus: grpcStatus <= 16 ? grpcStatus : null,
      };
      this.defer(ctx);
    }
    return Status.OK;
  }

  setEffectiveContext(id: number): Status {
    if (id !== 0 && !this.contexts.has(id)) return Status.BAD_ARGUMENT;
    this.effectiveContextId = id;
    return Status.OK;
  }

  done(): Status {
    const ctx = this.effectiveContext();
    if (!ctx || !ctx.pendingDone) return Status.NOT_FOUND;
    ctx.pendingDone = false;
    if (ctx instanceof StreamContext) this.defer(() => this.finalizeStream(ctx));
    else this.defer(() => ctx.onDoneResolved?.());
    return Status.OK;
  }

  getStatus(): { code: number; message: Uint8Array } {
    return this.callouts.status;
  }

  buffer(type: number): BufferRef | null {
    return bufferFor(this.effectiveContext(), type, this.currentCallback, this.config, this.callouts.current);
  }

  map(type: number, mode: "read" | "write"): HeaderMap | null {
    return mapFor(this.effectiveContext(), type, mode, this.callouts.current);
  }

  inAccessLog(): boolean {
    const ctx = this.effectiveContext();
    return ctx instanceof StreamContext && ctx.accessLog;
  }

  httpCall(upstream: string, headers: HeaderPair[], body: Uint8Array, trailers: HeaderPair[], timeoutMs: number): { status: Status; token: number } {
    return this.callouts.start(upstream, headers, body, trailers, timeoutMs);
  }

  registerQueue(name: string): number {
    return this.queues.register(this.options.vmId ?? "", name, this.queueNotify);
  }

  resolveQueue(vmId: string, name: string): number {
    return this.queues.resolve(vmId === "" ? (this.options.vmId ?? "") : vmId, name);
  }

  enqueue(token: number, data: Uint8Array): Status {
    return this.queues.enqueue(token, data);
  }

  dequeue(token: number): { status: Status; data?: Uint8Array } {
    return this.queues.dequeue(token);
  }

  env(): ReadonlyArray<readonly [string, string]> {
    return Object.entries(this.options.env ?? {});
  }
}
