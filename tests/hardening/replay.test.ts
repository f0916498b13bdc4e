// Replay protection (assembly/filter/replay-guard.ts, asked at a request's first
// reservation: replay-gate.ts): a request about to bid whose id bid within
// replay_ttl_ms is a no-bid "replay", in every VM of the process; the guard fails
// safe (no bid) when it cannot tell; distinct ids keep bidding.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST, get, post, startTestBidder } from "../helpers/bidder.ts";
import type { Standalone } from "../../host/src/standalone.ts";
import { filterMetric, lossAll, poolBid, reserved } from "./helpers.ts";

const withId = (id: string, base = README_REQUEST) => JSON.stringify({ ...JSON.parse(base), id });
let run = 0;
const freshId = (tag: string) => `${tag}-${process.pid}-${Date.now()}-${run++}`;

describe("replay guard, inline VMs", () => {
  let app: Standalone;
  before(async () => {
    app = await startTestBidder({ vms: 2, plugin: { replay_ttl_ms: 60_000 } });
  });
  after(async () => {
    app.pool.shared.onBeforeSet = undefined;
    await app?.close();
  });

  it("the same id twice: 200, then 204 replay (counted), over HTTP", async () => {
    const body = withId(freshId("twice"));
    const replays = filterMetric(app, "nexus_nobids_replay_total");
    const first = await post(`${app.bidUrl}/openrtb2/bid`, body);
    assert.equal(first.status, 200, first.text);
    const second = await post(`${app.bidUrl}/openrtb2/bid`, body);
    assert.equal(second.status, 204);
    assert.equal(second.headers["x-nexus-nobid-reason"], "replay");
    assert.equal(filterMetric(app, "nexus_nobids_replay_total") - replays, 1n);
    const metrics = (await get(`${app.controlUrl}/metrics`)).text;
    assert.match(metrics, /^nexus_nobids_replay_total [1-9]/m);
    await lossAll(app, first.text);
  });

  it("the id is compared after unescaping: \\u escapes of the same id are a replay", async () => {
    const id = freshId("esc");
    const first = await poolBid(app, withId(id));
    assert.equal(first.status, 200, first.text);
    const escaped = withId(id).replace(`"id":"${id}"`, `"id":"\\u00${id.charCodeAt(0).toString(16)}${id.slice(1)}"`);
    assert.notEqual(escaped, withId(id));
    const again = await poolBid(app, escaped);
    assert.equal(again.status, 204);
    assert.equal(again.headers["x-nexus-nobid-reason"], "replay");
    await lossAll(app, first.text);
  });

  it("a replay leaves no reservation, and a malformed request records nothing", async () => {
    const id = freshId("money");
    const before = reserved(app);
    // A malformed body with this id must not mark the id as seen.
    const bad = await poolBid(app, `{"id":"${id}","imp":[{"id":"1","banner":{"w":"300px"}}]}`);
    assert.equal(bad.status, 400);
    const first = await poolBid(app, withId(id));
    assert.equal(first.status, 200, first.text);
    const afterBid = reserved(app);
    assert.ok(afterBid > before);
    for (let i = 0; i < 5; i++) assert.equal((await poolBid(app, withId(id))).headers["x-nexus-nobid-reason"], "replay");
    assert.equal(reserved(app), afterBid, "replays reserve nothing");
    await lossAll(app, first.text);
    assert.equal(reserved(app), before);
  });

  it("only a request about to reserve is checked and remembered: a resent no-bid keeps its reason, the guard is not touched", async () => {
    const id = freshId("nobid");
    let guardWrites = 0;
    app.pool.shared.onBeforeSet = (key) => {
      if (key.startsWith("nexus/v1/seen/")) guardWrites++;
    };
    try {
      const unsized = (imps: unknown[]) => JSON.stringify({ ...JSON.parse(README_REQUEST), id, imp: imps });
      const noBid = unsized([{ id: "1", banner: { w: 1, h: 1 } }]);
      for (let i = 0; i < 3; i++) {
        const r = await poolBid(app, noBid);
        assert.equal(r.status, 204);
        assert.equal(r.headers["x-nexus-nobid-reason"], "no_match", "a resent no-bid is not a replay");
      }
      assert.equal(guardWrites, 0, "requests that reserve nothing do not write the guard's buckets");
      // The same id once it would bid: nothing remembered it, so it bids, once.
      const first = await poolBid(app, withId(id));
      assert.equal(first.status, 200, first.text);
      assert.equal(guardWrites, 1, "the bid recorded its id");
      // A resend with two impressions, the first of which fits nothing: the request's reason is replay.
      const two = await poolBid(app, unsized([{ id: "1", banner: { w: 1, h: 1 } }, ...JSON.parse(README_REQUEST).imp.map((m: object) => ({ ...m, id: "2" }))]));
      assert.equal(two.status, 204);
      assert.equal(two.headers["x-nexus-nobid-reason"], "replay");
      await lossAll(app, first.text);
    } finally {
      app.pool.shared.onBeforeSet = undefined;
    }
  });

  it("10,000 distinct ids all bid (no false replays at moderate volume)", async () => {
    const base = freshId("many");
    const start = reserved(app);
    const reasons = new Map<string, number>();
    let bids = 0;
    for (let i = 0; i < 10_000; i++) {
      const a = await poolBid(app, withId(`${base}-${i}`));
      if (a.status === 200) {
        bids++;
        await lossAll(app, a.text);
      } else {
        const r = a.headers["x-nexus-nobid-reason"] ?? String(a.status);
        reasons.set(r, (reasons.get(r) ?? 0) + 1);
      }
    }
    assert.equal(reasons.get("replay") ?? 0, 0, `false replays: ${JSON.stringify([...reasons])}`);
    assert.equal(reasons.get("contention") ?? 0, 0, `guard give-ups: ${JSON.stringify([...reasons])}`);
    assert.equal(bids, 10_000, `no-bids: ${JSON.stringify([...reasons])}`);
    assert.equal(reserved(app), start);
  });

  it("fails safe: when the CAS loop gives up, the request is a no-bid (contention), never a bid", async () => {
    const id = freshId("giveup");
    const giveUps = filterMetric(app, "nexus_replay_giveups_total");
    let injected = 0;
    // Another writer changes the id's bucket between every read and write of the filter.
    app.pool.shared.onBeforeSet = (key) => {
      if (key.startsWith("nexus/v1/seen/")) {
        const cur = app.pool.shared.get(key);
        if (cur) {
          injected++;
          app.pool.shared.set(key, Uint8Array.from(cur.value), cur.cas);
        }
      }
    };
    const before = reserved(app);
    const a = await poolBid(app, withId(id));
    app.pool.shared.onBeforeSet = undefined;
    assert.equal(a.status, 204);
    assert.equal(a.headers["x-nexus-nobid-reason"], "contention");
    assert.equal(injected, 32, "cas_retries (32) attempts");
    assert.equal(filterMetric(app, "nexus_replay_giveups_total") - giveUps, 1n);
    assert.equal(reserved(app), before);
    // The id was never recorded: it bids once the contention is gone.
    const b = await poolBid(app, withId(id));
    assert.equal(b.status, 200, b.text);
    await lossAll(app, b.text);
  });

  it("a competing write is retried: the id is recorded once and bids", async () => {
    const id = freshId("retry");
    let injected = 0;
    app.pool.shared.onBeforeSet = (key) => {
      if (key.startsWith("nexus/v1/seen/") && injected < 3) {
        const cur = app.pool.shared.get(key);
        if (cur) {
          injected++;
          app.pool.shared.set(key, Uint8Array.from(cur.value), cur.cas);
        }
      }
    };
    const a = await poolBid(app, withId(id));
    app.pool.shared.onBeforeSet = undefined;
    assert.equal(injected, 3);
    assert.equal(a.status, 200, a.text);
    assert.equal((await poolBid(app, withId(id))).headers["x-nexus-nobid-reason"], "replay");
    await lossAll(app, a.text);
  });
});

