// Base64url text read as a big-endian bit string (6 bits a character, the first character's
// high bit first, no padding): the encoding of the IAB TCF v2 TC string and of the GPP string and
// its sections. Reads straight from the request body; nothing is allocated.

/** Value of a base64url character, -1 if it is not one. */
@inline export function sextet(c: u32): i32 {
  if (c >= 0x41 && c <= 0x5a) return <i32>c - 0x41; // A-Z
  if (c >= 0x61 && c <= 0x7a) return <i32>c - 0x61 + 26; // a-z
  if (c >= 0x30 && c <= 0x39) return <i32>c - 0x30 + 52; // 0-9
  if (c == 0x2d) return 62; // '-'
  if (c == 0x5f) return 63; // '_'
  return -1;
}

/** Big-endian bit reader over base64url characters already checked to be valid. */
export class Bits {
  ptr: usize = 0;
  /** Bits available (6 per character). */
  size: i32 = 0;
  pos: i32 = 0;
  /** A read went past the end: every later read returns 0. */
  short: bool = false;

  bind(ptr: usize, chars: i32): void {
    this.ptr = ptr;
    this.size = chars * 6;
    this.pos = 0;
    this.short = false;
  }

  @inline bitAt(i: i32): u32 {
    const v = sextet(<u32>load<u8>(this.ptr + <usize>(i / 6)));
    return (<u32>v >> <u32>(5 - i % 6)) & 1;
  }

  /** The next n bits (n ≤ 36) as an unsigned number. */
  read(n: i32): u64 {
    if (this.short || this.pos + n > this.size) {
      this.short = true;
      return 0;
    }
    let v: u64 = 0;
    for (let i = 0; i < n; i++) v = (v << 1) | <u64>this.bitAt(this.pos + i);
    this.pos += n;
    return v;
  }

  @inline skip(n: i32): void {
    if (this.pos + n > this.size) this.short = true;
    else this.pos += n;
  }
}

/** Fibonacci terms 1, 2, 3, 5, … as far as an i32 needs. */
const FIB_TERMS: StaticArray<i32> = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181, 6765, 10946, 17711, 28657, 46368, 75025, 121393, 196418, 317811, 514229, 832040, 1346269, 2178309, 3524578, 5702887, 9227465, 14930352, 24157817, 39088169, 63245986, 102334155, 165580141, 267914296, 433494437, 701408733, 1134903170, 1836311903];

/**
 * The next Fibonacci-coded integer (GPP's "int(Fibonacci)"): bits for the terms 1, 2, 3, 5, …
 * smallest first, ended by a second 1 right after the last term's ("11" ends every code). 0 when
 * the bits run out or the code is longer than an i32 (and `short` is set).
 */
export function readFibonacci(b: Bits): i32 {
  let value: i64 = 0;
  let prev: u32 = 0;
  for (let i = 0; i <= FIB_TERMS.length; i++) {
    const bit = <u32>b.read(1);
    if (b.short) return 0;
    if (bit == 1 && prev == 1) return value > <i64>i32.MAX_VALUE ? fail(b) : <i32>value;
    if (i == FIB_TERMS.length) break;
    if (bit == 1) value += <i64>unchecked(FIB_TERMS[i]);
    prev = bit;
  }
  return fail(b);
}

function fail(b: Bits): i32 {
  b.short = true;
  return 0;
}

/**
 * How many characters of ptr[0..len) come before the first `stop` byte (or the end), or -1 when
 * one of them is not base64url.
 */
export function base64urlRun(ptr: usize, len: i32, stop: u8): i32 {
  let n = 0;
  while (n < len) {
    const c = load<u8>(ptr + <usize>n);
    if (c == stop) break;
    if (sextet(<u32>c) < 0) return -1;
    n++;
  }
  return n;
}
