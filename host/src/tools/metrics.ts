// Offline evaluation metrics of a CTR model: ROC AUC (exact, ties by average
// ranks) and log loss (predictions clipped away from 0 and 1).

/** Default clipping of log loss: p is kept in [eps, 1 − eps]. */
export const LOG_LOSS_EPS = 1e-15;

/**
 * Area under the ROC curve of `scores` for binary `labels`, computed exactly
 * with the rank-sum (Mann–Whitney U) formula; tied scores get the average of
 * their ranks (a tie between a positive and a negative counts one half).
 * NaN when there is no positive or no negative.
 */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  if (labels.length !== n) throw new RangeError(`auc: ${n} scores but ${labels.length} labels`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!]! === scores[order[i]!]!) j++;
    const avgRank = (i + j) / 2 + 1; // ranks i+1 … j+1
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!]! > 0) {
        positives++;
        rankSum += avgRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean negative log-likelihood of binary `labels` under `probs` (clipped to [eps, 1 − eps]). NaN when empty. */
export function logLoss(probs: ArrayLike<number>, labels: ArrayLike<number>, eps: number = LOG_LOSS_EPS): number {
  const n = probs.length;
  if (labels.length !== n) throw new RangeError(`logLoss: ${n} predictions but ${labels.length} labels`);
  if (n === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(Math.max(probs[i]!, eps), 1 - eps);
    sum += labels[i]! > 0 ? -Math.log(p) : -Math.log(1 - p);
  }
  return sum / n;
}

/**
 * Standard error of an AUC (Hanley & McNeil 1982): how much the AUC of a
 * test set with `positives` and `negatives` moves by chance alone.
 */
export function aucStandardError(a: number, positives: number, negatives: number): number {
  if (!(positives > 0 && negatives > 0) || !Number.isFinite(a)) return Number.NaN;
  const q1 = a / (2 - a);
  const q2 = (2 * a * a) / (1 + a);
  const v = (a * (1 - a) + (positives - 1) * (q1 - a * a) + (negatives - 1) * (q2 - a * a)) / (positives * negatives);
  return Math.sqrt(Math.max(v, 0));
}

export interface BinaryEvaluation {
  n: number;
  positives: number;
  auc: number;
  /** Hanley–McNeil standard error of the AUC. */
  aucStdErr: number;
  logLoss: number;
  /** Mean prediction / observed rate (1 = calibrated on average). */
  calibration: number;
}

/** A held-out evaluation with its reliability table (evaluateWithReliability). */
export interface CalibratedEvaluation extends BinaryEvaluation {
  /** Calibration by equal-count bins of the prediction (RELIABILITY_BINS), lowest first. */
  reliability: ReliabilityBin[];
  /** Expected calibration error: Σ over the bins of (rows / all rows) × |mean prediction − observed rate|. */
  ece: number;
}

/** One bin of a reliability table. */
export interface ReliabilityBin {
  n: number;
  positives: number;
  /** Mean prediction of the bin's rows. */
  predicted: number;
  /** Observed rate: positives / n. */
  observed: number;
  /** Lowest and highest prediction in the bin. */
  min: number;
  max: number;
}

/** Deciles: with the test sets' 50-250 clicks, each holds a handful. */
export const RELIABILITY_BINS = 10;

/**
 * The rows sorted by prediction (ties by position, so the table is deterministic) and cut into
 * `bins` bins of equal count (the first ones one row larger when it does not divide): mean
 * prediction against observed rate per bin, and the expected calibration error. Fewer rows than
 * bins: one bin per row.
 */
export function reliability(probs: ArrayLike<number>, labels: ArrayLike<number>, bins: number = RELIABILITY_BINS): { bins: ReliabilityBin[]; ece: number } {
  const n = Math.min(probs.length, labels.length);
  if (n === 0) return { bins: [], ece: Number.NaN };
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => probs[a]! - probs[b]! || a - b);
  const k = Math.max(1, Math.min(bins, n));
  const out: ReliabilityBin[] = [];
  let ece = 0;
  let at = 0;
  for (let b = 0; b < k; b++) {
    const size = Math.floor(n / k) + (b < n % k ? 1 : 0);
    let sumP = 0;
    let positives = 0;
    for (let j = at; j < at + size; j++) {
      const i = order[j]!;
      sumP += probs[i]!;
      if (labels[i]! > 0) positives++;
    }
    const bin = { n: size, positives, predicted: sumP / size, observed: positives / size, min: probs[order[at]!]!, max: probs[order[at + size - 1]!]! };
    ece += (size / n) * Math.abs(bin.predicted - bin.observed);
    out.push(bin);
    at += size;
  }
  return { bins: out, ece };
}

export function evaluateBinary(probs: ArrayLike<number>, labels: ArrayLike<number>): BinaryEvaluation {
  let positives = 0;
  let sumP = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! > 0) positives++;
    sumP += probs[i]!;
  }
  const a = auc(probs, labels);
  return {
    n: labels.length,
    positives,
    auc: a,
    aucStdErr: aucStandardError(a, positives, labels.length - positives),
    logLoss: logLoss(probs, labels),
    calibration: positives > 0 ? sumP / positives : Number.NaN,
  };
}

/** evaluateBinary plus the reliability table (a sort more: for the printed evaluations, not every CV fold). */
export function evaluateWithReliability(probs: ArrayLike<number>, labels: ArrayLike<number>): CalibratedEvaluation {
  const table = reliability(probs, labels);
  return { ...evaluateBinary(probs, labels), reliability: table.bins, ece: table.ece };
}
