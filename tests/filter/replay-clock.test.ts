// The replay guard's TTL runs on the host's monotonic clock (assembly/filter/replay-guard.ts): a
// wall clock that steps forward past replay_ttl_ms (an NTP step, a resumed VM) used to free every
// remembered id at once, so a replayed request bid (and reserved) again.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { README_REQUEST } from "../helpers/bidder.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

const TTL_MS = 60_000;

function statusOf(out: HttpOutcome): string {
  if (out.kind !== "local") return out.kind;
  const reason = out.headers.find(([h]) => h === "x-nexus-nobid-reason")?.[1];
  return reason ? `${out.status} ${reason}` : String(out.status);
}

describe("replay guard TTL and a wall clock that steps", () => {
  let sim: SimBidder;
  before(async () => {
    sim = await startSimBidder({ plugin: { replay_ttl_ms: TTL_MS } });
    await sim.untilReady();
  });
  after(async () => {
    await sim?.close();
  });

  it("an id stays seen when the wall clock jumps an hour, and is forgotten after the TTL of monotonic time", async () => {
    const body = JSON.stringify({ ...JSON.parse(README_REQUEST), id: "replay-clock-1" });
    assert.equal(statusOf(await sim.bid(body)), "200");
    assert.equal(statusOf(await sim.bid(body)), "204 replay", "a resend within the TTL");
    sim.clock.wallOffsetMs += 3_600_000;
    assert.equal(statusOf(await sim.bid(body)), "204 replay", "the wall clock jumped an hour: still within the TTL");
    sim.clock.now += TTL_MS + 1000;
    await sim.tick();
    assert.equal(statusOf(await sim.bid(body)), "200", "after the TTL of monotonic time the id may bid again");
  });
});
