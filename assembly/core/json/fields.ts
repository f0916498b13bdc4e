import { Str } from "../bytes/str";
import { JsonError, jsonErrorText } from "./errors";
import { IntList, StrList } from "./lists";
import { MessageBuffer } from "./message";
import { NumberStatus } from "./number";
import { JsonPath } from "./path";
import { FieldTable } from "./field-table";
import { JsonKind, JsonReader } from "./reader";
import { utf8TruncatedLength } from "./utf8";

/** nextField() results that are not a field index. */
export const FIELD_END: i32 = -1;
export const FIELD_ERROR: i32 = -2;
/** Field tables may list at most this many names (one bit each for duplicate detection). */
export const MAX_FIELDS_PER_OBJECT: i32 = 64;

/** `kind` before the next value is peeked (a value was just consumed). */
const KIND_UNKNOWN: i32 = -1;

/**
 * Typed reading of a JSON document with known fields, on top of JsonReader:
 * the rules every document of ours follows, in one place.
 *
 * - Known fields come from a table of names; unknown ones are skipped (and
 *   validated). A known field given twice in one object is an error, even if
 *   one of the values is null.
 * - `null` for a known field means "absent": nextField() consumes it and moves on.
 * - Wrong types are errors: `imp[0].banner.w: expected integer`; with
 *   `tolerant`, a few unambiguous ones that exchanges send are read as meant
 *   instead (see the field's doc) and counted in `coercedValues`.
 * - Errors are written once into a fixed message buffer as `<path>: <reason>`,
 *   or for invalid JSON `$: <reason> at byte <offset>`. Nothing allocates.
 */
export class FieldReader {
  readonly reader: JsonReader;
  readonly path: JsonPath = new JsonPath();
  readonly message: MessageBuffer = new MessageBuffer(256);
  /** The key just read (a view into the input or the scratch arena). */
  readonly key: Str = new Str();
  /** Duplicate detection: one bit per field-table entry, one word per open object. */
  private seen: StaticArray<u64>;
  private level: i32 = 0;
  /** Receives strings that are validated but not kept (list elements past capacity). */
  private discard: Str = new Str();
  error: i32 = 0;
  /**
   * Kind of the value at the read position, peeked once by nextField() /
   * nextElement() / peekValue() so the typed readers need not peek again;
   * KIND_UNKNOWN after a value was consumed.
   */
  private kind: i32 = KIND_UNKNOWN;
  intValue: i64 = 0;
  floatValue: f64 = 0;
  /** Strings cut at maxLen (at a UTF-8 character boundary) since reset(). */
  truncatedStrings: i32 = 0;
  /** Arrays that had more elements than their capacity since reset(). */
  truncatedArrays: i32 = 0;
  /**
   * Read values whose JSON type is one exchanges send in place of the right
   * one, each meaning one thing only: `true`/`false` for a 0/1 flag, a
   * number written as a JSON string (`"0.5"`, `"120"`: the whole string, by
   * the JSON number grammar) where a number is expected, a number where a
   * string is expected (`"id": 123` reads as the text `123`), and a single
   * value where an array of them is expected (`"cur": "USD"`). Anything else
   * of the wrong type is still an error. Off by default: configuration and
   * campaign files are read strictly; the OpenRTB parser turns it on.
   */
  tolerant: bool = false;
  /** Values read through one of the `tolerant` readings since reset(). */
  coercedValues: i32 = 0;

  constructor(scratchBytes: i32 = 65536, maxDepth: i32 = 32) {
    const reader = new JsonReader(scratchBytes, maxDepth);
    this.reader = reader;
    this.seen = new StaticArray<u64>(reader.maxDepth + 2);
  }

  reset(ptr: usize, len: i32): void {
    this.reader.reset(ptr, len);
    this.path.clear();
    this.message.clear();
    this.key.clear();
    this.level = 0;
    this.error = 0;
    this.kind = KIND_UNKNOWN;
    this.intValue = 0;
    this.floatValue = 0;
    this.truncatedStrings = 0;
    this.truncatedArrays = 0;
    this.coercedValues = 0;
  }

  @inline get failed(): bool {
    return this.error != 0;
  }

  /** Records `<path>: <reason>` (first error only). Returns false. */
  fail(code: i32, reason: string): bool {
    if (this.error != 0) return false;
    this.error = code;
    const m = this.message;
    m.clear();
    this.path.writeTo(m);
    m.appendAscii(": ");
    m.appendAscii(reason);
    return false;
  }

