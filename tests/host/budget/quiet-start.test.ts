// A pod's normal start on a Redis budget logs no warning: SREs alert on warnings, and two fired at
// every start (the soak test saw them on every pod): the notice-peer listing tried before the
// Redis connection was up (and was retried anyway), and the first lease of a new pod was logged
// like a recovery after Redis lost its data. A pod the store does not know that holds money is
// still a warning (budget-redis's recovery tests).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { Redis } from "ioredis";
import { testBidderConfig } from "../../helpers/bidder.ts";
import { deletePrefix, uniquePrefix } from "../../helpers/redis-server.ts";
import { startStandalone, type Standalone } from "../../../host/src/standalone.ts";
import { noticePeersKey } from "../../../host/src/control/notice-forward.ts";
import { captureLogger, waitFor } from "../model-store/helpers.ts";

const REDIS_URL = process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

describe("a pod's first start on a fresh Redis budget", () => {
  const prefix = uniquePrefix("quiet-start");
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  let app: Standalone | undefined;
  let dir: string | undefined;

  after(async () => {
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  it("lists itself for notice forwarding and takes its first lease without a warning", async () => {
    const t = testBidderConfig({ vms: 1, budget: { source: "redis", redisUrl: REDIS_URL, keyPrefix: prefix, podId: "quiet-pod", noticeForwardUrl: "http://127.0.0.1:9" } });
    dir = t.dir;
    const cap = captureLogger();
    app = await startStandalone(t.cfg, cap.log);
    await app.ready(20_000);
    await waitFor("the pod listed as a notice peer", async () => (await redis.hexists(noticePeersKey(prefix), "quiet-pod")) === 1, 10_000);
    const registered = await waitFor("the first lease", () => cap.lines.find((l) => l.event === "budget_pod_registered"), 10_000);
    assert.equal(registered.level, 30, "a new pod holding nothing: info");
    assert.equal(registered.holds, 0);
    const warnings = cap.lines.filter((l) => l.level >= 40 && l.source !== "filter" && l.event !== "budget_in_memory");
    assert.deepEqual(warnings.map((l) => l.event), [], JSON.stringify(warnings));
  });
});
