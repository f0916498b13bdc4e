import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ModelError } from "../../../host/src/models/errors.ts";
import { modelsEqual, type LrModelPair } from "../../../host/src/models/model.ts";
import { decodeNpzModel } from "../../../host/src/models/npz.ts";
import { decodeNxm, encodeNxm, nxmSizes, readNxmHeader } from "../../../host/src/models/nxm.ts";
import { EXPECTED, fixture, formulaModel, prng, randomModel, type OkFixture } from "./helpers.ts";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ModelError, `expected a ModelError, got ${String(err)}`);
    return err.code;
  }
  assert.fail("expected an error");
}

function sparseGoldenModel(): LrModelPair {
  const exp = EXPECTED.fixtures["golden_sparse.nxm"] as OkFixture;
  const n = 2 ** exp.hash_bits;
  const wCtr = new Float32Array(n);
  const wCvr = new Float32Array(n);
  for (const [i, w] of exp.ctr_entries!) wCtr[i] = w;
  for (const [i, w] of exp.cvr_entries!) wCvr[i] = w;
  return { hashBits: exp.hash_bits, wCtr, bCtr: exp.b_ctr_f32, wCvr, bCvr: exp.b_cvr_f32 };
}

/** Copy of `bytes` with a little-endian field overwritten. */
function patch(bytes: Uint8Array, offset: number, kind: "u8" | "u16" | "u32" | "f32", value: number): Uint8Array {
  const b = bytes.slice();
  const v = new DataView(b.buffer);
  if (kind === "u8") v.setUint8(offset, value);
  else if (kind === "u16") v.setUint16(offset, value, true);
  else if (kind === "u32") v.setUint32(offset, value, true);
  else v.setFloat32(offset, value, true);
  return b;
}

describe("nxm: golden files (written from the format table by Python struct)", () => {
  it("golden_dense.nxm decodes to the same model as ok_f32_savez.npz, and encodes back byte for byte", () => {
    const golden = fixture("golden_dense.nxm");
    const fromNpz = decodeNpzModel(fixture("ok_f32_savez.npz"));
    const m = decodeNxm(golden);
    assert.ok(modelsEqual(m, fromNpz));
    assert.ok(modelsEqual(m, formulaModel()));
    assert.deepEqual(encodeNxm(fromNpz, { encoding: "dense" }), golden);
    assert.deepEqual(encodeNxm(fromNpz), golden, "auto keeps dense for a dense model");
  });

  it("golden_sparse.nxm decodes to the listed entries, and encodes back byte for byte", () => {
    const golden = fixture("golden_sparse.nxm");
    const m = decodeNxm(golden);
    assert.ok(modelsEqual(m, sparseGoldenModel()));
    assert.deepEqual(encodeNxm(m, { encoding: "sparse" }), golden);
    assert.deepEqual(encodeNxm(m, { encoding: "auto" }), golden, "auto picks sparse");
    const h = readNxmHeader(golden);
    assert.deepEqual({ ...h }, { hashBits: 12, encoding: "sparse", bCtr: -3.5, bCvr: -1, nCtr: 3, nCvr: 2, totalLength: 72 });
  });
});

