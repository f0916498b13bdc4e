// The hosts' stream of counted wins (host/src/control/fleet-frequency.ts) on the real Redis, under
// test key prefixes: what one host appends the others read, never their own; a pod reads from its
// filter's position (a new pod from the stream's start, a restarted host where its filter is; an
// older filter's host from the stream's end at its start); answers are paged; malformed counts are
// dropped; Redis down refuses the report's counts (the filter resends them); the sync passes the
// filter's position and tag on and answers the new position before the counts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import {
  FleetFrequencyMetrics, MAX_ANSWER_COUNTS, RedisFleetFrequency, decodeCounts, encodeCounts, frequencyStreamKey, parseFrequencyCount,
  type FrequencyCount, type FrequencyExchangeFrom, type FrequencyExchangeResult,
} from "../../../host/src/control/fleet-frequency.ts";
import { SyncService } from "../../../host/src/control/sync-service.ts";
import { MemoryBudgetSource } from "../../../host/src/control/budget.ts";
import { silentLogger } from "../../../host/src/log.ts";
import { deleteKeysStartingWith, freePort, sharedRedisPrefixes } from "../../helpers/redis-server.ts";

const REDIS_URL = process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Counts made a minute before the tests started, in one-hour windows: live while the tests run. */
const T0 = Date.now() - 60_000;
function counts(n: number, from = 0, atMs = T0): FrequencyCount[] {
  return Array.from({ length: n }, (_, i) => ({ key: (from + i + 1).toString(16).padStart(16, "0"), atMs: atMs + from + i, windowS: 3600 }));
}

describe("frequency counts: the report's parser and the stream's encoding", () => {
  it("takes [16 hex digits, at ms, window s] and nothing else", () => {
    assert.deepEqual(parseFrequencyCount(["00000000000000ff", 5, 60]), { key: "00000000000000ff", atMs: 5, windowS: 60 });
    for (const bad of [
      ["00000000000000FF", 5, 60], // upper case: the filter writes lower case
      ["0000000000000000", 5, 60], // no key
      ["ff", 5, 60],
      ["00000000000000ff", -1, 60],
      ["00000000000000ff", 1.5, 60],
      ["00000000000000ff", 5, 0],
      ["00000000000000ff", 5, 365 * 86_400 + 1],
      ["00000000000000ff", 5],
      { key: "00000000000000ff" },
    ]) {
      assert.equal(parseFrequencyCount(bad), null, JSON.stringify(bad));
    }
  });

  it("encodes and decodes the stream's field; malformed parts are skipped", () => {
    const c = counts(3);
    assert.deepEqual(decodeCounts(encodeCounts(c)), c);
    assert.deepEqual(decodeCounts(`${encodeCounts(c)},zz:1:2,,0000000000000001:x:5`), c);
  });
});

