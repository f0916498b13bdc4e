// VmPool: N proxy-wasm VMs like Envoy's worker threads, sharing one SharedDataStore and one
// MetricsRegistry. Requests are dispatched round-robin.
//
//   mode "inline":  all VMs in the calling thread (deterministic; the clock can be injected).
//   mode "workers": one VM per worker_thread (entry worker-entry.ts, bundled as dist/vm-worker.mjs;
//                   pass `workerUrl`). Shared data and metrics are SharedArrayBuffers shared for
//                   real. A custom `httpCall`, `upstream` handler or `log` sink runs in the main
//                   thread (the worker proxies the calls to it); without `httpCall` each worker
//                   calls the `upstreams` base URLs itself (node:http). `clock` is inline only.
//                   Shared queues are per worker in this mode (not shared across workers).
//
// Like Envoy, start() first runs a configuration canary VM (_initialize, on_context_create(1, 0),
// on_vm_start, on_configure, then discarded without on_done) so that a bad module or
// configuration fails the start before any worker VM exists. A VM that traps is recreated and
// counted in vmRestarts (Envoy keeps a failed VM dead; see managed-vm.ts).

import { type CompiledFilter, compileFilter, type FilterSource } from "./compile.ts";
import { LogLevel } from "./constants.ts";
import { jsonStderrLog } from "./defaults.ts";
import { VmClosedError } from "./errors.ts";
import { ManagedVm } from "./managed-vm.ts";
import { MetricsRegistry } from "./metrics.ts";
import { SharedDataStore } from "./shared-data.ts";
import { SharedQueues } from "./shared-queue.ts";
import type { Clock, HttpCallHandler, HttpOutcome, HttpRequest, LogSink, UpstreamHandler, VmFailure } from "./types.ts";
import { ProxyWasmVm, type VmOptions } from "./vm.ts";
import { spawnWorker } from "./worker-spawn.ts";
import { deserializeError, type FromWorker, ownedBuffers, packChunks, type ToWorker, type WorkerInit } from "./worker-protocol.ts";
import type { Worker } from "node:worker_threads";

export interface PoolOptions {
  wasm: FilterSource;
  /** Number of VMs (Envoy: --concurrency). */
  vms: number;
  mode: "inline" | "workers";
  /** The plugin's root_id string (property plugin_root_id). */
  rootId?: string;
  vmConfig?: Uint8Array | string;
  pluginConfig?: Uint8Array | string;
  vmId?: string;
  pluginName?: string;
  /** Known upstreams for proxy_http_call: name -> base URL (see VmOptions.upstreams). */
  upstreams?: Record<string, string>;
  httpCall?: HttpCallHandler;
  upstream?: UpstreamHandler;
  /** A store to use, or the size of the one to create (default 32 MiB, 4096 keys). */
  sharedData?: SharedDataStore | { bytes?: number; maxKeys?: number };
  metrics?: MetricsRegistry;
  /** Inline mode only. */
  clock?: Clock;
  log?: LogSink;
  logLevel?: number;
  requestTimeoutMs?: number;
  /** Inline mode only: see VmOptions.firstCalloutToken. */
  firstCalloutToken?: number;
  autoTick?: boolean;
  env?: Record<string, string>;
  /** Worker entry (default: worker-entry.ts next to this file when running from source, else ./vm-worker.mjs). */
  workerUrl?: string | URL;
  /** Inline mode only, test-only: instrumentation imports (see VmOptions.instrumentation). */
  instrumentation?: VmOptions["instrumentation"];
  /** Inline mode only, test and bench only: see VmOptions.traceCalls. */
  traceCalls?: VmOptions["traceCalls"];
  /** Inline mode only, test only: see VmOptions.interceptImports. */
  interceptImports?: VmOptions["interceptImports"];
  /** Run the configuration canary first (default true). */
  canary?: boolean;
  /** See VmOptions.streamLifecycle (default "spec"). */
  streamLifecycle?: "spec" | "envoy";
  /** See VmOptions.localReplyThroughFilter (default false). */
  localReplyThroughFilter?: boolean;
}

