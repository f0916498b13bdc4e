import { codeAt } from "../bytes/str";
import { HIGHS, ONES } from "./swar";
// ByteWriter: appends bytes into one preallocated buffer (replies, shared-data
// records, log lines). Writes that do not fit set `overflowed` instead of
// growing, so a caller checks once at the end and nothing allocates per request.

const HEX: string = "0123456789abcdef";
const HEX_UPPER: string = "0123456789ABCDEF";

/**
 * The high bit of every byte of `w` that a JSON string must escape: a quote, a
 * backslash or a control character (UTF-8 bytes >= 0x80 pass). Bytes above the
 * lowest flagged one may be flagged wrongly (borrows), never the lowest:
 * ctz(result) >> 3 is the index of the first byte to escape (8 when none).
 */
@inline
function escapeBytes(w: u64): u64 {
  const quote = w ^ 0x2222222222222222;
  const backslash = w ^ 0x5c5c5c5c5c5c5c5c;
  return (
    (((w - 0x2020202020202020) & ~w) | ((quote - ONES) & ~quote) | ((backslash - ONES) & ~backslash)) &
    HIGHS
  );
}

export class ByteWriter {
  readonly base: usize;
  readonly capacity: i32;
  len: i32 = 0;
  overflowed: bool = false;

  constructor(capacity: i32) {
    this.capacity = capacity;
    this.base = heap.alloc(<usize>capacity);
  }

  @inline reset(): void {
    this.len = 0;
    this.overflowed = false;
  }

  @inline private room(n: i32): bool {
    if (this.len + n > this.capacity) {
      this.overflowed = true;
      return false;
    }
    return true;
  }

  @inline byte(b: u8): void {
    if (this.room(1)) {
      store<u8>(this.base + <usize>this.len, b);
      this.len++;
    }
  }

  bytes(ptr: usize, n: i32): void {
    if (n <= 0) return;
    if (this.room(n)) {
      memory.copy(this.base + <usize>this.len, ptr, <usize>n);
      this.len += n;
    }
  }

  /** Appends an ASCII string literal (static, so no allocation). */
  ascii(s: string): void {
    const n = s.length;
    if (!this.room(n)) return;
    const p = this.base + <usize>this.len;
    const src = changetype<usize>(s); // UTF-16 code units
    let i = 0;
    // Four characters a step: the low bytes of four u16 units packed into one u32.
    for (; i + 4 <= n; i += 4) {
      const v = load<u64>(src + (<usize>i << 1));
      const packed = (v & 0xff) | ((v >> 8) & 0xff00) | ((v >> 16) & 0xff0000) | ((v >> 24) & 0xff000000);
      store<u32>(p + <usize>i, <u32>packed);
    }
    for (; i < n; i++) store<u8>(p + <usize>i, <u8>load<u16>(src + (<usize>i << 1)));
    this.len += n;
  }

  /** Decimal digits of an unsigned integer. */
  u64(v: u64): void {
    let tmp: u64 = v;
    let digits = 1;
    while (tmp >= 10) {
      tmp /= 10;
      digits++;
    }
    if (!this.room(digits)) return;
    let p = this.base + <usize>(this.len + digits - 1);
    do {
      store<u8>(p, <u8>(0x30 + <u32>(v % 10)));
      v /= 10;
      p--;
    } while (v != 0);
    this.len += digits;
  }

  i64(v: i64): void {
    if (v < 0) {
      this.byte(0x2d);
      this.u64(<u64>(-v));
    } else {
      this.u64(<u64>v);
    }
  }

  /** value / 10^scale as a decimal with trailing zeros trimmed (exact: no float printing). */
  fixed(value: i64, scale: i32): void {
    let mag: u64 = <u64>value;
    if (value < 0) {
      this.byte(0x2d);
      mag = 0 - mag; // two's complement magnitude, exact for i64.MIN_VALUE too
    }
    let div: u64 = 1;
    for (let i = 0; i < scale; i++) div *= 10;
    this.u64(mag / div);
    let frac = mag % div;
    if (frac == 0) return;
    this.byte(0x2e);
    let d = div / 10;
    while (frac != 0 && d > 0) {
      const digit = frac / d;
      this.byte(<u8>(0x30 + <u32>digit));
      frac -= digit * d;
      d /= 10;
    }
  }

  /**
   * A JSON string body (without quotes): escapes ", \ and control characters; UTF-8 passes through.
   * Plain runs are found 8 bytes at a time (escapeBytes) and copied whole: the request id, the
   * notice base URL and paths are echoed into every reply and rarely need an escape.
   */
  jsonEscaped(ptr: usize, n: i32): void {
    if (n <= 0) return;
    const end = ptr + <usize>n;
    let run = ptr; // start of the current run of bytes that need no escape
    let p = ptr;
    while (p < end) {
      if (p + 8 <= end) {
        const e = escapeBytes(load<u64>(p));
        if (e == 0) {
          p += 8;
          continue;
        }
        p += <usize>(ctz(e) >> 3); // the first byte to escape
      } else {
        const c = load<u8>(p);
        if (c >= 0x20 && c != 0x22 && c != 0x5c) {
          p++;
          continue;
        }
      }
      const c = load<u8>(p);
      this.bytes(run, <i32>(p - run));
      if (c == 0x22 || c == 0x5c) {
        this.byte(0x5c);
        this.byte(c);
      } else {
        this.ascii("\\u00");
        this.byte(<u8>codeAt(HEX, c >> 4));
        this.byte(<u8>codeAt(HEX, c & 15));
      }
      p++;
      run = p;
    }
    this.bytes(run, <i32>(end - run));
  }

  /** Percent-encodes for a URL query value (RFC 3986 unreserved characters pass through). */
  urlEncoded(ptr: usize, n: i32): void {
    for (let i = 0; i < n; i++) {
      const c = load<u8>(ptr + <usize>i);
      const unreserved =
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
        c == 0x2d || c == 0x2e || c == 0x5f || c == 0x7e;
      if (unreserved) {
        this.byte(c);
      } else {
        this.byte(0x25);
        this.byte(<u8>codeAt(HEX_UPPER, c >> 4));
        this.byte(<u8>codeAt(HEX_UPPER, c & 15));
      }
    }
  }

  /** `v` as 16 lower-case hex digits, most significant first. */
  hexU64(v: u64): void {
    for (let i = 60; i >= 0; i -= 4) this.byte(<u8>codeAt(HEX, <i32>((v >> <u64>i) & 15)));
  }

  /** Lower-case hex of n bytes. */
  hex(ptr: usize, n: i32): void {
    for (let i = 0; i < n; i++) {
      const c = load<u8>(ptr + <usize>i);
      this.byte(<u8>codeAt(HEX, c >> 4));
      this.byte(<u8>codeAt(HEX, c & 15));
    }
  }
}
