// proxy-wasm header map serialisation (spec "Serialization", cpp-host src/pairs_util.cc) and the
// host-side header map.
//
// Wire format, little-endian: u32 count; count x (u32 key_len, u32 value_len); then count x
// (key bytes, 0x00, value bytes, 0x00). Lengths exclude the NUL.
//
// Header strings on the TypeScript side are latin1 ("binary") strings: one char per byte, which is
// also how node:http hands header values over, so bytes round-trip unchanged.

import { Buffer } from "node:buffer";
import { PAIRS_MAX_BYTES, PAIRS_MAX_COUNT } from "./constants.ts";

export type HeaderPair = [string, string];
export type BytePair = [Uint8Array, Uint8Array];

export function latin1Bytes(s: string): Uint8Array {
  return Buffer.from(s, "latin1");
}

/** Serialised size of a map: 4 + sum(8 + key + 1 + value + 1). */
export function serializedSize(pairs: ReadonlyArray<readonly [Uint8Array | string, Uint8Array | string]>): number {
  let size = 4;
  for (const [k, v] of pairs) size += 8 + k.length + 1 + v.length + 1;
  return size;
}

/**
 * Serialises pairs. An empty map serialises to zero bytes (what cpp-host hands to the VM for an
 * empty map: pointer 0, size 0). Strings are encoded as latin1.
 */
export function serializeHeaderMap(pairs: ReadonlyArray<readonly [Uint8Array | string, Uint8Array | string]>): Uint8Array {
  if (pairs.length === 0) return new Uint8Array(0);
  const bin = pairs.map(([k, v]) => [typeof k === "string" ? latin1Bytes(k) : k, typeof v === "string" ? latin1Bytes(v) : v] as const);
  const out = new Uint8Array(serializedSize(bin));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, bin.length, true);
  let p = 4;
  for (const [k, v] of bin) {
    dv.setUint32(p, k.length, true);
    dv.setUint32(p + 4, v.length, true);
    p += 8;
  }
  for (const [k, v] of bin) {
    out.set(k, p);
    p += k.length;
    out[p++] = 0;
    out.set(v, p);
    p += v.length;
    out[p++] = 0;
  }
  return out;
}

/**
 * Strict decoding, as cpp-host PairsUtil::toPairs: returns null when the buffer is malformed
 * (shorter than 4 bytes, more than 1,024 pairs, more than 1 MiB, lengths that overrun, a missing
 * NUL terminator, or trailing bytes). The empty forms (size 0, or the single byte 0x00 the spec
 * allows) decode to an empty list. Returned arrays are views into `bytes`.
 */
export function decodeHeaderMap(bytes: Uint8Array): BytePair[] | null {
  if (bytes.length === 0) return [];
  if (bytes.length === 1 && bytes[0] === 0) return [];
  if (bytes.length > PAIRS_MAX_BYTES || bytes.length < 4) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = dv.getUint32(0, true);
  if (count > PAIRS_MAX_COUNT) return null;
  let p = 4;
  if (p + count * 8 > bytes.length) return null;
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    sizes.push(dv.getUint32(p, true), dv.getUint32(p + 4, true));
    p += 8;
  }
  const out: BytePair[] = [];
  for (let i = 0; i < count; i++) {
    const kl = sizes[2 * i]!;
    if (p + kl + 1 > bytes.length) return null;
    const k = bytes.subarray(p, p + kl);
    p += kl;
    if (bytes[p++] !== 0) return null;
    const vl = sizes[2 * i + 1]!;
    if (p + vl + 1 > bytes.length) return null;
    const v = bytes.subarray(p, p + vl);
    p += vl;
    if (bytes[p++] !== 0) return null;
    out.push([k, v]);
  }
  if (p !== bytes.length) return null;
  return out;
}

/** Lenient decoding as the host uses it: a malformed map is treated as empty (Envoy behaviour). */
export function deserializeHeaderMap(bytes: Uint8Array): HeaderPair[] {
  return deserializeHeaderMapAt(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, bytes.byteLength);
}

