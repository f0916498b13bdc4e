// Rules of the offline tools that a mutation audit (stop 34) found no test for: each test here
// failed on a one-line change of the code that the rest of the suite let through (the id in
// brackets names the change in the audit's table). Kept as regular tests of those rules.
// Covers: the replay (host/src/tools/replay*.ts)
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { NexusCore } from "../../host/src/tools/core.ts";
import { DEFAULT_PID_GAINS } from "../../host/src/tools/core.ts";
import {
  bidder, bootstrapClicks, clickDifference, defaultSearchSpace, fitWinFunctionC, geometric, loadRawLogReplay, loadReplayFile, main,
  paramsAtScale, renderReplayReport, replayData, runReplay, simulate, splitByTime, totalCost, tune, tuneAmong, tuneByBudget,
  type ReplayData, type ReplaySummary, type StrategyParams,
} from "../../host/src/tools/replay.ts";
import { mulberry32 } from "../../host/src/tools/rng.ts";
import { fixture, loadCore, ROOT } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "mut-replay-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
let core: NexusCore;
let rules: ReplayData;
before(async () => {
  core = await loadCore();
  rules = (await loadReplayFile(fixture("replay-rules.txt"))).data;
});
const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s), progress: false } };
};
/** rules with every price doubled and the rows twice: another set (cost 340, max price 60). */
const other = (): ReplayData => {
  const rows = [];
  for (let rep = 0; rep < 2; rep++) for (let i = 0; i < rules.n; i++) rows.push({ click: rules.click[i]!, price: 2 * rules.price[i]!, pctr: rules.pctr[i]! });
  return replayData(rows);
};

