// Typed reading of configuration documents (plugin configuration, campaign
// sets, sync answers) on top of the JSON reader. These are cold paths, so this
// layer may allocate (error messages, owned strings); the bid path never uses
// it. Every error names the JSON path, e.g. "campaigns[2].targeting.sizes[0]:
// expected \"WxH\"". Unknown keys are errors: a typo in a configuration must
// fail loudly at start, not be ignored.
import { JsonReader, JsonKind } from "../json/reader";
import { NumberStatus } from "../json/number";
import { jsonErrorText } from "../json/errors";
import { Str } from "../bytes/str";
import { OwnedBytes } from "../bidding/campaign";

export class ConfigDoc {
  readonly r: JsonReader;
  readonly key: Str = new Str();
  private readonly value: Str = new Str();
  private path: Array<string> = new Array<string>();
  /**
   * For each path segment, the array index it stands for, or -1 for a key: an element's segment is
   * made into "[i]" only when an error names it (an array of 65,536 ranges would otherwise leave a
   * string per element behind until the end of the callback).
   */
  private indexes: Array<i32> = new Array<i32>();
  /** Keys seen in each open object, innermost last: a repeated key is an error. */
  private seen: Array<Set<string>> = new Array<Set<string>>();
  error: string = "";

  constructor(maxBytes: i32) {
    this.r = new JsonReader(maxBytes, 32);
  }

  start(ptr: usize, len: i32): void {
    this.r.reset(ptr, len);
    this.path = new Array<string>();
    this.indexes = new Array<i32>();
    this.seen = new Array<Set<string>>();
    this.error = "";
  }

  get failed(): bool {
    return this.error.length > 0 || this.r.failed;
  }

  /** The error text (a JSON syntax error if the reader failed first). */
  message(): string {
    if (this.error.length > 0) return this.error;
    if (this.r.failed) return "$: " + jsonErrorText(this.r.error) + " at byte " + this.r.errorAt.toString();
    return "";
  }

  pathString(): string {
    if (this.path.length == 0) return "$";
    let s = "";
    for (let i = 0; i < this.path.length; i++) {
      const index = this.indexes[i];
      if (index >= 0) s += "[" + index.toString() + "]";
      else {
        const p = this.path[i];
        if (p.startsWith("[") || i == 0) s += p;
        else s += "." + p;
      }
    }
    return s;
  }

  fail(msg: string): bool {
    if (!this.failed) this.error = this.pathString() + ": " + msg;
    return false;
  }

  push(segment: string): void {
    this.path.push(segment);
    this.indexes.push(-1);
  }

  pop(): void {
    this.path.pop();
    this.indexes.pop();
  }

  /** Enters an object at the current position. */
  beginObject(): bool {
    if (this.r.peekKind() != JsonKind.OBJECT) return this.fail("expected object");
    if (!this.r.beginObject()) return false;
    this.seen.push(new Set<string>());
    return true;
  }

  beginArray(): bool {
    if (this.r.peekKind() != JsonKind.ARRAY) return this.fail("expected array");
    return this.r.beginArray();
  }

  /** Next key of the current object (pushes it on the path; call endMember() after the value). */
  nextKey(): bool {
    if (this.failed) return false;
    if (!this.r.nextKey(this.key)) {
      if (!this.r.failed && this.seen.length > 0) this.seen.pop(); // the object ended
      return false;
    }
    const name = this.key.toString();
    this.push(name);
    if (this.seen.length > 0) {
      const keys = this.seen[this.seen.length - 1];
      if (keys.has(name)) return this.fail("duplicate key");
      keys.add(name);
    }
    return true;
  }

  endMember(): void {
    this.pop();
  }

  /** Next element of the current array (pushes "[i]"; call endMember() after the value). */
  nextElement(index: i32): bool {
    if (this.failed) return false;
    if (!this.r.nextElement()) return false;
    this.path.push("");
    this.indexes.push(index);
    return true;
  }

  @inline keyIs(name: string): bool {
    return this.key.equalsAscii(name);
  }

  unknownKey(): bool {
    return this.fail("unknown key");
  }

  string(): string {
    if (this.r.peekKind() != JsonKind.STRING) {
      this.fail("expected string");
      return "";
    }
    if (!this.r.readString(this.value)) return "";
    return this.value.toString();
  }

  /** The string as a view of its bytes, valid until the next read (no allocation); empty on an error. */
  view(): Str {
    if (this.r.peekKind() != JsonKind.STRING) {
      this.fail("expected string");
      this.value.clear();
    } else if (!this.r.readString(this.value)) this.value.clear();
    return this.value;
  }

  owned(maxLen: i32): OwnedBytes {
    if (this.r.peekKind() != JsonKind.STRING) {
      this.fail("expected string");
      return OwnedBytes.fromString("");
    }
    if (!this.r.readString(this.value)) return OwnedBytes.fromString("");
    if (this.value.len > maxLen) {
      this.fail("longer than " + maxLen.toString() + " bytes");
      return OwnedBytes.fromString("");
    }
    return new OwnedBytes(this.value.ptr, this.value.len);
  }

  int(min: i64, max: i64): i64 {
    if (this.r.peekKind() != JsonKind.NUMBER) {
      this.fail("expected integer");
      return 0;
    }
    const st = this.r.readI64();
    if (st != NumberStatus.OK) {
      this.fail("expected integer");
      return 0;
    }
    const v = this.r.number.intValue;
    if (v < min || v > max) {
      this.fail("must be between " + min.toString() + " and " + max.toString());
      return 0;
    }
    return v;
  }

  number(min: f64, max: f64): f64 {
    if (this.r.peekKind() != JsonKind.NUMBER) {
      this.fail("expected number");
      return 0;
    }
    const st = this.r.readF64();
    if (st != NumberStatus.OK) {
      this.fail("number out of range");
      return 0;
    }
    const v = this.r.number.floatValue;
    if (!(v >= min && v <= max)) {
      this.fail("must be between " + min.toString() + " and " + max.toString());
      return 0;
    }
    return v;
  }

  bool(): bool {
    if (this.r.peekKind() != JsonKind.BOOL) {
      this.fail("expected true or false");
      return false;
    }
    this.r.readBool();
    return this.r.boolValue;
  }

  skip(): bool {
    return this.r.skipValue();
  }

  /** Requires the end of the document. */
  finish(): bool {
    if (this.failed) return false;
    if (!this.r.finish()) return false;
    return true;
  }
}
