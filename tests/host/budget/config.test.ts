// The budget settings of the host configuration (environment and validation).
import { describe, it } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { loadConfig } from "../../../host/src/config.ts";
import { ConfigError } from "../../../host/src/errors.ts";
import { paceMicrosPerSecond, sliceMicros } from "../../../host/src/control/budget.ts";
import { podIdOf } from "../../../host/src/control/budget-redis.ts";
import { readyTimeoutMs } from "../../../host/src/standalone.ts";

describe("budget configuration", () => {
  it("defaults: a day of pace, 60 s leases, 200 ms Redis timeout (20 ms for replay claims), 5 s recovery hold", () => {
    const b = loadConfig({ env: {} }).budget;
    assert.deepEqual(
      { pacingSeconds: b.pacingSeconds, leaseSeconds: b.leaseSeconds, minSliceMicros: b.minSliceMicros, redisTimeoutMs: b.redisTimeoutMs, replayRedisTimeoutMs: b.replayRedisTimeoutMs, recoveryHoldMs: b.recoveryHoldMs, podId: b.podId },
      { pacingSeconds: 86_400, leaseSeconds: 60, minSliceMicros: 100_000, redisTimeoutMs: 200, replayRedisTimeoutMs: 20, recoveryHoldMs: 5000, podId: "" },
    );
  });

  it("pod id: NEXUS_POD_ID, else the hostname for a sidecar (a restarted host keeps its Envoy's ledger) and hostname-pid standalone", () => {
    const env = (mode: string, podId = "") => loadConfig({ env: { NEXUS_MODE: mode, NEXUS_SYNC_TOKEN: "t".repeat(32), ...(podId ? { NEXUS_POD_ID: podId } : {}) } });
    assert.equal(podIdOf(env("sidecar"), "bidder-abc12", 4242), "bidder-abc12");
    assert.equal(podIdOf(env("sidecar"), "bidder-abc12", 77), "bidder-abc12", "the same id after a restart of the host");
    assert.equal(podIdOf(env("standalone"), "laptop", 4242), "laptop-4242");
    assert.equal(podIdOf(env("sidecar", "bidder-7"), "bidder-abc12", 4242), "bidder-7");
  });

  it("reads NEXUS_* variables", () => {
    const b = loadConfig({
      env: {
        NEXUS_BUDGET_SOURCE: "redis", NEXUS_REDIS_URL: "redis://10.0.0.1:6380", NEXUS_REDIS_PREFIX: "prod", NEXUS_POD_ID: "bidder-7",
        NEXUS_BUDGET_PACING_SECONDS: "3600", NEXUS_BUDGET_LEASE_SECONDS: "5", NEXUS_BUDGET_MIN_SLICE_MICROS: "1000",
        NEXUS_REDIS_TIMEOUT_MS: "150", NEXUS_REPLAY_REDIS_TIMEOUT_MS: "8", NEXUS_BUDGET_RECOVERY_HOLD_MS: "2000",
        NEXUS_BUDGET_RETURN_WAIT_MS: "1500", NEXUS_NOTICE_FORWARD_URL: "http://10.1.2.3:8080/", NEXUS_FREQUENCY_READY_WAIT_MS: "0",
        NEXUS_BUDGET_STATE_LOCK_WAIT_MS: "4500",
      },
    }).budget;
    assert.deepEqual(b, {
      source: "redis", redisUrl: "redis://10.0.0.1:6380", keyPrefix: "prod", podId: "bidder-7",
      pacingSeconds: 3600, leaseSeconds: 5, minSliceMicros: 1000, redisTimeoutMs: 150, replayRedisTimeoutMs: 8, recoveryHoldMs: 2000,
      returnWaitMs: 1500, stateFile: "", stateLockWaitMs: 4500, noticeForwardUrl: "http://10.1.2.3:8080", frequencyReadyWaitMs: 0,
    });
    // 3 600 000 a day paced over an hour: 1000 micros/s; a 5 s slice.
    const limits = { id: "c", totalMicros: 0, dailyMicros: 3_600_000, active: true };
    assert.equal(paceMicrosPerSecond(limits, b), 1000);
    assert.equal(sliceMicros(limits, b), 5000);
  });

  it("a config file's noticeForwardUrl loses its trailing slashes as the variable's does (it was refused from a file)", () => {
    const dir = mkdtempSync(join(tmpdir(), "nexus-fwd-"));
    try {
      const file = join(dir, "host.json");
      writeFileSync(file, JSON.stringify({ budget: { source: "redis", noticeForwardUrl: "http://10.1.2.3:8080//" } }));
      assert.equal(loadConfig({ file, env: {} }).budget.noticeForwardUrl, "http://10.1.2.3:8080");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a start with Redis waits for readiness as long as the frequency catch-up may take, and 15 s more", () => {
    const wait = (env: Record<string, string>) => readyTimeoutMs(loadConfig({ env }));
    assert.equal(wait({}), 15_000);
    assert.equal(wait({ NEXUS_BUDGET_SOURCE: "redis" }), 75_000);
    assert.equal(wait({ NEXUS_BUDGET_SOURCE: "redis", NEXUS_FREQUENCY_READY_WAIT_MS: "120000" }), 135_000);
  });

  it("refuses invalid values", () => {
    for (const env of [
      { NEXUS_BUDGET_PACING_SECONDS: "0" },
      { NEXUS_REDIS_TIMEOUT_MS: "0" },
      { NEXUS_REPLAY_REDIS_TIMEOUT_MS: "0" },
      { NEXUS_REPLAY_REDIS_TIMEOUT_MS: "2.5" },
      { NEXUS_BUDGET_RECOVERY_HOLD_MS: "-1" },
      { NEXUS_BUDGET_RETURN_WAIT_MS: "-1" },
      { NEXUS_FREQUENCY_READY_WAIT_MS: "-1" },
      { NEXUS_FREQUENCY_READY_WAIT_MS: "1.5" },
      { NEXUS_BUDGET_MIN_SLICE_MICROS: "1.5" },
      { NEXUS_BUDGET_SOURCE: "etcd" },
      // The notice URL: a base URL (no path, query or spaces), and only with the Redis source.
      { NEXUS_BUDGET_SOURCE: "redis", NEXUS_NOTICE_FORWARD_URL: "10.1.2.3:8080" },
      { NEXUS_BUDGET_SOURCE: "redis", NEXUS_NOTICE_FORWARD_URL: "http://10.1.2.3:8080/notices" },
      { NEXUS_BUDGET_SOURCE: "redis", NEXUS_NOTICE_FORWARD_URL: "http://10.1.2.3:8080?x=1" },
      { NEXUS_NOTICE_FORWARD_URL: "http://10.1.2.3:8080" },
    ]) {
      assert.throws(() => loadConfig({ env }), ConfigError, JSON.stringify(env));
    }
  });
});
