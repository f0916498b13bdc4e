// Some hosts (older proxy-wasm cpp-host) answer a read of an empty buffer with OK without
// writing its pointer and size. The ABI layer must then see 0/0, not the previous call's
// out-slots: here the request headers read just before, which the filter would have parsed as
// the bid request's body.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";
import { README_REQUEST } from "../helpers/bidder.ts";

let sim: SimBidder;
let silentBodies = false;
const dec = new TextDecoder();

before(async () => {
  sim = await startSimBidder({
    vms: 1,
    // While silentBodies is set, a body read answers OK and writes nothing, as such a host does
    // for an empty body; otherwise the standalone host's own.
    interceptImports: {
      "env.proxy_get_buffer_bytes": (original) => (...args) => (silentBodies ? 0 : original(...args)),
    },
  });
  await sim.untilReady();
});
after(async () => {
  await sim?.close();
});

describe("a host that answers OK without writing the out-slots", () => {
  it("the filter reads an empty body, not the previous call's bytes", async () => {
    silentBodies = true;
    const out = await sim.bid(README_REQUEST);
    silentBodies = false;
    assert.ok(out.kind === "local");
    assert.equal(out.status, 400);
    assert.match(JSON.parse(dec.decode(out.body)).error, /empty body/);
  });
});
