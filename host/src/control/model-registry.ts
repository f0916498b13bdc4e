// The model the host serves to the filter. States follow the seed's table:
// loading → loaded, or → failed (missing file, bad digest, bad signature,
// refused format, exception). A failure never replaces a loaded model; with no
// model at all the filter fails closed (every bid request is a no-bid) and
// readiness is false. The filter gets the NXM wire blob and its SHA-256.
// New versions arrive through the ModelWatcher (model-watcher.ts): loadBytes /
// verifyBytes + accept; a later good version takes a failed registry to loaded.
import { join } from "node:path";
import { DEFAULT_MAX_MODEL_BYTES, loadModelFile, loadModelFromBytes, maxModelBytesFor, ModelLoadError, toWireBlobWithDigest, type LoadedModel, type ModelSource } from "../models/index.ts";
import type { Logger } from "../log.ts";

export type ModelState = "loading" | "loaded" | "failed";

export interface ServedModel {
  /** Version the filter sees (content-derived from the model file). */
  version: string;
  /** SHA-256 of the wire blob (what the filter verifies). */
  sha256: string;
  blob: Uint8Array;
  source: string;
  format: string;
  signed: boolean;
  loadedAtMs: number;
  hashBits: number;
}

export interface ModelRegistryOptions {
  publicKey?: string;
  allowUnsigned: boolean;
  /** Model size limit (file and uncompressed .npz content); default DEFAULT_MAX_MODEL_BYTES. */
  maxBytes?: number;
  log: Logger;
  /** Every load attempt: ok, or refused with the stable error code as the reason. */
  onLoad?: (ok: boolean, reason: string) => void;
}

export class ModelRegistry {
  state: ModelState = "loading";
  current: ServedModel | undefined;
  lastError: { code: string; message: string; source: string } | undefined;
  loads = 0;
  failures = 0;
  /**
   * The filter's hash_bits, once it has reported them in a sync (SyncService): the filter's
   * VMs hold weight arrays of exactly 2^hash_bits and refuse any other model, so a model of
   * other dimensions is refused here too (MODEL_HASH_BITS_MISMATCH) and the previous one
   * keeps serving, instead of being announced as served while the filter bids with the old one.
   */
  expectedHashBits: number | undefined;

  constructor(private readonly opts: ModelRegistryOptions) {}

  /**
   * Records the filter's hash_bits (every sync report). When the model served does not fit
   * them (loaded before the first sync), it is withdrawn: the filter cannot load it, so the
   * registry is failed (readiness false, nexus_host_model_loaded 0) until a fitting version
   * comes from the store.
   */
  expectHashBits(bits: number): void {
    if (this.expectedHashBits === bits) return;
    this.expectedHashBits = bits;
    const c = this.current;
    if (c && c.hashBits !== bits) {
      this.current = undefined;
      this.refuse(hashBitsMismatch(c.source, c.hashBits, bits), c.source, { withdrawn: c.version });
    }
  }

  /**
   * The size limit of a model file (and of .npz content): the configured one and, once the
   * filter's hash_bits are known, the largest file a model of that size can be. A file larger
   * than that cannot be loaded, and downloading and parsing it costs a multiple of its size in
   * memory (a 128 MiB file took a host to 514 MiB RSS, over its container's 224 MiB limit).
   */
  maxModelBytes(): number {
    const configured = this.opts.maxBytes ?? DEFAULT_MAX_MODEL_BYTES;
    return this.expectedHashBits === undefined ? configured : Math.min(configured, maxModelBytesFor(this.expectedHashBits));
  }

  /** Loads a model file (with its .sha256 and .sig). Returns true when it is now served. */
  async loadFile(path: string): Promise<boolean> {
    try {
      const loaded = this.checkFits(await loadModelFile(path, { publicKey: this.opts.publicKey, allowUnsigned: this.opts.allowUnsigned, maxBytes: this.maxModelBytes() }), path);
      this.accept(loaded, path);
      return true;
    } catch (err) {
      this.refuse(err, path);
      return false;
    }
  }

  /**
   * Verifies (digest, signature) and parses a model already in memory (a store's
   * download) and serves it; same states, logs and callbacks as loadFile.
   * `source` names where it came from (e.g. s3://bucket/prefix/model.nxm).
   */
  loadBytes(src: ModelSource, source: string, logFields: Record<string, unknown> = {}): boolean {
    try {
      this.accept(this.verifyBytes(src), source, logFields);
      return true;
    } catch (err) {
      this.refuse(err, source, logFields);
      return false;
    }
  }

  /** Verifies and parses model bytes with this registry's key and policy; throws the loader's errors. Changes nothing. */
  verifyBytes(src: ModelSource): LoadedModel {
    return this.checkFits(loadModelFromBytes(src, { publicKey: this.opts.publicKey, allowUnsigned: this.opts.allowUnsigned, maxBytes: this.maxModelBytes() }), src.fileName);
  }

  /** Refuses a model whose hash_bits differ from the filter's (once known). */
  private checkFits(loaded: LoadedModel, source: string): LoadedModel {
    const want = this.expectedHashBits;
    if (want !== undefined && loaded.model.hashBits !== want) throw hashBitsMismatch(source, loaded.model.hashBits, want);
    return loaded;
  }

  /** Swaps in a verified model: one assignment, so a sync sees the old or the new one, never a mix. */
  accept(loaded: LoadedModel, source: string, logFields: Record<string, unknown> = {}): void {
    const wire = toWireBlobWithDigest(loaded.model);
    const previous = this.current?.version ?? null;
    this.current = {
      version: loaded.version,
      sha256: wire.sha256,
      blob: wire.bytes,
      source,
      format: loaded.format,
      signed: loaded.signed,
      loadedAtMs: Date.now(),
      hashBits: loaded.model.hashBits,
    };
    this.state = "loaded";
    this.loads++;
    this.lastError = undefined;
    this.opts.log.info({ event: "model_loaded", version: loaded.version, previous, source, format: loaded.format, signed: loaded.signed, ...logFields }, "model loaded");
    this.opts.onLoad?.(true, "ok");
  }

  /**
   * Records a refused load (verification or parse error, or a store error before
   * verification: missing file, refused format, store unreachable). A loaded model
   * keeps serving; with none the state becomes failed. Logged with the error's stable code.
   */
  refuse(err: unknown, source: string, logFields: Record<string, unknown> = {}): void {
    const code = (err as { code?: string }).code ?? "MODEL_LOAD_FAILED";
    this.failures++;
    this.lastError = { code, message: (err as Error).message, source };
    if (!this.current) this.state = "failed";
    this.opts.log.error({ event: "model_refused", code, source, err: (err as Error).message, serving: this.current?.version ?? null, ...logFields }, "model refused");
    this.opts.onLoad?.(false, code);
  }

  async loadFromDirectory(dir: string, file: string): Promise<boolean> {
    return this.loadFile(join(dir, file));
  }

  /** The announcement in a sync answer. */
  announcement(): { version: string; sha256: string } | null {
    return this.current ? { version: this.current.version, sha256: this.current.sha256 } : null;
  }

  blob(version: string): Uint8Array | undefined {
    return this.current && this.current.version === version ? this.current.blob : undefined;
  }
}

function hashBitsMismatch(source: string, got: number, want: number): ModelLoadError {
  return new ModelLoadError("MODEL_HASH_BITS_MISMATCH", `${source}: hash_bits ${got}, the filter is configured for hash_bits ${want}`);
}
