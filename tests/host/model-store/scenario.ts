// The end-to-end store scenario, run against a directory (store-dir.test.ts) and
// a real S3-compatible server process (store-s3.test.ts): a standalone bidder
// (compiled filter, 2 VMs, real HTTP) whose model comes from the store.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST, get, post } from "../../helpers/bidder.ts";
import { vmStatuses, type Standalone } from "../../../host/src/standalone.ts";
import { encodeNxm } from "../../../host/src/models/index.ts";
import {
  captureLogger,
  newKeys,
  npzFiles,
  nxmFiles,
  publish,
  setCurrent,
  signed,
  startStoreBidder,
  testModel,
  waitFor,
  type KeyPair,
  type LogLine,
  type ModelFiles,
  type Publisher,
} from "./helpers.ts";

export interface ScenarioEnv {
  publisher: Publisher;
  cleanup(): Promise<void>;
}

type BidOutcome = { status: 200; price: number } | { status: number; reason: string };

async function bid(app: Standalone): Promise<BidOutcome> {
  const r = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
  if (r.status === 200) return { status: 200, price: r.json().seatbid[0].bid[0].price as number };
  return { status: r.status, reason: String(r.headers["x-nexus-nobid-reason"] ?? r.text) };
}

async function price(app: Standalone): Promise<number> {
  const b = await bid(app);
  assert.equal(b.status, 200, JSON.stringify(b));
  return (b as { price: number }).price;
}

/** Expected README-request price of the test model with this pCTR (pCVR 0.05, $20 per conversion, CPM). */
const expectedPrice = (pCtr: number) => pCtr * 0.05 * 20 * 1000;

/**
 * A publisher whose writes of objects the watcher reads (CURRENT and the files of the model it
 * names) happen right after one of the watcher's polls ended, so that no poll reads an object
 * while it is being written: s3rver rewrites object files in place (a reader racing the writer
 * gets a response shorter than its Content-Length and waits for a timeout). Real S3 and the
 * directory publisher (rename) replace objects atomically. New objects nobody reads yet are
 * written at once.
 */
function betweenPolls(pub: Publisher, app: () => Standalone | undefined): Publisher {
  let current = "";
  const afterPoll = async (name: string) => {
    const a = app();
    if (!a || (name !== "CURRENT" && !(current && name.startsWith(current)))) return;
    const n = a.modelWatcher.polls;
    await waitFor("a watcher poll to end", () => a.modelWatcher.polls > n, 5000, 2);
  };
  return {
    ...pub,
    put: async (name, body) => {
      await afterPoll(name);
      await pub.put(name, body);
      if (name === "CURRENT") current = String(body).trim();
    },
    del: async (name) => {
      await afterPoll(name);
      await pub.del(name);
    },
  };
}

async function servedByHost(app: Standalone, version: string): Promise<boolean> {
  return (await get(`${app.controlUrl}/nexus/v1/model?version=${version}`, { authorization: `Bearer ${app.syncToken}` })).status === 200;
}

/**
 * Registers the scenario. `pollMs` is cfg.model.pollMs: new versions must be announced within
 * 2 poll periods of their upload (a poll of the S3 store makes about 8 requests to another
 * process, so its test uses a slightly longer period to stay robust on a loaded 2-core machine).
 */
