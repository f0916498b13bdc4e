import { Str, codeAt } from "../bytes/str";
import { JsonError } from "./errors";
import { NumberStatus, NumberToken } from "./number";
import { scanString, skipString, specialBytes, StringScratch } from "./strings";

/** JSON whitespace: space, \t, \n, \r (one compare for the common non-space byte). */
@inline
function isWhitespace(c: u32): bool {
  return c <= 0x20 && (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09);
}

/** What the next value is, from its first byte. NONE: no value (the reader failed). */
export enum JsonKind {
  NONE = 0,
  OBJECT = 1,
  ARRAY = 2,
  STRING = 3,
  NUMBER = 4,
  BOOL = 5,
  NULL = 6,
}

const CONTAINER_OBJECT: u8 = 1;
const CONTAINER_ARRAY: u8 = 2;
/** Recursion is never used, but the container stack is preallocated: keep it bounded. */
export const MAX_DEPTH_LIMIT: i32 = 1024;

/**
 * A strict (RFC 8259), pull-style JSON reader over bytes in linear memory.
 *
 * The caller drives it: `peekKind()` says what comes next, `beginObject()` +
 * `nextKey()` walk an object, `beginArray()` + `nextElement()` walk an array,
 * `readString/readI64/readF64/readBool/readNull` take scalars, `skipValue()` skips
 * (and fully validates) anything the caller does not want. Every container,
 * skipped or not, counts towards the depth limit.
 *
 * Errors are values: the first one is kept (`error`, `errorAt`) and every call
 * after it returns false / NONE. No call allocates and no input traps: every
 * load is bounds-checked against `end`. Strings come back as `Str` views: into
 * the input when they hold no escape, into the scratch arena otherwise.
 */
export class JsonReader {
  /** Start of the input; offsets in errors are relative to it. */
  base: usize = 0;
  pos: usize = 0;
  end: usize = 0;
  depth: i32 = 0;
  readonly maxDepth: i32;
  error: i32 = 0;
  /** Byte offset of the error from `base`. */
  errorAt: i32 = 0;
  /** Set by beginObject/beginArray: the next nextKey/nextElement is the first one. */
  private first: bool = false;
  /** Kind of each open container by depth (skipValue needs to know how to continue). */
  private containers: StaticArray<u8>;
  readonly scratch: StringScratch;
  readonly number: NumberToken = new NumberToken();
  boolValue: bool = false;
  /**
   * After nextKey(): the key packed as FieldTable packs it, when it is under
   * 16 plain ASCII bytes (then keyPacked is true): FieldTable looks it up
   * without reading it again. Every OpenRTB key we know takes this path.
   * Under 8 bytes: the bytes zero-extended, hi 0; else the first and last 8.
   */
  keyPacked: bool = false;
  keyPackedLo: u64 = 0;
  keyPackedHi: u64 = 0;

  constructor(scratchBytes: i32 = 65536, maxDepth: i32 = 32) {
    const depth = maxDepth < 1 ? 1 : maxDepth > MAX_DEPTH_LIMIT ? MAX_DEPTH_LIMIT : maxDepth;
    this.maxDepth = depth;
    this.containers = new StaticArray<u8>(depth + 1);
    this.scratch = new StringScratch(scratchBytes);
  }

  /** Starts reading [ptr, ptr+len). Resets depth, error and the scratch arena. */
  reset(ptr: usize, len: i32): void {
    this.base = ptr;
    this.pos = ptr;
    this.end = ptr + <usize>(len < 0 ? 0 : len);
    this.depth = 0;
    this.error = 0;
    this.errorAt = 0;
    this.first = false;
    this.scratch.reset();
  }

  @inline get failed(): bool {
    return this.error != 0;
  }

  /** Offset of the read position from the start of the input. */
  @inline get offset(): i32 {
    return <i32>(this.pos - this.base);
  }

  /** Records the first error only; always returns false so callers can `return this.fail(...)`. */
  fail(code: i32, at: usize): bool {
    if (this.error == 0) {
      this.error = code;
      this.errorAt = <i32>(at - this.base);
    }
    return false;
  }

  @inline private skipWhitespace(): void {
    let p = this.pos;
    const end = this.end;
    while (p < end && isWhitespace(<u32>load<u8>(p))) p++;
    this.pos = p;
  }

  /** True when only whitespace is left (or the reader failed). */
  atEnd(): bool {
    this.skipWhitespace();
    return this.pos >= this.end;
  }

