// Writes a trained model the way the host loads it: <base>.nxm (NXM v1,
// sparse when smaller) and <base>.npz (numpy layout), each with its detached
// <file>.sha256 (sha256sum format) and, given an Ed25519 private key, <file>.sig
// (host/src/models signModel). Both files are decoded again after writing and
// compared bit for bit with the model.
import { rm, writeFile } from "node:fs/promises";
import { basename, extname } from "node:path";
import { formatDigestFile, sha256Hex } from "../models/digest.ts";
import { modelsEqual, type LrModelPair } from "../models/model.ts";
import { decodeNpzModel } from "../models/npz.ts";
import { decodeNxm, encodeNxm, readNxmHeader } from "../models/nxm.ts";
import { signModel } from "../models/sign-cli.ts";
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

async function writeOne(path: string, bytes: Uint8Array, keyPath: string | undefined): Promise<WrittenFile> {
  await writeFile(path, bytes);
  const hex = sha256Hex(bytes);
  const digestPath = `${path}.sha256`;
  if (keyPath !== undefined) {
    const s = await signModel(path, keyPath);
    return { path, bytes: bytes.length, sha256: s.sha256, digestPath: s.digestPath, signaturePath: s.signaturePath };
  }
  await writeFile(digestPath, formatDigestFile(hex, basename(path)));
  // A signature left from an earlier model would no longer verify: remove it.
  await rm(`${path}.sig`, { force: true });
  return { path, bytes: bytes.length, sha256: hex, digestPath };
}

export async function writeModelFiles(model: LrModelPair, out: string, options: { keyPath?: string; npz?: boolean } = {}): Promise<WrittenModel> {
  const base = modelBasePath(out);
  const nxmBytes = encodeNxm(model, { encoding: "auto" });
  const npzBytes = encodeNpzModel(model);
  if (!modelsEqual(decodeNxm(nxmBytes), model) || !modelsEqual(decodeNpzModel(npzBytes), model)) {
    throw new ToolError("BAD_DATA", "internal: the written model does not decode to the trained one");
  }
  const encoding = readNxmHeader(nxmBytes).encoding;
  try {
    const nxm = await writeOne(`${base}.nxm`, nxmBytes, options.keyPath);
    const written: WrittenModel = { nxm: { ...nxm, encoding }, signed: options.keyPath !== undefined };
    if (options.npz !== false) written.npz = await writeOne(`${base}.npz`, npzBytes, options.keyPath);
    return written;
  } catch (err) {
    if (err instanceof ToolError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code === "string" && typeof e.path === "string") {
      throw new ToolError("OUTPUT_UNWRITABLE", `writing the model files: ${e.path}: ${e.code}`, { cause: err });
    }
    throw err;
  }
}
