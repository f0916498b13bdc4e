// NXM v1: the project's compact binary model format (little-endian).
// The AssemblyScript filter parses the same bytes; README.md holds the table.
//
// offset size field
// 0      4    magic "NXM1"
// 4      4    u32 header length in bytes (= 32 for v1)
// 8      1    u8 hash_bits (10..24)
// 9      1    u8 encoding: 0 = dense, 1 = sparse
// 10     2    u16 reserved (0)
// 12     4    f32 b_ctr
// 16     4    f32 b_cvr
// 20     4    u32 n_ctr  (dense: must equal 2^hash_bits; sparse: number of (index, weight) entries)
// 24     4    u32 n_cvr
// 28     4    u32 reserved (0)
// 32     ...  ctr section, then cvr section
//             dense: n x f32
//             sparse: n x (u32 index, f32 weight); indexes strictly increasing,
//             < 2^hash_bits; weights non-zero and finite
import { NxmError } from "./errors.ts";
import { isValidHashBits, validateModel, type LrModelPair } from "./model.ts";

export const NXM_MAGIC = new Uint8Array([0x4e, 0x58, 0x4d, 0x31]); // "NXM1"
export const NXM_HEADER_LENGTH = 32;
export const NXM_ENCODING_DENSE = 0;
export const NXM_ENCODING_SPARSE = 1;

export type NxmEncoding = "dense" | "sparse";

export interface EncodeNxmOptions {
  /** "auto" (default) picks the smaller encoding; dense on a tie. */
  encoding?: NxmEncoding | "auto";
}

function nonZeroCount(w: Float32Array): number {
  let n = 0;
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) n++;
  return n;
}

/** Byte length of the NXM encoding of `model` in each encoding. */
export function nxmSizes(model: LrModelPair): { dense: number; sparse: number } {
  return {
    dense: NXM_HEADER_LENGTH + 4 * (model.wCtr.length + model.wCvr.length),
    sparse: NXM_HEADER_LENGTH + 8 * (nonZeroCount(model.wCtr) + nonZeroCount(model.wCvr)),
  };
}

/** Encodes a model as NXM v1. Validates the model first (ModelError MODEL_*). */
export function encodeNxm(model: LrModelPair, options: EncodeNxmOptions = {}): Uint8Array {
  validateModel(model);
  const want = options.encoding ?? "auto";
  let encoding: NxmEncoding;
  if (want === "auto") {
    const s = nxmSizes(model);
    encoding = s.sparse < s.dense ? "sparse" : "dense";
  } else if (want === "dense" || want === "sparse") {
    encoding = want;
  } else {
    throw new TypeError(`unknown NXM encoding ${String(want)}`);
  }
  const sparse = encoding === "sparse";
  const nCtr = sparse ? nonZeroCount(model.wCtr) : model.wCtr.length;
  const nCvr = sparse ? nonZeroCount(model.wCvr) : model.wCvr.length;
  const entry = sparse ? 8 : 4;
  const out = new Uint8Array(NXM_HEADER_LENGTH + entry * (nCtr + nCvr));
  const v = new DataView(out.buffer);
  out.set(NXM_MAGIC, 0);
  v.setUint32(4, NXM_HEADER_LENGTH, true);
  v.setUint8(8, model.hashBits);
  v.setUint8(9, sparse ? NXM_ENCODING_SPARSE : NXM_ENCODING_DENSE);
  v.setUint16(10, 0, true);
  v.setFloat32(12, model.bCtr, true);
  v.setFloat32(16, model.bCvr, true);
  v.setUint32(20, nCtr, true);
  v.setUint32(24, nCvr, true);
  v.setUint32(28, 0, true);
  let p = NXM_HEADER_LENGTH;
  for (const w of [model.wCtr, model.wCvr]) {
    if (sparse) {
      for (let i = 0; i < w.length; i++) {
        const x = w[i]!;
        // -0 is zero too: it is dropped and decodes as +0 (same dot product).
        if (x !== 0) {
          v.setUint32(p, i, true);
          v.setFloat32(p + 4, x, true);
          p += 8;
        }
      }
    } else {
      for (let i = 0; i < w.length; i++) {
        v.setFloat32(p, w[i]!, true);
        p += 4;
      }
    }
  }
  return out;
}

/** What the header says, without decoding the sections. */
export interface NxmHeader {
  hashBits: number;
  encoding: NxmEncoding;
  bCtr: number;
  bCvr: number;
  nCtr: number;
  nCvr: number;
  /** Exact total length the file must have. */
  totalLength: number;
}

