// npm run bench: side-by-side measurements in one run, medians over rounds.
//   core    decisions/s of the compiled core (parse+validate+features+2 models+valuation+reply)
//           against JSON.parse of the same bodies in the same process (ratio)
//   filter  the same requests through the full proxy-wasm path in the standalone host (no HTTP)
//   memory  Wasm linear memory per VM and process RSS after warm-up
//   http    the standalone bidder against a bare node:http server (http-bench.ts)
//   worst   heavy requests against 256 campaigns on the core (worst-case.ts; no target)
// Writes bench/results/latest.json (or --out FILE); --compare FILE prints the change against an
// earlier run's JSON. Options: --rounds N (core, filter), --http-rounds N, --http-seconds S, --no-http.
import { mkdirSync, readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadBenchCorpus } from "./corpus.ts";
import { benchCore, coreRound } from "./core-bench.ts";
import { benchWorstCase, worstCaseLine } from "./worst-case.ts";
import { benchFilter, countCrossings, FILTER_BENCH_BIDDER } from "./filter-bench.ts";
import { startTestBidder, writeTestModel, FIXTURES } from "../tests/helpers/bidder.ts";
import { benchHttp, type LoadResult } from "./http-bench.ts";
import { measureJitter, type JitterResult } from "./jitter.ts";
import { PACKAGE_ROOT } from "../host/src/paths.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "7" },
    compare: { type: "string" },
    out: { type: "string" },
    "http-seconds": { type: "string", default: "5" },
    "http-rounds": { type: "string", default: "3" },
    "no-http": { type: "boolean" },
  },
});
const rounds = Number(values.rounds);
// Read the earlier run first: a missing or broken file should fail now, not after minutes of measuring.
const previous: unknown = values.compare === undefined ? undefined : readPrevious(values.compare);

const corpus = await loadBenchCorpus();
const campaignsJson = readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8");
const dir = mkdtempSync(join(tmpdir(), "nexus-bench-"));
const model = new Uint8Array(readFileSync(writeTestModel(dir, {}).file));

const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, rounds, requests: corpus.bodies.length, fromLogs: corpus.fromLogs };

// ---- core ----
const core = await benchCore(corpus, rounds, model, campaignsJson);
results.core = core;

// ---- worst case: heavy requests against a large campaign set (no target; docs/HARDENING.md) ----
const worstCase = await benchWorstCase(model, 5);
results.worstCase = worstCase;

// ---- filter (proxy-wasm path, inline VM, no HTTP) ----
const app = await startTestBidder(FILTER_BENCH_BIDDER);
const filter = await benchFilter(app, corpus, rounds, undefined, await coreRound(corpus, model, campaignsJson));
const filterNs = filter.requestNs;
// The verdict takes the paired rounds (filter and core back to back, same minute); the section
// medians are kept as before, for comparison with earlier runs.
const overCore = filter.pairedOverCore!;
results.filter = { ...filter, overCore, overCoreAcrossSections: filterNs / core.decisionNs - 1 };

// ---- memory ----
const vmPages = app.pool.memoryBytes();
results.memory = { wasmBytesPerVm: vmPages, rssBytes: process.memoryUsage().rss };
// Counted after the memory figures (its simulated bidder would add to the RSS).
const crossings = await countCrossings(corpus);
(results.filter as Record<string, unknown>).crossings = crossings;
await app.close();

// ---- http ----
const http = values["no-http"] ? undefined : await benchHttp(corpus, Number(values["http-seconds"]), Number(values["http-rounds"]));
results.http = http;

// ---- machine ----
// The gaps a busy process suffers on this machine (both cores busy, as in the HTTP bench).
const jitter: JitterResult | undefined = values["no-http"] ? undefined : await measureJitter(3, 2);
results.jitter = jitter;

