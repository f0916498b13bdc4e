// Unit tests of the ModelWatcher with an in-memory store and a real
// ModelRegistry: change detection, backoff, store errors, states, stop().
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ModelRegistry } from "../../../host/src/control/model-registry.ts";
import { ModelWatcher, type PollResult } from "../../../host/src/control/model-watcher.ts";
import { encodeNxm, formatFromFileName } from "../../../host/src/models/index.ts";
import {
  CURRENT_POINTER,
  ModelStoreError,
  digestToken,
  resolveCurrent,
  validateModelName,
  type CurrentModel,
  type FetchedModel,
  type ModelProbe,
  type ModelStore,
} from "../../../host/src/models/stores/index.ts";
import { captureLogger, newKeys, signed, testModel, type KeyPair, type LogLine, type ModelFiles } from "./helpers.ts";

/** An in-memory store with the real naming rules; counts calls and can fail or hang on demand. */
class MemoryStore implements ModelStore {
  readonly location = "mem://models";
  readonly objects = new Map<string, { bytes: Uint8Array; tag: string }>();
  readonly calls: string[] = [];
  fail: Error | undefined;
  /** Only fetch() fails with this (the model's download, after the version was probed). */
  failFetch: Error | undefined;
  /** fetch() waits for this (until the signal aborts) when set. */
  hold: Promise<void> | undefined;
  closed = false;
  private n = 0;

  constructor(private readonly defaultFile = "") {}

  put(name: string, body: Uint8Array | string): void {
    this.objects.set(name, { bytes: typeof body === "string" ? new TextEncoder().encode(body) : body, tag: `t${++this.n}` });
  }
  del(name: string): void {
    this.objects.delete(name);
  }
  publish(f: ModelFiles, parts: { model?: boolean; digest?: boolean; sig?: boolean } = {}): void {
    if (parts.model !== false) this.put(f.name, f.bytes);
    if (parts.digest !== false) this.put(`${f.name}.sha256`, f.digestText);
    if (parts.sig !== false) this.put(`${f.name}.sig`, f.sig);
  }
  describe(name: string): string {
    return `${this.location}/${name}`;
  }
  async current(): Promise<CurrentModel> {
    this.calls.push("current");
    if (this.fail) throw this.fail;
    return resolveCurrent(this.objects.get(CURRENT_POINTER)?.bytes, this.defaultFile);
  }
  async probe(name: string): Promise<ModelProbe> {
    validateModelName(name);
    formatFromFileName(name);
    this.calls.push(`probe ${name}`);
    if (this.fail) throw this.fail;
    return {
      name,
      model: this.objects.get(name)?.tag ?? null,
      digest: digestToken(this.objects.get(`${name}.sha256`)?.bytes),
      signature: this.objects.get(`${name}.sig`)?.tag ?? null,
    };
  }
  async fetch(name: string, signal?: AbortSignal): Promise<FetchedModel> {
    validateModelName(name);
    formatFromFileName(name);
    this.calls.push(`fetch ${name}`);
    if (this.hold) {
      await Promise.race([
        this.hold,
        new Promise<void>((_, reject) => signal?.addEventListener("abort", () => reject(new ModelStoreError("STORE_UNAVAILABLE", "aborted")), { once: true })),
      ]);
    }
    if (this.fail) throw this.fail;
    if (this.failFetch) throw this.failFetch;
    const m = this.objects.get(name);
    const d = this.objects.get(`${name}.sha256`);
    const s = this.objects.get(`${name}.sig`);
    return {
      modelBytes: m?.bytes,
      digestText: d?.bytes,
      signatureBytes: s?.bytes,
      probe: { name, model: m?.tag ?? null, digest: digestToken(d?.bytes), signature: s?.tag ?? null },
    };
  }
  close(): void {
    this.closed = true;
  }
  fetches(): number {
    return this.calls.filter((c) => c.startsWith("fetch")).length;
  }
}

interface Rig {
  store: MemoryStore;
  registry: ModelRegistry;
  watcher: ModelWatcher;
  keys: KeyPair;
  lines: LogLine[];
  clock: { now: number };
  results: PollResult[];
  loads: Array<[boolean, string]>;
}

