// Soak test: runs the bundled bidder (`dist/nexus-rtb.mjs serve`) for a long time under a steady
// open-loop load with win notices (`nexus-rtb loadgen` in back-to-back windows), reloads the
// campaigns file now and then, keeps budgets small enough that pacing and the ledger work, and
// samples every window: RSS, JS heap, each VM's linear memory, the shared data's keys and arena,
// event-loop lag, the filter's counters, loadgen's latency, Redis keys of its prefix. At the end it
// checks the money (loadgen's booked spend = the bidders' spend = what they reported; Σ granted ≤
// caps; Redis charged = Σ pods) and prints each series' start → end and the trend of its second half.
//
//   node --import tsx bench/soak.ts --minutes 25 --config memory
//   node --import tsx bench/soak.ts --minutes 25 --config redis    # two pods, one Redis budget
//
// Needs `npm run build` (dist/, build/*.wasm) and, for --config redis, a Redis
// (--redis-url, default redis://127.0.0.1:6379). Everything goes into --out (samples.jsonl,
// summary.json, the pods' logs). Its Redis keys (prefix --prefix) are deleted at the end.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, copyFileSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { PACKAGE_ROOT } from "../host/src/paths.ts";

interface Opts {
  minutes: number;
  config: "memory" | "redis";
  rate: number;
  interval: number;
  reloadEvery: number;
  otherNotice: number;
  basePort: number;
  prefix: string;
  redisUrl: string;
  out: string;
  pacingSeconds: number;
  mainDaily: number;
  smallDaily: number;
  smallStep: number;
  /** soak-small's frequency_cap (impressions, seconds), or none. */
  frequencyCap: { impressions: number; seconds: number } | undefined;
}