// ---- report ----
const fmt = (ns: number) => (ns / 1000).toFixed(2) + " µs";
const mark = (ok: boolean) => (ok ? "met" : "NOT met");
console.log(`\nNexus-RTB bench (${corpus.bodies.length} requests: ${corpus.bodies.length - corpus.fromLogs} corpus + ${corpus.fromLogs} from logs; median of ${rounds} rounds)\n`);
console.log(`core    decision            ${fmt(core.decisionNs).padStart(12)}   ${Math.round(core.decisionsPerSecond).toLocaleString("en-US")} decisions/s`);
console.log(`core    of which parse      ${fmt(core.parseNs).padStart(12)}`);
console.log(`core    JSON.parse (floor)  ${fmt(core.jsonParseNs).padStart(12)}   ratio core/JSON.parse = ${core.ratio.toFixed(2)}   (target <= 1.00: ${mark(core.ratio <= 1)})`);
const mixKiB = corpus.bodies.reduce((n, b) => n + b.byteLength, 0) / corpus.bodies.length / 1024;
for (const l of worstCase) console.log(`${worstCaseLine(l)}   (the mix: ${(core.decisionNs / 1000 / mixKiB).toFixed(1)} µs/KiB; no target)`);
console.log(`filter  proxy-wasm path     ${fmt(filterNs).padStart(12)}   +${(overCore * 100).toFixed(0)}% over the core in paired rounds (core ${fmt(filter.pairedCoreNs!)} then; +${((filterNs / core.decisionNs - 1) * 100).toFixed(0)}% against the core section)   (target <= +30%: ${mark(overCore <= 0.3)})`);
console.log(`filter  pass-through        ${fmt(filter.passThroughNs).padStart(12)}   = ${((filter.passThroughNs / filter.pairedCoreNs!) * 100).toFixed(0)}% of the core (paired rounds): a stream the filter passes on (no bidding), the host's floor`);
console.log(`filter  first request       ${filter.firstRequestMs.toFixed(2).padStart(9)} ms   the first bid request a freshly started bidder answers (decision_budget_ms is 4)`);
console.log(`filter  answers (one pass)  ${JSON.stringify(filter.statuses)}`);
console.log(`filter  crossings/request   ${crossings.callbacks.toFixed(2)} callbacks into the VM + ${crossings.allocations.toFixed(2)} copies in (allocator) + ${crossings.hostCalls.toFixed(2)} host calls`);
console.log(`memory  wasm per VM ${vmPages.map((b) => (b / 1048576).toFixed(1) + " MiB").join(", ")} (2^18 model pair loaded)`);
if (http) {
  const l = (r: LoadResult) =>
    `${Math.round(r.rps).toLocaleString("en-US").padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  max ${r.max.toFixed(1)} ms  server CPU ${r.serverCpuUsPerRequest.toFixed(1)} µs/req` +
    `  (generator CPU ${r.generatorCpuUsPerRequest.toFixed(1)} µs/req${r.sendLagP99 > 0.01 ? `, send lag p99 ${r.sendLagP99.toFixed(2)} ms` : ""})`;
  console.log(`http    (${http.rounds} alternating rounds of ${http.seconds} s on fresh warmed-up servers, medians; each server in its own process, load from a third)`);
  console.log(`http    bare node:http      ${l(http.bare)}`);
  // The verdict takes the lower of the throughput ratio and the CPU-per-request ratio: a load
  // generator that cannot saturate the bare server would otherwise flatter the bidder.
  const ratio = Math.min(http.ratio, http.cpuRatio);
  console.log(`http    bidder (saturation) ${l(http.bidderSaturation)}`);
  console.log(`http    bidder / bare       throughput ${(http.ratio * 100).toFixed(0)}%, CPU per request ${(http.cpuRatio * 100).toFixed(0)}%   (target >= 70%, the lower of the two: ${mark(ratio >= 0.7)})`);
  console.log(`http    bidder (half rate)  ${l(http.bidderHalfRate)}   (target p99 <= 2 ms: ${mark(http.bidderHalfRate.p99 <= 2)})`);
  console.log(`http    bare (half rate)    ${l(http.bareHalfRate)}   (reference: node:http alone at the same rate)`);
  if (jitter) console.log(`machine ${jitter.procs} processes reading the clock in a loop for ${jitter.seconds} s: stalled ${jitter.stalledMs.toFixed(1)} ms in all, ${jitter.gapsOver1Ms} gaps > 1 ms, largest ${jitter.maxGapMs.toFixed(2)} ms (time the machine did not run them)`);
  console.log(`http    bidder answers      ${JSON.stringify(http.bidderSaturation.statuses)} no-bid reasons ${JSON.stringify(http.bidderSaturation.nobid)}`);
  console.log(`memory  bidder process RSS after the load: ${(http.serverRssBytes / 1048576).toFixed(0)} MiB   (target <= 150 MiB: ${mark(http.serverRssBytes <= 150 * 1048576)})`);
}
console.log(`outcomes of the core on the mix: ${JSON.stringify(core.outcomes)}`);

