// HTTP side of the benchmark: the standalone bidder against a bare node:http
// server that answers every request with the same constant bid response (the
// framework's limit). Both servers run in their own process, started the same
// way, and are loaded by the same generator in a third process (http-load.ts),
// in alternating rounds so that machine noise hits both alike; results are
// medians over the rounds. Every measured run gets a freshly started server,
// warmed up for WARMUP_SECONDS first: the bench sends no win/loss notices, so
// a bidder's reservations stay held for their TTL, and one long-lived bidder
// would end up measuring a full reservation ring (no-bids) instead of bids.
// Besides throughput and latency, the CPU time each server process used per
// request is reported: on a small machine the load generator competes for the
// same cores, and CPU per request shows what each server costs whoever
// saturates first.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIXTURES, writeTestModel } from "../tests/helpers/bidder.ts";
import { PACKAGE_ROOT } from "../host/src/paths.ts";
import type { BenchCorpus } from "./corpus.ts";

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  errors: number;
  statuses: Record<string, number>;
  /** No-bid reasons (x-nexus-nobid-reason) of the 204 answers. */
  nobid: Record<string, number>;
  /** CPU time (user + system) of the server process per request, in µs. */
  serverCpuUsPerRequest: number;
  /** The load generator's own CPU time per request (µs): it shares the machine's cores with the server. */
  generatorCpuUsPerRequest: number;
  /** Open loop: 99th percentile of how late the generator sent its requests (ms; its timer and scheduling). */
  sendLagP99: number;
}

export interface HttpBenchResult {
  rounds: number;
  seconds: number;
  /** Medians over the rounds (each field separately). */
  bare: LoadResult;
  bidderSaturation: LoadResult;
  bidderHalfRate: LoadResult;
  /** The bare server at the bidder's half rate: node:http's own latency at that load on this machine. */
  bareHalfRate: LoadResult;
  /** Bidder throughput / bare throughput at saturation (medians). */
  ratio: number;
  /**
   * Bare CPU per request / bidder CPU per request: the throughput ratio the two servers would
   * reach if each had a core to itself. When the load generator, not the server, limits the bare
   * run (a small machine), `ratio` overstates the bidder; this one does not.
   */
  cpuRatio: number;
  /** Every round, for the record. */
  all: { bare: LoadResult[]; bidderSaturation: LoadResult[]; bidderHalfRate: LoadResult[]; bareHalfRate: LoadResult[] };
  /** RSS of the bidder process after the load. */
  serverRssBytes: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function cpuSeconds(pid: number): number {
  // /proc/<pid>/stat: fields 14 and 15 (utime, stime) after the ")" that ends the command name.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : -1;
}

let idBase = 0;
/** Ids per load run (a run sends far fewer requests): 100 runs before the 8 digits wrap. */
const IDS_PER_RUN = 1_000_000;
/** Warm-up load on every fresh server before its measured run. */
const WARMUP_SECONDS = 2;

export function load(url: string, bodiesFile: string, serverPid: number, args: string[]): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const cpu0 = cpuSeconds(serverPid);
    // Ids never repeat across runs (the replay guard keeps ids for a minute).
    const base = idBase;
    idBase += IDS_PER_RUN;
    const child = spawn(process.execPath, ["--import", "tsx", new URL("./http-load.ts", import.meta.url).pathname, "--url", url, "--bodies", bodiesFile, "--id-base", String(base), ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`load generator exited ${code}`));
      const { answered, ...r } = JSON.parse(out.trim().split("\n").pop()!) as Omit<LoadResult, "serverCpuUsPerRequest"> & { answered: number };
      // The CPU time covers the warm-up too: divide by every answer, warm-up included.
      resolve({ ...r, serverCpuUsPerRequest: ((cpuSeconds(serverPid) - cpu0) * 1e6) / answered });
    });
  });
}

export interface ServerProcess {
  url: string;
  pid: number;
  kill(): Promise<void>;
}