export function storeScenario(label: string, makeEnv: () => Promise<ScenarioEnv>, POLL_MS = 200): void {
  describe(`${label}: new versions and refusals`, () => {
    let env: ScenarioEnv;
    let pub: Publisher;
    let app: Standalone;
    let keys: KeyPair;
    let lines: LogLine[];
    let serving: ModelFiles;
    let servingPrice: number;

    before(async () => {
      env = await makeEnv();
      pub = betweenPolls(env.publisher, () => app);
      keys = newKeys();
      const first = nxmFiles("model-a.nxm", 0.002, keys);
      await publish(pub, first);
      await setCurrent(pub, first.name);
      const cap = captureLogger();
      lines = cap.lines;
      app = await startStoreBidder({ publisher: pub, publicKeyPem: keys.publicKeyPem, pollMs: POLL_MS, log: cap.log });
      await app.ready(20_000);
      serving = first;
      servingPrice = await price(app);
    });
    after(async () => {
      await app?.close();
      await env?.cleanup();
    });

    it("loads the model named by CURRENT at start", async () => {
      assert.equal(app.models.state, "loaded");
      assert.equal(app.models.announcement()?.version, serving.version);
      assert.ok(Math.abs(servingPrice - expectedPrice(0.002)) < 0.05, `price ${servingPrice}`);
    });

    it("serves a new version within 2 polls; the filter's VMs load it and bid with it", async () => {
      const next = nxmFiles("model-b.nxm", 0.004, keys);
      await publish(pub, next);
      assert.equal(app.models.announcement()?.version, serving.version, "not current before CURRENT names it");
      await setCurrent(pub, next.name);
      // Counted in polls, not milliseconds (a loaded machine stretches the poll period): a poll
      // in flight may have read the old CURRENT, the next one must bring the new version.
      const polls0 = app.modelWatcher.polls; // the new version is uploaded and named by CURRENT
      await waitFor("the host to announce the new version", () => servedByHost(app, next.version), 2 * POLL_MS + 2000, 5);
      const polls = app.modelWatcher.polls - polls0;
      const old = serving;
      serving = next;
      // The filter picks it up on its next sync: the bid price follows the new bias.
      servingPrice = await waitFor("bids priced by the new model", async () => {
        const x = await price(app);
        return Math.abs(x - expectedPrice(0.004)) < 0.05 ? x : undefined;
      });
      assert.ok(polls <= 2, `announced after ${polls} polls`);
      assert.equal(app.models.announcement()?.version, next.version);
      assert.equal(await servedByHost(app, old.version), false, "the old blob is no longer served");
      assert.ok(vmStatuses(app.pool).every((s) => s.modelLoaded));
      assert.equal(vmStatuses(app.pool).length, 2);
    });

    /** Publishes a bad version, waits for its logged refusal and checks that nothing changed. */
    async function refused(name: string, code: string, publishBad: () => Promise<void>): Promise<LogLine> {
      const from = lines.length;
      await publishBad();
      await setCurrent(pub, name);
      const line = await waitFor(`model_refused for ${name}`, () => lines.slice(from).find((l) => l.event === "model_refused" && l.name === name), 5000).catch((err: Error) => {
        throw new Error(`${err.message}; log since: ${JSON.stringify(lines.slice(from).filter((l) => l.source !== "filter").slice(-10))}`);
      });
      assert.equal(line.code, code, JSON.stringify(line));
      assert.equal(line.serving, serving.version, "the refusal says what keeps serving");
      assert.equal(line.level, 50, "logged at error level");
      assert.equal(app.models.state, "loaded");
      assert.equal(app.models.announcement()?.version, serving.version);
      assert.ok(await servedByHost(app, serving.version));
      // Two more poll periods: still the old model, no re-download of the refused version.
      await new Promise((r) => setTimeout(r, 2 * POLL_MS));
      assert.equal(app.models.announcement()?.version, serving.version);
      assert.equal(lines.slice(from).filter((l) => l.event === "model_refused" && l.name === name).length, 1, "refused once, then backoff");
      assert.equal(await price(app), servingPrice, "bids unchanged");
      return line;
    }

    it("refuses a tampered model (bad digest)", async () => {
      const f = nxmFiles("model-c.nxm", 0.008, keys);
      const tampered = Uint8Array.from(f.bytes);
      tampered[12] = tampered[12]! ^ 0x01; // a bit of b_ctr
      await refused(f.name, "DIGEST_MISMATCH", () => publish(pub, { ...f, bytes: tampered }));
    });

    it("refuses a model signed with another key", async () => {
      const f = nxmFiles("model-d.nxm", 0.008, newKeys());
      await refused(f.name, "SIGNATURE_INVALID", () => publish(pub, f));
    });

    it("refuses a missing model file (sidecars present)", async () => {
      const f = nxmFiles("model-e.nxm", 0.008, keys);
      await refused(f.name, "MODEL_NOT_FOUND", () => publish(pub, f, { model: false }));
    });

    it("refuses a model without its .sha256", async () => {
      const f = nxmFiles("model-f.nxm", 0.008, keys);
      await refused(f.name, "DIGEST_MISSING", () => publish(pub, f, { digest: false }));
    });

    it("refuses a model without its .sig", async () => {
      const f = nxmFiles("model-g.nxm", 0.008, keys);
      await refused(f.name, "SIGNATURE_MISSING", () => publish(pub, f, { sig: false }));
    });

    it("refuses a .pkl without downloading it", async () => {
      const from = lines.length;
      const f = signed("model.pkl", new TextEncoder().encode("\x80\x04\x95pickle"), keys);
      await refused(f.name, "MODEL_FORMAT_REFUSED", () => publish(pub, f));
      assert.ok(!lines.slice(from).some((l) => l.event === "model_version_detected" && l.name === f.name), "never fetched");
    });

    it("refuses an unknown format", async () => {
      const f = signed("model.onnx", new Uint8Array([8, 1, 2, 3]), keys);
      await refused(f.name, "MODEL_FORMAT_REFUSED", () => publish(pub, f));
    });

    it("refuses a model larger than any model of the filter's hash_bits, before downloading it", async () => {
      // A valid, signed hash_bits 20 model, dense: 8 MiB. The largest model of hash_bits 18 is
      // 5 MiB (float64 weights plus 1 MiB), so the host refuses it on its size (S3: HEAD; a
      // directory: fstat) instead of downloading and parsing it (memory: a multiple of its size).
      const f = signed("model-k.nxm", encodeNxm(testModel(0.008, 20), { encoding: "dense" }), keys);
      const line = await refused(f.name, "MODEL_TOO_LARGE", () => publish(pub, f));
      assert.match(String(line.err), new RegExp(`: ${f.bytes.length} bytes \\(limit ${16 * 2 ** 18 + 2 ** 20}\\)`));
    });

    it("refuses a truncated .npz (correctly signed)", async () => {
      const whole = npzFiles("model-h.npz", 0.008, keys);
      const f = signed("model-h.npz", whole.bytes.subarray(0, Math.floor(whole.bytes.length / 2)), keys);
      const line = await refused(f.name, "NPZ_TRUNCATED", () => publish(pub, f));
      assert.match(String(line.err), /NPZ_/);
    });

    it("loads a good .npz version after the refusals", async () => {
      const f = npzFiles("model-i.npz", 0.003, keys);
      await publish(pub, f);
      await setCurrent(pub, f.name);
      await waitFor("the .npz version", () => app.models.announcement()?.version === f.version, 3000);
      servingPrice = await waitFor("bids priced by the .npz model", async () => {
        const x = await price(app);
        return Math.abs(x - expectedPrice(0.003)) < 0.05 ? x : undefined;
      });
      serving = f;
    });

    it("retries a refused version as soon as its missing sidecar appears", async () => {
      const f = nxmFiles("model-j.nxm", 0.005, keys);
      await refused(f.name, "SIGNATURE_MISSING", () => publish(pub, f, { sig: false }));
      // The backoff is 4 poll periods and up; fixing the sidecar is a new version, tried at once.
      await pub.put(`${f.name}.sig`, f.sig);
      const t0 = Date.now();
      await waitFor("the fixed version", () => app.models.announcement()?.version === f.version, 2 * POLL_MS + 2000, 5);
      const elapsed = Date.now() - t0;
      serving = f;
      servingPrice = await waitFor("bids priced by the fixed model", async () => {
        const x = await price(app);
        return Math.abs(x - expectedPrice(0.005)) < 0.05 ? x : undefined;
      });
      // Told apart from the backoff (4 polls and up), with room for a loaded machine's slow poll.
      assert.ok(elapsed < 4 * POLL_MS, `loaded after ${elapsed} ms (poll period ${POLL_MS} ms), not after the backoff (${4 * POLL_MS} ms and up)`);
    });

    it("counts load attempts by outcome and reason", async () => {
      const text = (await get(`${app.controlUrl}/metrics`)).text;
      for (const reason of ["DIGEST_MISMATCH", "SIGNATURE_INVALID", "MODEL_NOT_FOUND", "DIGEST_MISSING", "SIGNATURE_MISSING", "MODEL_FORMAT_REFUSED"]) {
        assert.match(text, new RegExp(`^nexus_host_model_loads_total\\{outcome="refused",reason="${reason}"\\} [1-9]`, "m"), reason);
      }
      assert.match(text, /^nexus_host_model_loads_total\{outcome="ok",reason="ok"\} 4$/m);
      assert.match(text, /^nexus_host_model_loaded 1$/m);
      assert.match(text, new RegExp(`^nexus_host_model_info\\{version="${serving.version}"\\} 1$`, "m"));
      assert.match(text, /^nexus_host_model_polls_total\{result="unchanged"\} [1-9]/m);
      assert.match(text, /^nexus_host_model_polls_total\{result="backoff"\} [1-9]/m);
      // The last poll found the served version current: the timestamp is a poll period old at most.
      const at = Number(/^nexus_host_model_current_timestamp_seconds (\S+)$/m.exec(text)?.[1]);
      assert.ok(at > Date.now() / 1000 - 10 && at <= Date.now() / 1000 + 1, `nexus_host_model_current_timestamp_seconds ${at}`);
    });
  });

  describe(`${label}: no valid model at start`, () => {
    let env: ScenarioEnv;
    let pub: Publisher;
    let app: Standalone;
    let keys: KeyPair;
    let lines: LogLine[];

    before(async () => {
      env = await makeEnv();
      pub = betweenPolls(env.publisher, () => app);
      keys = newKeys();
      const bad = nxmFiles("model-x.nxm", 0.002, newKeys()); // signed with a key the bidder does not trust
      await publish(pub, bad);
      await setCurrent(pub, bad.name);
      const cap = captureLogger();
      lines = cap.lines;
      app = await startStoreBidder({ publisher: env.publisher, publicKeyPem: keys.publicKeyPem, pollMs: POLL_MS, log: cap.log });
    });
    after(async () => {
      await app?.close();
      await env?.cleanup();
    });

    it("fails closed: every bid request is a 204 no_model, /readyz is 503", async () => {
      assert.equal(app.models.state, "failed");
      assert.equal(app.models.announcement(), null);
      const refusal = lines.find((l) => l.event === "model_refused");
      assert.equal(refusal?.code, "SIGNATURE_INVALID");
      assert.equal(refusal?.serving, null);
      // Give the filter a few syncs, then every request must be a no-bid.
      await waitFor("the filter to sync", () => app.sync.syncs >= 2, 5000);
      for (let i = 0; i < 5; i++) {
        const b = await bid(app);
        assert.deepEqual(b, { status: 204, reason: "no_model" });
      }
      const ready = await get(`${app.controlUrl}/readyz`);
      assert.equal(ready.status, 503);
      assert.match(ready.text, /model failed/);
      const metricsText = (await get(`${app.controlUrl}/metrics`)).text;
      assert.match(metricsText, /^nexus_host_model_loaded 0$/m);
      // No poll found a model it could serve: never confirmed current.
      assert.match(metricsText, /^nexus_host_model_current_timestamp_seconds 0$/m);
    });

    it("recovers when a valid version is published", async () => {
      const good = nxmFiles("model-y.nxm", 0.002, keys);
      await publish(pub, good);
      await setCurrent(pub, good.name);
      await waitFor("the model to load", () => app.models.state === "loaded", 2 * POLL_MS + 1000);
      await app.ready(10_000);
      assert.ok(Math.abs((await price(app)) - expectedPrice(0.002)) < 0.05);
      assert.equal((await get(`${app.controlUrl}/readyz`)).status, 200);
    });
  });
}
