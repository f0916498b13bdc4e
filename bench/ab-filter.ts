// Two builds of the filter path compared in one process: the standalone hosts of two source
// trees (or two filter builds, or two plugin settings) side by side, rounds alternating, paired
// CPU differences. Separate processes run minutes apart on this shared machine differ by tens of
// percent (its fast and slow modes); rounds a few milliseconds apart in one process do not.
//
//   node --import tsx bench/ab-filter.ts --a ../other-tree [--b .] [--wasm-a F] [--wasm-b F]
//        [--plugin-a JSON] [--plugin-b JSON] [--rounds 25]
//
// --a is a second checkout (e.g. `git worktree add ../base <commit>`) with its node_modules and
// build/ in place. A and B are loaded as separate module instances when their trees differ. Two hosts from one
// tree share their JIT code (and its feedback), which can hide a difference between them: to
// compare two filter builds, point --a at a second checkout of the same commit.
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { loadBenchCorpus, stampId } from "./corpus.ts";
import { FILTER_BENCH_BIDDER, HEADERS, PASS_THROUGH_HEADERS } from "./filter-bench.ts";
import type { Standalone } from "../host/src/standalone.ts";

const { values } = parseArgs({
  options: {
    a: { type: "string" },
    b: { type: "string", default: "." },
    "wasm-a": { type: "string" },
    "wasm-b": { type: "string" },
    "plugin-a": { type: "string", default: "{}" },
    "plugin-b": { type: "string", default: "{}" },
    rounds: { type: "string", default: "25" },
  },
});
if (values.a === undefined) throw new Error("--a TREE is required (the other source tree)");

async function start(tree: string, wasm: string | undefined, plugin: string): Promise<Standalone> {
  const root = pathToFileURL(resolve(tree)).href;
  const { testBidderConfig } = await import(`${root}/tests/helpers/bidder.ts`);
  const { startStandalone } = await import(`${root}/host/src/standalone.ts`);
  const { silentLogger } = await import(`${root}/host/src/log.ts`);
  const { cfg } = testBidderConfig({ ...FILTER_BENCH_BIDDER, plugin: { ...FILTER_BENCH_BIDDER.plugin, ...JSON.parse(plugin) } });
  if (wasm !== undefined) cfg.wasmPath = resolve(wasm);
  const app: Standalone = await startStandalone(cfg, silentLogger());
  await app.ready(20_000);
  return app;
}

const corpus = await loadBenchCorpus();
const { bodies, idDigitsAt } = corpus;
const apps = [await start(values.a, values["wasm-a"], values["plugin-a"]), await start(values.b, values["wasm-b"], values["plugin-b"])];
// One id counter for both: the replay guard is on, and a resent id would be a cheap no-bid.
let n = 0;
async function round(app: Standalone, headers: Array<[string, string]>, reps: number): Promise<number> {
  const c0 = process.cpuUsage();
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < bodies.length; i++) {
      stampId(bodies[i]!, idDigitsAt[i]!, n++);
      await app.pool.handleHttpRequest({ headers, body: [bodies[i]!] });
    }
  }
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / (reps * bodies.length);
}

try {
  for (const app of apps) {
    await round(app, HEADERS, 3);
    await round(app, PASS_THROUGH_HEADERS, 3);
  }
  const rounds = Number(values.rounds);
  const bid = { a: [] as number[], b: [] as number[], d: [] as number[] };
  const pass = { a: [] as number[], b: [] as number[], d: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    const ns: number[] = [];
    const ps: number[] = [];
    // Alternate which goes first, so a drift of the machine within a round hits both alike.
    for (const k of i % 2 === 0 ? [1, 0] : [0, 1]) {
      ns[k] = await round(apps[k]!, HEADERS, 2);
      ps[k] = await round(apps[k]!, PASS_THROUGH_HEADERS, 2);
    }
    bid.a.push(ns[0]!), bid.b.push(ns[1]!), bid.d.push(ns[1]! - ns[0]!);
    pass.a.push(ps[0]!), pass.b.push(ps[1]!), pass.d.push(ps[1]! - ps[0]!);
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
  const us = (ns: number) => (ns / 1000).toFixed(2);
  for (const [what, r] of [["filter path", bid], ["pass-through", pass]] as const) {
    const faster = r.d.filter((x) => x < 0).length;
    console.log(`${what.padEnd(13)} A ${us(med(r.a))} µs  B ${us(med(r.b))} µs CPU per request; paired B-A ${us(med(r.d))} µs, B faster in ${faster}/${rounds} rounds`);
  }
} finally {
  for (const app of apps) await app.close();
}
