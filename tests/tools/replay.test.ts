// Replay rules on hand-made auctions with known results: a bid wins only when
// strictly above the market price and pays the market price; a bid is placed
// only when it can be reserved against what is left of the budget; budgets are
// fractions of the replayed set's cost; pacing uses the core's PID.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { NexusCore } from "../../host/src/tools/core.ts";
import { DEFAULT_PID_GAINS } from "../../host/src/tools/core.ts";
import {
  bidder, loadReplayFile, main, renderReplayReport, replayData, runReplay, simulate, totalCost, tune, defaultSearchSpace,
  fitWinFunctionC, paramsAtScale, solveScale, tuneByBudget, BUDGET_SPENT, meanPctr,
  type ReplayData, type ReplaySummary,
} from "../../host/src/tools/replay.ts";
import { mulberry32 } from "../../host/src/tools/rng.ts";
import { fixture, loadCore, ROOT } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "nexus-replay-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

let core: NexusCore;
let rules: ReplayData;
before(async () => {
  core = await loadCore();
  rules = (await loadReplayFile(fixture("replay-rules.txt"))).data;
});

const constant = (bid: number) => () => bid;

describe("replay rules (replay-rules.txt: prices 10 20 30 5 20 0, clicks on rows 2, 4, 6)", () => {
  it("wins only strictly above the market price and pays the market price", () => {
    const r = simulate(rules, 1000, constant(20));
    assert.equal(r.bids, 6);
    assert.equal(r.impressions, 3); // 10, 5 and 0; not the two 20s, not 30
    assert.equal(r.clicks, 2);
    assert.equal(r.spend, 15);
  });

  it("places a bid only when the whole bid fits in what is left of the budget", () => {
    const r = simulate(rules, 25, constant(20));
    assert.deepEqual([r.bids, r.impressions, r.clicks, r.spend], [1, 1, 0, 10]); // then 20 > 15 left: no more bids
    const s = simulate(rules, 25, constant(12));
    assert.deepEqual([s.bids, s.impressions, s.clicks, s.spend], [4, 2, 1, 15]); // 12 > 10 left after row 4
    assert.equal(simulate(rules, 15, constant(21)).bids, 0);
  });

  it("stops when the budget is spent, never above it", () => {
    const r = simulate(rules, 10.5, constant(10.5));
    assert.deepEqual([r.bids, r.impressions, r.spend], [1, 1, 10]);
    for (const bid of [1, 6, 11, 21, 31, 100]) for (const budget of [5, 15, 35, 85]) assert.ok(simulate(rules, budget, constant(bid)).spend <= budget);
  });

  it("strategies bid as their formulas say", () => {
    const lin = bidder({ strategy: "LIN", base: 10, avgCtr: 0.002 }, rules);
    assert.deepEqual([0, 1, 2, 3, 4, 5].map(lin), [5, 20, 5, 15, 5, 10]);
    const r = simulate(rules, 1000, lin);
    assert.deepEqual([r.impressions, r.clicks, r.spend], [2, 2, 5]);
    const ortb = bidder({ strategy: "ORTB", c: 10, lambda: 1e-4 }, rules);
    assert.ok(Math.abs(ortb(1) - (Math.sqrt((10 / 1e-4) * 0.004 + 100) - 10)) < 1e-12);
    const rand = bidder({ strategy: "RAND", upper: 50, seed: 3 }, rules);
    const again = bidder({ strategy: "RAND", upper: 50, seed: 3 }, rules);
    for (let i = 0; i < 6; i++) {
      const b = rand(i);
      assert.ok(b >= 0 && b < 50);
      assert.equal(b, again(i));
    }
  });

  it("tunes on one set, and budgets are the replayed set's cost / k", () => {
    assert.equal(totalCost(rules), 85);
    const res = runReplay(core, rules, rules, { budgets: [2, 4], strategies: ["CONST", "LIN"], pacing: "off", steps: 24, seed: 1, oracle: true });
    assert.deepEqual(res.budgets.map((b) => [b.k, b.trainBudget, b.testBudget]), [[2, 42.5, 42.5], [4, 21.25, 21.25]]);
    for (const b of res.budgets) for (const r of b.runs) assert.ok(r.test.spend <= b.testBudget);
    // the oracle is tuned on the test set itself: never below LIN
    for (const b of res.budgets) assert.ok(b.oracleLin!.test.clicks >= b.runs.find((r) => r.strategy === "LIN")!.test.clicks);
    const t = tune(rules, 1000, "CONST", defaultSearchSpace(rules));
    assert.equal(t.result.clicks, 3); // a bid above 20 wins every click
  });
});

