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
