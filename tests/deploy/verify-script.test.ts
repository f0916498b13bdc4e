// tests/e2e/verify.sh: strict bash, shellcheck-clean (when shellcheck is installed), and its
// whole request/notice/metrics logic run for real against a standalone bidder serving the demo
// model and campaigns with envoy.yaml's plugin configuration (NEXUS_E2E_EXTERNAL=1: no Docker
// here; the standalone /metrics has the filter metric names Envoy's /stats/prometheus has).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { ROOT, pluginConfig, read, readYaml, which } from "./helpers.ts";
import { defaultConfig } from "../../host/src/config.ts";
import { startStandalone, type Standalone } from "../../host/src/standalone.ts";
import { silentLogger } from "../../host/src/log.ts";

const SCRIPT = "tests/e2e/verify.sh";
const text = read(SCRIPT);
const TOKEN = "verify-test-admin-token-0a1b2c3d";

function run(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", [SCRIPT], { cwd: ROOT, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...env } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code, out }));
  });
}

async function demoBidder(): Promise<Standalone> {
  const cfg = defaultConfig(); // the demo model and campaign, as the compose stack serves them
  cfg.bid = { host: "127.0.0.1", port: 0 };
  cfg.control = { host: "127.0.0.1", port: 0 };
  // envoy.yaml's plugin configuration; a roomier decision budget on a shared test machine.
  cfg.plugin = { ...pluginConfig(readYaml("envoy/envoy.yaml")), decision_budget_ms: 1000, tick_ms: 50, sync_period_ms: 100 };
  cfg.adminToken = TOKEN;
  const app = await startStandalone(cfg, silentLogger());
  await app.ready(20_000);
  return app;
}

test("verify.sh is strict bash and parses", () => {
  assert.ok(text.startsWith("#!/usr/bin/env bash\n"));
  assert.match(text, /^set -euo pipefail$/m);
  const r = spawnSync("bash", ["-n", SCRIPT], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
});

test("shellcheck finds nothing in verify.sh (skipped without shellcheck)", (t) => {
  const bin = which("shellcheck");
  if (!bin) {
    t.skip("shellcheck is not installed (apt-get install shellcheck)");
    return;
  }
  const r = spawnSync(bin, [SCRIPT], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("verify.sh's fixtures exist and its id extraction reads their top-level id", () => {
  const list = /^BID_FIXTURES="([^"]+)"$/m.exec(text)![1]!.split(" ");
  assert.ok(list.length >= 2);
  for (const f of list) {
    const path = `tests/fixtures/openrtb/valid/${f}`;
    const want = JSON.parse(read(path)).id;
    const r = spawnSync("bash", ["-c", `sed -n '2s/^[[:space:]]*"id"[[:space:]]*:[[:space:]]*"\\([^"]*\\)".*/\\1/p' "$1"`, "_", path], { cwd: ROOT, encoding: "utf8" });
    assert.equal(r.stdout.trim(), want, path);
  }
  assert.ok(text.includes(`sed -n '2s/^[[:space:]]*"id"[[:space:]]*:[[:space:]]*"\\([^"]*\\)".*/\\1/p'`), "the same sed as the script");
});

test("verify.sh reads a sample the way Envoy writes it (name{} value) and the way the host does (name value)", () => {
  const program = /awk -v name="\$1" '([^']+)'/.exec(text)![1]!;
  const sample = [
    "# TYPE nexus_wins_total counter",
    "nexus_wins_total{} 7",
    "nexus_wins_total_other 9",
    "nexus_bid_requests_total 12",
    'nexus_decision_latency_us_bucket{le="4000"} 3',
  ].join("\n") + "\n";
  const value = (name: string) => spawnSync("awk", ["-v", `name=${name}`, program], { input: sample, encoding: "utf8" }).stdout.trim();
  assert.equal(value("nexus_wins_total"), "7");
  assert.equal(value("nexus_bid_requests_total"), "12");
  assert.equal(value("nexus_losses_total"), "missing");
});

test("verify.sh passes against a running bidder: bids with matching ids, win charged once, loss refunded, counters up", async (t) => {
  if (!which("curl")) {
    t.skip("curl is not installed");
    return;
  }
  const app = await demoBidder();
  const against = {
    NEXUS_E2E_EXTERNAL: "1",
    NEXUS_E2E_BID_URL: app.bidUrl,
    NEXUS_E2E_HOST_URL: app.controlUrl,
    NEXUS_E2E_METRICS_URL: `${app.controlUrl}/metrics`,
    NEXUS_E2E_READY_TIMEOUT_S: "30",
  };
  try {
    const r = await run({ ...against, NEXUS_ADMIN_TOKEN: TOKEN });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /OK: 3 bids answered, win charged once, loss refunded, metrics counted/);
    assert.match(r.out, /nexus_wins_total 0 -> 1/);
    assert.match(r.out, /admin API: 200 with the token, 401 without/);
    // Run again at once, as an operator re-checking a live pod does: its own request ids, so the
    // replay guard (60 s) does not answer the second run's bids with a no-bid (it failed before).
    const again = await run(against);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /nexus_wins_total 1 -> 2/);
  } finally {
    await app.close();
  }
});

test("verify.sh fails when a metric it needs is not exported (control)", async (t) => {
  if (!which("curl")) {
    t.skip("curl is not installed");
    return;
  }
  const app = await demoBidder();
  try {
    const r = await run({
      NEXUS_E2E_EXTERNAL: "1",
      NEXUS_E2E_BID_URL: app.bidUrl,
      NEXUS_E2E_HOST_URL: app.controlUrl,
      NEXUS_E2E_METRICS_URL: `${app.controlUrl}/healthz`,
      NEXUS_E2E_READY_TIMEOUT_S: "2",
    });
    assert.notEqual(r.code, 0);
    assert.match(r.out, /FAILED: not ready after 2s: filter loaded the model/);
  } finally {
    await app.close();
  }
});
