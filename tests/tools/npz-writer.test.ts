// The .npz writer: round trip through host/src/models (decodeNpzModel and
// loadModelFile), deterministic bytes, and, when Debian's numpy is there, np.load.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { formatDigestFile, sha256Hex } from "../../host/src/models/digest.ts";
import { loadModelFile } from "../../host/src/models/load.ts";
import { modelsEqual, type LrModelPair } from "../../host/src/models/model.ts";
import { decodeNpzModel, decodeNpzModelWithInfo } from "../../host/src/models/npz.ts";
import { encodeNpyF32, encodeNpzModel } from "../../host/src/tools/npz-writer.ts";

const tmp = mkdtempSync(join(tmpdir(), "nexus-npz-writer-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function model(bits: number, seed: number): LrModelPair {
  let a = seed;
  const rnd = (): number => ((a = (a * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const w = (): Float32Array => Float32Array.from({ length: 2 ** bits }, () => (rnd() < 0.1 ? Math.fround((rnd() - 0.5) * 4) : 0));
  return { hashBits: bits, wCtr: w(), bCtr: Math.fround(-4.5), wCvr: w(), bCvr: Math.fround(-2.9444389791664403) };
}

describe("npz writer", () => {
  it("round-trips through decodeNpzModel (float32, biases of shape ())", () => {
    for (const bits of [10, 12, 18]) {
      const m = model(bits, bits);
      const bytes = encodeNpzModel(m);
      const { model: back, info } = decodeNpzModelWithInfo(bytes);
      assert.ok(modelsEqual(back, m), `hash_bits ${bits}`);
      assert.deepEqual(info.dtypes, { w_ctr: "<f4", b_ctr: "<f4", w_cvr: "<f4", b_cvr: "<f4" });
      assert.deepEqual(info.ignored, []);
      assert.equal(bytes.length, 4 * (2 * 2 ** bits + 2) + 4 * 128 + 4 * (30 + 9) + 4 * (46 + 9) + 22);
    }
  });

  it("is deterministic", () => {
    const m = model(10, 3);
    assert.deepEqual(encodeNpzModel(m), encodeNpzModel(m));
  });

  it("writes .npy v1.0 headers padded to 64 bytes", () => {
    const npy = encodeNpyF32(Float32Array.of(1.5), []);
    assert.equal(new TextDecoder().decode(npy.subarray(0, 6).slice(1)), "NUMPY");
    assert.equal(npy[6], 1);
    assert.equal(npy[7], 0);
    const headerLen = npy[8]! | (npy[9]! << 8);
    assert.equal((10 + headerLen) % 64, 0);
    const header = new TextDecoder().decode(npy.subarray(10, 10 + headerLen));
    assert.match(header, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(\), \} *\n$/);
    assert.equal(new DataView(npy.buffer).getFloat32(10 + headerLen, true), 1.5);
    assert.throws(() => encodeNpyF32(Float32Array.of(1, 2), [3]), RangeError);
  });

  it("loads with loadModelFile next to its .sha256", async () => {
    const m = model(12, 9);
    const bytes = encodeNpzModel(m);
    const path = join(tmp, "m.npz");
    writeFileSync(path, bytes);
    writeFileSync(`${path}.sha256`, formatDigestFile(sha256Hex(bytes), "m.npz"));
    const loaded = await loadModelFile(path, { allowUnsigned: true });
    assert.equal(loaded.format, "npz");
    assert.ok(modelsEqual(loaded.model, m));
  });

  it("refuses an invalid model", () => {
    const m = model(10, 1);
    m.wCtr[3] = Number.NaN;
    assert.throws(() => encodeNpzModel(m), (e: Error & { code?: string }) => e.code === "MODEL_NONFINITE");
  });

  const py = spawnSync("python3", ["-c", "import numpy"], { encoding: "utf8" });
  it("numpy reads it (np.load)", { skip: py.status !== 0 ? "python3 with numpy not available" : false }, () => {
    const m = model(10, 5);
    const path = join(tmp, "np.npz");
    writeFileSync(path, encodeNpzModel(m));
    const r = spawnSync("python3", ["-c", `import numpy as np, json; z = np.load(${JSON.stringify(path)}); print(json.dumps({k: [str(z[k].dtype), list(z[k].shape), float(z[k].sum())] for k in sorted(z.files)}))`], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, [string, number[], number]>;
    assert.deepEqual(Object.keys(out), ["b_ctr", "b_cvr", "w_ctr", "w_cvr"]);
    assert.deepEqual(out.w_ctr!.slice(0, 2), ["float32", [1024]]);
    assert.deepEqual(out.b_ctr!.slice(0, 2), ["float32", []]);
    assert.ok(Math.abs(out.b_ctr![2] - m.bCtr) < 1e-6);
    assert.ok(Math.abs(out.w_ctr![2] - m.wCtr.reduce((a, b) => a + b, 0)) < 1e-3);
  });

  it("decodeNpzModel of the writer equals the model for a trained-like sparse model", () => {
    const m = model(18, 42);
    assert.ok(modelsEqual(decodeNpzModel(encodeNpzModel(m)), m));
  });
});
