// Query-string helpers for notice URLs (allocation-free views into the path).
import { Str, codeAt } from "../core/bytes/str";

/** Finds `name=` in the query of [ptr, ptr+len) (after the first '?') and sets `out` to its raw value. */
export function queryParam(ptr: usize, len: i32, name: string, out: Str): bool {
  let i = 0;
  while (i < len && load<u8>(ptr + <usize>i) != 0x3f) i++;
  i++;
  const n = name.length;
  while (i < len) {
    // i is at the start of a key
    let match = i + n < len;
    for (let j = 0; match && j < n; j++) {
      if (<u32>load<u8>(ptr + <usize>(i + j)) != codeAt(name, j)) match = false;
    }
    if (match && load<u8>(ptr + <usize>(i + n)) == 0x3d) {
      const start = i + n + 1;
      let end = start;
      while (end < len && load<u8>(ptr + <usize>end) != 0x26) end++;
      out.set(ptr + <usize>start, end - start);
      return true;
    }
    while (i < len && load<u8>(ptr + <usize>i) != 0x26) i++;
    i++;
  }
  out.clear();
  return false;
}

/** Length of the path part (before '?'). */
export function pathLength(ptr: usize, len: i32): i32 {
  for (let i = 0; i < len; i++) {
    if (load<u8>(ptr + <usize>i) == 0x3f) return i;
  }
  return len;
}

/**
 * Parses a CPM price ("1.25", "0.3", "2") into micros per impression, rounded
 * up. Decimals past the ninth (under a millionth of a micro) are checked and
 * ignored: an exchange that computes the clearing price in floating point
 * prints 0.3 as "0.30000000000000004" (or "0.29999999999999999"), and
 * refusing that notice would leave a real win uncharged. Returns -1 for
 * anything else: empty, longer than 40 bytes, signs, exponents, an
 * unsubstituted ${AUCTION_PRICE} macro, or above 1,000,000 CPM.
 */
export function parseCpmToMicros(s: Str): i64 {
  const len = s.len;
  if (len == 0 || len > 40) return -1;
  let intPart: i64 = 0;
  let frac: i64 = 0; // in 1e-9 units
  let fracDigits = 0;
  let i = 0;
  let digits = 0;
  while (i < len) {
    const c = s.byteAt(i);
    if (c == 0x2e) break;
    if (c < 0x30 || c > 0x39) return -1;
    intPart = intPart * 10 + <i64>(c - 0x30);
    if (intPart > 1000000) return -1;
    digits++;
    i++;
  }
  if (digits == 0) return -1;
  if (i < len) {
    i++; // '.'
    if (i == len) return -1;
    while (i < len) {
      const c = s.byteAt(i);
      if (c < 0x30 || c > 0x39) return -1;
      if (fracDigits < 9) {
        frac = frac * 10 + <i64>(c - 0x30);
        fracDigits++;
      }
      i++;
    }
    for (let k = fracDigits; k < 9; k++) frac *= 10;
  }
  if (intPart == 1000000 && frac > 0) return -1;
  // micros per impression = CPM × 1000; CPM = intPart + frac / 1e9
  const nanoMicros = intPart * 1_000_000_000_000 + frac * 1000; // micros × 1e9
  return (nanoMicros + 999_999_999) / 1_000_000_000;
}
