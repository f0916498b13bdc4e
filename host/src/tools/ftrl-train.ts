// Training and evaluating the pCTR/pCVR pair with the core's FTRL-Proximal:
// seeded shuffled epochs, the constant pCVR fallback, evaluation through the
// filter's own scorer (NXM blob loaded into the core), and a grid search on
// folds of the training data (never on the test file).
import { encodeNxm } from "../models/nxm.ts";
import type { LrModelPair } from "../models/model.ts";
import type { FtrlHyperParams, NexusCore } from "./core.ts";
import type { ExampleSet } from "./examples.ts";
import { evaluateBinary, evaluateWithReliability, type BinaryEvaluation, type CalibratedEvaluation } from "./metrics.ts";
import { mulberry32, permutation } from "./rng.ts";
import { NexusError } from "../errors.ts";

/** The core's FtrlParams defaults (assembly/core/train/ftrl.ts). */
export const DEFAULT_FTRL: Readonly<FtrlHyperParams> = { alpha: 0.05, beta: 1.0, l1: 1.0, l2: 1.0 };

/** pCVR when no conversion labels exist: sigmoid(b_cvr) = p with all CVR weights 0. */
export const DEFAULT_CVR_PRIOR = 0.05;

export interface TrainSettings extends FtrlHyperParams {
  hashBits: number;
  epochs: number;
  seed: number;
  /** pCVR of the constant model used when there are no conversion labels. */
  cvrPrior: number;
  /** Models averaged into the one written (seeds seed … seed+bag−1); default DEFAULT_BAG. */
  bag?: number;
  /** Start the bias at the log-odds of the training base rate instead of 0 (default true). */
  baseRateBias?: boolean;
}

/** Seeds averaged by default: bagging over shuffle orders (validated on train folds, docs/TOOLS.md). */
export const DEFAULT_BAG = 5;

export interface TrainedModel {
  model: LrModelPair;
  /** "trained" when conversion labels of clicked examples existed, else "constant". */
  cvr: "trained" | "constant";
  cvrExamples: number;
  /** Non-zero CTR weights. */
  nonZeroCtr: number;
  nonZeroCvr: number;
}

export function logit(p: number): number {
  return Math.log(p / (1 - p));
}

/**
 * Log-odds of the smoothed rate (positives + ½) / (n + 1): the bias a model
 * with no features would learn, finite even when a fold has no positive.
 */
export function baseRateLogit(positives: number, n: number): number {
  return logit((positives + 0.5) / (n + 1));
}

/** Click and conversion base rates of the examples at `idx` (all when absent), as starting biases. */
function startBiases(set: ExampleSet, idx?: ArrayLike<number>): { ctr: number; cvr: number } {
  const n = idx ? idx.length : set.size;
  let clicks = 0;
  let cvrN = 0;
  let conversions = 0;
  for (let k = 0; k < n; k++) {
    const i = idx ? idx[k]! : k;
    if (set.click(i) === 1) {
      clicks++;
      const c = set.conversion(i);
      if (c >= 0) {
        cvrN++;
        conversions += c;
      }
    }
  }
  return { ctr: baseRateLogit(clicks, n), cvr: baseRateLogit(conversions, cvrN) };
}

/**
 * Fresh FTRL models. With `baseRateBias` the bias starts at the base rate's
 * log-odds: the first gradients are then centred and each feature learns its
 * deviation from the average. Started at 0, every frequent feature takes a
 * share of the (very negative) intercept, and a value unseen in training
 * (weight 0) lacks that share and scores far above the average — which on a
 * new day is most IPs, hours and cities.
 */
function initModels(core: NexusCore, hashBits: number, p: FtrlHyperParams, biases: { ctr: number; cvr: number } | undefined): void {
  core.ftrlInit(hashBits, p);
  if (biases) {
    core.ftrlSetBias(0, biases.ctr);
    core.ftrlSetBias(1, biases.cvr);
  }
}

/** One pass over `order` (indices into `set`): CTR on every example, CVR on clicked examples with a conversion label. */
function epoch(core: NexusCore, set: ExampleSet, order: ArrayLike<number>, trainCvr: boolean): void {
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    const x = set.features(i);
    core.ftrlUpdate(0, x, set.click(i));
    if (trainCvr && set.click(i) === 1) {
      const conv = set.conversion(i);
      if (conv >= 0) core.ftrlUpdate(1, x, conv);
    }
  }
}

/** Counts non-zero weights, turning −0 into +0 (NXM sparse drops zeros and decodes them as +0). */
function normaliseZeros(w: Float32Array): number {
  let n = 0;
  for (let i = 0; i < w.length; i++) {
    if (w[i] === 0) w[i] = 0;
    else n++;
  }
  return n;
}

