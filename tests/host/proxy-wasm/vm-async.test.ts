// ProxyWasmVm: HTTP callouts, effective context, ticks, paused streams, timeouts, proxy_done,
// shared queues, the response path, shared data CAS and metrics.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { ProxyWasmVm, type VmOptions } from "../../../host/src/proxy-wasm/vm.ts";
import { SharedDataStore } from "../../../host/src/proxy-wasm/shared-data.ts";
import { MetricsRegistry, renderPrometheus } from "../../../host/src/proxy-wasm/metrics.ts";
import type { HttpCallHandler, HttpOutcome, LocalReply } from "../../../host/src/proxy-wasm/types.ts";
import { allReports, buildProbe, bytes, logCollector, parseKv, report, request, sleep, text } from "./helpers.ts";

async function startProbe(opts: Partial<VmOptions> = {}, pluginConfig = "") {
  const wasm = await buildProbe("probe");
  const logs = logCollector();
  const vm = await ProxyWasmVm.create({ wasm, log: logs.sink, logLevel: 0, requestTimeoutMs: 2000, upstreams: { control: "http://127.0.0.1:1" }, ...opts });
  vm.startPlugin({ rootIdName: "nexus_root", vmConfig: "vmcfg", pluginConfig });
  return { vm, logs };
}

function asLocal(o: HttpOutcome): LocalReply {
  assert.equal(o.kind, "local", `expected a local reply, got ${JSON.stringify(o)}`);
  return o as LocalReply;
}

const okCall: HttpCallHandler = async (upstream, headers, body) => ({
  headers: [[":status", "201"], ["x-up", `${upstream}:${headers.find(([k]) => k === ":path")?.[1]}:${text(body)}`]],
  body: bytes("pong"),
  trailers: [["x-tr", "t"]],
});

