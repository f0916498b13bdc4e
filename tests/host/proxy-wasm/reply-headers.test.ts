// The host remembers the header maps a filter sends with its local replies (it decodes a
// byte-equal map only once). The pairs it hands out must still be the receiver's own: changing
// one reply's headers must not change the next reply's.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startTestBidder } from "../../helpers/bidder.ts";
import type { Standalone } from "../../../host/src/standalone.ts";

describe("local reply headers", () => {
  let app: Standalone;
  before(async () => {
    app = await startTestBidder({ vms: 1, vmMode: "inline" });
  });
  after(async () => {
    await app?.close();
  });

  it("are fresh, writable pairs on every reply, however often the filter sends the same map", async () => {
    const request = () => ({ headers: [[":method", "POST"], [":path", "/openrtb2/bid"], [":authority", "t"], [":scheme", "http"]] as Array<[string, string]>, body: [new TextEncoder().encode("{")] });
    const replies = [];
    for (let i = 0; i < 3; i++) {
      const o = await app.pool.handleHttpRequest(request());
      assert.equal(o.kind, "local");
      if (o.kind !== "local") return;
      assert.equal(o.status, 400);
      replies.push(o);
    }
    const original = replies[2]!.headers.map(([k, v]) => `${k}: ${v}`);
    assert.ok(original.length > 0);
    for (const pair of replies[0]!.headers) pair[1] = "changed";
    replies[0]!.headers.push(["x-added", "1"]);
    assert.deepEqual(replies[2]!.headers.map(([k, v]) => `${k}: ${v}`), original);
    const next = await app.pool.handleHttpRequest(request());
    assert.ok(next.kind === "local");
    if (next.kind === "local") assert.deepEqual(next.headers.map(([k, v]) => `${k}: ${v}`), original);
  });
});
