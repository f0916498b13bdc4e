// Loading a model file with its detached digest and signature, fail closed.
//
// Order: extension check (pickle and unknown formats are refused before the
// file is even read) -> read <path>, <path>.sha256, <path>.sig -> verify the
// digest and signature -> check the magic bytes against the extension ->
// parse (.npz or .nxm) -> validate the model.
import { open, type FileHandle } from "node:fs/promises";
import { extname } from "node:path";
import { MAX_DIGEST_FILE_BYTES, sha256Hex } from "./digest.ts";
import { ModelError, ModelLoadError, ModelVerificationError } from "./errors.ts";
import { MAX_HASH_BITS, validateModel, type LrModelPair } from "./model.ts";
import { decodeNpzModel } from "./npz.ts";
import { decodeNxm, encodeNxm } from "./nxm.ts";
import { MAX_SIGNATURE_FILE_BYTES, verifyModelFile, type PublicKeyInput, type VerifyModelResult } from "./signing.ts";

export type ModelFormat = "npz" | "nxm";

/**
 * Largest file (and uncompressed .npz content) a valid model of `hashBits` can be:
 * float64 weights (2 x 8 x 2^hashBits; sparse NXM entries are 8 bytes too) plus 1 MiB
 * for headers. Anything larger cannot be a model the filter loads.
 */
export function maxModelBytesFor(hashBits: number): number {
  return 16 * 2 ** hashBits + (1 << 20);
}

/** Largest model file / uncompressed content accepted before hash_bits are known: hash_bits 24 (257 MiB). */
export const DEFAULT_MAX_MODEL_BYTES = maxModelBytesFor(MAX_HASH_BITS);

export const REFUSED_EXTENSIONS: readonly string[] = [".pkl", ".pickle", ".joblib"];

export interface LoadModelOptions {
  /** Ed25519 public key: KeyObject, PEM, or base64 of the raw 32 bytes. */
  publicKey?: PublicKeyInput;
  /** Accept models without a checkable signature (the .sha256 digest is still required). */
  allowUnsigned: boolean;
  /** Limit on the file size and on the uncompressed .npz content. Default DEFAULT_MAX_MODEL_BYTES. */
  maxBytes?: number;
}

export interface LoadedModel {
  model: LrModelPair;
  format: ModelFormat;
  /** SHA-256 (lowercase hex) of the model file bytes. */
  sha256: string;
  /** Content-derived version: the first 16 hex digits of sha256. */
  version: string;
  /** True when an Ed25519 signature was verified; false when accepted as UNSIGNED_ALLOWED. */
  signed: boolean;
  verification: VerifyModelResult;
}

/** Format implied by a file name; throws MODEL_FORMAT_REFUSED for pickle and anything unknown. */
export function formatFromFileName(fileName: string): ModelFormat {
  const ext = extname(fileName).toLowerCase();
  if (ext === ".npz") return "npz";
  if (ext === ".nxm") return "nxm";
  if (REFUSED_EXTENSIONS.includes(ext)) {
    throw new ModelLoadError("MODEL_FORMAT_REFUSED", `${fileName}: pickle/joblib models are never loaded (code execution risk); export to .npz or .nxm`);
  }
  throw new ModelLoadError("MODEL_FORMAT_REFUSED", `${fileName}: unknown model format ${JSON.stringify(ext || "(no extension)")}; only .npz and .nxm are loaded`);
}

const ZIP_LOCAL_MAGIC = [0x50, 0x4b, 0x03, 0x04]; // "PK\x03\x04"
const NXM_FILE_MAGIC = [0x4e, 0x58, 0x4d, 0x31]; // "NXM1"

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/** Checks that the magic bytes agree with the extension; returns the format. Throws ModelLoadError. */
export function detectModelFormat(fileName: string, bytes: Uint8Array): ModelFormat {
  const format = formatFromFileName(fileName);
  const ok = format === "npz" ? startsWith(bytes, ZIP_LOCAL_MAGIC) : startsWith(bytes, NXM_FILE_MAGIC);
  if (!ok) {
    const other = format === "npz" ? startsWith(bytes, NXM_FILE_MAGIC) ? " (content is NXM)" : "" : startsWith(bytes, ZIP_LOCAL_MAGIC) ? " (content is a zip/npz)" : "";
    throw new ModelLoadError("MODEL_FORMAT_MISMATCH", `${fileName}: content does not start with the .${format} magic${other}`);
  }
  return format;
}

/** Parses model bytes of a known format and validates the result. Throws ModelError. */
export function decodeModel(bytes: Uint8Array, format: ModelFormat, options: { maxBytes?: number } = {}): LrModelPair {
  const model = format === "npz" ? decodeNpzModel(bytes, { maxUncompressedBytes: options.maxBytes ?? DEFAULT_MAX_MODEL_BYTES }) : decodeNxm(bytes);
  validateModel(model);
  return model;
}