describe("proxy-wasm VM: HTTP callouts", () => {
  test("callout answer arrives on the root context; the filter replies on the paused stream after set_effective_context", async () => {
    const seen: string[] = [];
    const { vm, logs } = await startProbe({
      httpCall: async (...args) => {
        seen.push(args[0]);
        return okCall(...args);
      },
    });
    const o = asLocal(await vm.handleHttpRequest(request("/callout", [["x-timeout", "500"]])));
    assert.deepEqual(report(logs.lines, "callout"), { status: "0", token: "4" });
    const r = report(logs.lines, "callout_response");
    assert.deepEqual(r, {
      root: "1",
      token: "4",
      nh: "2",
      bs: "4",
      nt: "1",
      // Envoy's proxy_get_status is not the HTTP status: only a failed callout sets it (to 11).
      code: "0",
      msg: "",
      status_hdr: "201",
      "x-up": "control:/cb?x=1:ping",
      size_st: "2",
      body: "pong",
      trailer: "t",
    });
    assert.equal(o.status, 200);
    assert.ok(text(o.body).startsWith("effective=0 "));
    assert.deepEqual(seen, ["control"]);
    await vm.close();
  });

  test("a failed callout gives num_headers 0 (and no body); the next token is 8", async () => {
    const { vm, logs } = await startProbe({ httpCall: async () => null });
    const o1 = asLocal(await vm.handleHttpRequest(request("/callout", [["x-timeout", "500"]])));
    assert.equal(o1.status, 502);
    const r = report(logs.lines, "callout_response");
    assert.deepEqual(r, { root: "1", token: "4", nh: "0", bs: "0", nt: "0", code: "11", msg: "reset", body_st: "1" });
    await vm.handleHttpRequest(request("/callout", [["x-timeout", "500"]]));
    assert.equal(report(logs.lines, "callout").token, "8");
    await vm.close();
  });

  test("proxy_get_status keeps a failure's 11 after it (Envoy never clears the code), without its message", async () => {
    let fail = true;
    const { vm, logs } = await startProbe({ httpCall: async (...args) => (fail ? null : okCall(...args)) });
    await vm.handleHttpRequest(request("/callout", [["x-timeout", "500"]]));
    fail = false;
    await vm.handleHttpRequest(request("/callout", [["x-timeout", "500"]]));
    const r = report(logs.lines, "callout_response");
    assert.equal(r.nh, "2");
    assert.equal(r.status_hdr, "201");
    assert.deepEqual([r.code, r.msg], ["11", ""]);
    await vm.close();
  });

  test("callout timeout -> a 504 answer, as Envoy's AsyncClient gives it (not a reset)", async () => {
    const { vm, logs } = await startProbe({ httpCall: (_u, _h, _b, _t, _ms, signal) => new Promise((resolve) => signal.addEventListener("abort", () => resolve(null))) });
    asLocal(await vm.handleHttpRequest(request("/callout", [["x-timeout", "30"]])));
    const r = report(logs.lines, "callout_response");
    assert.deepEqual(
      // (the report splits on spaces: the body's first word, and its size)
      { nh: r.nh, status_hdr: r.status_hdr, bs: r.bs, body: r.body, code: r.code, msg: r.msg },
      { nh: "3", status_hdr: "504", bs: String("upstream request timeout".length), body: "upstream", code: "0", msg: "" },
    );
    await vm.close();
  });

  test("continue_stream from the callout answer lets the request through with the added header", async () => {
    const { vm, logs } = await startProbe({ httpCall: okCall });
    const o = await vm.handleHttpRequest(request("/callout-continue", [["x-timeout", "500"]], ["b1", "b2"]));
    assert.equal(o.kind, "continue");
    if (o.kind !== "continue") return;
    assert.ok(o.headers.some(([k, v]) => k === "x-callout" && v === "done"));
    assert.equal(text(o.body), "b1b2", "body held back while paused at headers goes up as one chunk");
    assert.deepEqual(report(logs.lines, "callout_continue"), { add: "0", continue: "0" });
    const sizes = logs.lines.filter((l) => l.message.startsWith("request_body")).map((l) => parseKv(l.message).size);
    assert.deepEqual(sizes, ["4"]);
    await vm.close();
  });

  test("without set_effective_context the reply acts on the root: OK, and the stream stalls until the timeout", async () => {
    const { vm, logs } = await startProbe({ httpCall: okCall, requestTimeoutMs: 100 });
    const o = await vm.handleHttpRequest(request("/callout-noeffective", [["x-timeout", "500"]]));
    assert.deepEqual(o, { kind: "timeout" });
    assert.deepEqual(report(logs.lines, "callout_noeffective"), { local: "0", continue: "0" });
    assert.ok(logs.lines.some((l) => l.message === "done ctx=2"), "on_done still runs after a timeout");
    await vm.close();
  });

  test("default transport: node:http to the upstream's base URL (loopback server)", async () => {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        res.setHeader("x-up", `${req.method}|${req.url}|${req.headers.host}|${Buffer.concat(chunks).toString()}`);
        res.statusCode = 202;
        res.end("pong");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      const { vm, logs } = await startProbe({ upstreams: { control: `http://127.0.0.1:${port}` } });
      const o = asLocal(await vm.handleHttpRequest(request("/callout", [["x-timeout", "3000"]])));
      assert.equal(o.status, 200);
      const r = report(logs.lines, "callout_response");
      assert.equal(r.status_hdr, "202");
    assert.equal(r.code, "0");
      assert.equal(r.body, "pong");
      assert.equal(r["x-up"], "POST|/cb?x=1|control.local|ping");
      await vm.close();
    } finally {
      server.close();
    }
  });

  test("BAD_ARGUMENT for unknown upstream, missing pseudo-headers, malformed map, negative timeout; INVALID_MEMORY_ACCESS for the token pointer; tokens 4 and 8", async () => {
    const { vm, logs } = await startProbe({ httpCall: async () => null });
    const o = asLocal(await vm.handleHttpRequest(request("/callout-errors")));
    assert.deepEqual(parseKv(text(o.body)), { unknown: "2", nopath: "2", malformed: "2", negtimeout: "2", badptr: "6", t1: "4", t2: "8" });
    await sleep(20);
    const late = allReports(logs.lines, "callout_late");
    assert.equal(late.length, 2);
    assert.equal(late[0]!.effective, "2", "the stream context is gone: set_effective_context is BAD_ARGUMENT");
    await vm.close();
  });
});

