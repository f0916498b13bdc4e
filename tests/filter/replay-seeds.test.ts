// The replay guard's seeds (nexus/v1/seen/seed) are created by the first VM that configures, with
// an unconditional write: shared data has no create-if-absent. Two VMs configuring at the same
// instant can each write their own, and one of them then hashes ids with seeds nobody else uses,
// so a replay sent first to it and then to another VM is not seen. Every VM adopts the seeds in
// shared data on each tick. Here two VM pools share one store, and the seeds are replaced between
// their starts, as the losing VM of such a race would find them.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST } from "../helpers/bidder.ts";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

const SEED_KEY = "nexus/v1/seen/seed";

function reason(o: HttpOutcome): string | undefined {
  if (o.kind !== "local") return o.kind;
  return o.status === 200 ? "bid" : o.headers.find(([k]) => k === "x-nexus-nobid-reason")?.[1];
}

describe("replay guard seeds after a configure-time race", () => {
  // The guard is asked when a request is about to reserve (filter/replay-gate.ts): both VM
  // configurations bid, on one host and one shared-data store (one Envoy process).
  const plugin = { replay_ttl_ms: 60_000, replay_buckets: 64, decision_budget_ms: 1000 };
  let a: SimBidder;
  let b: SimBidder;
  before(async () => {
    a = await startSimBidder({ plugin, budget: { minSliceMicros: 900_000_000 } });
    await a.untilReady();
    const cur = a.pool.shared.get(SEED_KEY);
    assert.ok(cur && cur.value.byteLength === 8, "the first VM created the seeds");
    // The other VM of the race wrote its seeds after this one had read its own.
    assert.equal(a.pool.shared.set(SEED_KEY, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), cur.cas), 0);
    b = await startSimBidder({ plugin, sharedData: a.pool.shared, controlPlane: a.cp, startMs: a.clock.now });
    await b.untilReady();
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  const send = (bidder: SimBidder, id: string) => bidder.bid(JSON.stringify({ ...JSON.parse(README_REQUEST), id }));

  it("after a tick, an id seen by one VM is a replay on the other", async () => {
    await a.tick();
    await b.tick();
    for (let i = 0; i < 20; i++) {
      const id = `seed-race-${i}`;
      assert.equal(reason(await send(a, id)), "bid", "the first copy gets a bid");
      assert.equal(reason(await send(b, id)), "replay", `${id}: the copy sent to the other VM is a replay`);
    }
  });
});
