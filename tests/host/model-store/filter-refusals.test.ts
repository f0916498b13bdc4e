// What happens after the host accepted a model that the filter cannot take: the host and
// the filter must agree on what is served, and the filter must not download the same
// refused blob again on every sync. The model store is a directory (the code paths after
// the store are the same for S3, which needs an S3 server: see store-s3.test.ts).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { README_REQUEST, post, testBidderConfig } from "../../helpers/bidder.ts";
import { startControlPlane, vmStatuses, type Standalone } from "../../../host/src/standalone.ts";
import { renderPrometheus, type VmPool } from "../../../host/src/proxy-wasm/index.ts";
import { encodeNxm } from "../../../host/src/models/index.ts";
import { captureLogger, dirPublisher, newKeys, nxmFiles, publish, setCurrent, signed, startSidecarFilter, startStoreBidder, stopControlPlane, testModel, waitFor, type KeyPair, type LogLine, type ModelFiles, type Publisher } from "./helpers.ts";

async function price(app: Standalone): Promise<number> {
  const r = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
  assert.equal(r.status, 200, r.text);
  return r.json().seatbid[0].bid[0].price as number;
}

/** A bidder on a model directory, serving `first` (made with its keys), that counts the filter's model downloads. */
interface RefusalBidder {
  pub: Publisher;
  keys: KeyPair;
  app: Standalone;
  lines: LogLine[];
  /** GET /nexus/v1/model answered so far (the leader's downloads). */
  modelGets(): number;
  close(): Promise<void>;
}

async function startRefusalBidder(first: (keys: KeyPair) => ModelFiles): Promise<RefusalBidder> {
  const dir = mkdtempSync(join(tmpdir(), "nexus-filter-refusal-"));
  const pub = dirPublisher(dir);
  const keys = newKeys();
  const files = first(keys);
  await publish(pub, files);
  await setCurrent(pub, files.name);
  const cap = captureLogger();
  const app = await startStoreBidder({ publisher: pub, publicKeyPem: keys.publicKeyPem, pollMs: 200, log: cap.log });
  let gets = 0;
  const model = app.sync.model.bind(app.sync);
  app.sync.model = (v) => {
    gets++;
    return model(v);
  };
  return {
    pub,
    keys,
    app,
    lines: cap.lines,
    modelGets: () => gets,
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe("a model the filter refuses (hash_bits other than the filter's)", () => {
  let b: RefusalBidder;
  let app: Standalone;
  let lines: LogLine[];

  before(async () => {
    b = await startRefusalBidder((keys) => nxmFiles("model-a.nxm", 0.002, keys));
    ({ app, lines } = b);
    await app.ready(20_000);
  });
  after(async () => {
    await b?.close();
  });

  it("is refused by the host (MODEL_HASH_BITS_MISMATCH): the old model keeps serving, the filter never downloads it", async () => {
    const before = await price(app);
    const served = app.models.announcement()!.version;
    assert.equal(app.sync.filter.hashBits, 18, "the filter reports its hash_bits");
    assert.equal(app.sync.filter.modelVersion, served, "the filter reports the version it serves");
    const getsBefore = b.modelGets();
    // A valid, signed model of hash_bits 16: the filter's VMs are configured for 18.
    const bad = signed("model-16.nxm", encodeNxm(testModel(0.004, 16)), b.keys);
    await publish(b.pub, bad);
    await setCurrent(b.pub, bad.name);
    const line = await waitFor("the host's refusal", () => lines.find((l) => l.event === "model_refused" && l.name === bad.name), 5000);
    assert.equal(line.code, "MODEL_HASH_BITS_MISMATCH", JSON.stringify(line));
    assert.equal(line.serving, served);
    // Ten sync periods (100 ms each).
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await price(app), before, "bids still priced by the old model");
    assert.ok(vmStatuses(app.pool).every((s) => s.modelLoaded));
    assert.equal(b.modelGets() - getsBefore, 0, "the filter never downloads a model of other dimensions");
    assert.equal(app.models.announcement()?.version, served, "the host announces what the filter bids with");
    assert.equal(app.sync.filter.modelVersion, served);
    // The watcher's backoff: 4 poll periods (800 ms), then 8, ...
    assert.ok(lines.filter((l) => l.event === "model_refused" && l.name === bad.name).length <= 2, "refused on the backoff schedule");
  });
});

describe("a model of other dimensions at a standalone start", () => {
  let b: RefusalBidder;
  let app: Standalone;
  let lines: LogLine[];

  before(async () => {
    b = await startRefusalBidder((keys) => signed("model-16.nxm", encodeNxm(testModel(0.004, 16)), keys));
    ({ app, lines } = b);
  });
  after(async () => {
    await b?.close();
  });

  // The standalone host knows its VMs' hash_bits before its first poll, so the model is refused
  // at once; a sidecar host learns them at the filter's first sync and withdraws it then
  // (ModelRegistry unit test in watcher.test.ts).
  it("is refused before the filter sees it (failed, not ready, never downloaded), and a fitting version is then loaded", async () => {
    await waitFor("the first sync", () => app.sync.syncs > 0, 5000);
    const line = await waitFor("the refusal", () => lines.find((l) => l.event === "model_refused" && l.code === "MODEL_HASH_BITS_MISMATCH"), 5000);
    assert.equal(line.level, 50);
    assert.equal(app.models.state, "failed");
    assert.equal(app.models.announcement(), null);
    assert.equal(app.control.readiness().ok, false);
    const info = await app.metrics.modelInfo.get();
    assert.deepEqual(info.values, [], "nexus_host_model_info names no version once the model is withdrawn");
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(b.modelGets(), 0, `downloaded ${b.modelGets()} times`);
    assert.equal(lines.find((l) => l.event === "model_loaded" && l.name === "model-16.nxm"), undefined, "never loaded, not even until the first sync");
    assert.equal(app.sync.filter.modelVersion, "", "the filter serves no model");
    const good = nxmFiles("model-18.nxm", 0.002, b.keys);
    await publish(b.pub, good);
    await setCurrent(b.pub, good.name);
    await app.ready(10_000);
    assert.equal(app.models.announcement()?.version, good.version);
    await waitFor("the filter to serve it", () => app.sync.filter.modelVersion === good.version, 5000);
    await price(app);
  });
});

describe("a sidecar host told the filter's hash_bits (model.hashBits)", () => {
  it("refuses a model of other dimensions at its first poll, before any sync, and never loads it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nexus-sidecar-bits-"));
    const pub = dirPublisher(dir);
    const keys = newKeys();
    const f = signed("model-16.nxm", encodeNxm(testModel(0.004, 16)), keys);
    await publish(pub, f);
    await setCurrent(pub, f.name);
    const { cfg } = testBidderConfig({ vms: 1 });
    cfg.mode = "sidecar";
    cfg.model = { ...cfg.model, store: dir, file: "", publicKey: keys.publicKeyPem, hashBits: 18 };
    const cap = captureLogger();
    const cp = await startControlPlane(cfg, cap.log);
    try {
      assert.equal(cp.sync.syncs, 0, "no filter has synced");
      assert.equal(cp.models.state, "failed");
      assert.equal(cap.lines.find((l) => l.event === "model_refused")?.code, "MODEL_HASH_BITS_MISMATCH");
      assert.equal(cap.lines.find((l) => l.event === "model_loaded"), undefined, "never loaded");
    } finally {
      await stopControlPlane(cp, dir);
    }
  });
});

