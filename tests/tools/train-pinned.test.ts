// Rules of the offline tools that a mutation audit (stop 34) found no test for: each test here
// failed on a one-line change of the code that the rest of the suite let through (the id in
// brackets names the change in the audit's table). Kept as regular tests of those rules.
// Covers: training (host/src/tools/ftrl-train.ts, train.ts)
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { NexusCore } from "../../host/src/tools/core.ts";
import { loadExamples } from "../../host/src/tools/examples.ts";
import { baseRateLogit, runTrain, trainModel, tuneFtrl } from "../../host/src/tools/train.ts";
import { fixture, loadCore } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "mut-train-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
let core: NexusCore;
before(async () => {
  core = await loadCore();
});
const SETTINGS = { hashBits: 18, alpha: 0.1, beta: 1, l1: 0.5, l2: 1, epochs: 3, seed: 1, cvrPrior: 0.05 };
const event = (i: number, click: number, conversion?: number): string =>
  JSON.stringify({ request: { id: `e${i}`, imp: [{ id: "1", banner: { w: 300, h: 250 }, tagid: `slot-${i % 3}` }], site: { domain: "a.example" } }, time_ms: 1700000000000 + i * 60000, click, ...(conversion === undefined ? {} : { conversion }) });

describe("pinned rules: training", () => {
  it("tuning: equal AUCs go to the lower log loss [F03]", async () => {
    const { set } = await loadExamples(core, fixture("train-raw.sample.txt"), { format: "raw" });
    // l1 so large that no feature weight leaves 0: every fold's predictions are one constant, AUC 0.5 everywhere
    const r = tuneFtrl(core, set, { alpha: [0.01, 0.3, 1], beta: [1], l1: [1e6], l2: [0], maxEpochs: 2 }, { hashBits: 18, folds: 2, repeats: 1, seed: 1 });
    const tied = r.top.filter((t) => t.auc === r.best.auc);
    assert.ok(tied.length > 1, "setup: ties");
    for (const t of tied) assert.ok(r.best.logLoss <= t.logLoss, `${r.best.logLoss} > ${t.logLoss}`);
  });

  it("pCVR: a clicked row without a conversion label does not train pCVR [F05]", async () => {
    // A: 10 clicks that convert + 30 clicks without a conversion label; B: the same 10 + 30 rows without a click.
    // Same size, so the same shuffles; pCVR trains on the same 10 rows in the same order: equal pCVR models.
    const write = (name: string, tail: (i: number) => string): string => {
      const path = join(tmp, name);
      writeFileSync(path, Array.from({ length: 40 }, (_, i) => (i < 10 ? event(i, 1, 1) : tail(i))).join("\n") + "\n");
      return path;
    };
    const a = (await loadExamples(core, write("a.jsonl", (i) => event(i, 1)), { format: "events" })).set;
    const b = (await loadExamples(core, write("b.jsonl", (i) => event(i, 0)), { format: "events" })).set;
    assert.deepEqual([a.cvrExamples.n, b.cvrExamples.n], [10, 10]);
    const ma = trainModel(core, a, { ...SETTINGS, bag: 1 }).model;
    const mb = trainModel(core, b, { ...SETTINGS, bag: 1 }).model;
    assert.equal(ma.bCvr, mb.bCvr);
    assert.deepEqual(ma.wCvr, mb.wCvr);
  });

  it("--bag averages the pCVR biases too [F06]", async () => {
    const { set } = await loadExamples(core, fixture("events-train.sample.jsonl"), { format: "events" });
    const singles = [1, 2, 3].map((seed) => trainModel(core, set, { ...SETTINGS, seed, bag: 1 }).model.bCvr);
    const bagged = trainModel(core, set, { ...SETTINGS, seed: 1, bag: 3 }).model.bCvr;
    assert.ok(Math.abs(bagged - (singles[0]! + singles[1]! + singles[2]!) / 3) < 1e-5, `${bagged} vs ${singles}`);
  });

  it("the pCVR bias starts at the conversion rate of the clicked, labelled rows [F07]", async () => {
    const { set } = await loadExamples(core, fixture("events-train.sample.jsonl"), { format: "events" });
    let n = 0;
    let conv = 0;
    for (let i = 0; i < set.size; i++) if (set.click(i) === 1 && set.conversion(i) >= 0) { n++; conv += set.conversion(i); }
    // alpha tiny: the weights barely move from their start
    const m = trainModel(core, set, { ...SETTINGS, alpha: 1e-9, epochs: 1, bag: 1 });
    assert.ok(Math.abs(m.model.bCvr - baseRateLogit(conv, n)) < 1e-4, `${m.model.bCvr} vs ${baseRateLogit(conv, n)} (${conv}/${n})`);
  });

  it("--test metrics are computed on the test file [F08]", async () => {
    const s = await runTrain({ data: fixture("train-raw.sample.txt"), format: "raw", test: fixture("test-raw.sample.txt"), out: join(tmp, "m"), settings: { ...SETTINGS, bag: 1 } });
    assert.notEqual(s.data.examples, s.test!.examples);
    assert.equal(s.metrics.test!.ctr.n, s.test!.examples);
    assert.equal(s.metrics.test!.ctr.positives, s.test!.clicks);
  });
});