  /** After the top-level value: only whitespace may follow. */
  finish(): bool {
    if (this.failed) return false;
    this.skipWhitespace();
    if (this.pos < this.end) return this.fail(JsonError.TRAILING_CHARS, this.pos);
    return true;
  }

  /**
   * The kind of the next value, without consuming it. NONE (and an error) when no value starts here.
   * Inlined, as nextKey() is: the field layer calls both for every field, and the calls were a
   * measurable part of the parse (core bench, both cores in one process: about 1-3% of a decision).
   */
  @inline peekKind(): JsonKind {
    if (this.failed) return JsonKind.NONE;
    this.skipWhitespace();
    if (this.pos >= this.end) {
      this.fail(JsonError.UNEXPECTED_END, this.pos);
      return JsonKind.NONE;
    }
    const c = <u32>load<u8>(this.pos);
    switch (c) {
      case 0x7b: return JsonKind.OBJECT; // {
      case 0x5b: return JsonKind.ARRAY; // [
      case 0x22: return JsonKind.STRING; // "
      case 0x74: // t
      case 0x66: return JsonKind.BOOL; // f
      case 0x6e: return JsonKind.NULL; // n
      case 0x2d: return JsonKind.NUMBER; // -
    }
    if (c - 0x30 < 10) return JsonKind.NUMBER;
    this.fail(JsonError.EXPECTED_VALUE, this.pos);
    return JsonKind.NONE;
  }

  private enter(kind: u8): bool {
    if (this.depth >= this.maxDepth) return this.fail(JsonError.TOO_DEEP, this.pos);
    this.depth++;
    unchecked((this.containers[this.depth] = kind));
    this.pos++;
    this.first = true;
    return true;
  }

  /** Consumes '{'. Fails (UNEXPECTED_KIND) when the next value is not an object. */
  beginObject(): bool {
    if (this.peekKind() != JsonKind.OBJECT) return this.fail(JsonError.UNEXPECTED_KIND, this.pos);
    return this.enter(CONTAINER_OBJECT);
  }

  /** Consumes '['. Fails (UNEXPECTED_KIND) when the next value is not an array. */
  beginArray(): bool {
    if (this.peekKind() != JsonKind.ARRAY) return this.fail(JsonError.UNEXPECTED_KIND, this.pos);
    return this.enter(CONTAINER_ARRAY);
  }

  // The *Peeked variants skip the peekKind() of their plain twins: the caller
  // has just peeked and got that kind, so pos is on the value's first byte.
  // (The field layer peeks once per value; peeking again was a third of its cost.)

  /** beginObject() right after peekKind() returned OBJECT. */
  @inline beginObjectPeeked(): bool {
    return this.enter(CONTAINER_OBJECT);
  }

  /** beginArray() right after peekKind() returned ARRAY. */
  @inline beginArrayPeeked(): bool {
    return this.enter(CONTAINER_ARRAY);
  }

  /** readString() right after peekKind() returned STRING. */
  @inline readStringPeeked(out: Str): bool {
    return this.readStringAt(out);
  }

  /** readI64() right after peekKind() returned NUMBER. */
  readI64Peeked(): NumberStatus {
    if (!this.scanNumberAt()) return NumberStatus.INVALID;
    return this.number.toI64();
  }

  /** readF64() right after peekKind() returned NUMBER. */
  readF64Peeked(): NumberStatus {
    if (!this.scanNumberAt()) return NumberStatus.INVALID;
    return this.number.toF64();
  }

  /** readBool() right after peekKind() returned BOOL. */
  readBoolPeeked(): bool {
    if (load<u8>(this.pos) == 0x74) {
      this.boolValue = true;
      return this.literal("true");
    }
    this.boolValue = false;
    return this.literal("false");
  }

  /** readNull() right after peekKind() returned NULL. */
  @inline readNullPeeked(): bool {
    return this.literal("null");
  }

