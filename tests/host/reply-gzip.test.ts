// Bid replies gzip-compressed in standalone mode for clients whose accept-encoding takes gzip, by
// the rules envoy.yaml's compressor applies in a sidecar: a 200 with an application/json body of
// 256 bytes or more. Over real HTTP against the standalone server (undici does not decompress:
// the bytes on the wire are checked), and the accept-encoding reading on its own.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { request } from "undici";
import type { Standalone } from "../../host/src/standalone.ts";
import { README_REQUEST, startTestBidder } from "../helpers/bidder.ts";
import { acceptsGzip } from "../../host/src/server/reply-gzip.ts";

describe("acceptsGzip", () => {
  it("reads accept-encoding as RFC 9110 does: gzip or x-gzip with q > 0, else * with q > 0", () => {
    for (const v of ["gzip", "GZIP", "x-gzip", "br, gzip", "gzip;q=0.5", "deflate, gzip ; q=1.0", "*", "br;q=1, *;q=0.1", "identity, gzip"]) assert.equal(acceptsGzip(v), true, v);
    for (const v of [undefined, "", "identity", "br", "deflate, br", "gzip;q=0", "gzip;q=0.0, *", "*;q=0", "gzipx"]) assert.equal(acceptsGzip(v), false, String(v));
  });
});

describe("gzip replies over HTTP (standalone)", () => {
  let app: Standalone;
  let ids = 0;
  before(async () => {
    app = await startTestBidder({ vms: 1 });
  });
  after(async () => {
    await app?.close();
  });

  const bid = async (headers: Record<string, string>, body = JSON.stringify({ ...JSON.parse(README_REQUEST), id: `gz-${++ids}` })) => {
    const r = await request(`${app.bidUrl}/openrtb2/bid`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
    return { status: r.statusCode, headers: r.headers, bytes: Buffer.from(await r.body.arrayBuffer()) };
  };

  it("a bid reply to a client that takes gzip is gzipped, with vary and the compressed length; the JSON is the same", async () => {
    const r = await bid({ "accept-encoding": "gzip, deflate" });
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-encoding"], "gzip");
    assert.equal(r.headers["vary"], "accept-encoding");
    assert.equal(Number(r.headers["content-length"]), r.bytes.length);
    const json = JSON.parse(gunzipSync(r.bytes).toString("utf8"));
    assert.equal(json.seatbid[0].bid.length, 1);
    assert.ok(r.bytes.length < Buffer.byteLength(JSON.stringify(json)), "smaller than the JSON");
    // The win notice in it works as usual.
    const nurl = new URL(json.seatbid[0].bid[0].nurl.replace("${AUCTION_PRICE}", "0.9"));
    const win = await request(nurl, { headers: { "accept-encoding": "gzip" } });
    assert.equal(win.statusCode, 200);
    assert.equal(win.headers["content-encoding"], undefined, "a short notice answer is not compressed");
    assert.equal((await win.body.json() as { status: string }).status, "charged");
  });

  it("without accept-encoding, with gzip refused (q=0) or only other codings: the plain JSON", async () => {
    const variants: Array<Record<string, string>> = [{}, { "accept-encoding": "gzip;q=0" }, { "accept-encoding": "br" }, { "accept-encoding": "identity" }];
    for (const headers of variants) {
      const r = await bid(headers);
      assert.equal(r.status, 200, JSON.stringify(headers));
      assert.equal(r.headers["content-encoding"], undefined, JSON.stringify(headers));
      assert.equal(JSON.parse(r.bytes.toString("utf8")).seatbid[0].bid.length, 1);
    }
  });

  it("no-bids (204, no body) and errors (400) go as they are", async () => {
    const none = await bid({ "accept-encoding": "gzip" }, JSON.stringify({ id: `gz-${++ids}`, imp: [{ id: "1", banner: { w: 1, h: 1 } }] }));
    assert.equal(none.status, 204);
    assert.equal(none.headers["content-encoding"], undefined);
    assert.equal(none.bytes.length, 0);
    const bad = await bid({ "accept-encoding": "gzip" }, '{"id": 1, "imp": [}');
    assert.equal(bad.status, 400);
    assert.equal(bad.headers["content-encoding"], undefined);
    assert.match(bad.bytes.toString("utf8"), /expected a JSON value/);
  });
});
