// ProxyWasmVm with the AssemblyScript probe: start-up, configuration buffers, header maps, local
// replies, body chunking, buffer clamping, memory checks, properties.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ProxyWasmVm, type VmOptions } from "../../../host/src/proxy-wasm/vm.ts";
import type { HttpOutcome, LocalReply, ContinueOutcome } from "../../../host/src/proxy-wasm/types.ts";
import { buildProbe, logCollector, parseKv, report, request, text } from "./helpers.ts";

async function startProbe(opts: Partial<VmOptions> = {}, config: { vmConfig?: string; pluginConfig?: string } = {}) {
  const wasm = await buildProbe("probe");
  const logs = logCollector();
  const vm = await ProxyWasmVm.create({
    wasm,
    log: logs.sink,
    logLevel: 0,
    requestTimeoutMs: 2000,
    vmId: "vm-probe",
    pluginName: "nexus-plugin",
    ...opts,
  });
  vm.startPlugin({ rootIdName: "nexus_root", vmConfig: config.vmConfig ?? "vmcfg", pluginConfig: config.pluginConfig ?? "" });
  return { vm, logs };
}

function asLocal(o: HttpOutcome): LocalReply {
  assert.equal(o.kind, "local", `expected a local reply, got ${JSON.stringify(o)}`);
  return o as LocalReply;
}

function asContinue(o: HttpOutcome): ContinueOutcome {
  assert.equal(o.kind, "continue", `expected continue, got ${JSON.stringify(o)}`);
  return o as ContinueOutcome;
}

describe("proxy-wasm VM: start-up and configuration", () => {
  test("root context 1, vm_start reads the VM config through malloc, plugin config is not there", async () => {
    const { vm, logs } = await startProbe();
    assert.ok(logs.lines.some((l) => l.message === "context_create 1 0"));
    const r = report(logs.lines, "vm_start");
    assert.deepEqual(
      { status: r.status, size: r.size, cfg: r.cfg, mallocs: r.mallocs, plugin: r.plugin_cfg_status, allocates: r.allocates },
      { status: "0", size: "5", cfg: "vmcfg", mallocs: "1", plugin: "1", allocates: "0" },
    );
    await vm.close();
  });

  test("empty plugin configuration: OK, pointer 0, size 0, allocator not called", async () => {
    const { vm, logs } = await startProbe();
    const r = report(logs.lines, "configure");
    assert.deepEqual(
      { status: r.status, size: r.size, ptr: r.ptr, len: r.len, mallocs: r.mallocs, vm: r.vm_cfg_status },
      { status: "0", size: "0", ptr: "0", len: "0", mallocs: "0", vm: "1" },
    );
    await vm.close();
  });

  test("metric ids are handed out per type like Envoy (4, 8 / 5 / 6), bad type rejected", async () => {
    const { vm, logs } = await startProbe();
    assert.deepEqual(report(logs.lines, "metrics"), { counter: "4", again: "8", gauge: "5", hist: "6", bad: "1002" });
    await vm.close();
  });

  test("on_vm_start or on_configure returning false fails startPlugin", async () => {
    const wasm = await buildProbe("probe");
    const vm1 = await ProxyWasmVm.create({ wasm, log: () => {} });
    assert.throws(() => vm1.startPlugin({ vmConfig: "fail" }), (e: Error & { code?: string; phase?: string }) => e.code === "PROXY_WASM_PLUGIN_START" && e.phase === "vm_start");
    const vm2 = await ProxyWasmVm.create({ wasm, log: () => {} });
    assert.throws(() => vm2.startPlugin({ pluginConfig: "fail" }), (e: Error & { phase?: string }) => e.phase === "configure");
    vm1.discard();
    vm2.discard();
  });

  test("allocator: malloc is preferred over proxy_on_memory_allocate", async () => {
    const { vm } = await startProbe();
    const o = asLocal(await vm.handleHttpRequest(request("/allocs")));
    const r = parseKv(text(o.body));
    assert.equal(r.allocates, "0");
    assert.ok(Number(r.mallocs) >= 2);
    await vm.close();
  });
});

