// Rules of the offline tools that a mutation audit (stop 34) found no test for: each test here
// failed on a one-line change of the code that the rest of the suite let through (the id in
// brackets names the change in the audit's table). Kept as regular tests of those rules.
// Covers: loadgen (host/src/tools/loadgen.ts) and keygen/sign (host/src/models/sign-cli.ts) 
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runLoadgen, type LogAuction } from "../../host/src/tools/loadgen.ts";
import { keygen, signModel } from "../../host/src/models/sign-cli.ts";

let PORT = 0;
const tmp = mkdtempSync(join(tmpdir(), "mut-lg-"));
let server: Server;
let lossHits = 0;
before(async () => {
  // the answer depends on the request id's prefix
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url?.startsWith("/loss")) {
        lossHits++;
        res.writeHead(200).end();
        return;
      }
      if (req.url?.startsWith("/win")) {
        res.writeHead(200).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id: string };
      const mode = body.id.split("-")[0];
      const bid = (price: number, extra = {}) => ({ id: "b", impid: "1", price, nurl: "/win?p=${AUCTION_PRICE}", ...extra });
      let seatbid: unknown[] = [];
      if (mode === "equal") seatbid = [{ bid: [bid(1)] }]; // clearing 100 fen = 1.00 CNY
      if (mode === "two") seatbid = [{ bid: [bid(5), bid(0.5)] }]; // one wins, one loses
      if (mode === "empty") seatbid = [];
      if (mode === "lurl") seatbid = [{ bid: [bid(0.5, { lurl: "/loss?r=${AUCTION_LOSS}" })] }];
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: body.id, cur: "CNY", seatbid }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  PORT = (server.address() as { port: number }).port;
});
after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(tmp, { recursive: true, force: true });
});
const auctions = (mode: string): LogAuction[] => [{ request: { id: mode, imp: [{ id: "1" }] }, marketPriceFen: 100 }];
const run = (mode: string) =>
  runLoadgen({ url: `http://127.0.0.1:${PORT}/openrtb2/bid`, auctions: auctions(mode), concurrency: 1, timeoutMs: 2000, fx: { CNY: 1 }, winNotices: true, lossNotices: false });

describe("pinned rules: loadgen", () => {
  it("a bid equal to the market price does not win (strictly above) [G01]", async () => {
    const r = await run("equal");
    assert.equal(r.bids, 1);
    assert.equal(r.wins, 0);
  });
  it("the win rate is wins / bids, also with several bids in a response [G03]", async () => {
    const r = await run("two");
    assert.deepEqual([r.bidResponses, r.bids, r.wins], [1, 2, 1]);
    assert.equal(r.winRate, 0.5);
  });
  it("a 200 answer without bids is a no-bid, not a bid response [G06]", async () => {
    const r = await run("empty");
    assert.deepEqual([r.noBids, r.bidResponses], [1, 0]);
  });
  it("no loss notice without --loss-notices [G07]", async () => {
    const r = await run("lurl");
    assert.equal(r.notices.lossSent, 0);
    assert.equal(lossHits, 0);
  });
});

describe("pinned rules: keygen / sign", () => {
  it("the private key is written with mode 0600 [K01]", async () => {
    const k = await keygen(join(tmp, "keys"));
    assert.equal(statSync(k.privateKeyPath).mode & 0o777, 0o600);
  });
  it("sign refuses a file that is not a valid model [K02]", async () => {
    const k = await keygen(join(tmp, "keys2"));
    const bad = join(tmp, "bad.nxm");
    writeFileSync(bad, Buffer.concat([Buffer.from("NXM1"), Buffer.from("not the rest of an NXM model")])); // the magic, then garbage
    await assert.rejects(signModel(bad, k.privateKeyPath));
  });
});
