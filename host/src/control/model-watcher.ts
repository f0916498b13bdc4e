// Pull-based model watcher: polls a ModelStore every pollMs and hands a new
// current model to the ModelRegistry, which verifies it (SHA-256 digest, Ed25519
// signature, format) and swaps it in atomically, or refuses it (the old model
// keeps serving; with none the registry stays failed and the filter fails closed).
//
// One poll:
//   1. store.current()        which model is current (CURRENT pointer, else model.file)
//   2. refuse .pkl / unknown   before anything else is requested
//   3. store.probe(name)       change tokens: model tag, .sha256 content, .sig tag
//   4. same tokens as served   → nothing to do ("unchanged")
//      same tokens as a version refused before, within its backoff → nothing ("backoff")
//   5. store.fetch(name) → registry.verifyBytes(...) → registry.accept(...)  "loaded"
//                                                    or registry.refuse(...)  "refused"
// A refused version is retried only when one of its tokens changes (e.g. its
// sidecars are fixed) or after an exponential backoff (4, 8, 16, ... poll
// periods, at most maxBackoffMs). Errors before the tokens are known (store
// unreachable, bad pointer, .pkl) are checked every poll (small requests) but
// refused, logged and counted again only on the same backoff schedule.
import type { ModelRegistry } from "./model-registry.ts";
import type { Logger } from "../log.ts";
import { ModelLoadError } from "../models/errors.ts";
import { formatFromFileName, type LoadedModel } from "../models/load.ts";
import { probeKey, toModelSource, type CurrentModel, type ModelProbe, type ModelStore } from "../models/stores/index.ts";

export type PollResult =
  | { result: "unchanged"; version: string | null }
  | { result: "loaded"; version: string; name: string }
  | { result: "refused"; code: string; name: string | null; retryInMs: number | null }
  | { result: "backoff"; code: string; name: string | null; retryInMs: number }
  | { result: "stopped" };

export interface ModelWatcherOptions {
  store: ModelStore;
  registry: ModelRegistry;
  log: Logger;
  /** Poll period (cfg.model.pollMs). */
  pollMs: number;
  /** First retry delay of a refused version. Default 4 x pollMs. */
  backoffBaseMs?: number;
  /** Longest retry delay. Default 5 minutes (never below backoffBaseMs). */
  maxBackoffMs?: number;
  /** Called after every poll (metrics). */
  onPoll?: (r: PollResult) => void;
  /** Clock (tests). */
  now?: () => number;
}

interface Failure {
  key: string;
  code: string;
  attempts: number;
  retryAtMs: number;
  /** The store failed (STORE_UNAVAILABLE), not the version: fetched again at every poll, logged on the backoff schedule. */
  transient: boolean;
}

export class ModelWatcher {
  /** Fingerprint (probeKey) of the served model, when it came through this watcher. */
  servedKey: string | undefined;
  failure: Failure | undefined;
  polls = 0;
  fetches = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<PollResult> | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private readonly backoffBaseMs: number;
  private readonly maxBackoffMs: number;

  constructor(private readonly opts: ModelWatcherOptions) {
    this.now = opts.now ?? Date.now;
    this.backoffBaseMs = opts.backoffBaseMs ?? 4 * opts.pollMs;
    this.maxBackoffMs = Math.max(opts.maxBackoffMs ?? 300_000, this.backoffBaseMs);
  }

  /** Polls every pollMs (the first poll after one period; call pollOnce() first for the initial load). */
  start(): void {
    if (this.stopped || this.timer) return;
    this.schedule();
  }

  private storeClosed = false;

