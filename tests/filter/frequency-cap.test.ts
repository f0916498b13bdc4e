// Frequency caps (docs/CAMPAIGNS.md "Frequency caps"): a campaign with frequency_cap bids for a
// user only until the user has had N of its impressions in the window. Counted at the win notice
// that charges the impression (nurl or burl, once), from the count key the bid put in its notice
// URLs, in shared data: every VM of the bidder sees the count. Over real HTTP against the compiled
// filter (two VMs); the window's end with the simulated clock of the sim bidder.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Standalone } from "../../host/src/standalone.ts";
import { FIXTURES, README_REQUEST, get, noticeUrl, post, startTestBidder } from "../helpers/bidder.ts";
import { filterMetric } from "../hardening/helpers.ts";
import { startSimBidder, type SimBidder } from "../helpers/sim-bidder.ts";

const HOUR_S = 3600;

/** The test campaigns with test-cpa capped at `impressions` per user per `seconds`. */
function cappedCampaigns(impressions: number, seconds: number): unknown {
  const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  set.campaigns[0].frequency_cap = { impressions, seconds };
  return set;
}

let ids = 0;
/** The README request for `user` (a user object, or none). */
function requestFor(user?: Record<string, unknown>): string {
  return JSON.stringify({ ...JSON.parse(README_REQUEST), id: `fq-${++ids}`, ...(user ? { user } : {}) });
}

describe("frequency caps over HTTP", () => {
  let app: Standalone;
  let bidUrl: string;

  before(async () => {
    app = await startTestBidder({ vms: 2, campaigns: cappedCampaigns(2, HOUR_S) });
    bidUrl = `${app.bidUrl}/openrtb2/bid`;
  });
  after(async () => {
    await app?.close();
  });

  /** A bid for `user`; its first bid's nurl and burl, or the no-bid reason. */
  async function bid(user?: Record<string, unknown>): Promise<{ nurl: string; burl: string; lurl: string } | string> {
    const r = await post(bidUrl, requestFor(user));
    if (r.status === 204) return String(r.headers["x-nexus-nobid-reason"]);
    assert.equal(r.status, 200, r.text);
    return r.json().seatbid[0].bid[0];
  }
  async function won(user: Record<string, unknown>): Promise<void> {
    const b = await bid(user);
    assert.ok(typeof b !== "string", `no bid: ${b}`);
    const n = await get(noticeUrl(b.nurl, "0.9"));
    assert.equal(n.json().status, "charged");
    // The exchange's billing notice for the same impression: settled already, not counted again.
    const bill = await get(noticeUrl(b.burl, "0.9"));
    assert.equal(bill.json().status, "already_settled");
  }

  it("bids until the user's charged wins reach the cap, then answers 204 frequency; other users still get bids", async () => {
    const counted = filterMetric(app, "nexus_frequency_counted_total");
    const alice = { id: "alice" };
    const first = await bid(alice);
    assert.ok(typeof first !== "string");
    assert.match(first.nurl, /&fq=[0-9a-f]{16}&/, "the bid carries its count key");
    await get(noticeUrl(first.nurl, "0.9"));
    await won(alice);
    assert.equal(await bid(alice), "frequency");
    assert.equal(await bid(alice), "frequency", "and stays capped");
    assert.equal(filterMetric(app, "nexus_frequency_counted_total") - counted, 2n);
    assert.ok(filterMetric(app, "nexus_nobids_frequency_total") >= 2n);
    // Another user, and the same person under the bidder's own id (buyeruid: another id space).
    assert.ok(typeof (await bid({ id: "bob" })) !== "string");
    assert.ok(typeof (await bid({ id: "x", buyeruid: "alice" })) !== "string");
  });

  it("bids and losses count nothing: only wins do", async () => {
    const carol = { id: "carol" };
    for (let i = 0; i < 4; i++) {
      const b = await bid(carol);
      assert.ok(typeof b !== "string", `bid ${i}: ${b}`);
      if (i % 2 === 0) assert.equal((await get(noticeUrl(b.lurl, "0.9"))).json().status, "refunded");
    }
    await won(carol);
    assert.ok(typeof (await bid(carol)) !== "string", "one win of a cap of two");
  });

  it("a request that names no user gets no bid from a capped campaign (no one to count)", async () => {
    assert.equal(await bid(), "frequency");
    // A device advertising id names one, unless the user limits ad tracking.
    const ifa = await post(bidUrl, JSON.stringify({ ...JSON.parse(requestFor()), device: { ifa: "6D92078A-8246-4BA4-AE5B-76104861E7DC", geo: { country: "USA" } } }));
    assert.equal(ifa.status, 200);
    const lmt = await post(bidUrl, JSON.stringify({ ...JSON.parse(requestFor()), device: { ifa: "6D92078A-8246-4BA4-AE5B-76104861E7DC", lmt: 1, geo: { country: "USA" } } }));
    assert.equal(lmt.status, 204);
    assert.equal(lmt.headers["x-nexus-nobid-reason"], "frequency");
  });

  it("a tampered count key counts nothing it should not: the win is still charged", async () => {
    const dave = { id: "dave" };
    for (const fq of ["zz", "0000000000000000", "not-hex-not-hex!"]) {
      const b = await bid(dave);
      assert.ok(typeof b !== "string");
      const url = noticeUrl(b.nurl, "0.9").replace(/fq=[0-9a-f]{16}/, `fq=${fq}`);
      assert.equal((await get(url)).json().status, "charged");
    }
    assert.ok(typeof (await bid(dave)) !== "string", "three charged wins with unreadable keys did not count");
  });
});

