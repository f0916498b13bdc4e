// AUC (exact, ties by average ranks) and log loss (clipped) against values
// computed by hand.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { auc, aucStandardError, evaluateBinary, evaluateWithReliability, logLoss, reliability } from "../../host/src/tools/metrics.ts";

const close = (a: number, b: number, eps = 1e-12): void => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

describe("AUC", () => {
  it("perfect, reversed and constant rankings", () => {
    assert.equal(auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
    assert.equal(auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
    assert.equal(auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
  });

  it("ties between a positive and a negative count one half", () => {
    // positives 0.35, 0.8, 0.4, 0.1; negatives 0.1, 0.4, 0.4 → pairs won:
    // 0.35: 1; 0.8: 3; 0.4: 1 + 0.5 + 0.5; 0.1: 0.5 → 6.5 of 12
    close(auc([0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.1], [0, 0, 1, 1, 1, 0, 1]), 6.5 / 12);
  });

  it("does not depend on the order of the rows", () => {
    close(auc([0.4, 0.1, 0.8, 0.1, 0.4, 0.35, 0.4], [1, 0, 1, 1, 0, 1, 0]), 6.5 / 12);
  });

  it("is NaN without both classes", () => {
    assert.ok(Number.isNaN(auc([0.1, 0.2], [0, 0])));
    assert.ok(Number.isNaN(auc([0.1, 0.2], [1, 1])));
    assert.throws(() => auc([0.1], [0, 1]), RangeError);
  });

  it("standard error (Hanley–McNeil)", () => {
    // A = 0.6, 50 positives, 21100 negatives: Q1 = 0.6/1.4, Q2 = 0.72/1.6
    const q1 = 0.6 / 1.4;
    const q2 = 0.72 / 1.6;
    const v = (0.24 + 49 * (q1 - 0.36) + 21099 * (q2 - 0.36)) / (50 * 21100);
    close(aucStandardError(0.6, 50, 21100), Math.sqrt(v));
    assert.ok(Number.isNaN(aucStandardError(0.6, 0, 10)));
  });
});

describe("log loss", () => {
  it("mean negative log-likelihood", () => {
    const expected = (-Math.log(0.9) - Math.log(0.6) - Math.log(0.35) - Math.log(0.8) - Math.log(0.4) - Math.log(0.6) - Math.log(0.1)) / 7;
    close(logLoss([0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.1], [0, 0, 1, 1, 1, 0, 1]), expected);
    close(expected, 0.802693323410128, 1e-12);
  });

  it("clips predictions of exactly 0 and 1", () => {
    // p = 0 → 1e-15; p = 1 → 1 − 1e-15 (whose complement is 1e-15 up to float rounding)
    close(logLoss([0, 1], [1, 0]), (-Math.log(1e-15) - Math.log(1 - (1 - 1e-15))) / 2, 1e-9);
    close(logLoss([0, 1], [0, 1]), -Math.log(1 - 1e-15), 1e-12);
    close(logLoss([0], [1], 1e-7), -Math.log(1e-7));
    assert.ok(Number.isNaN(logLoss([], [])));
  });

  it("evaluateBinary bundles them", () => {
    const e = evaluateBinary([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]);
    assert.equal(e.n, 4);
    assert.equal(e.positives, 2);
    close(e.auc, 0.75);
    close(e.calibration, (0.1 + 0.4 + 0.35 + 0.8) / 2);
  });
});

describe("reliability table", () => {
  it("equal-count bins of the sorted predictions: mean prediction against observed rate, and the ECE", () => {
    // Sorted: 0.1 0.2 | 0.3 0.4 | 0.5 0.6 (given out of order), clicks on 0.2, 0.4, 0.5 and 0.6.
    const probs = [0.6, 0.1, 0.4, 0.3, 0.5, 0.2];
    const labels = [1, 0, 1, 0, 1, 1];
    const t = reliability(probs, labels, 3);
    assert.equal(t.bins.length, 3);
    assert.deepEqual(t.bins.map((b) => [b.n, b.positives, b.min, b.max]), [[2, 1, 0.1, 0.2], [2, 1, 0.3, 0.4], [2, 2, 0.5, 0.6]]);
    close(t.bins[0]!.predicted, 0.15);
    close(t.bins[1]!.predicted, 0.35);
    close(t.bins[2]!.predicted, 0.55);
    assert.deepEqual(t.bins.map((b) => b.observed), [0.5, 0.5, 1]);
    // ECE = 1/3 (|0.15 − 0.5| + |0.35 − 0.5| + |0.55 − 1|) = 1/3 (0.35 + 0.15 + 0.45)
    close(t.ece, 0.95 / 3);
  });

  it("uneven counts go to the first bins; fewer rows than bins make one bin a row; none, no bin", () => {
    const t = reliability([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0, 0, 0, 0, 0, 0, 1], 3);
    assert.deepEqual(t.bins.map((b) => b.n), [3, 2, 2]);
    assert.deepEqual(reliability([0.2, 0.1], [1, 0], 10).bins.map((b) => [b.predicted, b.observed]), [[0.1, 0], [0.2, 1]]);
    const none = reliability([], []);
    assert.deepEqual(none.bins, []);
    assert.ok(Number.isNaN(none.ece));
  });

  it("ties keep the rows' order, so the table does not depend on the sort", () => {
    const a = reliability([0.5, 0.5, 0.5, 0.5], [1, 0, 0, 0], 2);
    assert.deepEqual(a.bins.map((b) => b.positives), [1, 0]);
    const perfect = reliability([0, 0, 1, 1], [0, 0, 1, 1], 2);
    assert.equal(perfect.ece, 0);
  });

  it("evaluateWithReliability is evaluateBinary with the deciles", () => {
    const probs = Array.from({ length: 100 }, (_, i) => i / 200);
    const labels = probs.map((_, i) => (i % 7 === 0 ? 1 : 0));
    const e = evaluateWithReliability(probs, labels);
    assert.deepEqual({ ...e, reliability: undefined, ece: undefined }, { ...evaluateBinary(probs, labels), reliability: undefined, ece: undefined });
    assert.equal(e.reliability.length, 10);
    assert.ok(e.reliability.every((b) => b.n === 10));
    assert.equal(e.reliability.reduce((s, b) => s + b.positives, 0), 15);
  });
});

