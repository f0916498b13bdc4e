// The pCTR/pCVR model pair (assembly/core/model/lr-model.ts): NXM v1 blobs
// are built here byte by byte following host/src/models/README.md.
import { LrModelPair, ModelError } from "../core/model/lr-model";
import { FeatureVector } from "../core/features/feature-vector";

const BITS: i32 = 10;
const SIZE: i32 = 1 << BITS;

/** A mutable byte buffer with little-endian setters. */
class Blob {
  buf: ArrayBuffer;
  constructor(len: i32) {
    this.buf = new ArrayBuffer(len);
  }
  get ptr(): usize {
    return changetype<usize>(this.buf);
  }
  get len(): i32 {
    return this.buf.byteLength;
  }
  u8(off: i32, v: u8): Blob {
    store<u8>(this.ptr + <usize>off, v);
    return this;
  }
  u16(off: i32, v: u16): Blob {
    store<u16>(this.ptr + <usize>off, v);
    return this;
  }
  u32(off: i32, v: u32): Blob {
    store<u32>(this.ptr + <usize>off, v);
    return this;
  }
  f32(off: i32, v: f32): Blob {
    store<f32>(this.ptr + <usize>off, v);
    return this;
  }
  /** The first n bytes (n may be larger: zero padded). */
  resized(n: i32): Blob {
    const b = new Blob(n);
    memory.copy(b.ptr, this.ptr, <usize>(n < this.len ? n : this.len));
    return b;
  }
}

function header(b: Blob, bits: i32, encoding: u8, bCtr: f32, bCvr: f32, nCtr: u32, nCvr: u32): void {
  b.u8(0, 0x4e).u8(1, 0x58).u8(2, 0x4d).u8(3, 0x31); // "NXM1"
  b.u32(4, 32);
  b.u8(8, <u8>bits);
  b.u8(9, encoding);
  b.u16(10, 0);
  b.f32(12, bCtr);
  b.f32(16, bCvr);
  b.u32(20, nCtr);
  b.u32(24, nCvr);
  b.u32(28, 0);
}

/** Dense blob: every weight `fill`, then the listed (index, weight) overrides. */
function dense(
  bits: i32,
  bCtr: f32,
  bCvr: f32,
  ctrIdx: i32[],
  ctrW: f32[],
  cvrIdx: i32[],
  cvrW: f32[],
  fill: f32 = 0,
): Blob {
  const n = 1 << bits;
  const b = new Blob(32 + 8 * n);
  header(b, bits, 0, bCtr, bCvr, <u32>n, <u32>n);
  for (let i = 0; i < 2 * n; i++) b.f32(32 + 4 * i, fill);
  for (let i = 0; i < ctrIdx.length; i++) b.f32(32 + 4 * ctrIdx[i], ctrW[i]);
  for (let i = 0; i < cvrIdx.length; i++) b.f32(32 + 4 * n + 4 * cvrIdx[i], cvrW[i]);
  return b;
}

/** Sparse blob with the entries exactly as given (order and all). */
function sparse(bits: i32, bCtr: f32, bCvr: f32, ctrIdx: u32[], ctrW: f32[], cvrIdx: u32[], cvrW: f32[]): Blob {
  const b = new Blob(32 + 8 * (ctrIdx.length + cvrIdx.length));
  header(b, bits, 1, bCtr, bCvr, <u32>ctrIdx.length, <u32>cvrIdx.length);
  let off = 32;
  for (let i = 0; i < ctrIdx.length; i++) {
    b.u32(off, ctrIdx[i]);
    b.f32(off + 4, ctrW[i]);
    off += 8;
  }
  for (let i = 0; i < cvrIdx.length; i++) {
    b.u32(off, cvrIdx[i]);
    b.f32(off + 4, cvrW[i]);
    off += 8;
  }
  return b;
}

function validate(m: LrModelPair, b: Blob): i32 {
  return m.validateNxm(b.ptr, b.len);
}

function load(m: LrModelPair, b: Blob): i32 {
  return m.loadNxm(b.ptr, b.len);
}

function goodSparse(): Blob {
  return sparse(BITS, 0.5, -1.0, [3, 7, 1023], [0.25, -0.5, 1.5], [0, 7], [2.0, 0.75]);
}