function rig(o: { defaultFile?: string; pollMs?: number } = {}): Rig {
  const keys = newKeys();
  const store = new MemoryStore(o.defaultFile ?? "");
  const { log, lines } = captureLogger("debug");
  const loads: Array<[boolean, string]> = [];
  const registry = new ModelRegistry({ publicKey: keys.publicKeyPem, allowUnsigned: false, log, onLoad: (ok, reason) => loads.push([ok, reason]) });
  const clock = { now: 1_000_000 };
  const results: PollResult[] = [];
  const watcher = new ModelWatcher({ store, registry, log, pollMs: o.pollMs ?? 1000, now: () => clock.now, onPoll: (r) => results.push(r) });
  return { store, registry, watcher, keys, lines, clock, results, loads };
}

const model = (name: string, pCtr: number, keys: KeyPair) => signed(name, encodeNxm(testModel(pCtr, 10)), keys);

describe("ModelWatcher: change detection", () => {
  it("loads the current model, then does nothing while nothing changes", async () => {
    const r = rig({ defaultFile: "a.nxm" });
    assert.equal(r.registry.state, "loading");
    const a = model("a.nxm", 0.002, r.keys);
    r.store.publish(a);
    assert.deepEqual(await r.watcher.pollOnce(), { result: "loaded", version: a.version, name: "a.nxm" });
    assert.equal(r.registry.state, "loaded");
    assert.equal(r.registry.current?.source, "mem://models/a.nxm");
    for (let i = 0; i < 3; i++) assert.deepEqual(await r.watcher.pollOnce(), { result: "unchanged", version: a.version });
    assert.equal(r.store.fetches(), 1, "downloaded once");
    assert.deepEqual(r.results.map((x) => x.result), ["loaded", "unchanged", "unchanged", "unchanged"]);
    const loaded = r.lines.find((l) => l.event === "model_loaded");
    assert.equal(loaded?.version, a.version);
    assert.equal(loaded?.via, "default");
  });

  it("a new name in CURRENT is a new version", async () => {
    const r = rig({ defaultFile: "a.nxm" });
    const a = model("a.nxm", 0.002, r.keys);
    const b = model("b.nxm", 0.004, r.keys);
    r.store.publish(a);
    await r.watcher.pollOnce();
    r.store.publish(b);
    assert.equal((await r.watcher.pollOnce()).result, "unchanged", "b is not current yet");
    r.store.put("CURRENT", "b.nxm\n");
    assert.deepEqual(await r.watcher.pollOnce(), { result: "loaded", version: b.version, name: "b.nxm" });
    assert.equal(r.registry.announcement()?.version, b.version);
    // Rolling back is pointing at the old name again.
    r.store.put("CURRENT", "a.nxm");
    assert.deepEqual(await r.watcher.pollOnce(), { result: "loaded", version: a.version, name: "a.nxm" });
  });

  it("the same name with a new .sha256 (overwritten in place) is a new version", async () => {
    const r = rig({ defaultFile: "m.nxm" });
    const v1 = model("m.nxm", 0.002, r.keys);
    const v2 = model("m.nxm", 0.004, r.keys);
    r.store.publish(v1);
    await r.watcher.pollOnce();
    r.store.publish(v2);
    assert.deepEqual(await r.watcher.pollOnce(), { result: "loaded", version: v2.version, name: "m.nxm" });
  });

  it("concurrent pollOnce calls share one poll", async () => {
    const r = rig({ defaultFile: "a.nxm" });
    r.store.publish(model("a.nxm", 0.002, r.keys));
    const [x, y] = await Promise.all([r.watcher.pollOnce(), r.watcher.pollOnce()]);
    assert.equal(x, y);
    assert.equal(r.store.fetches(), 1);
  });
});

