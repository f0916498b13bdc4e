// Loads an LrModelPair from an .npz file exactly as numpy writes it
// (np.savez / np.savez_compressed) with arrays w_ctr, b_ctr, w_cvr, b_cvr.
import { NpzError } from "./errors.ts";
import { firstNonFinite, hashBitsForLength, MAX_HASH_BITS, MIN_HASH_BITS, type LrModelPair } from "./model.ts";
import { parseNpy, type NpyArray, type NpyDtype } from "./npy.ts";
import { readZip, type ZipReadOptions } from "./zip.ts";

export { DEFAULT_MAX_UNCOMPRESSED_BYTES } from "./zip.ts";

export const NPZ_REQUIRED_ARRAYS = ["w_ctr", "b_ctr", "w_cvr", "b_cvr"] as const;

export interface NpzModelInfo {
  /** dtype of each required array as stored. */
  dtypes: Record<(typeof NPZ_REQUIRED_ARRAYS)[number], NpyDtype>;
  /** Names of the members that were not used (extra arrays, ignored). */
  ignored: string[];
}

export type NpzReadOptions = ZipReadOptions;

/** Parses an .npz model. Throws NpzError (codes NPZ_*, NPY_*, MODEL_*). */
export function decodeNpzModel(bytes: Uint8Array, options: NpzReadOptions = {}): LrModelPair {
  return decodeNpzModelWithInfo(bytes, options).model;
}

export function decodeNpzModelWithInfo(bytes: Uint8Array, options: NpzReadOptions = {}): { model: LrModelPair; info: NpzModelInfo } {
  const entries = readZip(bytes, options);
  const byName = new Map(entries.map((e) => [e.name, e]));
  for (const name of NPZ_REQUIRED_ARRAYS) {
    if (!byName.has(`${name}.npy`)) {
      throw new NpzError("MODEL_MISSING_ARRAY", `array ${name} (member ${name}.npy) is missing; members: ${entries.map((e) => e.name).join(", ") || "none"}`);
    }
  }
  const arr = (name: (typeof NPZ_REQUIRED_ARRAYS)[number]): NpyArray => parseNpy(byName.get(`${name}.npy`)!.data, name);
  const wCtr = arr("w_ctr");
  const bCtr = arr("b_ctr");
  const wCvr = arr("w_cvr");
  const bCvr = arr("b_cvr");

  const weights = (name: string, a: NpyArray): { bits: number; data: Float32Array } => {
    if (a.shape.length !== 1) throw new NpzError("MODEL_BAD_SHAPE", `${name} has shape ${fmtShape(a.shape)}, expected (2^hash_bits,)`);
    const bits = hashBitsForLength(a.shape[0]!);
    if (bits === undefined) {
      throw new NpzError("MODEL_BAD_SHAPE", `${name} has ${a.shape[0]} weights, expected 2^hash_bits with hash_bits in ${MIN_HASH_BITS}..${MAX_HASH_BITS}`);
    }
    const bad = firstNonFinite(a.data);
    if (bad >= 0) throw new NpzError("MODEL_NONFINITE", `${name}[${bad}] is ${a.data[bad]} (as float32)`);
    return { bits, data: a.data };
  };
  const bias = (name: string, a: NpyArray): number => {
    const ok = a.shape.length === 0 || (a.shape.length === 1 && a.shape[0] === 1);
    if (!ok) throw new NpzError("MODEL_BAD_SHAPE", `${name} has shape ${fmtShape(a.shape)}, expected () or (1,)`);
    const v = a.data[0]!;
    if (!Number.isFinite(v)) throw new NpzError("MODEL_NONFINITE", `${name} is ${v} (as float32)`);
    return v;
  };
  const ctr = weights("w_ctr", wCtr);
  const cvr = weights("w_cvr", wCvr);
  if (ctr.bits !== cvr.bits) {
    throw new NpzError("MODEL_BAD_SHAPE", `w_ctr has ${ctr.data.length} weights but w_cvr has ${cvr.data.length}`);
  }
  const model: LrModelPair = { hashBits: ctr.bits, wCtr: ctr.data, bCtr: bias("b_ctr", bCtr), wCvr: cvr.data, bCvr: bias("b_cvr", bCvr) };
  const required = new Set<string>(NPZ_REQUIRED_ARRAYS.map((n) => `${n}.npy`));
  return {
    model,
    info: {
      dtypes: { w_ctr: wCtr.dtype, b_ctr: bCtr.dtype, w_cvr: wCvr.dtype, b_cvr: bCvr.dtype },
      ignored: entries.filter((e) => !required.has(e.name)).map((e) => e.name),
    },
  };
}

function fmtShape(shape: number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}
