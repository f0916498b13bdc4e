// Property tests with fast-check driving the compiled filter (through the VM
// pool of a running standalone bidder, the fastest way in):
//   - random VALID OpenRTB requests always get 200 or 204, and a 200 agrees
//     with its request (id echoed, impids from the request, prices > 0, one bid
//     per imp, unique bid ids, nurl with ${AUCTION_PRICE});
//   - random MUTATIONS of valid requests never trap a VM, never get anything
//     but 200/204/400/413 (a 400 whenever JavaScript cannot parse the body);
//   - after a loss notice for every 200, the ledger's `reserved` is back to its
//     start: nothing leaks.
// Bounded for CI (the whole file well under 60 s on 2 cores); the long run is
// scripts/fuzz-long.ts. NEXUS_FUZZ_SEED=<n> replays a run; NEXUS_FUZZ_SCALE=<k>
// multiplies the number of cases.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, startTestBidder } from "../helpers/bidder.ts";
import type { Standalone } from "../../host/src/standalone.ts";
import { applyMutations, encode, mutatedCase, runMutated, runValid, uniquify, validCase } from "./openrtb-fuzz.ts";
import { BID_PATH, answerOf, bidsOf, lossAll, noticePath, poolBid, poolGet, reserved } from "./helpers.ts";
import { readLedger } from "../helpers/ledger.ts";
import { README_REQUEST } from "../helpers/bidder.ts";

const seed = process.env.NEXUS_FUZZ_SEED ? Number(process.env.NEXUS_FUZZ_SEED) : Date.now() % 2_147_483_647;
const scale = Number(process.env.NEXUS_FUZZ_SCALE ?? "1");
const VALID_RUNS = Math.round(1000 * scale);
const MUTATION_RUNS = Math.round(6000 * scale);
const CHUNK_RUNS = Math.round(1500 * scale);
const HEADER_RUNS = Math.round(3000 * scale);
const NOTICE_RUNS = Math.round(1000 * scale);

let app: Standalone;
let startReserved = 0n;
let startRestarts = 0;

before(async () => {
  // Two inline VMs (round-robin), the replay guard on (ids are made unique per case). The first
  // campaign blocks a seller the generator names now and then, so that every supply chain's
  // nodes are matched against a rule.
  const campaigns = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  campaigns.campaigns[0].targeting = { ...(campaigns.campaigns[0].targeting ?? {}), schain_sellers_block: ["blocked.example"] };
  // Two creatives advertise apps, which the generator's bapp names now and then (the oracle: no
  // bid's bundle in bapp).
  campaigns.campaigns[0].creatives[0].bundle = "com.nexus.demo";
  campaigns.campaigns[0].creatives[2].bundle = "1234567";
  app = await startTestBidder({ vms: 2, plugin: { replay_ttl_ms: 60_000 }, campaigns });
  startReserved = reserved(app);
  startRestarts = app.pool.vmRestarts;
  console.log(`# fast-check seed ${seed} (NEXUS_FUZZ_SEED=${seed} to replay)`);
});
after(async () => {
  await app?.close();
});