describe("ModelWatcher: refusals and backoff", () => {
  it("a bad version is refused once, then not downloaded again until its backoff ends", async () => {
    const r = rig({ defaultFile: "a.nxm", pollMs: 1000 });
    const a = model("a.nxm", 0.002, r.keys);
    r.store.publish(a);
    await r.watcher.pollOnce();
    const bad = model("bad.nxm", 0.004, newKeys()); // another key
    r.store.publish(bad);
    r.store.put("CURRENT", "bad.nxm");
    const first = await r.watcher.pollOnce();
    assert.deepEqual(first, { result: "refused", code: "SIGNATURE_INVALID", name: "bad.nxm", retryInMs: 4000 });
    assert.equal(r.registry.state, "loaded", "the old model keeps serving");
    assert.equal(r.registry.announcement()?.version, a.version);
    const refusal = r.lines.find((l) => l.event === "model_refused");
    assert.deepEqual(
      { code: refusal?.code, name: refusal?.name, serving: refusal?.serving, attempt: refusal?.attempt, retry: refusal?.retry_in_ms, level: refusal?.level },
      { code: "SIGNATURE_INVALID", name: "bad.nxm", serving: a.version, attempt: 1, retry: 4000, level: 50 },
    );
    const fetches = r.store.fetches();
    for (let t = 1; t <= 3; t++) {
      r.clock.now += 1000;
      assert.equal((await r.watcher.pollOnce()).result, "backoff");
    }
    assert.equal(r.store.fetches(), fetches, "no download during the backoff");
    r.clock.now += 1000; // 4 poll periods
    assert.deepEqual(await r.watcher.pollOnce(), { result: "refused", code: "SIGNATURE_INVALID", name: "bad.nxm", retryInMs: 8000 }, "doubled");
    r.clock.now += 8000;
    assert.equal(((await r.watcher.pollOnce()) as { retryInMs: number }).retryInMs, 16000);
    assert.equal(r.store.fetches(), fetches + 2);
    assert.deepEqual(r.loads.filter(([ok]) => !ok).map(([, reason]) => reason), ["SIGNATURE_INVALID", "SIGNATURE_INVALID", "SIGNATURE_INVALID"]);
  });

  it("the backoff is capped", async () => {
    const r = rig({ defaultFile: "bad.nxm", pollMs: 100_000 });
    r.store.publish(model("bad.nxm", 0.004, newKeys()));
    let last = 0;
    for (let i = 0; i < 6; i++) {
      const x = (await r.watcher.pollOnce()) as { retryInMs: number };
      last = x.retryInMs;
      r.clock.now += x.retryInMs;
    }
    assert.equal(last, 400_000, "max(5 min, first delay)");
  });

  it("a refused version is retried at once when a sidecar changes", async () => {
    const r = rig({ defaultFile: "m.nxm" });
    const m = model("m.nxm", 0.002, r.keys);
    r.store.publish(m, { sig: false });
    assert.equal(((await r.watcher.pollOnce()) as { code: string }).code, "SIGNATURE_MISSING");
    assert.equal(r.registry.state, "failed");
    assert.equal((await r.watcher.pollOnce()).result, "backoff");
    r.store.put("m.nxm.sig", m.sig);
    assert.deepEqual(await r.watcher.pollOnce(), { result: "loaded", version: m.version, name: "m.nxm" });
    assert.equal(r.registry.state, "loaded");
    assert.equal(r.watcher.failure, undefined);
  });

  for (const [what, code, setup] of [
    ["bad digest", "DIGEST_MISMATCH", (s: MemoryStore, f: ModelFiles) => s.publish({ ...f, bytes: Uint8Array.from(f.bytes, (b, i) => (i === 40 ? b ^ 1 : b)) })],
    ["missing model file", "MODEL_NOT_FOUND", (s: MemoryStore, f: ModelFiles) => s.publish(f, { model: false })],
    ["missing .sha256", "DIGEST_MISSING", (s: MemoryStore, f: ModelFiles) => s.publish(f, { digest: false })],
    ["truncated file (correctly signed)", "NXM_TRUNCATED", (s: MemoryStore, f: ModelFiles, k: KeyPair) => s.publish(signed(f.name, f.bytes.subarray(0, 100), k))],
  ] as const) {
    it(`${what}: refused (${code}); with no model the registry is failed`, async () => {
      const r = rig({ defaultFile: "m.nxm" });
      setup(r.store, model("m.nxm", 0.002, r.keys), r.keys);
      const x = await r.watcher.pollOnce();
      assert.equal(x.result, "refused");
      assert.equal((x as { code: string }).code, code);
      assert.equal(r.registry.state, "failed");
      assert.equal(r.registry.announcement(), null);
      assert.equal(r.registry.lastError?.code, code);
    });
  }

  it("a .pkl named by CURRENT is refused without probing or downloading it; refusals repeat on the backoff schedule only", async () => {
    const r = rig({ pollMs: 1000 });
    r.store.put("model.pkl", "pickle");
    r.store.put("CURRENT", "model.pkl");
    const x = await r.watcher.pollOnce();
    assert.deepEqual(x, { result: "refused", code: "MODEL_FORMAT_REFUSED", name: "model.pkl", retryInMs: 4000 });
    assert.deepEqual(r.store.calls, ["current"]);
    r.clock.now += 1000;
    assert.equal((await r.watcher.pollOnce()).result, "backoff");
    assert.equal(r.lines.filter((l) => l.event === "model_refused").length, 1);
    r.clock.now += 3000;
    assert.equal((await r.watcher.pollOnce()).result, "refused");
    assert.equal(r.lines.filter((l) => l.event === "model_refused").length, 2);
  });

  it("store errors: refused with the store's code, the old model keeps serving, recovery at the next poll", async () => {
    const r = rig({ defaultFile: "a.nxm" });
    const a = model("a.nxm", 0.002, r.keys);
    r.store.publish(a);
    await r.watcher.pollOnce();
    r.store.fail = new ModelStoreError("STORE_UNAVAILABLE", "connection refused");
    assert.deepEqual(await r.watcher.pollOnce(), { result: "refused", code: "STORE_UNAVAILABLE", name: null, retryInMs: 4000 });
    assert.equal((await r.watcher.pollOnce()).result, "backoff", "asked again, not logged again");
    assert.equal(r.registry.state, "loaded");
    r.store.fail = undefined;
    assert.equal((await r.watcher.pollOnce()).result, "unchanged", "the store is asked every poll: recovered at once");
    assert.equal(r.store.fetches(), 1);
  });

  // An audit: one 503 on the model's download at start backed the version off for 4 poll periods
  // (20 s by default), past the standalone start's 15 s wait: the bidder did not start.
  it("a download the store fails (a 503, a cut body) is tried again at every poll; logged again on the backoff schedule only", async () => {
    const r = rig({ defaultFile: "a.nxm", pollMs: 1000 });
    const a = model("a.nxm", 0.002, r.keys);
    r.store.publish(a);
    r.store.failFetch = new ModelStoreError("STORE_UNAVAILABLE", "SlowDown: Please reduce your request rate.");
    assert.deepEqual(await r.watcher.pollOnce(), { result: "refused", code: "STORE_UNAVAILABLE", name: "a.nxm", retryInMs: 4000 });
    r.clock.now += 1000;
    assert.equal((await r.watcher.pollOnce()).result, "backoff", "failed again: not logged again");
    assert.equal(r.store.fetches(), 2, "but downloaded again");
    r.store.failFetch = undefined;
    r.clock.now += 1000;
    assert.deepEqual(await r.watcher.pollOnce(), { result: "loaded", version: a.version, name: "a.nxm" });
    assert.equal(r.lines.filter((l) => l.event === "model_refused").length, 1);
    assert.equal(r.lines.filter((l) => l.event === "model_version_detected").length, 1, "the version is announced once, not at every fetch again");
    assert.equal(r.lines.filter((l) => l.event === "model_version_detected").length, 1, "the version is announced once, not at every fetch again");
  });

  it("no CURRENT and no configured file: STORE_NO_CURRENT_MODEL, failed", async () => {
    const r = rig();
    assert.equal(((await r.watcher.pollOnce()) as { code: string }).code, "STORE_NO_CURRENT_MODEL");
    assert.equal(r.registry.state, "failed");
  });

  it("failed, then a good version: loaded", async () => {
    const r = rig({ defaultFile: "a.nxm" });
    await r.watcher.pollOnce();
    assert.equal(r.registry.state, "failed");
    const a = model("a.nxm", 0.002, r.keys);
    r.store.publish(a);
    assert.equal((await r.watcher.pollOnce()).result, "loaded");
    assert.equal(r.registry.state, "loaded");
    assert.deepEqual(r.loads.map(([ok, reason]) => `${ok}:${reason}`), ["false:MODEL_NOT_FOUND", "true:ok"]);
  });
});

