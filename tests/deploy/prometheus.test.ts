// prometheus/ (scrape configs, alert rules and their unit tests) and grafana/nexus-rtb.json:
// the rules the issue asks for, every metric name they and the dashboard use exists in what a
// running standalone bidder exports (after the scrape config's relabelling) or in the host's
// prom-client definitions, and promtool (when installed) checks the configs, the rules, the
// rules' unit tests and the dashboard's PromQL.
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import {
  ROOT, dashboardExprs, exposedNames, hostMetricNames, metricNamesIn, noBidReasons, read, readYaml, relabelNames, which,
} from "./helpers.ts";
import { startTestBidder, post, get, README_REQUEST, noticeUrl } from "../helpers/bidder.ts";
import type { Standalone } from "../../host/src/standalone.ts";

const rules = readYaml("prometheus/alerts.yml");
const allRules: any[] = rules.groups.flatMap((g: any) => g.rules);
const alert = (name: string) => {
  const r = allRules.find((x) => x.alert === name);
  assert.ok(r, `alert ${name}`);
  return r;
};
const dashboard = JSON.parse(read("grafana/nexus-rtb.json"));
const promCompose = readYaml("prometheus/prometheus.yml");
const promK8s = readYaml("prometheus/kubernetes.yml");
const promtool = which("promtool");

let app: Standalone;
let exported: Set<string>;
let metricsText: string;

before(async () => {
  app = await startTestBidder();
  // Some traffic: a bid, a no-bid, a bad request, a win and a loss.
  const bid = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
  assert.equal(bid.status, 200);
  const b = bid.json().seatbid[0].bid[0];
  assert.equal((await get(noticeUrl(b.nurl, "1.0"))).status, 200);
  const bid2 = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST.replace('"req-1"', '"req-2"'));
  assert.equal((await get(noticeUrl(bid2.json().seatbid[0].bid[0].lurl, "0"))).status, 200);
  await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST.replace('"req-1"', '"req-3"').replace('"w":300', '"w":999'));
  await post(`${app.bidUrl}/openrtb2/bid`, "{");
  const text = (metricsText = (await get(`${app.controlUrl}/metrics`)).text);
  // What Prometheus stores: the scraped names after the scrape config's metric relabelling.
  exported = relabelNames(exposedNames(text), promCompose.scrape_configs[0].metric_relabel_configs);
});

after(async () => {
  await app?.close();
});

