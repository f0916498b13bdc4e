// Parameter choice for the replay strategies, on the TRAIN file only (the
// tools evaluate on the TEST file; only the LIN "oracle" is tuned on the test
// set itself, as the upper reference it is). Two rules:
//
//   budget (default) — every strategy has one scale (CONST's bid, RAND's upper
//     bound, LIN's and ORTB's bid at the average pCTR); it is solved from the
//     budget constraint: the smallest scale whose replay spends the budget by
//     the end of the period (Zhang et al., KDD 2014: λ is the multiplier of the
//     budget constraint, which binds at the optimum). ORTB's c is fitted to the
//     tuning data's winning function w(b) = b / (b + c), as in that paper.
//     Paced runs solve the scale with the PID on and pick, among the gains, the
//     one with the smallest pacing error. No click label is used: with ~150
//     training clicks, "most clicks" picks noise.
//   clicks — a grid search for the most clicks (ties: expected clicks, then
//     lower spend); also what the oracle uses on the test set.
import type { NexusCore, PidGainsConfig } from "./core.ts";
import { DEFAULT_PID_GAINS } from "./core.ts";
import {
  bidder, meanPctr, simulate, totalClicks, type PacingSettings, type ReplayData, type SimResult, type StrategyName, type StrategyParams,
} from "./replay-sim.ts";

/** Geometric grid from lo to hi (inclusive) with `n` points. */
export function geometric(lo: number, hi: number, n: number): number[] {
  if (n <= 1) return [lo];
  const r = Math.pow(hi / lo, 1 / (n - 1));
  return Array.from({ length: n }, (_, i) => lo * Math.pow(r, i));
}

export interface SearchSpace {
  /** Bid levels (CPM): CONST bids, RAND upper bounds, LIN bases, and ORTB's bid at the average pCTR. */
  bids: number[];
  /** ORTB c values. */
  ortbC: number[];
  /** PID gains tried for the paced runs (the filter's limits: multiplier in [min, max]). */
  gains: PidGainsConfig[];
}

/** A search space fitted to the market prices of `d`: bid levels from 1 to 2 × the highest price. */
export function defaultSearchSpace(d: ReplayData): SearchSpace {
  let max = 1;
  for (let i = 0; i < d.n; i++) if (d.price[i]! > max) max = d.price[i]!;
  const bids = geometric(1, 2 * max, 40);
  const ortbC = [10, 20, 40, 80, 160, 240].filter((c) => c <= 2 * max);
  const gains: PidGainsConfig[] = [];
  for (const kp of [4, 20, 80]) for (const ki of [0.005, 0.05]) gains.push({ ...DEFAULT_PID_GAINS, kp, ki });
  return { bids, ortbC, gains };
}

/** LIN's average CTR: the data's click rate (its mean pCTR when it has no click). */
export function averageCtr(d: ReplayData): number {
  const clicks = totalClicks(d);
  return clicks > 0 ? clicks / d.n : meanPctr(d);
}

/**
 * The parameters of `strategy` whose bid at d's mean pCTR is `scale` (CPM):
 * CONST bids it, RAND draws up to it; LIN's base is set so that
 * base × mean pCTR / avgCTR = scale (so one scale fits the prices even when
 * the pCTR is far from the click rate); ORTB's λ so that
 * sqrt(c/λ · mean pCTR + c²) − c = scale, i.e. λ = c · avg / ((scale + c)² − c²).
 * LIN's average CTR is d's, and stays with the parameters when they are
 * replayed on other data, as a bidder only knows its past.
 */
export function paramsAtScale(strategy: StrategyName, d: ReplayData, scale: number, o: { c: number; seed: number }): StrategyParams {
  const avg = meanPctr(d);
  switch (strategy) {
    case "CONST":
      return { strategy, bid: scale };
    case "RAND":
      return { strategy, upper: scale, seed: o.seed };
    case "LIN": {
      const avgCtr = averageCtr(d);
      return { strategy, base: (scale * avgCtr) / avg, avgCtr };
    }
    case "ORTB":
      return { strategy, c: o.c, lambda: (o.c * avg) / ((scale + o.c) ** 2 - o.c * o.c) };
  }
}

