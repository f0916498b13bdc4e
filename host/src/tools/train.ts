// `nexus-rtb train`: FTRL-Proximal logistic regression (the core's) on the
// filter's hashed features, from iPinYou raw logs, iPinYou libFM rows with
// their featindex, or the bidder's own event log; AUC and log loss on a
// held-out file; writes <out>.nxm + <out>.npz with .sha256 (and .sig with --key).
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { DEFAULT_HASH_BITS, MAX_HASH_BITS, MIN_HASH_BITS } from "../models/model.ts";
import { Featindex, type LibfmLayoutName } from "../data/ipinyou.ts";
import { skippedText, type LineStats } from "../data/lines.ts";
import { choice, flag, num, optNum, parse, pct, processIo, required, runTool, str, type Io } from "./args.ts";
import { NexusCore } from "./core.ts";
import { DATA_FORMATS, inferFormat, loadExamples, type DataFormat, type LoadedExamples } from "./examples.ts";
import {
  DEFAULT_BAG, DEFAULT_CVR_PRIOR, DEFAULT_FTRL, DEFAULT_TUNE_GRID, evaluateModel, trainModel, tuneFtrl,
  type Evaluation, type TrainSettings, type TuneResult,
} from "./ftrl-train.ts";
import { loadSigningKey, modelBasePath, writeModelFiles, type WrittenModel } from "./model-output.ts";
import { UsageError } from "./errors.ts";

export * from "./ftrl-train.ts";
export { loadExamples, ExampleSet, inferFormat } from "./examples.ts";
export { writeModelFiles } from "./model-output.ts";

export const TRAIN_USAGE = `usage: nexus-rtb train --data FILE --out PATH [options]

  --data FILE          training data
  --format F           raw | libfm | events (default: from the file name:
                       *.fm.txt → libfm, *.jsonl → events, else raw)
  --featindex FILE     libFM featindex (default: featindex.txt next to --data)
  --layout L           libFM index layout: auto | direct | deep-ctr (default auto)
  --test FILE          held-out data in the same format: AUC and log loss
  --out PATH           writes PATH.nxm and PATH.npz (+ .sha256, + .sig with --key);
                       a trailing .nxm/.npz is dropped
  --hash-bits N        feature hash size, must equal the filter's (default ${DEFAULT_HASH_BITS})
  --gdpr-vendor-id N   the filter's gdpr_vendor_id (default 0): with --format events, a logged
                       request whose TCF string does not consent to it trains on the features
                       the filter would use for it (contextual ones), as the filter prices it
  --alpha A --beta B --l1 L1 --l2 L2
                       FTRL-Proximal parameters (default ${DEFAULT_FTRL.alpha}, ${DEFAULT_FTRL.beta}, ${DEFAULT_FTRL.l1}, ${DEFAULT_FTRL.l2})
  --epochs N           passes over the shuffled training data (default 1)
  --seed N             shuffle seed (default 1)
  --bag N              models trained with seeds seed … seed+N−1 and averaged into
                       the one written (default ${DEFAULT_BAG}; 1 = a single model)
  --zero-bias          start the bias at 0 instead of the log-odds of the training
                       click rate (the base-rate start is the default)
  --cvr-prior P        pCVR of the constant model used without conversion labels (default ${DEFAULT_CVR_PRIOR})
  --tune               grid-search alpha/beta/l1/l2/epochs by k-fold cross-validation on --data
                       (never on --test), then train with the best
  --tune-folds K       folds for --tune (default 4)
  --tune-repeats R     independent fold splits for --tune, averaged (default 3)
  --no-npz             write only the .nxm (and its .sha256/.sig)
  --key FILE           Ed25519 private key (PKCS#8 PEM) to sign the files
  --core FILE          compiled core to run (default build/nexus_core.wasm)
  --json               machine-readable summary on stdout
`;

type LineCounts = ReturnType<LineStats["toJSON"]>;

