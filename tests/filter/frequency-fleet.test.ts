// Frequency counts across pods, the filter's side (assembly/filter/frequency-fleet.ts) and the
// host's sync (SyncService.frequency): the compiled filter (two VMs) over real HTTP, its real
// syncs with the host. The fleet store behind the host is a recording double here, so that a test
// can refuse a report and hand counts of its choosing; the Redis stream itself is tested in
// tests/host/control/fleet-frequency.test.ts and two pods end to end in
// tests/hardening/frequency-pods.test.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Standalone } from "../../host/src/standalone.ts";
import type { FleetFrequency, FrequencyCount, FrequencyExchangeFrom, FrequencyExchangeResult } from "../../host/src/control/fleet-frequency.ts";
import { FIXTURES, README_REQUEST, get, noticeUrl, post, startTestBidder } from "../helpers/bidder.ts";
import { filterMetric, until } from "../hardening/helpers.ts";

const WINDOW_S = 3600;

/**
 * The fleet store's double: records every exchange and the position the filter reported with it,
 * refuses the next `refuse` that carry counts, hands `toHand` once. Each accepted exchange answers
 * the next position ("<n>-0").
 */
class RecordingFleet implements FleetFrequency {
  readonly exchanges: FrequencyCount[][] = [];
  readonly from: FrequencyExchangeFrom[] = [];
  refuse = 0;
  toHand: FrequencyCount[] = [];
  /** Answers this instead of the next position, once. */
  badCursor: string | undefined;
  private position = 0;

  async exchange(counts: readonly FrequencyCount[], from: FrequencyExchangeFrom = {}): Promise<FrequencyExchangeResult> {
    this.exchanges.push([...counts]);
    this.from.push(from);
    if (counts.length > 0 && this.refuse > 0) {
      this.refuse--;
      return { accepted: false, counts: [], cursor: from.cursor ?? "" };
    }
    const hand = this.toHand;
    this.toHand = [];
    const bad = this.badCursor;
    this.badCursor = undefined;
    return { accepted: true, counts: hand, cursor: bad ?? `${++this.position}-0` };
  }

  /** Exchanges whose report carried `key`. */
  carrying(key: string): number {
    return this.exchanges.filter((e) => e.some((c) => c.key === key)).length;
  }

  async close(): Promise<void> {}
}

let ids = 0;
function requestFor(user: string): string {
  return JSON.stringify({ ...JSON.parse(README_REQUEST), id: `fleet-${++ids}`, user: { id: user } });
}