function vec(idx: u32[]): FeatureVector {
  const v = new FeatureVector();
  for (let i = 0; i < idx.length; i++) v.push(idx[i]);
  return v;
}

function sig(z: f64): f64 {
  return 1.0 / (1.0 + Math.exp(-z));
}

describe("NXM v1 validation", () => {
  it("accepts well-formed dense and sparse blobs", () => {
    const m = new LrModelPair(BITS);
    expect(validate(m, dense(BITS, 0.1, 0.2, [1], [0.5], [2], [0.25]))).toBe(ModelError.OK);
    expect(validate(m, goodSparse())).toBe(ModelError.OK);
    // empty sparse sections: a model of biases only
    expect(validate(m, sparse(BITS, 0, 0, [], [], [], []))).toBe(ModelError.OK);
    // a full sparse section (n = 2^bits) is allowed
    const idx = new Array<u32>();
    const w = new Array<f32>();
    for (let i = 0; i < SIZE; i++) {
      idx.push(<u32>i);
      w.push(0.001);
    }
    expect(validate(m, sparse(BITS, 0, 0, idx, w, [5], [1]))).toBe(ModelError.OK);
    // validation does not load
    expect(m.loaded).toBe(false);
  });

  it("TRUNCATED below the header length and below the total length", () => {
    const m = new LrModelPair(BITS);
    const good = goodSparse();
    expect(validate(m, good.resized(0))).toBe(ModelError.TRUNCATED);
    expect(validate(m, good.resized(31))).toBe(ModelError.TRUNCATED);
    expect(validate(m, good.resized(32))).toBe(ModelError.TRUNCATED);
    expect(validate(m, good.resized(good.len - 1))).toBe(ModelError.TRUNCATED);
    expect(m.validateNxm(good.ptr, -1)).toBe(ModelError.TRUNCATED);
    const d = dense(BITS, 0, 0, [], [], [], []);
    expect(validate(m, d.resized(d.len - 4))).toBe(ModelError.TRUNCATED);
    expect(validate(m, d.resized(32 + 4 * SIZE))).toBe(ModelError.TRUNCATED);
  });

  it("checks the length before the magic for short inputs (current order)", () => {
    // The host decoder reports BAD_MAGIC for a short input with wrong magic; here TRUNCATED comes first.
    const m = new LrModelPair(BITS);
    const b = new Blob(16).u32(0, 0x504b0304);
    expect(validate(m, b)).toBe(ModelError.TRUNCATED);
  });

  it("BAD_MAGIC for anything but NXM1", () => {
    const m = new LrModelPair(BITS);
    expect(validate(m, goodSparse().u8(0, 0x50))).toBe(ModelError.BAD_MAGIC);
    expect(validate(m, goodSparse().u8(3, 0x32))).toBe(ModelError.BAD_MAGIC); // "NXM2"
    expect(validate(m, new Blob(64))).toBe(ModelError.BAD_MAGIC);
  });

  it("BAD_HEADER for header length, encoding and reserved bytes", () => {
    const m = new LrModelPair(BITS);
    expect(validate(m, goodSparse().u32(4, 33))).toBe(ModelError.BAD_HEADER);
    expect(validate(m, goodSparse().u32(4, 0))).toBe(ModelError.BAD_HEADER);
    expect(validate(m, goodSparse().u8(9, 2))).toBe(ModelError.BAD_HEADER);
    expect(validate(m, goodSparse().u8(9, 0xff))).toBe(ModelError.BAD_HEADER);
    expect(validate(m, goodSparse().u8(10, 1))).toBe(ModelError.BAD_HEADER);
    expect(validate(m, goodSparse().u8(11, 0x80))).toBe(ModelError.BAD_HEADER);
    expect(validate(m, goodSparse().u8(28, 1))).toBe(ModelError.BAD_HEADER);
    expect(validate(m, goodSparse().u8(31, 1))).toBe(ModelError.BAD_HEADER);
  });

  it("HASH_BITS_MISMATCH when the blob was built for another size", () => {
    const m = new LrModelPair(BITS);
    expect(validate(m, goodSparse().u8(8, 12))).toBe(ModelError.HASH_BITS_MISMATCH);
    expect(validate(m, goodSparse().u8(8, 9))).toBe(ModelError.HASH_BITS_MISMATCH);
    const m12 = new LrModelPair(12);
    expect(validate(m12, sparse(12, 0, 0, [4095], [1], [], []))).toBe(ModelError.OK);
    expect(validate(m12, goodSparse())).toBe(ModelError.HASH_BITS_MISMATCH);
  });

  it("NON_FINITE for NaN or infinite biases", () => {
    const m = new LrModelPair(BITS);
    expect(validate(m, goodSparse().f32(12, NaN))).toBe(ModelError.NON_FINITE);
    expect(validate(m, goodSparse().f32(16, NaN))).toBe(ModelError.NON_FINITE);
    expect(validate(m, goodSparse().f32(12, Infinity))).toBe(ModelError.NON_FINITE);
    expect(validate(m, goodSparse().f32(16, -Infinity))).toBe(ModelError.NON_FINITE);
  });

  it("BAD_HEADER for dense counts other than 2^bits and sparse counts above it", () => {
    const m = new LrModelPair(BITS);
    expect(validate(m, dense(BITS, 0, 0, [], [], [], []).u32(20, <u32>SIZE - 1))).toBe(ModelError.BAD_HEADER);
    expect(validate(m, dense(BITS, 0, 0, [], [], [], []).u32(24, <u32>SIZE + 1))).toBe(ModelError.BAD_HEADER);
    // sparse n > 2^bits (checked before the length)
    expect(validate(m, sparse(BITS, 0, 0, [], [], [], []).u32(20, <u32>SIZE + 1))).toBe(ModelError.BAD_HEADER);
    expect(validate(m, sparse(BITS, 0, 0, [], [], [], []).u32(24, 0xffffffff))).toBe(ModelError.BAD_HEADER);
  });

  it("TRUNCATED/BAD_LENGTH when the declared sparse counts disagree with the bytes", () => {
    const m = new LrModelPair(BITS);
    expect(validate(m, goodSparse().u32(20, 4))).toBe(ModelError.TRUNCATED);
    expect(validate(m, goodSparse().u32(24, 1))).toBe(ModelError.BAD_LENGTH);
  });

  it("BAD_LENGTH for trailing bytes", () => {
    const m = new LrModelPair(BITS);
    const s = goodSparse();
    expect(validate(m, s.resized(s.len + 1))).toBe(ModelError.BAD_LENGTH);
    expect(validate(m, s.resized(s.len + 8))).toBe(ModelError.BAD_LENGTH);
    const d = dense(BITS, 0, 0, [], [], [], []);
    expect(validate(m, d.resized(d.len + 4))).toBe(ModelError.BAD_LENGTH);
  });

  it("BAD_INDEX for sparse indexes not strictly increasing or out of range", () => {
    const m = new LrModelPair(BITS);
    expect(validate(m, sparse(BITS, 0, 0, [5, 5], [1, 1], [], []))).toBe(ModelError.BAD_INDEX);
    expect(validate(m, sparse(BITS, 0, 0, [5, 4], [1, 1], [], []))).toBe(ModelError.BAD_INDEX);
    expect(validate(m, sparse(BITS, 0, 0, [<u32>SIZE], [1], [], []))).toBe(ModelError.BAD_INDEX);
    expect(validate(m, sparse(BITS, 0, 0, [0xffffffff], [1], [], []))).toBe(ModelError.BAD_INDEX);
    expect(validate(m, sparse(BITS, 0, 0, [], [], [1, 2, 2], [1, 1, 1]))).toBe(ModelError.BAD_INDEX);
    expect(validate(m, sparse(BITS, 0, 0, [], [], [<u32>SIZE], [1]))).toBe(ModelError.BAD_INDEX);
    // the cvr section restarts its own sequence
    expect(validate(m, sparse(BITS, 0, 0, [10, 20], [1, 1], [0, 10], [1, 1]))).toBe(ModelError.OK);
    expect(validate(m, sparse(BITS, 0, 0, [<u32>SIZE - 1], [1], [], []))).toBe(ModelError.OK);
  });

  it("NON_FINITE for NaN/Inf weights in either section and either encoding", () => {
    const m = new LrModelPair(BITS);
    expect(validate(m, dense(BITS, 0, 0, [0], [NaN], [], []))).toBe(ModelError.NON_FINITE);
    expect(validate(m, dense(BITS, 0, 0, [SIZE - 1], [Infinity], [], []))).toBe(ModelError.NON_FINITE);
    expect(validate(m, dense(BITS, 0, 0, [], [], [0], [-Infinity]))).toBe(ModelError.NON_FINITE);
    expect(validate(m, dense(BITS, 0, 0, [], [], [SIZE - 1], [NaN]))).toBe(ModelError.NON_FINITE);
    expect(validate(m, sparse(BITS, 0, 0, [1], [NaN], [], []))).toBe(ModelError.NON_FINITE);
    expect(validate(m, sparse(BITS, 0, 0, [1], [1], [2], [Infinity]))).toBe(ModelError.NON_FINITE);
  });

  // host/src/models/README.md: sparse weights are "non-zero and finite" (NXM_BAD_WEIGHT on the host side).
  it("refuses a sparse entry with weight 0 (as the host decoder does)", () => {
    const m = new LrModelPair(BITS);
    expect(validate(m, sparse(BITS, 0, 0, [1], [0], [], []))).not.toBe(ModelError.OK);
    expect(validate(m, sparse(BITS, 0, 0, [], [], [1], [-0.0]))).not.toBe(ModelError.OK);
  });
});

