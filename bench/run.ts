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
import { PACKAGE_ROOT } from "../host/src/paths.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "7" }, compare: { type: "string" }, out: { type: "string" } } });
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
const vmPages = (app.pool as unknown as { slots: Array<{ vm?: { mem: { size: number } } }> }).slots.map((s) => s.vm?.mem.size ?? 0);
results.memory = { wasmBytesPerVm: vmPages, rssBytes: process.memoryUsage().rss };
await app.close();

// ---- report ----
const fmt = (ns: number) => (ns / 1000).toFixed(2) + " µs";
console.log(`\nNexus-RTB bench (${corpus.bodies.length} requests: ${corpus.bodies.length - corpus.fromLogs} corpus + ${corpus.fromLogs} from logs; median of ${rounds} rounds)\n`);
console.log(`core    decision            ${fmt(core.decisionNs).padStart(12)}   ${Math.round(core.decisionsPerSecond).toLocaleString("en-US")} decisions/s`);
console.log(`core    JSON.parse (floor)  ${fmt(core.jsonParseNs).padStart(12)}   ratio core/JSON.parse = ${core.ratio.toFixed(2)}`);
console.log(`filter  proxy-wasm path     ${fmt(filterNs).padStart(12)}   +${((filterNs / core.decisionNs - 1) * 100).toFixed(0)}% over the core`);
console.log(`memory  wasm per VM ${vmPages.map((b) => (b / 1048576).toFixed(1) + " MiB").join(", ")}; RSS ${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB`);
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