describe("ModelRegistry: the filter's hash_bits", () => {
  it("withdraws a served model of other dimensions once the filter reports its hash_bits (a sidecar host's first sync)", async () => {
    const r = rig({ defaultFile: "a.nxm" });
    r.store.publish(model("a.nxm", 0.002, r.keys)); // hash_bits 10
    assert.equal((await r.watcher.pollOnce()).result, "loaded");
    r.registry.expectHashBits(12);
    assert.equal(r.registry.state, "failed");
    assert.equal(r.registry.current, undefined);
    assert.equal(r.registry.announcement(), null);
    const line = r.lines.find((l) => l.event === "model_refused");
    assert.equal(line?.code, "MODEL_HASH_BITS_MISMATCH", JSON.stringify(line));
  });

  it("known before the first poll (a standalone host's own VMs), refuses a file larger than a model of that size can be", async () => {
    const r = rig({ defaultFile: "big.nxm" });
    r.registry.expectHashBits(10);
    // A valid signed model, dense hash_bits 18: 2 MiB, over the 1 MiB + 16 × 2^10 a hash_bits 10 model can take.
    r.store.publish(signed("big.nxm", encodeNxm(testModel(0.002, 18), { encoding: "dense" }), r.keys));
    const res = await r.watcher.pollOnce();
    assert.equal(res.result, "refused");
    assert.equal((res as { code?: string }).code, "MODEL_TOO_LARGE");
    assert.equal(r.registry.state, "failed");
  });
});