describe("properties of the compiled filter", () => {
  it(`valid requests get 200 or 204, and a 200 agrees with its request (${VALID_RUNS} cases)`, async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(validCase, async (c) => {
        const r = await runValid(app, c);
        const key = r.status === 204 ? `204/${r.reason}` : String(r.status);
        seen.set(key, (seen.get(key) ?? 0) + 1);
        assert.deepEqual(r.problems, [], `${r.problems.join("; ")}\nbody: ${r.body.toString("utf8").slice(0, 2000)}`);
      }),
      { numRuns: VALID_RUNS, seed, endOnFailure: true, includeErrorInReport: true },
    );
    console.log(`# valid: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
    assert.ok((seen.get("200") ?? 0) > VALID_RUNS / 10, "a fair share of the valid requests got a bid");
  });

  it(`mutated requests never trap and get only 200/204/400/413 (${MUTATION_RUNS} cases)`, async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(mutatedCase, async (c) => {
        const r = await runMutated(app, c);
        seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
        assert.deepEqual(r.problems, [], `${r.problems.join("; ")}\nbody (base64): ${r.body.toString("base64").slice(0, 4000)}`);
        assert.equal(app.pool.vmRestarts, startRestarts, "a VM trapped");
      }),
      { numRuns: MUTATION_RUNS, seed: seed + 1, endOnFailure: true, includeErrorInReport: true },
    );
    console.log(`# mutated: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
    assert.ok((seen.get(400) ?? 0) > 0 && ((seen.get(200) ?? 0) + (seen.get(204) ?? 0)) > 0, "both accepted and refused mutations");
  });

  it(`the answer does not depend on how the body is cut into chunks (${CHUNK_RUNS} cases)`, async () => {
    const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { maxLength: 12 });
    // Trailers stay off: a request with trailers is known defect D2 (tests/hardening/known-defects.test.ts).
    const withTrailers = fc.constant(false);
    await fc.assert(
      fc.asyncProperty(mutatedCase, fc.boolean(), cuts, withTrailers, async (c, mutate, fracs, trailers) => {
        const body = mutate ? applyMutations(encode(uniquify(c.base.request), c.base.style), c.mutations) : encode(uniquify(c.base.request), c.base.style);
        const whole = await poolBid(app, body);
        const split = await poolBid(app, body, { cuts: fracs.map((f) => Math.floor(f * body.length)), ...(trailers ? { trailers: [["x-trailer", "1"]] } : {}) });
        for (const a of [whole, split]) if (a.status === 200) await lossAll(app, a.text);
        assert.notEqual(split.kind, "vm_failed");
        if (whole.status === 400 || whole.status === 413) {
          assert.equal(split.status, whole.status);
          assert.equal(split.text, whole.text, "the same error message");
        } else {
          // The second copy of a request id may be a replay: only the class must agree.
          assert.ok([200, 204].includes(whole.status) && [200, 204].includes(split.status), `${whole.status} vs ${split.status}`);
        }
      }),
      { numRuns: CHUNK_RUNS, seed: seed + 2, endOnFailure: true, includeErrorInReport: true },
    );
    assert.equal(app.pool.vmRestarts, startRestarts);
  });

  it(`random headers, methods and paths never trap and get a sane answer (${HEADER_RUNS} cases)`, async () => {
    const latin1 = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 40 });
    const token = fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789-_"), minLength: 1, maxLength: 20 });
    const header = fc.oneof(
      fc.tuple(fc.constantFrom("content-encoding", "content-length", "content-type", "transfer-encoding", "x-forwarded-for", "host", "cookie"), latin1),
      fc.tuple(token, latin1),
    );
    const path = fc.oneof(
      fc.constantFrom(BID_PATH, BID_PATH + "?", BID_PATH + "?a=b&c", "/openrtb2/win", "/openrtb2/loss", "/", "", "*", "/openrtb2/bid/x"),
      fc.tuple(fc.constantFrom(BID_PATH, "/openrtb2/win", "/openrtb2/loss"), latin1).map(([p, q]) => `${p}?${q}`),
      latin1.map((p) => "/" + p),
    );
    const method = fc.oneof(fc.constantFrom("POST", "POST", "GET", "PUT", "HEAD", "OPTIONS", "post", ""), token);
    // :authority is a well-formed host here; any other one is answered 400 (D1, fixed:
    // tests/hardening/known-defects.test.ts; the corpus's raw-host-*.http).
    const hostChars = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789-.");
    const authority = fc.oneof(
      fc.constantFrom("bidder.test", "bidder.test:8080", "[::1]:80", "127.0.0.1:9"),
      fc
        .tuple(fc.string({ unit: hostChars, minLength: 1, maxLength: 60 }), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }))
        .map(([h, p]) => (p ? `${h}:${p}` : h))
        // Well-formed for a URL parser too: "a.8" or "a.0x1" end in a number, which WHATWG URL
        // reads as a (bad) IPv4 address (seen with seed 1105262720).
        .filter((h) => URL.canParse(`http://${h}/`)),
    );
    await fc.assert(
      fc.asyncProperty(method, path, authority, fc.array(header, { maxLength: 30 }), fc.boolean(), async (m, p, auth, extra, withBody) => {
        const body = withBody ? Buffer.from(JSON.stringify({ ...JSON.parse(README_REQUEST), id: `hdr-${Math.random()}` })) : Buffer.alloc(0);
        const headers: Array<[string, string]> = [[":method", m], [":path", p], [":authority", auth], [":scheme", "http"], ...extra];
        const a = answerOf(await app.pool.handleHttpRequest({ headers, body: body.length > 0 ? [body] : [] }));
        assert.ok(a.kind === "local" || a.kind === "continue", `outcome ${a.kind}`);
        if (a.kind === "local") {
          assert.ok([200, 204, 400, 404, 405, 413, 415, 503].includes(a.status), `status ${a.status}: ${a.text}`);
          assert.ok(a.utf8, "the body is valid UTF-8");
          if (a.status === 200 && a.text.includes("seatbid")) {
            for (const b of bidsOf(a.text)) {
              const u = new URL(b.nurl!.replace("${AUCTION_PRICE}", "1"));
              assert.equal(u.host, new URL(`http://${auth}`).host, "notice URLs point at the request's host");
            }
            await lossAll(app, a.text);
          }
        }
      }),
      { numRuns: HEADER_RUNS, seed: seed + 3, endOnFailure: true, includeErrorInReport: true },
    );
    assert.equal(app.pool.vmRestarts, startRestarts);
  });

  it(`mutated win and loss notices never trap, never settle twice, and leak nothing (${NOTICE_RUNS} bids)`, async () => {
    const ledger = () => readLedger(app.pool.shared, "test-cpa")!;
    const priceStr = fc.oneof(
      fc.tuple(fc.double({ min: 0, max: 20, noNaN: true }), fc.integer({ min: 0, max: 10 })).map(([v, d]) => v.toFixed(d)),
      fc.constantFrom("0", "0.0", "-0", "1e3", "", "${AUCTION_PRICE}", "NaN", "Infinity", "1.", ".5", "00.1", "1000000", "1000000.000000001", "9".repeat(30), "0.0000000001", "%30.5"),
      fc.string({ unit: "binary-ascii", maxLength: 12 }),
    );
    const noticeMutation = fc.record({ price: priceStr, which: fc.constantFrom("nurl", "burl", "lurl"), mutate: fc.option(fc.array(fc.record({ op: fc.constant("flip" as const), at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), value: fc.integer({ min: 0x20, max: 0x7e }) }), { minLength: 1, maxLength: 3 }), { nil: undefined }) });
    const startCharged = ledger().charged;
    let expectedCharged = 0n;
    await fc.assert(
      fc.asyncProperty(fc.array(noticeMutation, { minLength: 1, maxLength: 8 }), async (notices) => {
        const bid = await poolBid(app, JSON.stringify({ ...JSON.parse(README_REQUEST), id: `notice-${Math.random()}` }));
        assert.equal(bid.status, 200, bid.text);
        const b = bidsOf(bid.text)[0]!;
        const bidMicros = BigInt(Math.ceil(b.price * 1000));
        let charged = 0;
        let refunded = 0;
        let pending = false;
        for (const n of notices) {
          const url = (b as unknown as Record<string, string>)[n.which]!;
          let path = noticePath(url.replace("${AUCTION_PRICE}", encodeURIComponent(n.price)));
          if (n.mutate) path = applyMutations(Buffer.from(path, "latin1"), n.mutate).toString("latin1");
          const before = ledger().charged;
          const a = await poolGet(app, path.startsWith("/") ? path : "/" + path);
          assert.notEqual(a.kind, "vm_failed");
          if (a.kind !== "local") continue; // a mutated path that is not ours
          assert.ok([200, 400, 404, 405, 503].includes(a.status), `${path}: ${a.status} ${a.text}`);
          if (a.status === 200) {
            const st = (JSON.parse(a.text) as { status: string }).status;
            const isCharge = ["charged", "late_charged", "late_charged_at_bid"].includes(st);
            if (isCharge) charged++;
            if (st === "refunded") refunded++;
            // Won without a usable price: the money stays reserved (a priced notice or the TTL ends it).
            if (st === "won_price_pending") {
              assert.equal(charged + refunded, 0, "pending only before any settlement");
              pending = true;
            }
            // A win after the loss is still charged (late): the impression cost money.
            if (st.startsWith("late_charged")) assert.equal(refunded, 1, `${st} only after a loss`);
            if (st === "charged") assert.equal(refunded, 0, `${st} (not late) only before any loss`);
            const delta = ledger().charged - before;
            if (isCharge) {
              assert.ok(delta >= 0n && delta <= bidMicros, `charged ${delta} for a bid of ${bidMicros}`);
              // A late win whose price is unusable (missing, unreadable, above the bid) is charged at the bid.
              if (st.endsWith("_at_bid")) assert.equal(delta, bidMicros, `${st} charges the bid`);
              expectedCharged += delta;
            } else assert.equal(delta, 0n, `${st} changed charged by ${delta}`);
          }
        }
        assert.ok(charged <= 1 && refunded <= 1, `charged ${charged}, refunded ${refunded} times: one bid`);
        if (pending && charged === 0) {
          // Settle the pending win with a priced notice (at 0: nothing more to count).
          const before = ledger().charged;
          const w = await poolGet(app, noticePath(b.nurl!.replace("${AUCTION_PRICE}", "0")));
          assert.equal((JSON.parse(w.text) as { status: string }).status, "charged");
          assert.equal(ledger().charged, before);
          charged++;
        }
        // Release the bid if nothing settled it; a second settlement is refused.
        const loss = await poolGet(app, noticePath(b.lurl!));
        assert.equal(loss.status, 200);
        const st = (JSON.parse(loss.text) as { status: string }).status;
        assert.equal(st, charged + refunded === 0 ? "refunded" : "already_settled");
      }),
      { numRuns: NOTICE_RUNS, seed: seed + 4, endOnFailure: true, includeErrorInReport: true },
    );
    assert.equal(ledger().charged - startCharged, expectedCharged, "charged moved exactly by the accepted wins");
    assert.equal(app.pool.vmRestarts, startRestarts);
  });

  it("no VM trapped and no reservation leaked over all the cases", () => {
    assert.equal(app.pool.vmRestarts, startRestarts);
    assert.equal(app.pool.failures.length, 0);
    assert.equal(reserved(app), startReserved, "reserved is back to its start after a loss notice for every bid");
  });
});
