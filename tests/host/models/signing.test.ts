import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { formatDigestFile, parseDigestFile, sha256, sha256Hex } from "../../../host/src/models/digest.ts";
import { ModelError } from "../../../host/src/models/errors.ts";
import {
  generateSigningKeyPair, parsePrivateKey, parsePublicKey, parsePublicKeys, parseSignatureFile, publicKeyToBase64, signDigest, signModelBytes,
  verifyDigestSignature, verifyModelFile, type VerifyModelInput,
} from "../../../host/src/models/signing.ts";
import { publicKeyPath } from "../../../host/src/config.ts";
import { FIXTURES, fixture } from "./helpers.ts";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ModelError, `expected a ModelError, got ${String(err)}`);
    return err.code;
  }
  assert.fail("expected an error");
}

const tmp = mkdtempSync(join(tmpdir(), "nexus-models-sign-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function hasTool(cmd: string): boolean {
  return spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0 || spawnSync(cmd, ["version"], { stdio: "ignore" }).status === 0;
}

describe("digest files", () => {
  const model = fixture("ok_f32_savez.npz");
  const hex = sha256Hex(model);

  it("accepts the forms sha256sum writes, and a bare digest", () => {
    for (const text of [hex, `${hex}\n`, `${hex}\r\n`, `${hex}  model.npz\n`, `${hex}  model.npz`, `${hex} *model.npz\n`, `${hex.toUpperCase()}\n`, `${hex}  dir with spaces/model v2.npz\n`]) {
      assert.equal(parseDigestFile(text)?.hex, hex, JSON.stringify(text));
      assert.equal(parseDigestFile(new TextEncoder().encode(text))?.hex, hex);
    }
    assert.equal(parseDigestFile(`${hex}  model.npz\n`)?.fileName, "model.npz");
    assert.equal(parseDigestFile(`${hex}\n`)?.fileName, undefined);
  });

  it("refuses malformed digest files", () => {
    for (const text of ["", "\n", hex.slice(1), `${hex}0`, `${hex.slice(0, 63)}g`, `${hex} model.npz`, `${hex}\tmodel.npz`, ` ${hex}`, `${hex}\n\n`, `${hex}\n${hex}\n`, `${hex}  `, `sha256:${hex}`, `${hex}  a\0b`]) {
      assert.equal(parseDigestFile(text), undefined, JSON.stringify(text));
    }
    assert.equal(parseDigestFile(new Uint8Array([0xff, 0xfe, 0x30])), undefined, "not UTF-8");
    assert.equal(parseDigestFile(`${hex}  ${"x".repeat(5000)}`), undefined, "too long");
  });

  it("writes what sha256sum writes and reads the Python-written fixtures", () => {
    assert.equal(formatDigestFile(hex, "/some/dir/ok_f32_savez.npz"), `${hex}  ok_f32_savez.npz\n`);
    assert.equal(formatDigestFile(hex), `${hex}\n`);
    assert.throws(() => formatDigestFile(hex.toUpperCase()), TypeError);
    for (const name of ["ok_f32_savez.npz", "ok_f64_savez_compressed.npz"]) {
      const parsed = parseDigestFile(fixture(`${name}.sha256`));
      assert.equal(parsed?.hex, sha256Hex(fixture(name)));
    }
    if (hasTool("sha256sum")) {
      const r = spawnSync("sha256sum", ["ok_f32_savez.npz"], { cwd: FIXTURES, encoding: "utf8" });
      assert.equal(r.stdout, formatDigestFile(hex, "ok_f32_savez.npz"));
    }
  });
});

describe("keys", () => {
  const pair = generateSigningKeyPair();

  it("loads a public key from PEM, base64 raw bytes (padded, unpadded, url-safe) or a KeyObject", () => {
    const fromPem = parsePublicKey(pair.publicKeyPem);
    const raw = Buffer.from(pair.publicKeyBase64, "base64");
    assert.equal(raw.length, 32);
    for (const text of [pair.publicKeyBase64, ` ${pair.publicKeyBase64}\n`, pair.publicKeyBase64.replace(/=+$/, ""), raw.toString("base64url"), pair.publicKeyPem.replace(/\n/g, "\\n")]) {
      const k = parsePublicKey(text);
      assert.equal(publicKeyToBase64(k), pair.publicKeyBase64, text);
    }
    assert.equal(publicKeyToBase64(parsePublicKey(fromPem)), pair.publicKeyBase64);
    assert.equal(publicKeyToBase64(fromPem), pair.publicKeyBase64);
  });

  it("refuses private keys, other algorithms and malformed values", () => {
    assert.equal(code(() => parsePublicKey(pair.privateKeyPem)), "KEY_INVALID");
    assert.equal(code(() => parsePublicKey(parsePrivateKey(pair.privateKeyPem))), "KEY_INVALID");
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    assert.equal(code(() => parsePublicKey(rsa.publicKey.export({ format: "pem", type: "spki" }).toString())), "KEY_INVALID");
    assert.equal(code(() => parsePublicKey(rsa.publicKey)), "KEY_INVALID");
    const x25519 = generateKeyPairSync("x25519");
    assert.equal(code(() => parsePublicKey(x25519.publicKey.export({ format: "pem", type: "spki" }).toString())), "KEY_INVALID");
    const raw = Buffer.from(pair.publicKeyBase64, "base64");
    for (const text of ["", "not a key", raw.subarray(0, 31).toString("base64"), Buffer.concat([raw, Buffer.from([0])]).toString("base64"), `${pair.publicKeyBase64}!`, pair.publicKeyPem.replace("PUBLIC KEY-----\n", "PUBLIC KEY-----\nAAAA"), "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----"]) {
      assert.equal(code(() => parsePublicKey(text)), "KEY_INVALID", JSON.stringify(text));
    }
    assert.equal(code(() => parsePrivateKey(pair.publicKeyPem)), "KEY_INVALID");
    // A public key given where the private one goes says so (not an OpenSSL decoder error).
    assert.throws(() => parsePrivateKey(pair.publicKeyPem), /this is a public key .*needs the private key/);
    assert.equal(code(() => parsePrivateKey(rsa.privateKey.export({ format: "pem", type: "pkcs8" }).toString())), "KEY_INVALID");
  });
});

describe("several public keys (rotating the signing key)", () => {
  const oldPair = generateSigningKeyPair();
  const newPair = generateSigningKeyPair();
  const other = generateSigningKeyPair();
  const model = fixture("ok_f64_savez_compressed.npz");
  const digestText = formatDigestFile(sha256Hex(model), "model.npz");
  const signedBy = (pair: typeof oldPair) => signModelBytes(model, parsePrivateKey(pair.privateKeyPem));
  const verify = (publicKey: string, pair: typeof oldPair) =>
    verifyModelFile({ modelBytes: model, digestText, signatureBytes: signedBy(pair), publicKey, allowUnsigned: false });

  it("a model signed with any of the configured keys is accepted; with another, refused naming how many were tried", () => {
    for (const keys of [`${oldPair.publicKeyPem}\n${newPair.publicKeyPem}`, `${oldPair.publicKeyBase64}\n${newPair.publicKeyBase64}\n`]) {
      assert.equal(parsePublicKeys(keys).length, 2);
      assert.equal(verify(keys, oldPair).reason, "OK");
      assert.equal(verify(keys, newPair).reason, "OK");
      const r = verify(keys, other);
      assert.deepEqual([r.ok, r.reason], [false, "SIGNATURE_INVALID"]);
      assert.match(r.message, /any of the 2 configured public keys/);
    }
    // One key: as before.
    assert.equal(verify(newPair.publicKeyPem, oldPair).reason, "SIGNATURE_INVALID");
    assert.match(verify(newPair.publicKeyPem, oldPair).message, /the configured public key$/);
  });

  it("a key file with anything but PUBLIC KEY blocks (a private key among them) or a bad line is refused", () => {
    assert.equal(code(() => parsePublicKeys(`${oldPair.publicKeyPem}\n${oldPair.privateKeyPem}`)), "KEY_INVALID");
    assert.equal(code(() => parsePublicKeys(`${oldPair.publicKeyPem}\ngarbage\n${newPair.publicKeyPem}`)), "KEY_INVALID");
    assert.equal(code(() => parsePublicKeys(`${oldPair.publicKeyBase64}\nnot-a-key`)), "KEY_INVALID");
    // An empty or blank key file is a mistake, not "no key" (which allowUnsigned would then accept).
    for (const blank of ["", "  \n\n "]) assert.equal(code(() => parsePublicKeys(blank)), "KEY_INVALID", JSON.stringify(blank));
  });
});

describe("signatures", () => {
  const pair = generateSigningKeyPair();
  const priv = parsePrivateKey(pair.privateKeyPem);
  const pub = parsePublicKey(pair.publicKeyPem);
  const model = fixture("ok_f64_savez_compressed.npz");
  const digestText = formatDigestFile(sha256Hex(model), "model.npz");
  const sig = signModelBytes(model, priv);

  const verify = (over: Partial<VerifyModelInput>) =>
    verifyModelFile({ modelBytes: model, digestText, signatureBytes: sig, publicKey: pub, allowUnsigned: false, ...over });

  it("signs exactly the 32 raw SHA-256 bytes with pure Ed25519", () => {
    assert.equal(sig.length, 64);
    assert.deepEqual(signDigest(sha256(model), priv), sig, "Ed25519 is deterministic");
    assert.ok(verifyDigestSignature(sha256(model), sig, pub));
    assert.ok(!verifyDigestSignature(new TextEncoder().encode(sha256Hex(model)).subarray(0, 32), sig, pub));
  });

  it("OK with PEM, base64 raw or KeyObject keys; raw or base64 signature files", () => {
    for (const publicKey of [pub, pair.publicKeyPem, pair.publicKeyBase64]) {
      const r = verify({ publicKey });
      assert.deepEqual([r.ok, r.reason, r.signed, r.sha256], [true, "OK", true, sha256Hex(model)]);
    }
    for (const text of [Buffer.from(sig).toString("base64"), `${Buffer.from(sig).toString("base64")}\n`, Buffer.from(sig).toString("base64url")]) {
      assert.equal(verify({ signatureBytes: new TextEncoder().encode(text) }).reason, "OK", text);
    }
  });

  it("digest missing / malformed / mismatched", () => {
    assert.equal(verify({ digestText: undefined }).reason, "DIGEST_MISSING");
    assert.equal(verify({ digestText: undefined, allowUnsigned: true }).reason, "DIGEST_MISSING", "the digest is required even when unsigned models are allowed");
    assert.equal(verify({ digestText: "nope" }).reason, "DIGEST_MALFORMED");
    assert.equal(verify({ digestText: formatDigestFile(sha256Hex(fixture("ok_f32_savez.npz"))) }).reason, "DIGEST_MISMATCH");
    const tampered = model.slice();
    tampered[100] = tampered[100]! ^ 1;
    const r = verify({ modelBytes: tampered });
    assert.deepEqual([r.ok, r.reason], [false, "DIGEST_MISMATCH"]);
  });

  it("signature missing, invalid, or unsigned allowed", () => {
    assert.deepEqual([verify({ signatureBytes: undefined }).ok, verify({ signatureBytes: undefined }).reason], [false, "SIGNATURE_MISSING"]);
    const u = verify({ signatureBytes: undefined, allowUnsigned: true });
    assert.deepEqual([u.ok, u.reason, u.signed], [true, "UNSIGNED_ALLOWED", false]);
    // Wrong key.
    const other = generateSigningKeyPair();
    assert.equal(verify({ publicKey: other.publicKeyPem }).reason, "SIGNATURE_INVALID");
    // Flipped bit, truncated, empty, garbage, base64 of the wrong length.
    const flipped = sig.slice();
    flipped[10] = flipped[10]! ^ 0x20;
    for (const bad of [flipped, sig.subarray(0, 63), new Uint8Array(0), new Uint8Array(64), new TextEncoder().encode("not base64!"), new TextEncoder().encode(Buffer.from(sig.subarray(0, 60)).toString("base64")), new Uint8Array(65)]) {
      assert.equal(verify({ signatureBytes: bad }).reason, "SIGNATURE_INVALID");
    }
    // A bad signature is refused even when unsigned models are allowed.
    assert.deepEqual([verify({ signatureBytes: flipped, allowUnsigned: true }).ok, verify({ signatureBytes: flipped, allowUnsigned: true }).reason], [false, "SIGNATURE_INVALID"]);
    // A new model with its own (correct) digest but the old signature.
    const other2 = fixture("ok_f32_savez.npz");
    assert.equal(verify({ modelBytes: other2, digestText: formatDigestFile(sha256Hex(other2)) }).reason, "SIGNATURE_INVALID");
  });

  it("no public key: refused (fail closed) unless unsigned models are allowed", () => {
    assert.deepEqual([verify({ publicKey: undefined }).ok, verify({ publicKey: undefined }).reason], [false, "PUBLIC_KEY_MISSING"]);
    const r = verify({ publicKey: undefined, allowUnsigned: true });
    assert.deepEqual([r.ok, r.reason, r.signed], [true, "UNSIGNED_ALLOWED", false]);
    assert.equal(code(() => verify({ publicKey: "garbage" })), "KEY_INVALID");
  });

  it("parseSignatureFile: raw 64 bytes or base64 text", () => {
    assert.deepEqual(parseSignatureFile(sig), sig);
    assert.deepEqual(parseSignatureFile(new TextEncoder().encode(`  ${Buffer.from(sig).toString("base64")}\r\n`)), sig);
    assert.equal(parseSignatureFile(new TextEncoder().encode(Buffer.from(sig).toString("hex"))), undefined, "hex is not accepted");
    // As base64(1) (76 columns) and openssl base64 (64) write it: wrapped over two lines.
    const b64 = Buffer.from(sig).toString("base64");
    for (const width of [76, 64]) assert.deepEqual(parseSignatureFile(new TextEncoder().encode(`${b64.slice(0, width)}\n${b64.slice(width)}\n`)), sig, `wrapped at ${width}`);
    assert.equal(parseSignatureFile(new TextEncoder().encode(`${b64.slice(0, 40)}\n${b64.slice(41)}\n`)), undefined, "a character missing is refused");
  });

  it("a model.publicKey value is a file when one exists or when it has a '/' and is not a raw key in base64", () => {
    // keygen's publicKeyBase64 has a "/" about half the time: it is the key, not a path.
    let withSlash = "";
    while (!withSlash.includes("/")) withSlash = generateSigningKeyPair().publicKeyBase64;
    assert.equal(publicKeyPath(withSlash, tmp), undefined);
    assert.equal(publicKeyPath(withSlash.replace(/=$/, ""), tmp), undefined, "unpadded");
    assert.doesNotThrow(() => parsePublicKey(withSlash));
    // Several keys one per line (a rotation, e.g. in NEXUS_MODEL_PUBLIC_KEY): the keys, not a path
    // (the start failed with ENOENT on a "file" named after them).
    const other = generateSigningKeyPair().publicKeyBase64;
    for (const several of [`${withSlash}\n${other}`, `${other}\r\n${withSlash}\n`, ` ${withSlash.replace(/=$/, "")}\n\n${other} `]) {
      assert.equal(publicKeyPath(several, tmp), undefined, JSON.stringify(several));
      assert.equal(parsePublicKeys(several).length, 2, JSON.stringify(several));
    }
    assert.equal(publicKeyPath("keys/public.pem", tmp), join(tmp, "keys/public.pem"));
    assert.equal(publicKeyPath(pair.publicKeyPem, tmp), undefined, "PEM text");
    writeFileSync(join(tmp, "public.pem"), pair.publicKeyPem);
    assert.equal(publicKeyPath("public.pem", tmp), join(tmp, "public.pem"));
  });

  it("interoperates with openssl (pkeyutl -rawin over the binary digest)", { skip: !hasTool("openssl") }, () => {
    const keyPath = join(tmp, "private.pem");
    const pubPath = join(tmp, "public.pem");
    const digPath = join(tmp, "digest.bin");
    const sigPath = join(tmp, "model.sig");
    writeFileSync(keyPath, pair.privateKeyPem, { mode: 0o600 });
    writeFileSync(pubPath, pair.publicKeyPem);
    writeFileSync(digPath, sha256(model));
    // openssl signs -> we verify.
    const s = spawnSync("openssl", ["pkeyutl", "-sign", "-inkey", keyPath, "-rawin", "-in", digPath, "-out", sigPath]);
    assert.equal(s.status, 0, s.stderr?.toString());
    const osslSig = new Uint8Array(readFileSync(sigPath));
    assert.deepEqual(osslSig, sig, "same deterministic signature");
    assert.equal(verify({ signatureBytes: osslSig }).reason, "OK");
    // We sign -> openssl verifies.
    writeFileSync(sigPath, sig);
    const v = spawnSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", pubPath, "-rawin", "-in", digPath, "-sigfile", sigPath]);
    assert.equal(v.status, 0, v.stdout?.toString() + v.stderr?.toString());
    // The PEM openssl derives is accepted too.
    const p = spawnSync("openssl", ["pkey", "-in", keyPath, "-pubout"], { encoding: "utf8" });
    assert.equal(publicKeyToBase64(parsePublicKey(p.stdout)), pair.publicKeyBase64);
    assert.equal(publicKeyToBase64(createPublicKey(priv)), pair.publicKeyBase64);
  });
});
