// Frequency caps across pods (docs/CAMPAIGNS.md "Frequency caps"): two standalone bidders ("pods":
// their own VMs and shared data) on the real Redis under a test key prefix, the test campaign
// capped at two impressions a user. A user's wins on either pod count on both: each pod's filter
// reports its counted wins with its sync, its host appends them to the fleet's stream, and the
// other pod's host hands them to its filter with its next sync answer. A pod started later reads
// the stream from its start (its filter has no position in it yet).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { FIXTURES, get, noticeUrl, post, README_REQUEST, testBidderConfig } from "../helpers/bidder.ts";
import { startStandalone, type Standalone } from "../../host/src/standalone.ts";
import { silentLogger } from "../../host/src/log.ts";
import { filterMetric, until } from "./helpers.ts";
import { SHARED_REDIS_URL, holdsBudget, podOptions, twoPodsOnSharedRedis } from "./replay-pods.ts";
import { encodeCounts, frequencyStreamKey } from "../../host/src/control/fleet-frequency.ts";

const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
set.campaigns[0].frequency_cap = { impressions: 2, seconds: 3600 };

let ids = 0;
async function bid(pod: Standalone, user: string): Promise<{ nurl: string } | string> {
  const body = JSON.stringify({ ...JSON.parse(README_REQUEST), id: `fqpods-${process.pid}-${++ids}`, user: { id: user } });
  const r = await post(`${pod.bidUrl}/openrtb2/bid`, body);
  if (r.status === 204) return String(r.headers["x-nexus-nobid-reason"]);
  assert.equal(r.status, 200, r.text);
  return r.json().seatbid[0].bid[0];
}
async function win(pod: Standalone, user: string): Promise<void> {
  const b = await bid(pod, user);
  assert.ok(typeof b !== "string", `no bid for ${user}: ${b}`);
  assert.equal((await get(noticeUrl(b.nurl, "0.9"))).json().status, "charged");
}

describe("frequency caps across two pods on one Redis", () => {
  const pods = twoPodsOnSharedRedis("fqpods", { campaigns: set });

  it("one win on each pod reaches a cap of two on both pods", async () => {
    const { a, b } = pods;
    await win(a, "zed");
    await win(b, "zed");
    // Each pod counted one win itself; the other's arrives with a sync or two.
    await until(async () => (await bid(a, "zed")) === "frequency" && (await bid(b, "zed")) === "frequency", 15_000, "zed capped on both pods");
    assert.ok(filterMetric(a, "nexus_frequency_fleet_applied_total") >= 1n);
    assert.ok(filterMetric(b, "nexus_frequency_fleet_applied_total") >= 1n);
    const redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      // One stream entry per report with counts: a's and b's (deleted with the test's keys).
      assert.ok((await redis.xlen(frequencyStreamKey(pods.keyPrefix))) >= 2);
    } finally {
      redis.disconnect();
    }
  });

  it("a win on one pod counts on the other: the user gets one more impression there, not two", async () => {
    const { a, b } = pods;
    const applied = filterMetric(b, "nexus_frequency_fleet_applied_total");
    await win(a, "yan");
    await until(() => filterMetric(b, "nexus_frequency_fleet_applied_total") > applied, 15_000, "a's count applied on b");
    await win(b, "yan");
    assert.equal(await bid(b, "yan"), "frequency", "capped on b at once: one win there, one from a");
    await until(async () => (await bid(a, "yan")) === "frequency", 15_000, "yan capped on a");
  });

  it("a pod started later learns the counts made before it started: a user capped on the fleet stays capped there", async () => {
    const { a } = pods;
    // A longer stream before the user's wins: 1,500 reports of ended windows, more than one
    // exchange reads (16 × 64).
    const redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      const old = Date.now() - 7_200_000;
      const fill = redis.pipeline();
      for (let i = 0; i < 1500; i++) fill.xadd(frequencyStreamKey(pods.keyPrefix), "*", "i", "0000beef", "c", encodeCounts([{ key: (i + 1).toString(16).padStart(16, "0"), atMs: old, windowS: 60 }]));
      await fill.exec();
    } finally {
      redis.disconnect();
    }
    await win(a, "zoe");
    await win(a, "zoe");
    assert.equal(await bid(a, "zoe"), "frequency");
    // A new pod (a scale-up, or a pod replaced by a rollout) on the same Redis. Its /readyz, polled
    // from its start, names the catch-up among its reasons, and its first 200 comes with the counts
    // made before it started applied. (Here the test's 100 ms syncs also catch up before the
    // model is loaded; tests/host/control/fleet-frequency.test.ts holds a pod not ready until its
    // filter has applied an answer that reached the stream's end.)
    const { cfg, dir } = testBidderConfig(podOptions("fqpods-late", { vms: 1, redisUrl: SHARED_REDIS_URL, keyPrefix: pods.keyPrefix, campaigns: set }));
    const late = await startStandalone(cfg, silentLogger());
    try {
      const reasons = new Set<string>();
      let appliedAtReady: bigint | undefined;
      const end = Date.now() + 20_000;
      while (appliedAtReady === undefined) {
        assert.ok(Date.now() < end, `not ready after 20 s: ${[...reasons].join("; ")}`);
        const r = await fetch(`${late.controlUrl}/readyz`);
        const body = (await r.json()) as { reasons: string[] };
        if (r.status === 200) appliedAtReady = filterMetric(late, "nexus_frequency_fleet_applied_total");
        else body.reasons.forEach((x) => reasons.add(x));
      }
      assert.ok(appliedAtReady >= 2n, `applied ${appliedAtReady} when first ready`);
      assert.ok([...reasons].some((x) => x.startsWith("frequency: catching up")), [...reasons].join("; "));
      await holdsBudget(late, "fqpods-late");
      assert.equal(await bid(late, "zoe"), "frequency", "capped on the new pod as on the others");
      assert.ok(typeof (await bid(late, "zack")) !== "string", "a user without impressions still gets a bid there");
    } finally {
      await late.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