function parseArgs(argv: string[]): Opts {
  const o: Opts = {
    minutes: 25, config: "memory", rate: 1000, interval: 30, reloadEvery: 240, otherNotice: 0.3,
    basePort: 38000, prefix: `soak-${process.pid}`, redisUrl: "redis://127.0.0.1:6379",
    out: "", pacingSeconds: 3600, mainDaily: 60_000_000, smallDaily: 3_000_000, smallStep: 2_000_000, frequencyCap: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    const num = (): number => { const n = Number(v); if (!Number.isFinite(n)) throw new Error(`${a}: a number`); i++; return n; };
    switch (a) {
      case "--minutes": o.minutes = num(); break;
      case "--config": if (v !== "memory" && v !== "redis") throw new Error("--config memory|redis"); o.config = v; i++; break;
      case "--rate": o.rate = num(); break;
      case "--interval": o.interval = num(); break;
      case "--reload-every": o.reloadEvery = num(); break;
      case "--other-notice": o.otherNotice = num(); break;
      case "--base-port": o.basePort = num(); break;
      case "--prefix": o.prefix = v!; i++; break;
      case "--redis-url": o.redisUrl = v!; i++; break;
      case "--out": o.out = v!; i++; break;
      case "--pacing-seconds": o.pacingSeconds = num(); break;
      case "--main-daily": o.mainDaily = num(); break;
      case "--small-daily": o.smallDaily = num(); break;
      case "--small-step": o.smallStep = num(); break;
      case "--frequency-cap": {
        const m = /^(\d+):(\d+)$/.exec(v ?? "");
        if (!m) throw new Error("--frequency-cap N:S (impressions per user per S seconds)");
        o.frequencyCap = { impressions: Number(m[1]), seconds: Number(m[2]) };
        i++;
        break;
      }
      case "--help": console.log(USAGE); process.exit(0);
      default: throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  if (o.out === "") o.out = join(process.env.TMPDIR ?? "/tmp", `nexus-soak-${o.config}-${Date.now()}`);
  o.out = resolve(o.out);
  return o;
}

const USAGE = `usage: node --import tsx bench/soak.ts [options]
  --minutes N          how long to load the bidder (default 25)
  --config C           memory (one pod, in-memory budget) | redis (two pods, one Redis budget)
  --rate R             loadgen requests/s (open loop, default 1000), with win notices
  --interval S         sample window: one loadgen run of S seconds (default 30)
  --reload-every S     rewrite the campaigns file (version + 1, small campaign's daily cap + step) and reload (default 240)
  --other-notice P     redis: share of notices the balancer sends to the pod that did not bid (default 0.3)
  --base-port N        ports N.. (default 38000)
  --prefix P           NEXUS_REDIS_PREFIX (default soak-<pid>); its keys are deleted at the end
  --redis-url URL      default redis://127.0.0.1:6379
  --out DIR            samples.jsonl, summary.json, pod logs (default $TMPDIR/nexus-soak-<config>-<ms>)
  --pacing-seconds S   NEXUS_BUDGET_PACING_SECONDS (default 3600: the lease refill is daily/3600 per second)
  --main-daily M, --small-daily M, --small-step M   daily caps in micros (60e6, 3e6, +2e6 per reload)
  --frequency-cap N:S  cap soak-small at N impressions per user per S seconds (loadgen's users: the log's
                       ipinyouid, which repeat as the log is cycled); redis: checks that every count one
                       pod reported was applied on the other`;

const ADMIN = "soak-admin-token-0123456789abcdef";
const DIST = join(PACKAGE_ROOT, "dist", "nexus-rtb.mjs");
// The pods run a copy of the bundle under a name of their own (next to it: it finds the worker and
// the package root from its own URL), so that a broad `pkill -f nexus-rtb` elsewhere on a shared
// machine does not end a soak run half way.
const POD_BUNDLE = join(PACKAGE_ROOT, "dist", `soakbid-${process.pid}.mjs`);

interface Pod { name: string; bidPort: number; controlPort: number; proc: ChildProcess; tag?: string; exited?: string }

// ---------- campaigns ----------
function campaignsFile(version: number, o: Opts, smallDaily: number): string {
  const demo = JSON.parse(readFileSync(join(PACKAGE_ROOT, "models", "demo", "campaigns.json"), "utf8")) as { campaigns: Record<string, unknown>[] };
  const base = demo.campaigns[0]!;
  const main = { ...base, id: "soak-main", budget: { total_micros: 10_000_000_000, daily_micros: o.mainDaily, hourly_micros: 0, minute_micros: 0 } };
  // alpha alternates a little at each reload so that "changed" is not only the budget
  const small = {
    ...base, id: "soak-small", alpha: version % 2 === 0 ? 1.1 : 1.2, budget: { total_micros: 10_000_000_000, daily_micros: smallDaily, hourly_micros: 0, minute_micros: 0 },
    ...(o.frequencyCap ? { frequency_cap: o.frequencyCap } : {}),
  };
  return JSON.stringify({ version, campaigns: [main, small] }, null, 1);
}

// ---------- metrics ----------
type Metrics = Map<string, number>;
function parseMetrics(text: string): Metrics {
  const m: Metrics = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const sp = line.lastIndexOf(" ");
    const v = Number(line.slice(sp + 1));
    if (Number.isFinite(v)) m.set(line.slice(0, sp), v);
  }
  return m;
}
const g = (m: Metrics, k: string): number => m.get(k) ?? 0;
const sumPrefix = (m: Metrics, p: string): number => { let s = 0; for (const [k, v] of m) if (k.startsWith(p)) s += v; return s; };

async function getText(url: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  return r.text();
}

function rssBytes(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+) kB/.exec(s);
    return m ? Number(m[1]) * 1024 : -1;
  } catch { return -1; }
}

interface PodSample {
  rssMiB: number; heapUsedMiB: number; externalMiB: number; vmMemMiB: number[]; sharedKeys: number; sharedUsedMiB: number;
  loopLagP99Ms: number; loopLagMaxMs: number;
  requests: number; bids: number; wins: number; spend: number; nobids: Record<string, number>;
  ringFull: number; contention: number; timeout: number; casGiveups: number; sharedErrors: number; ledgerLost: number; ledgerDeferred: number;
  expired: number; lateWins: number; unknown: number; invalid: number; duplicate: number; forwards: number; forwardsSettled: number; forwardFailures: number;
  syncFailed: number; vmRestarts: number; budgetErrors: number; redisErrors: number; configVersion: number; bidRejected: number;
  granted: Record<string, number>; campaignGranted: Record<string, number>;
  filter: Record<string, { granted: number; charged: number; reserved: number; daily: number; wins: number; multiplier: number }>;
  frequency: { counted: number; evictions: number; giveups: number; sent: number; applied: number; dropped: number; hostSent: number; hostReceived: number; hostErrors: number; lagS: number };
}

