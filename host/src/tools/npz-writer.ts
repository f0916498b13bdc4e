// Writes a model as an .npz the way numpy's np.savez does (uncompressed zip,
// STORED members), with arrays w_ctr (float32, shape (2^hash_bits,)), b_ctr
// (float32, shape ()), w_cvr, b_cvr, each a .npy v1.0 file ('<f4', C order).
// Output is deterministic (fixed member order and 1980-01-01 timestamps), so
// the same model always gives the same bytes and the same digest.
// np.load and host/src/models decodeNpzModel read it.
import { validateModel, type LrModelPair } from "../models/model.ts";
import { crc32 } from "../models/zip.ts";

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const NPY_PREAMBLE = 10; // magic (6) + version (2) + u16 header length

/** A .npy v1.0 file of float32 little-endian values; shape [] is a 0-d array (a scalar). */
export function encodeNpyF32(values: Float32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== values.length) throw new RangeError(`shape (${shape.join(", ")}) holds ${count} values, got ${values.length}`);
  const shapeText = shape.length === 0 ? "()" : shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // numpy pads with spaces so that preamble + header + "\n" is a multiple of 64 bytes.
  const unpadded = NPY_PREAMBLE + header.length + 1;
  header += " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  if (header.length > 0xffff) throw new RangeError("npy header too long for v1.0");
  const out = new Uint8Array(NPY_PREAMBLE + header.length + values.length * 4);
  out.set(NPY_MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[NPY_PREAMBLE + i] = header.charCodeAt(i);
  const base = NPY_PREAMBLE + header.length;
  for (let i = 0; i < values.length; i++) view.setFloat32(base + i * 4, values[i]!, true);
  return out;
}

interface Member {
  name: Uint8Array;
  data: Uint8Array;
  crc: number;
  offset: number;
}

const DOS_TIME = 0; // 00:00:00
const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01

/** A zip archive of STORED members (no compression, no ZIP64: every member and the archive stay under 4 GiB). */
export function encodeStoredZip(files: ReadonlyArray<{ name: string; data: Uint8Array }>): Uint8Array {
  const enc = new TextEncoder();
  const members: Member[] = [];
  let size = 0;
  for (const f of files) {
    const name = enc.encode(f.name);
    members.push({ name, data: f.data, crc: crc32(f.data), offset: size });
    size += 30 + name.length + f.data.length;
  }
  const cdOffset = size;
  for (const m of members) size += 46 + m.name.length;
  const cdSize = size - cdOffset;
  size += 22;
  if (size > 0xffffffff) throw new RangeError("archive too large for a zip without ZIP64");

  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  let p = 0;
  const u16 = (x: number): void => { v.setUint16(p, x, true); p += 2; };
  const u32 = (x: number): void => { v.setUint32(p, x >>> 0, true); p += 4; };
  for (const m of members) {
    u32(0x04034b50);
    u16(20); // version needed: 2.0
    u16(0); // flags
    u16(0); // STORED
    u16(DOS_TIME);
    u16(DOS_DATE);
    u32(m.crc);
    u32(m.data.length);
    u32(m.data.length);
    u16(m.name.length);
    u16(0); // no extra field
    out.set(m.name, p);
    p += m.name.length;
    out.set(m.data, p);
    p += m.data.length;
  }
  for (const m of members) {
    u32(0x02014b50);
    u16(0x0314); // made by: unix, 2.0
    u16(20);
    u16(0);
    u16(0);
    u16(DOS_TIME);
    u16(DOS_DATE);
    u32(m.crc);
    u32(m.data.length);
    u32(m.data.length);
    u16(m.name.length);
    u16(0); // extra
    u16(0); // comment
    u16(0); // disk
    u16(0); // internal attributes
    u32((0o100644 << 16) >>> 0); // external: regular file, rw-r--r--
    u32(m.offset);
    out.set(m.name, p);
    p += m.name.length;
  }
  u32(0x06054b50);
  u16(0);
  u16(0);
  u16(members.length);
  u16(members.length);
  u32(cdSize);
  u32(cdOffset);
  u16(0); // comment length
  return out;
}

/** The .npz bytes of a model (validated first: throws ModelError like encodeNxm). */
export function encodeNpzModel(model: LrModelPair): Uint8Array {
  validateModel(model);
  return encodeStoredZip([
    { name: "w_ctr.npy", data: encodeNpyF32(model.wCtr, [model.wCtr.length]) },
    { name: "b_ctr.npy", data: encodeNpyF32(Float32Array.of(model.bCtr), []) },
    { name: "w_cvr.npy", data: encodeNpyF32(model.wCvr, [model.wCvr.length]) },
    { name: "b_cvr.npy", data: encodeNpyF32(Float32Array.of(model.bCvr), []) },
  ]);
}
