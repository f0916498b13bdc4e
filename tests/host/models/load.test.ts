import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { formatDigestFile, sha256Hex } from "../../../host/src/models/digest.ts";
import { ModelError, ModelLoadError, ModelVerificationError } from "../../../host/src/models/errors.ts";
import * as models from "../../../host/src/models/index.ts";
import {
  detectModelFormat, loadModelFile, loadModelFromBytes, modelVersion, toWireBlob, toWireBlobWithDigest, type LoadModelOptions,
} from "../../../host/src/models/load.ts";
import { modelsEqual } from "../../../host/src/models/model.ts";
import { decodeNxm } from "../../../host/src/models/nxm.ts";
import { keygen, signModel } from "../../../host/src/models/sign-cli.ts";
import { loadPrivateKeyFile, loadPublicKeyFile, parsePublicKey, signModelBytes } from "../../../host/src/models/signing.ts";
import { fixture, FIXTURES, formulaModel, randomModel } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "nexus-models-load-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ModelError, `expected a ModelError, got ${String(err)}`);
    return err.code;
  }
  assert.fail("expected an error");
}

function put(name: string, bytes: Uint8Array | string): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

describe("keygen + sign + load", async () => {
  const keyDir = join(tmp, "keys");
  const keys = await keygen(keyDir);
  const publicKeyPem = readFileSync(keys.publicKeyPath, "utf8");
  const opts: LoadModelOptions = { publicKey: publicKeyPem, allowUnsigned: false };

  it("keygen writes private.pem (0600) and public.pem, and refuses to overwrite", async () => {
    assert.equal(statSync(keys.privateKeyPath).mode & 0o777, 0o600);
    assert.equal(statSync(keys.publicKeyPath).mode & 0o777, 0o644);
    assert.match(readFileSync(keys.privateKeyPath, "utf8"), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
    assert.equal((await loadPrivateKeyFile(keys.privateKeyPath)).asymmetricKeyType, "ed25519");
    assert.equal(models.publicKeyToBase64(await loadPublicKeyFile(keys.publicKeyPath)), keys.publicKeyBase64);
    assert.equal(await codeOf(keygen(keyDir)), "KEY_EXISTS");
    const again = await keygen(join(tmp, "keys2"));
    await keygen(join(tmp, "keys2"), { overwrite: true });
    assert.notEqual(readFileSync(again.publicKeyPath, "utf8"), publicKeyPem);
  });

  it("npz: sign then load (PEM, base64 and KeyObject keys)", async () => {
    const path = join(tmp, "model-f64.npz");
    copyFileSync(join(FIXTURES, "ok_f64_savez_compressed.npz"), path);
    const s = await signModel(path, keys.privateKeyPath);
    const bytes = new Uint8Array(readFileSync(path));
    assert.equal(s.sha256, sha256Hex(bytes));
    assert.equal(s.format, "npz");
    assert.equal(s.publicKeyBase64, keys.publicKeyBase64);
    assert.equal(readFileSync(s.digestPath, "utf8"), `${s.sha256}  model-f64.npz\n`);
    assert.equal(readFileSync(s.signaturePath).length, 64);
    for (const publicKey of [publicKeyPem, keys.publicKeyBase64, parsePublicKey(publicKeyPem)]) {
      const loaded = await loadModelFile(path, { publicKey, allowUnsigned: false });
      assert.equal(loaded.format, "npz");
      assert.equal(loaded.sha256, s.sha256);
      assert.equal(loaded.version, s.sha256.slice(0, 16));
      assert.equal(loaded.version, modelVersion(s.sha256));
      assert.equal(loaded.signed, true);
      assert.equal(loaded.verification.reason, "OK");
      assert.ok(modelsEqual(loaded.model, formulaModel()));
    }
  });

  it("nxm: the wire blob written to a file signs and loads to the same model", async () => {
    const m = randomModel(14, 0.1, 5);
    const path = put("model.nxm", toWireBlob(m));
    await signModel(path, keys.privateKeyPath);
    const loaded = await loadModelFile(path, opts);
    assert.equal(loaded.format, "nxm");
    assert.ok(modelsEqual(loaded.model, m));
  });

  it("tampering after signing is refused", async () => {
    const path = join(tmp, "tamper.npz");
    copyFileSync(join(FIXTURES, "ok_f32_savez.npz"), path);
    await signModel(path, keys.privateKeyPath);
    const original = new Uint8Array(readFileSync(path));
    const bytes = original.slice();
    bytes[500] = bytes[500]! ^ 1; // inside w_ctr
    writeFileSync(path, bytes);
    assert.equal(await codeOf(loadModelFile(path, opts)), "DIGEST_MISMATCH");
    // The attacker also rewrites the digest: the signature still fails.
    writeFileSync(`${path}.sha256`, formatDigestFile(sha256Hex(bytes), "tamper.npz"));
    const err = await loadModelFile(path, opts).catch((e: unknown) => e);
    assert.ok(err instanceof ModelVerificationError);
    assert.equal(err.code, "SIGNATURE_INVALID");
    // A valid model signed by another key.
    writeFileSync(path, original);
    const other = await keygen(join(tmp, "other-keys"));
    await signModel(path, other.privateKeyPath);
    assert.equal(await codeOf(loadModelFile(path, opts)), "SIGNATURE_INVALID");
    assert.equal((await loadModelFile(path, { publicKey: other.publicKeyBase64, allowUnsigned: false })).verification.reason, "OK");
  });

  it("missing digest / signature / key", async () => {
    const path = join(tmp, "unsigned.npz");
    copyFileSync(join(FIXTURES, "ok_f32_savez.npz"), path);
    assert.equal(await codeOf(loadModelFile(path, opts)), "DIGEST_MISSING");
    assert.equal(await codeOf(loadModelFile(path, { allowUnsigned: true })), "DIGEST_MISSING");
    copyFileSync(join(FIXTURES, "ok_f32_savez.npz.sha256"), `${path}.sha256`);
    assert.equal(await codeOf(loadModelFile(path, opts)), "SIGNATURE_MISSING");
    const loaded = await loadModelFile(path, { ...opts, allowUnsigned: true });
    assert.equal(loaded.signed, false);
    assert.equal(loaded.verification.reason, "UNSIGNED_ALLOWED");
    assert.ok(modelsEqual(loaded.model, formulaModel()));
    await signModel(path, keys.privateKeyPath);
    assert.equal(await codeOf(loadModelFile(path, { allowUnsigned: false })), "PUBLIC_KEY_MISSING");
    writeFileSync(`${path}.sig`, Buffer.from(readFileSync(`${path}.sig`)).toString("base64") + "\n");
    assert.equal((await loadModelFile(path, opts)).verification.reason, "OK", "base64 .sig accepted");
    writeFileSync(`${path}.sha256`, "x".repeat(10_000));
    assert.equal(await codeOf(loadModelFile(path, opts)), "DIGEST_MALFORMED");
  });

  it("pickle and unknown formats are refused, even with a valid digest and signature", async () => {
    for (const name of ["model.pkl", "model.pickle", "model.joblib", "model.PKL", "model.json", "model", "model.npz.pkl", "model.npy", "model.zip"]) {
      const path = put(name, fixture(name.includes("pkl") || name.includes("pickle") ? "broken_model.pkl" : "ok_f32_savez.npz"));
      const bytes = new Uint8Array(readFileSync(path));
      writeFileSync(`${path}.sha256`, formatDigestFile(sha256Hex(bytes)));
      writeFileSync(`${path}.sig`, signModelBytes(bytes, await loadPrivateKeyFile(keys.privateKeyPath)));
      assert.equal(await codeOf(loadModelFile(path, opts)), "MODEL_FORMAT_REFUSED", name);
      assert.equal(await codeOf(loadModelFile(path, { allowUnsigned: true })), "MODEL_FORMAT_REFUSED", name);
      assert.equal(await codeOf(signModel(path, keys.privateKeyPath)), "MODEL_FORMAT_REFUSED", name);
    }
    // Refused before the file is even read.
    assert.equal(await codeOf(loadModelFile(join(tmp, "does-not-exist.pkl"), opts)), "MODEL_FORMAT_REFUSED");
  });

  it("extension and magic bytes must agree", async () => {
    const npzAsNxm = put("really-npz.nxm", fixture("ok_f32_savez.npz"));
    const nxmAsNpz = put("really-nxm.npz", fixture("golden_dense.nxm"));
    const pklAsNpz = put("really-pkl.npz", fixture("broken_model.pkl"));
    const priv = await loadPrivateKeyFile(keys.privateKeyPath);
    for (const path of [npzAsNxm, nxmAsNpz, pklAsNpz]) {
      const bytes = new Uint8Array(readFileSync(path));
      writeFileSync(`${path}.sha256`, formatDigestFile(sha256Hex(bytes)));
      writeFileSync(`${path}.sig`, signModelBytes(bytes, priv));
      assert.equal(await codeOf(loadModelFile(path, opts)), "MODEL_FORMAT_MISMATCH", path);
      assert.equal(await codeOf(signModel(path, keys.privateKeyPath)), "MODEL_FORMAT_MISMATCH", path);
    }
    assert.throws(() => detectModelFormat("x.npz", new Uint8Array([0x50, 0x4b, 0x05, 0x06])), ModelLoadError);
    assert.equal(detectModelFormat("X.NPZ", fixture("ok_f32_savez.npz")), "npz");
  });

  it("invalid models are refused by signModel and by the loader even when signed", async () => {
    const priv = await loadPrivateKeyFile(keys.privateKeyPath);
    for (const [name, code] of [["broken_nan.npz", "MODEL_NONFINITE"], ["broken_bad_crc.npz", "NPZ_BAD_CRC"], ["broken_dtype_i4.npz", "NPY_BAD_DTYPE"]] as const) {
      const path = put(`signed-${name}`, fixture(name));
      assert.equal(await codeOf(signModel(path, keys.privateKeyPath)), code);
      const bytes = new Uint8Array(readFileSync(path));
      writeFileSync(`${path}.sha256`, formatDigestFile(sha256Hex(bytes)));
      writeFileSync(`${path}.sig`, signModelBytes(bytes, priv));
      assert.equal(await codeOf(loadModelFile(path, opts)), code);
    }
    const bad = fixture("golden_sparse.nxm").slice();
    bad[9] = 7;
    const path = put("bad.nxm", bad);
    writeFileSync(`${path}.sha256`, formatDigestFile(sha256Hex(bad)));
    writeFileSync(`${path}.sig`, signModelBytes(bad, priv));
    assert.equal(await codeOf(loadModelFile(path, opts)), "NXM_BAD_ENCODING");
  });

  it("missing files, directories and size limit", async () => {
    assert.equal(await codeOf(loadModelFile(join(tmp, "nope.npz"), opts)), "MODEL_NOT_FOUND");
    assert.equal(await codeOf(loadModelFile(keyDir + ".npz", opts)), "MODEL_NOT_FOUND");
    const dirPath = join(tmp, "a-dir.npz");
    rmSync(dirPath, { force: true, recursive: true });
    (await import("node:fs")).mkdirSync(dirPath);
    assert.equal(await codeOf(loadModelFile(dirPath, opts)), "MODEL_READ_FAILED");
    const path = join(tmp, "model-f64.npz");
    assert.equal(await codeOf(loadModelFile(path, { ...opts, maxBytes: 1000 })), "MODEL_TOO_LARGE");
    // The uncompressed limit applies too (compressed file below the limit).
    const size = statSync(path).size;
    assert.equal(await codeOf(loadModelFile(path, { ...opts, maxBytes: size + 10 })), "NPZ_TOO_LARGE");
  });

  it("loadModelFromBytes (for stores that fetch bytes, e.g. S3)", async () => {
    const path = join(tmp, "model-f64.npz");
    const modelBytes = new Uint8Array(readFileSync(path));
    const loaded = loadModelFromBytes({
      fileName: "models/2024-05-01/model-f64.npz",
      modelBytes,
      digestText: readFileSync(`${path}.sha256`, "utf8"),
      signatureBytes: new Uint8Array(readFileSync(`${path}.sig`)),
    }, opts);
    assert.equal(loaded.sha256, sha256Hex(modelBytes));
    assert.throws(() => loadModelFromBytes({ fileName: "m.pkl", modelBytes }, opts), (e: unknown) => e instanceof ModelLoadError && e.code === "MODEL_FORMAT_REFUSED");
  });

  it("sidecar removal after load is detected on the next load", async () => {
    const path = join(tmp, "model.nxm");
    unlinkSync(`${path}.sig`);
    assert.equal(await codeOf(loadModelFile(path, opts)), "SIGNATURE_MISSING");
  });
});

describe("wire blob", () => {
  it("is NXM auto-encoded with its SHA-256", () => {
    const sparse = randomModel(18, 0.01, 21);
    const blob = toWireBlobWithDigest(sparse);
    assert.equal(blob.bytes[9], 1, "sparse");
    assert.equal(blob.sha256, sha256Hex(blob.bytes));
    assert.ok(modelsEqual(decodeNxm(blob.bytes), sparse));
    const dense = formulaModel();
    const d = toWireBlob(dense);
    assert.equal(d[9], 0, "dense");
    assert.deepEqual(d, fixture("golden_dense.nxm"));
  });

  it("the index re-exports the public API", () => {
    for (const name of ["loadModelFile", "loadModelFromBytes", "toWireBlob", "encodeNxm", "decodeNxm", "decodeNpzModel", "verifyModelFile", "keygen", "signModel", "parsePublicKey", "ModelError"]) {
      assert.equal(typeof (models as Record<string, unknown>)[name], "function", name);
    }
  });
});
