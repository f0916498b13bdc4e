// Rules of the offline tools that a mutation audit (stop 34) found no test for: each test here
// failed on a one-line change of the code that the rest of the suite let through (the id in
// brackets names the change in the audit's table). Kept as regular tests of those rules.
// Covers: host/src/tools/metrics.ts
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { aucStandardError, evaluateBinary, reliability } from "../../host/src/tools/metrics.ts";

describe("pinned rules: metrics", () => {
  it("evaluateBinary's standard error is Hanley–McNeil with (positives, negatives) in that order [M05]", () => {
    const probs = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
    const labels = [0, 0, 0, 1, 0, 0, 0, 1, 0, 1]; // 3 positives, 7 negatives: the formula is asymmetric
    const e = evaluateBinary(probs, labels);
    assert.ok(Math.abs(e.aucStdErr - aucStandardError(e.auc, 3, 7)) < 1e-15, `${e.aucStdErr} vs ${aucStandardError(e.auc, 3, 7)}`);
    assert.notEqual(aucStandardError(e.auc, 3, 7), aucStandardError(e.auc, 7, 3));
  });

  it("the ECE weights each bin by its share of the rows (uneven bins) [M06]", () => {
    // 7 rows in 3 bins of 3, 2, 2 rows
    const t = reliability([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0, 0, 0, 0, 0, 0, 1], 3);
    const gaps = t.bins.map((b) => Math.abs(b.predicted - b.observed));
    const expected = (3 / 7) * gaps[0]! + (2 / 7) * gaps[1]! + (2 / 7) * gaps[2]!;
    assert.ok(Math.abs(t.ece - expected) < 1e-12, `${t.ece} vs ${expected}`);
  });
});