describe("NXM v1 loading", () => {
  it("loads dense weights and biases", () => {
    const m = new LrModelPair(BITS);
    expect(m.size).toBe(SIZE);
    expect(m.hashBits).toBe(BITS);
    expect(load(m, dense(BITS, 0.5, -0.25, [0, 9, SIZE - 1], [1.5, -2, 3], [9], [0.125]))).toBe(ModelError.OK);
    expect(m.loaded).toBe(true);
    expect(m.bCtr).toBe(<f32>0.5);
    expect(m.bCvr).toBe(<f32>-0.25);
    expect(m.wCtr[0]).toBe(<f32>1.5);
    expect(m.wCtr[9]).toBe(<f32>-2);
    expect(m.wCtr[SIZE - 1]).toBe(<f32>3);
    expect(m.wCtr[1]).toBe(<f32>0);
    expect(m.wCvr[9]).toBe(<f32>0.125);
    expect(m.wCvr[0]).toBe(<f32>0);
  });

  it("loads sparse entries and zeroes every other weight", () => {
    const m = new LrModelPair(BITS);
    expect(load(m, dense(BITS, 1, 1, [], [], [], [], 0.75))).toBe(ModelError.OK);
    expect(m.wCtr[500]).toBe(<f32>0.75);
    expect(m.wCvr[500]).toBe(<f32>0.75);
    expect(load(m, goodSparse())).toBe(ModelError.OK);
    expect(m.bCtr).toBe(<f32>0.5);
    expect(m.bCvr).toBe(<f32>-1.0);
    expect(m.wCtr[3]).toBe(<f32>0.25);
    expect(m.wCtr[7]).toBe(<f32>-0.5);
    expect(m.wCtr[1023]).toBe(<f32>1.5);
    expect(m.wCvr[0]).toBe(<f32>2.0);
    expect(m.wCvr[7]).toBe(<f32>0.75);
    let nonZeroCtr = 0;
    let nonZeroCvr = 0;
    for (let i = 0; i < SIZE; i++) {
      if (m.wCtr[i] != 0) nonZeroCtr++;
      if (m.wCvr[i] != 0) nonZeroCvr++;
    }
    expect(nonZeroCtr).toBe(3);
    expect(nonZeroCvr).toBe(2);
  });

  it("leaves the previous model untouched when a load fails", () => {
    const m = new LrModelPair(BITS);
    expect(load(m, goodSparse())).toBe(ModelError.OK);
    // a blob that is fine up to the last cvr entry
    const bad = sparse(BITS, 9, 9, [3, 4, 5], [7, 7, 7], [1, 2], [7, NaN]);
    expect(load(m, bad)).toBe(ModelError.NON_FINITE);
    const badDense = dense(BITS, 9, 9, [], [], [SIZE - 1], [NaN], 4);
    expect(load(m, badDense)).toBe(ModelError.NON_FINITE);
    expect(load(m, goodSparse().u8(8, 11))).toBe(ModelError.HASH_BITS_MISMATCH);
    expect(m.loaded).toBe(true);
    expect(m.bCtr).toBe(<f32>0.5);
    expect(m.bCvr).toBe(<f32>-1.0);
    expect(m.wCtr[3]).toBe(<f32>0.25);
    expect(m.wCtr[4]).toBe(<f32>0);
    expect(m.wCvr[1]).toBe(<f32>0);
    expect(m.wCvr[0]).toBe(<f32>2.0);
    expect(m.wCvr[SIZE - 1]).toBe(<f32>0);
  });

  it("a failed first load leaves the pair unloaded; unload() clears the flag", () => {
    const m = new LrModelPair(BITS);
    expect(load(m, goodSparse().u8(0, 0))).toBe(ModelError.BAD_MAGIC);
    expect(m.loaded).toBe(false);
    expect(load(m, goodSparse())).toBe(ModelError.OK);
    m.unload();
    expect(m.loaded).toBe(false);
  });
});