describe("pacing with the core's PID controller", () => {
  // 20,000 auctions, prices uniform in 1..100, equal pCTR; a constant bid of 200 wins every auction.
  const rand = mulberry32(5);
  const rows = Array.from({ length: 20_000 }, () => ({ click: rand() < 0.001 ? 1 : 0, price: 1 + Math.floor(rand() * 100), pctr: 0.001 }));
  const d = replayData(rows);
  const budget = totalCost(d) / 4;

  it("unpaced, the budget is gone in the first quarter; paced, it follows the flat plan", () => {
    const unpaced = simulate(d, budget, constant(200));
    assert.ok(unpaced.spent95At! < 0.3, `unpaced 95% at ${unpaced.spent95At}`);
    const paced = simulate(d, budget, constant(200), { pacing: { core, settings: { gains: DEFAULT_PID_GAINS, steps: 1440 } } });
    assert.ok(paced.spent95At! > 0.85, `paced 95% at ${paced.spent95At}`);
    assert.ok(paced.pacingError < 1, `paced pacing error ${paced.pacingError}`);
    assert.ok(unpaced.pacingError > 5 * paced.pacingError);
    assert.ok(paced.meanMultiplier < 1);
    assert.ok(paced.spend <= budget);
  });

  it("a paced replay hands its controller back: reset, and reused by the next one", () => {
    core.pidConfigure(DEFAULT_PID_GAINS);
    const a = core.pidCreate();
    const moved = core.pidUpdate(a, -0.5, 60); // over plan: the multiplier drops below its cap of 1
    assert.notEqual(moved, 1);
    core.pidRelease(a);
    const b = core.pidCreate();
    assert.equal(b, a, "the released id is reused");
    const fresh = core.pidCreate();
    assert.notEqual(fresh, b);
    assert.equal(core.pidUpdate(b, -0.1, 60), core.pidUpdate(fresh, -0.1, 60), "reset: it steps like a new controller");
    core.pidRelease(b);
    core.pidRelease(fresh);
    const first = simulate(d, budget, constant(200), { pacing: { core, settings: { gains: DEFAULT_PID_GAINS, steps: 240 } } });
    const next = core.pidCreate();
    core.pidRelease(next);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(simulate(d, budget, constant(200), { pacing: { core, settings: { gains: DEFAULT_PID_GAINS, steps: 240 } } }), first);
    }
    assert.equal(core.pidCreate(), next, "no controller kept by the replays");
  });
});