  /** Records `<path>: <reason><n><suffix>` (first error only). Returns false. */
  failNumber(code: i32, reason: string, n: i64, suffix: string): bool {
    if (this.error != 0) return false;
    this.fail(code, reason);
    this.message.appendInt(n);
    this.message.appendAscii(suffix);
    return false;
  }

  /** Turns the reader's syntax error into `$: <reason> at byte <offset>`. Returns false. */
  failSyntax(): bool {
    if (this.error != 0) return false;
    const r = this.reader;
    const code = r.error != 0 ? r.error : JsonError.EXPECTED_VALUE;
    this.error = code;
    const m = this.message;
    m.clear();
    m.appendAscii("$: ");
    m.appendAscii(jsonErrorText(code));
    if (code == JsonError.TOO_DEEP) {
      m.appendByte(0x20);
      m.appendInt(r.maxDepth);
    }
    m.appendAscii(" at byte ");
    m.appendInt(r.errorAt);
    return false;
  }

  /** Peeks the next value and remembers its kind (NONE after a syntax error). */
  peekValue(): JsonKind {
    const k = this.reader.peekKind();
    this.kind = k;
    return k;
  }

  /** Requires the next value to be of `kind`; otherwise `<path>: expected <what>`. */
  expect(kind: JsonKind, what: string): bool {
    if (this.error != 0) return false;
    let k = this.kind;
    if (k == KIND_UNKNOWN) k = this.peekValue();
    if (k == JsonKind.NONE) return this.failSyntax();
    if (k != kind) {
      // A malformed value ("tru", "01") is reported as such, not as a wrong type.
      this.kind = KIND_UNKNOWN;
      if (!this.reader.skipValue()) return this.failSyntax();
      return this.fail(JsonError.WRONG_TYPE, what);
    }
    return true;
  }

  /** The expected value was consumed (or failed): the next one must be peeked. */
  @inline private consumed(ok: bool): bool {
    this.kind = KIND_UNKNOWN;
    return ok;
  }

  /** Opens an object value (`expected object` otherwise) and starts duplicate tracking for it. */
  beginObject(): bool {
    if (!this.expect(JsonKind.OBJECT, "expected object")) return false;
    if (!this.consumed(this.reader.beginObjectPeeked())) return this.failSyntax();
    const l = this.level + 1;
    this.level = l;
    if (l < this.seen.length) unchecked((this.seen[l] = 0));
    return true;
  }

  /**
   * Moves to the next known, non-null field of the current object and pushes
   * its name on the path (the caller pops it with endField()). Returns its
   * index in `names`, FIELD_END after the closing '}', or FIELD_ERROR.
   */
  nextField(table: FieldTable): i32 {
    const r = this.reader;
    while (true) {
      if (this.error != 0) return FIELD_ERROR;
      if (!r.nextKey(this.key)) {
        if (r.failed) {
          this.failSyntax();
          return FIELD_ERROR;
        }
        if (this.level > 0) this.level--;
        return FIELD_END;
      }
      const key = this.key;
      const i = r.keyPacked ? table.lookupPacked(key.ptr, key.len, r.keyPackedLo, r.keyPackedHi) : table.lookup(key.ptr, key.len);
      if (i < 0) {
        if (!r.skipValue()) {
          this.failSyntax();
          return FIELD_ERROR;
        }
        continue;
      }
      const l = this.level;
      if (i < MAX_FIELDS_PER_OBJECT && l < this.seen.length) {
        const bit = (<u64>1) << <u64>i;
        const seen = unchecked(this.seen[l]);
        if (seen & bit) {
          this.path.pushField(unchecked(table.names[i]));
          this.fail(JsonError.DUPLICATE_KEY, "duplicate key");
          return FIELD_ERROR;
        }
        unchecked((this.seen[l] = seen | bit));
      }
      const kind = r.peekKind();
      if (kind == JsonKind.NONE) {
        this.failSyntax();
        return FIELD_ERROR;
      }
      if (kind == JsonKind.NULL) {
        if (!r.readNullPeeked()) {
          this.failSyntax();
          return FIELD_ERROR;
        }
        continue; // null = absent
      }
      this.kind = kind;
      this.path.pushField(unchecked(table.names[i]));
      return i;
    }
    return FIELD_ERROR; // unreachable
  }

  @inline endField(): void {
    this.path.pop();
  }

  /** Opens an array value (`expected array` otherwise). */
  beginArray(): bool {
    if (!this.expect(JsonKind.ARRAY, "expected array")) return false;
    if (!this.consumed(this.reader.beginArrayPeeked())) return this.failSyntax();
    return true;
  }