describe("proxy-wasm VM: header maps", () => {
  test("get pairs/value, add, replace, remove, size; other maps per Envoy", async () => {
    const { vm, logs } = await startProbe();
    const o = asContinue(
      await vm.handleHttpRequest(request("/headers", [["x-a", "A"], ["x-r", "old"], ["x-r", "old2"], ["x-del", "1"], ["x-del", "2"]])),
    );
    const r = report(logs.lines, "/headers");
    assert.equal(r.pairs_status, "0");
    assert.equal(r.count, "9");
    assert.equal(r["x-a"], "A");
    assert.equal(r["x-a_status"], "0");
    assert.equal(r.missing, "1");
    assert.deepEqual([r.add, r.replace, r.remove, r.size_status], ["0", "0", "0", "0"]);
    // Envoy byteSize(): keys + values of the map after the changes.
    const expectedSize = o.headers.reduce((n, [k, v]) => n + k.length + v.length, 0);
    assert.equal(Number(r.size), expectedSize);
    assert.equal(r.badtype, "2");
    assert.equal(r.resp_value, "2", "response headers are not available in the request phase");
    assert.equal(r.resp_pairs, "0/0/0", "an unavailable map reads as empty: OK, ptr 0, size 0");
    assert.equal(r.resp_add, "2");
    assert.equal(r.callout_value, "2");
    assert.equal(r.trailers_value, "2");
    const h = new Map<string, string[]>();
    for (const [k, v] of o.headers) h.set(k, [...(h.get(k) ?? []), v]);
    assert.deepEqual(h.get("x-added"), ["1"]);
    assert.deepEqual(h.get("x-r"), ["new"]);
    assert.equal(h.has("x-del"), false);
    assert.deepEqual(h.get(":path"), ["/headers"]);
    await vm.close();
  });

  test("set_header_map_pairs replaces the whole map", async () => {
    const { vm } = await startProbe();
    const o = asContinue(await vm.handleHttpRequest(request("/setpairs", [["x-a", "A"]])));
    assert.deepEqual(o.headers, [[":path", "/rewritten"], ["x-only", "1"]]);
    await vm.close();
  });

  test("request headers are readable (not writable) in on_log; size is BAD_ARGUMENT there", async () => {
    const { vm, logs } = await startProbe();
    await vm.handleHttpRequest(request("/local"));
    const r = report(logs.lines, "on_log");
    assert.equal(r.path, "/local:0");
    assert.equal(r.status, "403:0");
    assert.equal(r.size_st, "2");
    assert.equal(r.add_st, "2");
    await vm.close();
  });
});

describe("proxy-wasm VM: local replies", () => {
  test("local reply with headers; the stream stops although the callback returned CONTINUE", async () => {
    const { vm, logs } = await startProbe();
    const o = asLocal(await vm.handleHttpRequest(request("/local", [], ["body-chunk"])));
    assert.equal(o.status, 403);
    assert.equal(o.details, "denied_by_probe");
    assert.deepEqual(o.headers, [["x-probe", "yes"], ["content-type", "text/plain"]]);
    assert.equal(text(o.body), "nope");
    assert.equal(o.grpcStatus, null);
    assert.equal(report(logs.lines, "local").status, "0");
    assert.ok(!logs.lines.some((l) => l.message.startsWith("request_body")), "no body callback after a local reply");
    const order = logs.lines.map((l) => l.message.split(" ")[0]).filter((m) => ["done", "delete"].includes(m!) || m === "report");
    assert.ok(order.indexOf("done") < order.lastIndexOf("delete"));
    await vm.close();
  });

  test("a malformed header map gives OK and a reply without headers", async () => {
    const { vm, logs } = await startProbe();
    const o = asLocal(await vm.handleHttpRequest(request("/local-malformed")));
    assert.equal(report(logs.lines, "local_malformed").status, "0");
    assert.equal(o.status, 200);
    assert.deepEqual(o.headers, []);
    await vm.close();
  });

  test("grpc status is passed through", async () => {
    const { vm } = await startProbe();
    const o = asLocal(await vm.handleHttpRequest(request("/local-grpc")));
    assert.equal(o.grpcStatus, 7);
    await vm.close();
  });
});

