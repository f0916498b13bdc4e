import { Str, hexDigitValue } from "../bytes/str";
import { HIGHS, ONES } from "../bytes/swar";
import { JsonError } from "./errors";
import { utf8Encode, utf8EncodedLength, utf8SequenceLength } from "./utf8";

/**
 * Fixed arena for unescaped strings. Unescaping never makes a string longer
 * (the shortest escape, \n, is 2 bytes for 1; \uXXXX is 6 for at most 3; a
 * surrogate pair is 12 for 4), so an arena as large as the body limit can never
 * run out; running out is still an error, never an overflow. Also carries the
 * string scanner's error so the scanner functions need no other state.
 */
export class StringScratch {
  private buffer: ArrayBuffer;
  readonly base: usize;
  readonly capacity: i32;
  used: i32 = 0;
  error: i32 = 0;
  errorAt: usize = 0;
  /**
   * A \u escape of a lone surrogate (`"\uD83D"` not followed by a low one, a low one alone) is
   * read as U+FFFD instead of refused, as most JSON decoders do (RFC 8259 §8.2 leaves it to them);
   * JavaScript's JSON.stringify writes such escapes for a string cut inside an emoji pair.
   */
  replaceLoneSurrogates: bool = false;
  /** Lone surrogates read as U+FFFD since reset(). */
  replaced: i32 = 0;

  constructor(capacity: i32) {
    const cap = capacity < 16 ? 16 : capacity;
    const buffer = new ArrayBuffer(cap);
    this.buffer = buffer;
    this.capacity = cap;
    this.base = changetype<usize>(buffer);
  }

  @inline reset(): void {
    this.used = 0;
    this.error = 0;
    this.errorAt = 0;
    this.replaced = 0;
  }

  /**
   * The code point a lone surrogate escape reads as: U+FFFD (counted) when replaceLoneSurrogates,
   * else -1 (the caller refuses it).
   */
  @inline loneSurrogate(): i32 {
    if (!this.replaceLoneSurrogates) return -1;
    this.replaced++;
    return 0xfffd;
  }

  @inline fail(code: i32, at: usize): usize {
    this.error = code;
    this.errorAt = at;
    return at;
  }
}

/** Reads the 4 hex digits of a \u escape at p (just after "\u"); -1 if malformed, -2 if cut by end. */
function readHex4(p: usize, end: usize): i32 {
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const q = p + <usize>i;
    if (q >= end) return -2;
    const h = hexDigitValue(<u32>load<u8>(q));
    if (h < 0) return -1;
    v = (v << 4) | h;
  }
  return v;
}

/**
 * The high bit of every byte of `w` that needs a closer look inside a string:
 * a quote, a backslash, a control character or a non-ASCII byte. Bytes above
 * the lowest flagged one may be flagged wrongly (borrows), never the lowest:
 * ctz(result) >> 3 is the index of the first special byte (8 when none).
 */
@inline
export function specialBytes(w: u64): u64 {
  const quote = w ^ 0x2222222222222222;
  const backslash = w ^ 0x5c5c5c5c5c5c5c5c;
  const special =
    ((w - 0x2020202020202020) & ~w) | // some byte < 0x20 (or >= 0x80, caught below too)
    ((quote - ONES) & ~quote) |
    ((backslash - ONES) & ~backslash) |
    w; // high bit: non-ASCII
  return special & HIGHS;
}

/**
 * The first byte at or after `p` that needs a closer look inside a string (a
 * quote, a backslash, a control or non-ASCII byte), found 8 bytes at a time
 * (SWAR); within the last 7 bytes before `end`, `p` itself when the 8-byte load
 * would pass `end` (the caller then goes byte by byte). Jumping straight to the
 * special byte saves the byte-by-byte walk over the plain bytes before it.
 */
@inline
function nextSpecial(p: usize, end: usize): usize {
  while (p + 8 <= end) {
    const special = specialBytes(load<u64>(p));
    if (special != 0) return p + <usize>(ctz(special) >> 3);
    p += 8;
  }
  return p;
}

/**
 * Scans the string whose opening quote is at `p`. Without escapes `out` views
 * the input; with escapes the unescaped bytes go to the scratch arena and `out`
 * views them. Returns the position after the closing quote, or, with
 * scratch.error set, the position of the problem.
 */
export function scanString(p: usize, end: usize, out: Str, scratch: StringScratch): usize {
  const start = p + 1;
  p = start;
  while (true) {
    p = nextSpecial(p, end);
    if (p >= end) return scratch.fail(JsonError.UNEXPECTED_END, p);
    const c = <u32>load<u8>(p);
    if (c == 0x22) {
      out.set(start, <i32>(p - start));
      return p + 1;
    }
    if (c == 0x5c) return unescapeRest(start, p, end, out, scratch);
    if (c < 0x20) return scratch.fail(JsonError.CONTROL_CHAR, p);
    if (c < 0x80) {
      p++;
    } else {
      const n = utf8SequenceLength(p, end);
      if (n == 0) return scratch.fail(JsonError.INVALID_UTF8, p);
      p += <usize>n;
    }
  }
}