/**
 * deserializeHeaderMap of buf[start, start+size) (e.g. a VM's memory), making the strings straight
 * from the bytes: the same strict checks as decodeHeaderMap, and [] when malformed. Keys are
 * lower-cased when `lowerKeys` is set (what a HeaderMap would do with them anyway).
 */
export function deserializeHeaderMapAt(buf: Buffer, start: number, size: number, lowerKeys = false): HeaderPair[] {
  if (size <= 1) return [];
  if (size > PAIRS_MAX_BYTES || size < 4 || start + size > buf.length) return [];
  const count = buf.readUInt32LE(start);
  if (count > PAIRS_MAX_COUNT) return [];
  const end = start + size;
  const dataStart = start + 4 + count * 8;
  if (dataStart > end) return [];
  // Check the layout first, then make every string out of one latin1 string of the data (one
  // native call instead of two per pair; substrings are cheap).
  let p = dataStart;
  for (let i = 0; i < count; i++) {
    p += buf.readUInt32LE(start + 4 + i * 8);
    if (p + 1 > end || buf[p] !== 0) return [];
    p += 1 + buf.readUInt32LE(start + 8 + i * 8);
    if (p + 1 > end || buf[p] !== 0) return [];
    p++;
  }
  if (p !== end) return [];
  const data = buf.toString("latin1", dataStart, end);
  const out: HeaderPair[] = new Array(count);
  let q = 0;
  for (let i = 0; i < count; i++) {
    const kl = buf.readUInt32LE(start + 4 + i * 8);
    const vl = buf.readUInt32LE(start + 8 + i * 8);
    const k = data.substring(q, q + kl);
    q += kl + 1;
    out[i] = [lowerKeys ? lower(k) : k, data.substring(q, q + vl)];
    q += vl + 1;
  }
  return out;
}

/** A little-endian u32 at buf[p] (byte stores: no bounds-checking helper call per field). */
function writeU32(buf: Uint8Array, p: number, v: number): void {
  buf[p] = v;
  buf[p + 1] = v >>> 8;
  buf[p + 2] = v >>> 16;
  buf[p + 3] = v >>> 24;
}

/** `k` lower-cased; names that already are (node:http hands them over so) are returned as they are. */
function lower(k: string): string {
  for (let i = 0; i < k.length; i++) {
    const c = k.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return k.toLowerCase();
    if (c > 0x7f) return k.toLowerCase(); // non-ASCII: leave it to the full conversion
  }
  return k;
}

/**
 * Writes `s` as latin1 at buf[p] and returns the end. Short strings (most header names and many
 * values) byte by byte: cheaper than a call into native code, and nothing to collect afterwards.
 */
function writeLatin1(buf: Buffer, p: number, s: string): number {
  const n = s.length;
  if (n <= 24) {
    for (let j = 0; j < n; j++) buf[p + j] = s.charCodeAt(j);
  } else {
    buf.write(s, p, n, "latin1");
  }
  return p + n;
}

const NO_PAIRS: ReadonlyArray<readonly [string, string]> = [];
const lowerKeyOf = (p: readonly [string, string]): string => lower(p[0]);
const valueOf = (p: readonly [string, string]): string => p[1];

/**
 * A mutable header map with Envoy semantics: keys are stored lower-cased (Envoy's
 * Http::LowerCaseString), lookups return the first value, replace sets one value, remove removes all.
 * Keys and values are kept in two parallel arrays (no pair object per header).
 */
export class HeaderMap {
  private keys: string[];
  private values: string[];
  /** Mutations so far (add, replace, remove, setAll): lets a caller tell that nobody changed the map. */
  changes = 0;

  constructor(pairs: Iterable<readonly [string, string]> = NO_PAIRS) {
    if (Array.isArray(pairs)) {
      // Arrays of exactly the right size (a map per request: pushes would grow them to 17 slots).
      this.keys = (pairs as ReadonlyArray<readonly [string, string]>).map(lowerKeyOf);
      this.values = (pairs as ReadonlyArray<readonly [string, string]>).map(valueOf);
      return;
    }
    this.keys = [];
    this.values = [];
    for (const [k, v] of pairs) {
      this.keys.push(lower(k));
      this.values.push(v);
    }
  }

