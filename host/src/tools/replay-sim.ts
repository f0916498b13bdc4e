// Auction replay with a budget (the protocol of the RTB literature, e.g.
// Zhang et al., "Optimal Real-Time Bidding for Display Advertising", KDD 2014):
// each logged impression is an auction; a bid wins when it is strictly above
// the logged market price and pays the market price. Like the filter, a bid is
// only placed when its full amount can be reserved against what is left of
// the budget (hard cap), so spend never exceeds the budget; bidding stops when
// the budget is spent. Optional pacing: the filter's own PID controller and
// spend plan (the core's exports) turn "planned − actual spend" into a
// multiplier on the bid, over the replayed period mapped onto one day.
//
// Units: prices, bids, spend and budgets are CPM in the log's money (iPinYou:
// fen per 1000 impressions); the spend of n impressions is the sum of their
// CPM prices (so 1000 × the money actually paid), as in the literature.
import type { NexusCore, PidGainsConfig } from "./core.ts";
import { DEFAULT_PID_GAINS } from "./core.ts";
import { mulberry32 } from "./rng.ts";

export const DAY_MS = 86_400_000;

/** Auctions in time order. */
export interface ReplayData {
  n: number;
  click: Uint8Array;
  /** Market price, CPM. */
  price: Float64Array;
  pctr: Float64Array;
  /** Position in the period, 0 ≤ t < 1, non-decreasing. */
  time: Float64Array;
}

export function replayData(rows: ReadonlyArray<{ click: number; price: number; pctr: number; time?: number }>): ReplayData {
  const n = rows.length;
  const d: ReplayData = { n, click: new Uint8Array(n), price: new Float64Array(n), pctr: new Float64Array(n), time: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    d.click[i] = r.click;
    d.price[i] = r.price;
    d.pctr[i] = r.pctr;
    d.time[i] = r.time ?? i / n;
  }
  return d;
}

export function totalCost(d: ReplayData): number {
  let s = 0;
  for (let i = 0; i < d.n; i++) s += d.price[i]!;
  return s;
}

export function totalClicks(d: ReplayData): number {
  let s = 0;
  for (let i = 0; i < d.n; i++) s += d.click[i]!;
  return s;
}

export function meanPctr(d: ReplayData): number {
  let s = 0;
  for (let i = 0; i < d.n; i++) s += d.pctr[i]!;
  return d.n > 0 ? s / d.n : 0;
}

// ---- strategies ------------------------------------------------------------------

export type StrategyName = "CONST" | "RAND" | "LIN" | "ORTB";
export const STRATEGIES: readonly StrategyName[] = ["CONST", "RAND", "LIN", "ORTB"];

export type StrategyParams =
  | { strategy: "CONST"; bid: number }
  | { strategy: "RAND"; upper: number; seed: number }
  | { strategy: "LIN"; base: number; avgCtr: number }
  | { strategy: "ORTB"; c: number; lambda: number };

/** The bid (CPM) of a strategy for auction i; RAND draws from its own seeded stream. */
export function bidder(p: StrategyParams, d: ReplayData): (i: number) => number {
  switch (p.strategy) {
    case "CONST":
      return () => p.bid;
    case "RAND": {
      const rand = mulberry32(p.seed);
      return () => rand() * p.upper;
    }
    case "LIN":
      // Perlich et al. 2012: bid = base × pCTR / average CTR.
      return (i) => (p.base * d.pctr[i]!) / p.avgCtr;
    case "ORTB":
      // ORTB1 (Zhang et al. 2014): bid = sqrt(c/λ · pCTR + c²) − c.
      return (i) => Math.sqrt((p.c / p.lambda) * d.pctr[i]! + p.c * p.c) - p.c;
  }
}

export function describeParams(p: StrategyParams): string {
  switch (p.strategy) {
    case "CONST": return `bid ${round(p.bid)}`;
    case "RAND": return `upper ${round(p.upper)}`;
    case "LIN": return `base ${round(p.base)}`;
    case "ORTB": return `c ${round(p.c)} λ ${p.lambda.toExponential(2)}`;
  }
}

function round(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toPrecision(3);
}

// ---- pacing ----------------------------------------------------------------------

export interface PacingSettings {
  gains: PidGainsConfig;
  /** Control steps over the period (the filter ticks every 100–250 ms; here 1440 = one per "minute"). */
  steps: number;
  /** Optional 24 hourly weights of the spend plan (default flat). */
  hourly?: readonly number[];
}