describe("ModelWatcher: start and stop", () => {
  it("polls every pollMs after start(), and stops", async () => {
    const r = rig({ defaultFile: "a.nxm", pollMs: 100 });
    r.store.publish(model("a.nxm", 0.002, r.keys));
    await r.watcher.pollOnce();
    r.watcher.start();
    await new Promise((res) => setTimeout(res, 550));
    const polls = r.watcher.polls;
    assert.ok(polls >= 3 && polls <= 7, `polls ${polls}`);
    await r.watcher.stop();
    assert.equal(r.store.closed, true);
    const after = r.watcher.polls;
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(r.watcher.polls, after, "no poll after stop()");
    assert.deepEqual(await r.watcher.pollOnce(), { result: "stopped" });
    assert.equal(r.registry.state, "loaded", "the registry keeps its model");
  });

  it("stop() aborts a download in flight and nothing is swapped in", async () => {
    const r = rig({ defaultFile: "a.nxm" });
    const a = model("a.nxm", 0.002, r.keys);
    r.store.publish(a);
    await r.watcher.pollOnce();
    r.store.publish(model("b.nxm", 0.004, r.keys));
    r.store.put("CURRENT", "b.nxm");
    r.store.hold = new Promise(() => {}); // never resolves: only the abort ends the download
    const inflight = r.watcher.pollOnce();
    await new Promise((res) => setTimeout(res, 20));
    assert.ok(r.store.calls.includes("fetch b.nxm"));
    const t0 = Date.now();
    await r.watcher.stop();
    assert.ok(Date.now() - t0 < 1000);
    assert.deepEqual(await inflight, { result: "stopped" });
    assert.equal(r.registry.announcement()?.version, a.version);
    assert.equal(r.lines.filter((l) => l.event === "model_refused").length, 0, "a shutdown is not a refusal");
  });
});