export interface TrainSummary {
  data: { path: string; format: DataFormat; examples: number; clicks: number; lines: LineCounts; layout?: LibfmLayoutName; featindex?: LineCounts };
  test?: { path: string; examples: number; clicks: number; lines: LineCounts };
  settings: TrainSettings;
  tuning?: TuneResult;
  model: { cvr: "trained" | "constant"; cvrExamples: number; nonZeroCtr: number; nonZeroCvr: number; bCtr: number; bCvr: number };
  metrics: { train: Evaluation; test?: Evaluation };
  files: WrittenModel;
}

/** Trains, evaluates and writes a model as the CLI does; returns the summary. */
export async function runTrain(
  opts: {
    data: string;
    format: DataFormat;
    featindexPath?: string;
    layout?: LibfmLayoutName;
    test?: string;
    out: string;
    settings: TrainSettings;
    tune?: { folds: number; repeats: number };
    keyPath?: string;
    corePath?: string;
    /** Also write the .npz (default true). */
    npz?: boolean;
    /** The filter's gdpr_vendor_id, for the privacy decision on logged requests (default 0). */
    gdprVendorId?: number;
  },
  log: (msg: string) => void = () => {},
): Promise<TrainSummary> {
  // The signing key first: a bad key must fail before minutes of training, not after.
  const privateKey = opts.keyPath !== undefined ? await loadSigningKey(opts.keyPath) : undefined;
  const core = await NexusCore.load(opts.corePath);
  core.setHashBits(opts.settings.hashBits);
  core.setGdprVendorId(opts.gdprVendorId ?? 0);
  let featindex: Featindex | undefined;
  if (opts.format === "libfm" && opts.featindexPath !== undefined) featindex = await Featindex.read(opts.featindexPath);

  const load = async (path: string): Promise<LoadedExamples> => {
    const o: Parameters<typeof loadExamples>[2] = { format: opts.format, onProgress: (n) => log(`${path}: ${n} rows`) };
    if (featindex) o.featindex = featindex;
    if (opts.layout) o.layout = opts.layout;
    const r = await loadExamples(core, path, o);
    featindex ??= r.featindex;
    return r;
  };

  const train = await load(opts.data);
  const test = opts.test !== undefined ? await load(opts.test) : undefined;

  let settings = opts.settings;
  let tuning: TuneResult | undefined;
  if (opts.tune) {
    tuning = tuneFtrl(core, train.set, DEFAULT_TUNE_GRID, {
      hashBits: settings.hashBits,
      folds: opts.tune.folds,
      repeats: opts.tune.repeats,
      seed: settings.seed,
      baseRateBias: settings.baseRateBias !== false,
      onTrial: (d, t) => log(`tuning ${d}/${t}`),
    });
    const b = tuning.best;
    settings = { ...settings, alpha: b.alpha, beta: b.beta, l1: b.l1, l2: b.l2, epochs: b.epochs };
  }

  const totalEpochs = (settings.bag ?? DEFAULT_BAG) * settings.epochs;
  const trained = trainModel(core, train.set, settings, (e) => log(`epoch ${e}/${totalEpochs}`));
  const metrics: TrainSummary["metrics"] = { train: evaluateModel(core, trained.model, train.set) };
  if (test) metrics.test = evaluateModel(core, trained.model, test.set);
  const files = await writeModelFiles(trained.model, opts.out, { npz: opts.npz !== false, ...(privateKey ? { privateKey } : {}) });

  const summary: TrainSummary = {
    data: { path: opts.data, format: opts.format, examples: train.set.size, clicks: train.set.clicks, lines: train.stats.toJSON() },
    settings,
    model: {
      cvr: trained.cvr,
      cvrExamples: trained.cvrExamples,
      nonZeroCtr: trained.nonZeroCtr,
      nonZeroCvr: trained.nonZeroCvr,
      bCtr: trained.model.bCtr,
      bCvr: trained.model.bCvr,
    },
    metrics,
    files,
  };
  if (train.layout) summary.data.layout = train.layout;
  if (train.featindex) summary.data.featindex = train.featindex.stats.toJSON();
  if (test && opts.test !== undefined) summary.test = { path: opts.test, examples: test.set.size, clicks: test.set.clicks, lines: test.stats.toJSON() };
  if (tuning) summary.tuning = tuning;
  return summary;
}

