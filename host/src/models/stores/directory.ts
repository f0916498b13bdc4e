// A model store on a local directory (the default; also a mounted volume or a
// Kubernetes ConfigMap/Secret: symlinks are followed, names cannot leave the
// directory). The pointer is the file <dir>/CURRENT.
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { DEFAULT_MAX_MODEL_BYTES, formatFromFileName, readUpTo } from "../load.ts";
import { ModelLoadError } from "../errors.ts";
import {
  CURRENT_POINTER,
  DIGEST_READ_LIMIT,
  MAX_POINTER_BYTES,
  ModelStoreError,
  SIGNATURE_READ_LIMIT,
  digestToken,
  resolveCurrent,
  validateModelName,
  type CurrentModel,
  type FetchedModel,
  type ModelProbe,
  type ModelStore,
} from "./types.ts";

export interface DirectoryModelStoreOptions {
  dir: string;
  /** Model file name used when there is no CURRENT file ("" = none). */
  defaultFile: string;
  /** Default DEFAULT_MAX_MODEL_BYTES. */
  maxModelBytes?: number;
}

interface ReadResult {
  bytes: Uint8Array;
  tag: string;
}

export class DirectoryModelStore implements ModelStore {
  readonly location: string;
  private readonly maxModelBytes: number;

  constructor(private readonly opts: DirectoryModelStoreOptions) {
    this.location = opts.dir;
    this.maxModelBytes = opts.maxModelBytes ?? DEFAULT_MAX_MODEL_BYTES;
  }

  describe(name: string): string {
    return join(this.opts.dir, name);
  }

  async current(): Promise<CurrentModel> {
    await this.checkDir();
    const pointer = await this.read(CURRENT_POINTER, MAX_POINTER_BYTES + 1, "truncate");
    return resolveCurrent(pointer?.bytes, this.opts.defaultFile);
  }

  async probe(name: string): Promise<ModelProbe> {
    this.checkName(name);
    const [model, digest, signature] = await Promise.all([this.tag(name), this.read(`${name}.sha256`, DIGEST_READ_LIMIT, "truncate"), this.tag(`${name}.sig`)]);
    return { name, model, digest: digestToken(digest?.bytes), signature };
  }

  async fetch(name: string, _signal?: AbortSignal, maxBytes = Infinity): Promise<FetchedModel> {
    this.checkName(name);
    const model = await this.read(name, Math.min(this.maxModelBytes, maxBytes), "refuse");
    const digest = await this.read(`${name}.sha256`, DIGEST_READ_LIMIT, "truncate");
    const signature = await this.read(`${name}.sig`, SIGNATURE_READ_LIMIT, "truncate");
    return {
      modelBytes: model?.bytes,
      digestText: digest?.bytes,
      signatureBytes: signature?.bytes,
      probe: { name, model: model?.tag ?? null, digest: digestToken(digest?.bytes), signature: signature?.tag ?? null },
    };
  }

  close(): void {}

  private checkName(name: string): void {
    validateModelName(name);
    formatFromFileName(name); // .pkl & unknown: refused before any file is touched
  }

  private async checkDir(): Promise<void> {
    try {
      const st = await stat(this.opts.dir);
      if (!st.isDirectory()) throw new ModelStoreError("STORE_CONFIG_INVALID", `${this.opts.dir}: not a directory`);
    } catch (err) {
      throw toStoreError(err, this.opts.dir);
    }
  }

  /** Change tag of a file (size, mtime, inode), null when absent. */
  private async tag(name: string): Promise<string | null> {
    const path = join(this.opts.dir, name);
    try {
      const st = await stat(path);
      return st.isFile() ? `${st.size}:${st.mtimeMs}:${st.ino}` : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return null;
      throw toStoreError(err, path);
    }
  }

  /**
   * Reads at most `max` bytes of a file; undefined when absent (or not a regular file).
   * "refuse": larger files are MODEL_TOO_LARGE (the model); "truncate": cut at `max` (pointer, sidecars).
   */
  private async read(name: string, max: number, over: "refuse" | "truncate"): Promise<ReadResult | undefined> {
    const path = join(this.opts.dir, name);
    let fh;
    try {
      fh = await open(path, "r");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return undefined;
      throw toStoreError(err, path);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) return undefined;
      if (over === "refuse" && st.size > max) throw new ModelLoadError("MODEL_TOO_LARGE", `${path}: ${st.size} bytes (limit ${max})`);
      const bytes = await readUpTo(fh, Math.min(st.size, max));
      return { bytes, tag: `${st.size}:${st.mtimeMs}:${st.ino}` };
    } catch (err) {
      if (err instanceof ModelLoadError) throw err;
      throw toStoreError(err, path);
    } finally {
      await fh.close();
    }
  }
}

function toStoreError(err: unknown, path: string): Error {
  if (err instanceof ModelStoreError || err instanceof ModelLoadError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const msg = `${path}: ${(err as Error).message}`;
  if (code === "ENOENT" || code === "ENOTDIR") return new ModelStoreError("STORE_BUCKET_NOT_FOUND", `${path}: the model directory does not exist`, { cause: err });
  if (code === "EACCES" || code === "EPERM") return new ModelStoreError("STORE_ACCESS_DENIED", msg, { cause: err });
  return new ModelStoreError("STORE_UNAVAILABLE", msg, { cause: err });
}
