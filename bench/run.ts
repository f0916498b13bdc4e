// npm run bench: side-by-side measurements in one run, medians over rounds.
//   core    decisions/s of the compiled core (parse+validate+features+2 models+valuation+reply)
//           against JSON.parse of the same bodies in the same process (ratio)
//   filter  the same requests through the full proxy-wasm path in the standalone host (no HTTP)
//   memory  Wasm linear memory per VM and process RSS after warm-up
// Writes bench/results/latest.json; --compare FILE prints the change against an earlier run.
import { mkdirSync, readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadBenchCorpus } from "./corpus.ts";
import { benchCore, medianNs } from "./core-bench.ts";
import { startTestBidder, writeTestModel, FIXTURES } from "../tests/helpers/bidder.ts";
import { benchHttp } from "./http-bench.ts";
import { PACKAGE_ROOT } from "../host/src/paths.ts";

const { values } = parseArgs({
  options: { rounds: { type: "string", default: "7" }, compare: { type: "string" }, out: { type: "string" }, "http-seconds": { type: "string", default: "5" }, "no-http": { type: "boolean" } },
});
const rounds = Number(values.rounds);

const corpus = await loadBenchCorpus();
const campaignsJson = readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8");
const dir = mkdtempSync(join(tmpdir(), "nexus-bench-"));
const model = new Uint8Array(readFileSync(writeTestModel(dir, {}).file));

const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, rounds, requests: corpus.bodies.length, fromLogs: corpus.fromLogs };

// ---- core ----
const core = await benchCore(corpus, rounds, model, campaignsJson);
results.core = core;

// ---- filter (proxy-wasm path, inline VM, no HTTP) ----
const app = await startTestBidder({ vms: 1, vmMode: "inline" });
const headers: Array<[string, string]> = [[":method", "POST"], [":path", "/openrtb2/bid"], [":authority", "bench"], [":scheme", "http"], ["content-type", "application/json"]];
const reps = Math.max(1, Math.floor(5000 / corpus.bodies.length));
const runFilter = async () => {
  for (let r = 0; r < reps; r++) for (const b of corpus.bodies) await app.pool.handleHttpRequest({ headers, body: [b] });
};
await runFilter();
const filterSamples: number[] = [];
for (let i = 0; i < rounds; i++) {
  const t0 = process.hrtime.bigint();
  await runFilter();
  filterSamples.push(Number(process.hrtime.bigint() - t0) / (reps * corpus.bodies.length));
}
filterSamples.sort((a, b) => a - b);
const filterNs = filterSamples[Math.floor(rounds / 2)]!;
results.filter = { requestNs: filterNs, requestsPerSecond: 1e9 / filterNs, overCore: filterNs / core.decisionNs - 1 };

// ---- memory ----
const vmPages = app.pool.memoryBytes();
results.memory = { wasmBytesPerVm: vmPages, rssBytes: process.memoryUsage().rss };
await app.close();

// ---- http ----
const http = values["no-http"] ? undefined : await benchHttp(corpus.bodies, Number(values["http-seconds"]));
results.http = http;

// ---- report ----
const fmt = (ns: number) => (ns / 1000).toFixed(2) + " µs";
console.log(`\nNexus-RTB bench (${corpus.bodies.length} requests: ${corpus.bodies.length - corpus.fromLogs} corpus + ${corpus.fromLogs} from logs; median of ${rounds} rounds)\n`);
console.log(`core    decision            ${fmt(core.decisionNs).padStart(12)}   ${Math.round(core.decisionsPerSecond).toLocaleString("en-US")} decisions/s`);
console.log(`core    of which parse      ${fmt(core.parseNs).padStart(12)}`);
console.log(`core    JSON.parse (floor)  ${fmt(core.jsonParseNs).padStart(12)}   ratio core/JSON.parse = ${core.ratio.toFixed(2)}`);
console.log(`filter  proxy-wasm path     ${fmt(filterNs).padStart(12)}   +${((filterNs / core.decisionNs - 1) * 100).toFixed(0)}% over the core`);
console.log(`memory  wasm per VM ${vmPages.map((b) => (b / 1048576).toFixed(1) + " MiB").join(", ")} (2^18 model pair loaded)`);
if (http) {
  const l = (r: typeof http.bare) => `${Math.round(r.rps).toLocaleString("en-US")} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  max ${r.max.toFixed(1)} ms`;
  console.log(`http    bare node:http      ${l(http.bare)}`);
  console.log(`http    bidder (saturation) ${l(http.bidderSaturation)}   ratio ${(http.ratio * 100).toFixed(0)}% of bare`);
  console.log(`http    bidder (half rate)  ${l(http.bidderHalfRate)}`);
  console.log(`memory  bidder process RSS after the load: ${(http.serverRssBytes / 1048576).toFixed(0)} MiB`);
}
console.log(`outcomes of the core on the mix: ${JSON.stringify(core.outcomes)}`);

const outDir = join(PACKAGE_ROOT, "bench", "results");
mkdirSync(outDir, { recursive: true });
const out = values.out ?? join(outDir, "latest.json");
writeFileSync(out, JSON.stringify(results, null, 2));
console.log(`\nwritten ${out}`);
if (values.compare) {
  const prev = JSON.parse(readFileSync(values.compare, "utf8"));
  const pct = (a: number, b: number) => `${((a / b - 1) * 100).toFixed(1)}%`;
  console.log(`vs ${values.compare}: core ${pct(core.decisionNs, prev.core.decisionNs)}, filter ${pct(filterNs, prev.filter.requestNs)}`);
}
void medianNs;