export function formatTrainSummary(s: TrainSummary): string {
  const lines: string[] = [];
  const d = s.data;
  lines.push(`data   ${d.path} (${d.format}${d.layout ? `, layout ${d.layout}` : ""}): ${d.examples} examples, ${d.clicks} clicks; ${skippedText(d.lines)}`);
  if (d.featindex) lines.push(`       featindex: ${skippedText(d.featindex)}`);
  if (s.test) lines.push(`test   ${s.test.path}: ${s.test.examples} examples, ${s.test.clicks} clicks; ${skippedText(s.test.lines)}`);
  if (s.tuning) {
    const b = s.tuning.best;
    lines.push(`tuning ${s.tuning.trials} trials, ${s.tuning.repeats} × ${s.tuning.folds}-fold CV on --data: best alpha ${b.alpha} beta ${b.beta} l1 ${b.l1} l2 ${b.l2} epochs ${b.epochs} (CV AUC of single models ${pct(b.auc)}, log loss ${b.logLoss.toFixed(5)})`);
  }
  const st = s.settings;
  const bias = st.baseRateBias === false ? "bias from 0" : "bias from the base rate";
  lines.push(`ftrl   alpha ${st.alpha} beta ${st.beta} l1 ${st.l1} l2 ${st.l2} epochs ${st.epochs} seed ${st.seed} bag ${st.bag ?? DEFAULT_BAG} (${bias}) hash_bits ${st.hashBits}`);
  lines.push(`model  ${s.model.nonZeroCtr} non-zero CTR weights, b_ctr ${s.model.bCtr.toFixed(4)}; pCVR ${s.model.cvr === "constant" ? `constant ${(1 / (1 + Math.exp(-s.model.bCvr))).toFixed(4)} (no conversion labels)` : `trained on ${s.model.cvrExamples} clicked examples (${s.model.nonZeroCvr} non-zero weights)`}`);
  const m = (name: string, e: Evaluation): void => {
    lines.push(`${name.padEnd(6)} pCTR AUC ${pct(e.ctr.auc)} (± ${pct(e.ctr.aucStdErr)} s.e.)  log loss ${e.ctr.logLoss.toFixed(5)}  (${e.ctr.n} rows, ${e.ctr.positives} clicks, mean pCTR / CTR ${Number.isFinite(e.ctr.calibration) ? e.ctr.calibration.toFixed(3) : "n/a"})`);
    if (e.cvr) lines.push(`       pCVR AUC ${pct(e.cvr.auc)}  log loss ${e.cvr.logLoss.toFixed(5)}  (${e.cvr.n} clicked rows)`);
    if (e.ctr.reliability.length > 1) {
      const bins = e.ctr.reliability.map((b) => `${(100 * b.predicted).toFixed(2)}→${(100 * b.observed).toFixed(2)}`).join(" ");
      lines.push(`       pCTR by decile, mean predicted → observed %: ${bins}  (ECE ${(100 * e.ctr.ece).toFixed(3)} points)`);
    }
  };
  m("train", s.metrics.train);
  if (s.metrics.test) m("test", s.metrics.test);
  const f = s.files;
  lines.push(`wrote  ${f.nxm.path} (${f.nxm.encoding}, ${f.nxm.bytes} bytes)${f.npz ? `, ${f.npz.path} (${f.npz.bytes} bytes)` : ""}, .sha256${f.signed ? " and .sig" : " (unsigned)"}`);
  return `${lines.join("\n")}\n`;
}

