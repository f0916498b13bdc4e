// The replay's paired block bootstrap: resamples are whole blocks of consecutive test auctions
// drawn with replacement; every run is replayed on the same resample; a difference's interval
// and share come from the resampled differences (hand-computed cases below).
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { NexusCore } from "../../host/src/tools/core.ts";
import { DEFAULT_PID_GAINS } from "../../host/src/tools/core.ts";
import {
  blockResample, blockSize, bootstrapClicks, clickDifference, formatDifference, main, renderReplayReport, replayData, simulate, bidder, totalCost,
  type BootstrapRun, type ReplayData, type ReplaySummary,
} from "../../host/src/tools/replay.ts";
import { mulberry32 } from "../../host/src/tools/rng.ts";
import { fixture, loadCore } from "./helpers.ts";

let core: NexusCore;
before(async () => {
  core = await loadCore();
});

/** Auction i has price i + 1 (so a resampled auction names its origin) and a click where i % 10 == 0. */
function numbered(n: number): ReplayData {
  return replayData(Array.from({ length: n }, (_, i) => ({ click: i % 10 === 0 ? 1 : 0, price: i + 1, pctr: i % 10 === 0 ? 0.5 : 0.001 })));
}

describe("block resamples", () => {
  it("are whole blocks of consecutive auctions, drawn with replacement, with positions spread evenly", () => {
    const d = numbered(1000);
    const r = blockResample(d, 10, mulberry32(7));
    assert.equal(r.n, 1000);
    const starts = new Set<number>();
    for (let j = 0; j < 10; j++) {
      const first = r.price[j * 100]! - 1;
      assert.equal(first % 100, 0, "a block starts at a block boundary of the test set");
      starts.add(first);
      for (let i = 0; i < 100; i++) {
        const at = j * 100 + i;
        assert.equal(r.price[at], first + i + 1, "auctions keep their order inside a block");
        assert.equal(r.click[at], d.click[first + i]);
        assert.equal(r.pctr[at], d.pctr[first + i]);
        assert.equal(r.time[at], at / 1000);
      }
    }
    // Drawn with replacement: with 10 draws from 10 blocks, this seed repeats some and leaves some out.
    assert.ok(starts.size < 10, `distinct blocks ${starts.size}`);
  });

  it("the last block may be shorter, and the resample's length is what was drawn", () => {
    assert.equal(blockSize(10, 4), 3); // blocks [0,3) [3,6) [6,9) [9,10)
    const d = numbered(10);
    for (let seed = 1; seed <= 50; seed++) {
      const r = blockResample(d, 4, mulberry32(seed));
      let n = 0;
      let i = 0;
      while (i < r.n) {
        const first = r.price[i]! - 1;
        const len = first === 9 ? 1 : 3;
        for (let k = 0; k < len; k++) assert.equal(r.price[i + k], first + k + 1);
        i += len;
        n++;
      }
      assert.equal(i, r.n);
      assert.equal(n, 4, "as many blocks as the test set has");
    }
  });

  it("the same seed gives the same resamples, another seed others", () => {
    const d = numbered(500);
    const a = blockResample(d, 25, mulberry32(3));
    const b = blockResample(d, 25, mulberry32(3));
    const c = blockResample(d, 25, mulberry32(4));
    assert.deepEqual(a.price, b.price);
    assert.notDeepEqual(a.price, c.price);
  });
});

describe("a click difference over resamples", () => {
  it("interval = 2.5% and 97.5% quantiles (nearest rank), share = resamples with B ≥ A", () => {
    const a = new Int32Array(40);
    const b = Int32Array.from({ length: 40 }, (_, i) => i - 9); // differences −9 … 30
    const d = clickDifference(a, b, 4);
    assert.equal(d.observed, 4);
    assert.equal(d.mean, 10.5);
    assert.equal(d.low, -9); // rank ceil(0.025 · 40) = 1
    assert.equal(d.high, 29); // rank ceil(0.975 · 40) = 39
    assert.equal(d.atLeast, 31 / 40); // 0 … 30
    assert.equal(formatDifference(d), "+4 [−9, +29], ≥ 0 in 78%");
    assert.equal(formatDifference(clickDifference(Int32Array.of(2, 2), Int32Array.of(0, 1), -2)), "−2 [−2, −1], ≥ 0 in 0%");
  });
});

