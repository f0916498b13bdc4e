// Two builds of the core compared in one process: the same mix decided by each, rounds
// alternating, paired ratios (B / A per pair). What a change to the bid path costs, measured
// without the minutes between two `npm run bench` runs (this machine's speed moves by tens of
// percent between them).
//
//   node --import tsx bench/ab-core.ts --a OTHER/build/nexus_core.wasm [--b build/nexus_core.wasm] [--rounds 41]
//
// OTHER is e.g. `git worktree add /tmp/base <commit>` then `npm run build` there.
import { parseArgs } from "node:util";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadBenchCorpus } from "./corpus.ts";
import { coreRunner, medianNs } from "./core-bench.ts";
import { FIXTURES, writeTestModel } from "../tests/helpers/bidder.ts";
import { CORE_WASM } from "./corpus.ts";

const { values } = parseArgs({
  options: { a: { type: "string" }, b: { type: "string", default: CORE_WASM }, rounds: { type: "string", default: "41" } },
});
if (values.a === undefined) throw new Error("--a CORE_WASM is required (the other build)");
const rounds = Number(values.rounds);
const corpus = await loadBenchCorpus();
const campaignsJson = readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8");
const dir = mkdtempSync(join(tmpdir(), "nexus-ab-core-"));
const model = new Uint8Array(readFileSync(writeTestModel(dir, {}).file));
rmSync(dir, { recursive: true, force: true });
const runners = [await coreRunner(corpus, model, campaignsJson, resolve(values.a)), await coreRunner(corpus, model, campaignsJson, resolve(values.b))];
const items = runners[0]!.reps * corpus.bodies.length;
for (const r of runners) r.decideAll();
const ns: number[][] = [[], []];
const ratios: number[] = [];
for (let i = 0; i < rounds; i++) {
  // Alternate which goes first, so that neither always runs on a warmer machine.
  const order = i % 2 === 0 ? [0, 1] : [1, 0];
  const pair = [0, 0];
  for (const k of order) pair[k] = medianNs(1, items, runners[k]!.decideAll);
  ns[0]!.push(pair[0]!);
  ns[1]!.push(pair[1]!);
  ratios.push(pair[1]! / pair[0]!);
}
const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const faster = ratios.filter((r) => r < 1).length;
console.log(`A ${values.a}: ${(med(ns[0]!) / 1000).toFixed(3)} µs/decision (median of ${rounds} rounds)`);
console.log(`B ${values.b}: ${(med(ns[1]!) / 1000).toFixed(3)} µs/decision`);
console.log(`B / A per pair: median ${med(ratios).toFixed(4)}; B faster in ${faster} of ${rounds}`);