describe("nxm: round trips", () => {
  for (const bits of [10, 14, 18]) {
    it(`dense and sparse round trip at hash_bits ${bits}`, () => {
      const m = randomModel(bits, 0.3, bits);
      for (const encoding of ["dense", "sparse"] as const) {
        const bytes = encodeNxm(m, { encoding });
        assert.equal(bytes.length, nxmSizes(m)[encoding]);
        assert.equal(bytes[9], encoding === "dense" ? 0 : 1);
        assert.ok(modelsEqual(decodeNxm(bytes), m), encoding);
      }
    });
  }

  it("auto picks the smaller encoding (sparse below half density, dense on a tie)", () => {
    const sparse = randomModel(12, 0.05, 7);
    assert.equal(encodeNxm(sparse)[9], 1);
    const dense = randomModel(12, 0.9, 8);
    assert.equal(encodeNxm(dense)[9], 0);
    // Exactly half non-zero: sparse size == dense size -> dense.
    const half: LrModelPair = { hashBits: 10, wCtr: new Float32Array(1024), bCtr: 0, wCvr: new Float32Array(1024), bCvr: 0 };
    for (let i = 0; i < 1024; i += 2) { half.wCtr[i] = 1; half.wCvr[i] = 1; }
    assert.equal(nxmSizes(half).dense, nxmSizes(half).sparse);
    assert.equal(encodeNxm(half)[9], 0);
    // An all-zero model is just the header in sparse form.
    const zero: LrModelPair = { hashBits: 18, wCtr: new Float32Array(2 ** 18), bCtr: -1, wCvr: new Float32Array(2 ** 18), bCvr: -2 };
    const z = encodeNxm(zero);
    assert.equal(z.length, 32);
    assert.ok(modelsEqual(decodeNxm(z), zero));
  });

  it("sparse drops -0 (decodes as +0, same dot product)", () => {
    const m: LrModelPair = { hashBits: 10, wCtr: new Float32Array(1024), bCtr: 0, wCvr: new Float32Array(1024), bCvr: 0 };
    m.wCtr[3] = -0;
    m.wCtr[4] = 2;
    const d = decodeNxm(encodeNxm(m, { encoding: "sparse" }));
    assert.ok(Object.is(d.wCtr[3], 0));
    assert.equal(d.wCtr[4], 2);
    assert.equal(readNxmHeader(encodeNxm(m, { encoding: "sparse" })).nCtr, 1);
  });

  it("encode refuses invalid models", () => {
    const m = randomModel(10, 0.5, 3);
    assert.equal(code(() => encodeNxm({ ...m, hashBits: 9 })), "MODEL_BAD_HASH_BITS");
    assert.equal(code(() => encodeNxm({ ...m, hashBits: 25 })), "MODEL_BAD_HASH_BITS");
    assert.equal(code(() => encodeNxm({ ...m, hashBits: 11 })), "MODEL_BAD_SHAPE");
    assert.equal(code(() => encodeNxm({ ...m, wCvr: new Float32Array(512) })), "MODEL_BAD_SHAPE");
    const nan = m.wCtr.slice();
    nan[17] = NaN;
    assert.equal(code(() => encodeNxm({ ...m, wCtr: nan })), "MODEL_NONFINITE");
    assert.equal(code(() => encodeNxm({ ...m, bCvr: Infinity })), "MODEL_NONFINITE");
    assert.equal(code(() => encodeNxm({ ...m, bCtr: 1e39 })), "MODEL_NONFINITE", "overflows float32");
  });
});

