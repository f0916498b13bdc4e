// Worker-thread entry of the VM pool (bundled as dist/vm-worker.mjs): one proxy-wasm VM per worker,
// like one Envoy worker thread. Shared data and metrics are SharedArrayBuffers shared with the
// main thread and the other workers. See worker-protocol.ts for the messages.

import { parentPort, workerData } from "node:worker_threads";
import { jsonStderrLog } from "./defaults.ts";
import { ManagedVm } from "./managed-vm.ts";
import { MetricsRegistry } from "./metrics.ts";
import { SharedDataStore } from "./shared-data.ts";
import type { HttpCallHandler, HttpCallResult, LogSink, UpstreamHandler } from "./types.ts";
import { ProxyWasmVm, type VmOptions } from "./vm.ts";
import { type FromWorker, outcomeBuffers, ownedBuffers, serializeError, type ToWorker, type WorkerInit } from "./worker-protocol.ts";

if (!parentPort) throw new Error("worker-entry.ts must run in a worker thread");
const port = parentPort;
const init = workerData as WorkerInit;

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

let nextId = 1;
const httpCalls = new Map<number, (r: HttpCallResult | null) => void>();
const upstreamCalls = new Map<number, { resolve: (v: Awaited<ReturnType<UpstreamHandler>>) => void; reject: (e: Error) => void }>();

const proxiedHttpCall: HttpCallHandler = (upstream, headers, body, trailers, timeoutMs, signal) =>
  new Promise((resolve) => {
    const id = nextId++;
    httpCalls.set(id, resolve);
    signal.addEventListener("abort", () => {
      if (httpCalls.delete(id)) post({ t: "httpCallAbort", id });
      resolve(null);
    });
    const copy = body.slice();
    post({ t: "httpCall", id, upstream, headers, body: copy, trailers, timeoutMs }, ownedBuffers([copy]));
  });

const proxiedUpstream: UpstreamHandler = (request) =>
  new Promise((resolve, reject) => {
    const id = nextId++;
    upstreamCalls.set(id, { resolve, reject });
    post({ t: "upstream", id, request });
  });

const log: LogSink = init.proxyLog
  ? (level, message, context) => post({ t: "log", level, message, context })
  : jsonStderrLog(`vm-${init.index}`);

const shared = SharedDataStore.attach(init.sharedSab);
const metrics = MetricsRegistry.attach(init.metricsSab);

const options: VmOptions = {
  wasm: init.compiled,
  vmId: init.vmId,
  pluginName: init.pluginName,
  shared,
  metrics,
  upstreams: init.upstreams,
  log,
  logLevel: init.logLevel,
  requestTimeoutMs: init.requestTimeoutMs,
  autoTick: init.autoTick,
  env: init.env,
  label: `vm-${init.index}`,
  streamLifecycle: init.streamLifecycle,
  localReplyThroughFilter: init.localReplyThroughFilter,
};
if (init.proxyHttpCall) options.httpCall = proxiedHttpCall;
if (init.proxyUpstream) options.upstream = proxiedUpstream;

async function createVm(): Promise<ProxyWasmVm> {
  const vm = await ProxyWasmVm.create(options);
  vm.startPlugin({ rootIdName: init.rootIdName, vmConfig: init.vmConfig, pluginConfig: init.pluginConfig });
  return vm;
}

let managed: ManagedVm;
try {
  managed = await ManagedVm.start(createVm, {
    onFailure: (failure) => post({ t: "vmFailed", failure }),
    onRestart: () => post({ t: "vmRestarted" }),
    onRestartError: (e) => post({ t: "restartError", error: serializeError(e) }),
  });
} catch (e) {
  post({ t: "startError", error: serializeError(e) });
  port.close();
  throw new Error("proxy-wasm worker: VM start failed (reported to the pool)", { cause: e });
}

port.on("message", (msg: ToWorker) => {
  switch (msg.t) {
    case "request":
      managed.handleHttpRequest(msg.request).then(
        (outcome) => post({ t: "response", id: msg.id, outcome }, ownedBuffers(outcomeBuffers(outcome))),
        (e: unknown) => {
          post({ t: "log", level: 4, message: `proxy-wasm worker: request failed: ${(e as Error)?.stack ?? String(e)}`, context: 0 });
          post({ t: "response", id: msg.id, outcome: { kind: "reset" } });
        },
      );
      break;
    case "tick":
      void managed.tick().finally(() => post({ t: "ack", id: msg.id }));
      break;
    case "close":
      void managed.close().finally(() => {
        post({ t: "ack", id: msg.id });
        port.close();
      });
      break;
    case "httpCallResult": {
      const resolve = httpCalls.get(msg.id);
      httpCalls.delete(msg.id);
      resolve?.(msg.result);
      break;
    }
    case "upstreamResult": {
      const p = upstreamCalls.get(msg.id);
      upstreamCalls.delete(msg.id);
      if (!p) break;
      if (msg.result) p.resolve(msg.result);
      else p.reject(new Error(msg.error ?? "upstream failed"));
      break;
    }
  }
});

post({ t: "ready" });
