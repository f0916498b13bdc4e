// Functions behind the `sign` command (the CLI wiring lives elsewhere).
//   keygen(dir)                          -> dir/private.pem (0600), dir/public.pem (0644)
//   signModel(modelPath, privateKeyPath) -> <model>.sha256 and <model>.sig
import { mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { createPublicKey } from "node:crypto";
import { formatDigestFile, sha256 } from "./digest.ts";
import { KeyError, ModelVerificationError } from "./errors.ts";
import { decodeModel, DEFAULT_MAX_MODEL_BYTES, detectModelFormat, formatFromFileName, type ModelFormat } from "./load.ts";
import { generateSigningKeyPair, loadPrivateKeyFile, publicKeyToBase64, signDigest, verifyDigestSignature } from "./signing.ts";

export interface KeygenResult {
  privateKeyPath: string;
  publicKeyPath: string;
  /** Base64 of the raw 32-byte public key (alternative to public.pem in configuration). */
  publicKeyBase64: string;
}

/**
 * Generates an Ed25519 key pair into `dir` (created if needed, mode 0700):
 * private.pem (PKCS#8 PEM, mode 0600) and public.pem (SPKI PEM, mode 0644).
 * Refuses to overwrite existing key files (KeyError KEY_EXISTS) unless `overwrite`.
 */
export async function keygen(dir: string, options: { overwrite?: boolean } = {}): Promise<KeygenResult> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const privateKeyPath = join(dir, "private.pem");
  const publicKeyPath = join(dir, "public.pem");
  if (!options.overwrite) {
    for (const p of [privateKeyPath, publicKeyPath]) {
      if (await exists(p)) throw new KeyError("KEY_EXISTS", `${p} already exists (refusing to overwrite a key)`);
    }
  }
  const pair = generateSigningKeyPair();
  await writeAtomic(privateKeyPath, pair.privateKeyPem, 0o600);
  await writeAtomic(publicKeyPath, pair.publicKeyPem, 0o644);
  return { privateKeyPath, publicKeyPath, publicKeyBase64: pair.publicKeyBase64 };
}

export interface SignModelResult {
  format: ModelFormat;
  /** SHA-256 (lowercase hex) of the model file. */
  sha256: string;
  digestPath: string;
  signaturePath: string;
  /** Base64 of the raw public key matching the signing key. */
  publicKeyBase64: string;
}

/**
 * Signs a model file: validates it first (pickle/unknown formats and malformed
 * models are refused with the same errors as loading), then writes
 * `<model>.sha256` ("<hex>  <basename>\n") and `<model>.sig` (raw 64-byte
 * Ed25519 signature of the 32 raw SHA-256 bytes), each atomically.
 */
export async function signModel(modelPath: string, privateKeyPath: string, options: { maxBytes?: number } = {}): Promise<SignModelResult> {
  formatFromFileName(modelPath);
  const privateKey = await loadPrivateKeyFile(privateKeyPath);
  const bytes = new Uint8Array(await readFile(modelPath));
  const format = detectModelFormat(modelPath, bytes);
  decodeModel(bytes, format, { maxBytes: options.maxBytes ?? DEFAULT_MAX_MODEL_BYTES });
  const digest = sha256(bytes);
  const hex = Buffer.from(digest).toString("hex");
  const signature = signDigest(digest, privateKey);
  const publicKey = createPublicKey(privateKey);
  if (!verifyDigestSignature(digest, signature, publicKey)) {
    throw new ModelVerificationError("SIGNATURE_INVALID", "freshly made signature does not verify");
  }
  const digestPath = `${modelPath}.sha256`;
  const signaturePath = `${modelPath}.sig`;
  await writeAtomic(digestPath, formatDigestFile(hex, basename(modelPath)), 0o644);
  await writeAtomic(signaturePath, signature, 0o644);
  return { format, sha256: hex, digestPath, signaturePath, publicKeyBase64: publicKeyToBase64(publicKey) };
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/**
 * Writes to a temporary file in the same directory with `mode`, then renames over `path`: readers
 * see the old or the new file, never a part.
 */
export async function writeAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, "wx", mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have removed bits; make the mode exact
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