  /** Stops polling, aborts a download in flight and waits for the poll to finish. The registry keeps its model. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await this.inflight?.catch(() => undefined);
    // Once: a stop may be asked twice (a failed start's cleanup, a close after it).
    if (!this.storeClosed) this.opts.store.close();
    this.storeClosed = true;
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** One poll (concurrent callers share the poll in flight). Never throws. */
  pollOnce(): Promise<PollResult> {
    if (this.stopped) return Promise.resolve({ result: "stopped" });
    if (!this.inflight) {
      this.inflight = this.poll()
        .catch((err: unknown): PollResult => {
          // Not expected (every store/load error is handled below); never let the loop die.
          this.opts.log.error({ event: "model_watch_error", err: (err as Error).message }, "model watcher poll failed");
          return { result: "refused", code: "MODEL_WATCH_ERROR", name: null, retryInMs: null };
        })
        .then((r) => {
          this.inflight = undefined;
          this.polls++;
          if (r.result !== "stopped") this.opts.onPoll?.(r);
          return r;
        });
    }
    return this.inflight;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.pollOnce().then(() => this.schedule());
    }, this.opts.pollMs);
    this.timer.unref();
  }

  private async poll(): Promise<PollResult> {
    const { store, registry, log } = this.opts;
    const signal = this.abort.signal;
    let current: CurrentModel | undefined;
    let probe: ModelProbe;
    try {
      current = await store.current(signal);
      formatFromFileName(current.name); // .pkl and unknown formats: refused before asking for anything else
      probe = await store.probe(current.name, signal);
    } catch (err) {
      if (this.stopped) return { result: "stopped" };
      // No version tokens yet (store unreachable, bad pointer, refused extension). These
      // requests are small, so every poll makes them (a recovered store is seen at once),
      // but the same error is refused (logged, counted) again only on the backoff schedule.
      const name = current?.name ?? null;
      const code = codeOf(err);
      const key = JSON.stringify(["error", name, code]);
      if (this.failure && this.failure.key === key && this.now() < this.failure.retryAtMs) {
        return { result: "backoff", code, name, retryInMs: this.failure.retryAtMs - this.now() };
      }
      const failure = this.recordFailure(key, code);
      const retryInMs = failure.retryAtMs - this.now();
      registry.refuse(err, name ? store.describe(name) : store.location, { name, via: current?.via ?? null, store: store.location, attempt: failure.attempts, retry_in_ms: retryInMs });
      return { result: "refused", code, name, retryInMs };
    }
    if (this.stopped) return { result: "stopped" };

    const key = probeKey(probe);
    if (key === this.servedKey && registry.current) {
      this.failure = undefined;
      return { result: "unchanged", version: registry.current.version };
    }
    // A refusal also depends on the filter's hash_bits (known from its first sync on): a version
    // refused before they were known, or for others, is tried again at once when they change.
    const retryKey = (k: string) => (registry.expectedHashBits === undefined ? k : `${k}#${registry.expectedHashBits}`);
    if (this.failure && this.failure.key === retryKey(key) && !this.failure.transient && this.now() < this.failure.retryAtMs) {
      return { result: "backoff", code: this.failure.code, name: current.name, retryInMs: this.failure.retryAtMs - this.now() };
    }

    const source = store.describe(current.name);
    const fields = { name: current.name, via: current.via, store: store.location };
    // Once per version, not at every poll that fetches it again after the store failed.
    if (!(this.failure?.transient && this.failure.key === retryKey(key))) {
      log.info({ event: "model_version_detected", ...fields, serving: registry.current?.version ?? null }, "model version to load");
    }
    let fetchedKey = key;
    let loaded: LoadedModel;
    try {
      this.fetches++;
      // At most the largest model the filter's hash_bits allow: a larger one is refused before it is downloaded.
      const f = await store.fetch(current.name, signal, registry.maxModelBytes());
      fetchedKey = probeKey(f.probe);
      if (this.stopped) return { result: "stopped" };
      if (f.modelBytes === undefined) {
        const sidecars = `.sha256 ${f.digestText ? "present" : "absent"}, .sig ${f.signatureBytes ? "present" : "absent"}`;
        throw new ModelLoadError("MODEL_NOT_FOUND", `${source}: no such object (${sidecars})`);
      }
      // Digest, signature, format and content checks with the registry's key and policy.
      loaded = registry.verifyBytes(toModelSource(current.name, { ...f, modelBytes: f.modelBytes }));
    } catch (err) {
      if (this.stopped) return { result: "stopped" };
      // The store failing (a 503, a timeout, a cut download) says nothing about the version: it is
      // fetched again at every poll, as a failure before the version is known is, and the same
      // failure is logged again on the backoff schedule only. Versions that were read and refused
      // (a bad signature does not get better by asking) wait for their backoff.
      const code = codeOf(err);
      const transient = code === "STORE_UNAVAILABLE";
      const f = this.failure;
      if (transient && f && f.key === retryKey(fetchedKey) && f.code === code && this.now() < f.retryAtMs) {
        return { result: "backoff", code, name: current.name, retryInMs: f.retryAtMs - this.now() };
      }
      const failure = this.recordFailure(retryKey(fetchedKey), code, transient);
      const retryInMs = failure.retryAtMs - this.now();
      registry.refuse(err, source, { ...fields, attempt: failure.attempts, retry_in_ms: retryInMs });
      return { result: "refused", code: failure.code, name: current.name, retryInMs };
    }
    registry.accept(loaded, source, fields);
    this.servedKey = fetchedKey;
    this.failure = undefined;
    return { result: "loaded", version: loaded.version, name: current.name };
  }

  private recordFailure(key: string, code: string, transient = false): Failure {
    const attempts = this.failure && this.failure.key === key ? this.failure.attempts + 1 : 1;
    const delay = Math.min(this.maxBackoffMs, this.backoffBaseMs * 2 ** Math.min(attempts - 1, 30));
    this.failure = { key, code, attempts, retryAtMs: this.now() + delay, transient };
    return this.failure;
  }
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : "MODEL_LOAD_FAILED";
}
