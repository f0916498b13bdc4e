// VmMemory keeps views of a VM's linear memory between host calls; they must follow
// memory.grow, for an ordinary memory (whose old buffer is detached) and for a shared one
// (whose old SharedArrayBuffer stays valid at its old length).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { VmMemory } from "../../../host/src/proxy-wasm/memory.ts";
import { wasmApi } from "../../../host/src/proxy-wasm/wasm-api.ts";

const PAGE = 65536;

for (const shared of [false, true]) {
  describe(`VmMemory over a ${shared ? "shared" : "plain"} memory`, () => {
    it("sees the pages memory.grow adds", () => {
      const memory = new wasmApi.Memory({ initial: 1, maximum: 4, shared });
      const vm = new VmMemory();
      vm.attach(memory);
      assert.equal(vm.size, PAGE);
      assert.equal(vm.inBounds(PAGE + 100, 4), false);
      memory.grow(1);
      assert.equal(vm.size, 2 * PAGE);
      assert.equal(vm.inBounds(PAGE + 100, 4), true);
      assert.equal(vm.writeU32(PAGE + 100, 0xdeadbeef), true);
      assert.equal(new DataView(memory.buffer).getUint32(PAGE + 100, true), 0xdeadbeef);
      assert.equal(vm.latin1(PAGE + 100, 1), "\u00ef");
      assert.equal(vm.inBounds(2 * PAGE, 1), false);
    });
  });
}
