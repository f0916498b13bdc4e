// The filter path without HTTP: every bench request through the full proxy-wasm
// path of the standalone host (stream callbacks, hostcalls, shared-data ledger,
// metrics, local reply), one inline VM, one request at a time.
//
// Run alone (e.g. under --cpu-prof or callgrind):
//   node --import tsx bench/filter-bench.ts [--rounds 7] [--reps N] [--wasm FILE]
// (--wasm: e.g. a build with a name section, `asc ... --target filter --debug`, for readable profiles)
import { BENCH_FLOOR_FEATURE_CURRENCY, BENCH_FX_RATES, stampId, type BenchCorpus } from "./corpus.ts";
import type { Standalone } from "../host/src/standalone.ts";
import type { TestBidderOptions } from "../tests/helpers/bidder.ts";

/**
 * The bidder the filter bench runs: one inline VM, the filter's default plugin settings (the test
 * helper turns the replay guard off; here it stays on, as in production), and a budget that does
 * not run out during the bench (the grant refills a day's budget per second, capped by the
 * campaign's total), so every bid the core would make also goes through the shared-data ledger.
 * The exchange rates are `npm start`'s (BENCH_FX_RATES), as in the core section.
 */
export const FILTER_BENCH_BIDDER: TestBidderOptions = {
  vms: 1,
  vmMode: "inline",
  plugin: { replay_ttl_ms: undefined, fx_rates: BENCH_FX_RATES, floor_feature_currency: BENCH_FLOOR_FEATURE_CURRENCY },
  budget: { pacingSeconds: 1 },
};

export interface FilterResult {
  /** Wall-clock time per request (median over rounds). */
  requestNs: number;
  requestsPerSecond: number;
  /** CPU time of the process per request (median over rounds): less sensitive to other load on the machine. */
  cpuNs: number;
  /** HTTP statuses of one pass over the corpus. */
  statuses: Record<string, number>;
  /**
   * Wall time of the first request the fresh bidder answers (ms): what the first bid after a start
   * costs, compiling included (compile.ts compiles every function up front for this).
   */
  firstRequestMs: number;
  /**
   * The same bodies on a path the filter does not handle (it continues them): what a stream costs
   * the standalone host and the filter's header check alone, with no bidding (median over rounds).
   */
  passThroughNs: number;
  /** With a paired core: its ns per decision in the rounds taken right after each filter round (median). */
  pairedCoreNs?: number;
  /** With a paired core: the median over rounds of filter / core − 1, each pair taken back to back. */
  pairedOverCore?: number;
}

const headersFor = (path: string): Array<[string, string]> => [
  [":method", "POST"],
  [":path", path],
  [":authority", "bench"],
  [":scheme", "http"],
  ["content-type", "application/json"],
];
/** The request headers of a bid (the benches send every body with these). */
export const HEADERS = headersFor("/openrtb2/bid");
/** The same headers on a path the filter does not handle (the pass-through line). */
export const PASS_THROUGH_HEADERS = headersFor("/not-a-bid-path");

