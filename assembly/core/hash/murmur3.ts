import { codeAt } from "../bytes/str";
// MurmurHash3 x86_32 (Austin Appleby's reference, public domain), over bytes in
// linear memory. Features are hashed as the UTF-8 bytes of "field=value"; the
// trainer runs this same compiled code, so both sides agree bit for bit.
// Pinned by known-answer vectors in assembly/__tests__/murmur3.spec.ts.

const C1: u32 = 0xcc9e2d51;
const C2: u32 = 0x1b873593;

@inline function mixK(k: u32): u32 {
  k *= C1;
  k = rotl<u32>(k, 15);
  return k * C2;
}

@inline function mixH(h: u32, k: u32): u32 {
  h ^= mixK(k);
  h = rotl<u32>(h, 13);
  return h * 5 + 0xe6546b64;
}

@inline function fmix(h: u32): u32 {
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

/** murmur3_32 of [ptr, ptr+len) with a seed. */
export function murmur3_32(ptr: usize, len: i32, seed: u32): u32 {
  let h = seed;
  const blocks = len >> 2;
  for (let i = 0; i < blocks; i++) {
    h = mixH(h, load<u32>(ptr + (<usize>i << 2)));
  }
  const tail = ptr + (<usize>blocks << 2);
  let k: u32 = 0;
  switch (len & 3) {
    case 3:
      k ^= <u32>load<u8>(tail, 2) << 16;
    // fallthrough
    case 2:
      k ^= <u32>load<u8>(tail, 1) << 8;
    // fallthrough
    case 1:
      k ^= <u32>load<u8>(tail);
      h ^= mixK(k);
  }
  h ^= <u32>len;
  return fmix(h);
}

/**
 * Streaming murmur3_32: hashes a byte sequence given in pieces without
 * concatenating them. `save`/`restore` let a caller hash a constant prefix
 * ("domain=") once and start every feature of that field from the saved state.
 */
export class Murmur3Stream {
  h: u32 = 0;
  /** Pending bytes of an incomplete 4-byte block, little-endian packed. */
  carry: u32 = 0;
  carryLen: i32 = 0;
  total: i32 = 0;

  reset(seed: u32): void {
    this.h = seed;
    this.carry = 0;
    this.carryLen = 0;
    this.total = 0;
  }

  copyFrom(o: Murmur3Stream): void {
    this.h = o.h;
    this.carry = o.carry;
    this.carryLen = o.carryLen;
    this.total = o.total;
  }

  @inline updateByte(b: u8): void {
    this.carry |= <u32>b << (<u32>this.carryLen << 3);
    this.carryLen++;
    this.total++;
    if (this.carryLen == 4) {
      this.h = mixH(this.h, this.carry);
      this.carry = 0;
      this.carryLen = 0;
    }
  }

  update(ptr: usize, len: i32): void {
    let i = 0;
    // Finish a pending block byte by byte, then whole blocks straight from memory.
    while (this.carryLen != 0 && i < len) {
      this.updateByte(load<u8>(ptr + <usize>i));
      i++;
    }
    const blocksStart = i;
    let h = this.h;
    while (i + 4 <= len) {
      h = mixH(h, load<u32>(ptr + <usize>i));
      i += 4;
    }
    this.h = h;
    this.total += i - blocksStart;
    while (i < len) {
      this.updateByte(load<u8>(ptr + <usize>i));
      i++;
    }
  }

  /** Hashes an ASCII string literal (no allocation). */
  updateAscii(s: string): void {
    const n = s.length;
    for (let i = 0; i < n; i++) this.updateByte(<u8>codeAt(s, i));
  }

  finish(): u32 {
    let h = this.h;
    if (this.carryLen != 0) h ^= mixK(this.carry);
    h ^= <u32>this.total;
    return fmix(h);
  }
}