async function samplePod(p: Pod): Promise<PodSample> {
  const m = parseMetrics(await getText(`http://127.0.0.1:${p.controlPort}/metrics`));
  const st = JSON.parse(await getText(`http://127.0.0.1:${p.controlPort}/admin/v1/state`, { authorization: `Bearer ${ADMIN}` })) as {
    config_version: number; campaigns: { id: string; filter: null | { granted_micros: number; charged_micros: number; reserved_micros: number; daily_charged_micros: number; wins: number; multiplier_ppm: number } }[];
  };
  const nobids: Record<string, number> = {};
  for (const [k, v] of m) { const r = /^nexus_nobids_(\w+)_total$/.exec(k); if (r && v > 0) nobids[r[1]!] = v; }
  const vmMem: number[] = [];
  for (const [k, v] of m) { const r = /^nexus_host_vm_memory_bytes\{vm="(\d+)"\}$/.exec(k); if (r) vmMem[Number(r[1])] = v / 2 ** 20; }
  const labelled = (name: string): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [k, v] of m) { const r = new RegExp(`^${name}\\{campaign="([^"]+)"\\}$`).exec(k); if (r) out[r[1]!] = v; }
    return out;
  };
  const filter: PodSample["filter"] = {};
  for (const c of st.campaigns) {
    if (c.filter) filter[c.id] = { granted: c.filter.granted_micros, charged: c.filter.charged_micros, reserved: c.filter.reserved_micros, daily: c.filter.daily_charged_micros, wins: c.filter.wins, multiplier: c.filter.multiplier_ppm };
  }
  return {
    rssMiB: rssBytes(p.proc.pid!) / 2 ** 20,
    heapUsedMiB: g(m, "nexus_host_nodejs_heap_size_used_bytes") / 2 ** 20,
    externalMiB: g(m, "nexus_host_nodejs_external_memory_bytes") / 2 ** 20,
    vmMemMiB: vmMem,
    sharedKeys: g(m, "nexus_host_shared_data_keys"),
    sharedUsedMiB: g(m, "nexus_host_shared_data_used_bytes") / 2 ** 20,
    loopLagP99Ms: g(m, "nexus_host_nodejs_eventloop_lag_p99_seconds") * 1000,
    loopLagMaxMs: g(m, "nexus_host_nodejs_eventloop_lag_max_seconds") * 1000,
    requests: g(m, "nexus_bid_requests_total"), bids: g(m, "nexus_bids_total"), wins: g(m, "nexus_wins_total"), spend: g(m, "nexus_spend_micros_total"),
    nobids, ringFull: g(m, "nexus_nobids_ring_full_total"), contention: g(m, "nexus_nobids_contention_total"), timeout: g(m, "nexus_nobids_timeout_total"),
    casGiveups: g(m, "nexus_cas_giveups_total"), sharedErrors: g(m, "nexus_shared_data_errors_total"),
    ledgerLost: g(m, "nexus_ledger_updates_lost_total"), ledgerDeferred: g(m, "nexus_ledger_updates_deferred_total"),
    expired: g(m, "nexus_reservations_expired_total"), lateWins: g(m, "nexus_late_wins_total"),
    unknown: g(m, "nexus_notices_unknown_total"), invalid: g(m, "nexus_notices_invalid_total"), duplicate: g(m, "nexus_notices_duplicate_total"),
    forwards: g(m, "nexus_notice_forwards_total"), forwardsSettled: g(m, "nexus_notice_forwards_settled_total"), forwardFailures: g(m, "nexus_notice_forward_failures_total"),
    syncFailed: g(m, "nexus_sync_failed_total"), vmRestarts: g(m, "nexus_host_vm_restarts"), budgetErrors: g(m, "nexus_host_budget_errors_total"),
    redisErrors: sumPrefix(m, "nexus_host_redis_errors_total"), configVersion: g(m, "nexus_config_version"),
    bidRejected: sumPrefix(m, "nexus_host_bid_rejected_total"),
    granted: labelled("nexus_host_granted_micros"), campaignGranted: labelled("nexus_host_budget_campaign_granted_micros"),
    filter,
    frequency: {
      counted: g(m, "nexus_frequency_counted_total"), evictions: g(m, "nexus_frequency_evictions_total"), giveups: g(m, "nexus_frequency_giveups_total"),
      sent: g(m, "nexus_frequency_fleet_sent_total"), applied: g(m, "nexus_frequency_fleet_applied_total"), dropped: g(m, "nexus_frequency_fleet_dropped_total"),
      hostSent: g(m, 'nexus_host_frequency_fleet_counts_total{direction="sent"}'), hostReceived: g(m, 'nexus_host_frequency_fleet_counts_total{direction="received"}'),
      hostErrors: g(m, "nexus_host_frequency_fleet_errors_total"), lagS: g(m, "nexus_host_frequency_fleet_lag_seconds"),
    },
  };
}