export interface ModelSource {
  /** File name (or key) of the model; its extension selects the format. */
  fileName: string;
  modelBytes: Uint8Array;
  /** Content of `<model>.sha256`, undefined when absent. */
  digestText?: string | Uint8Array;
  /** Content of `<model>.sig`, undefined when absent. */
  signatureBytes?: Uint8Array;
}

/**
 * Verifies and parses a model already in memory (e.g. fetched from S3).
 * Throws ModelLoadError, ModelVerificationError (code = the verification reason),
 * NpzError, NxmError or ModelError; never returns an unverified or partial model.
 */
export function loadModelFromBytes(src: ModelSource, options: LoadModelOptions): LoadedModel {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MODEL_BYTES;
  formatFromFileName(src.fileName);
  if (src.modelBytes.length > maxBytes) throw new ModelLoadError("MODEL_TOO_LARGE", `${src.fileName}: ${src.modelBytes.length} bytes (limit ${maxBytes})`);
  const verification = verifyModelFile({
    modelBytes: src.modelBytes,
    digestText: src.digestText,
    signatureBytes: src.signatureBytes,
    publicKey: options.publicKey,
    allowUnsigned: options.allowUnsigned,
  });
  if (!verification.ok) {
    throw new ModelVerificationError(verification.reason as Exclude<typeof verification.reason, "OK" | "UNSIGNED_ALLOWED">, `${src.fileName}: ${verification.message}`);
  }
  const format = detectModelFormat(src.fileName, src.modelBytes);
  const model = decodeModel(src.modelBytes, format, { maxBytes });
  return { model, format, sha256: verification.sha256, version: modelVersion(verification.sha256), signed: verification.signed, verification };
}

/** Reads `<path>`, `<path>.sha256` and `<path>.sig`, then behaves as loadModelFromBytes. */
export async function loadModelFile(path: string, options: LoadModelOptions): Promise<LoadedModel> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MODEL_BYTES;
  formatFromFileName(path); // refuse pickle & co. before touching the file
  const modelBytes = await readBounded(path, maxBytes, true);
  if (modelBytes === undefined) throw new ModelLoadError("MODEL_NOT_FOUND", `${path}: no such file`);
  const digestText = await readBounded(`${path}.sha256`, MAX_DIGEST_FILE_BYTES + 1, false);
  const signatureBytes = await readBounded(`${path}.sig`, MAX_SIGNATURE_FILE_BYTES + 1, false);
  return loadModelFromBytes({ fileName: path, modelBytes, digestText, signatureBytes }, options);
}

/** The first `want` bytes of an open file (fewer if it shrank while being read). */
export async function readUpTo(fh: FileHandle, want: number): Promise<Uint8Array> {
  const buf = new Uint8Array(want);
  let got = 0;
  while (got < want) {
    const { bytesRead } = await fh.read(buf, got, want - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === want ? buf : buf.subarray(0, got);
}

/**
 * Reads a whole file of at most `max` bytes; undefined if it does not exist.
 * Larger files: the model throws MODEL_TOO_LARGE; sidecars are returned cut at
 * `max` bytes (their parsers then refuse them as malformed).
 */
async function readBounded(path: string, max: number, isModel: boolean): Promise<Uint8Array | undefined> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ModelLoadError("MODEL_READ_FAILED", `${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new ModelLoadError("MODEL_READ_FAILED", `${path}: not a regular file`);
    if (isModel && st.size > max) throw new ModelLoadError("MODEL_TOO_LARGE", `${path}: ${st.size} bytes (limit ${max})`);
    return await readUpTo(fh, Math.min(st.size, max));
  } catch (err) {
    if (err instanceof ModelError) throw err;
    throw new ModelLoadError("MODEL_READ_FAILED", `${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    await fh.close();
  }
}

/** Content-derived model version: the first 16 hex digits of the file's SHA-256. */
export function modelVersion(sha256: string): string {
  return sha256.slice(0, 16);
}

/** The blob the host sends to the filter: NXM v1, smaller of dense and sparse. */
export function toWireBlob(model: LrModelPair): Uint8Array {
  return encodeNxm(model, { encoding: "auto" });
}

/** toWireBlob plus the SHA-256 (lowercase hex) of the blob, which the filter checks. */
export function toWireBlobWithDigest(model: LrModelPair): { bytes: Uint8Array; sha256: string } {
  const bytes = toWireBlob(model);
  return { bytes, sha256: sha256Hex(bytes) };
}
