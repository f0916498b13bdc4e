// loadgen against the real bundled bidder, as `npm start` runs it
// (`node dist/nexus-rtb.mjs serve`: demo model and campaign, in-memory
// budget; only the ports are ephemeral), driven with the iPinYou 2259 log for
// a fixed time (NEXUS_LOADGEN_TEST_SECONDS, default 20). loadgen's summary
// must equal the bidder's own /metrics: requests, bid responses, bids,
// no-bids, wins and spend in micros.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { request } from "undici";
import { DEFAULT_FX, loadAuctions, runLoadgen } from "../../host/src/tools/loadgen.ts";
import { ROOT, sharedData } from "./helpers.ts";

const LOG = sharedData("ipinyou-2259-logs/train.log.txt");
const BUNDLE = join(ROOT, "dist", "nexus-rtb.mjs");
const SECONDS = Number(process.env.NEXUS_LOADGEN_TEST_SECONDS ?? 20);

interface Bidder {
  child: ChildProcess;
  bidUrl: string;
  controlUrl: string;
  stderr: string;
}

/** `node dist/nexus-rtb.mjs serve` on ephemeral ports; resolves on its "listening on" line (printed once ready). */
async function startBundledBidder(timeoutMs = 60_000): Promise<Bidder> {
  const child = spawn(process.execPath, [BUNDLE, "serve"], {
    cwd: ROOT,
    env: { ...process.env, NEXUS_LOG_LEVEL: "warn", NEXUS_BID_PORT: "0", NEXUS_CONTROL_PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const b: Bidder = { child, bidUrl: "", controlUrl: "", stderr: "" };
  child.stderr!.on("data", (d: Buffer) => void (b.stderr = (b.stderr + d.toString()).slice(-20_000)));
  let stdout = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bidder not listening after ${timeoutMs} ms\n${b.stderr}`)), timeoutMs);
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
      const m = /listening on (http:\/\/\S+) .*control plane on (http:\/\/\S+)/.exec(stdout);
      if (m && !b.bidUrl) {
        b.bidUrl = m[1]!;
        b.controlUrl = m[2]!;
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`bidder exited (${code ?? signal}) before listening\n${b.stderr}`));
    });
  });
  return b;
}

async function stop(b: Bidder): Promise<void> {
  if (b.child.exitCode !== null || b.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => b.child.once("exit", () => resolve()));
  b.child.kill("SIGTERM");
  const timer = setTimeout(() => b.child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** The unlabelled nexus_* samples of a Prometheus text page. */
async function scrape(controlUrl: string): Promise<Map<string, number>> {
  const r = await request(`${controlUrl}/metrics`);
  const text = await r.body.text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(nexus_[a-z0-9_]+) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

const COUNTERS = ["nexus_bid_requests_total", "nexus_bid_responses_total", "nexus_bids_total", "nexus_wins_total", "nexus_spend_micros_total"];

/** Scrapes until two scrapes 500 ms apart agree on the counters (the VMs' counters reach the page within a sync period). */
async function settledMetrics(controlUrl: string, timeoutMs = 15_000): Promise<Map<string, number>> {
  const end = Date.now() + timeoutMs;
  let prev = await scrape(controlUrl);
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const next = await scrape(controlUrl);
    if (COUNTERS.every((k) => next.get(k) === prev.get(k))) return next;
    if (Date.now() > end) throw new Error(`metrics still moving after ${timeoutMs} ms`);
    prev = next;
  }
}

describe("loadgen against the bundled bidder (npm start)", { skip: LOG === undefined ? "../shared/data is not there" : false }, () => {
  let bidder: Bidder | undefined;
  after(async () => {
    if (bidder) await stop(bidder);
  });

  it(`drives it for ${SECONDS} s with the 2259 log; its summary equals the bidder's /metrics`, { timeout: (SECONDS + 120) * 1000 }, async (t) => {
    assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing: npm run build`);
    bidder = await startBundledBidder();
    const before = await scrape(bidder.controlUrl);
    for (const k of COUNTERS) assert.equal(before.get(k), 0, `${k} before the run`);

    const auctions = await loadAuctions(LOG!);
    const res = await runLoadgen({
      url: `${bidder.bidUrl}/openrtb2/bid`,
      auctions,
      concurrency: 16,
      durationS: SECONDS,
      timeoutMs: 5000,
      fx: { ...DEFAULT_FX },
      winNotices: true,
      lossNotices: false,
    });
    // Every request got its answer and every win notice was accepted: the two sides saw the same traffic.
    assert.deepEqual(res.errors, {});
    assert.equal(res.responses, res.requests);
    assert.deepEqual(res.notices.failed, {});
    assert.equal(res.notices.winOk, res.wins);
    assert.ok(res.bids > 0 && res.wins > 0, `the demo campaign bid ${res.bids} times and won ${res.wins}`);

    const m = await settledMetrics(bidder.controlUrl);
    const nobids = [...m].filter(([k]) => /^nexus_nobids_[a-z_]+_total$/.test(k)).reduce((a, [, v]) => a + v, 0);
    const spend = Object.entries(res.spendMicros);
    assert.deepEqual(spend.map(([cur]) => cur), ["USD"]); // the demo account currency
    t.diagnostic(
      `loadgen: ${res.requests} requests in ${res.wallSeconds.toFixed(1)} s (${res.throughput.toFixed(0)} resp/s, p50 ${res.latencyMs.p50.toFixed(2)} ms, ` +
        `p99 ${res.latencyMs.p99.toFixed(2)} ms), ${res.bids} bids, ${res.noBids} no-bids, ${res.wins} wins, ${spend[0]![1]} micros USD`,
    );
    t.diagnostic(
      `bidder: ${m.get("nexus_bid_requests_total")} requests, ${m.get("nexus_bids_total")} bids, ${nobids} no-bids, ` +
        `${m.get("nexus_wins_total")} wins, ${m.get("nexus_spend_micros_total")} spend micros`,
    );
    assert.equal(m.get("nexus_bid_requests_total"), res.requests, "requests");
    assert.equal(m.get("nexus_bid_responses_total"), res.bidResponses, "responses with a bid");
    assert.equal(m.get("nexus_bids_total"), res.bids, "bids");
    assert.equal(nobids, res.noBids, "no-bids (all reasons)");
    assert.equal(m.get("nexus_wins_total"), res.wins, "wins");
    assert.equal(m.get("nexus_spend_micros_total"), spend[0]![1], "spend (micros)");
    // What the bidder booked, as loadgen counts it (every notice went through here: the same).
    assert.equal(m.get("nexus_wins_total"), res.booked.wins, "booked wins");
    assert.equal(m.get("nexus_spend_micros_total"), res.booked.spendMicros.USD, "booked spend (micros)");
    assert.equal(m.get("nexus_bad_requests_total"), 0);
  });
});
