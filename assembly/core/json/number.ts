import { JsonError } from "./errors";

/** Outcome of converting a scanned JSON number to a typed value. */
export enum NumberStatus {
  OK = 0,
  /** Valid JSON number, but not an integer that fits an i64 (a fraction such as 1.5 or 1e-1, or overflow). */
  NOT_INTEGER = 1,
  /** Valid JSON number whose magnitude does not fit an f64 (e.g. 1e400). */
  OUT_OF_RANGE = 2,
  /** Not a valid JSON number at all (the reader carries the syntax error). */
  INVALID = 3,
}

/** Largest integer below which every integer is exact in an f64. */
const TWO_POW_53: u64 = 9007199254740992;
/** Significant digits kept in the u64 mantissa: 19 always fit (10^19 - 1 < 2^64). */
const MAX_MANTISSA_DIGITS: i32 = 19;
/** Explicit exponents saturate here: far outside f64, but no i32 overflow. */
const EXPONENT_CAP: i32 = 1000000;

/** The exact powers of ten in an f64 (10^22 is the largest one). */
const POW10: StaticArray<f64> = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];
/** The powers of ten in a u64 (10^19 is the largest one). */
const POW10_U64: StaticArray<u64> = [
  1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
  10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000,
  1000000000000000, 10000000000000000, 100000000000000000, 1000000000000000000,
  10000000000000000000,
];

@inline
function isDigit(c: u32): bool {
  return c - 0x30 < 10;
}

/**
 * A number scanned in one pass: its decimal significand (up to 19 digits, as a
 * u64) and a power-of-ten exponent, with the facts the typed conversions need.
 * Reused for every number: scanning allocates nothing.
 */
export class NumberToken {
  negative: bool = false;
  mantissa: u64 = 0;
  /** Significant digits held in `mantissa`. */
  digits: i32 = 0;
  /** Decimal exponent applied to `mantissa` by fraction digits and dropped digits. */
  scale: i32 = 0;
  /** Digits before the decimal point. */
  intDigits: i32 = 0;
  /** A non-zero digit did not fit in the mantissa (precision beyond 19 digits). */
  inexact: bool = false;
  hasFraction: bool = false;
  hasExponent: bool = false;
  exponent: i32 = 0;
  error: i32 = 0;
  errorAt: usize = 0;

  intValue: i64 = 0;
  floatValue: f64 = 0;

  reset(): void {
    this.negative = false;
    this.mantissa = 0;
    this.digits = 0;
    this.scale = 0;
    this.intDigits = 0;
    this.inexact = false;
    this.hasFraction = false;
    this.hasExponent = false;
    this.exponent = 0;
    this.error = 0;
    this.errorAt = 0;
  }

  @inline private addIntegerDigit(d: u32): void {
    // The grammar forbids leading zeros, so every integer digit is significant.
    this.intDigits++;
    if (this.digits < MAX_MANTISSA_DIGITS) {
      this.mantissa = this.mantissa * 10 + <u64>d;
      this.digits++;
    } else {
      this.scale++;
      if (d != 0) this.inexact = true;
    }
  }

  @inline private addFractionDigit(d: u32): void {
    if (this.mantissa == 0 && d == 0) {
      this.scale--; // leading zeros of 0.000x only move the exponent
    } else if (this.digits < MAX_MANTISSA_DIGITS) {
      this.mantissa = this.mantissa * 10 + <u64>d;
      this.digits++;
      this.scale--;
    } else if (d != 0) {
      this.inexact = true;
    }
  }

  private fail(code: JsonError, at: usize): usize {
    this.error = code;
    this.errorAt = at;
    return at;
  }

  /**
   * Scans the RFC 8259 number at [p, end): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
   * Returns the position after it; on a syntax error `error` is set and the
   * return value is the offending position. Precondition: p < end.
   */
  scan(p: usize, end: usize): usize {
    this.reset();
    if (load<u8>(p) == 0x2d) { // '-'
      this.negative = true;
      p++;
      if (p >= end) return this.fail(JsonError.UNEXPECTED_END, p);
    }
    let c = <u32>load<u8>(p);
    if (c == 0x30) {
      p++;
    } else if (c - 0x31 < 9) {
      while (p < end) {
        c = <u32>load<u8>(p);
        if (!isDigit(c)) break;
        this.addIntegerDigit(c - 0x30);
        p++;
      }
    } else {
      return this.fail(JsonError.INVALID_NUMBER, p);
    }
    if (p < end && load<u8>(p) == 0x2e) { // '.'
      p++;
      this.hasFraction = true;
      if (p >= end) return this.fail(JsonError.UNEXPECTED_END, p);
      if (!isDigit(<u32>load<u8>(p))) return this.fail(JsonError.INVALID_NUMBER, p);
      while (p < end) {
        c = <u32>load<u8>(p);
        if (!isDigit(c)) break;
        this.addFractionDigit(c - 0x30);
        p++;
      }
    }
    if (p < end && (<u32>load<u8>(p) | 0x20) == 0x65) { // 'e' or 'E'
      p++;
      this.hasExponent = true;
      let expNegative = false;
      if (p < end) {
        c = <u32>load<u8>(p);
        if (c == 0x2b || c == 0x2d) {
          expNegative = c == 0x2d;
          p++;
        }
      }
      if (p >= end) return this.fail(JsonError.UNEXPECTED_END, p);
      if (!isDigit(<u32>load<u8>(p))) return this.fail(JsonError.INVALID_NUMBER, p);
      let e: i32 = 0;
      while (p < end) {
        c = <u32>load<u8>(p);
        if (!isDigit(c)) break;
        e = e * 10 + <i32>(c - 0x30);
        if (e > EXPONENT_CAP) e = EXPONENT_CAP;
        p++;
      }
      this.exponent = expNegative ? -e : e;
    }
    // A number ends at a delimiter: "01", "1.2.3", "1e5e", "0x1F", "12abc" are not numbers.
    if (p < end) {
      c = <u32>load<u8>(p);
      if (isDigit(c) || c == 0x2e || c == 0x2b || c == 0x2d || (c | 0x20) - 0x61 < 26) {
        return this.fail(JsonError.INVALID_NUMBER, p);
      }
    }
    return p;
  }