describe("scoring", () => {
  it("pCTR = sigmoid(b_ctr + sum w_ctr), pCVR = sigmoid(b_cvr + sum w_cvr)", () => {
    const m = new LrModelPair(BITS);
    expect(load(m, goodSparse())).toBe(ModelError.OK);
    m.score(vec([]));
    expect(m.pCtr).toBe(sig(0.5));
    expect(m.pCvr).toBe(sig(-1.0));
    m.score(vec([3, 7]));
    expect(m.pCtr).toBe(sig(0.5 + 0.25 - 0.5));
    expect(m.pCvr).toBe(sig(-1.0 + 0.75));
    m.score(vec([0, 1023, 100]));
    expect(m.pCtr).toBe(sig(0.5 + 1.5));
    expect(m.pCvr).toBe(sig(-1.0 + 2.0));
  });

  it("counts a feature listed twice twice", () => {
    const m = new LrModelPair(BITS);
    expect(load(m, goodSparse())).toBe(ModelError.OK);
    m.score(vec([7, 7]));
    expect(m.pCtr).toBe(sig(0.5 - 1.0));
    expect(m.pCvr).toBe(sig(-1.0 + 1.5));
  });

  it("masks bucket numbers to the model size", () => {
    const m = new LrModelPair(BITS);
    expect(load(m, goodSparse())).toBe(ModelError.OK);
    m.score(vec([<u32>SIZE + 3, 0xfffffc07])); // -> 3 and 7
    expect(m.pCtr).toBe(sig(0.5 + 0.25 - 0.5));
  });

  it("clamps extreme margins without NaN", () => {
    const m = new LrModelPair(BITS);
    expect(load(m, sparse(BITS, 3.0e38, -3.0e38, [1, 2], [3.0e38, -3.0e38], [1, 2], [-3.0e38, 3.0e38]))).toBe(ModelError.OK);
    m.score(vec([]));
    expect(m.pCtr).toBe(sig(35));
    expect(m.pCvr).toBe(sig(-35));
    expect(m.pCtr).toBeLessThanOrEqual(1.0);
    expect(m.pCvr).toBeGreaterThan(0.0);
    // sum of many huge weights stays finite in f64 and is clamped
    const v = new FeatureVector();
    for (let i = 0; i < 90; i++) v.push(1);
    m.score(v);
    expect(m.pCtr).toBe(sig(35));
    expect(m.pCvr).toBe(sig(-35));
    // b + w1 + w2 + w2 = 3e38 + 3e38 - 3e38 - 3e38 = 0 exactly in f64 (no overflow to inf - inf = NaN)
    m.score(vec([1, 2, 2]));
    expect(m.pCtr).toBe(0.5);
    expect(m.pCvr).toBe(0.5);
  });

  it("scores 0.5 / 0.5 for an all-zero model", () => {
    const m = new LrModelPair(BITS);
    expect(load(m, sparse(BITS, 0, 0, [], [], [], []))).toBe(ModelError.OK);
    m.score(vec([1, 2, 3]));
    expect(m.pCtr).toBe(0.5);
    expect(m.pCvr).toBe(0.5);
  });
});