describe("pinned rules: replay", () => {
  it("expected clicks are the sum of the pCTR of the impressions won [R08]", () => {
    const r = simulate(rules, 1000, () => 20); // wins rows 0, 3, 5 (prices 10, 5, 0)
    assert.ok(Math.abs(r.expectedClicks - (0.001 + 0.003 + 0.002)) < 1e-12, String(r.expectedClicks));
  });

  it("ORTB's c is the least-squares fit to the share of prices STRICTLY below the bid [T01]", () => {
    // Many prices exactly 1 = the first bid of the grid: strictly below 1 is 0%, at or below is 50%.
    const d = replayData(Array.from({ length: 400 }, (_, i) => ({ click: 0, price: i % 2 === 0 ? 1 : 1 + (i % 97), pctr: 0.001 })));
    const prices = Float64Array.from(d.price).sort();
    const max = prices[prices.length - 1]!;
    const bids = geometric(1, 2 * max, 200);
    const rate = (b: number) => prices.filter((p) => p < b).length / prices.length;
    let best = max;
    let bestErr = Infinity;
    for (const c of geometric(0.1, 10 * max, 400)) {
      let err = 0;
      for (const b of bids) err += (rate(b) - b / (b + c)) ** 2;
      if (err < bestErr) [bestErr, best] = [err, c];
    }
    assert.equal(fitWinFunctionC(d), best);
  });

  it("LIN's average CTR is the tuning set's click rate [T02]", () => {
    const p = paramsAtScale("LIN", rules, 10, { c: 0, seed: 1 });
    assert.ok(p.strategy === "LIN" && p.avgCtr === 0.5, JSON.stringify(p)); // 3 clicks in 6 rows
  });

  it("clicks rule: equal clicks and expected clicks go to the lower spend [T04]", () => {
    const d = replayData([{ click: 1, price: 10, pctr: 0.01 }, { click: 0, price: 50, pctr: 0 }]);
    const t = tune(d, 1000, "CONST", defaultSearchSpace(d));
    assert.equal(t.result.clicks, 1);
    assert.equal(t.result.spend, 10);
  });

  it("clicks rule, paced: a configuration whose pacing error on train is above 1 is not chosen when one within 1 exists [T05]", () => {
    // clicks only in the first 10% of the period; a huge bid wins them all and is broke early (not paced)
    const rand = mulberry32(7);
    const d = replayData(Array.from({ length: 4000 }, (_, i) => ({ click: i < 400 && rand() < 0.05 ? 1 : 0, price: 1 + Math.floor(rand() * 100), pctr: 0.001 })));
    const budget = totalCost(d) / 8;
    const cands: StrategyParams[] = [{ strategy: "CONST", bid: 1e4 }, { strategy: "CONST", bid: 60 }];
    const gains = { ...DEFAULT_PID_GAINS };
    const pacing = { core, steps: 240 };
    const each = cands.map((p) => simulate(d, budget, bidder(p, d), { pacing: { core, settings: { gains, steps: 240 } } }));
    assert.ok(each[0]!.pacingError > 1 && each[0]!.clicks > each[1]!.clicks, `setup: ${each.map((r) => `${r.clicks}/${r.pacingError}`)}`);
    assert.ok(each[1]!.pacingError <= 1, `setup: ${each[1]!.pacingError}`);
    const t = tuneAmong(d, budget, cands, [gains], pacing);
    assert.deepEqual(t.params, cands[1]);
  });

  it("clicks rule: bid levels reach above the highest price (a bid must be strictly above it to win) [T06]", () => {
    const d = replayData([{ click: 1, price: 100, pctr: 0.01 }, { click: 1, price: 100, pctr: 0.01 }]);
    assert.equal(tune(d, 1e4, "CONST", defaultSearchSpace(d)).result.clicks, 2);
  });

  it("runReplay tunes on train at train's budget, with train's search space, and replays on test at test's budget [P01/P02/P03]", () => {
    const test = other();
    for (const tuneRule of ["budget", "clicks"] as const) {
      const res = runReplay(core, rules, test, { budgets: [2, 4], strategies: ["CONST", "LIN"], pacing: "off", steps: 24, seed: 1, oracle: false, tuneRule });
      for (const b of res.budgets) {
        assert.equal(b.trainBudget, totalCost(rules) / b.k);
        assert.equal(b.testBudget, totalCost(test) / b.k, "P02: test budget = test cost / k");
        for (const r of b.runs) {
          const ref = tuneRule === "budget"
            ? tuneByBudget(rules, b.trainBudget, r.strategy, defaultSearchSpace(rules), { seed: 1 })
            : tune(rules, b.trainBudget, r.strategy, defaultSearchSpace(rules), { seed: 1 });
          assert.deepEqual(r.params, ref.params, `${tuneRule} 1/${b.k} ${r.strategy}: parameters from train only`);
        }
      }
    }
  });

  it("the text summary's CNY figures are CPM fen sums / 100,000 [P04]", async () => {
    const path = join(tmp, "big.txt");
    writeFileSync(path, ["0\t100000\t0.001", "1\t200000\t0.002", "0\t300000\t0.001", "1\t400000\t0.003"].join("\n") + "\n");
    const o = io();
    assert.equal(await main(["--train", path, "--test", path, "--budgets", "2", "--strategies", "CONST", "--pacing", "off"], o.io), 0, o.err.join(""));
    assert.match(o.out.join(""), /market cost 1000000 \(CPM sum; 10\.00 CNY\)/);
  });

  it("the bootstrap interval is of ORTB − LIN (not LIN − ORTB) [P05]", () => {
    const rand = mulberry32(3);
    const d = replayData(Array.from({ length: 3000 }, () => {
      const pctr = rand() < 0.1 ? 0.02 : 0.001;
      return { click: rand() < pctr * 10 ? 1 : 0, price: 1 + Math.floor(rand() * 100), pctr };
    }));
    const res = runReplay(core, d, d, { budgets: [8], strategies: ["LIN", "ORTB"], pacing: "off", steps: 24, seed: 1, oracle: false, bootstrap: { resamples: 40, blocks: 20 } });
    const b = res.budgets[0]!;
    const specs = b.runs.map((r) => ({ k: 8, strategy: r.strategy, paced: r.paced, params: r.params }));
    const clicks = bootstrapClicks(d, specs, { resamples: 40, blocks: 20, seed: 1, steps: 24 }, core);
    const lin = clicks[b.runs.findIndex((r) => r.strategy === "LIN")]!;
    const ortb = clicks[b.runs.findIndex((r) => r.strategy === "ORTB")]!;
    const want = clickDifference(lin, ortb, 0);
    const got = res.findings.bootstrap!.ortbVsLin[0]!.ortbMinusLin;
    assert.notEqual(want.mean, 0, "setup: the runs differ");
    assert.deepEqual([got.mean, got.low, got.high, got.atLeast], [want.mean, want.low, want.high, want.atLeast]);
  });

  it("--split F: the first round(n × F) rows tune [D01]", () => {
    const s = splitByTime(rules, 0.5);
    assert.deepEqual([s.train.n, s.test.n], [3, 3]);
    assert.deepEqual(Array.from(s.train.price), [10, 20, 30]);
  });

  it("raw logs are replayed in timestamp order, whatever the file order [D02]", async () => {
    const { loadModelFile } = await import("../../host/src/models/index.ts");
    const model = (await loadModelFile(join(ROOT, "models/demo/demo.nxm"), { allowUnsigned: true })).model;
    const lines = readFileSync(fixture("raw-log.sample.txt"), "utf8").split("\n").filter((l) => l.trim() !== "");
    const path = join(tmp, "reversed.log.txt");
    writeFileSync(path, [lines[0], ...lines.slice(1).reverse()].join("\n") + "\n");
    const fwd = await loadRawLogReplay(fixture("raw-log.sample.txt"), core, model);
    const rev = await loadRawLogReplay(path, core, model);
    assert.ok(fwd.data.n >= 3);
    for (const r of [fwd, rev]) {
      for (let i = 0; i < r.data.n; i++) {
        assert.ok(r.data.time[i]! >= 0 && r.data.time[i]! < 1, `time ${r.data.time[i]}`);
        if (i > 0) assert.ok(r.data.time[i]! >= r.data.time[i - 1]!, `row ${i} before row ${i - 1}`);
      }
    }
    assert.deepEqual(Array.from(rev.data.time), Array.from(fwd.data.time));
    assert.deepEqual(Array.from(rev.data.price), Array.from(fwd.data.price));
  });

  it("report: paths are escaped; spend in CNY is the CPM sum / 100,000 [H01/H02]", async () => {
    const path = join(tmp, "big2.txt");
    writeFileSync(path, ["0\t100000\t0.001", "1\t200000\t0.002", "0\t300000\t0.001", "1\t400000\t0.003"].join("\n") + "\n");
    const o = io();
    assert.equal(await main(["--train", path, "--test", path, "--budgets", "2", "--strategies", "CONST", "--pacing", "off", "--json"], o.io), 0, o.err.join(""));
    const s = JSON.parse(o.out.join("")) as ReplaySummary;
    const run = s.budgets[0]!.runs[0]!;
    const html = renderReplayReport({ ...s, train: { ...s.train, path: "a<img src=x>.txt" } });
    assert.ok(!html.includes("<img"), "H01: the path is escaped");
    const cells = `<tr><td>CONST</td><td>${run.test.clicks}</td><td>${run.test.expectedClicks.toFixed(1)}</td><td>${run.test.impressions}</td><td>${(run.test.spend / 100_000).toFixed(2)}</td>`;
    assert.ok(html.includes(cells), `H02: ${cells}`);
  });
});
