// A host that refuses a metric (here the standalone's table, full) must not leave it missing
// from every scrape without a word: the filter logs each metric it could not define. Found by an
// audit: after a few campaign reloads with new ids, new campaigns had no pacing gauge, silently.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ProxyWasmVm } from "../../host/src/proxy-wasm/index.ts";
import { SharedDataStore } from "../../host/src/proxy-wasm/shared-data.ts";
import { MetricsRegistry } from "../../host/src/proxy-wasm/metrics.ts";
import { compileFilter } from "../../host/src/proxy-wasm/compile.ts";
import { DEFAULT_WASM } from "../../host/src/paths.ts";

describe("metrics a host refuses", () => {
  const logs: string[] = [];
  const metrics = MetricsRegistry.create({ maxMetrics: 20 });
  let vm: ProxyWasmVm;
  before(async () => {
    const wasm = await compileFilter(readFileSync(DEFAULT_WASM));
    vm = await ProxyWasmVm.create({ wasm, metrics, shared: SharedDataStore.create({ bytes: 64 << 20, maxKeys: 100_000 }), autoTick: false, log: (_l, m) => void logs.push(m) });
    vm.startPlugin({ rootIdName: "nexus", pluginConfig: JSON.stringify({ tick_ms: 1000, sync_token: "t".repeat(32) }) });
  });
  after(async () => {
    await vm?.close();
  });

  it("are logged by name, one line each", () => {
    assert.equal(metrics.size, 20, "the table is full");
    const refused = logs.filter((m) => / could not be defined \(status \d+\): it will not be exported$/.test(m));
    assert.ok(refused.length > 10, `${refused.length} refusals logged: ${JSON.stringify(logs.slice(0, 5))}`);
    assert.ok(refused.every((m) => /^nexus: metric nexus_\S+ could not/.test(m)), refused[0]);
  });

  it("the standalone's default table holds 8,192 metrics", () => {
    const r = MetricsRegistry.create();
    for (let i = 0; i < 8192; i++) assert.ok("slot" in r.define(0, `m${i}`));
    assert.ok("status" in r.define(0, "one.more"));
  });
});
