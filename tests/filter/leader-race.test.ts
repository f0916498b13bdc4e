// The sync leader is elected through the shared-data key nexus/v1/leader. Envoy's shared data has
// no create-if-absent (a set on a missing key succeeds whatever the CAS), and Envoy ticks its
// worker VMs on their own threads, so at the start of a process two VMs can both read "no leader
// key". Were either to take the lead by writing the missing key, both writes would succeed and both
// VMs would lead: two syncs and two PID loops writing the same pace state. Here VM B ticks entirely
// between VM A's read (which found no key) and A's write (the store hook runs B inside A's set),
// and at most one VM may then lead in any tick.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ProxyWasmVm } from "../../host/src/proxy-wasm/index.ts";
import { SharedDataStore } from "../../host/src/proxy-wasm/shared-data.ts";
import { compileFilter } from "../../host/src/proxy-wasm/compile.ts";
import { DEFAULT_WASM } from "../../host/src/paths.ts";

const LEADER_KEY = "nexus/v1/leader";
const pluginConfig = JSON.stringify({ tick_ms: 1000, replay_ttl_ms: 0, sync_token: "t".repeat(32) });

describe("leader key: two VMs racing at the first tick", () => {
  const store = SharedDataStore.create({ bytes: 128 << 20, maxKeys: 200_000 });
  let a: ProxyWasmVm;
  let b: ProxyWasmVm;
  let raced = false;
  // A leader's first tick sends a sync to the host (proxy_http_call): the calls made per VM per
  // tick say which VMs led in it.
  const syncs = { a: 0, b: 0 };
  const tickBoth = () => {
    syncs.a = syncs.b = 0;
    a.tick();
    b.tick();
    return { ...syncs };
  };
  before(async () => {
    const wasm = await compileFilter(readFileSync(DEFAULT_WASM));
    const opts = (who: "a" | "b") => ({
      wasm,
      shared: store,
      autoTick: false,
      log: () => {},
      traceCalls: (name: string) => {
        if (name === "env.proxy_http_call") syncs[who]++;
      },
    });
    a = await ProxyWasmVm.create(opts("a"));
    b = await ProxyWasmVm.create(opts("b"));
    a.startPlugin({ rootIdName: "nexus", pluginConfig });
    b.startPlugin({ rootIdName: "nexus", pluginConfig });
    assert.equal(store.get(LEADER_KEY), undefined, "no VM led before its first tick");
    store.onBeforeSet = (key) => {
      // A's first write of the leader key while it is still missing: A has read "not found".
      if (key !== LEADER_KEY || raced || store.get(LEADER_KEY) !== undefined) return;
      raced = true;
      b.tick(); // B reads "not found" too and writes the key first
    };
    a.tick();
    store.onBeforeSet = undefined;
  });
  after(async () => {
    store.onBeforeSet = undefined;
    await a?.close();
    await b?.close();
  });

  it("the race happened: B ticked inside A's write of the missing key", () => {
    assert.ok(raced);
    assert.ok(store.get(LEADER_KEY) !== undefined);
  });

  it("neither VM led off a missing key (a write there cannot lose)", () => {
    assert.deepEqual(syncs, { a: 0, b: 0 }, "a VM that wrote the missing leader key led");
  });

  it("from the next tick on, exactly one VM leads, and the same one keeps the lead", () => {
    const first = tickBoth();
    assert.equal(first.a + first.b, 1, `syncs in the next tick: ${JSON.stringify(first)}`);
    const second = tickBoth();
    // The leader's sync is still in flight (no host answers here), so nobody sends another; the
    // key still names the VM that led.
    assert.equal(second.a + second.b, 0);
    const owner = new DataView(store.get(LEADER_KEY)!.value.buffer).getUint32(0, true);
    assert.notEqual(owner, 0, "the key names a VM");
  });
});
