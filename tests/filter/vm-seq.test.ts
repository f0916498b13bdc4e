// G9 (SECURITY.md): every VM numbers itself from the shared counter nexus/v1/vm-seq, which the
// first VM creates. Envoy's shared data has no create-if-absent (a set on a missing key succeeds
// whatever the CAS), and Envoy configures its worker VMs concurrently, so two VMs can both read
// "no counter" and both create it. Here VM B configures entirely between VM A's read (which found
// no counter) and A's create write (the store hook runs B inside A's set): A's create then
// overwrites the counter B created and incremented. The two VMs must still get distinct numbers,
// since the number is the sync leader's identity and names the VM's status key vm/<seq>.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ProxyWasmVm } from "../../host/src/proxy-wasm/index.ts";
import { SharedDataStore } from "../../host/src/proxy-wasm/shared-data.ts";
import { compileFilter } from "../../host/src/proxy-wasm/compile.ts";
import { DEFAULT_WASM } from "../../host/src/paths.ts";

const SEQ_KEY = "nexus/v1/vm-seq";
const STATUS_PREFIX = "nexus/v1/vm/";
const pluginConfig = JSON.stringify({ tick_ms: 1000, replay_ttl_ms: 0, sync_token: "t".repeat(32) });

function configuredSeq(logs: string[]): number {
  const line = logs.find((m) => m.startsWith("nexus: configured vm "));
  assert.ok(line, `no "configured vm" log in ${JSON.stringify(logs)}`);
  return Number(line.slice("nexus: configured vm ".length));
}

function counter(store: SharedDataStore): bigint | undefined {
  const v = store.get(SEQ_KEY);
  return v && v.value.byteLength === 8 ? new DataView(v.value.buffer, v.value.byteOffset, 8).getBigUint64(0, true) : undefined;
}

describe("vm-seq: two VMs racing to create the counter", () => {
  for (let round = 0; round < 3; round++) {
    describe(`round ${round + 1}`, () => {
      const store = SharedDataStore.create({ bytes: 128 << 20, maxKeys: 200_000 });
      const logsA: string[] = [];
      const logsB: string[] = [];
      let a: ProxyWasmVm;
      let b: ProxyWasmVm;
      let raced = false;
      before(async () => {
        const wasm = await compileFilter(readFileSync(DEFAULT_WASM));
        const opts = (logs: string[]) => ({ wasm, shared: store, autoTick: false, log: (_l: number, m: string) => void logs.push(m) });
        a = await ProxyWasmVm.create(opts(logsA));
        b = await ProxyWasmVm.create(opts(logsB));
        store.onBeforeSet = (key) => {
          // A's first write of the counter while it is still missing: A has read "not found".
          if (key !== SEQ_KEY || raced || store.get(SEQ_KEY) !== undefined) return;
          raced = true;
          b.startPlugin({ rootIdName: "nexus", pluginConfig }); // B reads "not found" too, creates, counts itself
        };
        a.startPlugin({ rootIdName: "nexus", pluginConfig });
        store.onBeforeSet = undefined;
      });
      after(async () => {
        store.onBeforeSet = undefined;
        await a?.close();
        await b?.close();
      });

      it("the race happened: B configured inside A's create of the counter", () => {
        assert.ok(raced);
        assert.ok(counter(store) !== undefined);
      });

      it("the two VMs have distinct sequence numbers", () => {
        const sa = configuredSeq(logsA);
        const sb = configuredSeq(logsB);
        assert.ok(sa > 0 && sb > 0);
        assert.notEqual(sa, sb, `both VMs numbered themselves ${sa}`);
      });

      it("each VM publishes its own status key", () => {
        a.tick();
        b.tick();
        const statuses = store.keys().filter((k) => k.startsWith(STATUS_PREFIX));
        assert.equal(statuses.length, 2, `status keys: ${statuses.join(", ")}`);
        assert.deepEqual(new Set(statuses), new Set([STATUS_PREFIX + configuredSeq(logsA), STATUS_PREFIX + configuredSeq(logsB)]));
      });
    });
  }
});

describe("vm-seq: VMs configured one after another", () => {
  it("number themselves consecutively from the counter's start", async () => {
    const store = SharedDataStore.create({ bytes: 128 << 20, maxKeys: 200_000 });
    const wasm = await compileFilter(readFileSync(DEFAULT_WASM));
    const seqs: number[] = [];
    const vms: ProxyWasmVm[] = [];
    for (let i = 0; i < 3; i++) {
      const logs: string[] = [];
      const vm = await ProxyWasmVm.create({ wasm, shared: store, autoTick: false, log: (_l, m) => void logs.push(m) });
      vm.startPlugin({ rootIdName: "nexus", pluginConfig });
      vms.push(vm);
      seqs.push(configuredSeq(logs));
    }
    try {
      assert.equal(seqs[1], seqs[0]! + 1);
      assert.equal(seqs[2], seqs[0]! + 2);
      assert.equal(counter(store), BigInt(seqs[2]!), "the counter holds the last number handed out");
    } finally {
      for (const vm of vms) await vm.close();
    }
  });
});