export const DEFAULT_PACING: Readonly<PacingSettings> = { gains: DEFAULT_PID_GAINS, steps: 1440 };

// ---- simulation --------------------------------------------------------------------

/** Equal time slices the spend curve and the pacing error are measured on. */
export const CURVE_SLICES = 24;

export interface SimResult {
  budget: number;
  /** Auctions bid on (a bid > 0 that could be reserved). */
  bids: number;
  impressions: number;
  clicks: number;
  /** Sum of the pCTR of the impressions won (the clicks the bidder expected). */
  expectedClicks: number;
  spend: number;
  /** Cumulative spend at the end of each of CURVE_SLICES equal time slices. */
  curve: number[];
  /** Position in the period (0..1) when 95% of the budget had been spent; undefined when it never was. */
  spent95At?: number;
  /** Position in the period of the last impression won (0 when none). */
  lastWinAt: number;
  /**
   * RMS over the slices of (actual − planned cumulative spend) / (budget per
   * slice), with the flat plan: 0 = on plan; 1 = one slice's budget off on average.
   */
  pacingError: number;
  /** Mean pacing multiplier over the bids placed (1 without pacing). */
  meanMultiplier: number;
}

export interface SimOptions {
  pacing?: { core: NexusCore; settings: PacingSettings };
}

/**
 * Replays the auctions with `bid(i)` and a budget. A bid is placed when it is
 * > 0 and ≤ what is left of the budget (the reservation succeeds); it wins when
 * bid > market price (strictly) and then pays the market price.
 */
export function simulate(d: ReplayData, budget: number, bid: (i: number) => number, options: SimOptions = {}): SimResult {
  let remaining = budget;
  let spend = 0;
  let bids = 0;
  let impressions = 0;
  let clicks = 0;
  let expectedClicks = 0;
  let multiplier = 1;
  let multSum = 0;
  let spent95At: number | undefined;
  let lastWinAt = 0;
  const curve = new Array<number>(CURVE_SLICES).fill(0);
  let slice = 0;

  const pacing = options.pacing;
  let pid = -1;
  let nextStep = 0;
  let step = 0;
  let dt = 0;
  if (pacing) {
    const { core, settings } = pacing;
    core.pidConfigure(settings.gains);
    if (settings.hourly) core.planSetHourly(settings.hourly);
    else core.planSetFlat();
    core.planSetFinishEarly(0);
    pid = core.pidCreate();
    dt = DAY_MS / 1000 / settings.steps;
  }

  for (let i = 0; i < d.n; i++) {
    const t = d.time[i]!;
    while (slice < CURVE_SLICES - 1 && t >= (slice + 1) / CURVE_SLICES) curve[slice++] = spend;
    if (pacing) {
      const steps = pacing.settings.steps;
      while (t >= nextStep && step < steps) {
        const planned = pacing.core.planFraction(nextStep * DAY_MS) * budget;
        multiplier = pacing.core.pidUpdate(pid, (planned - spend) / budget, dt);
        step++;
        nextStep = step / steps;
      }
    }
    const b = bid(i) * multiplier;
    if (!(b > 0) || b > remaining) continue;
    bids++;
    multSum += multiplier;
    const price = d.price[i]!;
    if (b > price) {
      impressions++;
      clicks += d.click[i]!;
      expectedClicks += d.pctr[i]!;
      spend += price;
      remaining -= price;
      lastWinAt = t;
      if (spent95At === undefined && spend >= 0.95 * budget) spent95At = t;
      if (remaining <= 0) break;
    }
  }
  while (slice < CURVE_SLICES) curve[slice++] = spend;
  if (pacing) pacing.core.pidRelease(pid);

  let sq = 0;
  const perSlice = budget / CURVE_SLICES;
  for (let s = 0; s < CURVE_SLICES; s++) {
    const planned = (budget * (s + 1)) / CURVE_SLICES;
    const e = (curve[s]! - planned) / perSlice;
    sq += e * e;
  }
  const out: SimResult = {
    budget,
    bids,
    impressions,
    clicks,
    expectedClicks,
    spend,
    curve,
    lastWinAt,
    pacingError: Math.sqrt(sq / CURVE_SLICES),
    meanMultiplier: bids > 0 ? multSum / bids : 1,
  };
  if (spent95At !== undefined) out.spent95At = spent95At;
  return out;
}
