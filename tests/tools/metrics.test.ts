// AUC (exact, ties by average ranks) and log loss (clipped) against values
// computed by hand.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { auc, aucStandardError, evaluateBinary, logLoss } from "../../host/src/tools/metrics.ts";

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