/**
 * BENCH_SERVER_NODE_ARGS: node flags for the server processes only (bidder and bare server), e.g.
 * "--cpu-prof --cpu-prof-dir=/tmp/prof" or "--trace-gc", which NODE_OPTIONS does not take.
 */
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");

export function startProcess(args: string[], env: NodeJS.ProcessEnv, what: string): Promise<ServerProcess> {
  const child: ChildProcess = spawn(process.execPath, [...SERVER_NODE_ARGS, ...args], { stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, ...env } });
  return new Promise<ServerProcess>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${what} did not start`)), 30_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^ \n]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          pid: child.pid!,
          kill: () =>
            new Promise<void>((r) => {
              child.once("exit", () => r());
              child.kill("SIGTERM");
            }),
        });
      }
    });
    child.on("exit", (code) => reject(new Error(`${what} exited ${code}`)));
  });
}

/** The bidder as `npm start` runs it: the bundled CLI in its own process, with the default VM layout. */
export function startBidder(dir: string, env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const { publicKeyPem } = writeTestModel(dir, {});
  const campaigns = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  writeFileSync(join(dir, "campaigns.json"), JSON.stringify(campaigns));
  return startProcess(
    [join(PACKAGE_ROOT, "dist/nexus-rtb.mjs"), "serve"],
    {
      NEXUS_BID_PORT: "0",
      NEXUS_CONTROL_PORT: "0",
      NEXUS_CAMPAIGNS: join(dir, "campaigns.json"),
      NEXUS_MODEL_STORE: dir,
      NEXUS_MODEL_FILE: "test.nxm",
      NEXUS_MODEL_PUBLIC_KEY: publicKeyPem,
      NEXUS_LOG_LEVEL: "warn",
      // A budget that does not run out during the bench (the grant refills a day's budget per
      // second, capped by the campaign total), and a reservation ring large enough to hold every
      // reservation of the bench (no notices are sent, so they stay reserved for the TTL): every
      // bid the filter wants to make goes through the shared-data ledger for real.
      NEXUS_BUDGET_PACING_SECONDS: "1",
      NEXUS_PLUGIN_CONFIG: JSON.stringify({ utc_offset_minutes: 0, reservation_slots: 160_000 }),
      ...env,
    },
    "bidder",
  );
}

export function startBare(): Promise<ServerProcess> {
  return startProcess(["--import", "tsx", new URL("./bare-server.ts", import.meta.url).pathname], {}, "bare server");
}

function median(results: LoadResult[]): LoadResult {
  const med = (f: (r: LoadResult) => number) => {
    const xs = results.map(f).sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)]!;
  };
  // Statuses and no-bid reasons: those of the round with the median throughput.
  const byRps = [...results].sort((a, b) => a.rps - b.rps)[Math.floor(results.length / 2)]!;
  return {
    requests: med((r) => r.requests),
    rps: med((r) => r.rps),
    p50: med((r) => r.p50),
    p90: med((r) => r.p90),
    p99: med((r) => r.p99),
    max: med((r) => r.max),
    errors: med((r) => r.errors),
    statuses: byRps.statuses,
    nobid: byRps.nobid,
    serverCpuUsPerRequest: med((r) => r.serverCpuUsPerRequest),
    generatorCpuUsPerRequest: med((r) => r.generatorCpuUsPerRequest),
    sendLagP99: med((r) => r.sendLagP99),
  };
}

/** The load generator's bodies file: [text before the id digits, text after] per body. */
export function writeBodiesFile(corpus: BenchCorpus, dir: string): string {
  const bodiesFile = join(dir, "bodies.json");
  const dec = new TextDecoder();
  const templates = corpus.bodies.map((b, i) => {
    const at = corpus.idDigitsAt[i]!;
    if (at < 0) return [dec.decode(b), null];
    return [dec.decode(b.subarray(0, at)), dec.decode(b.subarray(at + 8))];
  });
  writeFileSync(bodiesFile, JSON.stringify(templates));
  return bodiesFile;
}

export async function benchHttp(corpus: BenchCorpus, seconds: number, rounds: number): Promise<HttpBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "nexus-http-"));
  const bodiesFile = writeBodiesFile(corpus, dir);
  const closed = ["--concurrency", "32", "--seconds", String(seconds), "--warmup", "1"];
  const url = (p: ServerProcess) => `${p.url}/openrtb2/bid`;
  /** One measured run on a fresh, warmed-up server. */
  const measure = async (start: () => Promise<ServerProcess>, args: string[], keep = false): Promise<[LoadResult, number]> => {
    const server = await start();
    try {
      await load(url(server), bodiesFile, server.pid, ["--concurrency", "32", "--seconds", String(WARMUP_SECONDS), "--warmup", "0"]);
      const r = await load(url(server), bodiesFile, server.pid, args);
      return [r, keep ? rssOf(server.pid) : -1];
    } finally {
      await server.kill();
    }
  };
  const bidder = () => startBidder(mkdtempSync(join(dir, "bidder-")));
  const all: HttpBenchResult["all"] = { bare: [], bidderSaturation: [], bidderHalfRate: [], bareHalfRate: [] };
  for (let r = 0; r < rounds; r++) {
    all.bare.push((await measure(startBare, closed))[0]);
    all.bidderSaturation.push((await measure(bidder, closed))[0]);
  }
  const saturation = median(all.bidderSaturation);
  const bareMedian = median(all.bare);
  // Both servers at the same rate, half of the bidder's saturation: the bare server's latency
  // there is what node:http, the generator and this machine give before any bidding.
  const halfRate = ["--rate", String(Math.round(saturation.rps / 2)), "--concurrency", "64", "--seconds", String(seconds), "--warmup", "1"];
  let rss = -1;
  for (let r = 0; r < rounds; r++) {
    all.bareHalfRate.push((await measure(startBare, halfRate))[0]);
    const [result, bytes] = await measure(bidder, halfRate, r === rounds - 1);
    all.bidderHalfRate.push(result);
    if (bytes >= 0) rss = bytes;
  }
  return {
    rounds,
    seconds,
    bare: bareMedian,
    bidderSaturation: saturation,
    bidderHalfRate: median(all.bidderHalfRate),
    bareHalfRate: median(all.bareHalfRate),
    ratio: saturation.rps / bareMedian.rps,
    cpuRatio: bareMedian.serverCpuUsPerRequest / saturation.serverCpuUsPerRequest,
    all,
    serverRssBytes: rss,
  };
}

// Run alone: node --import tsx bench/http-bench.ts [--seconds 5] [--rounds 3]
if (import.meta.url === `file://${process.argv[1]}`) {
  const { parseArgs } = await import("node:util");
  const { loadBenchCorpus } = await import("./corpus.ts");
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "5" }, rounds: { type: "string", default: "3" } } });
  const r = await benchHttp(await loadBenchCorpus(), Number(values.seconds), Number(values.rounds));
  const l = (x: LoadResult) => `${Math.round(x.rps)} req/s  p50 ${x.p50.toFixed(2)} ms  p99 ${x.p99.toFixed(2)} ms  server CPU ${x.serverCpuUsPerRequest.toFixed(1)} µs/req`;
  console.log(`bare    ${l(r.bare)}\nbidder  ${l(r.bidderSaturation)}  ratio ${(r.ratio * 100).toFixed(0)}% (CPU ratio ${(r.cpuRatio * 100).toFixed(0)}%)\nhalf    ${l(r.bidderHalfRate)}\nbare/2  ${l(r.bareHalfRate)}\nanswers ${JSON.stringify(r.bidderSaturation.statuses)} ${JSON.stringify(r.bidderSaturation.nobid)}`);
}