  static fromSerialized(bytes: Uint8Array): HeaderMap {
    return new HeaderMap(deserializeHeaderMap(bytes));
  }

  get size(): number {
    return this.keys.length;
  }

  pairs(): HeaderPair[] {
    const out: HeaderPair[] = new Array(this.keys.length);
    for (let i = 0; i < out.length; i++) out[i] = [this.keys[i]!, this.values[i]!];
    return out;
  }

  get(key: string): string | undefined {
    const i = this.keys.indexOf(lower(key));
    return i < 0 ? undefined : this.values[i];
  }

  getAll(key: string): string[] {
    const k = key.toLowerCase();
    const out: string[] = [];
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] === k) out.push(this.values[i]!);
    return out;
  }

  has(key: string): boolean {
    return this.keys.indexOf(lower(key)) >= 0;
  }

  add(key: string, value: string): void {
    this.keys.push(lower(key));
    this.values.push(value);
    this.changes++;
  }

  /** Sets the first entry of `key` to `value` and drops the others; appends when absent. */
  replace(key: string, value: string): void {
    this.changes++;
    const k = key.toLowerCase();
    const i = this.keys.indexOf(k);
    if (i < 0) {
      this.keys.push(k);
      this.values.push(value);
      return;
    }
    this.values[i] = value;
    if (this.keys.indexOf(k, i + 1) >= 0) this.removeFrom(k, i + 1);
  }

  remove(key: string): void {
    this.changes++;
    const k = key.toLowerCase();
    if (this.keys.indexOf(k) >= 0) this.removeFrom(k, 0);
  }

  /** Drops every entry of `k` at index >= from. */
  private removeFrom(k: string, from: number): void {
    let w = from;
    for (let r = from; r < this.keys.length; r++) {
      if (this.keys[r] === k) continue;
      this.keys[w] = this.keys[r]!;
      this.values[w] = this.values[r]!;
      w++;
    }
    this.keys.length = w;
    this.values.length = w;
  }

  setAll(pairs: Iterable<readonly [string, string]>): void {
    this.changes++;
    this.keys = [];
    this.values = [];
    for (const [k, v] of pairs) {
      this.keys.push(lower(k));
      this.values.push(v);
    }
  }

  /** Envoy's HeaderMap::byteSize(): the sum of key and value lengths (what proxy_get_header_map_size returns in Envoy). */
  byteSize(): number {
    let n = 0;
    for (let i = 0; i < this.keys.length; i++) n += this.keys[i]!.length + this.values[i]!.length;
    return n;
  }

  /** Bytes of serialize() (0 for an empty map, which serialises to nothing). */
  serializedSize(): number {
    const n = this.keys.length;
    if (n === 0) return 0;
    let size = 4;
    for (let i = 0; i < n; i++) size += 10 + this.keys[i]!.length + this.values[i]!.length;
    return size;
  }

  /** Writes serialize() into buf at `at` (the caller checked that serializedSize() bytes fit). */
  serializeInto(buf: Buffer, at: number): void {
    const n = this.keys.length;
    if (n === 0) return;
    writeU32(buf, at, n);
    let p = at + 4 + n * 8;
    for (let i = 0; i < n; i++) {
      const k = this.keys[i]!;
      const v = this.values[i]!;
      writeU32(buf, at + 4 + i * 8, k.length);
      writeU32(buf, at + 8 + i * 8, v.length);
      p = writeLatin1(buf, p, k);
      buf[p++] = 0;
      p = writeLatin1(buf, p, v);
      buf[p++] = 0;
    }
  }

  serialize(): Uint8Array {
    const out = Buffer.alloc(this.serializedSize());
    this.serializeInto(out, 0);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
}