describe("the budget rule: scales solved from the budget on the tuning data", () => {
  // 20,000 auctions in time order, prices uniform in 1..100, pCTR from 0.0005 to 0.005.
  const rand = mulberry32(11);
  const d = replayData(Array.from({ length: 20_000 }, () => ({ click: rand() < 0.002 ? 1 : 0, price: 1 + Math.floor(rand() * 100), pctr: 0.0005 + rand() * 0.0045 })));
  const budget = totalCost(d) / 8;

  for (const strategy of ["CONST", "RAND", "LIN", "ORTB"] as const) {
    it(`${strategy}: the smallest scale that spends the budget, which then lasts to the end`, () => {
      const params = (scale: number) => paramsAtScale(strategy, d, scale, { c: 30, seed: 1 });
      const s = solveScale(d, budget, params);
      assert.ok(s.result.spend >= BUDGET_SPENT * budget && s.result.spend <= budget);
      assert.ok(simulate(d, budget, bidder(params(s.scale * 0.99), d)).spend < BUDGET_SPENT * budget, "a 1% smaller scale leaves budget unspent");
      assert.ok(s.result.spent95At! > 0.9, `95% spent at ${s.result.spent95At}`); // a stationary stream: spent evenly
    });
  }

  it("searches upwards: a scale so large that no bid fits in the budget is never the answer", () => {
    // a budget smaller than 1000 × the highest price: huge bids cannot be reserved and spend nothing
    const small = 3 * 100;
    const s = solveScale(d, small, (scale) => ({ strategy: "CONST", bid: scale }));
    assert.ok(s.result.spend >= BUDGET_SPENT * small, `spent ${s.result.spend} of ${small}`);
    assert.ok(s.scale < 100);
  });

  it("ORTB's c is fitted to the winning function w(b) = b / (b + c) of the market prices", () => {
    // prices drawn so that P(price < b) = b / (b + c): price = c·u / (1 − u)
    for (const c of [20, 80]) {
      const r = mulberry32(c);
      const prices = replayData(Array.from({ length: 50_000 }, () => {
        const u = r() * 0.98;
        return { click: 0, price: (c * u) / (1 - u), pctr: 0.001 };
      }));
      const fitted = fitWinFunctionC(prices);
      assert.ok(Math.abs(fitted - c) / c < 0.1, `c ${c} fitted as ${fitted}`);
    }
  });

  it("a scale is the strategy's bid at the mean pCTR", () => {
    const mean = meanPctr(d);
    const atMean = replayData([{ click: 0, price: 1, pctr: mean }]);
    for (const strategy of ["CONST", "LIN", "ORTB"] as const) {
      const p = paramsAtScale(strategy, d, 42, { c: 30, seed: 1 });
      assert.ok(Math.abs(bidder(p, atMean)(0) - 42) < 1e-9, strategy);
    }
    const r = paramsAtScale("RAND", d, 42, { c: 30, seed: 1 });
    assert.ok(r.strategy === "RAND" && r.upper === 42);
  });

  it("tuneByBudget: ORTB's c is the fitted one; paced runs keep the gains with the smallest pacing error", () => {
    const space = defaultSearchSpace(d);
    const ortb = tuneByBudget(d, budget, "ORTB", space);
    assert.ok(ortb.params.strategy === "ORTB" && Math.abs(ortb.params.c - fitWinFunctionC(d)) < 1e-12);

    const paced = tuneByBudget(d, budget, "LIN", space, { seed: 1, pacing: { core, steps: 240 } });
    assert.ok(paced.gains !== undefined && space.gains.includes(paced.gains));
    assert.ok(paced.result.spend >= BUDGET_SPENT * budget);
    for (const gains of space.gains) {
      const settings = { gains, steps: 240 };
      const s = solveScale(d, budget, (scale) => paramsAtScale("LIN", d, scale, { c: 0, seed: 1 }), { core, settings });
      assert.ok(paced.result.pacingError <= s.result.pacingError + 1e-12);
    }
  });
});