describe("a model blob that does not fit in shared data", () => {
  it("is not announced to the VMs (no meta without its blob), is counted and logged, and is not downloaded on every sync", async () => {
    // One VM of the real filter with a 4 MiB shared-data arena and hash_bits 19: a dense model
    // of that size is an NXM blob of 4 MiB + 32 bytes, which cannot be stored.
    const { cfg, dir } = testBidderConfig({ vms: 1 });
    const keys = newKeys();
    const model = testModel(0.002, 19);
    for (let i = 0; i < model.wCtr.length; i++) model.wCtr[i] ||= 1e-6; // dense
    const files = signed("dense.nxm", encodeNxm(model), keys);
    writeFileSync(join(dir, files.name), files.bytes);
    writeFileSync(join(dir, files.name + ".sha256"), files.digestText);
    writeFileSync(join(dir, files.name + ".sig"), files.sig);
    cfg.model = { ...cfg.model, file: files.name, publicKey: keys.publicKeyPem };
    const cap = captureLogger();
    const cp = await startControlPlane(cfg, cap.log);
    assert.equal(cp.models.state, "loaded");
    let modelGets = 0;
    const get = cp.sync.model.bind(cp.sync);
    cp.sync.model = (v) => {
      modelGets++;
      return get(v);
    };
    const logs: string[] = [];
    let pool: VmPool | undefined;
    try {
      pool = await startSidecarFilter(cfg, cp, logs, { plugin: { hash_bits: 19 }, sharedData: { bytes: 4 << 20, maxKeys: 1024 } });
      const p = pool;
      await waitFor("the leader's first model download", () => modelGets > 0, 5000);
      await new Promise((r) => setTimeout(r, 1000)); // ten sync periods
      const meta = p.shared.get("nexus/v1/model/meta");
      assert.equal(meta, undefined, "the meta is published only with its blob (else every VM waits for a blob that never comes)");
      assert.ok(logs.some((m) => /could not be written to shared data/.test(m)), `an error is logged; filter log: ${JSON.stringify(logs.slice(-5))}`);
      assert.match(renderPrometheus(p.metrics), /nexus_model_load_failures_total\S* [1-9]/);
      assert.ok(modelGets <= 1, `downloaded ${modelGets} times in 10 sync periods`);
    } finally {
      await pool?.close();
      await stopControlPlane(cp, dir);
    }
  });
});

describe("a campaign set that does not fit in shared data", () => {
  it("is not announced (no version without its data), is counted and logged", async () => {
    // A 256 KiB shared-data arena and a valid campaign set of ~300 KiB (a large creative).
    const { cfg, dir } = testBidderConfig({ vms: 1 });
    const campaigns = JSON.parse(readFileSync(cfg.campaignsPath, "utf8"));
    const big = campaigns.campaigns[0].creatives[0];
    for (let i = 0; i < 10; i++) campaigns.campaigns[0].creatives.push({ ...big, crid: `big-${i}`, adm: `<div>${"x".repeat(30_000)}</div>` });
    writeFileSync(cfg.campaignsPath, JSON.stringify(campaigns));
    const cp = await startControlPlane(cfg, captureLogger().log);
    const logs: string[] = [];
    let pool: VmPool | undefined;
    try {
      pool = await startSidecarFilter(cfg, cp, logs, { plugin: { replay_ttl_ms: 0 }, sharedData: { bytes: 256 << 10, maxKeys: 1024 } });
      const p = pool;
      await waitFor("a failed campaign set load", () => /nexus_config_load_failures_total\S* [1-9]/.test(renderPrometheus(p.metrics)), 5000);
      assert.equal(p.shared.get("nexus/v1/config/version"), undefined, "the version is published only with its data");
      assert.ok(logs.some((m) => /could not store campaign set/.test(m)), `an error is logged; filter log: ${JSON.stringify(logs.slice(-5))}`);
    } finally {
      await pool?.close();
      await stopControlPlane(cp, dir);
    }
  });
});