describe("nxm: malformed input (every field)", () => {
  const dense = encodeNxm(randomModel(10, 0.5, 11), { encoding: "dense" });
  const sparse = fixture("golden_sparse.nxm");

  it("magic", () => {
    assert.equal(code(() => decodeNxm(patch(dense, 3, "u8", 0x32))), "NXM_BAD_MAGIC"); // "NXM2"
    assert.equal(code(() => decodeNxm(new TextEncoder().encode("PK\x03\x04 this is a zip"))), "NXM_BAD_MAGIC");
    assert.equal(code(() => decodeNxm(new Uint8Array([0x4e, 0x58, 0x41]))), "NXM_BAD_MAGIC");
  });

  it("header length", () => {
    for (const len of [0, 28, 31, 33, 64, 0xffffffff]) {
      assert.equal(code(() => decodeNxm(patch(dense, 4, "u32", len))), "NXM_BAD_HEADER_LENGTH", String(len));
    }
  });

  it("hash_bits", () => {
    for (const b of [0, 9, 25, 32, 255]) assert.equal(code(() => decodeNxm(patch(sparse, 8, "u8", b))), "NXM_BAD_HASH_BITS", String(b));
    // A valid hash_bits that disagrees with the dense count.
    assert.equal(code(() => decodeNxm(patch(dense, 8, "u8", 11))), "NXM_BAD_COUNT");
  });

  it("encoding", () => {
    for (const e of [2, 3, 255]) assert.equal(code(() => decodeNxm(patch(dense, 9, "u8", e))), "NXM_BAD_ENCODING");
    // Dense bytes read as sparse: count 1024 entries of 8 bytes -> length mismatch.
    assert.equal(code(() => decodeNxm(patch(dense, 9, "u8", 1))), "NXM_TRUNCATED");
  });

  it("reserved fields", () => {
    assert.equal(code(() => decodeNxm(patch(dense, 10, "u16", 1))), "NXM_BAD_RESERVED");
    assert.equal(code(() => decodeNxm(patch(dense, 11, "u8", 0x80))), "NXM_BAD_RESERVED");
    assert.equal(code(() => decodeNxm(patch(dense, 28, "u32", 1))), "NXM_BAD_RESERVED");
  });

  it("biases", () => {
    for (const v of [NaN, Infinity, -Infinity]) {
      assert.equal(code(() => decodeNxm(patch(dense, 12, "f32", v))), "NXM_BAD_BIAS");
      assert.equal(code(() => decodeNxm(patch(sparse, 16, "f32", v))), "NXM_BAD_BIAS");
    }
  });

  it("counts", () => {
    assert.equal(code(() => decodeNxm(patch(dense, 20, "u32", 1023))), "NXM_BAD_COUNT");
    assert.equal(code(() => decodeNxm(patch(dense, 24, "u32", 1025))), "NXM_BAD_COUNT");
    assert.equal(code(() => decodeNxm(patch(sparse, 20, "u32", 4097))), "NXM_BAD_COUNT");
    assert.equal(code(() => decodeNxm(patch(sparse, 24, "u32", 0xffffffff))), "NXM_BAD_COUNT");
    // Counts that are legal but do not match the length.
    assert.equal(code(() => decodeNxm(patch(sparse, 20, "u32", 4))), "NXM_TRUNCATED");
    assert.equal(code(() => decodeNxm(patch(sparse, 24, "u32", 1))), "NXM_TRAILING_BYTES");
  });

  it("length: truncation at every byte and trailing bytes", () => {
    for (const bytes of [sparse, dense]) {
      for (let len = 0; len < bytes.length; len++) {
        assert.equal(code(() => decodeNxm(bytes.subarray(0, len))), "NXM_TRUNCATED", `cut at ${len}`);
      }
      const longer = new Uint8Array(bytes.length + 1);
      longer.set(bytes);
      assert.equal(code(() => decodeNxm(longer)), "NXM_TRAILING_BYTES");
    }
  });

  it("sparse indexes", () => {
    // Entries start at 32 (ctr: 3 entries), cvr at 56; index at +0, weight at +4.
    assert.equal(code(() => decodeNxm(patch(sparse, 32 + 16, "u32", 4096))), "NXM_BAD_INDEX", "== 2^hash_bits");
    assert.equal(code(() => decodeNxm(patch(sparse, 32 + 16, "u32", 0xffffffff))), "NXM_BAD_INDEX");
    assert.equal(code(() => decodeNxm(patch(sparse, 32 + 8, "u32", 0))), "NXM_BAD_INDEX", "repeated index");
    assert.equal(code(() => decodeNxm(patch(sparse, 56 + 8, "u32", 1))), "NXM_BAD_INDEX", "repeated in cvr");
    assert.equal(code(() => decodeNxm(patch(sparse, 32 + 8, "u32", 5000))), "NXM_BAD_INDEX");
    assert.equal(code(() => decodeNxm(patch(patch(sparse, 32, "u32", 9), 32 + 8, "u32", 8))), "NXM_BAD_INDEX", "decreasing");
    // cvr indexes restart from 0 (each section is its own sequence).
    assert.ok(decodeNxm(patch(sparse, 56, "u32", 0)));
  });

  it("sparse weights", () => {
    for (const v of [0, -0, NaN, Infinity, -Infinity]) {
      assert.equal(code(() => decodeNxm(patch(sparse, 32 + 4, "f32", v))), "NXM_BAD_WEIGHT", String(v));
      assert.equal(code(() => decodeNxm(patch(sparse, 56 + 12, "f32", v))), "NXM_BAD_WEIGHT", String(v));
    }
  });

  it("dense weights", () => {
    for (const v of [NaN, Infinity, -Infinity]) {
      assert.equal(code(() => decodeNxm(patch(dense, 32 + 4 * 5, "f32", v))), "NXM_BAD_WEIGHT");
      assert.equal(code(() => decodeNxm(patch(dense, dense.length - 4, "f32", v))), "NXM_BAD_WEIGHT");
    }
    // Zeros are fine in dense sections.
    assert.ok(decodeNxm(patch(dense, 32, "f32", 0)));
  });

  it("random corruption gives a model or a typed error, never anything else", () => {
    const rnd = prng(99);
    for (const base of [sparse, dense]) {
      for (let k = 0; k < 3000; k++) {
        const b = base.slice();
        const n = 1 + Math.floor(rnd() * 3);
        for (let j = 0; j < n; j++) {
          const pos = Math.floor(rnd() * Math.min(b.length, 96));
          b[pos] = Math.floor(rnd() * 256);
        }
        try {
          decodeNxm(b);
        } catch (err) {
          assert.ok(err instanceof ModelError, String(err));
        }
      }
    }
  });

  it("decodes from an unaligned view", () => {
    const buf = new Uint8Array(sparse.length + 3);
    buf.set(sparse, 3);
    assert.ok(modelsEqual(decodeNxm(buf.subarray(3)), sparseGoldenModel()));
    const buf2 = new Uint8Array(dense.length + 1);
    buf2.set(dense, 1);
    assert.ok(modelsEqual(decodeNxm(buf2.subarray(1)), decodeNxm(dense)));
  });
});
