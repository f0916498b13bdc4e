// Test helpers for the model tests: fixture access, the fixture weight formula,
// a seeded PRNG and a low-level zip builder for malformed archives.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateRawSync } from "node:zlib";
import { crc32 } from "../../../host/src/models/zip.ts";
import type { LrModelPair } from "../../../host/src/models/model.ts";
import { mulberry32 } from "../../../host/src/tools/rng.ts";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures", "models");

export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, name)));
}

export interface FormulaParams { a: number; c: number; m: number; d: number }
export interface OkFixture {
  expect: "ok";
  note: string;
  hash_bits: number;
  dtypes?: Record<string, string>;
  w_ctr_f32le_sha256?: string;
  w_cvr_f32le_sha256?: string;
  b_ctr_f32: number;
  b_cvr_f32: number;
  w_ctr_head_f32?: number[];
  w_cvr_head_f32?: number[];
  ctr_entries?: Array<[number, number]>;
  cvr_entries?: Array<[number, number]>;
}
export interface ErrorFixture { expect: "error"; code: string; note: string }
export interface Expected {
  hash_bits: number;
  ctr: FormulaParams;
  cvr: FormulaParams;
  b_ctr_f64: number;
  b_cvr_f64: number;
  fixtures: Record<string, OkFixture | ErrorFixture>;
}

export const EXPECTED: Expected = JSON.parse(readFileSync(join(FIXTURES, "expected.json"), "utf8")) as Expected;

/** The fixture formula in float64 (see scripts/fixtures/make_npz_fixtures.py). */
export function formulaF64(p: FormulaParams, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (((i * p.a + p.c) % p.m) - Math.floor(p.m / 2)) / p.d;
  return out;
}

/** The fixture model as float32 (float64 values rounded with Math.fround). */
export function formulaModel(): LrModelPair {
  const n = 2 ** EXPECTED.hash_bits;
  return {
    hashBits: EXPECTED.hash_bits,
    wCtr: Float32Array.from(formulaF64(EXPECTED.ctr, n), (x) => Math.fround(x)),
    bCtr: Math.fround(EXPECTED.b_ctr_f64),
    wCvr: Float32Array.from(formulaF64(EXPECTED.cvr, n), (x) => Math.fround(x)),
    bCvr: Math.fround(EXPECTED.b_cvr_f64),
  };
}

/** Small deterministic PRNG for fuzz-style tests: the tools' own. */
export const prng = mulberry32;

export function randomModel(hashBits: number, density: number, seed: number): LrModelPair {
  const rnd = prng(seed);
  const n = 2 ** hashBits;
  const w = (): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) if (rnd() < density) a[i] = (rnd() - 0.5) * 8 || 0.25;
    return a;
  };
  return { hashBits, wCtr: w(), bCtr: Math.fround(rnd() * -4), wCvr: w(), bCvr: Math.fround(rnd() * -4) };
}

// ---------------------------------------------------------------------------
// Zip builder (tests only): writes well-formed zips by default; every field can
// be overridden to produce the malformed variants.

export interface ZipEntrySpec {
  name: string;
  data: Uint8Array;
  /** Compression method written in the headers; 8 deflates `data`. Default 0. */
  method?: number;
  /** Compressed bytes to write instead of the real ones. */
  compressed?: Uint8Array;
  flags?: number;
  crc?: number;
  /** Overrides of the sizes written in both headers (and the descriptor). */
  size?: number;
  compressedSize?: number;
  /** Local header overrides only. */
  localSize?: number;
  localFlags?: number;
  localName?: string;
  /** Data descriptor: sets flag bit 3 and zeros in the local header. */
  descriptor?: "sig" | "nosig";
  /** Descriptor CRC override. */
  descriptorCrc?: number;
  /** Local header sizes 0xFFFFFFFF with a ZIP64 extra field (what numpy writes). */
  zip64Local?: boolean;
  /** Central directory sizes and offset 0xFFFFFFFF with a ZIP64 extra field. */
  zip64Central?: boolean;
  /** Offset written in the central directory instead of the real one. */
  localOffset?: number;
  /** Do not write a local header / data for this entry (central directory only). */
  centralOnly?: boolean;
}

export interface BuiltZip {
  bytes: Uint8Array;
  localOffsets: number[];
  dataOffsets: number[];
  centralOffsets: number[];
  cdOffset: number;
  eocdOffset: number;
}