describe("proxy-wasm VM: ticks, paused streams, proxy_done", () => {
  test("tick period is recorded from on_configure; manual tick() and autoTick", async () => {
    const { vm, logs } = await startProbe({}, "tick=20");
    assert.equal(vm.tickPeriodMs, 20);
    vm.tick();
    assert.ok(logs.lines.some((l) => l.message === "tick 1 ctx=1"));
    await vm.close();
    const auto = await startProbe({ autoTick: true }, "tick=10");
    await sleep(80);
    const ticks = auto.logs.lines.filter((l) => l.message.startsWith("tick ")).length;
    assert.ok(ticks >= 3, `expected several ticks, got ${ticks}`);
    await auto.vm.close();
    const after = auto.logs.lines.filter((l) => l.message.startsWith("tick ")).length;
    await sleep(40);
    assert.equal(auto.logs.lines.filter((l) => l.message.startsWith("tick ")).length, after, "close() stops the timer");
  });

  test("a stream paused at headers stays pending until a tick continues it", async () => {
    const { vm, logs } = await startProbe();
    let done = false;
    const p = vm.handleHttpRequest(request("/continue-later", [], ["x"])).then((o) => {
      done = true;
      return o;
    });
    await sleep(20);
    assert.equal(done, false);
    vm.tick();
    const o = await p;
    assert.equal(o.kind, "continue");
    assert.deepEqual(report(logs.lines, "tick_continue"), { ctx: "2", effective: "0", continue: "0" });
    await vm.close();
  });

  test("paused and nothing happens -> timeout; close_stream -> reset", async () => {
    const { vm } = await startProbe({ requestTimeoutMs: 50 });
    assert.deepEqual(await vm.handleHttpRequest(request("/pause")), { kind: "timeout" });
    assert.deepEqual(await vm.handleHttpRequest(request("/close")), { kind: "reset" });
    await vm.close();
  });

  test("150 streams paused at once get distinct ids; close() ends every one of them as reset", async () => {
    const { vm } = await startProbe({ requestTimeoutMs: 60_000 });
    const paused = Array.from({ length: 150 }, () => vm.handleHttpRequest(request("/pause")));
    // Short streams in between take and free ids next to the paused ones.
    for (let i = 0; i < 100; i++) assert.deepEqual(await vm.handleHttpRequest(request("/close")), { kind: "reset" });
    const active = vm.contexts.activeStreams();
    assert.equal(active.length, 150);
    assert.equal(new Set(active.map((s) => s.id)).size, 150);
    assert.ok(active.every((s) => s.id > 1));
    await vm.close();
    for (const o of await Promise.all(paused)) assert.deepEqual(o, { kind: "reset" });
  });

  test("continue_stream during the callback wins over its PAUSE; upstream continue is UNIMPLEMENTED", async () => {
    const { vm, logs } = await startProbe();
    const o = await vm.handleHttpRequest(request("/continue-self"));
    assert.equal(o.kind, "continue");
    assert.deepEqual(report(logs.lines, "continue_self"), { status: "0", upstream: "12" });
    await vm.close();
  });

  test("on_done false defers on_log/on_delete until proxy_done", async () => {
    const { vm, logs } = await startProbe();
    const o = await vm.handleHttpRequest(request("/done-later"));
    assert.equal(o.kind, "continue");
    assert.ok(logs.lines.some((l) => l.message === "done ctx=2"));
    assert.ok(!logs.lines.some((l) => l.message === "delete ctx=2"));
    assert.ok(vm.contexts.has(2));
    vm.tick();
    assert.deepEqual(report(logs.lines, "tick_done"), { ctx: "2", effective: "0", done: "0", again: "1" });
    assert.ok(logs.lines.some((l) => l.message === "delete ctx=2"));
    assert.ok(!vm.contexts.has(2));
    await vm.close();
  });

  test('streamLifecycle "envoy": on_log first, then on_done (result ignored), then on_delete', async () => {
    const { vm, logs } = await startProbe({ streamLifecycle: "envoy" });
    await vm.handleHttpRequest(request("/local"));
    const end = logs.lines
      .map((l) => l.message)
      .filter((m) => m.startsWith("report on_log") || m.startsWith("done ctx=") || m.startsWith("delete ctx="))
      .map((m) => m.split(" ").slice(0, 2).join(" "));
    assert.deepEqual(end, ["report on_log", "done ctx=2", "delete ctx=2"]);
    assert.equal(report(logs.lines, "on_log").status, "403:0");
    const o = await vm.handleHttpRequest(request("/done-later"));
    assert.equal(o.kind, "continue");
    assert.ok(logs.lines.some((l) => l.message === "delete ctx=3"), "on_done false does not keep the stream in Envoy");
    await vm.close();
  });

  test("close(): on_done, on_log, on_delete on the root context", async () => {
    const { vm, logs } = await startProbe();
    await vm.close();
    const tail = logs.lines.slice(-3).map((l) => l.message.split(" ")[0] === "report" ? l.message.split(" ").slice(0, 2).join(" ") : l.message);
    assert.deepEqual(tail, ["done ctx=1", "report on_log", "delete ctx=1"]);
  });
});