const outDir = join(PACKAGE_ROOT, "bench", "results");
mkdirSync(outDir, { recursive: true });
const out = values.out ?? join(outDir, "latest.json");
writeFileSync(out, JSON.stringify(results, null, 2));
console.log(`\nwritten ${out}`);
if (values.compare) compare(previous, values.compare);

function readPrevious(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    process.stderr.write(`bench: --compare ${file}: ${(err as Error).message}\n`);
    process.exit(2);
  }
}

/** Prints each headline figure next to the earlier run's (fields missing there are skipped). */
function compare(prev: any, file: string): void {
  const now: any = results;
  const rows: Array<[string, (r: any) => number | undefined, (v: number) => string]> = [
    ["core decision", (r) => r.core?.decisionNs, (v) => fmt(v)],
    ["core / JSON.parse", (r) => r.core?.ratio, (v) => v.toFixed(2)],
    ["filter path", (r) => r.filter?.requestNs, (v) => fmt(v)],
    ["filter over core", (r) => r.filter?.overCore, (v) => `+${(v * 100).toFixed(0)}%`],
    ["filter CPU", (r) => r.filter?.cpuNs, (v) => fmt(v)],
    ["filter pass-through", (r) => r.filter?.passThroughNs, (v) => fmt(v)],
    ["callbacks/request", (r) => r.filter?.crossings?.callbacks, (v) => v.toFixed(2)],
    ["host calls/request", (r) => r.filter?.crossings?.hostCalls, (v) => v.toFixed(2)],
    ["http bare", (r) => r.http?.bare?.rps, (v) => `${Math.round(v)} req/s`],
    ["http bidder", (r) => r.http?.bidderSaturation?.rps, (v) => `${Math.round(v)} req/s`],
    ["http ratio", (r) => r.http?.ratio, (v) => `${(v * 100).toFixed(0)}%`],
    ["http CPU ratio", (r) => r.http?.cpuRatio, (v) => `${(v * 100).toFixed(0)}%`],
    ["http half-rate p99", (r) => r.http?.bidderHalfRate?.p99, (v) => `${v.toFixed(2)} ms`],
    ["http bare half p99", (r) => r.http?.bareHalfRate?.p99, (v) => `${v.toFixed(2)} ms`],
    ["http bare CPU/req", (r) => r.http?.bare?.serverCpuUsPerRequest, (v) => `${v.toFixed(1)} µs`],
    ["http bidder CPU/req", (r) => r.http?.bidderSaturation?.serverCpuUsPerRequest, (v) => `${v.toFixed(1)} µs`],
    ["bidder RSS", (r) => r.http?.serverRssBytes, (v) => `${(v / 1048576).toFixed(0)} MiB`],
  ];
  console.log(`\nvs ${file} (${prev.date ?? "undated"}):`);
  for (const [name, get, show] of rows) {
    const a = get(now);
    const b = get(prev);
    if (typeof a !== "number" || typeof b !== "number") continue;
    console.log(`  ${name.padEnd(20)} ${show(b).padStart(14)} -> ${show(a).padStart(14)}  (${((a / b - 1) * 100).toFixed(1)}%)`);
  }
}