class Writer {
  private chunks: number[] = [];
  get length(): number { return this.chunks.length; }
  u8(v: number): void { this.chunks.push(v & 0xff); }
  u16(v: number): void { this.u8(v); this.u8(v >>> 8); }
  u32(v: number): void { this.u16(v & 0xffff); this.u16(v >>> 16); }
  u64(v: number): void { this.u32(v % 2 ** 32); this.u32(Math.floor(v / 2 ** 32)); }
  bytes(b: Uint8Array): void { for (const x of b) this.chunks.push(x); }
  done(): Uint8Array { return Uint8Array.from(this.chunks); }
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

export function buildZip(entries: ZipEntrySpec[], opts: { zip64Eocd?: boolean; comment?: string; trailing?: Uint8Array } = {}): BuiltZip {
  const w = new Writer();
  const localOffsets: number[] = [];
  const dataOffsets: number[] = [];
  const info: Array<{ e: ZipEntrySpec; crc: number; csize: number; size: number; flags: number; method: number; offset: number }> = [];
  for (const e of entries) {
    const method = e.method ?? 0;
    const compressed = e.compressed ?? (method === 8 ? new Uint8Array(deflateRawSync(e.data)) : e.data);
    const crc = e.crc ?? crc32(e.data);
    const size = e.size ?? e.data.length;
    const csize = e.compressedSize ?? compressed.length;
    const flags = (e.flags ?? 0) | (e.descriptor ? 0x08 : 0);
    const offset = w.length;
    info.push({ e, crc, csize, size, flags, method, offset });
    if (e.centralOnly) { localOffsets.push(-1); dataOffsets.push(-1); continue; }
    localOffsets.push(offset);
    const name = enc(e.localName ?? e.name);
    const dd = e.descriptor !== undefined;
    w.u32(0x04034b50);
    w.u16(e.zip64Local ? 45 : 20);
    w.u16(e.localFlags ?? flags);
    w.u16(method);
    w.u16(0); // time
    w.u16(0x21); // date
    w.u32(dd ? 0 : crc);
    w.u32(e.zip64Local ? 0xffffffff : dd ? 0 : csize);
    w.u32(e.zip64Local ? 0xffffffff : dd ? 0 : e.localSize ?? size);
    w.u16(name.length);
    w.u16(e.zip64Local ? 20 : 0);
    w.bytes(name);
    if (e.zip64Local) {
      w.u16(1); w.u16(16);
      w.u64(dd ? 0 : e.localSize ?? size);
      w.u64(dd ? 0 : csize);
    }
    dataOffsets.push(w.length);
    w.bytes(compressed);
    if (dd) {
      if (e.descriptor === "sig") w.u32(0x08074b50);
      w.u32(e.descriptorCrc ?? crc);
      if (e.zip64Local) { w.u64(csize); w.u64(size); } else { w.u32(csize); w.u32(size); }
    }
  }
  const cdOffset = w.length;
  const centralOffsets: number[] = [];
  for (const { e, crc, csize, size, flags, method, offset } of info) {
    centralOffsets.push(w.length);
    const name = enc(e.name);
    const off = e.localOffset ?? offset;
    w.u32(0x02014b50);
    w.u16(0x0314); // made by: unix, 2.0
    w.u16(e.zip64Central ? 45 : 20);
    w.u16(flags);
    w.u16(method);
    w.u16(0);
    w.u16(0x21);
    w.u32(crc);
    w.u32(e.zip64Central ? 0xffffffff : csize);
    w.u32(e.zip64Central ? 0xffffffff : size);
    w.u16(name.length);
    w.u16(e.zip64Central ? 28 : 0);
    w.u16(0); // comment
    w.u16(0); // disk
    w.u16(0); // internal attrs
    w.u32(0o100644 << 16 >>> 0);
    w.u32(e.zip64Central ? 0xffffffff : off);
    w.bytes(name);
    if (e.zip64Central) {
      w.u16(1); w.u16(24);
      w.u64(size); w.u64(csize); w.u64(off);
    }
  }
  const cdSize = w.length - cdOffset;
  if (opts.zip64Eocd) {
    const rec = w.length;
    w.u32(0x06064b50);
    w.u64(44);
    w.u16(0x032d); w.u16(45);
    w.u32(0); w.u32(0);
    w.u64(entries.length); w.u64(entries.length);
    w.u64(cdSize); w.u64(cdOffset);
    w.u32(0x07064b50);
    w.u32(0);
    w.u64(rec);
    w.u32(1);
  }
  const eocdOffset = w.length;
  const comment = enc(opts.comment ?? "");
  w.u32(0x06054b50);
  w.u16(0); w.u16(0);
  w.u16(opts.zip64Eocd ? 0xffff : entries.length);
  w.u16(opts.zip64Eocd ? 0xffff : entries.length);
  w.u32(opts.zip64Eocd ? 0xffffffff : cdSize);
  w.u32(opts.zip64Eocd ? 0xffffffff : cdOffset);
  w.u16(comment.length);
  w.bytes(comment);
  if (opts.trailing) w.bytes(opts.trailing);
  return { bytes: w.done(), localOffsets, dataOffsets, centralOffsets, cdOffset, eocdOffset };
}

/** Local header + data of one stored entry, as buildZip writes it (for embedding). */
export function localRecord(name: string, data: Uint8Array): Uint8Array {
  const z = buildZip([{ name, data }]);
  return z.bytes.subarray(0, z.cdOffset);
}

/** A minimal .npy (v1.0) of float32 values with the given header dict text. */
export function npy(header: string, data: Uint8Array = new Uint8Array(0), version: [number, number] = [1, 0]): Uint8Array {
  const pre = version[0] === 1 ? 10 : 12;
  let h = header;
  const total = pre + h.length + 1;
  h += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version[0], version[1]], 0);
  const v = new DataView(out.buffer);
  if (version[0] === 1) v.setUint16(8, h.length, true); else v.setUint32(8, h.length, true);
  out.set(new TextEncoder().encode(h), pre);
  out.set(data, pre + h.length);
  return out;
}

export function f32bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** An .npz (built with buildZip) holding a valid model with the given overrides. */
export function modelNpz(model: LrModelPair, override: Record<string, Uint8Array | null> = {}, method: 0 | 8 = 0): Uint8Array {
  const members: Record<string, Uint8Array | null> = {
    "w_ctr.npy": npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (${model.wCtr.length},), }`, new Uint8Array(model.wCtr.buffer.slice(0))),
    "b_ctr.npy": npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (), }`, f32bytes([model.bCtr])),
    "w_cvr.npy": npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (${model.wCvr.length},), }`, new Uint8Array(model.wCvr.buffer.slice(0))),
    "b_cvr.npy": npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (), }`, f32bytes([model.bCvr])),
    ...override,
  };
  const entries: ZipEntrySpec[] = [];
  for (const [name, data] of Object.entries(members)) if (data) entries.push({ name, data, method, zip64Local: true });
  return buildZip(entries).bytes;
}