/** Running mean of `bag` weight vectors and biases, in float64. */
class WeightMean {
  readonly w: Float64Array;
  b = 0;
  constructor(size: number, private readonly count: number) {
    this.w = new Float64Array(size);
  }
  add(m: { weights: Float32Array; bias: number }): void {
    for (let i = 0; i < m.weights.length; i++) if (m.weights[i] !== 0) this.w[i]! += m.weights[i]! / this.count;
    this.b += m.bias / this.count;
  }
}

/**
 * Trains a model pair on `set`. Each of the `bag` models makes `epochs` passes,
 * each over a fresh shuffle seeded from its own seed (seed + b); the written
 * model averages their weights and biases. Averaging logistic models'
 * weights averages their logits, so the result is one linear model the filter
 * scores as any other, with less of the variance one shuffle order puts into
 * an online learner. pCVR is trained on the clicked examples that carry a
 * conversion label (conversion given click); when there are none it is the
 * constant model b_cvr = logit(cvrPrior), weights 0.
 */
export function trainModel(core: NexusCore, set: ExampleSet, s: TrainSettings, onEpoch?: (e: number) => void): TrainedModel {
  core.setHashBits(s.hashBits);
  const bag = s.bag ?? DEFAULT_BAG;
  const biases = s.baseRateBias === false ? undefined : startBiases(set);
  const cvrExamples = set.cvrExamples.n;
  const trainCvr = cvrExamples > 0;
  const size = 2 ** s.hashBits;
  const ctr = new WeightMean(size, bag);
  const cvr = new WeightMean(size, bag);
  for (let b = 0; b < bag; b++) {
    initModels(core, s.hashBits, s, biases);
    const rand = mulberry32(s.seed + b);
    for (let e = 1; e <= s.epochs; e++) {
      epoch(core, set, permutation(set.size, rand), trainCvr);
      onEpoch?.(b * s.epochs + e);
    }
    ctr.add(core.ftrlWeights(0, s.hashBits));
    if (trainCvr) cvr.add(core.ftrlWeights(1, s.hashBits));
  }
  const model: LrModelPair = {
    hashBits: s.hashBits,
    wCtr: Float32Array.from(ctr.w),
    bCtr: Math.fround(ctr.b),
    wCvr: trainCvr ? Float32Array.from(cvr.w) : new Float32Array(size),
    bCvr: Math.fround(trainCvr ? cvr.b : logit(s.cvrPrior)),
  };
  const nonZeroCtr = normaliseZeros(model.wCtr);
  const nonZeroCvr = normaliseZeros(model.wCvr);
  return { model, cvr: trainCvr ? "trained" : "constant", cvrExamples, nonZeroCtr, nonZeroCvr };
}

export interface Evaluation {
  ctr: CalibratedEvaluation;
  /** On clicked examples with a conversion label; undefined when there are none. */
  cvr?: BinaryEvaluation;
}

/** Scores every example with the filter's scorer (the model's NXM blob loaded into the core). */
export function scoreSet(core: NexusCore, model: LrModelPair, set: ExampleSet): { pCtr: Float64Array; pCvr: Float64Array } {
  core.setHashBits(model.hashBits);
  core.loadModel(encodeNxm(model), model.hashBits);
  const pCtr = new Float64Array(set.size);
  const pCvr = new Float64Array(set.size);
  for (let i = 0; i < set.size; i++) {
    const s = core.score(set.features(i));
    pCtr[i] = s.pCtr;
    pCvr[i] = s.pCvr;
  }
  return { pCtr, pCvr };
}

export function evaluateModel(core: NexusCore, model: LrModelPair, set: ExampleSet): Evaluation {
  const { pCtr, pCvr } = scoreSet(core, model, set);
  const clicks = new Uint8Array(set.size);
  const cvrP: number[] = [];
  const cvrY: number[] = [];
  for (let i = 0; i < set.size; i++) {
    clicks[i] = set.click(i);
    if (set.click(i) === 1 && set.conversion(i) >= 0) {
      cvrP.push(pCvr[i]!);
      cvrY.push(set.conversion(i));
    }
  }
  const out: Evaluation = { ctr: evaluateWithReliability(pCtr, clicks) };
  if (cvrY.length > 0) out.cvr = evaluateBinary(cvrP, cvrY);
  return out;
}

// ---- tuning -------------------------------------------------------------------

export interface TuneGrid {
  alpha: readonly number[];
  beta: readonly number[];
  l1: readonly number[];
  l2: readonly number[];
  /** Epochs 1 … maxEpochs are all scored (one run per setting). */
  maxEpochs: number;
}

/** 5 × 2 × 5 × 2 = 100 settings, each scored after epochs 1–6: 600 trials (docs/TOOLS.md). */
export const DEFAULT_TUNE_GRID: TuneGrid = {
  alpha: [0.05, 0.1, 0.2, 0.5, 1],
  beta: [0.1, 1],
  l1: [0, 1, 2, 4, 8],
  l2: [0, 1],
  maxEpochs: 6,
};

