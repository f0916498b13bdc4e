// Short training runs on small fixtures: the model loads with host/src/models
// loadModelFile (digest, signature) and scores through the core; the CLI
// entry; pCVR trained from conversion labels or the documented constant.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { keygen } from "../../host/src/models/sign-cli.ts";
import { loadModelFile, toWireBlob } from "../../host/src/models/load.ts";
import { modelsEqual } from "../../host/src/models/model.ts";
import { ParseError, type NexusCore } from "../../host/src/tools/core.ts";
import { ExampleSet, loadExamples } from "../../host/src/tools/examples.ts";
import { baseRateLogit, evaluateModel, logit, main, runTrain, trainModel, tuneFtrl, type TrainSummary } from "../../host/src/tools/train.ts";
import { bidRequestFromLog } from "../../host/src/data/openrtb-from-log.ts";
import { readRawLog } from "../../host/src/data/ipinyou.ts";
import { enc, fixture, loadCore } from "./helpers.ts";
import { tcString } from "../helpers/tcf.ts";

const tmp = mkdtempSync(join(tmpdir(), "nexus-train-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

let core: NexusCore;
before(async () => {
  core = await loadCore();
});

const SETTINGS = { hashBits: 18, alpha: 0.1, beta: 1, l1: 0.5, l2: 1, epochs: 3, seed: 1, cvrPrior: 0.05 };

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s), progress: false }, out, err };
}

