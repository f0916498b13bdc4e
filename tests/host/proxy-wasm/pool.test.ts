// VmPool: inline and worker-thread modes, canary, restarts after a trap, shared data and metrics
// across VMs.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { VmPool, type PoolOptions } from "../../../host/src/proxy-wasm/pool.ts";
import { renderPrometheus } from "../../../host/src/proxy-wasm/metrics.ts";
import type { HttpOutcome } from "../../../host/src/proxy-wasm/types.ts";
import { buildProbe, bytes, logCollector, parseKv, request, sleep, text } from "./helpers.ts";

function u64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await sleep(10);
  }
}

function body(o: HttpOutcome): string {
  assert.equal(o.kind, "local", JSON.stringify(o));
  return o.kind === "local" ? text(o.body) : "";
}

async function inlinePool(extra: Partial<PoolOptions> = {}) {
  const logs = logCollector();
  const pool = await VmPool.start({
    wasm: await buildProbe("probe"),
    vms: 3,
    mode: "inline",
    rootId: "nexus_root",
    vmConfig: "vmcfg",
    pluginConfig: "tick=1000",
    log: logs.sink,
    logLevel: 0,
    requestTimeoutMs: 3000,
    sharedData: { bytes: 1 << 20 },
    ...extra,
  });
  return { pool, logs };
}

describe("VmPool inline", () => {
  test("canary first (not closed with on_done), then N VMs; round-robin", async () => {
    const { pool, logs } = await inlinePool();
    assert.equal(logs.lines.filter((l) => l.message === "context_create 1 0").length, 4, "canary + 3 VMs");
    for (let i = 0; i < 3; i++) await pool.handleHttpRequest(request("/local"));
    assert.equal(logs.lines.filter((l) => l.message.startsWith("request_headers ctx=2 ")).length, 3, "each VM got one request (ids restart at 2 per VM)");
    await pool.close();
    assert.equal(logs.lines.filter((l) => l.message === "done ctx=1").length, 3, "the canary is discarded without on_done");
  });

  test("a bad configuration fails the start at the canary, before any VM", async () => {
    const logs = logCollector();
    await assert.rejects(
      VmPool.start({ wasm: await buildProbe("probe"), vms: 2, mode: "inline", pluginConfig: "fail", log: logs.sink }),
      (e: Error & { code?: string }) => e.code === "PROXY_WASM_PLUGIN_START",
    );
    assert.equal(logs.lines.filter((l) => l.message === "context_create 1 0").length, 1);
  });

  test("a VM that traps is recreated and counted; the next request works", async () => {
    const { pool } = await inlinePool({ vms: 1 });
    assert.equal((await pool.handleHttpRequest(request("/trap"))).kind, "vm_failed");
    assert.equal(pool.failures[0]?.callback, "proxy_on_request_headers");
    const o = await pool.handleHttpRequest(request("/local"));
    assert.equal(o.kind, "local");
    assert.equal(pool.vmRestarts, 1);
    await pool.close();
  });

  test("shared data and metrics are shared by the VMs and visible from the main thread", async () => {
    const { pool } = await inlinePool();
    pool.shared.set("ctr", u64(0n));
    await Promise.all(Array.from({ length: 9 }, () => pool.handleHttpRequest(request("/cas-incr", [["x-key", "ctr"], ["x-n", "10"]]))));
    assert.equal(new DataView(pool.shared.get("ctr")!.value.buffer).getBigUint64(0, true), 90n);
    for (let i = 0; i < 3; i++) await pool.handleHttpRequest(request("/metrics"));
    assert.equal(pool.metrics.find("probe.requests")?.value, 3n * (1n + 2n ** 40n));
    assert.match(renderPrometheus(pool.metrics), /^probe_gauge 40$/m);
    await pool.close();
  });

  test("tickAll ticks every VM's root context", async () => {
    const { pool, logs } = await inlinePool();
    const p = pool.handleHttpRequest(request("/continue-later"));
    await sleep(10);
    await pool.tickAll();
    assert.equal((await p).kind, "continue");
    assert.equal(logs.lines.filter((l) => l.message === "tick 1 ctx=1").length, 3);
    await pool.close();
    await assert.rejects(pool.handleHttpRequest(request("/local")), (e: Error & { code?: string }) => e.code === "PROXY_WASM_CLOSED");
  });
});

