// Ed25519 detached signatures of model files and the verification policy.
//
// What is signed: the 32 raw bytes of SHA-256(model file bytes), signed with
// pure Ed25519 (RFC 8032, no pre-hash, no context, no prefix). Equivalent to:
//   openssl dgst -sha256 -binary model.npz > digest.bin
//   openssl pkeyutl -sign -inkey private.pem -rawin -in digest.bin -out model.npz.sig
// `<model>.sig` holds the raw 64-byte signature (what signModel writes); base64
// text of those 64 bytes (optionally with surrounding whitespace) is accepted too.
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign, timingSafeEqual, verify } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseDigestFile, sha256 } from "./digest.ts";
import { KeyError } from "./errors.ts";

export const ED25519_SIGNATURE_BYTES = 64;
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const MAX_SIGNATURE_FILE_BYTES = 4096;

export type PublicKeyInput = KeyObject | string;

export interface GeneratedKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
  /** Base64 of the raw 32-byte public key (the other form configuration may hold). */
  publicKeyBase64: string;
}

export function generateSigningKeyPair(): GeneratedKeyPair {
  // The key generation encodes the keys itself; no export from the generated KeyObjects. On Node
  // 20 such an export can deadlock: a GC during it finalises the generation job, whose destructor
  // takes the key's mutex that the export holds (a test process hung for good in ExportJWK, main
  // thread in pthread_mutex_lock under KeyGenJob::~KeyGenJob).
  const { privateKey, publicKey } = generateKeyPairSync("ed25519", {
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey, publicKeyBase64: spkiPemToBase64(publicKey) };
}

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** Base64 of the raw public key inside an Ed25519 SPKI PEM block (the bytes only: no KeyObject). */
function spkiPemToBase64(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
  const n = ED25519_SPKI_PREFIX.length;
  if (der.length !== n + ED25519_PUBLIC_KEY_BYTES || !der.subarray(0, n).equals(ED25519_SPKI_PREFIX)) {
    throw new KeyError("KEY_INVALID", "not an Ed25519 public key");
  }
  return der.subarray(n).toString("base64");
}

/** Base64 (standard alphabet, padded) of the raw 32-byte Ed25519 public key. */
export function publicKeyToBase64(key: KeyObject): string {
  const jwk = key.export({ format: "jwk" }) as { x?: string };
  if (!jwk.x) throw new KeyError("KEY_INVALID", "not an Ed25519 public key");
  return Buffer.from(jwk.x, "base64url").toString("base64");
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const B64URL = /^[A-Za-z0-9_-]*$/;

/** Strict base64 (standard, padded or not; or base64url unpadded). Undefined if malformed. */
function decodeBase64Strict(text: string): Uint8Array | undefined {
  const s = text.trim();
  if (s.length === 0) return undefined;
  let buf: Buffer;
  if (B64.test(s)) {
    const unpadded = s.replace(/=+$/, "");
    if (s.length !== unpadded.length && s.length % 4 !== 0) return undefined;
    buf = Buffer.from(s, "base64");
    if (buf.toString("base64").replace(/=+$/, "") !== unpadded) return undefined; // non-canonical bits
  } else if (B64URL.test(s)) {
    buf = Buffer.from(s, "base64url");
    if (buf.toString("base64url") !== s) return undefined;
  } else {
    return undefined;
  }
  return new Uint8Array(buf);
}

function ensureEd25519(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== "ed25519") {
    throw new KeyError("KEY_INVALID", `${what} is a ${key.asymmetricKeyType ?? key.type} key, expected Ed25519`);
  }
  return key;
}

/** A key's text, trimmed; PEM held in an environment variable often has its newlines escaped as "\n". */
function keyText(input: string): string {
  const text = input.trim();
  return text.includes("-----BEGIN") && !text.includes("\n") && text.includes("\\n") ? text.replace(/\\n/g, "\n").trim() : text;
}

/**
 * Public key from configuration: a PEM "PUBLIC KEY" (SPKI) block, or the
 * base64 of the raw 32-byte key, or a KeyObject. Throws KeyError KEY_INVALID.
 * A private key is refused (configuration must never hold one).
 */
export function parsePublicKey(input: PublicKeyInput): KeyObject {
  if (input instanceof KeyObject) {
    if (input.type !== "public") throw new KeyError("KEY_INVALID", `expected a public key, got a ${input.type} key`);
    return ensureEd25519(input, "public key");
  }
  if (typeof input !== "string") throw new KeyError("KEY_INVALID", "public key must be a PEM string, base64 raw key or KeyObject");
  const text = keyText(input);
  if (text.includes("-----BEGIN")) {
    if (!/^-----BEGIN PUBLIC KEY-----\r?\n[\s\S]+\r?\n-----END PUBLIC KEY-----$/.test(text)) {
      throw new KeyError("KEY_INVALID", "PEM must be a single \"PUBLIC KEY\" block (private keys are refused)");
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: text, format: "pem" });
    } catch (err) {
      throw new KeyError("KEY_INVALID", `unreadable PEM public key: ${(err as Error).message}`, { cause: err });
    }
    return ensureEd25519(key, "PEM public key");
  }
  const raw = decodeBase64Strict(text);
  if (!raw || raw.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new KeyError("KEY_INVALID", "public key is neither a PEM block nor base64 of 32 raw bytes");
  }
  try {
    return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") }, format: "jwk" });
  } catch (err) {
    throw new KeyError("KEY_INVALID", `invalid Ed25519 public key: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The public keys of a key configuration: one key as parsePublicKey() reads it, or several PEM
 * "PUBLIC KEY" blocks one after the other (nothing else between them), or several base64 raw keys,
 * one per line. Several keys are for rotating the signing key: a model signed with any of them is
 * accepted (docs/OPERATIONS.md, "Rotating the model signing key"). Throws KeyError KEY_INVALID.
 */
export function parsePublicKeys(input: PublicKeyInput): KeyObject[] {
  if (typeof input !== "string") return [parsePublicKey(input)];
  const text = keyText(input);
  if (text.includes("-----BEGIN")) {
    const blocks = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? [];
    const rest = blocks.reduce((t, b) => t.replace(b, ""), text);
    if (blocks.length === 0 || rest.trim() !== "") {
      throw new KeyError("KEY_INVALID", "PEM must be \"PUBLIC KEY\" blocks and nothing else (private keys are refused)");
    }
    return blocks.map((b) => parsePublicKey(b));
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  // Nothing at all is not "no key configured": parsePublicKey() says why it is not a key.
  return lines.length === 0 ? [parsePublicKey(text)] : lines.map((l) => parsePublicKey(l));
}

export async function loadPublicKeyFile(path: string): Promise<KeyObject> {
  return parsePublicKey(await readFile(path, "utf8"));
}

/** Private key from an unencrypted PKCS#8 PEM ("PRIVATE KEY"). Throws KeyError KEY_INVALID. */
export function parsePrivateKey(pem: string | KeyObject): KeyObject {
  if (pem instanceof KeyObject) {
    if (pem.type !== "private") throw new KeyError("KEY_INVALID", `expected a private key, got a ${pem.type} key`);
    return ensureEd25519(pem, "private key");
  }
  if (pem.includes("-----BEGIN PUBLIC KEY-----")) {
    throw new KeyError("KEY_INVALID", "this is a public key (PEM PUBLIC KEY): signing needs the private key (keygen's private.pem)");
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    throw new KeyError("KEY_INVALID", `unreadable PEM private key: ${(err as Error).message}`, { cause: err });
  }
  return ensureEd25519(key, "PEM private key");
}

export async function loadPrivateKeyFile(path: string): Promise<KeyObject> {
  return parsePrivateKey(await readFile(path, "utf8"));
}

/** Signs the 32-byte SHA-256 digest of a model file. Returns the raw 64-byte signature. */
export function signDigest(digest: Uint8Array, privateKey: KeyObject): Uint8Array {
  if (digest.length !== 32) throw new TypeError("digest must be 32 bytes (SHA-256)");
  return new Uint8Array(sign(null, digest, parsePrivateKey(privateKey)));
}

export function signModelBytes(modelBytes: Uint8Array, privateKey: KeyObject): Uint8Array {
  return signDigest(sha256(modelBytes), privateKey);
}

export function verifyDigestSignature(digest: Uint8Array, signature: Uint8Array, publicKey: KeyObject): boolean {
  if (digest.length !== 32 || signature.length !== ED25519_SIGNATURE_BYTES) return false;
  try {
    return verify(null, digest, publicKey, signature);
  } catch {
    return false;
  }
}

/**
 * Parses a `.sig` file: exactly 64 bytes = the raw signature; otherwise the
 * content must be ASCII base64 of 64 bytes (whitespace and line breaks anywhere allowed).
 * Undefined when malformed.
 */
export function parseSignatureFile(content: Uint8Array): Uint8Array | undefined {
  if (content.length === ED25519_SIGNATURE_BYTES) return content;
  if (content.length > MAX_SIGNATURE_FILE_BYTES) return undefined;
  for (const b of content) if (b > 0x7e || (b < 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09)) return undefined;
  // Line breaks inside too: base64(1) wraps at 76 characters and openssl at 64.
  const raw = decodeBase64Strict(Buffer.from(content).toString("latin1").replace(/\s+/g, ""));
  return raw && raw.length === ED25519_SIGNATURE_BYTES ? raw : undefined;
}

export type VerifyReason =
  | "OK"
  | "UNSIGNED_ALLOWED"
  | "DIGEST_MISSING"
  | "DIGEST_MALFORMED"
  | "DIGEST_MISMATCH"
  | "SIGNATURE_MISSING"
  | "SIGNATURE_INVALID"
  | "PUBLIC_KEY_MISSING";

export interface VerifyModelInput {
  modelBytes: Uint8Array;
  /** Content of `<model>.sha256`, undefined when the file does not exist. */
  digestText?: string | Uint8Array;
  /** Content of `<model>.sig`, undefined when the file does not exist. */
  signatureBytes?: Uint8Array;
  publicKey?: PublicKeyInput;
  /** Accept a model without a (checkable) signature. The digest is still required. */
  allowUnsigned: boolean;
}

export interface VerifyModelResult {
  ok: boolean;
  reason: VerifyReason;
  /** SHA-256 (hex) of modelBytes. */
  sha256: string;
  /** True only when a signature was checked and is valid. */
  signed: boolean;
  message: string;
}

/**
 * Verification policy (fails closed):
 *  1. `.sha256` is always required and must match the model bytes.
 *  2. A present signature is always checked when a public key is configured
 *     (with several, it must verify with one of them); an invalid one is
 *     refused even with allowUnsigned.
 *  3. No signature (or a signature but no key): refused unless allowUnsigned,
 *     then accepted as UNSIGNED_ALLOWED.
 * A malformed public key configuration throws KeyError (a configuration error).
 */
export function verifyModelFile(input: VerifyModelInput): VerifyModelResult {
  const digest = sha256(input.modelBytes);
  const hex = Buffer.from(digest).toString("hex");
  const result = (ok: boolean, reason: VerifyReason, message: string, signed = false): VerifyModelResult => ({ ok, reason, sha256: hex, signed, message });
  const keys = input.publicKey === undefined ? [] : parsePublicKeys(input.publicKey);

  if (input.digestText === undefined) return result(false, "DIGEST_MISSING", "no .sha256 digest file");
  const parsed = parseDigestFile(input.digestText);
  if (!parsed) return result(false, "DIGEST_MALFORMED", ".sha256 file is not \"<64 hex digits>[  <name>]\"");
  if (!timingSafeEqual(Buffer.from(parsed.hex, "hex"), digest)) {
    return result(false, "DIGEST_MISMATCH", `model SHA-256 ${hex} does not match the .sha256 file (${parsed.hex})`);
  }
  if (input.signatureBytes === undefined) {
    return input.allowUnsigned
      ? result(true, "UNSIGNED_ALLOWED", "no .sig file; accepted because unsigned models are allowed")
      : result(false, "SIGNATURE_MISSING", "no .sig file and unsigned models are not allowed");
  }
  if (keys.length === 0) {
    return input.allowUnsigned
      ? result(true, "UNSIGNED_ALLOWED", "no public key configured; signature not checked, accepted because unsigned models are allowed")
      : result(false, "PUBLIC_KEY_MISSING", "a signature is required but no public key is configured");
  }
  const sig = parseSignatureFile(input.signatureBytes);
  if (!sig) return result(false, "SIGNATURE_INVALID", ".sig is neither 64 raw bytes nor base64 of 64 bytes");
  if (!keys.some((key) => verifyDigestSignature(digest, sig, key))) {
    const which = keys.length === 1 ? "the configured public key" : `any of the ${keys.length} configured public keys`;
    return result(false, "SIGNATURE_INVALID", `Ed25519 signature does not verify with ${which}`);
  }
  return result(true, "OK", "digest and signature verified", true);
}