describe("train", () => {
  it("raw logs: learns the signal, writes .nxm/.npz with digests, loads and scores through the core", async () => {
    const out = join(tmp, "raw-model");
    const s = await runTrain({ data: fixture("train-raw.sample.txt"), format: "raw", test: fixture("test-raw.sample.txt"), out, settings: SETTINGS });
    assert.equal(s.data.examples, 400);
    assert.ok(s.metrics.test!.ctr.auc > 0.7, `test AUC ${s.metrics.test!.ctr.auc}`);
    assert.equal(s.model.cvr, "constant");
    assert.ok(Math.abs(s.model.bCvr - logit(0.05)) < 1e-6);
    assert.equal(s.files.signed, false);

    const nxm = await loadModelFile(`${out}.nxm`, { allowUnsigned: true });
    const npz = await loadModelFile(`${out}.npz`, { allowUnsigned: true });
    assert.ok(modelsEqual(nxm.model, npz.model));
    assert.equal(nxm.model.hashBits, 18);
    assert.match(readFileSync(`${out}.nxm.sha256`, "utf8"), /^[0-9a-f]{64} {2}raw-model\.nxm\n$/);
    assert.equal(existsSync(`${out}.nxm.sig`), false);

    // the filter's scorer: a shop request (high CTR in the fixture) scores above a news one
    core.loadModel(toWireBlob(nxm.model), 18);
    const score = (domain: string): number => {
      const r = bidRequestFromLog({ bidid: "t", timestamp: "20131023120000000", domain, slotwidth: 300, slotheight: 250 });
      const b = core.requestFeatures(enc.encode(r.json), 0, r.timeMs, r.utcOffsetMinutes);
      assert.ok(!(b instanceof ParseError));
      return core.score(b).pCtr;
    };
    assert.ok(score("dom-shop") > 2 * score("dom-news"), `${score("dom-shop")} vs ${score("dom-news")}`);
    const cvr = core.score(new Uint32Array([1, 2, 3])).pCvr;
    assert.ok(Math.abs(cvr - 0.05) < 1e-6);
  });

  it("the evaluation equals scoring the written model with the core", async () => {
    const { set } = await loadExamples(core, fixture("test-raw.sample.txt"), { format: "raw" });
    const train = await loadExamples(core, fixture("train-raw.sample.txt"), { format: "raw" });
    const t = trainModel(core, train.set, SETTINGS);
    const e1 = evaluateModel(core, t.model, set);
    const recs = [];
    for await (const r of readRawLog(fixture("test-raw.sample.txt"))) recs.push(r);
    core.loadModel(toWireBlob(t.model), 18);
    let sum = 0;
    for (const rec of recs) {
      const r = bidRequestFromLog(rec);
      sum += core.score(core.requestFeatures(enc.encode(r.json), 0, r.timeMs, r.utcOffsetMinutes) as Uint32Array).pCtr;
    }
    assert.ok(Math.abs(e1.ctr.calibration * e1.ctr.positives - sum) < 1e-9);
  });

  it("is reproducible for a seed", async () => {
    const train = await loadExamples(core, fixture("train-raw.sample.txt"), { format: "raw" });
    const a = trainModel(core, train.set, SETTINGS);
    const b = trainModel(core, train.set, SETTINGS);
    const c = trainModel(core, train.set, { ...SETTINGS, seed: 2 });
    assert.ok(modelsEqual(a.model, b.model));
    assert.ok(!modelsEqual(a.model, c.model));
  });

  it("the core's FTRL starts from a set bias and keeps it under a zero gradient", () => {
    core.ftrlInit(18, { alpha: 0.2, beta: 0.1, l1: 2, l2: 1 });
    core.ftrlSetBias(0, logit(0.01));
    const none = new Uint32Array(0);
    assert.ok(Math.abs(core.ftrlPredict(0, none) - 0.01) < 1e-12);
    // a label equal to the prediction is a zero gradient: FTRL's lazy weights do not move
    core.ftrlUpdate(0, none, 0.01);
    assert.ok(Math.abs(core.ftrlPredict(0, none) - 0.01) < 1e-12);
    core.ftrlUpdate(0, none, 1);
    assert.ok(core.ftrlPredict(0, none) > 0.01);
  });

  it("the core's FTRL takes a bucket listed twice as one coordinate with x = 2 (McMahan et al., Algorithm 1)", () => {
    // α 0.1, β 1, no regularisation, bias 0; two steps with label 1 on bucket 5 listed twice.
    const alpha = 0.1;
    const beta = 1;
    core.ftrlInit(10, { alpha, beta, l1: 0, l2: 0 });
    const twice = new Uint32Array([5, 5]);
    core.ftrlUpdate(0, twice, 1);
    core.ftrlUpdate(0, twice, 1);
    // The same steps by hand: margin = bias + 2·w5, gradient of coordinate 5 is 2·(p − y).
    let z = 0, n = 0, zb = 0, nb = 0;
    const w = (zz: number, nn: number) => -zz / ((beta + Math.sqrt(nn)) / alpha);
    for (let step = 0; step < 2; step++) {
      const p = 1 / (1 + Math.exp(-(w(zb, nb) + 2 * w(z, n))));
      const g = p - 1;
      const gi = 2 * g;
      z += gi - ((Math.sqrt(n + gi * gi) - Math.sqrt(n)) / alpha) * w(z, n);
      n += gi * gi;
      zb += g - ((Math.sqrt(nb + g * g) - Math.sqrt(nb)) / alpha) * w(zb, nb);
      nb += g * g;
    }
    const expected = 1 / (1 + Math.exp(-(w(zb, nb) + 2 * w(z, n))));
    assert.ok(Math.abs(core.ftrlPredict(0, twice) - expected) < 1e-9, `${core.ftrlPredict(0, twice)} vs ${expected}`);
  });

  it("the bias starts at the base rate: a request with only unseen features scores near the click rate", async () => {
    const train = await loadExamples(core, fixture("train-raw.sample.txt"), { format: "raw" });
    const rate = train.set.clicks / train.set.size;
    const unseen = new Uint32Array([core.bucketOf("domain=never-seen.example"), core.bucketOf("ip=198.51.100.*")]);
    const pUnseen = (settings: typeof SETTINGS & { baseRateBias: boolean }): number => {
      const t = trainModel(core, train.set, { ...settings, bag: 1 });
      core.loadModel(toWireBlob(t.model), 18);
      return core.score(unseen).pCtr;
    };
    const fromBaseRate = pUnseen({ ...SETTINGS, baseRateBias: true });
    const fromZero = pUnseen({ ...SETTINGS, baseRateBias: false });
    assert.ok(fromBaseRate > rate / 2 && fromBaseRate < rate * 2, `unseen ${fromBaseRate} vs click rate ${rate}`);
    assert.ok(fromZero > fromBaseRate * 1.5, `from 0: unseen ${fromZero}, from the base rate ${fromBaseRate}`);
    assert.ok(Math.abs(baseRateLogit(0, 99) - logit(0.005)) < 1e-12); // finite without positives
  });

  it("--bag averages the weights of the models of seeds seed … seed+bag−1", async () => {
    const train = await loadExamples(core, fixture("train-raw.sample.txt"), { format: "raw" });
    const singles = [1, 2, 3].map((seed) => trainModel(core, train.set, { ...SETTINGS, seed, bag: 1 }).model);
    const bagged = trainModel(core, train.set, { ...SETTINGS, seed: 1, bag: 3 });
    assert.ok(modelsEqual(singles[0]!, trainModel(core, train.set, { ...SETTINGS, bag: 1 }).model));
    let compared = 0;
    for (let i = 0; i < bagged.model.wCtr.length; i++) {
      const mean = (singles[0]!.wCtr[i]! + singles[1]!.wCtr[i]! + singles[2]!.wCtr[i]!) / 3;
      assert.ok(Math.abs(bagged.model.wCtr[i]! - mean) <= 1e-6 * Math.max(1, Math.abs(mean)), `weight ${i}`);
      if (mean !== 0) compared++;
    }
    assert.ok(compared >= bagged.nonZeroCtr && compared > 0);
    const bMean = (singles[0]!.bCtr + singles[1]!.bCtr + singles[2]!.bCtr) / 3;
    assert.ok(Math.abs(bagged.model.bCtr - bMean) < 1e-5);
    assert.ok(!modelsEqual(bagged.model, singles[0]!));
  });

  it("events: trains pCVR on clicked events with a conversion label; signs with --key", async () => {
    const keys = await keygen(join(tmp, "keys"));
    const out = join(tmp, "ev-model.nxm");
    const s = await runTrain({ data: fixture("events-train.sample.jsonl"), format: "events", out, settings: SETTINGS, keyPath: keys.privateKeyPath });
    assert.equal(s.model.cvr, "trained");
    assert.ok(s.model.cvrExamples > 5);
    assert.ok(s.model.nonZeroCvr > 0);
    assert.equal(s.files.signed, true);
    const pub = readFileSync(keys.publicKeyPath, "utf8");
    const loaded = await loadModelFile(join(tmp, "ev-model.nxm"), { publicKey: pub, allowUnsigned: false });
    assert.equal(loaded.signed, true);
    const npz = await loadModelFile(join(tmp, "ev-model.npz"), { publicKey: pub, allowUnsigned: false });
    assert.ok(modelsEqual(loaded.model, npz.model));
  });

  it("a bad --key fails before training (KEY_INVALID) and leaves the previous model, digest and signature as they were", async () => {
    const keys = await keygen(join(tmp, "keys-bad"));
    const out = join(tmp, "keep-model.nxm");
    await runTrain({ data: fixture("events-train.sample.jsonl"), format: "events", out, settings: SETTINGS, keyPath: keys.privateKeyPath });
    const files = ["keep-model.nxm", "keep-model.nxm.sha256", "keep-model.nxm.sig", "keep-model.npz", "keep-model.npz.sha256", "keep-model.npz.sig"];
    const before = files.map((f) => readFileSync(join(tmp, f)));
    writeFileSync(join(tmp, "bad.pem"), "garbage\n");
    let trainedRows = 0;
    await assert.rejects(
      runTrain({ data: fixture("train-raw.sample.txt"), format: "raw", out, settings: { ...SETTINGS, seed: 9 }, keyPath: join(tmp, "bad.pem") }, () => trainedRows++),
      (e: Error & { code?: string }) => e.code === "KEY_INVALID",
    );
    assert.equal(trainedRows, 0, "nothing was loaded or trained");
    files.forEach((f, i) => assert.ok(readFileSync(join(tmp, f)).equals(before[i]!), `${f} unchanged`));
    const loaded = await loadModelFile(out, { publicKey: readFileSync(keys.publicKeyPath, "utf8"), allowUnsigned: false });
    assert.equal(loaded.signed, true);
    // The CLI prints it as an error with its code, not a stack trace.
    const o = io();
    const code = await main(["--data", fixture("train-raw.sample.txt"), "--out", out, "--key", join(tmp, "bad.pem")], o.io);
    assert.equal(code, 1);
    assert.match(o.err.join(""), /KEY_INVALID/);
    assert.equal(o.err.join("").split("KEY_INVALID").length - 1, 1, `the code once: ${o.err.join("")}`);
    assert.doesNotMatch(o.err.join(""), /\n\s+at /);
  });

  it("libFM with the featindex next to it is found by default; skipped rows are counted", async () => {
    const { set, stats, layout } = await loadExamples(core, fixture("libfm-deepctr.sample.txt"), { format: "libfm", featindexPath: fixture("featindex.sample.txt") });
    assert.equal(layout, "deep-ctr");
    assert.equal(set.size, 62);
    assert.equal(stats.skippedTotal, 7);
    await assert.rejects(loadExamples(core, fixture("libfm-deepctr.sample.txt"), { format: "libfm" }), (e: Error & { code?: string }) => e.code === "FEATINDEX_MISSING");
    // A data file that is not there is reported as such, not as a featindex missing next to it.
    await assert.rejects(
      loadExamples(core, fixture("no-such.fm.txt"), { format: "libfm" }),
      (e: Error & { code?: string }) => e.code === "DATA_UNREADABLE" && /no-such\.fm\.txt: no such file/.test(e.message),
    );
  });

  it("events: requests the core refuses or imps that do not exist are counted", async () => {
    const { stats } = await loadExamples(core, fixture("events.sample.jsonl"), { format: "events" });
    assert.equal(stats.skipped["no-imp"], 1);
    assert.equal(stats.used, 2);
  });

  it("events: a logged request with a duplicate key is rejected as the filter rejects it, not trained on one of the values", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nexus-events-dup-"));
    try {
      const file = join(dir, "events.jsonl");
      const request = '{"id":"r","site":{"domain":"a.com","domain":"b.com"},"imp":[{"id":"1","banner":{"w":300,"h":250}}]}';
      const good = request.replace('"domain":"a.com",', "");
      writeFileSync(file, `{"time_ms":1700000000000,"click":0,"request":${request}}\n{"time_ms":1700000000001,"click":1,"request":${good}}\n`);
      const { stats, set } = await loadExamples(core, file, { format: "events" });
      assert.equal(set.size, 1);
      assert.equal(stats.skipped["request-rejected"], 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // An audit: one request over the core's 1 MiB input buffer ended the whole run (CORE_INPUT_TOO_LARGE).
  it("events: a request too large for the core's input buffer is one skipped row, counted as request-too-large", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nexus-events-huge-"));
    try {
      const file = join(dir, "events.jsonl");
      const request = (domain: string) => `{"id":"r","site":{"domain":"${domain}"},"imp":[{"id":"1","banner":{"w":300,"h":250}}]}`;
      const lines = [request("a.com"), request("x".repeat(1_100_000)), request("b.com")].map((r, i) => `{"time_ms":${1700000000000 + i},"click":${i % 2},"request":${r}}`);
      writeFileSync(file, `${lines.join("\n")}\n`);
      const { stats, set } = await loadExamples(core, file, { format: "events" });
      assert.equal(set.size, 2);
      assert.equal(stats.skipped["request-too-large"], 1);
      assert.equal(stats.skipped["request-rejected"], undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("events: --gdpr-vendor-id makes the filter's consent decision (a TCF string without our vendor: contextual features only)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nexus-events-gdpr-"));
    try {
      const file = join(dir, "events.jsonl");
      // Purposes 1, 3 and 4 given to vendor 78 only; the request has an IP and a segment.
      const request = {
        id: "g", imp: [{ id: "1", banner: { w: 300, h: 250 } }], site: { domain: "news.example" },
        device: { ip: "1.2.3.4" }, user: { consent: tcString({ purposes: [1, 3, 4], vendors: [78] }), data: [{ segment: [{ id: "s1" }] }] },
        regs: { gdpr: 1 },
      };
      const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ time_ms: 1_700_000_000_000 + i, click: i % 4 === 0 ? 1 : 0, request }));
      writeFileSync(file, lines.join("\n") + "\n");
      const buckets = (vendor: number): number => {
        core.setGdprVendorId(vendor);
        const b = core.requestFeatures(enc.encode(JSON.stringify(request)), 0, 1_700_000_000_000, 0);
        core.setGdprVendorId(0);
        assert.ok(!(b instanceof ParseError));
        return b.length;
      };
      const personal = buckets(0);
      const contextual = buckets(77);
      assert.ok(contextual < personal, `${contextual} buckets with vendor 77, ${personal} without`);
      assert.equal(buckets(78), personal, "the vendor the string consents to keeps them");
      // The CLI's option reaches the core: the two trainings see different features.
      const nonZero = async (vendor: string[]) => {
        const out = join(dir, `m${vendor.join("")}`);
        const o = io();
        assert.equal(await main(["--data", file, "--format", "events", "--out", out, "--bag", "1", "--l1", "0", "--json", ...vendor], o.io), 0, o.err.join(""));
        return (JSON.parse(o.out.join("")) as TrainSummary).model.nonZeroCtr;
      };
      assert.ok((await nonZero(["--gdpr-vendor-id", "77"])) < (await nonZero([])));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("tuning picks settings by cross-validation on the training data", async () => {
    const train = await loadExamples(core, fixture("train-raw.sample.txt"), { format: "raw" });
    const r = tuneFtrl(core, train.set, { alpha: [0.05, 0.2], beta: [1], l1: [0, 1], l2: [1], maxEpochs: 2 }, { hashBits: 18, folds: 3, repeats: 1, seed: 1 });
    assert.equal(r.trials, 8);
    assert.ok(r.best.auc > 0.6);
    assert.ok([1, 2].includes(r.best.epochs));
  });

  it("tuning ranks every setting when some folds have no click: their AUC is left out of the mean", () => {
    // 3 clicks in 300 rows, 3 folds: most fold draws leave a fold without a click (no AUC). One
    // such fold made every setting's mean AUC NaN, and the first grid point was taken unranked.
    const set = new ExampleSet();
    for (let i = 0; i < 300; i++) set.add(new Uint32Array([1000 + (i % 7), 2000 + i]), i % 100 === 0 ? 1 : 0, -1, 0);
    const grid = { alpha: [0.05, 0.5], beta: [1], l1: [0], l2: [1], maxEpochs: 1 };
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = tuneFtrl(core, set, grid, { hashBits: 18, folds: 3, repeats: 1, seed });
      assert.equal(r.top.length, 2, `seed ${seed}: both settings ranked`);
      assert.ok(Number.isFinite(r.best.auc), `seed ${seed}: ${r.best.auc}`);
    }
    // No click at all: no AUC anywhere; a clear error, not a guess.
    const none = new ExampleSet();
    for (let i = 0; i < 30; i++) none.add(new Uint32Array([1000 + i]), 0, -1, 0);
    assert.throws(() => tuneFtrl(core, none, grid, { hashBits: 18, folds: 3, repeats: 1, seed: 1 }), /needs clicks and non-clicks/);
  });

  it("refuses --beta 0 (FTRL's first step and the base-rate bias start need beta > 0)", async () => {
    const o = io();
    assert.equal(await main(["--data", fixture("train-raw.sample.txt"), "--out", join(tmp, "beta0"), "--beta", "0", "--l2", "0"], o.io), 2);
    assert.match(o.err.join("\n"), /beta/);
  });

  it("tuning starts each fold's bias at its training rows' base rate, never using the held-out rows' labels", () => {
    // 40 rows, the first 10 clicked; row i has the one bucket 1000 + i, so the
    // core's calls say which rows a fold trains on and which it scores.
    const set = new ExampleSet();
    for (let i = 0; i < 40; i++) set.add(new Uint32Array([1000 + i]), i < 10 ? 1 : 0, -1, 0);
    type Run = { bias?: number; trained: Set<number>; scored: Set<number> };
    const runs: Run[] = [];
    const spy = new Proxy(core, {
      get(target, key) {
        const v = Reflect.get(target, key, target) as unknown;
        if (typeof v !== "function") return v;
        const f = (v as (...a: unknown[]) => unknown).bind(target);
        if (key === "ftrlInit") {
          return (...a: unknown[]) => {
            runs.push({ trained: new Set(), scored: new Set() });
            return f(...a);
          };
        }
        if (key === "ftrlSetBias") {
          return (which: number, w: number) => {
            if (which === 0) runs.at(-1)!.bias = w;
            return f(which, w);
          };
        }
        if (key === "ftrlUpdate" || key === "ftrlPredict") {
          return (which: number, b: Uint32Array, ...rest: unknown[]) => {
            if (which === 0) (key === "ftrlUpdate" ? runs.at(-1)!.trained : runs.at(-1)!.scored).add(b[0]! - 1000);
            return f(which, b, ...rest);
          };
        }
        return f;
      },
    });
    const grid = { alpha: [0.1], beta: [1], l1: [0], l2: [1], maxEpochs: 1 };
    tuneFtrl(spy, set, grid, { hashBits: 18, folds: 4, repeats: 2, seed: 3 });
    assert.equal(runs.length, 8, "one fresh model per fold of each repeat");
    const clicks = (rows: Iterable<number>): number => [...rows].filter((i) => set.click(i) === 1).length;
    const allRows = baseRateLogit(10, 40);
    const biases = new Set<number>();
    for (const r of runs) {
      assert.equal(r.trained.size + r.scored.size, 40);
      for (const i of r.scored) assert.ok(!r.trained.has(i), `row ${i} both trained and held out`);
      const fromTraining = baseRateLogit(clicks(r.trained), r.trained.size);
      const fromHeldOut = baseRateLogit(clicks(r.scored), r.scored.size);
      // the data make the three candidate rates differ in every fold (10 of 40 clicked)
      assert.ok(Math.abs(fromTraining - allRows) > 1e-3 && Math.abs(fromTraining - fromHeldOut) > 1e-3);
      assert.ok(r.bias !== undefined && Math.abs(r.bias - fromTraining) < 1e-12, `start bias ${r.bias}, training rows' ${fromTraining}, all rows' ${allRows}, held-out rows' ${fromHeldOut}`);
      biases.add(r.bias);
    }
    assert.ok(biases.size > 1, "folds with different training click counts start from different biases");
    // --zero-bias: the same folds, no start bias set
    runs.length = 0;
    tuneFtrl(spy, set, grid, { hashBits: 18, folds: 4, repeats: 2, seed: 3, baseRateBias: false });
    assert.equal(runs.length, 8);
    assert.ok(runs.every((r) => r.bias === undefined && r.trained.size === 30 && r.scored.size === 10));
  });

  it("the CLI: --json summary, exit codes", async () => {
    const o = io();
    const code = await main(["--data", fixture("train-raw.sample.txt"), "--test", fixture("test-raw.sample.txt"), "--out", join(tmp, "cli"), "--epochs", "2", "--json"], o.io);
    assert.equal(code, 0, o.err.join(""));
    const s = JSON.parse(o.out.join("")) as TrainSummary;
    assert.equal(s.data.format, "raw");
    assert.equal(s.settings.epochs, 2);
    assert.ok(s.metrics.test!.ctr.auc > 0.5);
    const text = io();
    assert.equal(await main(["--data", fixture("train-raw.sample.txt"), "--out", join(tmp, "cli2")], text.io), 0);
    assert.match(text.out.join(""), /train {2}pCTR AUC/);
    assert.equal(text.err.join(""), "", "no warning for data with clicks");
    // Data without a click: the model is written, with a warning on stderr (stdout stays the summary).
    const noClicks = join(tmp, "no-clicks.jsonl");
    writeFileSync(noClicks, readFileSync(fixture("events-train.sample.jsonl"), "utf8").replace(/"click":1/g, '"click":0'));
    const quiet = io();
    assert.equal(await main(["--data", noClicks, "--out", join(tmp, "no-clicks")], quiet.io), 0);
    assert.match(quiet.err.join(""), /^warning: .*no-clicks\.jsonl has no clicks/);
    assert.match(quiet.out.join(""), /mean pCTR \/ CTR n\/a/);
    assert.ok(existsSync(join(tmp, "no-clicks.nxm")));
    const bad = io();
    assert.equal(await main(["--data", fixture("train-raw.sample.txt")], bad.io), 2);
    assert.match(bad.err.join(""), /--out is required/);
    assert.equal(await main(["--data", fixture("train-raw.sample.txt"), "--out", join(tmp, "x"), "--alpha", "abc"], io().io), 2);
    // --out names the files, not a directory: a directory or a trailing slash is refused, nothing written.
    for (const out of [tmp, `${join(tmp, "sub")}/`]) {
      const dirOut = io();
      assert.equal(await main(["--data", fixture("train-raw.sample.txt"), "--out", out], dirOut.io), 2);
      assert.match(dirOut.err.join(""), /--out: .* is a directory; give the model files' path without extension/);
    }
    assert.ok(!existsSync(`${tmp}.nxm`) && !existsSync(join(tmp, ".nxm")), "nothing written beside or inside the directory");
    const noDir = io();
    assert.equal(await main(["--data", fixture("train-raw.sample.txt"), "--out", join(tmp, "no-such-dir", "m")], noDir.io), 2);
    assert.match(noDir.err.join(""), /--out: directory .*no-such-dir does not exist/);
    const noKey = io();
    assert.equal(await main(["--data", fixture("train-raw.sample.txt"), "--out", join(tmp, "k"), "--key", join(tmp, "no-key.pem")], noKey.io), 2);
    assert.match(noKey.err.join(""), /--key: .*does not exist/);
    // An output that cannot be written names the file asked for, not the temporary one it is written under.
    if (process.platform === "linux") {
      const unwritable = io();
      assert.equal(await main(["--data", fixture("train-raw.sample.txt"), "--out", "/proc/nexus-train-test"], unwritable.io), 1);
      assert.match(unwritable.err.join(""), /OUTPUT_UNWRITABLE: writing the model files: \/proc\/nexus-train-test\.nxm: E[A-Z]+/);
    }
    // A file of another format (here a replay file read as a raw log): the error says so.
    const wrongFormat = io();
    assert.equal(await main(["--data", fixture("replay.sample.txt"), "--format", "raw", "--out", join(tmp, "wf")], wrongFormat.io), 1);
    assert.match(wrongFormat.err.join(""), /DATA_EMPTY: .*replay\.sample\.txt: no usable raw rows \(.*"column-count".*\): no line has the shape of raw; is it a file of another format\? \(--format raw\|libfm\|events\)/);
    const missing = io();
    assert.equal(await main(["--data", join(tmp, "nope.txt"), "--out", join(tmp, "x")], missing.io), 1);
    assert.match(missing.err.join(""), /DATA_UNREADABLE/);
  });
});
