// A tiny OpenRTB bidder on node:http for the loadgen tests: bids a fixed CPM
// on every other request (by a counter), answers 204 otherwise, and records
// the win notices it receives.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface StubBidder {
  url: string;
  requests: Array<Record<string, unknown>>;
  /** Query strings of the win notices received. */
  wins: URLSearchParams[];
  close(): Promise<void>;
}

/** refuseWinsEvery: answer every n-th win notice 503 (a bidder that did not book it). */
export async function startStubBidder(options: { price: number; cur?: string; bidEvery?: number; refuseWinsEvery?: number }): Promise<StubBidder> {
  const requests: Array<Record<string, unknown>> = [];
  const wins: URLSearchParams[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const u = new URL(req.url ?? "/", "http://stub");
      if (u.pathname === "/win") {
        wins.push(u.searchParams);
        const refuse = options.refuseWinsEvery !== undefined && wins.length % options.refuseWinsEvery === 0;
        res.writeHead(refuse ? 503 : 200).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      requests.push(body);
      if (n++ % (options.bidEvery ?? 2) !== 0) {
        res.writeHead(204).end();
        return;
      }
      const imp = (body.imp as Array<{ id: string }>)[0]!;
      const resp = {
        id: body.id,
        cur: options.cur ?? "USD",
        seatbid: [{ seat: "stub", bid: [{ id: `b${n}`, impid: imp.id, price: options.price, nurl: `/win?id=\${AUCTION_ID}&imp=\${AUCTION_IMP_ID}&price=\${AUCTION_PRICE}&cur=\${AUCTION_CURRENCY}` }] }],
      };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(resp));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/openrtb2/bid`,
    requests,
    wins,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