// ---------- Redis ----------
async function redisKeys(r: Redis, prefix: string): Promise<{ keys: number; noTtl: string[] }> {
  const found = new Set<string>();
  for (const pattern of [`{nexus:${prefix}:*`, `nexus:${prefix}:*`]) {
    let cursor = "0";
    do {
      const [next, batch] = await r.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      for (const k of batch) found.add(k);
    } while (cursor !== "0");
  }
  const noTtl: string[] = [];
  for (const k of found) if ((await r.pttl(k)) === -1) noTtl.push(k);
  return { keys: found.size, noTtl };
}

// ---------- the balancer (redis config): bids round robin, notices to the pod that bid or the other ----------
interface Lb { url: string; close: () => Promise<void>; stats: { bids: number; notices: number; toOther: number; untagged: number; errors: number } }
function startBalancer(pods: Pod[], port: number, otherShare: number): Promise<Lb> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const stats = { bids: 0, notices: 0, toOther: 0, untagged: 0, errors: 0 };
  const byTag = new Map<string, number>();
  let rr = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = req.url ?? "/";
      const isBid = url.startsWith("/openrtb2/bid");
      let target: number;
      if (isBid) { target = rr++ % pods.length; stats.bids++; }
      else {
        stats.notices++;
        const tag = /[?&]pod=([^&]+)/.exec(url)?.[1];
        const own = tag === undefined ? undefined : byTag.get(tag);
        if (own === undefined) { stats.untagged++; target = Math.floor(Math.random() * pods.length); }
        else if (Math.random() < otherShare) { target = (own + 1) % pods.length; stats.toOther++; }
        else target = own;
      }
      const headers = { ...req.headers };
      const up = http.request({ host: "127.0.0.1", port: pods[target]!.bidPort, method: req.method, path: url, headers, agent }, (ur) => {
        const rc: Buffer[] = [];
        ur.on("data", (c: Buffer) => rc.push(c));
        ur.on("end", () => {
          const body = Buffer.concat(rc);
          if (isBid && ur.statusCode === 200 && (rr & 63) === 0) {
            const tag = /[?&]pod=([^&"\\]+)/.exec(body.toString("latin1"))?.[1];
            if (tag !== undefined) { byTag.set(tag, target); pods[target]!.tag = tag; }
          }
          const h = { ...ur.headers };
          delete h["transfer-encoding"];
          h["content-length"] = String(body.length);
          res.writeHead(ur.statusCode ?? 502, h);
          res.end(body);
        });
      });
      up.on("error", () => { stats.errors++; if (!res.headersSent) { res.writeHead(502); res.end(); } });
      up.end(Buffer.concat(chunks));
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((ok, fail) => server.once("error", fail).listen(port, "127.0.0.1", () => ok({
    url: `http://127.0.0.1:${port}/openrtb2/bid`, stats,
    close: () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); agent.destroy(); }),
  })));
}

