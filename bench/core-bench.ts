// Benchmarks of the compiled core and of the filter path, without HTTP.
import { readFileSync } from "node:fs";
import * as loader from "@assemblyscript/loader";
import { join } from "node:path";
import { BENCH_FLOOR_FEATURE_CURRENCY, BENCH_FX_RATES, CORE_WASM, type BenchCorpus } from "./corpus.ts";

export interface CoreApi {
  inputPtr(): number;
  inputCapacity(): number;
  loadModel(bits: number, len: number): number;
  useModelForDecisions(bits: number): number;
  loadCampaigns(len: number): number;
  decide(len: number, nowMs: bigint): number;
  setFxRate(len: number, rate: number): void;
  /** Absent in builds before 2026-12-07 (bench/ab-core.ts compares against those). */
  setFloorFeatureCurrency?(len: number): void;
  parseOnly(len: number): number;
  memory: { buffer: ArrayBuffer };
}

export async function loadCore(modelNxm: Uint8Array, campaignsJson: string, wasm: string = CORE_WASM): Promise<{ api: CoreApi; put(bytes: Uint8Array): number }> {
  const { exports } = await loader.instantiate<Record<string, unknown>>(readFileSync(wasm), {});
  const api = exports as unknown as CoreApi;
  const put = (bytes: Uint8Array) => {
    new Uint8Array(api.memory.buffer, api.inputPtr(), bytes.byteLength).set(bytes);
    return bytes.byteLength;
  };
  if (api.loadModel(18, put(modelNxm)) !== 0) throw new Error("core rejected the bench model");
  api.useModelForDecisions(18);
  if (api.loadCampaigns(put(new TextEncoder().encode(campaignsJson))) !== 0) throw new Error("core rejected the bench campaigns");
  for (const [code, rate] of Object.entries(BENCH_FX_RATES)) api.setFxRate(put(new TextEncoder().encode(code)), rate);
  api.setFloorFeatureCurrency?.(put(new TextEncoder().encode(BENCH_FLOOR_FEATURE_CURRENCY)));
  return { api, put };
}

/** Median of per-round nanoseconds per item. */
export function medianNs(rounds: number, items: number, run: () => void): number {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    run();
    samples.push(Number(process.hrtime.bigint() - t0) / items);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

export interface CoreResult {
  bodies: number;
  decisionNs: number;
  /** The OpenRTB parse alone (part of decisionNs). */
  parseNs: number;
  jsonParseNs: number;
  ratio: number;
  decisionsPerSecond: number;
  outcomes: Record<string, number>;
}

/** Request time of every bench decision (a fixed instant: the same features in every run). */
const BENCH_NOW = BigInt(Date.UTC(2026, 10, 25, 12));

/**
 * The core loaded with the bench model and campaigns, and passes over the mix (`reps` times the
 * bodies, about 20,000 requests): decideAll() for full decisions, parseAll() for the parse alone.
 */
export async function coreRunner(corpus: BenchCorpus, modelNxm: Uint8Array, campaignsJson: string, wasm: string = CORE_WASM) {
  const { api } = await loadCore(modelNxm, campaignsJson, wasm);
  const base = api.inputPtr();
  const bodies = corpus.bodies;
  const reps = Math.max(1, Math.floor(20000 / bodies.length));
  const pass = (step: (len: number) => number) => () => {
    for (let r = 0; r < reps; r++) {
      for (const b of bodies) {
        new Uint8Array(api.memory.buffer).set(b, base);
        step(b.byteLength);
      }
    }
  };
  return {
    api,
    base,
    reps,
    decideAll: pass((len) => api.decide(len, BENCH_NOW)),
    parseAll: pass((len) => api.parseOnly(len)),
  };
}

/**
 * One round of core decisions over the mix per call, returning ns per decision: the filter bench
 * runs one after each of its rounds, so that "over the core" compares rounds taken in the same
 * minute (this machine's speed moves by tens of percent between sections of one run).
 */
export async function coreRound(corpus: BenchCorpus, modelNxm: Uint8Array, campaignsJson: string): Promise<() => number> {
  const { reps, decideAll } = await coreRunner(corpus, modelNxm, campaignsJson);
  decideAll();
  return () => medianNs(1, reps * corpus.bodies.length, decideAll);
}

export async function benchCore(corpus: BenchCorpus, rounds: number, modelNxm: Uint8Array, campaignsJson: string): Promise<CoreResult> {
  const { api, base, reps, decideAll, parseAll: coreParseAll } = await coreRunner(corpus, modelNxm, campaignsJson);
  const bodies = corpus.bodies;
  const texts = bodies.map((b) => new TextDecoder().decode(b));
  const outcomes: Record<string, number> = {};
  for (const b of bodies) {
    new Uint8Array(api.memory.buffer).set(b, base);
    const code = api.decide(b.byteLength, BENCH_NOW) & 0xffff;
    outcomes[code] = (outcomes[code] ?? 0) + 1;
  }
  // Warm both sides, then measure in alternating rounds so machine noise hits both alike.
  let sink = 0;
  const parseAll = () => {
    for (let r = 0; r < reps; r++) for (const t of texts) sink += (JSON.parse(t) as { imp?: unknown[] }).imp?.length ?? 0;
  };
  decideAll();
  parseAll();
  coreParseAll();
  const d: number[] = [];
  const p: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < rounds; i++) {
    d.push(medianNs(1, reps * bodies.length, decideAll));
    p.push(medianNs(1, reps * bodies.length, parseAll));
    c.push(medianNs(1, reps * bodies.length, coreParseAll));
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const decisionNs = med(d);
  const jsonParseNs = med(p);
  if (sink < 0) console.log(sink);
  return { bodies: bodies.length, decisionNs, parseNs: med(c), jsonParseNs, ratio: decisionNs / jsonParseNs, decisionsPerSecond: 1e9 / decisionNs, outcomes };
}

export { join };
