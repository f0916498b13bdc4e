/**
 * Strict UTF-8 (Unicode 15, table 3-7 "well-formed byte sequences"): no
 * overlong forms, no UTF-16 surrogates (U+D800..U+DFFF) encoded as UTF-8,
 * nothing above U+10FFFF, no truncated sequences. The JSON reader checks every
 * byte >= 0x80 inside strings with it; bytes >= 0x80 outside strings are never
 * valid JSON anyway.
 */

@inline
function isContinuation(b: u32): bool {
  return (b & 0xc0) == 0x80;
}

/**
 * Length (2, 3 or 4) of the well-formed multi-byte sequence starting at `p`,
 * or 0 when it is not one (including a sequence cut by `end`).
 * Precondition: p < end and load<u8>(p) >= 0x80.
 */
export function utf8SequenceLength(p: usize, end: usize): i32 {
  const b0 = <u32>load<u8>(p);
  if (b0 < 0xc2) return 0; // stray continuation byte or overlong 2-byte lead (C0, C1)
  if (b0 < 0xe0) {
    if (p + 1 >= end) return 0;
    return isContinuation(<u32>load<u8>(p + 1)) ? 2 : 0;
  }
  if (b0 < 0xf0) {
    if (p + 2 >= end) return 0;
    const b1 = <u32>load<u8>(p + 1);
    // E0 needs A0..BF (else overlong); ED needs 80..9F (else a surrogate).
    const lo: u32 = b0 == 0xe0 ? 0xa0 : 0x80;
    const hi: u32 = b0 == 0xed ? 0x9f : 0xbf;
    if (b1 < lo || b1 > hi) return 0;
    return isContinuation(<u32>load<u8>(p + 2)) ? 3 : 0;
  }
  if (b0 < 0xf5) {
    if (p + 3 >= end) return 0;
    const b1 = <u32>load<u8>(p + 1);
    // F0 needs 90..BF (else overlong); F4 needs 80..8F (else above U+10FFFF).
    const lo: u32 = b0 == 0xf0 ? 0x90 : 0x80;
    const hi: u32 = b0 == 0xf4 ? 0x8f : 0xbf;
    if (b1 < lo || b1 > hi) return 0;
    if (!isContinuation(<u32>load<u8>(p + 2))) return 0;
    return isContinuation(<u32>load<u8>(p + 3)) ? 4 : 0;
  }
  return 0; // F5..FF never appear in UTF-8
}

/** Bytes needed to encode code point `cp` (cp <= 0x10FFFF, not a surrogate). */
@inline
export function utf8EncodedLength(cp: u32): i32 {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/** Writes `cp` as UTF-8 at `dst` (room for utf8EncodedLength(cp) bytes is checked by the caller). */
export function utf8Encode(cp: u32, dst: usize): i32 {
  if (cp < 0x80) {
    store<u8>(dst, <u8>cp);
    return 1;
  }
  if (cp < 0x800) {
    store<u8>(dst, <u8>(0xc0 | (cp >> 6)));
    store<u8>(dst + 1, <u8>(0x80 | (cp & 0x3f)));
    return 2;
  }
  if (cp < 0x10000) {
    store<u8>(dst, <u8>(0xe0 | (cp >> 12)));
    store<u8>(dst + 1, <u8>(0x80 | ((cp >> 6) & 0x3f)));
    store<u8>(dst + 2, <u8>(0x80 | (cp & 0x3f)));
    return 3;
  }
  store<u8>(dst, <u8>(0xf0 | (cp >> 18)));
  store<u8>(dst + 1, <u8>(0x80 | ((cp >> 12) & 0x3f)));
  store<u8>(dst + 2, <u8>(0x80 | ((cp >> 6) & 0x3f)));
  store<u8>(dst + 3, <u8>(0x80 | (cp & 0x3f)));
  return 4;
}

/**
 * The largest length <= maxLen that ends on a character boundary of the
 * (already validated) UTF-8 string [ptr, ptr+len): truncating there never cuts
 * a multi-byte character in half.
 */
export function utf8TruncatedLength(ptr: usize, len: i32, maxLen: i32): i32 {
  if (len <= maxLen) return len;
  if (maxLen <= 0) return 0;
  let cut = maxLen;
  // The byte at `cut` is the first one dropped; if it continues a character,
  // that character started before `cut` and must be dropped whole.
  while (cut > 0 && isContinuation(<u32>load<u8>(ptr + <usize>cut))) cut--;
  return cut;
}