interface Slot {
  handle(request: HttpRequest): Promise<HttpOutcome>;
  /** Linear memory of the slot's VM in bytes (-1 in workers mode: not visible here). */
  memoryBytes(): number;
  tick(): Promise<void>;
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const toBytes = (x: Uint8Array | string | undefined): Uint8Array => (x === undefined ? new Uint8Array(0) : typeof x === "string" ? encoder.encode(x) : x);

function defaultWorkerUrl(): URL {
  return import.meta.url.endsWith(".ts") ? new URL("./worker-entry.ts", import.meta.url) : new URL("./vm-worker.mjs", import.meta.url);
}

export class VmPool {
  readonly shared: SharedDataStore;
  readonly metrics: MetricsRegistry;
  readonly mode: "inline" | "workers";
  /** Failures seen (traps), most recent last (bounded). */
  readonly failures: VmFailure[] = [];
  private restartCount = 0;
  private slots: Slot[] = [];
  private next = 0;
  private closed = false;

  private constructor(
    private readonly options: PoolOptions,
    readonly compiled: CompiledFilter,
  ) {
    this.mode = options.mode;
    const sd = options.sharedData;
    this.shared = sd instanceof SharedDataStore ? sd : SharedDataStore.create(sd ?? {});
    this.metrics = options.metrics ?? MetricsRegistry.create();
  }

