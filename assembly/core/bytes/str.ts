/**
 * Str: a view of UTF-8 bytes somewhere in linear memory (a request body, a
 * scratch arena, a static table). It never owns memory, so filling one costs
 * no allocation: the bid path reuses preallocated Str fields for every request.
 */
export class Str {
  ptr: usize = 0;
  len: i32 = 0;

  @inline set(ptr: usize, len: i32): void {
    this.ptr = ptr;
    this.len = len;
  }

  @inline copyFrom(other: Str): void {
    this.ptr = other.ptr;
    this.len = other.len;
  }

  @inline clear(): void {
    this.ptr = 0;
    this.len = 0;
  }

  @inline get isEmpty(): bool {
    return this.len == 0;
  }

  @inline byteAt(i: i32): u8 {
    return load<u8>(this.ptr + <usize>i);
  }

  equals(other: Str): bool {
    return bytesEqual(this.ptr, this.len, other.ptr, other.len);
  }

  equalsBytes(ptr: usize, len: i32): bool {
    return bytesEqual(this.ptr, this.len, ptr, len);
  }

  /** Same bytes up to ASCII case (currency codes: ISO 4217 writes them in capitals, exchanges do not always). */
  equalsIgnoreAsciiCase(other: Str): bool {
    return bytesEqualIgnoreAsciiCase(this.ptr, this.len, other.ptr, other.len);
  }

  /** Compares with an ASCII string literal without allocating (literals are static). */
  equalsAscii(lit: string): bool {
    return bytesEqualAscii(this.ptr, this.len, lit);
  }

  /** ASCII case-insensitive comparison with a lower-case ASCII literal. */
  equalsAsciiIgnoreCase(lowerLit: string): bool {
    return bytesEqualAsciiIgnoreCase(this.ptr, this.len, lowerLit);
  }

  /** Allocates: for tests, logs and cold paths only. */
  toString(): string {
    return String.UTF8.decodeUnsafe(this.ptr, <usize>this.len);
  }
}

/**
 * Code unit i of a string without the bounds check and call of charCodeAt:
 * AssemblyScript strings are UTF-16 in memory. Callers guarantee i < s.length
 * (every use loops over the string's own length).
 */
@inline
export function codeAt(s: string, i: i32): u32 {
  return <u32>load<u16>(changetype<usize>(s) + (<usize>i << 1));
}

/** The value of a hex digit (0-9, a-f, A-F), or -1. */
@inline
export function hexDigitValue(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l - 0x61 < 6) return <i32>(l - 0x61 + 10);
  return -1;
}

@inline
export function asciiLower(c: u8): u8 {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

@inline export function asciiUpper(c: u8): u8 {
  return c >= 0x61 && c <= 0x7a ? c & 0xdf : c;
}

/** True if `needle` (lower-case ASCII literal) occurs in [ptr, ptr+len) ignoring ASCII case. */
export function containsIgnoreCase(ptr: usize, len: i32, needle: string): bool {
  const n = needle.length;
  if (n == 0) return true;
  const first = <u8>codeAt(needle, 0);
  for (let i = 0; i + n <= len; i++) {
    if (asciiLower(load<u8>(ptr + <usize>i)) != first) continue;
    let j = 1;
    while (j < n && <u32>asciiLower(load<u8>(ptr + <usize>(i + j))) == codeAt(needle, j)) j++;
    if (j == n) return true;
  }
  return false;
}

/** True when the `len` bytes at `ptr` are the ASCII string `s`, byte for byte. */
export function bytesEqualAscii(ptr: usize, len: i32, s: string): bool {
  const n = s.length;
  if (len != n) return false;
  for (let i = 0; i < n; i++) {
    if (<u32>load<u8>(ptr + <usize>i) != codeAt(s, i)) return false;
  }
  return true;
}

/** True when the `len` bytes at `ptr`, ASCII letters lower-cased, are the lower-case ASCII string `lowerLit`. */
export function bytesEqualAsciiIgnoreCase(ptr: usize, len: i32, lowerLit: string): bool {
  const n = lowerLit.length;
  if (len != n) return false;
  for (let i = 0; i < n; i++) {
    if (<u32>asciiLower(load<u8>(ptr + <usize>i)) != codeAt(lowerLit, i)) return false;
  }
  return true;
}

export function bytesEqual(a: usize, alen: i32, b: usize, blen: i32): bool {
  if (alen != blen) return false;
  if (a == b) return true;
  return memory.compare(a, b, <usize>alen) == 0;
}

/** bytesEqual() up to ASCII case (A-Z against a-z; other bytes exactly). */
export function bytesEqualIgnoreAsciiCase(a: usize, alen: i32, b: usize, blen: i32): bool {
  if (alen != blen) return false;
  for (let i = 0; i < alen; i++) {
    if (asciiLower(load<u8>(a + <usize>i)) != asciiLower(load<u8>(b + <usize>i))) return false;
  }
  return true;
}
