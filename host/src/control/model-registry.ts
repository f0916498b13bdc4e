// The model the host serves to the filter. States follow the seed's table:
// loading → loaded, or → failed (missing file, bad digest, bad signature,
// refused format, exception). A failure never replaces a loaded model; with no
// model at all the filter fails closed (every bid request is a no-bid) and
// readiness is false. The filter gets the NXM wire blob and its SHA-256.
import { join } from "node:path";
import { loadModelFile, toWireBlobWithDigest } from "../models/index.ts";
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
  log: Logger;
  onLoad?: (ok: boolean, reason: string) => void;
}

export class ModelRegistry {
  state: ModelState = "loading";
  current: ServedModel | undefined;
  lastError: { code: string; message: string; source: string } | undefined;
  loads = 0;
  failures = 0;

  constructor(private readonly opts: ModelRegistryOptions) {}

  /** Loads a model file (with its .sha256 and .sig). Returns true when it is now served. */
  async loadFile(path: string): Promise<boolean> {
    try {
      const loaded = await loadModelFile(path, { publicKey: this.opts.publicKey, allowUnsigned: this.opts.allowUnsigned });
      const wire = toWireBlobWithDigest(loaded.model);
      this.current = {
        version: loaded.version,
        sha256: wire.sha256,
        blob: wire.bytes,
        source: path,
        format: loaded.format,
        signed: loaded.signed,
        loadedAtMs: Date.now(),
        hashBits: loaded.model.hashBits,
      };
      this.state = "loaded";
      this.loads++;
      this.lastError = undefined;
      this.opts.log.info({ event: "model_loaded", version: loaded.version, source: path, format: loaded.format, signed: loaded.signed }, "model loaded");
      this.opts.onLoad?.(true, "ok");
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code ?? "MODEL_LOAD_FAILED";
      this.failures++;
      this.lastError = { code, message: (err as Error).message, source: path };
      if (!this.current) this.state = "failed";
      this.opts.log.error({ event: "model_refused", code, source: path, err: (err as Error).message, serving: this.current?.version ?? null }, "model refused");
      this.opts.onLoad?.(false, code);
      return false;
    }
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
