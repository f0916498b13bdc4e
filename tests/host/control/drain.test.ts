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

  it("cuts a connection that does not finish its request within the drain time", { timeout: 10_000 }, async () => {
    const app = await startTestBidder({ vms: 1 });
    const port = Number(new URL(app.bidUrl).port);
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((r) => socket.once("connect", () => r()));
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.on("error", () => {});
    socket.write(`POST /openrtb2/bid HTTP/1.1\r\nhost: bidder.test\r\ncontent-length: 1000\r\n\r\n{"id":`);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await app.stop(300);
    await closed;
    // Cut at the drain time, not by node's 10 s request timeout (nor never: the listener is closed).
    assert.ok(Date.now() - t0 < 5_000, `the half-sent request was cut after ${Date.now() - t0} ms`);
  });
});

describe("graceful stop and connections that carry no request", () => {
  it("closes a connection that never sent a byte at once: it holds neither the notice window nor the stop", async () => {
    const app = await startTestBidder({ vms: 1 });
    const port = Number(new URL(app.bidUrl).port);
    // A load balancer's pre-opened connection: connected, nothing sent.
    const idle = connect(port, "127.0.0.1");
    await new Promise<void>((r) => idle.once("connect", () => r()));
    idle.on("error", () => {});
    const idleClosed = new Promise<void>((r) => idle.once("close", () => r()));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    // An 8 s drain with a 4 s notice window: before, the idle connection counted as a request in
    // flight (the window ran its 4 s) and was cut only at the 8 s deadline.
    await app.stop(8_000, 4_000);
    await idleClosed;
    assert.ok(Date.now() - t0 < 3_000, `the stop took ${Date.now() - t0} ms`);
  });

  it("refuses a bid that asks for 100-continue while stopping before its body is sent", async () => {
    const app = await startTestBidder({ vms: 1 });
    const port = Number(new URL(app.bidUrl).port);
    const stopping = app.stop(5_000, 2_000);
    await new Promise((r) => setTimeout(r, 50));
    // The listener stays open for the notice window.
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((r) => socket.once("connect", () => r()));
    const answer = readAll(socket);
    socket.write(`POST /openrtb2/bid HTTP/1.1\r\nhost: bidder.test\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(README_REQUEST)}\r\nexpect: 100-continue\r\n\r\n`);
    const text = await answer;
    assert.match(text, /^HTTP\/1\.1 503 /, text.slice(0, 200));
    assert.doesNotMatch(text, /100 Continue/);
    assert.match(text, /"error":"draining/);
    await stopping;
  });
});