describe("replay guard across worker VMs", () => {
  let app: Standalone;
  before(async () => {
    app = await startTestBidder({ vms: 4, vmMode: "workers", plugin: { replay_ttl_ms: 60_000 } });
  });
  after(async () => {
    await app?.close();
  });

  it("one id sent to each of 4 worker VMs in turn: one bid, three replays", async () => {
    const body = withId(freshId("workers"));
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await poolBid(app, body)); // round-robin: VMs 0..3
    assert.deepEqual(answers.map((a) => a.status), [200, 204, 204, 204]);
    assert.deepEqual(answers.slice(1).map((a) => a.headers["x-nexus-nobid-reason"]), ["replay", "replay", "replay"]);
    await lossAll(app, answers[0]!.text);
  });

  it("the same id sent concurrently to 4 VMs, 25 rounds: exactly one bid per id", async () => {
    const before = reserved(app);
    for (let round = 0; round < 25; round++) {
      const body = withId(freshId("race"));
      const answers = await Promise.all(Array.from({ length: 8 }, () => poolBid(app, body)));
      const ok = answers.filter((a) => a.status === 200);
      assert.equal(ok.length, 1, `round ${round}: ${answers.map((a) => `${a.status}/${a.headers["x-nexus-nobid-reason"] ?? ""}`).join(" ")}`);
      for (const a of answers) if (a.status === 204) assert.ok(["replay", "contention"].includes(a.headers["x-nexus-nobid-reason"]!));
      await lossAll(app, ok[0]!.text);
    }
    assert.equal(reserved(app), before);
  });

  it("distinct ids from concurrent clients all bid", async () => {
    const base = freshId("spread");
    const answers = await Promise.all(Array.from({ length: 400 }, (_, i) => poolBid(app, withId(`${base}-${i}`))));
    const notOk = answers.filter((a) => a.status !== 200).map((a) => a.headers["x-nexus-nobid-reason"]);
    assert.deepEqual(notOk.filter((r) => r === "replay"), []);
    for (const a of answers) if (a.status === 200) await lossAll(app, a.text);
  });
});