  /**
   * Converts to an i64 (into `intValue`): any number whose value is an exact
   * integer in the i64 range, so 200, 200.0, 2e2 and 20000e-2 all read as 200.
   * (JSON has one number type: JSON.parse cannot tell 200 from 200.0, and
   * exchanges send both.) NOT_INTEGER for 1.5, 1e-400, 2^63.
   */
  toI64(): NumberStatus {
    // Plain digits, the common case: the mantissa is the value (no fraction
    // or exponent work on this path).
    if (this.hasFraction || this.hasExponent) return this.integralToI64();
    if (this.intDigits > MAX_MANTISSA_DIGITS) return NumberStatus.NOT_INTEGER;
    return this.signedToI64(this.mantissa);
  }

  /**
   * toI64() for a number written with a fraction or an exponent. Decided on
   * the decimal digits, exactly (no f64 rounding): the value is
   * mantissa * 10^(scale + exponent), plus a dropped non-zero digit when
   * `inexact`.
   */
  private integralToI64(): NumberStatus {
    const m = this.mantissa;
    if (m == 0) {
      // Every digit kept was a zero, and a non-zero one is always kept first: 0.0, -0e5.
      this.intValue = 0;
      return NumberStatus.OK;
    }
    // A dropped non-zero digit lies below a full 19-digit mantissa (>= 10^18):
    // for it to be in the integer part the value must be >= 10^19, past i64.
    if (this.inexact) return NumberStatus.NOT_INTEGER;
    // A capped exponent is off by an unknown amount; such a number would need a
    // million digits to be an i64 integer.
    if (this.exponent == EXPONENT_CAP || this.exponent == -EXPONENT_CAP) return NumberStatus.NOT_INTEGER;
    const e = this.scale + this.exponent;
    if (e < 0) {
      // m < 10^19: a fraction of more than 19 digits cannot divide out.
      if (e < -MAX_MANTISSA_DIGITS) return NumberStatus.NOT_INTEGER;
      const p = unchecked(POW10_U64[-e]);
      if (m % p != 0) return NumberStatus.NOT_INTEGER;
      return this.signedToI64(m / p);
    }
    // m >= 1, so 10^19 or more is past i64; below that, m * 10^e must not wrap.
    if (e >= MAX_MANTISSA_DIGITS) return NumberStatus.NOT_INTEGER;
    const p = unchecked(POW10_U64[e]);
    if (m > <u64>0x8000000000000000 / p) return NumberStatus.NOT_INTEGER;
    return this.signedToI64(m * p);
  }

  /** Stores the magnitude `m` with the token's sign, if the result fits an i64. */
  @inline private signedToI64(m: u64): NumberStatus {
    if (this.negative) {
      if (m > <u64>0x8000000000000000) return NumberStatus.NOT_INTEGER;
      this.intValue = -(<i64>m); // m == 2^63 wraps to i64.MIN, which is right
    } else {
      if (m > <u64>0x7fffffffffffffff) return NumberStatus.NOT_INTEGER;
      this.intValue = <i64>m;
    }
    return NumberStatus.OK;
  }

  /**
   * Converts to an f64 (into `floatValue`). Exact (correctly rounded) when the
   * significand fits 53 bits and the power of ten is exact (Clinger's fast
   * path, which covers prices, coordinates and sizes); otherwise within a
   * couple of ulps. "-0" gives +0.
   */
  toF64(): NumberStatus {
    const m = this.mantissa;
    if (m == 0) {
      this.floatValue = 0;
      return NumberStatus.OK;
    }
    let e = this.scale + this.exponent;
    let x: f64;
    if (!this.inexact && m <= TWO_POW_53 && e >= -22 && e <= 22 + 15) {
      if (e < 0) {
        x = <f64>m / unchecked(POW10[-e]);
      } else if (e <= 22) {
        x = <f64>m * unchecked(POW10[e]);
      } else if (m <= TWO_POW_53 / unchecked(POW10_U64[e - 22])) {
        // 123e30 = (123 * 10^8) * 10^22, both factors exact.
        x = <f64>(m * unchecked(POW10_U64[e - 22])) * 1e22;
      } else {
        x = this.slowScale(m, e);
      }
    } else {
      const magnitude = this.digits + e; // value is in [10^(magnitude-1), 10^magnitude)
      if (magnitude > 310) return NumberStatus.OUT_OF_RANGE;
      if (magnitude < -330) {
        this.floatValue = 0; // underflows to zero, like any f64 parser
        return NumberStatus.OK;
      }
      x = this.slowScale(m, e);
    }
    if (!isFinite(x)) return NumberStatus.OUT_OF_RANGE;
    this.floatValue = this.negative ? -x : x;
    return NumberStatus.OK;
  }

  private slowScale(m: u64, e: i32): f64 {
    let x = <f64>m;
    if (e >= 0) return x * Math.pow(10, <f64>e);
    // Divide by a normal power of ten (10^-e itself would be subnormal below -308).
    while (e < -308) {
      x /= 1e22;
      e += 22;
    }
    return x / Math.pow(10, <f64>-e);
  }
}