  /**
   * Reads the next key of the current object into `key` and consumes the ':'.
   * Returns false at the closing '}' (consumed) or on an error (check `failed`).
   * Inlined (with FieldTable.lookupPacked) into FieldReader.nextField, its caller on the bid
   * path: a call per key was about 3% of a decision in the core bench.
   */
  @inline nextKey(key: Str): bool {
    if (this.failed) return false;
    this.skipWhitespace();
    if (this.pos >= this.end) return this.fail(JsonError.UNEXPECTED_END, this.pos);
    let c = load<u8>(this.pos);
    if (this.first) {
      this.first = false;
      if (c == 0x7d) return this.leave();
    } else {
      if (c == 0x7d) return this.leave();
      if (c != 0x2c) return this.fail(JsonError.EXPECTED_COMMA_OR_BRACE, this.pos);
      this.pos++;
      this.skipWhitespace();
      if (this.pos >= this.end) return this.fail(JsonError.UNEXPECTED_END, this.pos);
      c = load<u8>(this.pos);
    }
    if (c != 0x22) return this.fail(JsonError.EXPECTED_KEY, this.pos);
    this.keyPacked = false;
    const start = this.pos + 1;
    let p: usize = 0;
    if (start + 8 <= this.end) {
      // Short plain key: its closing quote is the first special byte of one 8-byte load.
      const w = load<u64>(start);
      const n = <i32>(ctz(specialBytes(w)) >> 3); // 8 when there is none
      if (n < 8) {
        if (<u32>((w >> (<u64>n << 3)) & 0xff) == 0x22) {
          key.set(start, n);
          this.keyPackedLo = n == 0 ? 0 : w & (0xffffffffffffffff >> (<u64>(8 - n) << 3));
          this.keyPackedHi = 0;
          this.keyPacked = true;
          p = start + <usize>n + 1;
        }
      } else if (start + 16 <= this.end) {
        // 8 plain bytes: "bidfloor", "publisher", "bidfloorcur" end in the next 8.
        const w2 = load<u64>(start + 8);
        const m = <i32>(ctz(specialBytes(w2)) >> 3);
        if (m < 8 && <u32>((w2 >> (<u64>m << 3)) & 0xff) == 0x22) {
          const len = 8 + m;
          key.set(start, len);
          this.keyPackedLo = w;
          this.keyPackedHi = load<u64>(start + <usize>m); // the last 8 bytes
          this.keyPacked = true;
          p = start + <usize>len + 1;
        }
      }
    }
    if (!this.keyPacked) {
      // Longer keys, escapes, non-ASCII, or the end of the input near: the full scanner.
      if (!this.readStringAt(key)) return false;
      p = this.pos;
    }
    // ':' usually follows at once.
    const end = this.end;
    while (p < end && isWhitespace(<u32>load<u8>(p))) p++;
    if (p >= end) return this.fail(JsonError.UNEXPECTED_END, p);
    if (load<u8>(p) != 0x3a) return this.fail(JsonError.EXPECTED_COLON, p);
    this.pos = p + 1;
    return true;
  }

  /**
   * True when another element of the current array follows (positioned on it).
   * False at the closing ']' (consumed) or on an error (check `failed`).
   */
  nextElement(): bool {
    if (this.failed) return false;
    this.skipWhitespace();
    if (this.pos >= this.end) return this.fail(JsonError.UNEXPECTED_END, this.pos);
    const c = load<u8>(this.pos);
    if (this.first) {
      this.first = false;
      if (c == 0x5d) return this.leave();
      return true;
    }
    if (c == 0x5d) return this.leave();
    if (c != 0x2c) return this.fail(JsonError.EXPECTED_COMMA_OR_BRACKET, this.pos);
    this.pos++;
    return true;
  }

  /** Consumes the closing bracket at pos; returns false (end of container, no error). */
  private leave(): bool {
    this.pos++;
    this.depth--;
    this.first = false;
    return false;
  }

  /** Reads a string value into `out` (a view; see class comment). */
  readString(out: Str): bool {
    if (this.peekKind() != JsonKind.STRING) return this.fail(JsonError.UNEXPECTED_KIND, this.pos);
    return this.readStringAt(out);
  }

  private readStringAt(out: Str): bool {
    const p = scanString(this.pos, this.end, out, this.scratch);
    if (this.scratch.error != 0) return this.fail(this.scratch.error, this.scratch.errorAt);
    this.pos = p;
    return true;
  }

  /** Scans the number at the read position; typed value via readI64/readF64. */
  private scanNumber(): bool {
    if (this.peekKind() != JsonKind.NUMBER) return this.fail(JsonError.UNEXPECTED_KIND, this.pos);
    return this.scanNumberAt();
  }

  private scanNumberAt(): bool {
    const tok = this.number;
    const p = tok.scan(this.pos, this.end);
    if (tok.error != 0) return this.fail(tok.error, tok.errorAt);
    this.pos = p;
    return true;
  }

  /** Reads an integer into `number.intValue` (200.0 and 2e2 are 200). NOT_INTEGER for 1.5, 1e-1, 2^64. */
  readI64(): NumberStatus {
    if (!this.scanNumber()) return NumberStatus.INVALID;
    return this.number.toI64();
  }

  /** Reads a number into `number.floatValue`. OUT_OF_RANGE for 1e400. */
  readF64(): NumberStatus {
    if (!this.scanNumber()) return NumberStatus.INVALID;
    return this.number.toF64();
  }