describe("VmPool workers", () => {
  test("4 worker VMs CAS-increment one shared-data counter: the final value is exact", async () => {
    const logs = logCollector();
    const pool = await VmPool.start({
      wasm: await buildProbe("probe"),
      vms: 4,
      mode: "workers",
      pluginConfig: "",
      log: logs.sink,
      sharedData: { bytes: 1 << 20 },
      workerUrl: new URL("../../../host/src/proxy-wasm/worker-entry.ts", import.meta.url),
    });
    try {
      pool.shared.set("ctr", u64(0n));
      const outcomes = await Promise.all(
        Array.from({ length: 80 }, () => pool.handleHttpRequest(request("/cas-incr", [["x-key", "ctr"], ["x-n", "50"]], ["body-bytes"]))),
      );
      const attempts = outcomes.reduce((n, o) => n + Number(parseKv(body(o)).attempts), 0);
      assert.equal(new DataView(pool.shared.get("ctr")!.value.buffer).getBigUint64(0, true), 4000n);
      assert.ok(attempts >= 4000);
      // Every worker answered some requests (round-robin): four distinct VMs logged ctx 2.
      assert.ok(logs.lines.filter((l) => l.message.startsWith("request_headers ctx=2 ")).length === 4);
      // Metrics defined in each worker land in the one registry of the process.
      await Promise.all(Array.from({ length: 4 }, () => pool.handleHttpRequest(request("/metrics"))));
      assert.equal(pool.metrics.find("probe.requests")?.value, 4n * (1n + 2n ** 40n));
    } finally {
      await pool.close();
    }
  });

  test("callouts proxied to the main thread's handler; a trap restarts the worker VM; bodies survive the transfer", async () => {
    const pool = await VmPool.start({
      wasm: await buildProbe("probe"),
      vms: 1,
      mode: "workers",
      log: () => {},
      upstreams: { control: "http://127.0.0.1:1" },
      httpCall: async (upstream, headers, reqBody) => ({
        status: 200,
        headers: [["x-up", `${upstream}:${text(reqBody)}:${headers.length}`]],
        body: bytes("from-main"),
      }),
      workerUrl: new URL("../../../host/src/proxy-wasm/worker-entry.ts", import.meta.url),
    });
    try {
      const o = await pool.handleHttpRequest(request("/callout", [["x-timeout", "2000"]]));
      const r = parseKv(body(o));
      assert.equal(r["x-up"], "control:ping:3");
      assert.equal(r.body, "from-main");
      const chunks = [bytes("ab"), bytes("cde"), Buffer.from("f")];
      const p = await pool.handleHttpRequest({ headers: request("/body-pause").headers, body: chunks });
      assert.equal(body(p), "sizes=2,5,6;body=abcdef");
      assert.equal(text(chunks[0]!), "ab", "the caller's buffers are not detached");
      assert.equal((await pool.handleHttpRequest(request("/trap"))).kind, "vm_failed");
      await until(() => pool.vmRestarts === 1);
      assert.equal(pool.failures.length, 1);
      assert.equal((await pool.handleHttpRequest(request("/local"))).kind, "local");
    } finally {
      await pool.close();
    }
  });

  test("a worker replacement that fails to start is tried again until one starts", async () => {
    const pool = await VmPool.start({
      wasm: await buildProbe("probe"),
      vms: 1,
      mode: "workers",
      log: () => {},
      workerUrl: new URL("../../../host/src/proxy-wasm/worker-entry.ts", import.meta.url),
    });
    // Two starts fail (a replacement killed while it starts), the third succeeds. Before, the
    // first failure left the slot dead: every request to it a 503, for ever (audit).
    const p = pool as unknown as { slots: Array<{ close(): Promise<void> }>; workerSlot(i: number): Promise<unknown>; replaceWorker(i: number, label: string, attempt: number): void };
    await p.slots[0]!.close(); // the worker that "died" (closed: not replaced on its own)
    const real = p.workerSlot.bind(pool);
    let attempts = 0;
    p.workerSlot = (i: number) => (++attempts <= 2 ? Promise.reject(new Error("killed while starting")) : real(i));
    try {
      p.replaceWorker(0, "vm-0", 0);
      await until(() => pool.vmRestarts === 1, 5000);
      assert.equal(attempts, 3);
      assert.equal((await pool.handleHttpRequest(request("/local"))).kind, "local");
    } finally {
      await pool.close();
    }
  });

  test("a VM that cannot start in a worker fails the pool start (canary off)", async () => {
    await assert.rejects(
      VmPool.start({
        wasm: await buildProbe("probe"),
        vms: 2,
        mode: "workers",
        canary: false,
        pluginConfig: "fail",
        log: () => {},
        workerUrl: new URL("../../../host/src/proxy-wasm/worker-entry.ts", import.meta.url),
      }),
      (e: Error & { code?: string }) => e.code === "PROXY_WASM_PLUGIN_START",
    );
  });
});
