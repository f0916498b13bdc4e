// Envoy's cpp-host keeps one root context per plugin key (root id + plugin configuration) in a
// VM, and when a plugin with a key it already holds is started again (WasmBase::start on an
// existing root) it calls on_context_create, on_vm_start and on_configure on that root again,
// with the same configuration. The filter must come out of that as it went in: same VM number,
// its model still loaded (a second configure used to replace the model with an empty one that
// the sync did not reload, since the model version had not changed: every bid a no_model).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ProxyWasmVm } from "../../host/src/proxy-wasm/index.ts";
import { compileFilter } from "../../host/src/proxy-wasm/compile.ts";
import { ROOT_CONTEXT_ID } from "../../host/src/proxy-wasm/constants.ts";
import { DEFAULT_WASM } from "../../host/src/paths.ts";
import { README_REQUEST } from "../helpers/bidder.ts";
import { startSimBidder, ticks, type SimBidder } from "../helpers/sim-bidder.ts";

let sim: SimBidder;
let vm: ProxyWasmVm;
const logs: string[] = [];
const pluginConfig = (sim: SimBidder) =>
  JSON.stringify({ host_cluster: "nexus_host", sync_token: sim.cp.syncToken, tick_ms: 1000, sync_period_ms: 1000, replay_ttl_ms: 0 });
let ids = 0;
const bid = () =>
  vm.handleHttpRequest({
    headers: [[":method", "POST"], [":path", "/openrtb2/bid"], [":authority", "bidder.test"], [":scheme", "http"]],
    body: [new TextEncoder().encode(JSON.stringify({ ...JSON.parse(README_REQUEST), id: `again-${++ids}` }))],
  });
const status = (o: Awaited<ReturnType<typeof bid>>) =>
  o.kind === "local" ? `${o.status} ${o.headers.find(([k]) => k === "x-nexus-nobid-reason")?.[1] ?? ""}`.trim() : o.kind;

before(async () => {
  sim = await startSimBidder({ vms: 1 });
  await sim.untilReady();
  // A second VM of the same Envoy process (same shared data, same host, same clock), driven here
  // call by call.
  const clock = sim.clock;
  vm = await ProxyWasmVm.create({
    wasm: await compileFilter(readFileSync(DEFAULT_WASM)),
    shared: sim.pool.shared,
    upstreams: { nexus_host: sim.cp.controlUrl },
    clock: { nowNanos: () => BigInt(Math.round(clock.now * 1e6)), monotonicNanos: () => BigInt(Math.round(clock.now * 1e6)) },
    autoTick: false,
    log: (_level, message) => void logs.push(message),
  });
  vm.startPlugin({ rootIdName: "nexus", pluginConfig: pluginConfig(sim) });
  for (let i = 0; i < 30 && status(await bid()) !== "200"; i++) {
    await ticks(sim, 1, async () => {
      await sim.tick();
      vm.tick();
    });
  }
});
after(async () => {
  await vm?.close();
  await sim?.close();
});

describe("on_configure again on the same root (cpp-host's start() of a plugin key it holds)", () => {
  it("keeps the VM's number and its model: it still bids", async () => {
    assert.equal(status(await bid()), "200", "the VM bids before");
    const configured = logs.filter((m) => m.startsWith("nexus: configured vm "));
    assert.equal(configured.length, 1);
    const length = new TextEncoder().encode(pluginConfig(sim)).length;
    assert.equal(vm.callVm("proxy_on_context_create", ROOT_CONTEXT_ID, ROOT_CONTEXT_ID, 0), undefined);
    assert.equal(vm.callVm("proxy_on_vm_start", ROOT_CONTEXT_ID, ROOT_CONTEXT_ID, 0), 1);
    assert.equal(vm.callVm("proxy_on_configure", ROOT_CONTEXT_ID, ROOT_CONTEXT_ID, length), 1);
    assert.equal(vm.failed(), null);
    assert.deepEqual(logs.filter((m) => m.startsWith("nexus: configured vm ")), configured, "no second VM number");
    assert.ok(logs.some((m) => m.includes("already configured")), JSON.stringify(logs.slice(-5)));
    assert.equal(status(await bid()), "200", "the VM bids after");
    // And after the next syncs too (nothing waits for a model version that will not change).
    await ticks(sim, 2, async () => {
      await sim.tick();
      vm.tick();
    });
    assert.equal(status(await bid()), "200");
  });
});

describe("more plugins (root contexts) in one VM than the filter keeps", () => {
  it("says so at critical level, names the root it does not start, and the VM lives on", async () => {
    const critical: string[] = [];
    const many = await ProxyWasmVm.create({
      wasm: await compileFilter(readFileSync(DEFAULT_WASM)),
      autoTick: false,
      log: (level, message) => void (level === 5 && critical.push(message)),
    });
    try {
      many.startPlugin({ rootIdName: "nexus", pluginConfig: pluginConfig(sim) });
      // Root 1 and seven more fill the table; Envoy gives each plugin key its own root id.
      for (let id = 100; id < 107; id++) many.callVm("proxy_on_context_create", id, id, 0);
      assert.deepEqual(critical, []);
      many.callVm("proxy_on_context_create", 107, 107, 0);
      assert.deepEqual(critical, ["proxy-wasm: more than 8 root contexts (plugins) in one VM; root 107 is not started"]);
      assert.equal(many.callVm("proxy_on_vm_start", 107, 107, 0), 0, "the ninth plugin fails its start");
      assert.equal(many.failed(), null);
    } finally {
      await many.close();
    }
  });
});
