// Parameter search for the replay strategies: every candidate is replayed on
// one data set at one budget and the one winning the most clicks is kept
// (fewer spend breaks ties). The tools tune on the TRAIN file and evaluate on
// the TEST file; only the LIN "oracle" is tuned on the test set itself, as the
// upper reference it is.
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
 * Candidate parameter sets of a strategy on tuning data `d` (LIN divides by
 * d's average CTR, which stays with the parameters when they are replayed on
 * other data, as a bidder only knows its past; ORTB's λ comes from c and the
 * target bid at d's mean pCTR).
 */
export function candidates(strategy: StrategyName, d: ReplayData, space: SearchSpace, seed: number): StrategyParams[] {
  const avg = meanPctr(d);
  switch (strategy) {
    case "CONST":
      return space.bids.map((bid) => ({ strategy, bid }));
    case "RAND":
      return space.bids.map((upper) => ({ strategy, upper, seed }));
    case "LIN": {
      // Bases are searched as the bid at the mean pCTR (B = base × mean pCTR / avgCTR), so the
      // grid fits the prices even when the pCTR is far from the click rate (an uncalibrated model).
      const avgCtr = averageCtr(d);
      return space.bids.map((b) => ({ strategy, base: (b * avgCtr) / avg, avgCtr }));
    }
    case "ORTB": {
      const out: StrategyParams[] = [];
      // sqrt(c/λ · avg + c²) − c = B  ⇔  λ = c · avg / ((B + c)² − c²)
      for (const c of space.ortbC) for (const b of space.bids) out.push({ strategy, c, lambda: (c * avg) / ((b + c) ** 2 - c * c) });
      return out;
    }
  }
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
  options: { seed: number; pacing?: { core: NexusCore; steps: number; hourly?: readonly number[] } } = { seed: 1 },
): Tuned {
  const cands = candidates(strategy, d, space, options.seed);
  return tuneAmong(d, budget, cands, options.pacing ? space.gains : [undefined], options.pacing);
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
