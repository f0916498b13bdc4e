// The standalone's shared-data store is fixed at start, so it is sized from the plugin
// configuration: every reservation ring slot and every replay bucket becomes a key of its own as
// bids come. With the fixed 200,000-key store of before, a ring of more than ~180,000 slots ran
// out of keys part of the way round, and every bid landing on a slot past that was a no-bid.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { modelBlobBytes, sharedDataSize, type Standalone } from "../../host/src/standalone.ts";
import { SharedDataStore } from "../../host/src/proxy-wasm/shared-data.ts";
import { README_REQUEST, get, post, startTestBidder } from "../helpers/bidder.ts";

const MiB = 1 << 20;

describe("sharedDataSize", () => {
  it("keeps the base store (128 MiB, 200,000 keys) for the default ring, replay and frequency buckets", () => {
    assert.deepEqual(sharedDataSize({}), { bytes: 128 * MiB, maxKeys: 200_000 });
    assert.deepEqual(sharedDataSize({ reservation_slots: 65_536, replay_buckets: 16_384, frequency_buckets: 16_384 }), { bytes: 128 * MiB, maxKeys: 200_000 });
  });

  it("grows with the ring, the replay and the frequency buckets: each is a key, plus room for the rest", () => {
    const s = sharedDataSize({ reservation_slots: 1_000_000, replay_buckets: 32_768, frequency_buckets: 50_000 });
    assert.equal(s.maxKeys, 1_000_000 + 32_768 + 50_000 + 65_536);
    assert.equal(s.bytes, 128 * MiB + (s.maxKeys - 200_000) * 384);
  });

  it("the largest configuration the filter accepts still makes a store (under 2 GiB)", () => {
    const s = sharedDataSize({ reservation_slots: 1 << 22, replay_buckets: 1 << 16, frequency_buckets: 1 << 16 });
    assert.equal(s.maxKeys, (1 << 22) + (1 << 16) + (1 << 16) + 65_536);
    const store = SharedDataStore.create(s);
    assert.ok(store.stats().maxKeys >= s.maxKeys);
    // Room for every slot's key and record: ~150 bytes each in the arena.
    assert.ok(store.stats().arenaBytes / s.maxKeys >= 200, `${store.stats().arenaBytes / s.maxKeys} arena bytes per key`);
  });

  it("a hash_bits above the default adds twice its model's size: a 24-bit model (128 MiB) is published beside a full ring", () => {
    assert.equal(sharedDataSize({ hash_bits: 18 }).bytes, 128 * MiB);
    const s = sharedDataSize({ hash_bits: 24 });
    assert.equal(s.bytes, 128 * MiB + 2 * (modelBlobBytes(24) - modelBlobBytes(18)));
    const store = SharedDataStore.create(s);
    // Every ring slot, replay and frequency bucket written (their records' sizes), then the model.
    const record = new Uint8Array(56);
    for (let i = 0; i < 65_536; i++) assert.equal(store.set(`nexus/v1/resv/${i}`, record), 0);
    for (let i = 0; i < 32_768; i++) assert.equal(store.set(`nexus/v1/seen/${i}`, new Uint8Array(256)), 0);
    const blob = new Uint8Array(32 + 32 + 8 * 2 ** 24);
    assert.equal(store.set("nexus/v1/model/blob", blob), 0, "the 24-bit model fits");
    // A swap to a model of another size (a sparse one, then dense again) finds room too.
    assert.equal(store.set("nexus/v1/model/blob", blob.subarray(0, 90 * MiB)), 0);
    assert.equal(store.set("nexus/v1/other", new Uint8Array(4096)), 0);
    assert.equal(store.set("nexus/v1/model/blob", blob), 0);
    // Before: the base store refused it.
    assert.notEqual(SharedDataStore.create(sharedDataSize({})).set("nexus/v1/model/blob", blob), 0);
  });

  it("values outside the filter's ranges fall back or are capped (the filter reports them, the host does not crash first)", () => {
    assert.deepEqual(sharedDataSize({ reservation_slots: "many", replay_buckets: -5 }), sharedDataSize({}));
    assert.deepEqual(sharedDataSize({ reservation_slots: 1e12 }), sharedDataSize({ reservation_slots: 1 << 22 }));
    assert.deepEqual(sharedDataSize({ frequency_buckets: 1e12 }), sharedDataSize({ frequency_buckets: 1 << 16 }));
  });
});

describe("a standalone bidder with a large reservation ring", () => {
  const SLOTS = 300_000;
  let app: Standalone;
  before(async () => {
    app = await startTestBidder({ plugin: { reservation_slots: SLOTS } });
  });
  after(async () => {
    await app?.close();
  });

  it("has a store with a key for every ring slot and replay bucket, and bids", async () => {
    const st = app.pool.shared.stats();
    assert.ok(st.maxKeys - st.keys >= SLOTS + 16_384, `${st.maxKeys - st.keys} free keys for ${SLOTS} ring slots`);
    const r = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
    assert.equal(r.status, 200, `${r.status} ${String(r.headers["x-nexus-nobid-reason"])}`);
  });

  it("exports each VM's linear memory and the shared data's fill on /metrics (what a soak test watches)", async () => {
    const r = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
    assert.ok(r.status === 200 || r.status === 204);
    const text = (await get(`${app.controlUrl}/metrics`)).text;
    const value = (name: string): number => {
      const m = new RegExp(`^${name.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(text);
      assert.ok(m, `${name} on /metrics`);
      return Number(m[1]);
    };
    const mem = app.pool.memoryBytes();
    assert.equal(mem.length, 2);
    for (let vm = 0; vm < mem.length; vm++) {
      assert.equal(value(`nexus_host_vm_memory_bytes{vm="${vm}"}`), mem[vm]);
      assert.ok(mem[vm]! >= 65_536);
    }
    const st = app.pool.shared.stats();
    assert.equal(value("nexus_host_shared_data_arena_bytes"), st.arenaBytes);
    // keys and used bytes move with the VMs' ticks: read live, close to the store's
    assert.ok(Math.abs(value("nexus_host_shared_data_keys") - st.keys) < 1000);
    assert.ok(value("nexus_host_shared_data_keys") > 0);
    assert.ok(value("nexus_host_shared_data_used_bytes") > 0 && value("nexus_host_shared_data_used_bytes") <= st.arenaBytes);
  });
});
