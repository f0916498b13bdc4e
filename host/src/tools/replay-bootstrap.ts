// How much of a difference in clicks on the test set is the sample's luck: a paired block
// bootstrap of the replay's test results.
//
// The test auctions are cut into blocks of consecutive auctions (time order kept inside a block,
// where neighbouring auctions share an hour, a site mix, a market price level); a resample draws
// as many blocks with replacement and lays them end to end. Every run (a strategy with the
// parameters and PID gains tuned on train, at one budget fraction, paced or not) is replayed on
// the same resample, with the budget = the resample's own market cost / k (the protocol's rule),
// so two runs are compared on identical auctions: what varies between resamples is the sample,
// not the strategies. Nothing is tuned again: the parameters stay those chosen on train.
//
// A difference of clicks B − A is reported as observed on the test set, with the 2.5% and 97.5%
// quantiles of its resampled values (a 95% percentile interval) and the share of resamples where
// B wins at least as many clicks as A. An interval that straddles 0 means the test set cannot
// tell the two apart.
import type { NexusCore, PidGainsConfig } from "./core.ts";
import { mulberry32 } from "./rng.ts";
import { bidder, simulate, totalCost, type ReplayData, type StrategyName, type StrategyParams } from "./replay-sim.ts";

export interface BootstrapOptions {
  /** Resamples drawn. */
  resamples: number;
  /** Blocks the test set is cut into (each resample draws as many). */
  blocks: number;
  seed: number;
  /** PID control steps over the period (paced runs), as in the replay. */
  steps: number;
}

/** One run to replay on every resample: what the replay tuned on train. */
export interface BootstrapRun {
  k: number;
  strategy: StrategyName;
  paced: boolean;
  params: StrategyParams;
  gains?: PidGainsConfig;
}

/** A difference of clicks B − A between two runs (or sums of runs). */
export interface ClickDifference {
  /** On the test set itself. */
  observed: number;
  /** Mean over the resamples. */
  mean: number;
  /** 2.5% and 97.5% quantiles over the resamples (nearest rank). */
  low: number;
  high: number;
  /** Share of resamples where B ≥ A. */
  atLeast: number;
}

/** Auctions per block when `d` is cut into `blocks` blocks (the last one may be shorter). */
export function blockSize(n: number, blocks: number): number {
  return Math.max(1, Math.ceil(n / Math.max(1, blocks)));
}

/**
 * One resample: the blocks of `d` drawn with replacement, as many as `d` has, laid end to end in
 * the order drawn. Positions in the period are spread evenly again (time i / n), so pacing sees a
 * whole period.
 */
export function blockResample(d: ReplayData, blocks: number, rand: () => number): ReplayData {
  const size = blockSize(d.n, blocks);
  const count = Math.ceil(d.n / size);
  const picks = new Int32Array(count);
  let n = 0;
  for (let j = 0; j < count; j++) {
    const b = Math.min(count - 1, Math.floor(rand() * count));
    picks[j] = b;
    n += Math.min(d.n, (b + 1) * size) - b * size;
  }
  const out: ReplayData = { n, click: new Uint8Array(n), price: new Float64Array(n), pctr: new Float64Array(n), time: new Float64Array(n) };
  let at = 0;
  for (let j = 0; j < count; j++) {
    const from = picks[j]! * size;
    const to = Math.min(d.n, from + size);
    out.click.set(d.click.subarray(from, to), at);
    out.price.set(d.price.subarray(from, to), at);
    out.pctr.set(d.pctr.subarray(from, to), at);
    at += to - from;
  }
  for (let i = 0; i < n; i++) out.time[i] = i / n;
  return out;
}

/**
 * The clicks of every run on each resample: `result[run][resample]`. Paced runs need the core
 * (the filter's PID controller and spend plan). `progress` is told after each resample.
 */
export function bootstrapClicks(test: ReplayData, runs: readonly BootstrapRun[], o: BootstrapOptions, core?: NexusCore, progress: (done: number) => void = () => {}): Int32Array[] {
  const clicks = runs.map(() => new Int32Array(o.resamples));
  const rand = mulberry32(o.seed);
  for (let r = 0; r < o.resamples; r++) {
    const d = blockResample(test, o.blocks, rand);
    const cost = totalCost(d);
    runs.forEach((run, i) => {
      let options = {};
      if (run.paced) {
        if (!core || !run.gains) throw new Error(`bootstrapClicks: the paced run ${run.strategy} 1/${run.k} needs the core and its gains`);
        options = { pacing: { core, settings: { gains: run.gains, steps: o.steps } } };
      }
      clicks[i]![r] = simulate(d, cost / run.k, bidder(run.params, d), options).clicks;
    });
    progress(r + 1);
  }
  return clicks;
}

/** Element-wise sum of click series (e.g. one strategy over every budget). */
export function sumSeries(series: readonly Int32Array[], length: number): Int32Array {
  const out = new Int32Array(length);
  for (const s of series) for (let r = 0; r < length; r++) out[r] = out[r]! + s[r]!;
  return out;
}

/** B − A over the resamples, with `observed` the difference on the test set. */
export function clickDifference(a: Int32Array, b: Int32Array, observed: number): ClickDifference {
  const n = Math.min(a.length, b.length);
  if (n === 0) return { observed, mean: NaN, low: NaN, high: NaN, atLeast: NaN };
  const diffs = new Float64Array(n);
  let sum = 0;
  let atLeast = 0;
  for (let r = 0; r < n; r++) {
    const x = b[r]! - a[r]!;
    diffs[r] = x;
    sum += x;
    if (x >= 0) atLeast++;
  }
  diffs.sort();
  const rank = (q: number): number => diffs[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  return { observed, mean: sum / n, low: rank(0.025), high: rank(0.975), atLeast: atLeast / n };
}

/** "−2 [−7, +3], ≥ in 31%" */
export function formatDifference(d: ClickDifference): string {
  const s = (x: number): string => (x > 0 ? `+${x}` : x < 0 ? `−${-x}` : "0");
  return `${s(d.observed)} [${s(d.low)}, ${s(d.high)}], ≥ 0 in ${(100 * d.atLeast).toFixed(0)}%`;
}
