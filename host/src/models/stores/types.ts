// The model store contract (README.md in this folder): where model files live
// and which one is current. A store only answers questions and hands out bytes;
// verification (digest, signature, format) is loadModelFromBytes' job and the
// served-model state is the ModelRegistry's.
import { MAX_DIGEST_FILE_BYTES } from "../digest.ts";
import { MAX_SIGNATURE_FILE_BYTES } from "../signing.ts";
import type { ModelSource } from "../load.ts";

/** Name of the pointer object/file whose content names the current model. */
export const CURRENT_POINTER = "CURRENT";
/** Largest pointer accepted (one model name and a newline). */
export const MAX_POINTER_BYTES = 1024;
/** Longest model name (a relative key/path inside the store). */
export const MAX_MODEL_NAME_LENGTH = 512;
/** Sidecars are read up to one byte past their parser's limit, so that an oversized one is refused as malformed. */
export const DIGEST_READ_LIMIT = MAX_DIGEST_FILE_BYTES + 1;
export const SIGNATURE_READ_LIMIT = MAX_SIGNATURE_FILE_BYTES + 1;

export type ModelStoreErrorCode =
  | "STORE_UNAVAILABLE" // network error, timeout, 5xx, unreadable directory
  | "STORE_ACCESS_DENIED" // 401/403, EACCES
  | "STORE_BUCKET_NOT_FOUND" // S3 bucket (or the store directory) does not exist
  | "STORE_POINTER_INVALID" // CURRENT is empty, too large, several lines, or names an unsafe path
  | "STORE_NO_CURRENT_MODEL" // no CURRENT pointer and no configured file name
  | "STORE_CONFIG_INVALID"; // a malformed store location (e.g. "s3://"), or S3's redirect (another region, the wrong endpoint)

/** A store-level failure; `code` is stable (logged and used as the metrics reason). */
export class ModelStoreError extends Error {
  readonly code: ModelStoreErrorCode;
  constructor(code: ModelStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = "ModelStoreError";
    this.code = code;
  }
}

/** Which model is current, and why. */
export interface CurrentModel {
  /** Relative name inside the store, e.g. "model-2026-05-01.nxm" or "v42/model.npz". */
  name: string;
  /** "pointer": named by the CURRENT object; "default": the configured file name (no CURRENT). */
  via: "pointer" | "default";
}

/**
 * Change tokens of one model and its sidecars, without downloading the model.
 * `model`/`signature`: an opaque tag (S3 ETag; directory: size, mtime, inode), null when absent.
 * `digest`: the .sha256 sidecar's content itself (small), null when absent.
 */
export interface ModelProbe {
  name: string;
  model: string | null;
  digest: string | null;
  signature: string | null;
}

/** A downloaded model: what loadModelFromBytes takes, plus the tags of what was read. */
export interface FetchedModel {
  /** undefined when the model file is missing (MODEL_NOT_FOUND is the loader's call site's job). */
  modelBytes: Uint8Array | undefined;
  digestText: Uint8Array | undefined;
  signatureBytes: Uint8Array | undefined;
  probe: ModelProbe;
}

export interface ModelStore {
  /** "s3://bucket/prefix" or the directory path (for logs). */
  readonly location: string;
  /** Where `name` is, for logs and the served model's `source`. */
  describe(name: string): string;
  /**
   * The current model: the CURRENT pointer's content when the pointer exists,
   * else the configured default file name. Throws ModelStoreError
   * (STORE_POINTER_INVALID, STORE_NO_CURRENT_MODEL, STORE_*).
   */
  current(signal?: AbortSignal): Promise<CurrentModel>;
  /**
   * Change tokens for `name` (never downloads the model). Refuses .pkl and unknown
   * extensions first (ModelLoadError MODEL_FORMAT_REFUSED, nothing requested).
   */
  probe(name: string, signal?: AbortSignal): Promise<ModelProbe>;
  /**
   * Downloads the model (at most maxModelBytes, and at most `maxBytes` when given: larger is
   * ModelLoadError MODEL_TOO_LARGE, checked before downloading when the size is known) and its
   * sidecars (cut at their limits; absent ones are undefined). Refuses .pkl and unknown
   * extensions first.
   */
  fetch(name: string, signal?: AbortSignal, maxBytes?: number): Promise<FetchedModel>;
  close(): void;
}

/** The fingerprint the watcher compares: name + the three tokens. */
export function probeKey(p: ModelProbe): string {
  return JSON.stringify([p.name, p.model, p.digest, p.signature]);
}

/** The ModelSource loadModelFromBytes takes (a missing model is the caller's error to raise). */
export function toModelSource(name: string, f: FetchedModel & { modelBytes: Uint8Array }): ModelSource {
  return { fileName: name, modelBytes: f.modelBytes, digestText: f.digestText, signatureBytes: f.signatureBytes };
}

/**
 * Checks a model name from the pointer or the configuration: a relative path of
 * "/"-separated segments, no empty, "." or ".." segment, no backslash or control
 * character, at most MAX_MODEL_NAME_LENGTH characters. Throws STORE_POINTER_INVALID.
 */
export function validateModelName(name: string, what = "model name"): string {
  const bad = (why: string) => new ModelStoreError("STORE_POINTER_INVALID", `${what} ${JSON.stringify(name.slice(0, 80))}: ${why}`);
  if (name.length === 0) throw bad("empty");
  if (name.length > MAX_MODEL_NAME_LENGTH) throw bad(`longer than ${MAX_MODEL_NAME_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(name)) throw bad("control character or backslash");
  for (const seg of name.split("/")) {
    if (seg === "" || seg === "." || seg === "..") throw bad("must be a relative path without empty, '.' or '..' segments");
  }
  if (name === CURRENT_POINTER) throw bad("the pointer cannot point at itself");
  return name;
}

/**
 * Parses the pointer's content: the model name on one line (surrounding spaces and
 * one final newline allowed; CRLF tolerated). Throws STORE_POINTER_INVALID.
 */
export function parsePointer(bytes: Uint8Array): string {
  if (bytes.length > MAX_POINTER_BYTES) throw new ModelStoreError("STORE_POINTER_INVALID", `${CURRENT_POINTER}: larger than ${MAX_POINTER_BYTES} bytes`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ModelStoreError("STORE_POINTER_INVALID", `${CURRENT_POINTER}: not UTF-8`);
  }
  const trimmed = text.replace(/\r?\n$/, "").trim();
  if (trimmed.includes("\n")) throw new ModelStoreError("STORE_POINTER_INVALID", `${CURRENT_POINTER}: more than one line`);
  return validateModelName(trimmed, `${CURRENT_POINTER} names`);
}

/** Resolves the rule: pointer content when present, else the configured default. */
export function resolveCurrent(pointer: Uint8Array | undefined, defaultFile: string): CurrentModel {
  if (pointer !== undefined) return { name: parsePointer(pointer), via: "pointer" };
  if (!defaultFile) throw new ModelStoreError("STORE_NO_CURRENT_MODEL", `no ${CURRENT_POINTER} pointer in the store and no model file configured (model.file)`);
  return { name: validateModelName(defaultFile, "model.file"), via: "default" };
}

/** Sidecar content as the probe's digest token (a string; bytes that are not UTF-8 stay distinguishable). */
export function digestToken(bytes: Uint8Array | undefined): string | null {
  if (bytes === undefined) return null;
  return Buffer.from(bytes).toString("base64");
}
