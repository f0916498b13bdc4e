// What a request costs in crossings between the host and the filter: every callback into the
// VM and every host call it makes, counted (VmOptions.traceCalls) while the standalone host runs
// streams as Envoy does (local replies through the filter's encoder callbacks, access log).
// Counts, not times: they are the same on every machine. Under Envoy each crossing is a
// cpp-host call; in the standalone host each is a JavaScript function with its own checks.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { PRODUCTION_LIKE, startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { README_REQUEST } from "../helpers/bidder.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";

let sim: SimBidder;
let counts = new Map<string, number>();

before(async () => {
  sim = await startSimBidder({ ...PRODUCTION_LIKE, traceCalls: (name) => counts.set(name, (counts.get(name) ?? 0) + 1) });
  await sim.untilReady();
});
after(async () => {
  await sim?.close();
});

let ids = 0;
/** The crossings of one request, after a warm-up request of the same kind. */
async function crossingsOf(send: () => Promise<HttpOutcome>, status: number | string): Promise<Map<string, number>> {
  const first = await send();
  assert.equal(first.kind === "local" ? first.status : first.kind, status);
  counts = new Map();
  const out = await send();
  assert.equal(out.kind === "local" ? out.status : out.kind, status);
  const seen = counts;
  counts = new Map();
  return seen;
}

const bid = () => sim.bid(JSON.stringify({ ...JSON.parse(README_REQUEST), id: `req-${++ids}` }));
const noBid = () => sim.bid(JSON.stringify({ id: `nb-${++ids}`, imp: [{ id: "1", banner: { w: 1, h: 1 } }] }));
const malformed = () => sim.bid('{"id": 1, "imp": [}');
const passThrough = () => sim.pool.handleHttpRequest({ headers: [[":method", "GET"], [":path", "/health"], [":authority", "bidder.test"], [":scheme", "http"]], body: [] });

const callbacks = (m: Map<string, number>) => [...m.keys()].filter((k) => k.startsWith("proxy_on_") && k !== "proxy_on_memory_allocate").sort();
const hostCalls = (m: Map<string, number>) => [...m].filter(([k]) => k.includes(".")).reduce((n, [, c]) => n + c, 0);

describe("host crossings per request", () => {
  it("a bid, a no-bid and a malformed request call only the request callbacks: the filter exports no response, log or done callback", async () => {
    const stream = ["proxy_on_context_create", "proxy_on_delete", "proxy_on_request_body", "proxy_on_request_headers"];
    for (const [what, send, status] of [["bid", bid, 200], ["no-bid", noBid, 204], ["malformed", malformed, 400]] as const) {
      const seen = await crossingsOf(send, status);
      assert.deepEqual(callbacks(seen), stream, what);
      for (const k of seen.keys()) assert.ok(!/^proxy_on_(response|log|done)/.test(k), `${what}: ${k}`);
    }
    // A stream the filter does not handle (GET, no body): its headers only.
    assert.deepEqual(callbacks(await crossingsOf(passThrough, "continue")), ["proxy_on_context_create", "proxy_on_delete", "proxy_on_request_headers"]);
  });

  it("a bid reads the wall clock once (its time of day, at the headers) and stays within its budget of host calls", async () => {
    const seen = await crossingsOf(bid, 200);
    assert.equal(seen.get("env.proxy_get_current_time_nanoseconds"), 1);
    assert.equal(seen.get("env.proxy_get_header_map_pairs"), 1);
    assert.equal(seen.get("env.proxy_get_buffer_bytes"), 1, "the body is copied into the VM once");
    assert.equal(seen.get("env.proxy_send_local_response"), 1);
    // Shared data: replay guard, reservation slot and the campaign's ledger, each a read and a CAS
    // write. The monotonic clock: the decision's start (also the replay entry's clock) and end,
    // and the reservation's expiry.
    assert.equal(seen.get("env.proxy_get_shared_data"), 3);
    assert.equal(seen.get("env.proxy_set_shared_data"), 3);
    assert.equal(seen.get("wasi_snapshot_preview1.clock_time_get"), 3);
    // Metrics: requests, reservations, reserved micros, bid responses, bids; the latency histogram.
    assert.equal(seen.get("env.proxy_increment_metric"), 5);
    assert.equal(seen.get("env.proxy_record_metric"), 1);
    const total = hostCalls(seen);
    assert.equal(total, 19, `every host call of a bid: ${JSON.stringify([...seen])}`);
  });
});
