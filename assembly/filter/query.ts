// Query-string helpers for notice URLs (allocation-free views into the path).
import { Str, codeAt, hexDigitValue } from "../core/bytes/str";

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

/** Longest price text read (after percent-decoding): 40 bytes. */
const MAX_PRICE_BYTES: i32 = 40;
/** The percent-decoded price (static: decoding allocates nothing). */
const decoded = new StaticArray<u8>(MAX_PRICE_BYTES);
/** 10^0 .. 10^15: the place values of a price's digits in billionths of a CPM, up to 1,000,000 CPM. */
const POW10_TO_15: StaticArray<i64> = [
  1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
  10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000, 1000000000000000,
];
/** 1,000,000 CPM in billionths of a CPM: the highest price taken. */
const MAX_PRICE_NANOS: i64 = 1000000000000000;

/**
 * Percent-decodes the query value `s` into `decoded` and trims the spaces around it (a price
 * some exchange wrote as `1.5%20`, or form-encoded with `+` for a space: `1.5+`); returns its
 * length, or -1 for a bad escape or more than MAX_PRICE_BYTES bytes. A `+` is trimmed only at
 * the end, where no number has one: in front it is the number's sign (one is taken), inside the
 * exponent's (`1.5e+3`).
 */
function decodePrice(s: Str): i32 {
  let n = 0;
  let i = 0;
  while (i < s.len) {
    let c = s.byteAt(i);
    if (c == 0x25) {
      if (i + 2 >= s.len) return -1;
      const hi = hexDigitValue(s.byteAt(i + 1));
      const lo = hexDigitValue(s.byteAt(i + 2));
      if (hi < 0 || lo < 0) return -1;
      c = <u8>((hi << 4) | lo);
      i += 3;
    } else {
      i++;
    }
    if (n == MAX_PRICE_BYTES) return -1;
    unchecked((decoded[n++] = c));
  }
  let start = 0;
  while (start < n && unchecked(decoded[start]) == 0x20) start++;
  let end = n;
  while (end > start && (unchecked(decoded[end - 1]) == 0x20 || unchecked(decoded[end - 1]) == 0x2b)) end--;
  if (start > 0) for (let k = start; k < end; k++) unchecked((decoded[k - start] = decoded[k]));
  return end - start;
}

/**
 * Parses a CPM price into micros per impression, rounded up (a part of a micro
 * under 1e-7 of the price is float32 noise, dropped). Taken: a decimal
 * number with an optional `+`, integer or fraction part (`2`, `1.25`, `.5`,
 * `1.`), and an optional exponent (`1.5E0`, `2.5e-3`, `1.0E-4`: what Java's
 * Double.toString and others print), percent-encoded or not (`1%2E5`), with
 * spaces around it. Decimals of a CPM past the ninth (under a millionth of a
 * micro) are ignored: an exchange that computes the clearing price in floating
 * point prints 0.3 as "0.30000000000000004" (or "0.29999999999999999"), and
 * refusing that notice would leave a real win uncharged. Returns -1 for
 * anything else: empty, more than 40 bytes once decoded, a minus sign, hex,
 * an unsubstituted ${AUCTION_PRICE} macro, an encrypted price, or above
 * 1,000,000 CPM. Exact: decided on the digits, no floating point.
 */
export function parseCpmToMicros(s: Str): i64 {
  if (s.len == 0 || s.len > 3 * MAX_PRICE_BYTES) return -1;
  const len = decodePrice(s);
  if (len <= 0) return -1;
  let i = 0;
  if (unchecked(decoded[0]) == 0x2b) i++; // '+'
  // The digits, and how many stand before the decimal point.
  const first = i;
  let digits = 0;
  let intDigits = -1;
  while (i < len) {
    const c = unchecked(decoded[i]);
    if (c == 0x2e) {
      if (intDigits >= 0) return -1; // a second '.'
      intDigits = digits;
    } else if (c >= 0x30 && c <= 0x39) {
      digits++;
    } else {
      break;
    }
    i++;
  }
  if (digits == 0) return -1;
  if (intDigits < 0) intDigits = digits;
  const mantissaEnd = i;
  let exponent = 0;
  if (i < len) {
    if ((unchecked(decoded[i]) | 0x20) != 0x65) return -1; // 'e' or 'E'
    i++;
    let negative = false;
    if (i < len && (unchecked(decoded[i]) == 0x2b || unchecked(decoded[i]) == 0x2d)) {
      negative = unchecked(decoded[i]) == 0x2d;
      i++;
    }
    if (i == len) return -1;
    while (i < len) {
      const c = unchecked(decoded[i]);
      if (c < 0x30 || c > 0x39) return -1;
      if (exponent < 1000) exponent = exponent * 10 + <i32>(c - 0x30);
      i++;
    }
    if (negative) exponent = -exponent;
  }
  // Billionths of a CPM, truncated: digit k (from 0) of the mantissa is worth
  // 10^(intDigits + exponent - 1 - k) CPM = 10^(intDigits + exponent + 8 - k) billionths.
  let nanos: i64 = 0;
  let k = 0;
  for (let j = first; j < mantissaEnd; j++) {
    const c = unchecked(decoded[j]);
    if (c == 0x2e) continue;
    const d = <i64>(c - 0x30);
    const place = intDigits + exponent + 8 - k;
    k++;
    if (d == 0 || place < 0) continue;
    if (place > 15) return -1;
    nanos += d * unchecked(POW10_TO_15[place]);
    if (nanos > MAX_PRICE_NANOS) return -1;
  }
  // micros per impression = CPM × 1000 = nanos / 10^6, rounded up, except within 1e-7 of the
  // micro below: a price stored as a float32 by the exchange and printed as a double
  // ("1.100000023841858" for a 1.1 bid) is that micro, not one more (which would be above the
  // bid: charged only at the TTL, and counted as an unusable price).
  let noise = nanos / 10_000_000;
  if (noise > 999_999) noise = 999_999; // less than a micro: a whole micro is never dropped
  return (nanos - noise + 999_999) / 1_000_000;
}

/** A frequency count key as the reply writes it (`fq=`: 16 hex digits, not 0), else 0. */
export function parseFrequencyKey(s: Str): u64 {
  if (s.len != 16) return 0;
  let v: u64 = 0;
  for (let i = 0; i < 16; i++) {
    const d = hexDigitValue(s.byteAt(i));
    if (d < 0) return 0;
    v = (v << 4) | <u64>d;
  }
  return v;
}
