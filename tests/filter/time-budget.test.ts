// The time budget: a decision that runs past decision_budget_ms (4 ms by
// default), or past its share of tmax, is a no-bid and its reservations are
// refunded. Time is simulated, so the test does not depend on machine speed.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { README_REQUEST } from "../helpers/bidder.ts";
import { readLedger } from "../helpers/ledger.ts";

let sim: SimBidder;
const dec = new TextDecoder();

before(async () => {
  sim = await startSimBidder({ vms: 1 });
  await sim.untilReady();
});
after(async () => {
  await sim?.close();
});

function header(out: Awaited<ReturnType<SimBidder["bid"]>>, name: string): string | undefined {
  return out.kind === "local" ? out.headers.find(([k]) => k === name)?.[1] : undefined;
}

describe("time budget", () => {
  it("bids when the decision is fast", async () => {
    sim.clock.stepPerReadMs = 0;
    const out = await sim.bid(README_REQUEST);
    assert.equal(out.kind, "local");
    assert.ok(out.kind === "local" && out.status === 200, JSON.stringify({ kind: out.kind }));
  });

  it("answers a no-bid (timeout) past 4 ms and refunds what it reserved", async () => {
    const before = readLedger(sim.pool.shared, "test-cpa")!;
    sim.clock.stepPerReadMs = 5; // every clock read by the filter is 5 ms later than the previous one
    const out = await sim.bid(README_REQUEST);
    sim.clock.stepPerReadMs = 0;
    assert.equal(out.kind === "local" && out.status, 204);
    assert.equal(header(out, "x-nexus-nobid-reason"), "timeout");
    const end = readLedger(sim.pool.shared, "test-cpa")!;
    assert.equal(end.reserved, before.reserved, "the reservation was refunded");
    assert.equal(end.reservations - before.reservations, 1n, "it had reserved before the check");
  });

  it("stops between impressions once past its time: a request of many impressions reserves for the first only, refunded", async () => {
    const req = JSON.parse(README_REQUEST);
    req.imp = [1, 2, 3, 4, 5, 6].map((i) => ({ ...req.imp[0], id: String(i) }));
    const before = readLedger(sim.pool.shared, "test-cpa")!;
    const onTime = await sim.bid(JSON.stringify({ ...req, id: "many-on-time" }));
    assert.equal(onTime.kind === "local" && onTime.status, 200);
    const afterOnTime = readLedger(sim.pool.shared, "test-cpa")!;
    assert.equal(afterOnTime.reservations - before.reservations, 6n, "on time, each impression reserves");
    // Every clock read 5 ms after the one before: the check before the second impression is late.
    // Before, the decision went through all six (six reservations) and only its end was timed.
    sim.clock.stepPerReadMs = 5;
    const late = await sim.bid(JSON.stringify({ ...req, id: "many-late" }));
    sim.clock.stepPerReadMs = 0;
    assert.equal(header(late, "x-nexus-nobid-reason"), "timeout");
    const end = readLedger(sim.pool.shared, "test-cpa")!;
    assert.equal(end.reservations - afterOnTime.reservations, 1n, "the first impression only");
    assert.equal(end.reserved, afterOnTime.reserved, "and it was refunded");
  });

  it("uses the tighter tmax share: tmax 4 ms leaves 2 ms for the decision", async () => {
    const req = JSON.parse(README_REQUEST);
    req.tmax = 4;
    // The decision is timed on the monotonic clock, read at the headers, by the reservation and at
    // the end of the decision: 1.5 ms a read puts the end 3 ms after the start, over 2 ms and
    // under 4 ms.
    sim.clock.stepPerReadMs = 1.5;
    const out = await sim.bid(JSON.stringify(req));
    const plain = await sim.bid(README_REQUEST);
    sim.clock.stepPerReadMs = 0;
    assert.equal(header(out, "x-nexus-nobid-reason"), "timeout");
    assert.equal(plain.kind === "local" && plain.status, 200, "without tmax, 3 ms is within the 4 ms budget");
  });

  it("times the decision on the monotonic clock: a wall clock stepping back during a decision neither times it out nor puts a wrapped value in the latency histogram", async () => {
    const latency = () => sim.pool.metrics.find("nexus_decision_latency_us")!;
    const before = latency();
    // Every wall-clock read is a minute earlier than the one before (an NTP step back between the
    // headers and the end of the decision); the monotonic clock does not move.
    sim.clock.wallStepPerReadMs = -60_000;
    const out = await sim.bid(README_REQUEST);
    sim.clock.wallStepPerReadMs = 0;
    sim.clock.wallOffsetMs = 0;
    assert.equal(out.kind === "local" && out.status, 200, `reason: ${header(out, "x-nexus-nobid-reason")}`);
    const after = latency();
    assert.equal(after.count! - before.count!, 1n);
    assert.ok(after.sum! - before.sum! < 4000n, `latency sample ${after.sum! - before.sum!} µs`);
  });
});
