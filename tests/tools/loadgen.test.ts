// loadgen against a tiny node:http bidder: requests come from the shared
// mapping with unique ids, wins are bids above the logged market price
// (converted from CNY fen with --fx), win notices carry ${AUCTION_PRICE}.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readRawLog } from "../../host/src/data/ipinyou.ts";
import {
  chargedMicros, formatPrice, loadAuctions, main, parseBidResponse, parseFx, percentile, runLoadgen, substituteMacros, type LoadgenResult,
} from "../../host/src/tools/loadgen.ts";
import { fixture, ROOT } from "./helpers.ts";
import { startStubBidder, type StubBidder } from "./stub-bidder.ts";

let stub: StubBidder;
before(async () => {
  stub = await startStubBidder({ price: 0.1, cur: "USD", bidEvery: 1 });
});
after(() => stub.close());

describe("bid responses and macros", () => {
  it("reads price, nurl and cur of any BidResponse", () => {
    const r = parseBidResponse(JSON.stringify({ id: "r", seatbid: [{ seat: "s", bid: [{ id: "b", impid: "1", price: 1.5, nurl: "http://x/w?p=${AUCTION_PRICE}" }] }] }));
    assert.ok(!("error" in r));
    assert.equal(r.cur, "USD"); // OpenRTB default
    assert.deepEqual(r.bids, [{ id: "b", impid: "1", price: 1.5, nurl: "http://x/w?p=${AUCTION_PRICE}", seat: "s" }]);
    assert.deepEqual(parseBidResponse("{"), { error: "invalid-json" });
    assert.deepEqual(parseBidResponse(JSON.stringify({ seatbid: [{ bid: [{ price: "1" }] }] })), { error: "bad-price" });
    const empty = parseBidResponse(JSON.stringify({ id: "r", cur: "EUR" }));
    assert.ok(!("error" in empty) && empty.bids.length === 0 && empty.cur === "EUR");
  });

  it("substitutes macros, also URL-encoded ones", () => {
    const v = { AUCTION_ID: "a b", AUCTION_BID_ID: "b", AUCTION_IMP_ID: "1", AUCTION_SEAT_ID: "s", AUCTION_AD_ID: "", AUCTION_PRICE: "0.287", AUCTION_CURRENCY: "USD" };
    assert.equal(substituteMacros("/w?p=${AUCTION_PRICE}&id=${AUCTION_ID}&c=%24%7BAUCTION_CURRENCY%7D&x=${UNKNOWN}", v), "/w?p=0.287&id=a%20b&c=USD&x=${UNKNOWN}");
    assert.equal(formatPrice(0.28700000001), "0.287");
    assert.equal(formatPrice(2), "2");
    assert.equal(formatPrice(1e-7), "0");
  });

  it("charges a win the notice's price × 1000 micros, rounded up as the bidder books it", () => {
    assert.equal(chargedMicros("2"), 2000);
    assert.equal(chargedMicros("1.5"), 1500);
    assert.equal(chargedMicros("0.0287"), 29); // 28.7 micros
    assert.equal(chargedMicros("0.02436"), 25); // 24.36 micros: up, not to the nearest
    assert.equal(chargedMicros("0.000001"), 1);
    assert.equal(chargedMicros("0"), 0);
    assert.throws(() => chargedMicros("1e-7"));
  });

  it("parses --fx and percentiles", () => {
    assert.deepEqual(parseFx("usd=0.14, EUR=0.13"), { CNY: 1, USD: 0.14, EUR: 0.13 });
    assert.throws(() => parseFx("USD:1"));
    const s = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual([percentile(s, 50), percentile(s, 90), percentile(s, 99), percentile(s, 100)], [5, 9, 10, 10]);
  });
});

describe("loadgen: booked wins and spend", () => {
  it("counts as booked only the wins whose notice the bidder answered 2xx (what its metrics count)", async () => {
    const refusing = await startStubBidder({ price: 0.1, cur: "USD", bidEvery: 1, refuseWinsEvery: 2 });
    try {
      const auctions = await loadAuctions(fixture("raw-log.sample.txt"));
      const res = await runLoadgen({ url: refusing.url, auctions, concurrency: 1, timeoutMs: 2000, fx: { CNY: 1, USD: 0.14 }, winNotices: true, lossNotices: false });
      assert.equal(res.wins, 3);
      assert.equal(res.notices.winSent, 3);
      assert.equal(res.notices.winOk, 2, "the second notice to arrive was refused (503)");
      assert.equal(res.booked.wins, 2);
      // Booked: the first and third notices to arrive, at their prices as the stub received them.
      const accepted = [refusing.wins[0]!, refusing.wins[2]!];
      assert.deepEqual(res.booked.spendMicros, { USD: accepted.reduce((a, q) => a + chargedMicros(q.get("price")!), 0) });
      assert.ok(res.spendMicros.USD! > res.booked.spendMicros.USD!);
    } finally {
      await refusing.close();
    }
  });
});