export interface TuneTrial extends FtrlHyperParams {
  epochs: number;
  /** Mean validation AUC over the folds. */
  auc: number;
  logLoss: number;
}

export interface TuneResult {
  best: TuneTrial;
  folds: number;
  repeats: number;
  trials: number;
  /** The best 10 trials (by AUC). */
  top: TuneTrial[];
}

/**
 * Grid search with repeated k-fold cross-validation on `set` (`repeats`
 * seeded random splits into `folds` parts): for every (alpha, beta, l1, l2),
 * train on k−1 folds and score the held-out fold after each epoch with the
 * core's FTRL prediction. The best AUC averaged over all folds of all repeats
 * wins (lower log loss breaks ties). Repeats matter with few clicks: one split's
 * ranking of settings is mostly noise.
 */
export function tuneFtrl(
  core: NexusCore,
  set: ExampleSet,
  grid: TuneGrid,
  options: {
    hashBits: number;
    folds: number;
    repeats?: number;
    seed: number;
    /** Start each fold's bias at its training rows' base rate, as trainModel does (default true). */
    baseRateBias?: boolean;
    onTrial?: (done: number, total: number) => void;
  },
): TuneResult {
  const k = Math.max(2, options.folds);
  const repeats = Math.max(1, options.repeats ?? 1);
  let clicks = 0;
  for (let i = 0; i < set.size; i++) clicks += set.click(i) ? 1 : 0;
  if (clicks === 0 || clicks === set.size) {
    throw new NexusError("TUNE_NO_AUC", `--tune needs clicks and non-clicks to rank settings by AUC; the data has ${clicks} clicks in ${set.size} rows`);
  }
  const splits: Uint8Array[] = [];
  for (let r = 0; r < repeats; r++) {
    const perm = permutation(set.size, mulberry32((options.seed ^ 0x5eed) + r * 7919));
    const foldOf = new Uint8Array(set.size);
    for (let i = 0; i < perm.length; i++) foldOf[perm[i]!] = i % k;
    splits.push(foldOf);
  }
  const runs = k * repeats;
  core.setHashBits(options.hashBits);

  const combos: FtrlHyperParams[] = [];
  for (const alpha of grid.alpha) for (const beta of grid.beta) for (const l1 of grid.l1) for (const l2 of grid.l2) combos.push({ alpha, beta, l1, l2 });
  const trials: TuneTrial[] = [];
  let done = 0;
  for (const p of combos) {
    // A validation fold without a click (or without a non-click) has no AUC: the setting's AUC
    // is the mean over the folds that have one (one NaN fold made every mean NaN, and the first
    // grid point was then taken unranked).
    const aucs = new Float64Array(grid.maxEpochs);
    const aucFolds = new Float64Array(grid.maxEpochs);
    const losses = new Float64Array(grid.maxEpochs);
    for (let run = 0; run < runs; run++) {
      const foldOf = splits[Math.floor(run / k)]!;
      const f = run % k;
      const trainIdx: number[] = [];
      const validIdx: number[] = [];
      for (let i = 0; i < set.size; i++) (foldOf[i] === f ? validIdx : trainIdx).push(i);
      initModels(core, options.hashBits, p, options.baseRateBias === false ? undefined : startBiases(set, trainIdx));
      const rand = mulberry32(options.seed + run);
      const labels = validIdx.map((i) => set.click(i));
      for (let e = 0; e < grid.maxEpochs; e++) {
        const order = permutation(trainIdx.length, rand);
        for (let r = 0; r < order.length; r++) {
          const i = trainIdx[order[r]!]!;
          core.ftrlUpdate(0, set.features(i), set.click(i));
        }
        const probs = validIdx.map((i) => core.ftrlPredict(0, set.features(i)));
        const ev = evaluateBinary(probs, labels);
        if (Number.isFinite(ev.auc)) {
          aucs[e]! += ev.auc;
          aucFolds[e]! += 1;
        }
        losses[e]! += ev.logLoss / runs;
      }
    }
    for (let e = 0; e < grid.maxEpochs; e++) trials.push({ ...p, epochs: e + 1, auc: aucFolds[e]! > 0 ? aucs[e]! / aucFolds[e]! : NaN, logLoss: losses[e]! });
    options.onTrial?.(++done, combos.length);
  }
  const ranked = trials.filter((t) => Number.isFinite(t.auc)).sort((a, b) => b.auc - a.auc || a.logLoss - b.logLoss);
  const best = ranked[0];
  if (best === undefined) throw new NexusError("TUNE_NO_AUC", "--tune: no setting has a cross-validated AUC (a fold without a click or without a non-click)");
  return { best, folds: k, repeats, trials: trials.length, top: ranked.slice(0, 10) };
}
