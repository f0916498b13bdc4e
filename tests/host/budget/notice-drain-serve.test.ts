// SIGTERM to a real `nexus-rtb serve` (standalone, Redis budget): the win notice of a bid it made
// is still answered and charged during the drain, and the charge reaches the shared budget store
// (the pod's charged in Redis: what the campaign manager's spend and pacing read); a new bid is
// refused; the process exits within NEXUS_DRAIN_MS with its ports closed. Before, SIGTERM closed
// the listener at once: the notice was refused, and the win was never charged nor reported.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { Redis } from "ioredis";
import { request } from "undici";
import { deletePrefix, uniquePrefix } from "../../helpers/redis-server.ts";
import { cpmToMicros } from "../../helpers/ledger.ts";
import { noticeUrl } from "../../helpers/bidder.ts";
import { BidderProcess, CAMPAIGN, PLUGIN, bidRequest, sleep, tempDir, writeBudgetFixtures } from "./bidders.ts";

const REDIS_URL = process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const DRAIN_MS = 6000;
const NOTICE_MS = 2500;

/** A bid (retried while the pod has no money yet): its price in micros and its win notice at that price. */
async function bid(p: BidderProcess): Promise<{ micros: bigint; nurl: string }> {
  const end = Date.now() + 10_000;
  for (;;) {
    const r = await request(`${p.bidUrl}/openrtb2/bid`, { method: "POST", body: bidRequest(), headers: { "content-type": "application/json" } });
    const text = await r.body.text();
    if (r.statusCode === 200) {
      const b = JSON.parse(text).seatbid[0].bid[0] as { price: number; nurl: string };
      return { micros: cpmToMicros(String(b.price)), nurl: noticeUrl(b.nurl, String(b.price)) };
    }
    if (Date.now() > end) assert.fail(`no bid: ${r.statusCode} ${String(r.headers["x-nexus-nobid-reason"] ?? "")} ${text}`);
    await sleep(50);
  }
}

function refused(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(u.port), u.hostname);
    s.once("connect", () => (s.destroy(), resolve(false)));
    s.once("error", () => resolve(true));
  });
}

describe("SIGTERM to serve (standalone): the notice window", () => {
  const prefix = uniquePrefix("notice-drain");
  const tmp = tempDir("notice-drain");
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  let pod: BidderProcess | undefined;

  after(async () => {
    if (pod?.running) pod.child.kill("SIGKILL");
    await deletePrefix(redis, prefix);
    redis.disconnect();
    tmp.remove();
  });

  it("a win notice after SIGTERM is charged and reported to Redis, a new bid is refused, and the process exits within NEXUS_DRAIN_MS", async () => {
    const { campaigns, publicKeyPem } = writeBudgetFixtures(tmp.dir, 2_000_000);
    pod = await BidderProcess.start("notice-drain", {
      NEXUS_BUDGET_SOURCE: "redis",
      NEXUS_REDIS_URL: REDIS_URL,
      NEXUS_REDIS_PREFIX: prefix,
      NEXUS_POD_ID: "notice-drain",
      NEXUS_CAMPAIGNS: campaigns,
      NEXUS_MODEL_STORE: tmp.dir,
      NEXUS_MODEL_FILE: "test.nxm",
      NEXUS_MODEL_PUBLIC_KEY: publicKeyPem,
      NEXUS_PLUGIN_CONFIG: JSON.stringify(PLUGIN),
      NEXUS_VMS: "1",
      NEXUS_BUDGET_PACING_SECONDS: "4",
      NEXUS_BUDGET_MIN_SLICE_MICROS: "100000",
      NEXUS_DRAIN_MS: String(DRAIN_MS),
      NEXUS_NOTICE_DRAIN_MS: String(NOTICE_MS),
      NEXUS_LOG_LEVEL: "info",
    });
    const p = pod;
    const podKey = `{nexus:${prefix}:${CAMPAIGN}}:pod:notice-drain`;
    // Two bids: one whose win notice comes after the SIGTERM, one whose notice never comes.
    const won = await bid(p);
    const open = await bid(p);
    const end = Date.now() + 10_000;
    while (BigInt((await redis.hget(podKey, "reserved")) ?? "0") !== won.micros + open.micros) {
      if (Date.now() > end) assert.fail(`Redis never saw both reservations: ${JSON.stringify(await redis.hgetall(podKey))}`);
      await sleep(50);
    }

    const exited = new Promise<[number | null, string | null]>((r) => p.child.once("exit", (code, signal) => r([code, signal])));
    const t0 = Date.now();
    p.child.kill("SIGTERM");
    while (!/"event":"stopping"/.test(p.stdout)) {
      if (Date.now() - t0 > 5000) assert.fail(`no stop logged:\n${p.stdout}\n${p.stderr}`);
      await sleep(20);
    }

    // 1) The win notice of a bid made before the SIGTERM: answered and charged.
    const win = await request(won.nurl);
    const winText = await win.body.text();
    assert.equal(win.statusCode, 200, winText);
    assert.equal(JSON.parse(winText).status, "charged");

    // 2) A new bid request during the drain: not bid on.
    const late = await request(`${p.bidUrl}/openrtb2/bid`, { method: "POST", body: bidRequest(), headers: { "content-type": "application/json" } });
    const lateText = await late.body.text();
    assert.equal(late.statusCode, 503, lateText);
    assert.match(lateText, /draining/);
    assert.equal(late.headers.connection, "close");

    // 3) It exits, 0, within its drain bound (the window lasts its time: one bid is still reserved).
    assert.deepEqual(await exited, [0, null], p.stderr);
    const took = Date.now() - t0;
    assert.ok(took >= NOTICE_MS - 100, `exited ${took} ms after the SIGTERM: before the notice window (${NOTICE_MS} ms) was over`);
    assert.ok(took < DRAIN_MS + 1500, `exited ${took} ms after the SIGTERM (drain bound ${DRAIN_MS} ms)`);
    assert.ok(await refused(p.bidUrl), "the bid port is closed");
    assert.ok(await refused(p.controlUrl), "the control port is closed");
    assert.match(p.stdout, /"event":"notice_window_closed","ended":"elapsed"/);

    // The charge reached the shared store: the pod's last report (the return's) carries it, the
    // bid without a notice stays reserved, and the unspent rest was given back.
    const counted = await redis.hgetall(podKey);
    assert.equal(BigInt(counted.charged ?? "-1"), won.micros, JSON.stringify(counted));
    assert.equal(BigInt(counted.reserved ?? "-1"), open.micros, JSON.stringify(counted));
    assert.equal(BigInt(counted.granted ?? "-1"), won.micros + open.micros, `the unspent grant went back: ${JSON.stringify(counted)}`);
    assert.match(p.stdout, /"event":"budget_returned"/);
  });
});