// ---------- loadgen windows ----------
interface LoadWindow { spend: number; throughput: number; p50: number; p90: number; p99: number; max: number; requests: number; responses: number; bids: number; wins: number; bookedWins: number; bookedSpend: number; late: number; errors: Record<string, number>; noticeFailures: Record<string, number> }
function runLoadgen(url: string, rate: number, seconds: number, out: string): Promise<LoadWindow> {
  return new Promise((ok, fail) => {
    const p = spawn(process.execPath, [DIST, "loadgen", "--url", url, "--rate", String(rate), "--duration", String(seconds), "--json"], { cwd: PACKAGE_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let so = "";
    p.stdout.on("data", (c: Buffer) => { so += c.toString(); });
    p.stderr.on("data", (c: Buffer) => appendFileSync(join(out, "loadgen.stderr"), c));
    p.on("exit", () => {
      try {
        const j = JSON.parse(so) as { spendMicros: Record<string, number>; throughput: number; requests: number; responses: number; bids: number; wins: number; latencyMs: Record<string, number>; late?: number; errors: Record<string, number>; booked: { wins: number; spendMicros: Record<string, number> }; notices: { failed: Record<string, number> } };
        ok({
          spend: Object.values(j.spendMicros).reduce((a, b) => a + b, 0), throughput: j.throughput, p50: j.latencyMs.p50!, p90: j.latencyMs.p90!, p99: j.latencyMs.p99!, max: j.latencyMs.max!,
          requests: j.requests, responses: j.responses, bids: j.bids, wins: j.wins, bookedWins: j.booked.wins,
          bookedSpend: Object.values(j.booked.spendMicros).reduce((a, b) => a + b, 0), late: j.late ?? 0, errors: j.errors, noticeFailures: j.notices.failed,
        });
      } catch (e) { fail(new Error(`loadgen output: ${String(e)}: ${so.slice(0, 300)}`)); }
    });
  });
}

// ---------- pods ----------
async function startPod(o: Opts, name: string, index: number, campaignsPath: string): Promise<Pod> {
  const bidPort = o.basePort + index * 2;
  const controlPort = bidPort + 1;
  const env: Record<string, string> = {
    ...process.env as Record<string, string>,
    NEXUS_BID_PORT: String(bidPort), NEXUS_CONTROL_PORT: String(controlPort), NEXUS_ADMIN_TOKEN: ADMIN,
    NEXUS_CAMPAIGNS: campaignsPath, NEXUS_BUDGET_PACING_SECONDS: String(o.pacingSeconds), NEXUS_POD_ID: name,
  };
  if (o.config === "redis") {
    Object.assign(env, { NEXUS_BUDGET_SOURCE: "redis", NEXUS_REDIS_URL: o.redisUrl, NEXUS_REDIS_PREFIX: o.prefix, NEXUS_NOTICE_FORWARD_URL: `http://127.0.0.1:${bidPort}` });
  }
  const fd = openSync(join(o.out, `${name}.log`), "a");
  const proc = spawn(process.execPath, [POD_BUNDLE, "serve"], { cwd: PACKAGE_ROOT, env, stdio: ["ignore", fd, fd] });
  const pod: Pod = { name, bidPort, controlPort, proc };
  proc.on("exit", (code, signal) => { pod.exited = `${name} exited (code ${code}, signal ${signal}) at ${new Date().toISOString()}`; });
  for (let i = 0; i < 120; i++) {
    await sleep(500);
    if (proc.exitCode !== null) throw new Error(`${name} exited ${proc.exitCode} (see ${name}.log)`);
    try { if ((await fetch(`http://127.0.0.1:${controlPort}/readyz`)).status === 200) return pod; } catch { /* not yet */ }
  }
  throw new Error(`${name} not ready in 60 s`);
}

// ---------- trends ----------
/** Least-squares slope per hour of a series over its second half (the first half holds the warm-up). */
function slopePerHour(t: number[], y: number[]): number {
  const from = Math.floor(t.length / 2);
  const ts = t.slice(from), ys = y.slice(from);
  const n = ts.length;
  if (n < 3) return NaN;
  const mt = ts.reduce((a, b) => a + b, 0) / n, my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) { num += (ts[i]! - mt) * (ys[i]! - my); den += (ts[i]! - mt) ** 2; }
  return den === 0 ? 0 : (num / den) * 3600;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  mkdirSync(o.out, { recursive: true });
  const campaignsPath = join(o.out, "campaigns.json");
  let version = 1;
  let smallDaily = o.smallDaily;
  writeFileSync(campaignsPath, campaignsFile(version, o, smallDaily));
  const redis = o.config === "redis" ? new Redis(o.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 }) : undefined;
  if (redis) {
    await redis.connect();
    const [, left] = await redis.scan("0", "MATCH", `*nexus:${o.prefix}:*`, "COUNT", 100_000);
    if (left.length > 0) throw new Error(`Redis already holds keys of prefix ${o.prefix} (${left[0]}): pick another --prefix or delete them`);
  }

  copyFileSync(DIST, POD_BUNDLE);
  process.once("exit", () => rmSync(POD_BUNDLE, { force: true }));
  const names = o.config === "redis" ? ["soak-a", "soak-b"] : ["soak-mem"];
  const pods: Pod[] = [];
  let lb: Lb | undefined;
  const stopAll = async (): Promise<void> => {
    await lb?.close();
    for (const p of pods) if (p.proc.exitCode === null) p.proc.kill("SIGTERM");
    for (const p of pods) if (p.proc.exitCode === null) await new Promise((r) => p.proc.once("exit", r));
  };
  const cleanupRedis = async (): Promise<void> => {
    if (!redis || redis.status !== "ready") return;
    const all: string[] = [];
    for (const pattern of [`{nexus:${o.prefix}:*`, `nexus:${o.prefix}:*`]) all.push(...await redis.keys(pattern));
    if (all.length > 0) await redis.del(...all);
    redis.disconnect();
  };
  process.once("SIGINT", () => { void stopAll().then(cleanupRedis).then(() => process.exit(130)); });
  try {
    await run();
  } catch (e) {
    await stopAll().catch(() => undefined);
    await cleanupRedis().catch(() => undefined);
    throw e;
  }

  async function run(): Promise<void> {
    for (let i = 0; i < names.length; i++) pods.push(await startPod(o, names[i]!, i, campaignsPath));
    if (o.config === "redis") lb = await startBalancer(pods, o.basePort + 10, o.otherNotice);
    const url = lb?.url ?? `http://127.0.0.1:${pods[0]!.bidPort}/openrtb2/bid`;
    console.error(`soak: ${o.config}, ${pods.length} pod(s), ${o.rate} req/s for ${o.minutes} min, windows of ${o.interval} s → ${o.out}`);

    const samplesPath = join(o.out, "samples.jsonl");
    const t0 = Date.now();
    let lastReload = t0;
    const reloads: { t: number; version: number; smallDaily: number; results: string[] }[] = [];
    const load = { spend: 0, bookedSpend: 0, bookedWins: 0, wins: 0, requests: 0, responses: 0, errors: {} as Record<string, number>, noticeFailures: {} as Record<string, number> };
    const series: { t: number; row: Record<string, number> }[] = [];
    const died: string[] = [];

    while (Date.now() - t0 < o.minutes * 60_000) {
      const w = await runLoadgen(url, o.rate, o.interval, o.out);
      load.spend += w.spend; load.bookedSpend += w.bookedSpend; load.bookedWins += w.bookedWins; load.wins += w.wins; load.requests += w.requests; load.responses += w.responses;
      for (const [k, v] of Object.entries(w.errors)) load.errors[k] = (load.errors[k] ?? 0) + v;
      for (const [k, v] of Object.entries(w.noticeFailures)) load.noticeFailures[k] = (load.noticeFailures[k] ?? 0) + v;
      const t = (Date.now() - t0) / 1000;
      const gone = pods.filter((p) => p.exited !== undefined || p.proc.exitCode !== null);
      if (gone.length > 0) {
        // A pod stopped under the run (a crash, or a signal from outside): stop sampling, keep what we have.
        died.push(...gone.map((p) => p.exited ?? `${p.name} exited`));
        console.error(`soak: ${died.join("; ")}; stopping the run`);
        break;
      }
      const ps = await Promise.all(pods.map(samplePod));
      const rk = redis ? await redisKeys(redis, o.prefix) : undefined;
      const sample = { t, window: w, pods: Object.fromEntries(pods.map((p, i) => [p.name, ps[i]])), redisKeys: rk?.keys, redisKeysNoTtl: rk?.noTtl.length, lb: lb ? { ...lb.stats } : undefined };
      appendFileSync(samplesPath, JSON.stringify(sample) + "\n");
      const row: Record<string, number> = { p50: w.p50, p99: w.p99, rps: w.throughput, late: w.late };
      ps.forEach((s, i) => {
        const n = pods[i]!.name;
        Object.assign(row, {
          [`${n}.rssMiB`]: s.rssMiB, [`${n}.heapMiB`]: s.heapUsedMiB, [`${n}.extMiB`]: s.externalMiB, [`${n}.vm0MiB`]: s.vmMemMiB[0] ?? -1, [`${n}.vm1MiB`]: s.vmMemMiB[1] ?? -1,
          [`${n}.sharedKeys`]: s.sharedKeys, [`${n}.sharedUsedMiB`]: s.sharedUsedMiB, [`${n}.lagP99Ms`]: s.loopLagP99Ms,
          [`${n}.ringFull`]: s.ringFull, [`${n}.contention`]: s.contention, [`${n}.timeoutNobids`]: s.timeout, [`${n}.expired`]: s.expired, [`${n}.ledgerLost`]: s.ledgerLost,
          ...(o.frequencyCap ? { [`${n}.fqCounted`]: s.frequency.counted, [`${n}.fqApplied`]: s.frequency.applied, [`${n}.fqLagS`]: s.frequency.lagS } : {}),
        });
      });
      if (rk) { row.redisKeys = rk.keys; row.redisKeysNoTtl = rk.noTtl.length; }
      series.push({ t, row });
      const brief = ps.map((s, i) => `${pods[i]!.name} rss ${s.rssMiB.toFixed(0)} heap ${s.heapUsedMiB.toFixed(1)} vm ${s.vmMemMiB.map((x) => x.toFixed(1)).join("/")} keys ${s.sharedKeys} lag99 ${s.loopLagP99Ms.toFixed(1)} nobids ${JSON.stringify(s.nobids)}`).join(" | ");
      console.error(`[${t.toFixed(0)}s] ${w.throughput.toFixed(0)} rps p50 ${w.p50.toFixed(2)} p99 ${w.p99.toFixed(2)} late ${w.late} wins ${w.bookedWins}/${w.wins} ${rk ? `redis keys ${rk.keys} (no ttl ${rk.noTtl.length}) ` : ""}| ${brief}`);

      if (Date.now() - lastReload >= o.reloadEvery * 1000) {
        lastReload = Date.now();
        version++;
        smallDaily += o.smallStep;
        writeFileSync(campaignsPath, campaignsFile(version, o, smallDaily));
        const results: string[] = [];
        for (let i = 0; i < pods.length; i++) {
          // pod 0 by SIGHUP, the others through the admin API
          if (i === 0) { pods[i]!.proc.kill("SIGHUP"); results.push("sighup"); }
          else {
            const r = await fetch(`http://127.0.0.1:${pods[i]!.controlPort}/admin/v1/campaigns/reload`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` } });
            results.push(`${r.status} ${await r.text()}`);
          }
        }
        reloads.push({ t: (Date.now() - t0) / 1000, version, smallDaily, results });
        console.error(`reload → version ${version}, soak-small daily ${smallDaily}: ${results.join("; ")}`);
      }
    }

    // Let the last notices settle and the filters report, then check the money.
    await sleep(4000);
    const end = died.length > 0 ? [] : await Promise.all(pods.map(samplePod));
    const checks: { check: string; ok: boolean; detail: string }[] = [];
    let redisFinal: Record<string, unknown> | undefined;
    if (died.length > 0) checks.push({ check: "every pod ran to the end", ok: false, detail: died.join("; ") });
    else {
    const spend = end.reduce((a, s) => a + s.spend, 0);
    // Every win notice loadgen sent should be charged once, whether loadgen saw the answer or not (a
    // notice answered after loadgen's timeout, or a forward that timed out on its way back, still
    // charged): Σ pods' spend = loadgen's spend of every win; its booked spend (2xx seen) is below
    // by exactly the notices that failed at loadgen.
    checks.push({ check: "Σ pods nexus_spend_micros_total = loadgen's spend of every win notice sent", ok: spend === load.spend, detail: `${spend} vs ${load.spend}` });
    checks.push({ check: "loadgen booked spend ≤ Σ pods spend (= when no notice failed at loadgen)", ok: load.bookedSpend <= spend && (Object.keys(load.noticeFailures).length > 0 || load.bookedSpend === spend), detail: `${load.bookedSpend} vs ${spend}; notices failed at loadgen: ${JSON.stringify(load.noticeFailures)}` });
    const wins = end.reduce((a, s) => a + s.wins, 0);
    checks.push({ check: "loadgen wins (notices sent) = Σ pods nexus_wins_total", ok: wins === load.wins, detail: `${load.wins} vs ${wins} (booked at loadgen: ${load.bookedWins})` });
    const reported = end.reduce((a, s) => a + Object.values(s.filter).reduce((b, f) => b + f.charged, 0), 0);
    checks.push({ check: "Σ filter-reported charged (admin state) = Σ spend", ok: reported === spend, detail: `${reported} vs ${spend}` });
    for (const c of ["soak-main", "soak-small"]) {
      const daily = c === "soak-main" ? o.mainDaily : smallDaily;
      const dailyCharged = end.reduce((a, s) => a + (s.filter[c]?.daily ?? 0), 0);
      checks.push({ check: `${c}: Σ daily charged ≤ daily cap`, ok: dailyCharged <= daily, detail: `${dailyCharged} ≤ ${daily}` });
      if (o.config === "memory") {
        const granted = end[0]!.filter[c]?.granted ?? 0;
        checks.push({ check: `${c}: filter grant ≤ daily cap (memory; one day)`, ok: granted <= daily, detail: `${granted} ≤ ${daily}` });
      }
    }
    if (o.frequencyCap) {
      const f = end.map((s) => s.frequency);
      checks.push({ check: "frequency: no count lost (shared-data give-ups, full lists or outbox)", ok: f.every((x) => x.giveups === 0 && x.dropped === 0), detail: JSON.stringify(f.map((x) => ({ giveups: x.giveups, dropped: x.dropped }))) });
      checks.push({ check: "frequency: capped wins were counted", ok: f.reduce((a, x) => a + x.counted, 0) > 0, detail: `${f.map((x) => x.counted).join(" + ")}` });
      if (f.length === 2) {
        // Every count a pod's filter handed its host reached the other pod's filter (windows of S
        // seconds do not end within the run when S is above it).
        for (const [from, to] of [[0, 1], [1, 0]] as const) {
          checks.push({
            check: `frequency: ${pods[from]!.name}'s counts sent = applied on ${pods[to]!.name}`,
            ok: f[from]!.sent === f[from]!.counted && f[from]!.hostSent === f[from]!.sent && f[to]!.applied === f[from]!.sent,
            detail: `counted ${f[from]!.counted}, filter sent ${f[from]!.sent}, host sent ${f[from]!.hostSent}, host received on ${pods[to]!.name} ${f[to]!.hostReceived}, applied there ${f[to]!.applied}; exchange errors ${f[from]!.hostErrors}/${f[to]!.hostErrors}`,
          });
        }
      }
    }
    if (redis) {
      redisFinal = {};
      for (const c of ["soak-main", "soak-small"]) {
        const tag = `{nexus:${o.prefix}:${c}}`;
        const camp = await redis.hgetall(`${tag}:campaign`);
        const podIds = await redis.smembers(`${tag}:pods`);
        let podGranted = 0, podCharged = 0;
        for (const id of podIds) { const h = await redis.hgetall(`${tag}:pod:${id}`); podGranted += Number(h.granted ?? 0); podCharged += Number(h.charged ?? 0); }
        const dayKeys = await redis.keys(`${tag}:day:*`);
        const days: Record<string, Record<string, string>> = {};
        for (const k of dayKeys) days[k] = await redis.hgetall(k);
        redisFinal[c] = { campaign: camp, podGranted, podCharged, days };
        const filterCharged = end.reduce((a, s) => a + (s.filter[c]?.charged ?? 0), 0);
        checks.push({ check: `${c}: Redis campaign charged = Σ pods' charged (filter)`, ok: Number(camp.charged) === filterCharged, detail: `${camp.charged} vs ${filterCharged}` });
        checks.push({ check: `${c}: Redis campaign granted = Σ pod hashes granted`, ok: Number(camp.granted) === podGranted, detail: `${camp.granted} vs ${podGranted}` });
        const daily = c === "soak-main" ? o.mainDaily : smallDaily;
        for (const [k, d] of Object.entries(days)) checks.push({ check: `${c}: ${k.split("}:")[1]} granted ≤ daily cap`, ok: Number(d.granted) <= daily, detail: `${d.granted} ≤ ${daily}` });
      }
    }
    }

    await stopAll();
    await sleep(500);
    let keysAfterStop: { keys: number; noTtl: string[] } | undefined;
    if (redis) {
      keysAfterStop = await redisKeys(redis, o.prefix);
      await cleanupRedis();
    }

    // Summary: every numeric series, first → last sample, and the slope of its second half.
    const keys = Object.keys(series[0]?.row ?? {});
    const trend: Record<string, { first: number; last: number; min: number; max: number; slopePerHour: number }> = {};
    for (const k of keys) {
      const ys = series.map((s) => s.row[k] ?? NaN);
      trend[k] = { first: ys[0]!, last: ys[ys.length - 1]!, min: Math.min(...ys), max: Math.max(...ys), slopePerHour: slopePerHour(series.map((s) => s.t), ys) };
    }
    const logErrors: Record<string, number> = {};
    for (const p of pods) {
      for (const line of readFileSync(join(o.out, `${p.name}.log`), "utf8").split("\n")) {
        const m = /"level":(\d+).*?"event":"([^"]+)"/.exec(line);
        if (m && Number(m[1]) >= 40) logErrors[`${p.name}:${m[2]}`] = (logErrors[`${p.name}:${m[2]}`] ?? 0) + 1;
      }
    }
    const summary = { options: o, died, seconds: (Date.now() - t0) / 1000, samples: series.length, load, lb: lb?.stats, reloads, checks, trend, logWarnings: logErrors, endPods: Object.fromEntries(pods.map((p, i) => [p.name, end[i]])), redisFinal, redisKeysAfterStop: keysAfterStop };
    writeFileSync(join(o.out, "summary.json"), JSON.stringify(summary, null, 1));
    console.log(`\n${o.config}: ${series.length} samples over ${(summary.seconds / 60).toFixed(1)} min, ${load.requests} requests, ${load.bookedWins} wins booked`);
    console.log("series (first → last [min..max], slope/h over the 2nd half):");
    for (const [k, v] of Object.entries(trend)) console.log(`  ${k.padEnd(28)} ${v.first.toFixed(2)} → ${v.last.toFixed(2)} [${v.min.toFixed(2)}..${v.max.toFixed(2)}] ${v.slopePerHour.toFixed(2)}/h`);
    console.log("checks:");
    for (const c of checks) console.log(`  ${c.ok ? "ok  " : "FAIL"} ${c.check}: ${c.detail}`);
    console.log(`warnings/errors in logs: ${JSON.stringify(logErrors)}`);
    if (keysAfterStop) console.log(`Redis after stop: ${keysAfterStop.keys} keys, without TTL: ${keysAfterStop.noTtl.join(", ")}`);
    process.exitCode = checks.every((c) => c.ok) ? 0 : 1;
  }
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