  /**
   * True when element `index` follows; pushes `[index]` on the path (pop with
   * endElement()). False at the closing ']' or on an error (check `failed`).
   */
  nextElement(index: i32): bool {
    if (this.error != 0) return false;
    if (!this.reader.nextElement()) {
      if (this.reader.failed) this.failSyntax();
      return false;
    }
    this.path.pushIndex(index);
    if (this.peekValue() == JsonKind.NONE) {
      this.failSyntax();
      return false;
    }
    return true;
  }

  @inline endElement(): void {
    this.path.pop();
  }

  /** Skips the current value (validating it). */
  skip(): bool {
    if (this.error != 0) return false;
    if (!this.consumed(this.reader.skipValue())) return this.failSyntax();
    return true;
  }

  /** Reads an integer in [min, max] into `intValue`. */
  readInt(min: i64, max: i64): bool {
    if (this.tolerant && this.error == 0 && this.valueKind() != JsonKind.NUMBER) return this.readIntTolerant(min, max);
    if (!this.expect(JsonKind.NUMBER, "expected integer")) return false;
    const status = this.reader.readI64Peeked();
    this.kind = KIND_UNKNOWN;
    if (status == NumberStatus.INVALID) return this.failSyntax();
    return this.takeInt(status, min, max);
  }

  /** The end of readInt() once the number is scanned: the integer check and the range. */
  private takeInt(status: NumberStatus, min: i64, max: i64): bool {
    if (status != NumberStatus.OK) return this.fail(JsonError.WRONG_TYPE, "expected integer");
    const v = this.reader.number.intValue;
    if (v < min || v > max) return this.fail(JsonError.OUT_OF_RANGE, "out of range");
    this.intValue = v;
    return true;
  }

  /**
   * readInt() of a value that is not a JSON number: a boolean for a flag (a
   * field read as 0..1; `"h": true` stays an error), or a number in a string.
   */
  private readIntTolerant(min: i64, max: i64): bool {
    const k = this.valueKind();
    if (k == JsonKind.BOOL && min == 0 && max == 1) {
      if (!this.consumed(this.reader.readBoolPeeked())) return this.failSyntax();
      this.coercedValues++;
      this.intValue = this.reader.boolValue ? 1 : 0;
      return true;
    }
    if (k != JsonKind.STRING) return this.expect(JsonKind.NUMBER, "expected integer");
    if (!this.readNumberText()) return this.error != 0 ? false : this.fail(JsonError.WRONG_TYPE, "expected integer");
    return this.takeInt(this.reader.number.toI64(), min, max);
  }

  /**
   * Reads the string at the read position and scans all of it as a JSON
   * number into `reader.number` (counted as coerced). False when the string
   * is not one number (the caller reports its type error), or on a syntax
   * error (recorded).
   */
  private readNumberText(): bool {
    const text = this.discard;
    if (!this.consumed(this.reader.readStringPeeked(text))) return this.failSyntax();
    if (text.len == 0) return false;
    const tok = this.reader.number;
    const end = text.ptr + <usize>text.len;
    if (tok.scan(text.ptr, end) != end || tok.error != 0) return false;
    this.coercedValues++;
    return true;
  }

  /** Reads a number in [min, max] into `floatValue`. */
  readNumber(min: f64, max: f64): bool {
    let status: NumberStatus;
    if (this.tolerant && this.error == 0 && this.valueKind() == JsonKind.STRING) {
      if (!this.readNumberText()) return this.error != 0 ? false : this.fail(JsonError.WRONG_TYPE, "expected number");
      status = this.reader.number.toF64();
    } else {
      if (!this.expect(JsonKind.NUMBER, "expected number")) return false;
      status = this.reader.readF64Peeked();
      this.kind = KIND_UNKNOWN;
      if (status == NumberStatus.INVALID) return this.failSyntax();
    }
    if (status != NumberStatus.OK) return this.fail(JsonError.OUT_OF_RANGE, "out of range");
    const v = this.reader.number.floatValue;
    if (!(v >= min && v <= max)) return this.fail(JsonError.OUT_OF_RANGE, "out of range");
    this.floatValue = v;
    return true;
  }

  /** Kind of the value at the read position (peeked at most once). */
  valueKind(): JsonKind {
    const k = this.kind;
    return k == KIND_UNKNOWN ? this.peekValue() : <JsonKind>k;
  }

