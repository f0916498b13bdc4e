// vmStatuses() (standalone readiness): reads the VM status keys below the filter's VM counter,
// which starts at a random value (SECURITY.md G9), and walks every key only when that misses VMs.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { vmStatuses } from "../../../host/src/standalone.ts";
import { SharedDataStore } from "../../../host/src/proxy-wasm/shared-data.ts";
import type { VmPool } from "../../../host/src/proxy-wasm/pool.ts";

const NOW = 1_800_000_000_000;

function storeWith(counter: bigint | undefined, vms: number[]): SharedDataStore {
  const store = SharedDataStore.create({ bytes: 1 << 20, maxKeys: 256 });
  if (counter !== undefined) {
    const c = new Uint8Array(8);
    new DataView(c.buffer).setBigUint64(0, counter, true);
    store.set("nexus/v1/vm-seq", c);
  }
  for (const vm of vms) {
    const v = new Uint8Array(17);
    const d = new DataView(v.buffer);
    d.setBigInt64(0, BigInt(NOW - 100), true);
    d.setBigInt64(8, 3n, true);
    v[16] = 1;
    store.set(`nexus/v1/vm/${vm}`, v);
  }
  return store;
}

function poolOf(store: SharedDataStore, size: number): VmPool {
  let walked = 0;
  const shared = new Proxy(store, {
    get(target, prop) {
      if (prop === "keys") return () => (walked++, target.keys());
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { shared, size, vmRestarts: 0, get walked() { return walked; } } as unknown as VmPool;
}

const walks = (pool: VmPool) => (pool as unknown as { walked: number }).walked;

describe("vmStatuses", () => {
  it("finds the VMs just below a random counter without walking every key", () => {
    const start = 734_211_905n; // the canary took start + 1
    const pool = poolOf(storeWith(start + 3n, [734_211_907, 734_211_908]), 2);
    const s = vmStatuses(pool, NOW);
    assert.deepEqual(s.map((x) => x.vm), [734_211_907, 734_211_908]);
    assert.ok(s.every((x) => x.modelLoaded && x.configVersion === 3));
    assert.equal(walks(pool), 0);
  });

  it("still reads a counter an older build started at 0 (numbers from 1)", () => {
    const pool = poolOf(storeWith(3n, [2, 3]), 2);
    assert.deepEqual(vmStatuses(pool, NOW).map((x) => x.vm), [2, 3]);
    assert.equal(walks(pool), 0);
  });

  it("falls back to every key when a VM is far from the counter (two VMs created it)", () => {
    // The other creator's VM numbered itself from its own random start, then its counter was overwritten.
    const pool = poolOf(storeWith(200_000_002n, [200_000_002, 9_000_001]), 2);
    assert.deepEqual(vmStatuses(pool, NOW).map((x) => x.vm).sort((a, b) => a - b), [9_000_001, 200_000_002]);
    assert.equal(walks(pool), 1);
  });

  it("falls back to every key without a counter, and leaves stale statuses out", () => {
    const pool = poolOf(storeWith(undefined, [2_147_483_900]), 1);
    assert.deepEqual(vmStatuses(pool, NOW).map((x) => x.vm), [2_147_483_900]);
    assert.deepEqual(vmStatuses(pool, NOW + 10_000), []);
  });
});
