// Loading, linking and start-up rules (cpp-host / Envoy V8), and traps.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ProxyWasmVm } from "../../../host/src/proxy-wasm/vm.ts";
import { compileFilter } from "../../../host/src/proxy-wasm/compile.ts";
import { parseModuleInfo } from "../../../host/src/proxy-wasm/module-info.ts";
import { buildProbe, buildWasm, call, i32c, logCollector, minimalFuncs, request, DROP } from "./helpers.ts";

const quiet = { log: () => {} };

function rejectsWith(code: string, pattern: RegExp) {
  return (e: Error & { code?: string }) => {
    assert.equal(e.code, code, `${e.code}: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  };
}

describe("proxy-wasm VM: loading and linking", () => {
  test("the module info parser reads export and import types", () => {
    const info = parseModuleInfo(
      buildWasm({
        imports: [{ module: "env", name: "proxy_increment_metric", params: ["i32", "i64"], results: ["i32"] }],
        funcs: [...minimalFuncs(), { name: "proxy_on_request_headers", params: ["i32", "i32", "i32"], results: ["i32"] }],
      }),
    );
    assert.deepEqual(info.imports[0], { module: "env", name: "proxy_increment_metric", kind: "function", type: { params: ["i32", "i64"], results: ["i32"] } });
    assert.deepEqual(info.exports.find((e) => e.name === "proxy_on_request_headers")?.type, { params: ["i32", "i32", "i32"], results: ["i32"] });
    assert.equal(info.exports.find((e) => e.name === "memory")?.kind, "memory");
  });

  test("a callback with a wrong signature fails the load, naming it", async () => {
    const wasm = buildWasm({ funcs: [...minimalFuncs(), { name: "proxy_on_request_headers", params: ["i32", "i32"], results: ["i32"] }] });
    await assert.rejects(ProxyWasmVm.create({ wasm, ...quiet }), rejectsWith("PROXY_WASM_LOAD", /Bad function signature for: proxy_on_request_headers, want: \(i32, i32, i32\) -> \(i32\), but the module exports: \(i32, i32\) -> \(i32\)/));
    const wasm2 = buildWasm({ funcs: [...minimalFuncs(), { name: "proxy_on_log", params: ["i32"], results: ["i32"] }] });
    await assert.rejects(ProxyWasmVm.create({ wasm: wasm2, ...quiet }), /Bad function signature for: proxy_on_log/);
    const wasm3 = buildWasm({ funcs: [{ name: "proxy_abi_version_0_2_1" }, { name: "malloc", params: ["i64"], results: ["i32"] }] });
    await assert.rejects(ProxyWasmVm.create({ wasm: wasm3, ...quiet }), /Bad function signature for: malloc/);
  });

  test("an unknown import fails the link, naming it", async () => {
    const wasm = buildWasm({ imports: [{ module: "env", name: "proxy_bogus", results: ["i32"] }], funcs: minimalFuncs() });
    await assert.rejects(
      ProxyWasmVm.create({ wasm, ...quiet }),
      (e: Error & { code?: string; importName?: string }) =>
        e.code === "PROXY_WASM_LINK" && e.importName === "env.proxy_bogus" && /missing import: env\.proxy_bogus/.test(e.message),
    );
    const wasm2 = buildWasm({ imports: [{ module: "env", name: "abort", params: ["i32", "i32", "i32", "i32"] }], funcs: minimalFuncs() });
    await assert.rejects(ProxyWasmVm.create({ wasm: wasm2, ...quiet }), /missing import: env\.abort/);
  });

  test("imports must have the host's exact types (i64 metrics), and no imported globals", async () => {
    const wrong = buildWasm({ imports: [{ module: "env", name: "proxy_increment_metric", params: ["i32", "i32"], results: ["i32"] }], funcs: minimalFuncs() });
    await assert.rejects(ProxyWasmVm.create({ wasm: wrong, ...quiet }), rejectsWith("PROXY_WASM_LINK", /import type mismatch: env\.proxy_increment_metric/));
    const global = buildWasm({ imports: [{ module: "env", name: "g", global: "i32" }], funcs: minimalFuncs() });
    await assert.rejects(ProxyWasmVm.create({ wasm: global, ...quiet }), rejectsWith("PROXY_WASM_LINK", /env\.g/));
    const wasiOk = buildWasm({
      imports: [
        { module: "wasi_snapshot_preview1", name: "fd_write", params: ["i32", "i32", "i32", "i32"], results: ["i32"] },
        { module: "wasi_snapshot_preview1", name: "clock_time_get", params: ["i32", "i64", "i32"], results: ["i32"] },
        { module: "wasi_snapshot_preview1", name: "random_get", params: ["i32", "i32"], results: ["i32"] },
        { module: "wasi_snapshot_preview1", name: "environ_sizes_get", params: ["i32", "i32"], results: ["i32"] },
        { module: "wasi_snapshot_preview1", name: "environ_get", params: ["i32", "i32"], results: ["i32"] },
        { module: "wasi_snapshot_preview1", name: "args_sizes_get", params: ["i32", "i32"], results: ["i32"] },
        { module: "wasi_snapshot_preview1", name: "args_get", params: ["i32", "i32"], results: ["i32"] },
        { module: "wasi_snapshot_preview1", name: "proc_exit", params: ["i32"] },
      ],
      funcs: minimalFuncs(),
    });
    const vm = await ProxyWasmVm.create({ wasm: wasiOk, ...quiet });
    vm.discard();
  });

  test("ABI marker: missing or 0.1.0 fails; 0.2.0 loads but has no proxy_get_log_level", async () => {
    await assert.rejects(
      ProxyWasmVm.create({ wasm: buildWasm({ funcs: [{ name: "proxy_on_memory_allocate", params: ["i32"], results: ["i32"] }] }), ...quiet }),
      rejectsWith("PROXY_WASM_LOAD", /proxy_abi_version_0_2_1/),
    );
    await assert.rejects(
      ProxyWasmVm.create({ wasm: buildWasm({ funcs: [{ name: "proxy_abi_version_0_1_0" }, { name: "malloc", params: ["i32"], results: ["i32"] }] }), ...quiet }),
      /Unsupported Proxy-Wasm ABI version/,
    );
    const v020 = [{ name: "proxy_abi_version_0_2_0" }, { name: "malloc", params: ["i32" as const], results: ["i32" as const] }];
    const vm = await ProxyWasmVm.create({ wasm: buildWasm({ funcs: v020 }), ...quiet });
    assert.equal(vm.abiVersion, "0.2.0");
    vm.discard();
    await assert.rejects(
      ProxyWasmVm.create({ wasm: buildWasm({ imports: [{ module: "env", name: "proxy_get_log_level", params: ["i32"], results: ["i32"] }], funcs: v020 }), ...quiet }),
      /missing import: env\.proxy_get_log_level/,
    );
  });

  test("an allocator and a memory are required", async () => {
    await assert.rejects(ProxyWasmVm.create({ wasm: buildWasm({ funcs: [{ name: "proxy_abi_version_0_2_1" }] }), ...quiet }), /missing malloc/);
    await assert.rejects(ProxyWasmVm.create({ wasm: buildWasm({ funcs: minimalFuncs(), memory: false }), ...quiet }), /no memory/);
    await assert.rejects(compileFilter(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])), rejectsWith("PROXY_WASM_LOAD", /corrupted/));
  });

  test("_initialize then main(0,0); _start when there is no _initialize", async () => {
    // Function 0 is the imported proxy_log; each start-up function logs a message of a distinct length.
    const imports = [{ module: "env", name: "proxy_log", params: ["i32", "i32", "i32"] as Array<"i32">, results: ["i32"] as Array<"i32"> }];
    const logCall = (n: number) => [...i32c(2), ...i32c(0), ...i32c(n), ...call(0), DROP];
    const logs = logCollector();
    const vm = await ProxyWasmVm.create({
      wasm: buildWasm({
        imports,
        funcs: [
          ...minimalFuncs(),
          { name: "_initialize", body: logCall(1) },
          { name: "main", params: ["i32", "i32"], results: ["i32"], body: [...logCall(2), ...i32c(0)] },
          { name: "_start", body: logCall(3) },
        ],
      }),
      log: logs.sink,
    });
    assert.deepEqual(logs.lines.map((l) => l.message.length), [1, 2]);
    vm.discard();
    const logs2 = logCollector();
    const vm2 = await ProxyWasmVm.create({ wasm: buildWasm({ imports, funcs: [...minimalFuncs(), { name: "_start", body: logCall(3) }] }), log: logs2.sink });
    assert.deepEqual(logs2.lines.map((l) => l.message.length), [3]);
    vm2.discard();
  });

  test("a host call other than proxy_log during _initialize fails the load (Envoy V8 restriction)", async () => {
    const logs = logCollector();
    await assert.rejects(
      ProxyWasmVm.create({ wasm: await buildProbe("bad_init"), log: logs.sink }),
      rejectsWith("PROXY_WASM_VM_START", /restricted_callback: env\.proxy_set_tick_period_milliseconds called during _initialize/),
    );
    assert.ok(logs.lines.some((l) => l.message.startsWith("bad_init: top-level code runs")), "proxy_log is allowed there");
  });

  test("the allocator is used when there is no malloc, and may only log; a forbidden call inside it kills the VM", async () => {
    const wasm = await buildProbe("minimal");
    const logs = logCollector();
    const vm = await ProxyWasmVm.create({ wasm, log: logs.sink, logLevel: 0 });
    assert.equal(logs.lines[0]?.message, "minimal: initialized");
    vm.startPlugin({ vmConfig: "ok", pluginConfig: "hello" });
    assert.ok(logs.lines.some((l) => l.message === "minimal: configure cfg=hello allocs=2"));
    assert.ok(logs.lines.some((l) => l.message === "minimal: allocate 5" && l.context === 0), "allocator runs with the VM context (0)");
    await vm.close();

    const vm2 = await ProxyWasmVm.create({ wasm, ...quiet });
    assert.throws(() => vm2.startPlugin({ vmConfig: "alloc-forbidden", pluginConfig: "x" }), (e: Error & { phase?: string }) => e.phase === "configure");
    assert.equal(vm2.failure?.callback, "proxy_on_memory_allocate");
    assert.match(vm2.failure!.error, /restricted_callback: env\.proxy_set_tick_period_milliseconds called inside the allocator/);
  });
});

describe("proxy-wasm VM: traps", () => {
  test("a trap kills the VM for good: this and every later request get vm_failed, pending ones too", async () => {
    const logs = logCollector();
    const vm = await ProxyWasmVm.create({ wasm: await buildProbe("probe"), log: logs.sink, requestTimeoutMs: 5000 });
    vm.startPlugin({});
    const pending = vm.handleHttpRequest(request("/pause"));
    const o = await vm.handleHttpRequest(request("/trap"));
    assert.equal(o.kind, "vm_failed");
    assert.equal(vm.failure?.callback, "proxy_on_request_headers");
    assert.equal(vm.failure?.contextId, 3);
    assert.match(vm.failure!.error, /unreachable/);
    assert.equal((await pending).kind, "vm_failed");
    assert.equal((await vm.handleHttpRequest(request("/local"))).kind, "vm_failed");
    vm.tick(); // no-op on a dead VM
    assert.ok(logs.lines.some((l) => l.level === 5 && /Function: proxy_on_request_headers failed/.test(l.message)));
    await vm.close();
  });

  test("an AssemblyScript abort is logged at critical level first (lastCriticalLog)", async () => {
    const vm = await ProxyWasmVm.create({ wasm: await buildProbe("probe"), ...quiet });
    vm.startPlugin({});
    const o = await vm.handleHttpRequest(request("/abort"));
    assert.equal(o.kind, "vm_failed");
    assert.match(vm.failure?.lastCriticalLog ?? "", /^probe abort at tests\/fixtures\/probe\/probe\.ts:\d+:\d+$/);
    await vm.close();
  });
});