describe("frequency counts: hosts on one Redis stream", () => {
  const redis = sharedRedisPrefixes("fleet-frequency");

  function host(keyPrefix: string, registry = new Registry()): RedisFleetFrequency {
    return new RedisFleetFrequency({ url: REDIS_URL, keyPrefix, commandTimeoutMs: 500, metrics: new FleetFrequencyMetrics(registry) });
  }
  /** The client connects on its own and never queues: the first exchange waits for the connection. */
  async function started(...hosts: RedisFleetFrequency[]): Promise<void> {
    for (const h of hosts) {
      const end = Date.now() + 5000;
      while (!(await h.exchange([])).accepted) {
        if (Date.now() > end) throw new Error("Redis not reached");
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
  type Tuple<T, N extends 2 | 3> = N extends 2 ? [T, T] : [T, T, T];
  /**
   * `n` hosts on a fresh prefix, each with its own metrics registry, for `body`; closed afterwards,
   * and the prefix's stream deleted (sharedRedisPrefixes deletes only the {nexus:<prefix>:…} keys).
   */
  async function onFreshStream<N extends 2 | 3>(
    n: N,
    body: (hosts: Tuple<RedisFleetFrequency, N>, prefix: string, registries: Tuple<Registry, N>) => Promise<void>,
  ): Promise<void> {
    const prefix = redis.fresh();
    const registries = Array.from({ length: n }, () => new Registry());
    const hosts = registries.map((r) => host(prefix, r));
    try {
      await body(hosts as Tuple<RedisFleetFrequency, N>, prefix, registries as Tuple<Registry, N>);
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
      await deleteKeysStartingWith(redis.client(), `nexus:${prefix}:`);
    }
  }

  it("what one host appends the others read, once; never their own", () =>
    onFreshStream(3, async ([a, b, c], prefix) => {
      // Each starts at the stream's end (its first exchange).
      await started(a, b, c);
      const own = await a.exchange(counts(2));
      assert.equal(own.accepted, true);
      assert.deepEqual(own.counts, [], "a does not get its own counts back");
      assert.deepEqual((await b.exchange(counts(1, 10))).counts, counts(2));
      assert.deepEqual((await b.exchange([])).counts, [], "read once");
      assert.deepEqual((await c.exchange([])).counts, [...counts(2), ...counts(1, 10)], "c gets both, in order");
      assert.deepEqual((await a.exchange([])).counts, counts(1, 10));
      assert.ok((await redis.client().pttl(frequencyStreamKey(prefix))) > 0, "the stream expires when nobody appends");
    }));

  it("counts the filter sends again (it did not get the answer that took them) are appended once", () =>
    onFreshStream(2, async ([a, b], prefix) => {
      await started(a, b);
      assert.equal((await a.exchange(counts(2))).accepted, true);
      // The same two again (resent) with a new one: only the new one is appended.
      assert.equal((await a.exchange([...counts(2), ...counts(1, 10)])).accepted, true);
      assert.deepEqual((await b.exchange([])).counts, [...counts(2), ...counts(1, 10)], "each win once");
      assert.equal(await redis.client().xlen(frequencyStreamKey(prefix)), 2, "two appends: the resend added only its new count");
    }));

  it("a host of a filter that keeps no position (older filters) starts at the stream's end: counts made before are not handed to it", () =>
    onFreshStream(2, async ([a, late]) => {
      await started(a);
      await a.exchange(counts(3));
      await started(late);
      assert.deepEqual((await late.exchange([])).counts, []);
      await a.exchange(counts(1, 50));
      assert.deepEqual((await late.exchange([])).counts, counts(1, 50));
    }));

  it("a new pod (its filter reports no position yet) reads the stream from its start: the counts still in their windows, not its own", () =>
    onFreshStream(2, async ([a, fresh]) => {
      await started(a);
      await a.exchange(counts(3)); // a's host: its filter keeps no position (tag: the host's id)
      await a.exchange(counts(2, 10), { cursor: "", tag: "0000000a" }); // a filter that does
      // Two hours old, in one-hour windows: they count nothing anywhere.
      await a.exchange(counts(2, 20, Date.now() - 7_200_000), { cursor: "", tag: "0000000a" });
      // An entry under the new pod's own tag (its previous host process, say): never handed to it.
      await fresh.exchange(counts(1, 30), { cursor: "", tag: "0000000f" });
      const first = await fresh.exchange([], { cursor: "", tag: "0000000f" });
      assert.deepEqual(first.counts, [...counts(3), ...counts(2, 10)]);
      assert.match(first.cursor, /^[0-9]+-[0-9]+$/);
      // From the answered position on, only what came after.
      assert.deepEqual((await fresh.exchange([], { cursor: first.cursor, tag: "0000000f" })).counts, []);
      await a.exchange(counts(1, 40), { cursor: "", tag: "0000000a" });
      const next = await fresh.exchange([], { cursor: first.cursor, tag: "0000000f" });
      assert.deepEqual(next.counts, counts(1, 40));
      // The position is the filter's: the host hands the same counts again to a report that
      // carries the old one (an answer the filter never took: a timeout, a lost lead).
      assert.deepEqual((await fresh.exchange([], { cursor: first.cursor, tag: "0000000f" })).counts, counts(1, 40));
    }));

  it("a host restarted while its Envoy runs resumes at its filter's position: nothing handed twice, nothing skipped, its pod's entries still its own", () =>
    onFreshStream(3, async ([a, before, after]) => {
      await started(a);
      await a.exchange(counts(2), { cursor: "", tag: "0000000a" });
      const pos = await before.exchange(counts(1, 100), { cursor: "", tag: "0000000b" });
      assert.deepEqual(pos.counts, counts(2));
      // The host process stops; meanwhile a counts more. The next process of pod b gets its
      // filter's position and tag with the first report.
      await before.close();
      await a.exchange(counts(3, 10), { cursor: "", tag: "0000000a" });
      const resumed = await after.exchange(counts(1, 200), { cursor: pos.cursor, tag: "0000000b" });
      assert.deepEqual(resumed.counts, counts(3, 10), "a's counts since the position, not b's own (of either process)");
      assert.deepEqual((await after.exchange([], { cursor: resumed.cursor, tag: "0000000b" })).counts, []);
    }));

  it("a new pod catches up with a long stream a page a sync, each count once, the position moving with the pages", () =>
    onFreshStream(2, async ([a, fresh]) => {
      await started(a);
      // 300 reports of 10 counts: more entries than one exchange reads (16 × 64).
      for (let r = 0; r < 300; r++) await a.exchange(counts(10, r * 10), { cursor: "", tag: "0000000a" });
      const got: FrequencyCount[] = [];
      let cursor = "";
      let pages = 0;
      for (;;) {
        const x = await fresh.exchange([], { cursor, tag: "0000000f" });
        if (x.counts.length === 0) break;
        assert.ok(x.counts.length <= MAX_ANSWER_COUNTS);
        got.push(...x.counts);
        cursor = x.cursor;
        pages++;
      }
      assert.deepEqual(got, counts(3000));
      assert.equal(pages, 2, "2,048 counts, then the rest");
    }));

  it("an exchange stops reading after its read budget: with none, one read of 64 reports a sync, the position moving with it", async () => {
    const prefix = redis.fresh();
    const a = host(prefix);
    const slow = new RedisFleetFrequency({ url: REDIS_URL, keyPrefix: prefix, commandTimeoutMs: 500, readBudgetMs: 0 });
    try {
      await started(a);
      for (let r = 0; r < 150; r++) await a.exchange(counts(1, r), { cursor: "", tag: "0000000a" });
      await started(slow);
      const sizes: number[] = [];
      const got: FrequencyCount[] = [];
      let cursor = "";
      for (let i = 0; i < 4; i++) {
        const x = await slow.exchange([], { cursor, tag: "0000000f" });
        sizes.push(x.counts.length);
        got.push(...x.counts);
        cursor = x.cursor;
      }
      assert.deepEqual(sizes, [64, 64, 22, 0]);
      assert.deepEqual(got, counts(150));
    } finally {
      await Promise.all([a.close(), slow.close()]);
      await deleteKeysStartingWith(redis.client(), `nexus:${prefix}:`);
    }
  });

  it("pages a backlog: at most MAX_ANSWER_COUNTS a time, whole entries, nothing lost; the lag gauge shows the backlog", () =>
    onFreshStream(2, async ([a, b], _prefix, [, registry]) => {
      await started(a, b);
      for (let r = 0; r < 3; r++) await a.exchange(counts(1000, r * 1000));
      const got: FrequencyCount[] = [];
      const sizes: number[] = [];
      for (let i = 0; i < 4; i++) {
        const x = (await b.exchange([])).counts;
        sizes.push(x.length);
        got.push(...x);
      }
      assert.deepEqual(sizes, [2000, 1000, 0, 0]);
      assert.ok(sizes.every((n) => n <= MAX_ANSWER_COUNTS));
      assert.deepEqual(got, counts(3000));
      const m = await registry.getSingleMetricAsString("nexus_host_frequency_fleet_counts_total");
      assert.match(m, /direction="received"} 3000/);
      assert.match(await registry.getSingleMetricAsString("nexus_host_frequency_fleet_lag_seconds"), /lag_seconds 0\n?$/m, "caught up");
    }));

  it("exchanges started together run one after the other: the same counts are never handed twice", () =>
    onFreshStream(2, async ([a, b]) => {
      await started(a, b);
      await a.exchange(counts(5));
      // Two syncs at once (one the filter already gave up on): one of them gets the counts.
      const [x, y] = await Promise.all([b.exchange([]), b.exchange([])]);
      assert.deepEqual([...x.counts, ...y.counts], counts(5));
    }));

  it("Redis unreachable: the report's counts are not accepted (the filter sends them again) and none come back", async () => {
    const port = await freePort(); // nothing listens there
    const registry = new Registry();
    const down = new RedisFleetFrequency({ url: `redis://127.0.0.1:${port}`, keyPrefix: redis.fresh(), commandTimeoutMs: 200, metrics: new FleetFrequencyMetrics(registry) });
    try {
      assert.deepEqual(await down.exchange(counts(2)), { accepted: false, counts: [], cursor: "0-0" });
      assert.deepEqual(await down.exchange(counts(2), { cursor: "17-3", tag: "0000000a" }), { accepted: false, counts: [], cursor: "17-3" }, "the filter's position is answered unchanged");
      assert.match(await registry.getSingleMetricAsString("nexus_host_frequency_fleet_errors_total"), /errors_total 2/);
    } finally {
      await down.close();
    }
  });
});

describe("frequency counts: readiness while a new pod catches up", () => {
  const redis = sharedRedisPrefixes("fleet-frequency-ready");
  /** An exchange once the client has connected (it never queues: one tried before fails and changes nothing). */
  async function exchange(h: RedisFleetFrequency, c: FrequencyCount[], from?: FrequencyExchangeFrom): Promise<FrequencyExchangeResult> {
    const end = Date.now() + 5000;
    for (;;) {
      const x = await h.exchange(c, from);
      if (x.accepted) return x;
      if (Date.now() > end) throw new Error("Redis not reached");
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it("not ready until the filter reports the position of an answer that read the stream to its end", async () => {
    const prefix = redis.fresh();
    const other = new RedisFleetFrequency({ url: REDIS_URL, keyPrefix: prefix, commandTimeoutMs: 500 });
    // One read of 64 reports an exchange: three exchanges to reach the end of 150 reports.
    const pod = new RedisFleetFrequency({ url: REDIS_URL, keyPrefix: prefix, commandTimeoutMs: 500, readBudgetMs: 0 });
    try {
      for (let r = 0; r < 150; r++) await exchange(other, counts(1, r), { cursor: "", tag: "0000000a" });
      assert.match(pod.notReadyReason() ?? "", /^frequency: catching up with the other pods' counted wins/, "before any exchange");
      let cursor = "";
      const reasons: Array<string | undefined> = [];
      for (let i = 0; i < 4; i++) {
        const x = await exchange(pod, [], { cursor, tag: "0000000f" });
        reasons.push(pod.notReadyReason());
        cursor = x.cursor;
      }
      // Two answers short of the end (behind), the third reaches it, the fourth report confirms the filter applied it.
      assert.match(reasons[0]!, /\(\d+ s behind\)$/);
      assert.ok(reasons[1] !== undefined && reasons[2] !== undefined, JSON.stringify(reasons));
      assert.equal(reasons[3], undefined);
      // Once caught up, ready for good: a later backlog is the lag gauge's, not readiness's.
      for (let r = 0; r < 100; r++) await exchange(other, counts(1, 1000 + r), { cursor: "", tag: "0000000a" });
      await exchange(pod, [], { cursor, tag: "0000000f" });
      assert.equal(pod.notReadyReason(), undefined);
    } finally {
      await Promise.all([other.close(), pod.close()]);
      await deleteKeysStartingWith(redis.client(), `nexus:${prefix}:`);
    }
  });

  it("an answer the filter did not apply (it reports its old position again) does not make it ready", async () => {
    const prefix = redis.fresh();
    const other = new RedisFleetFrequency({ url: REDIS_URL, keyPrefix: prefix, commandTimeoutMs: 500 });
    const pod = new RedisFleetFrequency({ url: REDIS_URL, keyPrefix: prefix, commandTimeoutMs: 500 });
    try {
      await exchange(other, counts(3), { cursor: "", tag: "0000000a" });
      const x = await exchange(pod, [], { cursor: "", tag: "0000000f" });
      assert.equal(x.counts.length, 3);
      await exchange(pod, [], { cursor: "", tag: "0000000f" }); // the answer was dropped: same position
      assert.notEqual(pod.notReadyReason(), undefined);
      await exchange(pod, [], { cursor: x.cursor, tag: "0000000f" });
      assert.equal(pod.notReadyReason(), undefined);
    } finally {
      await Promise.all([other.close(), pod.close()]);
      await deleteKeysStartingWith(redis.client(), `nexus:${prefix}:`);
    }
  });

  it("a filter that keeps no position (older) is ready once its host's own read reaches the end", async () => {
    const prefix = redis.fresh();
    const pod = new RedisFleetFrequency({ url: REDIS_URL, keyPrefix: prefix, commandTimeoutMs: 500 });
    try {
      assert.notEqual(pod.notReadyReason(), undefined);
      await exchange(pod, []);
      assert.equal(pod.notReadyReason(), undefined);
    } finally {
      await pod.close();
      await deleteKeysStartingWith(redis.client(), `nexus:${prefix}:`);
    }
  });

  it("Redis down: held not ready for readyWaitMs after the start, then ready with a warning; 0 holds nothing", async () => {
    const port = await freePort(); // nothing listens there
    const warnings: string[] = [];
    const log = { ...silentLogger(), warn: (o: { event?: string }) => void warnings.push(String(o.event)) } as unknown as ReturnType<typeof silentLogger>;
    const down = new RedisFleetFrequency({ url: `redis://127.0.0.1:${port}`, keyPrefix: redis.fresh(), commandTimeoutMs: 100, readyWaitMs: 5_000, log });
    const unheld = new RedisFleetFrequency({ url: `redis://127.0.0.1:${port}`, keyPrefix: redis.fresh(), commandTimeoutMs: 100, readyWaitMs: 0 });
    try {
      await down.exchange([], { cursor: "", tag: "0000000f" });
      assert.match(down.notReadyReason() ?? "", /^frequency: catching up/);
      assert.equal(down.notReadyReason(Date.now() + 5_000), undefined, "past the wait");
      assert.deepEqual(warnings.filter((w) => w === "frequency_ready_unsynced"), ["frequency_ready_unsynced"]);
      assert.equal(down.notReadyReason(Date.now() + 6_000), undefined);
      assert.equal(warnings.filter((w) => w === "frequency_ready_unsynced").length, 1, "warned once");
      assert.equal(unheld.notReadyReason(), undefined);
    } finally {
      await Promise.all([down.close(), unheld.close()]);
    }
  });
});

describe("frequency counts: the sync's position and tag", () => {
  /** A sync service with no campaigns whose fleet store records what each exchange was given. */
  function service(): { sync: SyncService; from: FrequencyExchangeFrom[] } {
    const catalog = { campaigns: [], version: 1, json: "{}", publishAbove: () => false } as unknown as ConstructorParameters<typeof SyncService>[1];
    const models = { announcement: () => null, expectHashBits() {} } as unknown as ConstructorParameters<typeof SyncService>[2];
    const sync = new SyncService("p", catalog, models, new MemoryBudgetSource({ leaseSeconds: 10, minSliceMicros: 1000 }), silentLogger());
    const from: FrequencyExchangeFrom[] = [];
    sync.frequency = {
      async exchange(_c, f = {}): Promise<FrequencyExchangeResult> {
        from.push(f);
        return { accepted: true, counts: counts(1), cursor: "1765000000000-7" };
      },
      async close() {},
    };
    return { sync, from };
  }

  it("hands the filter's position and pod tag to the store, and answers the new position before the counts", async () => {
    const { sync, from } = service();
    const answer = await sync.sync({ vm: 1, config_version: 1, campaigns: [], pod_tag: "0a0b0c0d", frequency_cursor: "1764999999999-0" });
    assert.deepEqual(from[0], { cursor: "1764999999999-0", tag: "0a0b0c0d" });
    assert.equal(answer.frequency_cursor, "1765000000000-7");
    const keys = Object.keys(answer);
    assert.ok(keys.indexOf("frequency_cursor") < keys.indexOf("frequency_counts"), `the filter stores the position as it reads it, before the counts: ${keys.join(", ")}`);
    assert.ok(JSON.stringify(answer).indexOf('"frequency_cursor"') < JSON.stringify(answer).indexOf('"frequency_counts"'));
  });

  it("a new pod's empty position is passed on; a malformed one, or none (older filters), is not, and gets no position back", async () => {
    const { sync, from } = service();
    await sync.sync({ vm: 1, campaigns: [], frequency_cursor: "" });
    assert.equal(from[0]!.cursor, "");
    for (const bad of ["12", "1-2-3", "x-1", 17, null, "1".repeat(21) + "-0"]) {
      const answer = await sync.sync({ vm: 1, campaigns: [], frequency_cursor: bad });
      assert.equal(from.at(-1)!.cursor, undefined, JSON.stringify(bad));
      assert.equal(answer.frequency_cursor, undefined, JSON.stringify(bad));
    }
    const older = await sync.sync({ vm: 1, campaigns: [] });
    assert.equal(from.at(-1)!.cursor, undefined);
    assert.equal(older.frequency_cursor, undefined);
    assert.deepEqual(older.frequency_counts, [[counts(1)[0]!.key, counts(1)[0]!.atMs, 3600]], "the counts still go to an older filter");
  });
});
