// Writes a trained model the way the host loads it: <base>.nxm (NXM v1,
// sparse when smaller) and <base>.npz (numpy layout), each with its detached
// <file>.sha256 (sha256sum format) and, given an Ed25519 private key, <file>.sig.
// Both encodings are decoded again and compared bit for bit with the model,
// and every digest and signature is made (and the signature verified) before
// the first byte is written; each file is then written atomically. So a bad
// key or a failed check leaves the previous model files as they were.
import { createPublicKey, type KeyObject } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { basename, extname } from "node:path";
import { formatDigestFile, sha256 } from "../models/digest.ts";
import { modelsEqual, type LrModelPair } from "../models/model.ts";
import { decodeNpzModel } from "../models/npz.ts";
import { decodeNxm, encodeNxm, readNxmHeader } from "../models/nxm.ts";
import { writeAtomic } from "../models/sign-cli.ts";
import { parsePrivateKey, signDigest, verifyDigestSignature } from "../models/signing.ts";
import { ToolError } from "./errors.ts";
import { encodeNpzModel } from "./npz-writer.ts";

export interface WrittenFile {
  path: string;
  bytes: number;
  sha256: string;
  digestPath: string;
  /** Path of the .sig, when signed. */
  signaturePath?: string;
}

export interface WrittenModel {
  nxm: WrittenFile & { encoding: "dense" | "sparse" };
  /** Absent with `npz: false`. */
  npz?: WrittenFile;
  signed: boolean;
}

/** `models/x/model.nxm`, `models/x/model.npz` or `models/x/model` → `models/x/model`. */
export function modelBasePath(out: string): string {
  const ext = extname(out).toLowerCase();
  return ext === ".nxm" || ext === ".npz" ? out.slice(0, -ext.length) : out;
}

/** The Ed25519 private key of `path` (PKCS#8 PEM), or KEY_INVALID: read before any training or writing. */
export async function loadSigningKey(path: string): Promise<KeyObject> {
  let pem: string;
  try {
    pem = await readFile(path, "utf8");
  } catch (err) {
    throw new ToolError("KEY_INVALID", `--key ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  try {
    return parsePrivateKey(pem);
  } catch (err) {
    // The key error's message starts with its code (KEY_INVALID: ...): said once, by this error.
    throw new ToolError("KEY_INVALID", `--key ${path}: ${(err as Error).message.replace(/^KEY_INVALID: /, "")}`, { cause: err });
  }
}

interface PreparedFile {
  path: string;
  bytes: Uint8Array;
  sha256: string;
  signature?: Uint8Array;
}

function prepare(path: string, bytes: Uint8Array, key: KeyObject | undefined): PreparedFile {
  const digest = sha256(bytes);
  const out: PreparedFile = { path, bytes, sha256: Buffer.from(digest).toString("hex") };
  if (key !== undefined) {
    const signature = signDigest(digest, key);
    if (!verifyDigestSignature(digest, signature, createPublicKey(key))) throw new ToolError("KEY_INVALID", "a fresh signature does not verify");
    out.signature = signature;
  }
  return out;
}

async function writePrepared(f: PreparedFile): Promise<WrittenFile> {
  const digestPath = `${f.path}.sha256`;
  const signaturePath = `${f.path}.sig`;
  await writeAtomic(f.path, f.bytes, 0o644);
  await writeAtomic(digestPath, formatDigestFile(f.sha256, basename(f.path)), 0o644);
  const written: WrittenFile = { path: f.path, bytes: f.bytes.length, sha256: f.sha256, digestPath };
  if (f.signature !== undefined) {
    await writeAtomic(signaturePath, f.signature, 0o644);
    written.signaturePath = signaturePath;
  } else {
    // A signature left from an earlier model would no longer verify: remove it.
    await rm(signaturePath, { force: true });
  }
  return written;
}

export async function writeModelFiles(model: LrModelPair, out: string, options: { privateKey?: KeyObject; npz?: boolean } = {}): Promise<WrittenModel> {
  const base = modelBasePath(out);
  const nxmBytes = encodeNxm(model, { encoding: "auto" });
  const npzBytes = encodeNpzModel(model);
  if (!modelsEqual(decodeNxm(nxmBytes), model) || !modelsEqual(decodeNpzModel(npzBytes), model)) {
    throw new ToolError("BAD_DATA", "internal: the written model does not decode to the trained one");
  }
  const encoding = readNxmHeader(nxmBytes).encoding;
  const nxmFile = prepare(`${base}.nxm`, nxmBytes, options.privateKey);
  const npzFile = options.npz !== false ? prepare(`${base}.npz`, npzBytes, options.privateKey) : undefined;
  let writing = nxmFile.path;
  try {
    const nxm = await writePrepared(nxmFile);
    const written: WrittenModel = { nxm: { ...nxm, encoding }, signed: options.privateKey !== undefined };
    if (npzFile) {
      writing = npzFile.path;
      written.npz = await writePrepared(npzFile);
    }
    return written;
  } catch (err) {
    if (err instanceof ToolError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code === "string" && typeof e.path === "string") {
      // The file the user asked for, not the temporary name it is written under (writeAtomic).
      throw new ToolError("OUTPUT_UNWRITABLE", `writing the model files: ${writing}: ${e.code}`, { cause: err });
    }
    throw err;
  }
}
