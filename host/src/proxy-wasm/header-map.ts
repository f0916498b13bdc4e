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

export function latin1String(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
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
  const pairs = decodeHeaderMap(bytes);
  if (pairs === null) return [];
  return pairs.map(([k, v]) => [latin1String(k), latin1String(v)]);
}

/**
 * A mutable header map with Envoy semantics: keys are stored lower-cased (Envoy's
 * Http::LowerCaseString), lookups return the first value, replace sets one value, remove removes all.
 */
export class HeaderMap {
  private entries: HeaderPair[];

  constructor(pairs: Iterable<readonly [string, string]> = []) {
    this.entries = [];
    for (const [k, v] of pairs) this.entries.push([k.toLowerCase(), v]);
  }

  static fromSerialized(bytes: Uint8Array): HeaderMap {
    return new HeaderMap(deserializeHeaderMap(bytes));
  }

  get size(): number {
    return this.entries.length;
  }

  pairs(): HeaderPair[] {
    return this.entries.map(([k, v]) => [k, v]);
  }

  get(key: string): string | undefined {
    const k = key.toLowerCase();
    for (const e of this.entries) if (e[0] === k) return e[1];
    return undefined;
  }

  getAll(key: string): string[] {
    const k = key.toLowerCase();
    return this.entries.filter((e) => e[0] === k).map((e) => e[1]);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  add(key: string, value: string): void {
    this.entries.push([key.toLowerCase(), value]);
  }

  /** Sets the first entry of `key` to `value` and drops the others; appends when absent. */
  replace(key: string, value: string): void {
    const k = key.toLowerCase();
    const i = this.entries.findIndex((e) => e[0] === k);
    if (i < 0) {
      this.entries.push([k, value]);
      return;
    }
    this.entries[i] = [k, value];
    this.entries = this.entries.filter((e, j) => j <= i || e[0] !== k);
  }

  remove(key: string): void {
    const k = key.toLowerCase();
    this.entries = this.entries.filter((e) => e[0] !== k);
  }

  setAll(pairs: Iterable<readonly [string, string]>): void {
    this.entries = [];
    for (const [k, v] of pairs) this.entries.push([k.toLowerCase(), v]);
  }

  /** Envoy's HeaderMap::byteSize(): the sum of key and value lengths (what proxy_get_header_map_size returns in Envoy). */
  byteSize(): number {
    let n = 0;
    for (const [k, v] of this.entries) n += k.length + v.length;
    return n;
  }

  serialize(): Uint8Array {
    return serializeHeaderMap(this.entries);
  }
}