describe("a frequency_group over HTTP: two campaigns that count one user together", () => {
  let app: Standalone;
  let bidUrl: string;

  before(async () => {
    const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    const a = { ...set.campaigns[0], frequency_group: "brand", frequency_cap: { impressions: 1, seconds: HOUR_S } };
    // b is worth a little less: it bids only where a does not.
    const b = { ...a, id: "test-cpa-b", value_per_conversion_micros: Math.floor(a.value_per_conversion_micros * 0.9) };
    set.campaigns = [a, b];
    app = await startTestBidder({ vms: 2, campaigns: set });
    bidUrl = `${app.bidUrl}/openrtb2/bid`;
  });
  after(async () => {
    await app?.close();
  });

  it("a win of one campaign of the group caps the user for the other too", async () => {
    const r = await post(bidUrl, requestFor({ id: "hana" }));
    assert.equal(r.status, 200, r.text);
    const bid = r.json().seatbid[0].bid[0];
    assert.equal(bid.cid, "test-cpa");
    assert.equal((await get(noticeUrl(bid.nurl, "0.9"))).json().status, "charged");
    const again = await post(bidUrl, requestFor({ id: "hana" }));
    assert.equal(again.status, 204, "test-cpa-b shares the count: no bid from either");
    assert.equal(again.headers["x-nexus-nobid-reason"], "frequency");
    // Another user still gets the first campaign's bid.
    assert.equal((await post(bidUrl, requestFor({ id: "ivan" }))).json().seatbid[0].bid[0].cid, "test-cpa");
  });
});

const dec = new TextDecoder();

/** The sim bidder's answer for `user`: its first bid, or the no-bid reason. */
async function simBid(sim: SimBidder, user: string): Promise<{ nurl: string } | string> {
  const o = await sim.bid(requestFor({ id: user }));
  assert.equal(o.kind, "local");
  if (o.kind !== "local") return "";
  if (o.status === 204) return o.headers.find(([h]) => h === "x-nexus-nobid-reason")?.[1] ?? "";
  return JSON.parse(dec.decode(o.body)).seatbid[0].bid[0];
}

/** The status of a notice (at 0.9 CPM) sent to the sim bidder. */
async function simNotice(sim: SimBidder, url: string): Promise<string> {
  const u = new URL(noticeUrl(url, "0.9"));
  const o = await sim.get(u.pathname + u.search);
  return o.kind === "local" ? JSON.parse(dec.decode(o.body)).status : "";
}