/** The flags main() parses; each is in TRAIN_USAGE (tests/tools/usage.test.ts). */
export const TRAIN_OPTIONS = {
  data: { type: "string" },
  format: { type: "string" },
  featindex: { type: "string" },
  layout: { type: "string" },
  test: { type: "string" },
  out: { type: "string" },
  "hash-bits": { type: "string" },
  "gdpr-vendor-id": { type: "string" },
  alpha: { type: "string" },
  beta: { type: "string" },
  l1: { type: "string" },
  l2: { type: "string" },
  epochs: { type: "string" },
  seed: { type: "string" },
  bag: { type: "string" },
  "zero-bias": { type: "boolean" },
  "cvr-prior": { type: "string" },
  tune: { type: "boolean" },
  "tune-folds": { type: "string" },
  "tune-repeats": { type: "string" },
  key: { type: "string" },
  "no-npz": { type: "boolean" },
  core: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  return runTool(io, TRAIN_USAGE, async () => {
    const v = parse(argv, TRAIN_OPTIONS);
    if (flag(v, "help")) {
      io.out(TRAIN_USAGE);
      return 0;
    }
    const data = required(v, "data");
    const format = choice(v, "format", DATA_FORMATS, inferFormat(data));
    const layoutOpt = choice(v, "layout", ["auto", "direct", "deep-ctr"] as const, "auto");
    const settings: TrainSettings = {
      hashBits: num(v, "hash-bits", DEFAULT_HASH_BITS, { min: MIN_HASH_BITS, max: MAX_HASH_BITS, integer: true }),
      alpha: num(v, "alpha", DEFAULT_FTRL.alpha, { min: 1e-9 }),
      // beta > 0: with beta 0 a coordinate's first step (n = 0) has no learning-rate term, and the
      // bias start from the base rate (z = -w·(beta + √n)/alpha) comes out as 0.
      beta: num(v, "beta", DEFAULT_FTRL.beta, { min: 1e-9 }),
      l1: num(v, "l1", DEFAULT_FTRL.l1, { min: 0 }),
      l2: num(v, "l2", DEFAULT_FTRL.l2, { min: 0 }),
      epochs: num(v, "epochs", 1, { min: 1, max: 1000, integer: true }),
      seed: num(v, "seed", 1, { min: 0, max: 2 ** 32 - 1, integer: true }),
      cvrPrior: num(v, "cvr-prior", DEFAULT_CVR_PRIOR, { min: 1e-6, max: 1 - 1e-6 }),
      bag: num(v, "bag", DEFAULT_BAG, { min: 1, max: 100, integer: true }),
      baseRateBias: !flag(v, "zero-bias"),
    };
    const folds = optNum(v, "tune-folds", { min: 2, max: 20, integer: true });
    const repeats = optNum(v, "tune-repeats", { min: 1, max: 20, integer: true });
    const json = flag(v, "json");
    const log = (msg: string): void => {
      if (io.progress && !json) io.err(`\r\x1b[K${msg}`);
    };
    const out = required(v, "out");
    // --out names the model files (OUT.nxm, OUT.npz): a directory (or a path ending in /) would
    // write them beside it or as hidden files in it.
    if (/[\\/]$/.test(out) || (existsSync(out) && statSync(out).isDirectory())) {
      throw new UsageError(`--out: ${out} is a directory; give the model files' path without extension, e.g. ${join(out, "model")}`);
    }
    const opts: Parameters<typeof runTrain>[0] = { data, format, out, settings };
    const vendor = optNum(v, "gdpr-vendor-id", { min: 0, max: 65535, integer: true });
    if (vendor !== undefined) opts.gdprVendorId = vendor;
    const fi = str(v, "featindex");
    if (fi !== undefined) opts.featindexPath = fi;
    if (layoutOpt !== "auto") opts.layout = layoutOpt;
    const test = str(v, "test");
    if (test !== undefined) opts.test = test;
    if (flag(v, "tune")) opts.tune = { folds: folds ?? 4, repeats: repeats ?? 3 };
    const key = str(v, "key");
    if (key !== undefined) {
      // Checked before minutes of training, not after.
      if (!existsSync(key)) throw new UsageError(`--key: ${key} does not exist`);
      opts.keyPath = key;
    }
    const outDir = dirname(modelBasePath(opts.out));
    if (!existsSync(outDir)) throw new UsageError(`--out: directory ${outDir} does not exist`);
    const corePath = str(v, "core");
    if (corePath !== undefined) opts.corePath = corePath;
    if (flag(v, "no-npz")) opts.npz = false;
    const summary = await runTrain(opts, log);
    if (io.progress && !json) io.err("\r\x1b[K");
    io.out(json ? `${JSON.stringify(summary, null, 2)}\n` : formatTrainSummary(summary));
    // Written all the same (a base-rate model is a model), but not without saying so.
    if (summary.data.clicks === 0) io.err(`warning: ${summary.data.path} has no clicks: the model only knows a base rate near 0, and its AUC cannot be computed\n`);
    return 0;
  });
}