describe("proxy-wasm VM: queues and the response path", () => {
  test("shared queue register/enqueue/dequeue/resolve and on_queue_ready", async () => {
    const { vm, logs } = await startProbe();
    const o = asLocal(await vm.handleHttpRequest(request("/queue")));
    assert.deepEqual(parseKv(text(o.body)), {
      register: "0",
      enqueue: "0",
      dequeue: "0:hello",
      empty: "7",
      resolve: "0:1",
      resolve_missing: "1",
      enqueue_missing: "1",
    });
    await sleep(20);
    const ready = allReports(logs.lines, "queue_ready");
    assert.ok(ready.length >= 1);
    assert.equal(ready.at(-1)!.root, "1");
    await vm.close();
  });

  test("localReplyThroughFilter: the filter's own response callbacks see (and change) its local reply, like Envoy", async () => {
    const { vm, logs } = await startProbe({ localReplyThroughFilter: true });
    const o = asLocal(await vm.handleHttpRequest(request("/local")));
    assert.equal(report(logs.lines, "response_headers").status, "403");
    assert.equal(o.status, 403);
    assert.deepEqual(o.headers, [["x-probe", "yes"], ["content-type", "text/plain"], ["x-resp", "1"]]);
    assert.equal(text(o.body), "RESP:nope");
    await vm.close();
  });

  test("upstream handler: response headers/body go through the filter", async () => {
    const { vm, logs } = await startProbe({
      upstream: async (req) => ({ status: 200, headers: [["content-type", "text/plain"]], body: [bytes("he"), bytes("llo")], trailers: undefined as never }),
    });
    const o = await vm.handleHttpRequest(request("/response"));
    assert.equal(o.kind, "continue");
    if (o.kind !== "continue") return;
    assert.ok(o.response);
    assert.deepEqual(o.response.headers, [[":status", "200"], ["content-type", "text/plain"], ["x-resp", "1"]]);
    assert.equal(text(o.response.body), "RESP:hello");
    assert.equal(report(logs.lines, "response_headers").status, "200");
    const o2 = asLocal(await vm.handleHttpRequest(request("/response-local")));
    assert.equal(o2.status, 502);
    await vm.close();
  });
});

describe("proxy-wasm VM: shared data and metrics through the ABI", () => {
  test("NOT_FOUND, OK, CAS, CAS_MISMATCH", async () => {
    const shared = SharedDataStore.create({ bytes: 1 << 20 });
    const { vm } = await startProbe({ shared });
    const o = asLocal(await vm.handleHttpRequest(request("/shared", [["x-key", "k1"]])));
    const r = parseKv(text(o.body));
    assert.equal(r.get1, "1:");
    assert.equal(r.set1, "0");
    const [st2, cas1, v2] = r.get2!.split(":");
    assert.deepEqual([st2, v2], ["0", "v1"]);
    assert.notEqual(cas1, "0");
    assert.equal(r.set2, "0");
    assert.equal(r.set3, "8");
    const [st3, cas2, v3] = r.get3!.split(":");
    assert.deepEqual([st3, v3], ["0", "v2"]);
    assert.notEqual(cas2, cas1);
    assert.equal(shared.getString("k1"), "v2");
    await vm.close();
  });

  test("onBeforeSet injects a competing write between the VM's get and set: the CAS loop retries", async () => {
    const shared = SharedDataStore.create({ bytes: 1 << 20 });
    const zero = new Uint8Array(8);
    shared.set("ctr", zero);
    let injected = 0;
    shared.onBeforeSet = (key) => {
      if (key === "ctr" && injected < 2) {
        injected++;
        const cur = shared.get("ctr")!;
        const v = new DataView(cur.value.buffer).getBigUint64(0, true) + 100n;
        const out = new Uint8Array(8);
        new DataView(out.buffer).setBigUint64(0, v, true);
        assert.equal(shared.set("ctr", out, cur.cas), 0);
      }
    };
    const { vm } = await startProbe({ shared });
    const o = asLocal(await vm.handleHttpRequest(request("/cas-incr", [["x-key", "ctr"], ["x-n", "3"]])));
    assert.equal(text(o.body), "attempts=5");
    const final = shared.get("ctr")!;
    assert.equal(new DataView(final.value.buffer).getBigUint64(0, true), 203n);
    await vm.close();
  });

  test("metrics: negative/zero counter delta rejected, i64 values, gauge add/sub, histogram", async () => {
    const metrics = MetricsRegistry.create();
    const { vm } = await startProbe({ metrics });
    const o = asLocal(await vm.handleHttpRequest(request("/metrics")));
    assert.deepEqual(parseKv(text(o.body)), {
      inc1: "0",
      inc_neg: "2",
      inc_zero: "2",
      rec_big: "0",
      counter: String(1 + 2 ** 40),
      g_rec: "0",
      g_inc: "0",
      gauge: "40",
      h_rec: "0",
      h_get: "2",
      h_inc: "2",
      unknown: "1",
      type3: "1",
    });
    // A second VM sharing the registry: the metric is deduplicated by name, ids are per VM.
    const { vm: vm2 } = await startProbe({ metrics });
    await vm2.handleHttpRequest(request("/metrics"));
    assert.equal(metrics.find("probe.requests")?.value, 2n * (1n + 2n ** 40n));
    assert.equal(metrics.size, 3);
    const prom = renderPrometheus(metrics);
    assert.match(prom, /^# TYPE probe_requests counter\nprobe_requests 2199023255554$/m);
    assert.match(prom, /^probe_gauge 40$/m);
    assert.match(prom, /^probe_latency_us_bucket\{le="2500"\} 2$/m);
    assert.match(prom, /^probe_latency_us_count 2$/m);
    await vm.close();
    await vm2.close();
  });
});
