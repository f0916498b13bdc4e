// Defects found by the hardening work (SECURITY.md), now fixed: each minimal
// reproduction stays as a regression test.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST, startTestBidder } from "../helpers/bidder.ts";
import type { Standalone } from "../../host/src/standalone.ts";
import { answerOf, bidsOf, lossAll, poolBid } from "./helpers.ts";

let app: Standalone;
let n = 0;
const body = () => Buffer.from(JSON.stringify({ ...JSON.parse(README_REQUEST), id: `defect-${process.pid}-${n++}` }));

before(async () => {
  app = await startTestBidder({ vms: 1 });
});
after(async () => {
  await app?.close();
});

async function bidWithAuthority(authority: string) {
  const headers: Array<[string, string]> = [[":method", "POST"], [":path", "/openrtb2/bid"], [":authority", authority], [":scheme", "http"]];
  return answerOf(await app.pool.handleHttpRequest({ headers, body: [body()] }));
}

describe("fixed defects (regression tests)", () => {
  // D1: notice URLs are built from :authority when notice_base_url is empty; a Host
  // that cannot go into a URL (non-ASCII, quotes, spaces, too long) is now a 400
  // with a reason instead of a bid whose nurl/burl/lurl (and JSON) are broken.
  for (const [name, authority] of [
    ["D1a: a non-ASCII byte", "caf\u00e9.example"],
    ["D1b: a quote and a space", "a\"b c"],
    ["D1c: 300 bytes", "h".repeat(300) + ".example"],
  ] as const) {
    it(`${name} in :authority is a 400 naming the header, with a UTF-8 JSON body`, async () => {
      const a = await bidWithAuthority(authority);
      assert.equal(a.status, 400, a.text);
      assert.ok(a.utf8, "a JSON body must be UTF-8 (RFC 8259 section 8.1)");
      assert.match(JSON.parse(a.text).error, /^:authority: not a valid host/);
    });
  }

  it("a valid host:port still builds notice URLs from it", async () => {
    const a = await bidWithAuthority("bidder.example:8443");
    try {
      assert.equal(a.status, 200, a.text);
      for (const b of bidsOf(a.text)) assert.equal(new URL(b.nurl!.replace("${AUCTION_PRICE}", "1")).host, "bidder.example:8443");
    } finally {
      if (a.status === 200) await lossAll(app, a.text);
    }
  });

  it("D2: a bid request with trailers is decided on its buffered body", async () => {
    const a = await poolBid(app, body(), { trailers: [["x-trailer", "1"]] });
    try {
      assert.equal(a.status, 200, a.text);
    } finally {
      if (a.status === 200) await lossAll(app, a.text);
    }
  });
});