describe("loadgen against a stub bidder", () => {
  it("sends every log row once, counts wins exactly, sends their win notices", async () => {
    stub.requests.length = 0;
    stub.wins.length = 0;
    const auctions = await loadAuctions(fixture("raw-log.sample.txt"));
    assert.equal(auctions.length, 5);
    const fx = { CNY: 1, USD: 0.14 };
    const res = await runLoadgen({ url: stub.url, auctions, concurrency: 2, timeoutMs: 2000, fx, winNotices: true, lossNotices: false });
    assert.equal(res.requests, 5);
    assert.equal(res.responses, 5);
    assert.equal(res.bids, 5);
    assert.equal(res.bidRate, 1);
    // the stub bids 0.1 USD CPM; market prices 205, 46, 34, 174, 20 fen → 0.287, 0.0644, 0.0476, 0.2436, 0.028 USD CPM
    const fens = [];
    for await (const r of readRawLog(fixture("raw-log.sample.txt"))) fens.push(r.payprice);
    const winners = fens.filter((f) => 0.1 > (f / 100) * 0.14);
    assert.equal(res.wins, winners.length);
    assert.equal(res.wins, 3);
    assert.deepEqual(res.spendMicros, { USD: winners.reduce((a, f) => a + Math.ceil(Number(formatPrice((f / 100) * 0.14)) * 1000 - 1e-9), 0) });
    assert.equal(res.notices.winSent, 3);
    assert.equal(res.notices.winOk, 3);
    assert.equal(stub.wins.length, 3);
    const prices = stub.wins.map((q) => Number(q.get("price"))).sort((a, b) => a - b);
    assert.deepEqual(prices, winners.map((f) => Number(formatPrice((f / 100) * 0.14))).sort((a, b) => a - b));
    for (const q of stub.wins) assert.equal(q.get("cur"), "USD");
    // request ids are unique and the requests are the mapping's
    const ids = stub.requests.map((r) => r.id as string);
    assert.equal(new Set(ids).size, 5);
    assert.ok(stub.requests.every((r) => (r.device as { geo: { country: string } }).geo.country === "CHN"));
    assert.ok(res.latencyMs.p50 > 0 && res.latencyMs.max >= res.latencyMs.p99);
  });

  it("cycles the log for --requests and runs at a --rate", async () => {
    const auctions = await loadAuctions(fixture("raw-log.sample.txt"));
    const res = await runLoadgen({ url: stub.url, auctions, concurrency: 8, rate: 200, requests: 40, timeoutMs: 2000, fx: { CNY: 1, USD: 0.14 }, winNotices: false, lossNotices: false });
    assert.equal(res.requests, 40);
    assert.equal(res.mode, "rate");
    assert.equal(res.notices.winSent, 0);
    assert.ok(res.wallSeconds > 0.15, `${res.wallSeconds} s for 40 requests at 200/s`);
  });

  it("counts connection failures instead of failing", async () => {
    const auctions = await loadAuctions(fixture("raw-log.sample.txt"));
    const res = await runLoadgen({ url: "http://127.0.0.1:9/openrtb2/bid", auctions, concurrency: 1, requests: 2, timeoutMs: 500, fx: { CNY: 1 }, winNotices: true, lossNotices: false });
    assert.equal(res.responses, 0);
    assert.equal(Object.values(res.errors).reduce((a, b) => a + b, 0), 2);
  });

  it("--timeout-ms bounds the whole exchange: an answer later than that is a timeout, not a response", async () => {
    const { createServer } = await import("node:http");
    const slow = createServer((req, res) => {
      req.resume();
      req.on("end", () => setTimeout(() => res.writeHead(204).end(), 400));
    });
    await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(slow.address() as { port: number }).port}/openrtb2/bid`;
      const auctions = await loadAuctions(fixture("raw-log.sample.txt"));
      const res = await runLoadgen({ url, auctions, concurrency: 3, requests: 3, timeoutMs: 100, fx: { CNY: 1 }, winNotices: false, lossNotices: false });
      assert.equal(res.responses, 0, "a 400 ms answer does not pass a 100 ms timeout");
      assert.deepEqual(res.errors, { timeout: 3 });
    } finally {
      slow.closeAllConnections();
      await new Promise<void>((r) => slow.close(() => r()));
    }
  });

  it("the text summary names the log and its skipped lines; no answer at all is exit 1 (NO_RESPONSES)", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s), progress: false };
    assert.equal(await main(["--url", stub.url, "--log", fixture("raw-log.sample.txt"), "--requests", "5", "--fx", "USD=0.14"], io), 0);
    const log = out.join("").split("\n").find((l) => l.startsWith("log "));
    assert.ok(log, out.join(""));
    // The fixture has a header, a 26-column row and a blank line among its 12 lines.
    assert.match(log, /raw-log\.sample\.txt: 12 lines, 5 requests; skipped: (?=.*column-count 1)/);
    out.length = 0;
    assert.equal(await main(["--url", "http://127.0.0.1:9/openrtb2/bid", "--log", fixture("raw-log.sample.txt"), "--requests", "2", "--timeout-ms", "500"], io), 1);
    assert.match(err.join(""), /^error NO_RESPONSES: none of 2 requests got an answer/m);
    assert.match(out.join(""), /requests +2 in /, "the summary is still printed");
  });

  it("answers that are all HTTP errors (a wrong path or port) are exit 1 (NO_BID_ANSWERS), after the summary", async () => {
    const notFound = createServer((_req, res) => res.writeHead(404).end("not found"));
    await new Promise<void>((r) => notFound.listen(0, "127.0.0.1", () => r()));
    try {
      const out: string[] = [];
      const err: string[] = [];
      const url = `http://127.0.0.1:${(notFound.address() as AddressInfo).port}/wrong/path`;
      const code = await main(["--url", url, "--log", fixture("raw-log.sample.txt"), "--requests", "6"], { out: (s) => void out.push(s), err: (s) => void err.push(s), progress: false });
      assert.equal(code, 1);
      assert.match(err.join(""), /^error NO_BID_ANSWERS: none of 6 answers from .* was a bid response or a no-bid \(\{"http-404":6\}\)/m);
      assert.match(out.join(""), /requests +6 in .*, 6 answers \(bid responses, no-bids and HTTP errors\)/);
    } finally {
      await new Promise<void>((r) => notFound.close(() => r()));
    }
  });

  it("Ctrl-C stops sending, finishes what is in flight, prints the summary marked interrupted, exit 130", { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, [join(ROOT, "dist/nexus-rtb.mjs"), "loadgen", "--url", stub.url, "--log", fixture("raw-log.sample.txt"), "--rate", "50", "--duration", "60", "--fx", "USD=0.14"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const sentBefore = stub.requests.length;
    // Let it send for a while, then interrupt it as a terminal would.
    await new Promise((r) => setTimeout(r, 2500));
    const t0 = Date.now();
    child.kill("SIGINT");
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    assert.equal(code, 130);
    assert.ok(Date.now() - t0 < 10_000, "it stopped at once, not at the end of --duration");
    const m = /requests +(\d+) in [0-9.]+ s \(interrupted\)/.exec(out);
    assert.ok(m, out);
    assert.ok(Number(m[1]) > 10, `requests sent before the interrupt: ${m[1]}`);
    assert.equal(Number(m[1]), stub.requests.length - sentBefore, "the summary counts every request the bidder got");
    assert.match(out, /^wins +\d+/m);
  });

  it("the CLI prints --json", async () => {
    const out: string[] = [];
    const code = await main(["--url", stub.url, "--log", fixture("raw-log.sample.txt"), "--requests", "10", "--fx", "USD=0.14", "--json"], { out: (s) => void out.push(s), err: () => {}, progress: false });
    assert.equal(code, 0);
    const r = JSON.parse(out.join("")) as LoadgenResult & { log: { used: number } };
    assert.equal(r.requests, 10);
    assert.equal(r.log.used, 5);
    const err: string[] = [];
    assert.equal(await main(["--url", "ftp://x"], { out: () => {}, err: (s) => void err.push(s), progress: false }), 2);
  });
});