/** Parses and validates the 32-byte header and the total length. Throws NxmError. */
export function readNxmHeader(bytes: Uint8Array): NxmHeader {
  if (bytes.length < 4) throw new NxmError(bytes.length === 0 || startsWithMagicPrefix(bytes) ? "NXM_TRUNCATED" : "NXM_BAD_MAGIC", `${bytes.length} bytes is too short for an NXM file`);
  for (let i = 0; i < 4; i++) if (bytes[i] !== NXM_MAGIC[i]) throw new NxmError("NXM_BAD_MAGIC", "not an NXM1 file (bad magic)");
  if (bytes.length < 8) throw new NxmError("NXM_TRUNCATED", "header cut short");
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = v.getUint32(4, true);
  if (headerLength !== NXM_HEADER_LENGTH) throw new NxmError("NXM_BAD_HEADER_LENGTH", `header length ${headerLength}, expected ${NXM_HEADER_LENGTH} for v1`);
  if (bytes.length < NXM_HEADER_LENGTH) throw new NxmError("NXM_TRUNCATED", `header cut short (${bytes.length} of ${NXM_HEADER_LENGTH} bytes)`);
  const hashBits = v.getUint8(8);
  if (!isValidHashBits(hashBits)) throw new NxmError("NXM_BAD_HASH_BITS", `hash_bits ${hashBits} outside 10..24`);
  const enc = v.getUint8(9);
  if (enc !== NXM_ENCODING_DENSE && enc !== NXM_ENCODING_SPARSE) throw new NxmError("NXM_BAD_ENCODING", `encoding ${enc} (0 dense, 1 sparse)`);
  if (v.getUint16(10, true) !== 0 || v.getUint32(28, true) !== 0) throw new NxmError("NXM_BAD_RESERVED", "reserved fields must be 0");
  const bCtr = v.getFloat32(12, true);
  const bCvr = v.getFloat32(16, true);
  if (!Number.isFinite(bCtr) || !Number.isFinite(bCvr)) throw new NxmError("NXM_BAD_BIAS", `biases must be finite (b_ctr ${bCtr}, b_cvr ${bCvr})`);
  const nCtr = v.getUint32(20, true);
  const nCvr = v.getUint32(24, true);
  const size = 2 ** hashBits;
  const sparse = enc === NXM_ENCODING_SPARSE;
  for (const [name, n] of [["n_ctr", nCtr], ["n_cvr", nCvr]] as const) {
    if (sparse ? n > size : n !== size) {
      throw new NxmError("NXM_BAD_COUNT", `${name} = ${n}, ${sparse ? "at most" : "must equal"} 2^${hashBits} = ${size}`);
    }
  }
  const totalLength = NXM_HEADER_LENGTH + (sparse ? 8 : 4) * (nCtr + nCvr);
  if (bytes.length < totalLength) throw new NxmError("NXM_TRUNCATED", `${bytes.length} bytes, the header describes ${totalLength}`);
  if (bytes.length > totalLength) throw new NxmError("NXM_TRAILING_BYTES", `${bytes.length - totalLength} bytes after the cvr section`);
  return { hashBits, encoding: sparse ? "sparse" : "dense", bCtr, bCvr, nCtr, nCvr, totalLength };
}

function startsWithMagicPrefix(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== NXM_MAGIC[i]) return false;
  return true;
}

/** Decodes NXM v1 with strict validation. Throws NxmError. */
export function decodeNxm(bytes: Uint8Array): LrModelPair {
  const h = readNxmHeader(bytes);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = 2 ** h.hashBits;
  let p = NXM_HEADER_LENGTH;
  const section = (name: string, n: number): Float32Array => {
    const w = new Float32Array(size);
    if (h.encoding === "dense") {
      for (let i = 0; i < n; i++) {
        const x = v.getFloat32(p, true);
        if (!Number.isFinite(x)) throw new NxmError("NXM_BAD_WEIGHT", `${name} weight ${i} is ${x}`);
        w[i] = x;
        p += 4;
      }
    } else {
      let prev = -1;
      for (let k = 0; k < n; k++) {
        const idx = v.getUint32(p, true);
        const x = v.getFloat32(p + 4, true);
        if (idx >= size) throw new NxmError("NXM_BAD_INDEX", `${name} entry ${k}: index ${idx} >= 2^${h.hashBits}`);
        if (idx <= prev) throw new NxmError("NXM_BAD_INDEX", `${name} entry ${k}: index ${idx} not strictly increasing (previous ${prev})`);
        if (x === 0 || !Number.isFinite(x)) throw new NxmError("NXM_BAD_WEIGHT", `${name} entry ${k} (index ${idx}): weight ${Object.is(x, -0) ? "-0" : x} must be non-zero and finite`);
        w[idx] = x;
        prev = idx;
        p += 8;
      }
    }
    return w;
  };
  const wCtr = section("ctr", h.nCtr);
  const wCvr = section("cvr", h.nCvr);
  return { hashBits: h.hashBits, wCtr, bCtr: h.bCtr, wCvr, bCvr: h.bCvr };
}