  /** Reads true/false into `boolValue`. */
  readBool(): bool {
    if (this.peekKind() != JsonKind.BOOL) return this.fail(JsonError.UNEXPECTED_KIND, this.pos);
    return this.readBoolPeeked();
  }

  readNull(): bool {
    if (this.peekKind() != JsonKind.NULL) return this.fail(JsonError.UNEXPECTED_KIND, this.pos);
    return this.literal("null");
  }

  /** Matches an ASCII literal at pos, then requires a delimiter after it ("nullx" is invalid). */
  private literal(word: string): bool {
    const n = word.length;
    const p = this.pos;
    for (let i = 0; i < n; i++) {
      const q = p + <usize>i;
      if (q >= this.end) return this.fail(JsonError.UNEXPECTED_END, q);
      if (<u32>load<u8>(q) != codeAt(word, i)) return this.fail(JsonError.INVALID_LITERAL, p);
    }
    const after = p + <usize>n;
    if (after < this.end) {
      const c = <u32>load<u8>(after);
      if ((c | 0x20) - 0x61 < 26 || c - 0x30 < 10) return this.fail(JsonError.INVALID_LITERAL, p);
    }
    this.pos = after;
    return true;
  }

  /**
   * Skips the next value, validating it completely (UTF-8, escapes, numbers,
   * depth). Iterative, so hostile nesting cannot exhaust the wasm stack.
   */
  skipValue(): bool {
    const base = this.depth;
    while (true) {
      // A value starts here.
      const kind = this.peekKind();
      switch (kind) {
        case JsonKind.NONE: return false;
        case JsonKind.OBJECT: {
          if (!this.enter(CONTAINER_OBJECT)) return false;
          if (this.skipToMemberValue()) continue; // a member value follows
          if (this.failed) return false;
          break; // the object was empty
        }
        case JsonKind.ARRAY: {
          if (!this.enter(CONTAINER_ARRAY)) return false;
          if (this.nextElement()) continue; // an element follows
          if (this.failed) return false;
          break; // the array was empty
        }
        case JsonKind.STRING: {
          const p = skipString(this.pos, this.end, this.scratch);
          if (this.scratch.error != 0) return this.fail(this.scratch.error, this.scratch.errorAt);
          this.pos = p;
          break;
        }
        case JsonKind.NUMBER: {
          if (!this.scanNumberAt()) return false; // peeked just above
          break;
        }
        case JsonKind.BOOL: {
          if (!this.readBool()) return false;
          break;
        }
        default: {
          if (!this.readNull()) return false;
        }
      }
      // A value ended: close finished containers until one has another member.
      let more = false;
      while (this.depth > base) {
        if (unchecked(this.containers[this.depth]) == CONTAINER_OBJECT) {
          if (this.skipToMemberValue()) {
            more = true;
            break;
          }
        } else if (this.nextElement()) {
          more = true;
          break;
        }
        if (this.failed) return false;
      }
      if (!more) return true;
    }
    return false; // unreachable
  }

  /**
   * In a container being skipped: moves past the next key and ':' (true), or
   * past the closing '}' (false, no error). Keys are validated, not stored.
   */
  private skipToMemberValue(): bool {
    if (this.failed) return false;
    this.skipWhitespace();
    if (this.pos >= this.end) return this.fail(JsonError.UNEXPECTED_END, this.pos);
    let c = load<u8>(this.pos);
    if (this.first) {
      this.first = false;
      if (c == 0x7d) {
        this.leave();
        return false;
      }
    } else {
      if (c == 0x7d) {
        this.leave();
        return false;
      }
      if (c != 0x2c) return this.fail(JsonError.EXPECTED_COMMA_OR_BRACE, this.pos);
      this.pos++;
      this.skipWhitespace();
      if (this.pos >= this.end) return this.fail(JsonError.UNEXPECTED_END, this.pos);
      c = load<u8>(this.pos);
    }
    if (c != 0x22) return this.fail(JsonError.EXPECTED_KEY, this.pos);
    const p = skipString(this.pos, this.end, this.scratch);
    if (this.scratch.error != 0) return this.fail(this.scratch.error, this.scratch.errorAt);
    this.pos = p;
    this.skipWhitespace();
    if (this.pos >= this.end) return this.fail(JsonError.UNEXPECTED_END, this.pos);
    if (load<u8>(this.pos) != 0x3a) return this.fail(JsonError.EXPECTED_COLON, this.pos);
    this.pos++;
    return true;
  }
}
