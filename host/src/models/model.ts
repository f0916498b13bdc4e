// In-memory model: two hashed-feature logistic regressions sharing one file.
//   pCTR = sigmoid(wCtr . x + bCtr), pCVR = sigmoid(wCvr . x + bCvr)
// x is binary over 2^hashBits buckets.
import { ModelError } from "./errors.ts";

export interface LrModelPair {
  hashBits: number;
  wCtr: Float32Array;
  bCtr: number;
  wCvr: Float32Array;
  bCvr: number;
}

export const MIN_HASH_BITS = 10;
export const MAX_HASH_BITS = 24;
export const DEFAULT_HASH_BITS = 18;

export function isValidHashBits(bits: number): boolean {
  return Number.isInteger(bits) && bits >= MIN_HASH_BITS && bits <= MAX_HASH_BITS;
}

/** hash_bits for a weight vector of `length` entries, or undefined if it is not 2^(10..24). */
export function hashBitsForLength(length: number): number | undefined {
  for (let b = MIN_HASH_BITS; b <= MAX_HASH_BITS; b++) if (length === 2 ** b) return b;
  return undefined;
}

/** Index of the first non-finite entry, or -1. */
export function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    // v - v is 0 for finite values and NaN for NaN and +-Infinity.
    if (v - v !== 0) return i;
  }
  return -1;
}

/**
 * Checks the invariants every LrModelPair must hold (whatever its source):
 * hashBits in 10..24, both weight vectors of length 2^hashBits, biases and
 * weights finite and representable as float32. Throws ModelError.
 */
export function validateModel(m: LrModelPair): void {
  if (!isValidHashBits(m.hashBits)) {
    throw new ModelError("MODEL_BAD_HASH_BITS", `hashBits ${m.hashBits} outside ${MIN_HASH_BITS}..${MAX_HASH_BITS}`);
  }
  const n = 2 ** m.hashBits;
  for (const [name, w] of [["wCtr", m.wCtr], ["wCvr", m.wCvr]] as const) {
    if (!(w instanceof Float32Array)) throw new ModelError("MODEL_BAD_SHAPE", `${name} is not a Float32Array`);
    if (w.length !== n) throw new ModelError("MODEL_BAD_SHAPE", `${name} has ${w.length} weights, expected 2^${m.hashBits} = ${n}`);
    const bad = firstNonFinite(w);
    if (bad >= 0) throw new ModelError("MODEL_NONFINITE", `${name}[${bad}] is ${w[bad]}`);
  }
  for (const [name, b] of [["bCtr", m.bCtr], ["bCvr", m.bCvr]] as const) {
    if (typeof b !== "number" || !Number.isFinite(b) || !Number.isFinite(Math.fround(b))) {
      throw new ModelError("MODEL_NONFINITE", `${name} is ${String(b)} (must be a finite float32)`);
    }
  }
}

/** True when both models hold bit-identical parameters (biases compared as float32). */
export function modelsEqual(a: LrModelPair, b: LrModelPair): boolean {
  if (a.hashBits !== b.hashBits) return false;
  if (!Object.is(Math.fround(a.bCtr), Math.fround(b.bCtr))) return false;
  if (!Object.is(Math.fround(a.bCvr), Math.fround(b.bCvr))) return false;
  return sameFloat32(a.wCtr, b.wCtr) && sameFloat32(a.wCvr, b.wCvr);
}

function sameFloat32(x: Float32Array, y: Float32Array): boolean {
  if (x.length !== y.length) return false;
  const xi = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const yi = new Uint32Array(y.buffer, y.byteOffset, y.length);
  for (let i = 0; i < xi.length; i++) if (xi[i] !== yi[i]) return false;
  return true;
}