describe("proxy-wasm VM: bodies and buffers", () => {
  test("PAUSE on non-last chunks keeps the bytes: body_size is cumulative", async () => {
    const { vm } = await startProbe();
    const o = asLocal(await vm.handleHttpRequest(request("/body-pause", [], ["ab", "cde", "f"])));
    assert.equal(text(o.body), "sizes=2,5,6;body=abcdef");
    await vm.close();
  });

  test("CONTINUE lets a chunk go upstream: the next body_size counts only new bytes", async () => {
    const { vm, logs } = await startProbe();
    const o = asContinue(await vm.handleHttpRequest(request("/body-continue", [], ["ab", "cde", "f"])));
    const chunks = logs.lines.filter((l) => l.message.startsWith("report chunk")).map((l) => parseKv(l.message.slice(13)));
    assert.deepEqual(chunks, [
      { size: "2", data: "ab" },
      { size: "3", data: "cde" },
      { size: "1", data: "f" },
    ]);
    assert.equal(text(o.body), "abcdef");
    await vm.close();
  });

  test("set_buffer_bytes prepend/append changes what goes upstream", async () => {
    const { vm } = await startProbe();
    const o = asContinue(await vm.handleHttpRequest(request("/body-modify", [], ["ab", "cd"])));
    assert.equal(text(o.body), "<abcd>");
    await vm.close();
  });

  test("get_buffer_bytes: NOT_FOUND outside its callback, clamping, empty reads, bad pointers", async () => {
    const { vm, logs } = await startProbe();
    const o = asLocal(await vm.handleHttpRequest(request("/buffer", [], ["0123", "456789"])));
    const before = report(logs.lines, "/buffer-headers");
    assert.deepEqual(before, { body: "1", callout: "1", bad: "2", status: "1", vmcfg: "1" });
    const r = parseKv(text(o.body));
    assert.equal(r.a, "0:8:ptr:23456789", "oversized length is clamped");
    assert.equal(r.b, "0:0:null:", "start beyond the end: OK, pointer 0, size 0");
    assert.equal(r.c, "0:0:null:");
    assert.equal(r.d, "0:0:null:");
    assert.equal(r.d_mallocs, "0", "empty read does not call the allocator");
    assert.equal(r.e, "6");
    assert.equal(r.f, "0:10");
    assert.equal(r.g, "2", "replacing in the middle is BAD_ARGUMENT (Envoy Buffer::copyFrom)");
    assert.equal(r.h, "0");
    assert.equal(r.i, "0");
    assert.equal(r.j, "0:12:ptr:X0123456789X");
    assert.equal(r.vmcfg, "1");
    await vm.close();
  });

  test("trailers: readable and modifiable in on_request_trailers; added in the last on_request_body", async () => {
    const { vm, logs } = await startProbe();
    const o = asContinue(await vm.handleHttpRequest(request("/trailers", [], ["x"], [["x-t", "1"]])));
    assert.deepEqual(report(logs.lines, "trailers"), { n: "1", "x-t": "1", add: "0" });
    assert.deepEqual(o.trailers, [["x-t", "1"], ["x-t2", "2"]]);
    const o2 = asContinue(await vm.handleHttpRequest(request("/add-trailers", [], ["x"])));
    assert.equal(report(logs.lines, "add_trailer").status, "0");
    assert.deepEqual(o2.trailers, [["x-added-trailer", "1"]]);
    await vm.close();
  });
});

describe("proxy-wasm VM: memory checks, properties, time, log level", () => {
  test("every bad pointer is INVALID_MEMORY_ACCESS, never an exception", async () => {
    const { vm } = await startProbe();
    const o = asLocal(await vm.handleHttpRequest(request("/mem")));
    assert.deepEqual(parseKv(text(o.body)), { log: "6", loglevel: "2", value: "6", key: "6", shared: "6", time: "6", local: "6", define: "6" });
    assert.equal(vm.failure, null);
    await vm.close();
  });

  test("allocator returning 0 makes the host call INVALID_MEMORY_ACCESS", async () => {
    const { vm } = await startProbe();
    const o = asLocal(await vm.handleHttpRequest(request("/alloc-fail")));
    assert.equal(text(o.body), "alloc_fail=6");
    await vm.close();
  });

  test("plugin_root_id, plugin_name, plugin_vm_id; unknown and nested paths NOT_FOUND; stream properties", async () => {
    const { vm } = await startProbe();
    const o = asLocal(await vm.handleHttpRequest(request("/properties")));
    assert.deepEqual(parseKv(text(o.body)), {
      root_id: "nexus_root:0",
      name: "nexus-plugin:0",
      vm_id: "vm-probe:0",
      nope: "1",
      nested: "1",
      set: "0",
      get: "v1:0",
    });
    await vm.close();
  });

  test("time comes from the injected clock; log level from the options", async () => {
    const { vm } = await startProbe({ clock: { nowNanos: () => 1_700_000_000_123_456_789n }, logLevel: 1 });
    assert.equal(text(asLocal(await vm.handleHttpRequest(request("/time"))).body), "now=1700000000123456789");
    assert.equal(text(asLocal(await vm.handleHttpRequest(request("/log-level"))).body), "level=1");
    await vm.close();
  });

  test("stream context ids are 2, 3, 4... and contexts are deleted after the stream", async () => {
    const { vm, logs } = await startProbe();
    for (let i = 0; i < 3; i++) await vm.handleHttpRequest(request("/local"));
    const created = logs.lines.filter((l) => l.message.startsWith("context_create")).map((l) => l.message);
    assert.deepEqual(created, ["context_create 1 0", "context_create 2 1", "context_create 3 1", "context_create 4 1"]);
    assert.deepEqual([...vm.contexts.keys()], [1]);
    await vm.close();
  });
});