describe("frequency cap windows (simulated clock)", () => {
  let sim: SimBidder;
  const bid = (user: string) => simBid(sim, user);
  const notice = (url: string) => simNotice(sim, url);

  before(async () => {
    sim = await startSimBidder({ campaigns: cappedCampaigns(1, 600) });
    await sim.untilReady();
  });
  after(async () => {
    await sim?.close();
  });

  it("the window runs from the first counted impression; when it ends the campaign bids again", async () => {
    const b = await bid("erin");
    assert.ok(typeof b !== "string");
    assert.equal(await notice(b.nurl), "charged");
    assert.equal(await bid("erin"), "frequency");
    sim.clock.now += 599_000;
    assert.equal(await bid("erin"), "frequency", "still inside the 600 s window");
    sim.clock.now += 1_000;
    const again = await bid("erin");
    assert.ok(typeof again !== "string", "the window ended");
    assert.equal(await notice(again.nurl), "charged");
    assert.equal(await bid("erin"), "frequency", "a new window opened at that win");
  });

  it("a late win (its reservation refunded by a loss notice first) still counts", async () => {
    const b = await bid("frank");
    assert.ok(typeof b !== "string");
    const lurl = b.nurl.replace("/openrtb2/win?", "/openrtb2/loss?");
    assert.equal(await notice(lurl), "refunded");
    assert.equal(await bid("frank").then((x) => typeof x), "object", "a loss counts nothing");
    assert.match(await notice(b.nurl), /^late_charged/);
    assert.equal(await bid("frank"), "frequency");
  });
});

describe("several frequency caps (simulated clock): 1 in 10 minutes and 2 in an hour", () => {
  let sim: SimBidder;
  const bid = (user: string) => simBid(sim, user);
  async function win(user: string): Promise<void> {
    const b = await bid(user);
    assert.ok(typeof b !== "string", `no bid: ${b}`);
    assert.equal(await simNotice(sim, b.nurl), "charged");
  }

  before(async () => {
    const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    set.campaigns[0].frequency_caps = [{ impressions: 1, seconds: 600 }, { impressions: 2, seconds: HOUR_S }];
    sim = await startSimBidder({ campaigns: set });
    await sim.untilReady();
  });
  after(async () => {
    await sim?.close();
  });

  it("every cap holds: the short one for its window, the long one after two wins, until its own window ends", async () => {
    const t0 = sim.clock.now;
    await win("gina");
    assert.equal(await bid("gina"), "frequency", "one in 10 minutes");
    sim.clock.now = t0 + 600_000;
    await win("gina");
    assert.equal(await bid("gina"), "frequency", "the 10-minute cap again");
    sim.clock.now = t0 + 1_200_000;
    assert.equal(await bid("gina"), "frequency", "a new 10-minute window, but two in the hour");
    sim.clock.now = t0 + 3_599_000;
    assert.equal(await bid("gina"), "frequency", "still inside the hour");
    sim.clock.now = t0 + 3_600_000;
    assert.ok(typeof (await bid("gina")) !== "string", "the hour opened at the first win has ended");
  });
});

describe("frequency buckets full (simulated clock)", () => {
  let sim: SimBidder;

  before(async () => {
    // The smallest table: 16 buckets of 16 counts.
    sim = await startSimBidder({ campaigns: cappedCampaigns(1, 3600), plugin: { frequency_buckets: 16 }, budget: { minSliceMicros: 900_000_000 } });
    await sim.untilReady();
  });
  after(async () => {
    await sim?.close();
  });

  it("more capped users than 16 × frequency_buckets: the oldest counts are replaced (counted), and those users bid again", async () => {
    const counter = (name: string) => Number(sim.pool.metrics.find(name)?.value ?? 0n);
    const users = 300;
    for (let u = 0; u < users; u++) {
      const o = await sim.bid(requestFor({ id: `full-${u}` }));
      assert.equal(o.kind === "local" ? o.status : 0, 200, `user ${u}`);
      const nurl = new URL(noticeUrl(JSON.parse(dec.decode(o.kind === "local" ? o.body : new Uint8Array())).seatbid[0].bid[0].nurl, "0.9"));
      await sim.get(nurl.pathname + nurl.search);
      sim.clock.now += 10; // each count opens its window a little later than the one before
    }
    assert.equal(counter("nexus_frequency_counted_total"), users);
    const evicted = counter("nexus_frequency_evictions_total");
    assert.ok(evicted >= users - 256, `${evicted} evictions: at most 256 counts fit`);
    // The latest users are still capped; the first ones (the oldest windows) were replaced.
    const reason = async (u: number) => {
      const o = await sim.bid(requestFor({ id: `full-${u}` }));
      return o.kind === "local" ? (o.status === 200 ? "bid" : o.headers.find(([h]) => h === "x-nexus-nobid-reason")?.[1]) : "";
    };
    assert.equal(await reason(users - 1), "frequency");
    let again = 0;
    for (let u = 0; u < 20; u++) if ((await reason(u)) === "bid") again++;
    assert.ok(again > 0, "some of the first users lost their count to later ones");
  });
});