/** Candidate parameter sets of a strategy on tuning data `d` for the clicks rule: every bid level (× every c for ORTB). */
export function candidates(strategy: StrategyName, d: ReplayData, space: SearchSpace, seed: number): StrategyParams[] {
  if (strategy !== "ORTB") return space.bids.map((b) => paramsAtScale(strategy, d, b, { c: 0, seed }));
  const out: StrategyParams[] = [];
  for (const c of space.ortbC) for (const b of space.bids) out.push(paramsAtScale(strategy, d, b, { c, seed }));
  return out;
}

/** Fraction of a market price's win rate curve: share of the prices strictly below each bid. */
function winRateAt(sortedPrices: Float64Array, bid: number): number {
  let lo = 0;
  let hi = sortedPrices.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (sortedPrices[m]! < bid) lo = m + 1;
    else hi = m;
  }
  return lo / sortedPrices.length;
}

/**
 * ORTB's c: the least-squares fit of the winning function w(b) = b / (b + c)
 * to d's empirical win rate (share of market prices below b), over 200 bids
 * geometrically spaced from 1 to 2 × the highest price (Zhang et al. 2014
 * fit c to the training data the same way). Searched on 400 values of c from
 * 0.1 to 10 × the highest price.
 */
export function fitWinFunctionC(d: ReplayData): number {
  const prices = Float64Array.from(d.price).sort();
  const max = Math.max(1, prices[prices.length - 1] ?? 1);
  const bids = geometric(1, 2 * max, 200);
  const rates = bids.map((b) => winRateAt(prices, b));
  let best = max;
  let bestErr = Infinity;
  for (const c of geometric(0.1, 10 * max, 400)) {
    let err = 0;
    for (let j = 0; j < bids.length; j++) err += (rates[j]! - bids[j]! / (bids[j]! + c)) ** 2;
    if (err < bestErr) {
      bestErr = err;
      best = c;
    }
  }
  return best;
}

export interface Tuned {
  params: StrategyParams;
  gains?: PidGainsConfig;
  /** The replay on the tuning data with these parameters. */
  result: SimResult;
  candidates: number;
}

/**
 * Most clicks wins. Clicks are few (a budget of 1/64 buys a handful), so ties
 * are common: then the higher expected clicks (sum of pCTR won), then, for
 * paced runs, the smaller pacing error, then the lower spend.
 */
function better(a: SimResult, b: SimResult | undefined, paced: boolean): boolean {
  if (b === undefined) return true;
  if (a.clicks !== b.clicks) return a.clicks > b.clicks;
  if (Math.abs(a.expectedClicks - b.expectedClicks) > 1e-9 * Math.max(1, b.expectedClicks)) return a.expectedClicks > b.expectedClicks;
  if (paced && a.pacingError !== b.pacingError) return a.pacingError < b.pacingError;
  return a.spend < b.spend;
}

/**
 * A paced configuration must pace on the tuning data: its pacing error (RMS,
 * in slices' budgets) must stay within this; a base bid so high that even the
 * smallest multiplier overspends is not a paced run.
 */
export const MAX_TUNED_PACING_ERROR = 1.0;

/** RAND's seed; with `pacing`, the core whose PID controller paces and how. */
export interface TuneOptions {
  seed: number;
  pacing?: { core: NexusCore; steps: number; hourly?: readonly number[] };
}

/**
 * The parameters of `strategy` that win the most clicks on `d` at `budget`;
 * with `pacing`, parameters and PID gains are searched together among the
 * configurations that keep the pacing error within MAX_TUNED_PACING_ERROR on
 * `d` (all of them when none does).
 */
export function tune(
  d: ReplayData,
  budget: number,
  strategy: StrategyName,
  space: SearchSpace,
  options: TuneOptions = { seed: 1 },
): Tuned {
  const cands = candidates(strategy, d, space, options.seed);
  return tuneAmong(d, budget, cands, options.pacing ? space.gains : [undefined], options.pacing);
}

/** Share of the budget a replay must spend for the budget to count as used up (the hard cap leaves less than one bid). */
export const BUDGET_SPENT = 0.99;

/**
 * The smallest scale whose replay of `d` spends BUDGET_SPENT of `budget`: the
 * budget binds at the end of the period. The scale doubles from max price /
 * 4096 until the budget is spent, then 30 bisection steps on its logarithm
 * narrow the crossing. Searching upwards matters: spend grows with the scale
 * only up to a point — a bid larger than what is left of the budget cannot be
 * placed (hard cap), so absurd scales spend nothing. When no scale up to
 * 1000 × the highest price spends the budget, the one that spent the most.
 */
