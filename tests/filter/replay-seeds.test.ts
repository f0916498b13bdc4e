// The replay guard's seeds (nexus/v1/seen/seed) are created by the first VM that configures, with
// an unconditional write: shared data has no create-if-absent. Two VMs configuring at the same
// instant can each write their own, and one of them then hashes ids with seeds nobody else uses,
// so a replay sent first to it and then to another VM is not seen. Every VM adopts the seeds in
// shared data on each tick. Here two VM pools share one store, and the seeds are replaced between
// their starts, as the losing VM of such a race would find them.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { VmPool } from "../../host/src/proxy-wasm/index.ts";
import { SharedDataStore } from "../../host/src/proxy-wasm/shared-data.ts";
import { DEFAULT_WASM } from "../../host/src/paths.ts";
import { README_REQUEST } from "../helpers/bidder.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

const SEED_KEY = "nexus/v1/seen/seed";
const enc = new TextEncoder();

function reason(o: HttpOutcome): string | undefined {
  return o.kind === "local" ? o.headers.find(([k]) => k === "x-nexus-nobid-reason")?.[1] : o.kind;
}

describe("replay guard seeds after a configure-time race", () => {
  const store = SharedDataStore.create({ bytes: 16 << 20, maxKeys: 10_000 });
  const options = {
    wasm: readFileSync(DEFAULT_WASM),
    vms: 1,
    mode: "inline" as const,
    rootId: "nexus",
    // No host: the guard runs before any campaign or model is needed (such requests end as no-bids).
    pluginConfig: JSON.stringify({ replay_ttl_ms: 60_000, replay_buckets: 64, sync_token: "t".repeat(32) }),
    sharedData: store,
    autoTick: false,
    log: () => {},
  };
  let a: VmPool;
  let b: VmPool;
  before(async () => {
    a = await VmPool.start(options);
    const cur = store.get(SEED_KEY);
    assert.ok(cur && cur.value.byteLength === 8, "the first VM created the seeds");
    // The other VM of the race wrote its seeds after this one had read its own.
    assert.equal(store.set(SEED_KEY, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), cur.cas), 0);
    b = await VmPool.start(options);
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  const send = (pool: VmPool, id: string) => {
    const body = JSON.stringify({ ...JSON.parse(README_REQUEST), id });
    return pool.handleHttpRequest({
      headers: [[":method", "POST"], [":path", "/openrtb2/bid"], [":authority", "bidder.test"], [":scheme", "http"], ["content-type", "application/json"]],
      body: [enc.encode(body)],
    });
  };

  it("after a tick, an id seen by one VM is a replay on the other", async () => {
    await a.tickAll();
    await b.tickAll();
    for (let i = 0; i < 20; i++) {
      const id = `seed-race-${i}`;
      const first = await send(a, id);
      assert.notEqual(reason(first), "replay", "the first copy is not a replay");
      assert.equal(reason(await send(b, id)), "replay", `${id}: the copy sent to the other VM is a replay`);
    }
  });
});