describe("runs replayed on the same resamples", () => {
  // Every 4th auction is worth a click and has a high pCTR; all cost the same.
  const d = replayData(Array.from({ length: 4000 }, (_, i) => ({ click: i % 4 === 0 ? 1 : 0, price: 10, pctr: i % 4 === 0 ? 0.2 : 0.001 })));
  const avgCtr = 0.25;

  it("two identical runs get the same clicks on every resample: the difference is exactly 0", () => {
    // Auctions that differ from block to block, so that resamples differ from each other.
    const rand = mulberry32(5);
    const mixed = replayData(Array.from({ length: 4000 }, () => {
      const pctr = rand() * 0.01;
      return { click: rand() < pctr * 20 ? 1 : 0, price: 1 + Math.floor(rand() * 50), pctr };
    }));
    const run: BootstrapRun = { k: 8, strategy: "LIN", paced: false, params: { strategy: "LIN", base: 40, avgCtr: 0.1 } };
    const [a, b] = bootstrapClicks(mixed, [run, { ...run }], { resamples: 30, blocks: 40, seed: 1, steps: 96 });
    assert.ok(new Set(a).size > 3, `resamples differ: ${[...a!].join(" ")}`);
    assert.deepEqual(a, b);
    const diff = clickDifference(a!, b!, 0);
    assert.deepEqual([diff.mean, diff.low, diff.high, diff.atLeast], [0, 0, 0, 1]);
  });

  it("each resample's budget is its own cost / k, and each run's clicks are its replay on that resample", () => {
    const runs: BootstrapRun[] = [
      { k: 4, strategy: "CONST", paced: false, params: { strategy: "CONST", bid: 11 } },
      { k: 4, strategy: "LIN", paced: false, params: { strategy: "LIN", base: 40, avgCtr } },
      { k: 4, strategy: "LIN", paced: true, params: { strategy: "LIN", base: 40, avgCtr }, gains: DEFAULT_PID_GAINS },
    ];
    const clicks = bootstrapClicks(d, runs, { resamples: 5, blocks: 40, seed: 9, steps: 96 }, core);
    const rand = mulberry32(9);
    for (let r = 0; r < 5; r++) {
      const x = blockResample(d, 40, rand);
      runs.forEach((run, i) => {
        const pacing = run.paced ? { pacing: { core, settings: { gains: run.gains!, steps: 96 } } } : {};
        assert.equal(clicks[i]![r], simulate(x, totalCost(x) / 4, bidder(run.params, x), pacing).clicks, `run ${i} resample ${r}`);
      });
    }
  });

  it("a strategy that buys only the clicked auctions beats a constant bid on every resample", () => {
    const runs: BootstrapRun[] = [
      { k: 4, strategy: "CONST", paced: false, params: { strategy: "CONST", bid: 11 } },
      // bid = 40 · pCTR / 0.25: 32 on a clicked auction (price 10: wins), 0.16 elsewhere (loses).
      { k: 4, strategy: "LIN", paced: false, params: { strategy: "LIN", base: 40, avgCtr } },
    ];
    const [constant, lin] = bootstrapClicks(d, runs, { resamples: 40, blocks: 50, seed: 2, steps: 96 });
    const diff = clickDifference(constant!, lin!, 0);
    assert.equal(diff.atLeast, 1);
    assert.ok(diff.low > 0, `interval [${diff.low}, ${diff.high}]`);
    // Every block of 80 auctions holds the same pattern, so every resample replays like the test
    // set: LIN spends the budget on clicked auctions only, CONST on whatever comes first.
    const once = (i: number): number => simulate(d, totalCost(d) / 4, bidder(runs[i]!.params, d)).clicks;
    assert.ok(once(1) > 3 * once(0), `LIN ${once(1)}, CONST ${once(0)}`);
    for (let r = 0; r < 40; r++) assert.deepEqual([constant![r], lin![r]], [once(0), once(1)]);
  });

  it("a paced run without the core or its gains is refused", () => {
    const run: BootstrapRun = { k: 2, strategy: "LIN", paced: true, params: { strategy: "LIN", base: 40, avgCtr } };
    assert.throws(() => bootstrapClicks(d, [run], { resamples: 1, blocks: 4, seed: 1, steps: 24 }), /needs the core and its gains/);
  });
});

describe("replay --bootstrap", () => {
  const files = ["--train", fixture("replay-rules.txt"), "--test", fixture("replay-rules.txt"), "--budgets", "2,4", "--strategies", "LIN,ORTB", "--steps", "24"];

  it("gives ORTB − LIN per budget and pacing mode, and paced − unpaced per strategy, reproducibly", async () => {
    const run = async (): Promise<ReplaySummary> => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main([...files, "--bootstrap", "25", "--bootstrap-blocks", "3", "--json"], { out: (s) => void out.push(s), err: (s) => void err.push(s), progress: false });
      assert.equal(code, 0, err.join(""));
      return JSON.parse(out.join("")) as ReplaySummary;
    };
    const s = await run();
    const b = s.findings.bootstrap!;
    assert.equal(b.resamples, 25);
    assert.equal(b.blockAuctions, 2); // 6 auctions in 3 blocks
    assert.deepEqual(b.ortbVsLin.map((x) => `${x.k}${x.paced ? "p" : ""}`), ["2", "2p", "4", "4p"]);
    for (const x of b.ortbVsLin) {
      const ortb = s.budgets.find((r) => r.k === x.k)!.runs.find((r) => r.strategy === "ORTB" && r.paced === x.paced)!;
      const lin = s.budgets.find((r) => r.k === x.k)!.runs.find((r) => r.strategy === "LIN" && r.paced === x.paced)!;
      assert.equal(x.ortbMinusLin.observed, ortb.test.clicks - lin.test.clicks);
      assert.ok(x.ortbMinusLin.low <= x.ortbMinusLin.high);
    }
    assert.deepEqual(b.pacing.map((x) => x.strategy), ["LIN", "ORTB"]);
    assert.deepEqual(await run(), s, "same seed, same findings");
    assert.match(renderReplayReport(s), /ORTB − LIN at 1\/4 paced: [+−0]\d* \[/);
  });

  it("prints its lines, is off by default, and refuses a negative count", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (x: string) => void out.push(x), err: (x: string) => void err.push(x), progress: false };
    assert.equal(await main([...files, "--bootstrap", "10"], io), 0);
    assert.match(out.join(""), /bootstrap: 10 resamples of the test set, each 6 blocks of 1 consecutive auctions/);
    assert.match(out.join(""), /ORTB − LIN 1\/2 {3}unpaced [+−0]/);
    out.length = 0;
    assert.equal(await main([...files, "--json"], io), 0);
    assert.equal((JSON.parse(out.join("")) as ReplaySummary).findings.bootstrap, undefined);
    assert.equal(await main([...files, "--bootstrap", "-1"], io), 2);
    assert.match(err.join(""), /--bootstrap/);
  });
});
