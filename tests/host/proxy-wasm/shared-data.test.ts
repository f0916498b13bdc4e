import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Status } from "../../../host/src/proxy-wasm/constants.ts";
import { SharedDataStore } from "../../../host/src/proxy-wasm/shared-data.ts";
import { spawnWorker } from "../../../host/src/proxy-wasm/worker-spawn.ts";

const MiB = 1024 * 1024;

function u64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

function readU64(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true);
}

function filled(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 4096) b[i] = (seed + i) & 0xff;
  b[n - 1] = seed & 0xff;
  return b;
}

describe("SharedDataStore", () => {
  test("get/set with CAS (cpp-host semantics)", () => {
    const s = SharedDataStore.create({ bytes: MiB });
    assert.equal(s.get("k"), undefined);
    assert.equal(s.set("k", "v1"), Status.OK);
    const a = s.get("k")!;
    assert.equal(new TextDecoder().decode(a.value), "v1");
    assert.notEqual(a.cas, 0);
    assert.equal(s.set("k", "v2", a.cas), Status.OK);
    const b = s.get("k")!;
    assert.notEqual(b.cas, a.cas);
    assert.equal(s.set("k", "v3", a.cas), Status.CAS_MISMATCH);
    assert.equal(s.getString("k"), "v2");
    assert.equal(s.set("k", "v4", 0), Status.OK, "cas 0 writes unconditionally");
    assert.equal(s.set("other", "x", 12345), Status.OK, "a missing key is inserted whatever the cas (cpp-host)");
    assert.equal(s.set(new Uint8Array([0xff, 0]), "bin"), Status.OK, "binary keys");
    assert.equal(s.getString(new Uint8Array([0xff, 0])), "bin");
    assert.deepEqual(s.keys().sort(), ["k", "other", "\ufffd\u0000"].sort());
  });

  test("CAS values come from one store-wide counter and skip 0 when it wraps", () => {
    const s = SharedDataStore.create({ bytes: MiB });
    s.set("a", "1");
    const c1 = s.get("a")!.cas;
    s.set("b", "1");
    assert.equal(s.get("b")!.cas, c1 + 1);
    // Test-only: move the counter (header word 2) to its last value.
    new Int32Array(s.buffer)[2] = -1;
    s.set("a", "2");
    assert.equal(s.get("a")!.cas, 0xffffffff);
    s.set("a", "3");
    assert.equal(s.get("a")!.cas, 1);
  });

  test("a second handle on the same SharedArrayBuffer sees the same data; onBeforeSet is per handle", () => {
    const s1 = SharedDataStore.create({ bytes: MiB });
    const s2 = SharedDataStore.attach(s1.buffer);
    let calls = 0;
    s1.onBeforeSet = (key) => {
      calls++;
      assert.equal(key, "x");
      assert.equal(s1.set("x", "from-hook"), Status.OK, "a set inside the hook does not re-enter it");
    };
    const cas = (s2.set("x", "0"), s2.get("x")!.cas);
    assert.equal(calls, 0, "the other handle does not run the hook");
    assert.equal(s1.set("x", "mine", cas), Status.CAS_MISMATCH);
    assert.equal(calls, 1);
    assert.equal(s2.getString("x"), "from-hook");
  });

  test("small hot keys are rewritten in place: no allocation growth over 200k writes", () => {
    const s = SharedDataStore.create({ bytes: MiB });
    for (let k = 0; k < 16; k++) s.set(`hot-${k}`, new Uint8Array(64));
    const before = s.stats();
    const v = new Uint8Array(64);
    for (let i = 0; i < 200_000; i++) {
      v[0] = i & 0xff;
      const key = `hot-${i & 15}`;
      assert.equal(s.set(key, v.subarray(0, 40 + (i % 25)), s.get(key)!.cas), Status.OK);
    }
    const after = s.stats();
    assert.equal(after.usedBytes, before.usedBytes);
    assert.equal(after.freeBlocks, before.freeBlocks);
  });

  test("fill() gives stats()' keys, used and arena bytes, through inserts and replacements", () => {
    const s = SharedDataStore.create({ bytes: MiB });
    const same = (when: string) => {
      const { keys, usedBytes, arenaBytes } = s.stats();
      assert.deepEqual(s.fill(), { keys, usedBytes, arenaBytes }, when);
    };
    same("empty");
    for (let k = 0; k < 100; k++) s.set(`k-${k}`, new Uint8Array(k * 7));
    same("after inserts");
    assert.equal(s.fill().keys, 100);
    for (let k = 0; k < 100; k += 3) s.set(`k-${k}`, new Uint8Array(900));
    same("after growing replacements");
    assert.ok(s.fill().usedBytes > 0);
  });

  test("large values (a model blob) are replaced repeatedly without leaking", () => {
    const s = SharedDataStore.create({ bytes: 16 * MiB });
    s.set("small", "x");
    const base = s.stats();
    const sizes = [3 * MiB, 5 * MiB, 2.5 * MiB, 6 * MiB, 1 * MiB, 7 * MiB];
    for (let i = 0; i < 60; i++) {
      const size = Math.floor(sizes[i % sizes.length]!) + i;
      const blob = filled(size, i);
      assert.equal(s.set("model", blob), Status.OK, `round ${i}`);
      const got = s.get("model")!.value;
      assert.equal(got.length, size);
      assert.equal(got[size - 1], i & 0xff);
      assert.equal(got[4096], (i + 4096) & 0xff);
    }
    s.set("model", "tiny");
    const end = s.stats();
    // Only the key and the tiny value remain on top of the baseline; everything else was coalesced.
    assert.ok(end.usedBytes - base.usedBytes <= 64, `used grew by ${end.usedBytes - base.usedBytes}`);
    assert.equal(end.freeBlocks, 1);
  });

  test("replacement that only fits after freeing the old value; exhaustion keeps the old value", () => {
    const s = SharedDataStore.create({ bytes: 4 * MiB, maxKeys: 16 });
    const arena = s.stats().arenaBytes;
    assert.equal(s.set("a", filled(Math.floor(arena * 0.6), 1)), Status.OK);
    assert.equal(s.set("a", filled(Math.floor(arena * 0.8), 2)), Status.OK, "frees the old block first when needed");
    assert.equal(s.get("a")!.value.length, Math.floor(arena * 0.8));
    const before = s.get("a")!;
    assert.equal(s.set("a", new Uint8Array(arena + 1)), Status.INTERNAL_FAILURE);
    const after = s.get("a")!;
    assert.equal(after.cas, before.cas);
    assert.deepEqual(after.value, before.value);
    assert.equal(s.set("b", new Uint8Array(Math.floor(arena * 0.3))), Status.INTERNAL_FAILURE, "no room for a new key");
    assert.equal(s.get("b"), undefined);
  });

  test("the key table is bounded (maxKeys)", () => {
    const s = SharedDataStore.create({ bytes: MiB, maxKeys: 4 });
    for (let i = 0; i < 4; i++) assert.equal(s.set(`k${i}`, "v"), Status.OK);
    assert.equal(s.set("k4", "v"), Status.INTERNAL_FAILURE);
    assert.equal(s.set("k0", "v2"), Status.OK, "existing keys can still be updated");
  });

  test("random workload matches a model (allocator/coalescing consistency)", () => {
    const s = SharedDataStore.create({ bytes: 8 * MiB, maxKeys: 256 });
    const model = new Map<string, Uint8Array>();
    let seed = 42;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 5000; i++) {
      const key = `key-${rnd(200)}`;
      const size = rnd(10) === 0 ? rnd(200_000) : rnd(300);
      const v = new Uint8Array(size);
      for (let j = 0; j < size; j += 97) v[j] = rnd(256);
      assert.equal(s.set(key, v), Status.OK);
      model.set(key, v);
    }
    for (const [k, v] of model) assert.deepEqual(s.get(k)!.value, v, k);
    const st = s.stats();
    assert.equal(st.keys, model.size);
    assert.equal(st.usedBytes + st.freeBytes, st.arenaBytes);
  });

  test("4 worker threads + the main thread CAS-increment one counter: the total is exact", async () => {
    const s = SharedDataStore.create({ bytes: MiB });
    s.set("ctr", u64(0n));
    const n = 3000;
    const workers = Array.from({ length: 4 }, () =>
      spawnWorker(new URL("./shared-data-worker.ts", import.meta.url), { workerData: { sab: s.buffer, key: "ctr", n } }),
    );
    const done = workers.map(
      (w) =>
        new Promise<number>((resolve, reject) => {
          w.once("message", (m: { attempts: number }) => resolve(m.attempts));
          w.once("error", reject);
        }),
    );
    // The main thread competes too.
    for (let i = 0; i < n; i++) {
      for (;;) {
        const cur = s.get("ctr")!;
        if (s.set("ctr", u64(readU64(cur.value) + 1n), cur.cas) === Status.OK) break;
        await new Promise((r) => setImmediate(r));
      }
    }
    const attempts = await Promise.all(done);
    await Promise.all(workers.map((w) => w.terminate()));
    assert.equal(readU64(s.get("ctr")!.value), BigInt(5 * n));
    assert.ok(attempts.every((a) => a >= n));
  });
});

describe("a thread that died holding the lock", () => {
  test("makes the next locker time out and marks the store wedged, for the health check", () => {
    const store = SharedDataStore.create({ bytes: 1 << 20, lockTimeoutMs: 150 });
    store.set("k", "v");
    assert.equal(store.wedged(), false);
    Atomics.store(new Int32Array(store.buffer), 1, 1); // the lock word, taken by a thread that is gone
    assert.throws(() => store.get("k"), /lock timeout/);
    assert.equal(store.wedged(), true);
    assert.equal(SharedDataStore.attach(store.buffer).wedged(), true, "every thread sees it");
  });
});
