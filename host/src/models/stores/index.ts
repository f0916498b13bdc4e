// Model stores: a local directory (default) or S3 (s3://bucket/prefix). See README.md.
import { DirectoryModelStore } from "./directory.ts";
import { S3ModelStore } from "./s3.ts";
import type { ModelStore } from "./types.ts";

export * from "./types.ts";
export { DirectoryModelStore, type DirectoryModelStoreOptions } from "./directory.ts";
export { S3ModelStore, parseS3Url, type S3Location, type S3ModelStoreOptions } from "./s3.ts";

export interface ModelStoreConfig {
  /** A directory or s3://bucket/prefix. */
  store: string;
  /** Default model file name (used when the store has no CURRENT pointer). */
  file: string;
  /** S3-compatible endpoint ("" = AWS). */
  s3Endpoint: string;
}

/** The store named by the configuration (cfg.model). */
export function createModelStore(cfg: ModelStoreConfig, opts: { maxModelBytes?: number } = {}): ModelStore {
  if (cfg.store.startsWith("s3://")) {
    return new S3ModelStore({ url: cfg.store, defaultFile: cfg.file, endpoint: cfg.s3Endpoint || undefined, maxModelBytes: opts.maxModelBytes });
  }
  return new DirectoryModelStore({ dir: cfg.store, defaultFile: cfg.file, maxModelBytes: opts.maxModelBytes });
}