  /**
   * Reads an object as its raw JSON text: `dst` views the exact bytes from '{'
   * to '}' in the input. The object is validated like any other value (syntax,
   * UTF-8, depth) but not interpreted. Longer than maxLen bytes is cut at a
   * character boundary and counted, as readString() does.
   */
  readObjectText(dst: Str, maxLen: i32): bool {
    if (!this.expect(JsonKind.OBJECT, "expected object")) return false;
    const r = this.reader;
    const start = r.pos; // peeking left the read position on the '{'
    if (!this.consumed(r.skipValue())) return this.failSyntax();
    dst.set(start, <i32>(r.pos - start));
    if (dst.len > maxLen) {
      dst.len = utf8TruncatedLength(dst.ptr, dst.len, maxLen);
      this.truncatedStrings++;
    }
    return true;
  }

  /** Reads true/false into `reader.boolValue`. */
  readBool(): bool {
    if (!this.expect(JsonKind.BOOL, "expected boolean")) return false;
    if (!this.consumed(this.reader.readBoolPeeked())) return this.failSyntax();
    return true;
  }

  /** Reads a string; longer than maxLen bytes is cut at a character boundary and counted. */
  readString(dst: Str, maxLen: i32): bool {
    if (!this.readStringValue(dst)) return false;
    if (dst.len > maxLen) {
      dst.len = utf8TruncatedLength(dst.ptr, dst.len, maxLen);
      this.truncatedStrings++;
    }
    return true;
  }

  /**
   * Reads an identifier that will be echoed back (so it may not be cut):
   * empty or longer than maxLen bytes is an error.
   */
  readId(dst: Str, maxLen: i32): bool {
    if (!this.readStringValue(dst)) return false;
    if (dst.len == 0) return this.fail(JsonError.EMPTY_VALUE, "must not be empty");
    if (dst.len > maxLen) return this.failNumber(JsonError.TOO_LONG, "longer than ", maxLen, " bytes");
    return true;
  }

  /**
   * A string into `dst`; with `tolerant`, a JSON number is taken as its text
   * (`123` reads `123`, `1e3` reads `1e3`: the bytes as sent, which is what an
   * id echoed back must be).
   */
  private readStringValue(dst: Str): bool {
    if (this.tolerant && this.error == 0 && this.valueKind() == JsonKind.NUMBER) {
      const r = this.reader;
      const start = r.pos; // peeking left the read position on the number
      if (!this.consumed(r.skipValue())) return this.failSyntax();
      dst.set(start, <i32>(r.pos - start));
      this.coercedValues++;
      return true;
    }
    if (!this.expect(JsonKind.STRING, "expected string")) return false;
    if (!this.consumed(this.reader.readStringPeeked(dst))) return this.failSyntax();
    return true;
  }

  /** With `tolerant`: a lone value where a list of them is expected (not an array, not null). */
  private loneListValue(): bool {
    if (!this.tolerant || this.error != 0) return false;
    const k = this.valueKind();
    if (k == JsonKind.ARRAY || k == JsonKind.NONE || k == JsonKind.OBJECT) return false;
    this.coercedValues++;
    return true;
  }

  /** Reads an array of strings; keeps the first `list.capacity`, validates all. */
  readStringList(list: StrList, maxLen: i32): bool {
    if (this.loneListValue()) {
      let slot = list.next();
      if (slot === null) slot = this.discard;
      return this.readString(slot, maxLen);
    }
    if (!this.beginArray()) return false;
    let i = 0;
    while (this.nextElement(i)) {
      let slot = list.next();
      if (slot === null) slot = this.discard;
      if (!this.readString(slot, maxLen)) return false;
      this.endElement();
      i++;
    }
    if (list.truncated) this.truncatedArrays++;
    return !this.failed;
  }

  /** Reads an array of integers in [min, max]; keeps the first `list.capacity`, validates all. */
  readIntList(list: IntList, min: i64, max: i64): bool {
    if (this.loneListValue()) {
      if (!this.readInt(min, max)) return false;
      list.add(<i32>this.intValue);
      return true;
    }
    if (!this.beginArray()) return false;
    let i = 0;
    while (this.nextElement(i)) {
      if (!this.readInt(min, max)) return false;
      list.add(<i32>this.intValue);
      this.endElement();
      i++;
    }
    if (list.truncated) this.truncatedArrays++;
    return !this.failed;
  }

  /** Checks that only whitespace follows the top-level value. */
  finish(): bool {
    if (this.error != 0) return false;
    if (!this.reader.finish()) return this.failSyntax();
    return true;
  }

  /** Points `out` at the error message (empty when there is none). */
  @inline errorMessageInto(out: Str): void {
    this.message.viewInto(out);
  }
}
