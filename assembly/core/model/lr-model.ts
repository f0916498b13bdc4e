// The pCTR/pCVR model pair: two logistic regressions over the same binary
// hashed features. Weights live in two flat StaticArray<f32> allocated once at
// the VM's hash size; a new version is decoded in place after the whole blob
// has been validated, so a bad blob never replaces a good model.
import { FeatureVector } from "../features/feature-vector";

export namespace ModelError {
  export const OK: i32 = 0;
  export const TRUNCATED: i32 = 1;
  export const BAD_MAGIC: i32 = 2;
  export const BAD_HEADER: i32 = 3;
  export const HASH_BITS_MISMATCH: i32 = 4;
  export const BAD_INDEX: i32 = 5;
  export const NON_FINITE: i32 = 6;
  export const BAD_LENGTH: i32 = 7;
  export const ZERO_WEIGHT: i32 = 8;
}

const NXM_MAGIC: u32 = 0x314d584e; // "NXM1" little-endian
const NXM_HEADER_LEN: u32 = 32;

@inline function sigmoid(z: f64): f64 {
  if (z > 35.0) z = 35.0;
  else if (z < -35.0) z = -35.0;
  return 1.0 / (1.0 + Math.exp(-z));
}

export class LrModelPair {
  readonly hashBits: i32;
  readonly size: i32;
  readonly wCtr: StaticArray<f32>;
  readonly wCvr: StaticArray<f32>;
  bCtr: f32 = 0;
  bCvr: f32 = 0;
  loaded: bool = false;
  /** Scores of the last score() call. */
  pCtr: f64 = 0;
  pCvr: f64 = 0;

  constructor(hashBits: i32) {
    const size = 1 << hashBits;
    this.wCtr = new StaticArray<f32>(size);
    this.wCvr = new StaticArray<f32>(size);
    this.hashBits = hashBits;
    this.size = size;
  }

  /** Scores a feature vector (binary features: the dot product is a sum of weights). */
  score(x: FeatureVector): void {
    let zCtr: f64 = <f64>this.bCtr;
    let zCvr: f64 = <f64>this.bCvr;
    const mask = <u32>this.size - 1;
    const n = x.count;
    for (let i = 0; i < n; i++) {
      const idx = <i32>(x.at(i) & mask);
      zCtr += <f64>unchecked(this.wCtr[idx]);
      zCvr += <f64>unchecked(this.wCvr[idx]);
    }
    this.pCtr = sigmoid(zCtr);
    this.pCvr = sigmoid(zCvr);
  }

  /** Validates an NXM v1 blob without touching the current weights. */
  validateNxm(ptr: usize, len: i32): i32 {
    if (len < <i32>NXM_HEADER_LEN) return ModelError.TRUNCATED;
    if (load<u32>(ptr) != NXM_MAGIC) return ModelError.BAD_MAGIC;
    if (load<u32>(ptr, 4) != NXM_HEADER_LEN) return ModelError.BAD_HEADER;
    const bits = <i32>load<u8>(ptr, 8);
    const encoding = load<u8>(ptr, 9);
    if (encoding > 1 || load<u16>(ptr, 10) != 0 || load<u32>(ptr, 28) != 0) return ModelError.BAD_HEADER;
    if (bits != this.hashBits) return ModelError.HASH_BITS_MISMATCH;
    const bCtr = load<f32>(ptr, 12);
    const bCvr = load<f32>(ptr, 16);
    if (!isFinite(bCtr) || !isFinite(bCvr)) return ModelError.NON_FINITE;
    const nCtr = <u64>load<u32>(ptr, 20);
    const nCvr = <u64>load<u32>(ptr, 24);
    const entry: u64 = encoding == 0 ? 4 : 8;
    if (encoding == 0 && (nCtr != <u64>this.size || nCvr != <u64>this.size)) return ModelError.BAD_HEADER;
    if (encoding == 1 && (nCtr > <u64>this.size || nCvr > <u64>this.size)) return ModelError.BAD_HEADER;
    const expected: u64 = <u64>NXM_HEADER_LEN + (nCtr + nCvr) * entry;
    if (<u64>len < expected) return ModelError.TRUNCATED;
    if (<u64>len != expected) return ModelError.BAD_LENGTH;
    let p = ptr + <usize>NXM_HEADER_LEN;
    const err = this.validateSection(p, <i32>nCtr, encoding);
    if (err != ModelError.OK) return err;
    p += <usize>(nCtr * entry);
    return this.validateSection(p, <i32>nCvr, encoding);
  }

  private validateSection(p: usize, n: i32, encoding: u8): i32 {
    if (encoding == 0) {
      for (let i = 0; i < n; i++) {
        if (!isFinite(load<f32>(p + (<usize>i << 2)))) return ModelError.NON_FINITE;
      }
      return ModelError.OK;
    }
    let prev: i64 = -1;
    for (let i = 0; i < n; i++) {
      const idx = <i64>load<u32>(p + (<usize>i << 3));
      const w = load<f32>(p + (<usize>i << 3), 4);
      if (idx <= prev || idx >= <i64>this.size) return ModelError.BAD_INDEX;
      if (!isFinite(w)) return ModelError.NON_FINITE;
      if (w == 0) return ModelError.ZERO_WEIGHT; // the format says sparse weights are non-zero
      prev = idx;
    }
    return ModelError.OK;
  }

  /** Validates then loads an NXM v1 blob. On error the current model is unchanged. */
  loadNxm(ptr: usize, len: i32): i32 {
    const err = this.validateNxm(ptr, len);
    if (err != ModelError.OK) return err;
    const encoding = load<u8>(ptr, 9);
    const nCtr = <i32>load<u32>(ptr, 20);
    const nCvr = <i32>load<u32>(ptr, 24);
    let p = ptr + <usize>NXM_HEADER_LEN;
    this.decodeSection(p, nCtr, encoding, this.wCtr);
    p += <usize>nCtr * (encoding == 0 ? 4 : 8);
    this.decodeSection(p, nCvr, encoding, this.wCvr);
    this.bCtr = load<f32>(ptr, 12);
    this.bCvr = load<f32>(ptr, 16);
    this.loaded = true;
    return ModelError.OK;
  }

  private decodeSection(p: usize, n: i32, encoding: u8, w: StaticArray<f32>): void {
    if (encoding == 0) {
      memory.copy(changetype<usize>(w), p, <usize>n << 2);
      return;
    }
    memory.fill(changetype<usize>(w), 0, <usize>this.size << 2);
    for (let i = 0; i < n; i++) {
      const idx = <i32>load<u32>(p + (<usize>i << 3));
      unchecked((w[idx] = load<f32>(p + (<usize>i << 3), 4)));
    }
  }

  unload(): void {
    this.loaded = false;
  }
}
