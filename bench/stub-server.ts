// The bid server (host/src/server/bid-server.ts) in front of a stub filter pool that answers at
// once, alternating a real-sized bid (200, a README bid response) and a no-bid (204): what the
// bid server costs on its own, without the proxy-wasm filter. Run as its own process, like the
// bidder; prints "listening on <url>". Used by server-overhead.ts.
import type { AddressInfo } from "node:net";
import { BidServer } from "../host/src/server/bid-server.ts";
import type { HttpOutcome } from "../host/src/proxy-wasm/types.ts";

const BID =
  '{"id":"req-1","bidid":"0-1dd2d5c9","cur":"USD","seatbid":[{"seat":"nexus","bid":[{"id":"0-1dd2d5c9","impid":"1","price":2.134,' +
  '"nurl":"http://127.0.0.1:8080/openrtb2/win?bid=0-1dd2d5c9&imp=1&cid=demo-cpa&price=${AUCTION_PRICE}",' +
  '"burl":"http://127.0.0.1:8080/openrtb2/win?bid=0-1dd2d5c9&imp=1&cid=demo-cpa&price=${AUCTION_PRICE}&event=billing",' +
  '"lurl":"http://127.0.0.1:8080/openrtb2/loss?bid=0-1dd2d5c9&imp=1&cid=demo-cpa&price=${AUCTION_PRICE}&reason=${AUCTION_LOSS}",' +
  '"adm":"<a href=\\"https://nexus-demo.example/click?crid=demo-300x250\\"><img src=\\"https://nexus-demo.example/creatives/300x250.png\\" width=\\"300\\" height=\\"250\\" alt=\\"Nexus-RTB demo\\"></a>",' +
  '"adomain":["nexus-demo.example"],"cat":["IAB3"],"crid":"demo-300x250","w":300,"h":250,"mtype":1,"cid":"demo-cpa"}]}]}';

if (import.meta.url === `file://${process.argv[1]}`) {
  const body = new TextEncoder().encode(BID);
  const empty = new Uint8Array(0);
  let n = 0;
  // Fresh header pairs per answer, as the filter's replies are (their receiver may change them).
  const answer = (): HttpOutcome =>
    (n++ & 1) === 0
      ? { kind: "local", status: 200, headers: [["content-type", "application/json"], ["x-openrtb-version", "2.6"]], body, details: "", grpcStatus: null }
      : { kind: "local", status: 204, headers: [["x-nexus-nobid-reason", "no_match"], ["x-openrtb-version", "2.6"]], body: empty, details: "", grpcStatus: null };
  const pool = { handleHttpRequest: () => Promise.resolve(answer()) };
  const quiet = { error() {}, warn() {}, info() {}, debug() {} };
  const server = new BidServer({ pool: pool as never, log: quiet as never, maxBodyBytes: 1 << 20 });
  const a: AddressInfo = await server.listen(0, "127.0.0.1");
  process.stdout.write(`stub bid server listening on http://127.0.0.1:${a.port}\n`);
  process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
}
