// Graceful stop (SIGTERM runs Standalone.stop()): /readyz turns 503 at once, the bid listener
// closes (after the notice window: notice-drain.test.ts; none here), and a request already in
// flight is answered (its reservation settled by the answer, not left to the TTL) before the
// filter VMs stop. Before, the stop closed every connection at once: in-flight bids were cut
// (ECONNRESET) and bodies already read went to a closed VM pool.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { README_REQUEST, get, startTestBidder } from "../../helpers/bidder.ts";

/** Everything the server sends on `socket` until it closes the connection. */
function readAll(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

describe("graceful stop", () => {
  it("answers the bid in flight (with connection: close), says draining on /readyz, then stops", async () => {
    const app = await startTestBidder({ vms: 1 });
    const port = Number(new URL(app.bidUrl).port);
    const body = Buffer.from(README_REQUEST);
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((r) => socket.once("connect", () => r()));
    const answer = readAll(socket);
    // Headers and half of the body: a request in flight when the stop begins.
    socket.write(`POST /openrtb2/bid HTTP/1.1\r\nhost: bidder.test\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
    socket.write(body.subarray(0, 40));
    await new Promise((r) => setTimeout(r, 50));

    const t0 = Date.now();
    let stopped = false;
    const stopping = app.stop(10_000, 0).then(() => (stopped = true));
    const ready = await get(`${app.controlUrl}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(ready.text, /draining/);
    assert.equal(stopped, false, "still waiting for the request in flight");

    socket.write(body.subarray(40));
    const text = await answer;
    assert.match(text, /^HTTP\/1\.1 200 /, text.slice(0, 200));
    assert.match(text, /\r\nconnection: close\r\n/i);
    assert.match(text, /"seatbid"/);
    await stopping;
    assert.ok(Date.now() - t0 < 10_000, "stopped once the last connection closed, before the drain timeout");
    // The listener is closed: a new connection is refused.
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = connect(port, "127.0.0.1");
        s.once("connect", () => (s.destroy(), resolve(undefined)));
        s.once("error", reject);
      }),
      /ECONNREFUSED/,
    );
  });

  it("cuts a connection that does not finish its request within the drain time", async () => {
    const app = await startTestBidder({ vms: 1 });
    const port = Number(new URL(app.bidUrl).port);
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((r) => socket.once("connect", () => r()));
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.on("error", () => {});
    socket.write(`POST /openrtb2/bid HTTP/1.1\r\nhost: bidder.test\r\ncontent-length: 1000\r\n\r\n{"id":`);
    await new Promise((r) => setTimeout(r, 50));
    await app.stop(300);
    await closed;
  });
});