describe("replay CLI and report", () => {
  it("runs on files and writes a self-contained HTML report", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const report = join(tmp, "r.html");
    const code = await main(
      ["--train", fixture("replay-rules.txt"), "--test", fixture("replay-rules.txt"), "--budgets", "2,4", "--strategies", "LIN,ORTB", "--steps", "24", "--report", report, "--json"],
      { out: (s) => void out.push(s), err: (s) => void err.push(s), progress: false },
    );
    assert.equal(code, 0, err.join(""));
    const s = JSON.parse(out.join("")) as ReplaySummary;
    assert.equal(s.budgets.length, 2);
    assert.equal(s.tuneRule, "budget");
    assert.equal(s.budgets[0]!.runs.length, 4); // LIN, LIN+PID, ORTB, ORTB+PID
    assert.deepEqual(s.findings.ortbVsLin.map((x) => x.k), [2, 4]);
    const html = readFileSync(report, "utf8");
    assert.match(html, /^<!doctype html>/);
    assert.ok((html.match(/<svg /g) ?? []).length === 3); // clicks vs budget + one spend chart per budget
    assert.doesNotMatch(html, /<script|src=|href=|@import|url\(/i);
    assert.equal(renderReplayReport(s), html);
  });

  it("raw logs: a payprice above 1,000,000 CPM is a broken row, skipped as bad-price", async () => {
    const { loadModelFile } = await import("../../host/src/models/index.ts");
    const { loadRawLogReplay } = await import("../../host/src/tools/replay-data.ts");
    const { writeFileSync } = await import("node:fs");
    const lines = readFileSync(fixture("raw-log.sample.txt"), "utf8").split("\n");
    const cols = lines[1]!.split("\t");
    cols[23] = "99999999999"; // payprice
    lines[1] = cols.join("\t");
    const dir = mkdtempSync(join(tmpdir(), "replay-raw-"));
    try {
      const path = join(dir, "raw.log.txt");
      writeFileSync(path, lines.join("\n"));
      const model = (await loadModelFile(join(ROOT, "models/demo/demo.nxm"), { allowUnsigned: true })).model;
      const before = await loadRawLogReplay(fixture("raw-log.sample.txt"), core, model);
      const r = await loadRawLogReplay(path, core, model);
      assert.equal(r.stats.skipped["bad-price"], 1);
      assert.equal(r.data.n, before.data.n - 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // An audit read both halves' `lines` as two counts of the file (skips counted twice).
  it("--data with --split: each half says it is one, and the file's line counts are said once", async () => {
    const out: string[] = [];
    const io = { out: (x: string) => void out.push(x), err: () => {}, progress: false };
    const args = ["--data", fixture("replay-rules.txt"), "--split", "0.5", "--budgets", "2", "--strategies", "CONST", "--pacing", "off"];
    assert.equal(await main([...args, "--json"], io), 0);
    const s = JSON.parse(out.join("")) as ReplaySummary;
    assert.deepEqual([s.train.split, s.test.split], [{ part: "train", fraction: 0.5 }, { part: "test", fraction: 0.5 }]);
    assert.deepEqual(s.train.lines, s.test.lines, "the whole file's, in both");
    assert.equal(s.train.rows + s.test.rows, s.train.lines.used);
  });

  it("refuses a bad command line", async () => {
    const err: string[] = [];
    const io = { out: () => {}, err: (s: string) => void err.push(s), progress: false };
    assert.equal(await main(["--train", fixture("replay-rules.txt")], io), 2);
    assert.equal(await main(["--train", fixture("replay-rules.txt"), "--test", fixture("replay-rules.txt"), "--strategies", "FOO"], io), 2);
    assert.equal(await main(["--train", fixture("replay-rules.txt"), "--test", fixture("replay-rules.txt"), "--tune", "test"], io), 2);
    assert.equal(await main(["--train", fixture("raw-log.sample.txt"), "--test", fixture("raw-log.sample.txt"), "--format", "raw"], io), 2);
    assert.match(err.join(""), /--model/);
    // --split only applies to --data: with --train/--test it would be silently ignored.
    err.length = 0;
    assert.equal(await main(["--train", fixture("replay-rules.txt"), "--test", fixture("replay-rules.txt"), "--split", "0.5"], io), 2);
    assert.match(err.join(""), /--data with --split/);
  });

  it("refuses before replaying: a --report path that cannot be written, a model for a replay file (its pCTR is the file's)", async () => {
    const err: string[] = [];
    const out: string[] = [];
    const io = { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s), progress: false };
    const files = ["--train", fixture("replay-rules.txt"), "--test", fixture("replay-rules.txt"), "--budgets", "2", "--strategies", "LIN", "--steps", "24"];
    for (const [report, why] of [[join(tmp, "no-such-dir", "r.html"), /--report: directory .*no-such-dir does not exist/], [tmp, /--report: .* is a directory/]] as const) {
      err.length = 0;
      assert.equal(await main([...files, "--report", report], io), 2, report);
      assert.match(err.join(""), why);
    }
    err.length = 0;
    assert.equal(await main([...files, "--model", join(tmp, "m.nxm")], io), 2);
    assert.match(err.join(""), /--model and --public-key apply to --format raw/);
    assert.equal(out.length, 0, "nothing replayed");
  });

  it("a strategy named twice is replayed once", async () => {
    const out: string[] = [];
    const io = { out: (s: string) => void out.push(s), err: () => {}, progress: false };
    const args = ["--train", fixture("replay-rules.txt"), "--test", fixture("replay-rules.txt"), "--budgets", "2", "--steps", "24", "--pacing", "off", "--json"];
    assert.equal(await main([...args, "--strategies", "LIN,lin,LIN"], io), 0);
    const s = JSON.parse(out.join("")) as ReplaySummary;
    assert.deepEqual(s.budgets[0]!.runs.map((r) => r.strategy), ["LIN"]);
  });
});