describe("frequency counts across pods: the filter's reports and the counts handed back", () => {
  let app: Standalone;
  let bidUrl: string;
  const fleet = new RecordingFleet();

  before(async () => {
    const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    set.campaigns[0].frequency_cap = { impressions: 2, seconds: WINDOW_S };
    app = await startTestBidder({ vms: 2, campaigns: set });
    app.sync.frequency = fleet;
    bidUrl = `${app.bidUrl}/openrtb2/bid`;
  });
  after(async () => {
    await app?.close();
  });

  async function bid(user: string): Promise<{ nurl: string; lurl: string } | string> {
    const r = await post(bidUrl, requestFor(user));
    if (r.status === 204) return String(r.headers["x-nexus-nobid-reason"]);
    assert.equal(r.status, 200, r.text);
    return r.json().seatbid[0].bid[0];
  }
  async function bidOf(user: string): Promise<{ nurl: string; lurl: string; key: string }> {
    const b = await bid(user);
    assert.ok(typeof b !== "string", `no bid for ${user}: ${b}`);
    const key = /&fq=([0-9a-f]{16})&/.exec(b.nurl)?.[1];
    assert.ok(key, "the bid carries its count key");
    return { ...b, key };
  }
  async function win(user: string): Promise<string> {
    const b = await bidOf(user);
    assert.equal((await get(noticeUrl(b.nurl, "0.9"))).json().status, "charged");
    return b.key;
  }

  it("reports its position in the fleet's stream: none at first, then the one each answer gave, kept in shared data; and its pod tag", async () => {
    await until(() => fleet.from.length >= 3, 10_000, "three syncs");
    assert.equal(fleet.from[0]!.cursor, "", "a new pod has no position: the host reads the stream from its start");
    const n = fleet.from.length;
    await until(() => fleet.from.length >= n + 2, 10_000, "two more syncs");
    // The double answers "<k>-0" to its k-th exchange: each report carries the previous answer's.
    for (let k = 1; k < fleet.from.length; k++) assert.equal(fleet.from[k]!.cursor, `${k}-0`, `report ${k + 1}`);
    assert.match(fleet.from[0]!.tag ?? "", /^[0-9a-f]{8}$/);
    // In shared data, where a restarted host (sidecar mode) or the next leader VM finds it.
    const stored = app.pool.shared.getString("nexus/v1/fq-cursor");
    assert.match(stored ?? "", /^[0-9]+-0$/);
    // An answer whose position is not a stream id moves nothing: the next report carries the last good one.
    const m = fleet.from.length;
    fleet.badCursor = "12-x";
    await until(() => fleet.from.length >= m + 2, 10_000, "two more syncs");
    assert.equal(fleet.from[m + 1]!.cursor, fleet.from[m]!.cursor);
  });

  it("a counted win goes out with a later sync, again after a refusal, and no more once accepted", async () => {
    const sent = filterMetric(app, "nexus_frequency_fleet_sent_total");
    fleet.refuse = 2;
    const key = await win("ann");
    await until(() => fleet.carrying(key) >= 3, 10_000, "three reports carrying the count");
    const carried = fleet.carrying(key);
    const before = fleet.exchanges.length;
    await until(() => fleet.exchanges.length >= before + 3, 10_000, "three more syncs");
    assert.equal(fleet.carrying(key), carried, "not sent again once accepted");
    assert.equal(carried, 3, "refused twice, accepted the third time");
    const report = fleet.exchanges.find((e) => e.some((c) => c.key === key))!.find((c) => c.key === key)!;
    assert.equal(report.windowS, WINDOW_S);
    assert.ok(Math.abs(report.atMs - Date.now()) < 60_000, "counted at the win, on the wall clock");
    assert.equal(filterMetric(app, "nexus_frequency_fleet_sent_total") - sent, 1n);
  });

  it("wins counted on either VM all go out, each once", async () => {
    const keys: string[] = [];
    for (let i = 0; i < 8; i++) {
      // The pool deals requests round robin: a bid and its notice go to different VMs, so one
      // more request every other win moves the notice, and the count, to the other VM (the
      // filler's reservation is left to expire).
      if (i % 2 === 1) await bidOf(`filler-${i}`);
      keys.push(await win(`vm-user-${i}`));
    }
    await until(() => keys.every((k) => fleet.carrying(k) === 1), 10_000, "every count reported");
    const n = fleet.exchanges.length;
    await until(() => fleet.exchanges.length >= n + 2, 10_000, "two more syncs");
    for (const k of keys) assert.equal(fleet.carrying(k), 1, k);
    assert.equal(new Set(keys).size, 8);
  });

  it("counts handed back are applied: two other pods' impressions cap the user here; an ended window counts nothing", async () => {
    const applied = filterMetric(app, "nexus_frequency_fleet_applied_total");
    const ben = await bidOf("ben");
    const cy = await bidOf("cy");
    // Neither bid won here: their reservations are given back.
    for (const b of [ben, cy]) assert.equal((await get(noticeUrl(b.lurl, "0.9"))).json().status, "refunded");
    const now = Date.now();
    fleet.toHand = [
      { key: ben.key, atMs: now - 5_000, windowS: WINDOW_S },
      { key: ben.key, atMs: now - 1_000, windowS: WINDOW_S },
      // cy's impressions were two hours ago, in a one-hour window.
      { key: cy.key, atMs: now - 7_200_000, windowS: WINDOW_S },
      { key: cy.key, atMs: now - 7_100_000, windowS: WINDOW_S },
    ];
    await until(() => filterMetric(app, "nexus_frequency_fleet_applied_total") - applied >= 2n, 10_000, "counts applied");
    assert.equal(await bid("ben"), "frequency", "two impressions on other pods reach the cap of two");
    assert.ok(typeof (await bid("cy")) !== "string", "ended windows count nothing");
    assert.equal(filterMetric(app, "nexus_frequency_fleet_applied_total") - applied, 2n);
    // Applied counts are the other pods': they are not reported back.
    const n = fleet.exchanges.length;
    await until(() => fleet.exchanges.length >= n + 2, 10_000, "two more syncs");
    assert.equal(fleet.exchanges.slice(n).flat().filter((c) => c.key === ben.key).length, 0);
  });

  it("a large answer is applied 512 counts a callback (the answer's, then each tick's), every one in the end", async () => {
    const metric = () => Number(filterMetric(app, "nexus_frequency_fleet_applied_total"));
    const start = metric();
    const now = Date.now();
    fleet.toHand = Array.from({ length: 1500 }, (_, i) => ({ key: (0x7000 + i).toString(16).padStart(16, "0"), atMs: now, windowS: WINDOW_S }));
    // Sampled once per turn of the event loop; the answer's callback and a tick may both run in
    // one turn (2 × 512), but never all 1,500 at once.
    let last = start;
    const steps: number[] = [];
    const end = Date.now() + 10_000;
    while (metric() - start < 1500 && Date.now() < end) {
      await new Promise((r) => setImmediate(r));
      const m = metric();
      if (m > last) steps.push(m - last);
      last = m;
    }
    assert.equal(metric() - start, 1500, "every count applied");
    assert.ok(steps.length >= 2 && Math.max(...steps) <= 1024, `applied in steps of at most 512 a callback: ${steps.join(", ")}`);
  });
});
