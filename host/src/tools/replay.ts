// `nexus-rtb replay`: auction replay with a budget. Strategies CONST, RAND,
// LIN and ORTB, each without and with the filter's PID pacing, tuned on the
// TRAIN file for each budget (1/k of the replayed set's total market cost)
// and evaluated on the TEST file; plus the LIN oracle (tuned on the test set
// itself). Prints clicks, impressions, spend, eCPC, CTR, win rate, budget used
// and pacing error; writes a self-contained HTML report.
import { existsSync, statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { loadModelFile } from "../models/index.ts";
import type { LineStats } from "../data/lines.ts";
import { choice, flag, num, numList, optNum, parse, pct, processIo, runTool, signedPct, str, type Io } from "./args.ts";
import { NexusCore, type PidGainsConfig } from "./core.ts";
import { ToolError, UsageError } from "./errors.ts";
import { loadRawLogReplay, loadReplayFile, splitByTime, type LoadedReplay, type ReplayFormat } from "./replay-data.ts";
import { renderReplayReport } from "./replay-report.ts";
import { blockSize, bootstrapClicks, clickDifference, formatDifference, sumSeries, type BootstrapRun, type ClickDifference } from "./replay-bootstrap.ts";
import {
  bidder, describeParams, DEFAULT_PACING, meanPctr, simulate, STRATEGIES, totalClicks, totalCost,
  type PacingSettings, type ReplayData, type SimResult, type StrategyName, type StrategyParams,
} from "./replay-sim.ts";
import { defaultSearchSpace, geometric, tune, tuneAmong, tuneByBudget, TUNE_RULES, type TuneRule } from "./replay-tune.ts";

/** LIN oracle bids at the mean pCTR: 240 points from 0.5 to 20 × the highest market price. */
function ORACLE_GRID(d: ReplayData): number[] {
  let max = 1;
  for (let i = 0; i < d.n; i++) if (d.price[i]! > max) max = d.price[i]!;
  return geometric(0.5, 20 * max, 240);
}

export * from "./replay-sim.ts";
export * from "./replay-tune.ts";
export { loadReplayFile, loadRawLogReplay, splitByTime } from "./replay-data.ts";
export { renderReplayReport } from "./replay-report.ts";
export * from "./replay-bootstrap.ts";

export const DEFAULT_BUDGET_FRACTIONS = [2, 4, 8, 16, 32, 64];

export const REPLAY_USAGE = `usage: nexus-rtb replay (--train FILE --test FILE | --data FILE --split F) [options]

  --format F          replay (click, market price, pCTR) | raw (iPinYou raw logs:
                      payprice = market price, pCTR from --model). Default: raw for
                      *.log.txt, else replay
  --train FILE        tuning data (parameters are never tuned on --test)
  --test FILE         evaluation data
  --data FILE --split F
                      one time-ordered file: the first F of the rows tune, the rest test
  --model FILE        raw: .nxm/.npz model scored by the core (needs FILE.sha256)
  --public-key FILE   verify the model's Ed25519 signature (default: digest only)
  --budgets LIST      budget = total market cost of the replayed set / k (default ${DEFAULT_BUDGET_FRACTIONS.join(",")})
  --strategies LIST   of CONST,RAND,LIN,ORTB (default all)
  --pacing P          off | on | both (default both)
  --steps N           PID control steps over the replayed period (default ${DEFAULT_PACING.steps})
  --seed N            RAND's seed (default 1)
  --tune R            budget: each strategy's scale solved on train from the budget
                      (spent by the end of the period), ORTB's c fitted to the win
                      rate, PID gains by pacing error (default); clicks: grid search
                      for the most clicks on train
  --bootstrap N       also replay the runs tuned on train on N block resamples of the
                      test set (default 0: off) and give each comparison (ORTB − LIN,
                      paced − unpaced) a 95% interval: how much is the sample's luck
  --bootstrap-blocks B
                      blocks of consecutive test auctions a resample draws (default 100)
  --report FILE       write the HTML report (spend curves, clicks vs budget)
  --core FILE         compiled core to run (default build/nexus_core.wasm)
  --json              machine-readable results on stdout
`;

export interface DataInfo {
  path: string;
  rows: number;
  clicks: number;
  /** Sum of market prices (CPM units). */
  cost: number;
  /** The file's lines read, used and skipped; with --data and --split, the whole file's (in both halves: one count, not two). */
  lines: ReturnType<LineStats["toJSON"]>;
  /** With --data and --split: which part of the file this is ("train": the first `fraction` of it in time order). */
  split?: { part: "train" | "test"; fraction: number };
}

export interface StrategyRun {
  strategy: StrategyName;
  paced: boolean;
  params: StrategyParams;
  paramsText: string;
  gains?: PidGainsConfig;
  /** Clicks won on the tuning data with these parameters. */
  tuneClicks: number;
  test: SimResult;
}

export interface BudgetRun {
  k: number;
  trainBudget: number;
  testBudget: number;
  runs: StrategyRun[];
  /** LIN with its base chosen on the test set itself (unpaced). */
  oracleLin?: { params: StrategyParams; paramsText: string; test: SimResult };
}

export interface PacingFinding {
  strategy: StrategyName;
  k: number;
  unpacedClicks: number;
  pacedClicks: number;
  /** (unpaced − paced) / unpaced; negative = pacing won more. */
  clickLoss: number;
  unpacedPacingError: number;
  pacedPacingError: number;
  unpacedSpent95At?: number;
  pacedSpent95At?: number;
}

export interface ReplaySummary {
  format: ReplayFormat;
  tuneRule: TuneRule;
  train: DataInfo;
  test: DataInfo;
  steps: number;
  budgets: BudgetRun[];
  findings: {
    /** LIN (tuned on train) clicks / LIN oracle clicks at 1/16. */
    linOracleRatio16?: number;
    ortbVsLin: Array<{ k: number; ortb: number; lin: number }>;
    pacing: PacingFinding[];
    /** With --bootstrap: the comparisons' intervals over block resamples of the test set. */
    bootstrap?: BootstrapFindings;
  };
}

export interface BootstrapFindings {
  resamples: number;
  blocks: number;
  /** Test auctions per block. */
  blockAuctions: number;
  seed: number;
  /** ORTB − LIN clicks at each budget, unpaced and paced. */
  ortbVsLin: Array<{ k: number; paced: boolean; ortbMinusLin: ClickDifference }>;
  /** Per strategy, paced − unpaced clicks summed over the budgets (the pacing finding's reading). */
  pacing: Array<{ strategy: StrategyName; unpacedClicks: number; pacedMinusUnpaced: ClickDifference }>;
}

function info(l: LoadedReplay, d: ReplayData = l.data): DataInfo {
  return { path: l.path, rows: d.n, clicks: totalClicks(d), cost: totalCost(d), lines: l.stats.toJSON() };
}

export interface ReplayOptions {
  budgets: number[];
  strategies: StrategyName[];
  pacing: "off" | "on" | "both";
  steps: number;
  seed: number;
  oracle: boolean;
  /** How parameters are chosen on train (default "budget"). */
  tuneRule?: TuneRule;
  /** Block bootstrap of the test results (resamples 0 or absent: none). */
  bootstrap?: { resamples: number; blocks: number };
}

/** Tunes on `train` and replays on `test` for every budget, strategy and pacing mode. */
export function runReplay(core: NexusCore, train: ReplayData, test: ReplayData, o: ReplayOptions, log: (m: string) => void = () => {}): Omit<ReplaySummary, "format" | "train" | "test"> {
  const rule = o.tuneRule ?? "budget";
  const tuneOn = rule === "clicks" ? tune : tuneByBudget;
  const space = defaultSearchSpace(train);
  const trainCost = totalCost(train);
  const testCost = totalCost(test);
  const modes: boolean[] = o.pacing === "both" ? [false, true] : [o.pacing === "on"];
  const budgets: BudgetRun[] = [];
  for (const k of o.budgets) {
    const run: BudgetRun = { k, trainBudget: trainCost / k, testBudget: testCost / k, runs: [] };
    for (const strategy of o.strategies) {
      for (const paced of modes) {
        log(`1/${k} ${strategy}${paced ? " paced" : ""}: tuning`);
        const t = tuneOn(train, run.trainBudget, strategy, space, paced ? { seed: o.seed, pacing: { core, steps: o.steps } } : { seed: o.seed });
        let pacing: { core: NexusCore; settings: PacingSettings } | undefined;
        if (paced && t.gains) pacing = { core, settings: { gains: t.gains, steps: o.steps } };
        const res = simulate(test, run.testBudget, bidder(t.params, test), pacing ? { pacing } : {});
        const sr: StrategyRun = { strategy, paced, params: t.params, paramsText: describeParams(t.params), tuneClicks: t.result.clicks, test: res };
        if (t.gains) sr.gains = t.gains;
        run.runs.push(sr);
      }
    }
    const lin = run.runs.find((r) => r.strategy === "LIN" && !r.paced);
    if (o.oracle && lin && lin.params.strategy === "LIN") {
      // The oracle: LIN's best base on the test set itself (same formula and average CTR),
      // on a fine grid that also holds the base tuned on train, so it is never below LIN.
      const avgCtr = lin.params.avgCtr;
      const scale = avgCtr / (meanPctr(test) || avgCtr);
      const bases = [...ORACLE_GRID(test).map((b) => b * scale), lin.params.base];
      const t = tuneAmong(test, run.testBudget, bases.map((base) => ({ strategy: "LIN" as const, base, avgCtr })), [undefined]);
      run.oracleLin = { params: t.params, paramsText: describeParams(t.params), test: t.result };
    }
    budgets.push(run);
  }

  const find = (k: number, s: StrategyName, paced: boolean): StrategyRun | undefined =>
    budgets.find((b) => b.k === k)?.runs.find((r) => r.strategy === s && r.paced === paced);
  const findings: ReplaySummary["findings"] = { ortbVsLin: [], pacing: [] };
  const at16 = budgets.find((b) => b.k === 16);
  const lin16 = find(16, "LIN", false);
  if (at16?.oracleLin && lin16 && at16.oracleLin.test.clicks > 0) findings.linOracleRatio16 = lin16.test.clicks / at16.oracleLin.test.clicks;
  for (const b of budgets) {
    const ortb = find(b.k, "ORTB", false);
    const lin = find(b.k, "LIN", false);
    if (ortb && lin) findings.ortbVsLin.push({ k: b.k, ortb: ortb.test.clicks, lin: lin.test.clicks });
    for (const s of o.strategies) {
      const u = find(b.k, s, false);
      const p = find(b.k, s, true);
      if (!u || !p) continue;
      const f: PacingFinding = {
        strategy: s,
        k: b.k,
        unpacedClicks: u.test.clicks,
        pacedClicks: p.test.clicks,
        clickLoss: u.test.clicks > 0 ? (u.test.clicks - p.test.clicks) / u.test.clicks : 0,
        unpacedPacingError: u.test.pacingError,
        pacedPacingError: p.test.pacingError,
      };
      if (u.test.spent95At !== undefined) f.unpacedSpent95At = u.test.spent95At;
      if (p.test.spent95At !== undefined) f.pacedSpent95At = p.test.spent95At;
      findings.pacing.push(f);
    }
  }
  if (o.bootstrap && o.bootstrap.resamples > 0) findings.bootstrap = bootstrapFindings(core, test, budgets, o, log);
  return { tuneRule: rule, steps: o.steps, budgets, findings };
}

/** Replays every tuned run on block resamples of the test set and sets intervals on the comparisons. */
function bootstrapFindings(core: NexusCore, test: ReplayData, budgets: BudgetRun[], o: ReplayOptions, log: (m: string) => void): BootstrapFindings {
  const { resamples, blocks } = o.bootstrap!;
  const runs: StrategyRun[] = budgets.flatMap((b) => b.runs);
  const specs: BootstrapRun[] = budgets.flatMap((b) => b.runs.map((r) => ({ k: b.k, strategy: r.strategy, paced: r.paced, params: r.params, ...(r.gains ? { gains: r.gains } : {}) })));
  const clicks = bootstrapClicks(test, specs, { resamples, blocks, seed: o.seed, steps: o.steps }, core, (done) => log(`bootstrap: ${done}/${resamples} resamples`));
  const series = (r: StrategyRun): Int32Array => clicks[runs.indexOf(r)]!;
  const size = blockSize(test.n, blocks);
  const out: BootstrapFindings = { resamples, blocks: Math.ceil(test.n / size), blockAuctions: size, seed: o.seed, ortbVsLin: [], pacing: [] };
  for (const b of budgets) {
    for (const paced of [false, true]) {
      const ortb = b.runs.find((r) => r.strategy === "ORTB" && r.paced === paced);
      const lin = b.runs.find((r) => r.strategy === "LIN" && r.paced === paced);
      if (ortb && lin) out.ortbVsLin.push({ k: b.k, paced, ortbMinusLin: clickDifference(series(lin), series(ortb), ortb.test.clicks - lin.test.clicks) });
    }
  }
  for (const s of o.strategies) {
    const unpaced = runs.filter((r) => r.strategy === s && !r.paced);
    const paced = runs.filter((r) => r.strategy === s && r.paced);
    if (unpaced.length === 0 || unpaced.length !== paced.length) continue;
    const total = (xs: StrategyRun[]): number => xs.reduce((acc, r) => acc + r.test.clicks, 0);
    out.pacing.push({
      strategy: s,
      unpacedClicks: total(unpaced),
      pacedMinusUnpaced: clickDifference(sumSeries(unpaced.map(series), resamples), sumSeries(paced.map(series), resamples), total(paced) - total(unpaced)),
    });
  }
  return out;
}

// ---- text output ----------------------------------------------------------------

/** CPM fen sums → CNY actually paid. */
function cny(cpmSum: number): string {
  return (cpmSum / 100 / 1000).toFixed(2);
}

export function formatReplaySummary(s: ReplaySummary): string {
  const out: string[] = [];
  const d = (x: DataInfo, name: string): string =>
    `${name.padEnd(5)} ${x.path}: ${x.rows} auctions, ${x.clicks} clicks, market cost ${x.cost} (CPM sum; ${cny(x.cost)} CNY)${Object.keys(x.lines.skipped).length && x.split?.part !== "test" ? `; skipped${x.split ? " (whole file)" : ""} ${JSON.stringify(x.lines.skipped)}` : ""}`;
  out.push(d(s.train, "train"), d(s.test, "test"));
  out.push(`parameters chosen on train by the ${s.tuneRule} rule${s.tuneRule === "budget" ? " (scale solved from the budget, ORTB c fitted to the win rate, PID gains by pacing error)" : " (most clicks)"}`);
  out.push(`money: CPM fen sums (spend CNY = sum / 100,000); bids win when bid > market price and pay it; PID steps ${s.steps}`);
  out.push("(exp.) = sum of the pCTR of the impressions won; pace err = RMS of (actual − planned cumulative spend) / (budget / 24) over 24 slices; 95% at = when 95% of the budget was spent");
  for (const b of s.budgets) {
    out.push("");
    out.push(`budget 1/${b.k}: test ${b.testBudget.toFixed(0)} (${cny(b.testBudget)} CNY), tuned at train 1/${b.k} = ${b.trainBudget.toFixed(0)}`);
    out.push(`  ${"strategy".padEnd(12)} ${"clicks".padStart(6)} ${"(exp.)".padStart(6)} ${"imps".padStart(7)} ${"spend CNY".padStart(10)} ${"eCPC CNY".padStart(9)} ${"CTR".padStart(7)} ${"win rate".padStart(8)} ${"used".padStart(6)} ${"pace err".padStart(8)} ${"95% at".padStart(6)}  params`);
    const row = (name: string, r: SimResult, params: string): string =>
      `  ${name.padEnd(12)} ${String(r.clicks).padStart(6)} ${r.expectedClicks.toFixed(1).padStart(6)} ${String(r.impressions).padStart(7)} ${cny(r.spend).padStart(10)} ${(r.clicks > 0 ? (r.spend / 100 / 1000 / r.clicks).toFixed(2) : "-").padStart(9)} ${pct(r.impressions > 0 ? r.clicks / r.impressions : NaN, 3).padStart(7)} ${pct(r.bids > 0 ? r.impressions / r.bids : NaN, 1).padStart(8)} ${pct(r.spend / r.budget, 1).padStart(6)} ${r.pacingError.toFixed(2).padStart(8)} ${(r.spent95At === undefined ? "never" : pct(r.spent95At, 0)).padStart(6)}  ${params}`;
    for (const r of b.runs) {
      const g = r.gains ? `; kp ${r.gains.kp} ki ${r.gains.ki}` : "";
      out.push(row(`${r.strategy}${r.paced ? "+PID" : ""}`, r.test, `${r.paramsText}${g}`));
    }
    if (b.oracleLin) out.push(row("LIN oracle", b.oracleLin.test, `${b.oracleLin.paramsText} (tuned on test)`));
  }
  out.push("");
  const f = s.findings;
  if (f.linOracleRatio16 !== undefined) out.push(`LIN / LIN oracle clicks at 1/16: ${pct(f.linOracleRatio16, 1)} (floor 90%)`);
  for (const x of f.ortbVsLin) if (x.k === 16 || x.k === 64) out.push(`ORTB vs LIN at 1/${x.k}: ${x.ortb} vs ${x.lin} clicks${x.ortb >= x.lin ? "" : " (ORTB below LIN)"}`);
  if (f.pacing.length > 0) {
    out.push("pacing (test): clicks unpaced → paced (change), pacing error unpaced → paced, 95% of budget spent at");
    for (const p of f.pacing) {
      out.push(`  ${p.strategy.padEnd(5)} 1/${String(p.k).padEnd(3)} ${p.unpacedClicks} → ${p.pacedClicks} (${signedPct(-p.clickLoss)}), error ${p.unpacedPacingError.toFixed(2)} → ${p.pacedPacingError.toFixed(2)}, 95% at ${p.unpacedSpent95At === undefined ? "never" : pct(p.unpacedSpent95At, 0)} → ${p.pacedSpent95At === undefined ? "never" : pct(p.pacedSpent95At, 0)}`);
    }
  }
  const bs = f.bootstrap;
  if (bs) {
    out.push(`bootstrap: ${bs.resamples} resamples of the test set, each ${bs.blocks} blocks of ${bs.blockAuctions} consecutive auctions drawn with replacement (seed ${bs.seed}); clicks B − A observed [95% interval], share of resamples with B ≥ A`);
    for (const x of bs.ortbVsLin) out.push(`  ORTB − LIN 1/${String(x.k).padEnd(3)} ${x.paced ? "paced  " : "unpaced"} ${formatDifference(x.ortbMinusLin)}`);
    for (const x of bs.pacing) out.push(`  ${x.strategy.padEnd(5)} paced − unpaced, all budgets (${x.unpacedClicks} unpaced) ${formatDifference(x.pacedMinusUnpaced)}`);
  }
  return `${out.join("\n")}\n`;
}

// ---- CLI ---------------------------------------------------------------------------

/** The flags main() parses; each is in REPLAY_USAGE (tests/tools/usage.test.ts). */
export const REPLAY_OPTIONS = {
  format: { type: "string" },
  train: { type: "string" },
  test: { type: "string" },
  data: { type: "string" },
  split: { type: "string" },
  model: { type: "string" },
  "public-key": { type: "string" },
  budgets: { type: "string" },
  strategies: { type: "string" },
  pacing: { type: "string" },
  steps: { type: "string" },
  seed: { type: "string" },
  tune: { type: "string" },
  bootstrap: { type: "string" },
  "bootstrap-blocks": { type: "string" },
  report: { type: "string" },
  core: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  return runTool(io, REPLAY_USAGE, async () => {
    const v = parse(argv, REPLAY_OPTIONS);
    if (flag(v, "help")) {
      io.out(REPLAY_USAGE);
      return 0;
    }
    const trainPath = str(v, "train");
    const testPath = str(v, "test");
    const dataPath = str(v, "data");
    const split = optNum(v, "split", { min: 0.05, max: 0.95 });
    if (dataPath !== undefined ? trainPath !== undefined || testPath !== undefined || split === undefined : trainPath === undefined || testPath === undefined || split !== undefined) {
      // --split with --train/--test would be silently ignored: refuse it rather than replay a split the user did not get.
      throw new UsageError("give --train and --test, or --data with --split");
    }
    const first = (dataPath ?? trainPath)!;
    const format = choice(v, "format", ["replay", "raw"] as const, first.toLowerCase().endsWith(".log.txt") ? "raw" : "replay");
    // Named twice is replayed once.
    const strategies = [...new Set((str(v, "strategies") ?? STRATEGIES.join(",")).split(",").map((x) => x.trim().toUpperCase()))];
    for (const s of strategies) if (!(STRATEGIES as readonly string[]).includes(s)) throw new UsageError(`--strategies: unknown strategy ${s}`);
    const o: ReplayOptions = {
      budgets: numList(v, "budgets", DEFAULT_BUDGET_FRACTIONS, { min: 1, integer: true }),
      strategies: strategies as StrategyName[],
      pacing: choice(v, "pacing", ["off", "on", "both"] as const, "both"),
      steps: num(v, "steps", DEFAULT_PACING.steps, { min: 1, max: 1_000_000, integer: true }),
      seed: num(v, "seed", 1, { min: 0, integer: true }),
      oracle: true,
      tuneRule: choice(v, "tune", TUNE_RULES, "budget"),
      bootstrap: { resamples: num(v, "bootstrap", 0, { min: 0, max: 100_000, integer: true }), blocks: num(v, "bootstrap-blocks", 100, { min: 2, max: 1_000_000, integer: true }) },
    };
    const json = flag(v, "json");
    const log = (m: string): void => {
      if (io.progress && !json) io.err(`\r\x1b[K${m}`);
    };
    // Checked before the replay (tens of seconds on the full files), not when it is over.
    const report = str(v, "report");
    if (report !== undefined) checkReportPath(report);
    if (format === "replay" && (str(v, "model") !== undefined || str(v, "public-key") !== undefined)) {
      throw new UsageError("--model and --public-key apply to --format raw: a replay file carries its own pCTR");
    }

    const core = await NexusCore.load(str(v, "core"));
    let load: (p: string) => Promise<LoadedReplay>;
    if (format === "raw") {
      const modelPath = str(v, "model");
      if (modelPath === undefined) throw new UsageError("--format raw needs --model (the pCTR model)");
      const pub = str(v, "public-key");
      if (pub !== undefined && !existsSync(pub)) throw new UsageError(`--public-key: ${pub} does not exist`);
      const loaded = await loadModelFile(modelPath, pub !== undefined ? { publicKey: await readFile(pub, "utf8"), allowUnsigned: false } : { allowUnsigned: true });
      load = (p) => loadRawLogReplay(p, core, loaded.model);
    } else {
      load = loadReplayFile;
    }

    let train: LoadedReplay;
    let test: LoadedReplay;
    let splitOf: ((part: "train" | "test") => DataInfo["split"]) | undefined;
    if (dataPath !== undefined) {
      const all = await load(dataPath);
      const parts = splitByTime(all.data, split!);
      train = { ...all, data: parts.train };
      test = { ...all, data: parts.test };
      splitOf = (part) => ({ part, fraction: split! });
    } else {
      train = await load(trainPath!);
      test = await load(testPath!);
    }
    const result = runReplay(core, train.data, test.data, o, log);
    const withSplit = (d: DataInfo, part: "train" | "test"): DataInfo => (splitOf ? { ...d, split: splitOf(part) } : d);
    const summary: ReplaySummary = { format, train: withSplit(info(train), "train"), test: withSplit(info(test), "test"), ...result };
    if (io.progress && !json) io.err("\r\x1b[K");
    const text = json ? `${JSON.stringify(summary, null, 2)}\n` : formatReplaySummary(summary);
    if (report !== undefined) {
      try {
        await writeFile(report, renderReplayReport(summary));
      } catch (err) {
        // The results are not lost with the report: print them, then the error.
        io.out(text);
        throw new ToolError("OUTPUT_UNWRITABLE", `--report ${report}: ${(err as Error).message}`, { cause: err });
      }
    }
    io.out(text + (!json && report !== undefined ? `report: ${report}\n` : ""));
    return 0;
  });
}

/** --report must name a file in an existing directory (a usage error before the replay otherwise). */
function checkReportPath(report: string): void {
  const dir = dirname(report);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--report: directory ${dir} does not exist`);
  if (existsSync(report) && statSync(report).isDirectory()) throw new UsageError(`--report: ${report} is a directory`);
}