test("the alert rules the issue asks for", () => {
  const stopped = alert("NexusBiddingStopped");
  assert.equal(stopped.for, "5m");
  assert.deepEqual(metricNamesIn(stopped.expr).sort(), ["nexus_bid_requests_total", "nexus_bid_responses_total"]);
  const pace = alert("NexusSpendAbovePace");
  assert.deepEqual(metricNamesIn(pace.expr), ["nexus_pacing_multiplier_ppm"]);
  assert.match(alert("NexusSpendRateHigh").expr, /rate\(nexus_spend_micros_total\[/);
  const redis = alert("NexusBudgetSourceDown");
  assert.equal(redis.expr.trim(), "nexus_host_budget_source_up == 0");
  assert.equal(redis.for, "1m");
  const lost = alert("NexusLedgerUpdateLost");
  assert.equal(lost.expr.trim(), "increase(nexus_ledger_updates_lost_total[15m]) > 0");
  assert.equal(lost.labels.severity, "critical");
  assert.match(alert("NexusModelLoadFailed").expr, /increase\(nexus_host_model_loads_total\{outcome!="ok"\}/);
  assert.match(alert("NexusFilterModelRejected").expr, /increase\(nexus_model_load_failures_total\[/);
  // A full reservation ring refuses bids (no-bid ring_full): any of them tells to resize it.
  const ring = alert("NexusReservationRingFull");
  assert.equal(ring.expr.trim(), "sum by (job, instance) (increase(nexus_nobids_ring_full_total[5m])) > 0");
  assert.match(ring.annotations.description, /reservation_slots above bids\/s .* reservation_ttl_ms \/ 1000/);
  const p99 = alert("NexusDecisionLatencyP99High");
  assert.match(p99.expr, /^histogram_quantile\(0\.99, .*rate\(nexus_decision_latency_us_bucket\[5m\]\).*\) > 4000$/);
  for (const r of allRules) {
    assert.ok(["critical", "warning"].includes(r.labels?.severity), `${r.alert}: severity`);
    assert.ok(r.annotations?.summary && r.annotations?.description, `${r.alert}: summary and description`);
  }
  // Both scrape configs load the rules and relabel the same way.
  assert.deepEqual(promK8s.rule_files, ["alerts.yml"]);
  for (const j of [...promCompose.scrape_configs, ...promK8s.scrape_configs]) {
    assert.deepEqual(j.metric_relabel_configs, promCompose.scrape_configs[0].metric_relabel_configs, j.job_name);
  }
});

test("docs/OPERATIONS.md's alert table lists every alert", () => {
  const ops = read("docs/OPERATIONS.md");
  for (const r of allRules) assert.ok(ops.includes(`| \`${r.alert}\` |`), `${r.alert} in docs/OPERATIONS.md`);
});

test("the pacing floor in NexusSpendAbovePace is the filter's default min_multiplier", () => {
  const floor = Number(/<=\s*([0-9.]+)/.exec(alert("NexusSpendAbovePace").expr)![1]);
  const doc = read("docs/PLUGIN_CONFIG.md");
  const min = Number(/`min_multiplier` \(([0-9.]+)\)/.exec(doc)![1]);
  assert.ok(floor >= min * 1e6 && floor < min * 1e6 + 10, `${floor} ppm is the ${min} floor`);
});

// Alerts on what the bidder cannot count itself: Envoy's own 5xx on the bid listener (a trapped
// VM answers before the filter counts anything) and scrape targets gone.
const OUTSIDE_RULES: Record<string, RegExp> = {
  NexusEnvoyBidErrors: /envoy_http_downstream_rq_xx\{envoy_http_conn_manager_prefix="bids",envoy_response_code_class="5"\}/,
  NexusTargetDown: /^up\{job=~"nexus-\.\*"\} == 0$/,
};

test("the alerts on Envoy's and Prometheus's own metrics read the bid listener's stat prefix and both scrape jobs", () => {
  for (const [name, expr] of Object.entries(OUTSIDE_RULES)) assert.match(alert(name).expr.trim(), expr, name);
  for (const f of ["envoy/envoy.yaml", "deploy/k8s/envoy.yaml"]) assert.match(read(f), /stat_prefix: bids\n/, f);
  for (const jobs of [promCompose, promK8s]) {
    assert.deepEqual(jobs.scrape_configs.map((j: any) => j.job_name).filter((n: string) => /^nexus-/.test(n)).sort(), ["nexus-envoy", "nexus-host"]);
  }
});

test("every metric in the alert rules is exported by the running bidder (or defined by the host)", () => {
  const host = hostMetricNames();
  for (const r of allRules) {
    if (OUTSIDE_RULES[r.alert]) continue;
    const names = metricNamesIn(r.expr);
    assert.ok(names.length > 0, `${r.alert} uses a nexus metric`);
    for (const n of names) assert.ok(exported.has(n) || host.has(n), `${r.alert}: ${n} is exported`);
  }
});

test("every metric on the dashboard is exported by the running bidder (or defined by the host)", () => {
  const host = hostMetricNames();
  const exprs = dashboardExprs(dashboard);
  assert.ok(exprs.length >= 20);
  for (const { panel, expr } of exprs) {
    const names = metricNamesIn(expr);
    assert.ok(names.length > 0, `${panel}: ${expr}`);
    for (const n of names) assert.ok(exported.has(n) || host.has(n), `${panel}: ${n} is exported`);
  }
});

test("the dashboard covers what the alerts watch, has unique panel ids and one data source variable", () => {
  const ids = new Set<number>();
  const walk = (ps: any[]) => { for (const p of ps) { assert.ok(!ids.has(p.id), `panel id ${p.id}`); ids.add(p.id); assert.ok(p.gridPos); if (p.panels) walk(p.panels); } };
  walk(dashboard.panels);
  const used = new Set(dashboardExprs(dashboard).flatMap((e) => metricNamesIn(e.expr)));
  for (const r of allRules) for (const n of metricNamesIn(r.expr)) assert.ok(used.has(n), `dashboard shows ${n} (${r.alert})`);
  assert.equal(dashboard.templating.list[0].type, "datasource");
  for (const p of dashboard.panels.filter((x: any) => x.type !== "row")) assert.equal(p.datasource.uid, "${datasource}");
  assert.equal(dashboard.uid, "nexus-rtb");
});

test("the dashboard's no-bid panel shows every reason the filter has", () => {
  const exprs = dashboardExprs(dashboard).map((e) => e.expr).join("\n");
  for (const r of noBidReasons()) assert.ok(exprs.includes(`nexus_nobids_${r}_total`), r);
});

test("the filter's metric names: requests, bids, no-bids by reason, latency, spend, reservations, CAS, notices, model, pacing", () => {
  for (const n of [
    "nexus_bid_requests_total", "nexus_bid_responses_total", "nexus_bids_total", "nexus_decision_latency_us_bucket",
    "nexus_spend_micros_total", "nexus_reservations_total", "nexus_reserved_micros_total", "nexus_refunds_total",
    "nexus_cas_retries_total", "nexus_cas_giveups_total", "nexus_wins_total", "nexus_late_wins_total", "nexus_losses_total",
    "nexus_notices_duplicate_total", "nexus_notices_unknown_total", "nexus_notices_invalid_total",
    "nexus_model_loaded", "nexus_model_digest_prefix", "nexus_model_loads_total", "nexus_model_load_failures_total",
    "nexus_pacing_multiplier_ppm", "nexus_nobids_no_match_total", "nexus_nobids_budget_total", "nexus_nobids_timeout_total",
    "nexus_host_sync_requests_total", "nexus_host_grants_total", "nexus_host_budget_source_up", "nexus_host_budget_errors_total",
    "nexus_host_model_loads_total",
  ]) assert.ok(exported.has(n), n);
});

// ---- promtool ----------------------------------------------------------------------------------

function runPromtool(args: string[], cwd = ROOT) {
  return spawnSync(promtool!, args, { cwd, encoding: "utf8" });
}

test("every filter metric on /metrics has a HELP line (the ABI carries none: the host's table, filter-metric-help.ts)", () => {
  const lines = metricsText.split("\n");
  let filterMetrics = 0;
  for (let i = 0; i < lines.length; i++) {
    const m = /^# TYPE (nexus_\w+) /.exec(lines[i]!);
    if (!m || m[1]!.startsWith("nexus_host_")) continue;
    filterMetrics++;
    assert.match(lines[i - 1] ?? "", new RegExp(`^# HELP ${m[1]} \\S`), `${m[1]} has a HELP line`);
  }
  // The filter defines ~60 (counters, no-bid reasons, gauges per campaign, histograms).
  assert.ok(filterMetrics >= 50, `${filterMetrics} filter metrics`);
  assert.ok(metricsText.includes("# HELP nexus_nobids_ring_full_total Bid requests answered 204 with no-bid reason ring_full."));
  assert.match(metricsText, /# HELP nexus_pacing_multiplier_ppm_\w+ PID pacing multiplier/);
});

test("promtool check metrics: only the documented lint remains (skipped without promtool)", (t) => {
  if (!promtool) {
    t.skip("promtool is not installed (apt-get install prometheus)");
    return;
  }
  const r = spawnSync(promtool, ["check", "metrics"], { input: metricsText, encoding: "utf8" });
  const complaints = (r.stdout + r.stderr).split("\n").filter((l) => l.trim() !== "");
  // Kept on purpose (docs/OPERATIONS.md, "Metrics"): two histograms in µs named _us (renaming
  // them breaks dashboards and alerts), and prom-client's default Node gauges named *_total.
  const known = [
    /^nexus_(decision|replay_claim)_latency_us metric names should not contain abbreviated units$/,
    /^nexus_host_nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/,
  ];
  assert.equal(r.error, undefined);
  for (const c of complaints) assert.ok(known.some((k) => k.test(c)), `unexpected promtool complaint: ${c}`);
});

test("promtool check rules / check config (skipped without promtool)", (t) => {
  if (!promtool) {
    t.skip("promtool is not installed (apt-get install prometheus); the rules were parsed with the yaml package only");
    return;
  }
  let r = runPromtool(["check", "rules", "prometheus/alerts.yml"]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  r = runPromtool(["check", "config", "prometheus/prometheus.yml"]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  // Debian's promtool is built without Kubernetes service discovery: check the rest of
  // kubernetes.yml with static targets in place of kubernetes_sd_configs.
  const dir = mkdtempSync(join(tmpdir(), "nexus-prom-"));
  try {
    const k = structuredClone(promK8s);
    for (const j of k.scrape_configs) {
      assert.ok(j.kubernetes_sd_configs?.length > 0, j.job_name);
      delete j.kubernetes_sd_configs;
      j.static_configs = [{ targets: ["127.0.0.1:9"] }];
    }
    writeFileSync(join(dir, "kubernetes.yml"), stringify(k));
    copyFileSync(join(ROOT, "prometheus/alerts.yml"), join(dir, "alerts.yml"));
    r = runPromtool(["check", "config", join(dir, "kubernetes.yml")]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("promtool test rules: the alerts fire when they should and not before (skipped without promtool)", (t) => {
  if (!promtool) {
    t.skip("promtool is not installed (apt-get install prometheus)");
    return;
  }
  const r = runPromtool(["test", "rules", "prometheus/alerts.test.yml"]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  // Every alert has a unit test.
  const tests = readYaml("prometheus/alerts.test.yml");
  const tested = new Set(tests.tests.flatMap((x: any) => x.alert_rule_test.map((a: any) => a.alertname)));
  for (const rule of allRules) assert.ok(tested.has(rule.alert), `${rule.alert} has a unit test`);
});

test("promtool parses every dashboard query (skipped without promtool)", (t) => {
  if (!promtool) {
    t.skip("promtool is not installed (apt-get install prometheus)");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "nexus-dash-"));
  try {
    const recording = { groups: [{ name: "dashboard", rules: dashboardExprs(dashboard).map((e, i) => ({ record: `dashboard:panel_${i}`, expr: e.expr })) }] };
    writeFileSync(join(dir, "dashboard-rules.yml"), stringify(recording));
    const r = runPromtool(["check", "rules", join(dir, "dashboard-rules.yml")]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