/** Validates the string at `p` (opening quote) without storing it; returns the position after it. */
export function skipString(p: usize, end: usize, scratch: StringScratch): usize {
  const start = p + 1;
  p = start;
  while (true) {
    p = nextSpecial(p, end);
    if (p >= end) return scratch.fail(JsonError.UNEXPECTED_END, p);
    const c = <u32>load<u8>(p);
    if (c == 0x22) return p + 1;
    if (c == 0x5c) return unescapeRest(start, p, end, null, scratch);
    if (c < 0x20) return scratch.fail(JsonError.CONTROL_CHAR, p);
    if (c < 0x80) {
      p++;
    } else {
      const n = utf8SequenceLength(p, end);
      if (n == 0) return scratch.fail(JsonError.INVALID_UTF8, p);
      p += <usize>n;
    }
  }
}

/**
 * The rest of a string from its first backslash at `p`. With an `out`, copies
 * [start, p) and the decoded rest into the scratch arena and points `out` at
 * it; without (skipping), only validates.
 */
function unescapeRest(start: usize, p: usize, end: usize, out: Str | null, scratch: StringScratch): usize {
  const keep = out !== null;
  const base = scratch.base;
  const cap = <usize>scratch.capacity;
  const first = <usize>scratch.used;
  let w = first;
  if (keep) {
    const prefix = p - start;
    if (w + prefix > cap) return scratch.fail(JsonError.STRING_TOO_LONG, start - 1);
    memory.copy(base + w, start, prefix);
    w += prefix;
  }
  while (true) {
    if (p >= end) return scratch.fail(JsonError.UNEXPECTED_END, p);
    let c = <u32>load<u8>(p);
    if (c == 0x22) {
      if (keep) {
        out!.set(base + first, <i32>(w - first));
        scratch.used = <i32>w;
      }
      return p + 1;
    }
    if (c == 0x5c) {
      const escapeAt = p;
      p++;
      if (p >= end) return scratch.fail(JsonError.UNEXPECTED_END, p);
      c = <u32>load<u8>(p);
      p++;
      let cp: u32;
      switch (c) {
        case 0x22: cp = 0x22; break; // \"
        case 0x5c: cp = 0x5c; break; // \\
        case 0x2f: cp = 0x2f; break; // \/
        case 0x62: cp = 0x08; break; // \b
        case 0x66: cp = 0x0c; break; // \f
        case 0x6e: cp = 0x0a; break; // \n
        case 0x72: cp = 0x0d; break; // \r
        case 0x74: cp = 0x09; break; // \t
        case 0x75: { // \uXXXX
          const u = readHex4(p, end);
          if (u == -2) return scratch.fail(JsonError.UNEXPECTED_END, end);
          if (u < 0) return scratch.fail(JsonError.INVALID_ESCAPE, escapeAt);
          p += 4;
          cp = <u32>u;
          if (cp >= 0xdc00 && cp <= 0xdfff) {
            const r = scratch.loneSurrogate();
            if (r < 0) return scratch.fail(JsonError.LONE_SURROGATE, escapeAt);
            cp = <u32>r;
          } else if (cp >= 0xd800 && cp <= 0xdbff) {
            // A high surrogate must be followed at once by an escaped low one.
            if (p >= end) return scratch.fail(JsonError.UNEXPECTED_END, end);
            let pair = load<u8>(p) == 0x5c;
            if (pair) {
              if (p + 1 >= end) return scratch.fail(JsonError.UNEXPECTED_END, end);
              pair = load<u8>(p + 1) == 0x75;
            }
            let lo: i32 = -1;
            if (pair) {
              lo = readHex4(p + 2, end);
              if (lo == -2) return scratch.fail(JsonError.UNEXPECTED_END, end);
              if (lo < 0) return scratch.fail(JsonError.INVALID_ESCAPE, p);
              pair = lo >= 0xdc00 && lo <= 0xdfff;
            }
            if (pair) {
              p += 6;
              cp = 0x10000 + (((cp - 0xd800) << 10) | (<u32>lo - 0xdc00));
            } else {
              // What follows is read on its own (another escape, a quote, a character).
              const r = scratch.loneSurrogate();
              if (r < 0) return scratch.fail(JsonError.LONE_SURROGATE, escapeAt);
              cp = <u32>r;
            }
          }
          break;
        }
        default:
          return scratch.fail(JsonError.INVALID_ESCAPE, escapeAt);
      }
      if (keep) {
        if (w + <usize>utf8EncodedLength(cp) > cap) return scratch.fail(JsonError.STRING_TOO_LONG, escapeAt);
        w += <usize>utf8Encode(cp, base + w);
      }
      continue;
    }
    if (c < 0x20) return scratch.fail(JsonError.CONTROL_CHAR, p);
    let n: usize = 1;
    if (c >= 0x80) {
      n = <usize>utf8SequenceLength(p, end);
      if (n == 0) return scratch.fail(JsonError.INVALID_UTF8, p);
    }
    if (keep) {
      if (w + n > cap) return scratch.fail(JsonError.STRING_TOO_LONG, p);
      memory.copy(base + w, p, n);
      w += n;
    }
    p += n;
  }
}
