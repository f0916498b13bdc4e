// The HTTP bench's reference: a bare node:http server that reads the request
// body and answers every request with the same constant bid response (what
// node:http itself costs). Run as its own process, like the bidder, and
// started the same way: it prints "listening on <url>" on stdout.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export const CONSTANT_BID_RESPONSE =
  '{"id":"req-1","bidid":"0-0","cur":"USD","seatbid":[{"seat":"nexus","bid":[{"id":"0-0","impid":"1","price":1.5,"nurl":"http://b/openrtb2/win?bid=0-0&price=${AUCTION_PRICE}","adm":"<img src=\\"x\\">","adomain":["a.example"],"crid":"c","w":300,"h":250,"cid":"c"}]}]}';

if (import.meta.url === `file://${process.argv[1]}`) {
  const length = Buffer.byteLength(CONSTANT_BID_RESPONSE);
  // The same server options as the bidder's bid server (bid-server.ts).
  const server = createServer({ keepAliveTimeout: 65_000, headersTimeout: 5_000, requestTimeout: 10_000, connectionsCheckingInterval: 1_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "content-length": length });
      res.end(CONSTANT_BID_RESPONSE);
    });
  });
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(`bare node:http listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
  });
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