export function solveScale(
  d: ReplayData,
  budget: number,
  params: (scale: number) => StrategyParams,
  pacing?: { core: NexusCore; settings: PacingSettings },
): { scale: number; result: SimResult; replays: number } {
  let max = 1;
  for (let i = 0; i < d.n; i++) if (d.price[i]! > max) max = d.price[i]!;
  let replays = 0;
  const run = (scale: number): SimResult => {
    replays++;
    return simulate(d, budget, bidder(params(scale), d), pacing ? { pacing } : {});
  };
  const target = BUDGET_SPENT * budget;
  let lo = max / 4096;
  let loResult = run(lo);
  if (loResult.spend >= target) return { scale: lo, result: loResult, replays };
  let most = { scale: lo, result: loResult };
  let hi = lo;
  let hiResult: SimResult | undefined;
  while (hi < 1000 * max) {
    hi *= 2;
    const r = run(hi);
    if (r.spend >= target) {
      hiResult = r;
      break;
    }
    lo = hi;
    loResult = r;
    if (r.spend > most.result.spend) most = { scale: hi, result: r };
  }
  if (hiResult === undefined) return { ...most, replays };
  for (let it = 0; it < 30; it++) {
    const mid = Math.sqrt(lo * hi);
    const r = run(mid);
    if (r.spend >= target) {
      hi = mid;
      hiResult = r;
    } else {
      lo = mid;
    }
  }
  return { scale: hi, result: hiResult, replays };
}

export type TuneRule = "budget" | "clicks";
export const TUNE_RULES: readonly TuneRule[] = ["budget", "clicks"];

/**
 * The budget rule (see the top of this file): the scale solved from the
 * budget on `d`; ORTB's c fitted to d's winning function; with `pacing`, the
 * scale is solved with each of the space's PID gains and the gains with the
 * smallest pacing error on `d` are kept.
 */
export function tuneByBudget(
  d: ReplayData,
  budget: number,
  strategy: StrategyName,
  space: SearchSpace,
  options: TuneOptions = { seed: 1 },
): Tuned {
  const c = strategy === "ORTB" ? fitWinFunctionC(d) : 0;
  const params = (scale: number): StrategyParams => paramsAtScale(strategy, d, scale, { c, seed: options.seed });
  const pacingOpt = options.pacing;
  if (!pacingOpt) {
    const s = solveScale(d, budget, params);
    return { params: params(s.scale), result: s.result, candidates: s.replays };
  }
  let best: Tuned | undefined;
  let replays = 0;
  for (const gains of space.gains) {
    const settings: PacingSettings = { gains, steps: pacingOpt.steps };
    if (pacingOpt.hourly) settings.hourly = pacingOpt.hourly;
    const s = solveScale(d, budget, params, { core: pacingOpt.core, settings });
    replays += s.replays;
    if (best === undefined || s.result.pacingError < best.result.pacingError) best = { params: params(s.scale), gains, result: s.result, candidates: 0 };
  }
  best!.candidates = replays;
  return best!;
}

/** The best of explicit candidates (see tune). */
export function tuneAmong(
  d: ReplayData,
  budget: number,
  cands: readonly StrategyParams[],
  gainsList: ReadonlyArray<PidGainsConfig | undefined>,
  pacingOpt?: { core: NexusCore; steps: number; hourly?: readonly number[] },
): Tuned {
  let best: Tuned | undefined;
  let bestLoose: Tuned | undefined;
  for (const gains of gainsList) {
    for (const params of cands) {
      let pacing: { core: NexusCore; settings: PacingSettings } | undefined;
      if (pacingOpt && gains) {
        const settings: PacingSettings = { gains, steps: pacingOpt.steps };
        if (pacingOpt.hourly) settings.hourly = pacingOpt.hourly;
        pacing = { core: pacingOpt.core, settings };
      }
      const result = simulate(d, budget, bidder(params, d), pacing ? { pacing } : {});
      const t: Tuned = { params, result, candidates: 0 };
      if (gains) t.gains = gains;
      if (pacing !== undefined && result.pacingError > MAX_TUNED_PACING_ERROR) {
        if (bestLoose === undefined || result.pacingError < bestLoose.result.pacingError) bestLoose = t;
        continue;
      }
      if (better(result, best?.result, pacing !== undefined)) best = t;
    }
  }
  const chosen = best ?? bestLoose!;
  chosen.candidates = cands.length * gainsList.length;
  return chosen;
}
