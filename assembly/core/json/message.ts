import { Str, codeAt } from "../bytes/str";

/**
 * A fixed byte buffer for error messages, written without allocating.
 *
 * Messages end up inside a JSON error reply (`{"error":"..."}`), so only
 * printable ASCII that needs no JSON escaping is written: any other character
 * becomes '?'. Text past the capacity is dropped.
 */
export class MessageBuffer {
  private buffer: ArrayBuffer;
  readonly ptr: usize;
  readonly capacity: i32;
  len: i32 = 0;

  constructor(capacity: i32 = 256) {
    const cap = capacity < 16 ? 16 : capacity;
    const buffer = new ArrayBuffer(cap);
    this.buffer = buffer;
    this.capacity = cap;
    this.ptr = changetype<usize>(buffer);
  }

  @inline clear(): void {
    this.len = 0;
  }

  appendByte(c: u32): void {
    if (this.len >= this.capacity) return;
    if (c < 0x20 || c > 0x7e || c == 0x22 || c == 0x5c) c = 0x3f; // '?'
    store<u8>(this.ptr + <usize>this.len, <u8>c);
    this.len++;
  }

  /** Appends a string literal (meant to be ASCII). */
  appendAscii(s: string): void {
    const n = s.length;
    for (let i = 0; i < n; i++) this.appendByte(codeAt(s, i));
  }

  appendInt(v: i64): void {
    if (v < 0) {
      this.appendByte(0x2d);
      this.appendUint(<u64>(-v)); // i64.MIN negates to itself, which as u64 is 2^63: right
    } else {
      this.appendUint(<u64>v);
    }
  }

  appendUint(v: u64): void {
    // Digits come out backwards: count them first, then write in place.
    let digits = 1;
    let t = v;
    while (t >= 10) {
      t /= 10;
      digits++;
    }
    if (this.len + digits > this.capacity) return;
    let p = this.ptr + <usize>(this.len + digits);
    do {
      p--;
      store<u8>(p, <u8>(0x30 + <u32>(v % 10)));
      v /= 10;
    } while (v != 0);
    this.len += digits;
  }

  /** Points `out` at the current message (valid until the next clear). */
  @inline viewInto(out: Str): void {
    out.set(this.ptr, this.len);
  }

  /** Allocates: for tests and cold paths only. */
  toString(): string {
    return String.UTF8.decodeUnsafe(this.ptr, <usize>this.len);
  }
}