export async function benchFilter(app: Standalone, corpus: BenchCorpus, rounds: number, totalPerRound = 5000, pairedCore?: () => number): Promise<FilterResult> {
  const reps = Math.max(1, Math.floor(totalPerRound / corpus.bodies.length));
  const { bodies, idDigitsAt } = corpus;
  let n = 0;
  const statuses: Record<string, number> = {};
  let firstRequestMs = -1;
  for (let i = 0; i < bodies.length; i++) {
    stampId(bodies[i]!, idDigitsAt[i]!, n++);
    const t = performance.now();
    const o = await app.pool.handleHttpRequest({ headers: HEADERS, body: [bodies[i]!] });
    if (i === 0) firstRequestMs = performance.now() - t;
    const k = o.kind === "local" ? (o.status === 204 ? `204 ${o.headers.find(([h]) => h === "x-nexus-nobid-reason")?.[1]}` : String(o.status)) : o.kind;
    statuses[k] = (statuses[k] ?? 0) + 1;
  }
  // Unique request ids (see corpus.ts): stamping 8 digits costs the harness a few ns per request.
  const runAll = async (headers: Array<[string, string]>) => {
    for (let r = 0; r < reps; r++) {
      for (let i = 0; i < bodies.length; i++) {
        stampId(bodies[i]!, idDigitsAt[i]!, n++);
        await app.pool.handleHttpRequest({ headers, body: [bodies[i]!] });
      }
    }
  };
  await runAll(HEADERS);
  await runAll(PASS_THROUGH_HEADERS);
  const samples: number[] = [];
  const cpu: number[] = [];
  const passThrough: number[] = [];
  const coreNs: number[] = [];
  const overCore: number[] = [];
  const count = reps * corpus.bodies.length;
  for (let i = 0; i < rounds; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await runAll(HEADERS);
    const ns = Number(process.hrtime.bigint() - t0) / count;
    samples.push(ns);
    const c = process.cpuUsage(c0);
    cpu.push(((c.user + c.system) * 1000) / count);
    if (pairedCore) {
      const core = pairedCore();
      coreNs.push(core);
      overCore.push(ns / core - 1);
    }
    const t1 = process.hrtime.bigint();
    await runAll(PASS_THROUGH_HEADERS);
    passThrough.push(Number(process.hrtime.bigint() - t1) / count);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const requestNs = med(samples);
  const paired = pairedCore ? { pairedCoreNs: med(coreNs), pairedOverCore: med(overCore) } : {};
  return { requestNs, requestsPerSecond: 1e9 / requestNs, cpuNs: med(cpu), statuses, firstRequestMs, passThroughNs: med(passThrough), ...paired };
}

/** Crossings between the host and the filter per request of the mix (counts: the same on every machine). */
export interface Crossings {
  /** proxy_on_* callbacks into the VM, the allocator excluded. */
  callbacks: number;
  /** proxy_on_memory_allocate: the host copying something into the VM. */
  allocations: number;
  /** Host functions the filter called (env and WASI). */
  hostCalls: number;
  /** Host calls by name, per request. */
  byName: Record<string, number>;
}

/**
 * One pass over the mix through a simulated bidder (same filter and host, streams as under Envoy,
 * the replay guard on) that counts every crossing (VmOptions.traceCalls), per request.
 */
export async function countCrossings(corpus: BenchCorpus): Promise<Crossings> {
  const { PRODUCTION_LIKE, startSimBidder } = await import("../tests/helpers/sim-bidder.ts");
  const counts = new Map<string, number>();
  let counting = false;
  const sim = await startSimBidder({
    ...PRODUCTION_LIKE,
    plugin: { ...PRODUCTION_LIKE.plugin, fx_rates: BENCH_FX_RATES, floor_feature_currency: BENCH_FLOOR_FEATURE_CURRENCY },
    traceCalls: (name) => {
      if (counting) counts.set(name, (counts.get(name) ?? 0) + 1);
    },
  });
  try {
    await sim.untilReady();
    const { bodies, idDigitsAt } = corpus;
    const pass = async (base: number) => {
      for (let i = 0; i < bodies.length; i++) {
        stampId(bodies[i]!, idDigitsAt[i]!, base + i);
        await sim.pool.handleHttpRequest({ headers: HEADERS, body: [bodies[i]!] });
      }
    };
    await pass(90_000_000);
    counting = true;
    await pass(91_000_000);
  } finally {
    await sim.close();
  }
  const n = corpus.bodies.length;
  const out: Crossings = { callbacks: 0, allocations: 0, hostCalls: 0, byName: {} };
  for (const [name, c] of counts) {
    out.byName[name] = c / n;
    if (name === "proxy_on_memory_allocate") out.allocations += c / n;
    else if (name.startsWith("proxy_on_")) out.callbacks += c / n;
    else if (name.includes(".")) out.hostCalls += c / n;
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { parseArgs } = await import("node:util");
  const { loadBenchCorpus } = await import("./corpus.ts");
  const { testBidderConfig } = await import("../tests/helpers/bidder.ts");
  const { startStandalone } = await import("../host/src/standalone.ts");
  const { silentLogger } = await import("../host/src/log.ts");
  const { resolve } = await import("node:path");
  const { values } = parseArgs({ options: { rounds: { type: "string", default: "7" }, reps: { type: "string", default: "5000" }, wasm: { type: "string" } } });
  const corpus = await loadBenchCorpus();
  const { cfg } = testBidderConfig(FILTER_BENCH_BIDDER);
  if (values.wasm) cfg.wasmPath = resolve(values.wasm);
  const app = await startStandalone(cfg, silentLogger());
  await app.ready(20_000);
  try {
    const r = await benchFilter(app, corpus, Number(values.rounds), Number(values.reps));
    console.log(`filter  proxy-wasm path  ${(r.requestNs / 1000).toFixed(2)} µs/request (CPU ${(r.cpuNs / 1000).toFixed(2)} µs)  ${JSON.stringify(r.statuses)}`);
    console.log(`filter  pass-through     ${(r.passThroughNs / 1000).toFixed(2)} µs/request`);
    console.log(`filter  first request    ${r.firstRequestMs.toFixed(2)} ms`);
    const c = await countCrossings(corpus);
    console.log(`filter  crossings        ${c.callbacks.toFixed(2)} callbacks + ${c.allocations.toFixed(2)} allocations + ${c.hostCalls.toFixed(2)} host calls per request`);
  } finally {
    await app.close();
  }
}