describe("replay guard TTL", () => {
  let app: Standalone;
  before(async () => {
    app = await startTestBidder({ vms: 2, plugin: { replay_ttl_ms: 400 } });
  });
  after(async () => {
    await app?.close();
  });

  it("after the TTL the same id bids again", async () => {
    const body = withId(freshId("ttl"));
    const a = await poolBid(app, body);
    assert.equal(a.status, 200, a.text);
    assert.equal((await poolBid(app, body)).headers["x-nexus-nobid-reason"], "replay");
    await new Promise((r) => setTimeout(r, 450));
    const b = await poolBid(app, body);
    assert.equal(b.status, 200, `${b.status} ${b.headers["x-nexus-nobid-reason"]}`);
    assert.equal((await poolBid(app, body)).headers["x-nexus-nobid-reason"], "replay", "and is guarded again");
    await lossAll(app, a.text);
    await lossAll(app, b.text);
  });
});

describe("replay guard capacity", () => {
  let app: Standalone;
  before(async () => {
    // Only 16 buckets (256 ids live at once), so that the eviction path runs.
    app = await startTestBidder({ vms: 2, plugin: { replay_ttl_ms: 60_000, replay_buckets: 16 } });
  });
  after(async () => {
    await app?.close();
  });

  it("full buckets evict the id closest to expiry: recent ids are still caught, old ids never block", async () => {
    const base = freshId("evict");
    const evictions = filterMetric(app, "nexus_replay_evictions_total");
    let bids = 0;
    // 2,000 distinct ids within one TTL: 8x the 256 entries.
    for (let i = 0; i < 2000; i++) {
      const a = await poolBid(app, withId(`${base}-${i}`));
      if (a.status === 200) {
        bids++;
        await lossAll(app, a.text);
      } else assert.notEqual(a.headers["x-nexus-nobid-reason"], "replay", `id ${i}`);
    }
    assert.equal(bids, 2000);
    assert.ok(filterMetric(app, "nexus_replay_evictions_total") - evictions >= 2000n - 256n, "the eviction path ran");
    // The most recent ids are still in their buckets.
    for (let i = 1990; i < 2000; i++) {
      assert.equal((await poolBid(app, withId(`${base}-${i}`))).headers["x-nexus-nobid-reason"], "replay", `id ${i}`);
    }
  });
});

describe("replay guard settings", () => {
  it("out-of-range settings fail the plugin start", async () => {
    for (const plugin of [{ replay_ttl_ms: -1 }, { replay_ttl_ms: 86_400_001 }, { replay_ttl_ms: "60000" }, { replay_buckets: 8 }, { replay_buckets: 1 << 17 }]) {
      await assert.rejects(startTestBidder({ vms: 1, plugin }), (e: Error & { code?: string }) => e.code === "PROXY_WASM_PLUGIN_START", JSON.stringify(plugin));
    }
    // The error carries the filter's reason (its error log), not only "the configuration was rejected".
    await assert.rejects(
      startTestBidder({ vms: 1, plugin: { replay_buckets: 8 } }),
      (e: Error) => /the plugin configuration was rejected\): nexus: invalid plugin configuration: replay_buckets/.test(e.message),
    );
  });
});

describe("replay guard off", () => {
  it("replay_ttl_ms 0 (the default) turns the guard off and creates no bucket keys", async () => {
    const app = await startTestBidder({ vms: 1 });
    try {
      const body = withId(freshId("off"));
      const a = await poolBid(app, body);
      const b = await poolBid(app, body);
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      await lossAll(app, a.text);
      await lossAll(app, b.text);
      assert.equal(app.pool.shared.keys().filter((k) => k.startsWith("nexus/v1/seen/")).length, 0);
    } finally {
      await app.close();
    }
  });
});