  static async start(options: PoolOptions): Promise<VmPool> {
    if (!(options.vms >= 1)) throw new RangeError("VmPool: vms must be >= 1");
    const compiled = await compileFilter(options.wasm, new Set(Object.keys(options.instrumentation ?? {})));
    const pool = new VmPool(options, compiled);
    if (options.canary !== false) {
      const canary = await ProxyWasmVm.create(pool.vmOptions(new SharedQueues(), "canary"));
      try {
        canary.startPlugin(pool.pluginConfig());
      } finally {
        canary.discard();
      }
    }
    try {
      if (options.mode === "inline") {
        const queues = new SharedQueues();
        for (let i = 0; i < options.vms; i++) pool.slots.push(await pool.inlineSlot(queues, i));
      } else {
        pool.slots = await Promise.all(Array.from({ length: options.vms }, (_, i) => pool.workerSlot(i)));
      }
    } catch (e) {
      await Promise.allSettled(pool.slots.map((s) => s.close()));
      throw e;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** VMs recreated after a trap. */
  get vmRestarts(): number {
    return this.restartCount;
  }

  /** Linear memory per VM in bytes (inline mode; -1 for worker VMs). */
  memoryBytes(): number[] {
    return this.slots.map((s) => s.memoryBytes());
  }

  handleHttpRequest(request: HttpRequest): Promise<HttpOutcome> {
    if (this.closed) return Promise.reject(new VmClosedError("VmPool is closed"));
    const slot = this.slots[this.next]!;
    this.next = (this.next + 1) % this.slots.length;
    return slot.handle(request);
  }

  /** Calls proxy_on_tick(1) once on every VM. */
  async tickAll(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.tick()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled(this.slots.map((s) => s.close()));
  }

  // ---- internals -------------------------------------------------------------------------------

  private pluginConfig() {
    return { rootIdName: this.options.rootId ?? "", vmConfig: toBytes(this.options.vmConfig), pluginConfig: toBytes(this.options.pluginConfig) };
  }

  private logSink(label: string): LogSink {
    return this.options.log ?? jsonStderrLog(label);
  }

  private vmOptions(queues: SharedQueues, label: string): VmOptions {
    const o = this.options;
    const v: VmOptions = { wasm: this.compiled, shared: this.shared, metrics: this.metrics, queues, log: this.logSink(label), label };
    if (o.vmId !== undefined) v.vmId = o.vmId;
    if (o.pluginName !== undefined) v.pluginName = o.pluginName;
    if (o.upstreams !== undefined) v.upstreams = o.upstreams;
    if (o.httpCall !== undefined) v.httpCall = o.httpCall;
    if (o.upstream !== undefined) v.upstream = o.upstream;
    if (o.clock !== undefined) v.clock = o.clock;
    if (o.logLevel !== undefined) v.logLevel = o.logLevel;
    if (o.requestTimeoutMs !== undefined) v.requestTimeoutMs = o.requestTimeoutMs;
    if (o.firstCalloutToken !== undefined) v.firstCalloutToken = o.firstCalloutToken;
    if (o.autoTick !== undefined) v.autoTick = o.autoTick;
    if (o.env !== undefined) v.env = o.env;
    if (o.streamLifecycle !== undefined) v.streamLifecycle = o.streamLifecycle;
    if (o.localReplyThroughFilter !== undefined) v.localReplyThroughFilter = o.localReplyThroughFilter;
    if (o.instrumentation !== undefined) v.instrumentation = o.instrumentation;
    if (o.traceCalls !== undefined) v.traceCalls = o.traceCalls;
    if (o.interceptImports !== undefined) v.interceptImports = o.interceptImports;
    return v;
  }

  private recordFailure(f: VmFailure): void {
    this.failures.push(f);
    if (this.failures.length > 100) this.failures.shift();
  }

  private async inlineSlot(queues: SharedQueues, index: number): Promise<Slot> {
    const label = `vm-${index}`;
    const factory = async () => {
      const vm = await ProxyWasmVm.create(this.vmOptions(queues, label));
      vm.startPlugin(this.pluginConfig());
      return vm;
    };
    const managed = await ManagedVm.start(factory, {
      onFailure: (f) => this.recordFailure(f),
      onRestart: () => this.restartCount++,
      onRestartError: (e) => this.logSink(label)(LogLevel.ERROR, `proxy-wasm: recreating ${label} failed: ${(e as Error)?.message ?? e}`, 0),
    });
    return {
      handle: (r) => managed.handleHttpRequest(r),
      memoryBytes: () => managed.memoryBytes,
      tick: () => managed.tick(),
      close: () => managed.close(),
    };
  }

  private workerSlot(index: number): Promise<Slot> {
    const o = this.options;
    const label = `vm-${index}`;
    const init: WorkerInit = {
      index,
      compiled: this.compiled,
      sharedSab: this.shared.buffer,
      metricsSab: this.metrics.buffer,
      vmId: o.vmId ?? "",
      pluginName: o.pluginName ?? "",
      rootIdName: o.rootId ?? "",
      vmConfig: toBytes(o.vmConfig),
      pluginConfig: toBytes(o.pluginConfig),
      upstreams: o.upstreams ?? {},
      logLevel: o.logLevel ?? LogLevel.INFO,
      requestTimeoutMs: o.requestTimeoutMs ?? 15_000,
      autoTick: o.autoTick ?? false,
      env: o.env ?? {},
      proxyHttpCall: o.httpCall !== undefined,
      proxyUpstream: o.upstream !== undefined,
      proxyLog: o.log !== undefined,
      streamLifecycle: o.streamLifecycle ?? "spec",
      localReplyThroughFilter: o.localReplyThroughFilter ?? false,
    };
    const worker: Worker = spawnWorker(o.workerUrl ?? defaultWorkerUrl(), { workerData: init });
    let nextId = 1;
    const pending = new Map<number, (o: HttpOutcome) => void>();
    const acks = new Map<number, () => void>();
    const calls = new Map<number, AbortController>();
    let exited = false;
    let closing = false;
    const post = (msg: ToWorker, transfer: ArrayBuffer[] = []): void => {
      if (!exited) worker.postMessage(msg, transfer);
    };

    const slot: Slot = {
      memoryBytes: () => -1,
      handle: (request) =>
        new Promise<HttpOutcome>((resolve) => {
          if (exited) return resolve({ kind: "vm_failed", failure: null });
          const id = nextId++;
          pending.set(id, resolve);
          const packed = packChunks(request.body);
          const msg: ToWorker = { t: "request", id, request: { headers: request.headers, body: packed.chunks, ...(request.trailers ? { trailers: request.trailers } : {}) } };
          post(msg, packed.transfer);
        }),
      tick: () =>
        new Promise<void>((resolve) => {
          if (exited) return resolve();
          const id = nextId++;
          acks.set(id, resolve);
          post({ t: "tick", id });
        }),
      close: () =>
        new Promise<void>((resolve) => {
          closing = true;
          if (exited) return resolve();
          const id = nextId++;
          const t = setTimeout(() => void worker.terminate(), 5000);
          acks.set(id, () => {
            clearTimeout(t);
            void worker.terminate().then(() => resolve(), () => resolve());
          });
          worker.once("exit", () => {
            clearTimeout(t);
            resolve();
          });
          post({ t: "close", id });
        }),
    };

    return new Promise<Slot>((resolveStart, rejectStart) => {
      let started = false;
      let startError: Error | undefined;
      worker.on("message", (msg: FromWorker) => {
        switch (msg.t) {
          case "ready":
            started = true;
            resolveStart(slot);
            break;
          case "startError":
            startError = deserializeError(msg.error);
            rejectStart(startError);
            break;
          case "response": {
            const r = pending.get(msg.id);
            pending.delete(msg.id);
            r?.(msg.outcome);
            break;
          }
          case "ack": {
            const a = acks.get(msg.id);
            acks.delete(msg.id);
            a?.();
            break;
          }
          case "log":
            try {
              this.options.log?.(msg.level, msg.message, msg.context);
            } catch {
              // ignore sink errors
            }
            break;
          case "httpCall": {
            const abort = new AbortController();
            calls.set(msg.id, abort);
            const handler = this.options.httpCall!;
            Promise.resolve()
              .then(() => handler(msg.upstream, msg.headers, msg.body, msg.trailers, msg.timeoutMs, abort.signal))
              .then(
                (result) => result,
                () => null,
              )
              .then((result) => {
                calls.delete(msg.id);
                post({ t: "httpCallResult", id: msg.id, result }, result ? ownedBuffers([result.body]) : []);
              });
            break;
          }
          case "httpCallAbort":
            calls.get(msg.id)?.abort();
            calls.delete(msg.id);
            break;
          case "upstream": {
            const handler = this.options.upstream!;
            Promise.resolve()
              .then(() => handler(msg.request))
              .then(
                (res) => {
                  const body = res.body === undefined ? [] : Array.isArray(res.body) ? res.body : [res.body];
                  const packed = packChunks(body);
                  const result = { headers: res.headers, body: packed.chunks, ...(res.status !== undefined ? { status: res.status } : {}), ...(res.trailers ? { trailers: res.trailers } : {}) };
                  post({ t: "upstreamResult", id: msg.id, result }, packed.transfer);
                },
                (e: unknown) => post({ t: "upstreamResult", id: msg.id, error: String((e as Error)?.message ?? e) }),
              );
            break;
          }
          case "vmFailed":
            this.recordFailure(msg.failure);
            break;
          case "vmRestarted":
            this.restartCount++;
            break;
          case "restartError":
            this.logSink(label)(LogLevel.ERROR, `proxy-wasm: recreating ${label} failed: ${msg.error.message}`, 0);
            break;
        }
      });
      // A worker whose VM fails to start posts "startError" and then throws; its
      // "error" (or "exit") event can overtake that message, so a start failure
      // waits a moment for the worker's own, more precise error before rejecting.
      const rejectStartSoon = (e: Error) => setTimeout(() => rejectStart(startError ?? e), 50);
      worker.on("error", (e) => {
        if (!started && !startError) rejectStartSoon(e);
        else if (!startError) this.logSink(label)(LogLevel.CRITICAL, `proxy-wasm worker ${label} crashed: ${e.stack ?? e.message}`, 0);
      });
      worker.on("exit", (code) => {
        exited = true;
        if (!started && !startError) rejectStartSoon(new Error(`proxy-wasm worker ${label} exited during start-up (code ${code})`));
        for (const r of pending.values()) r({ kind: "vm_failed", failure: null });
        pending.clear();
        for (const a of acks.values()) a();
        acks.clear();
        for (const c of calls.values()) c.abort();
        // A worker that died on its own (not closed by us) is replaced, like a failed VM.
        if (started && !closing && !this.closed) {
          this.logSink(label)(LogLevel.CRITICAL, `proxy-wasm worker ${label} exited (code ${code}); starting a new one`, 0);
          this.replaceWorker(index, label, 0);
        }
      });
    });
  }

  /**
   * Starts a new worker in slot `index`, again after a failed start (with a growing wait, at most
   * 5 s), as an inline VM's restart is tried again: a replacement that failed once (killed while
   * it started) left its slot answering 503 for ever.
   */
  private replaceWorker(index: number, label: string, attempt: number): void {
    this.workerSlot(index).then(
      (replacement) => {
        this.restartCount++;
        if (this.closed) void replacement.close();
        else this.slots[index] = replacement;
      },
      (e: unknown) => {
        const waitMs = Math.min(5000, 100 * 2 ** attempt);
        this.logSink(label)(LogLevel.ERROR, `proxy-wasm: restarting worker ${label} failed: ${(e as Error)?.message ?? e}; trying again in ${waitMs} ms`, 0);
        if (!this.closed) setTimeout(() => this.replaceWorker(index, label, attempt + 1), waitMs).unref();
      },
    );
  }
}


