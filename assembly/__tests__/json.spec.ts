import { Str } from "../core/bytes/str";
import { JsonError } from "../core/json/errors";
import { FieldReader, FIELD_END } from "../core/json/fields";
import { FieldTable } from "../core/json/field-table";
import { MessageBuffer } from "../core/json/message";
import { NumberStatus } from "../core/json/number";
import { JsonPath } from "../core/json/path";
import { JsonKind, JsonReader } from "../core/json/reader";
import { utf8SequenceLength, utf8TruncatedLength } from "../core/json/utf8";

// Inputs are kept alive in this global while a reader looks at them.
let input: ArrayBuffer = new ArrayBuffer(0);
const reader = new JsonReader();

function useText(text: string): void {
  input = String.UTF8.encode(text);
}

function useBytes(bytes: u8[]): void {
  input = new ArrayBuffer(bytes.length);
  for (let i = 0; i < bytes.length; i++) store<u8>(changetype<usize>(input) + <usize>i, bytes[i]);
}

function startReader(r: JsonReader = reader): JsonReader {
  r.reset(changetype<usize>(input), input.byteLength);
  return r;
}

/** Validates a whole document with skipValue + finish; returns the error code (0 = valid JSON). */
function validate(text: string): i32 {
  useText(text);
  const r = startReader();
  if (r.skipValue()) r.finish();
  return r.error;
}

function validateBytes(bytes: u8[]): i32 {
  useBytes(bytes);
  const r = startReader();
  if (r.skipValue()) r.finish();
  return r.error;
}

/** The string value of a document that is a single JSON string. */
function stringValue(text: string): string {
  useText(text);
  const r = startReader();
  const out = new Str();
  if (!r.readString(out)) return "<error " + r.error.toString() + ">";
  return out.toString();
}

function stringBytes(text: string): u8[] {
  useText(text);
  const r = startReader();
  const out = new Str();
  const bytes = new Array<u8>();
  if (!r.readString(out)) return bytes;
  for (let i = 0; i < out.len; i++) bytes.push(out.byteAt(i));
  return bytes;
}

function int(text: string): NumberStatus {
  useText(text);
  return startReader().readI64();
}

/** The integer read from `text`, or -12345 when it is not one. */
function intOf(text: string): i64 {
  return int(text) == NumberStatus.OK ? reader.number.intValue : -12345;
}

function float(text: string): f64 {
  useText(text);
  const status = startReader().readF64();
  return status == NumberStatus.OK ? reader.number.floatValue : NaN;
}

function floatStatus(text: string): NumberStatus {
  useText(text);
  return startReader().readF64();
}

function nested(open: string, close: string, n: i32): string {
  let s = "";
  for (let i = 0; i < n; i++) s += open;
  for (let i = 0; i < n; i++) s += close;
  return s;
}

describe("JsonReader: structure", () => {
  it("accepts valid documents", () => {
    expect(validate("{}")).toBe(0);
    expect(validate("[]")).toBe(0);
    expect(validate('{"a":[1,2,{"b":null}],"c":true,"d":false,"e":"x","f":-0.5e-3}')).toBe(0);
    expect(validate(' \t\r\n{ "a" : [ 1 , 2 ] } \n\t ')).toBe(0);
    expect(validate('"just a string"')).toBe(0);
    expect(validate("42")).toBe(0);
    expect(validate("null")).toBe(0);
  });

  it("rejects malformed structure with a precise code", () => {
    expect(validate('{"a" 1}')).toBe(JsonError.EXPECTED_COLON);
    expect(validate('{"a":1,}')).toBe(JsonError.EXPECTED_KEY);
    expect(validate('{,}')).toBe(JsonError.EXPECTED_KEY);
    expect(validate("{1:2}")).toBe(JsonError.EXPECTED_KEY);
    expect(validate("{'a':1}")).toBe(JsonError.EXPECTED_KEY);
    expect(validate("[1,]")).toBe(JsonError.EXPECTED_VALUE);
    expect(validate("[1 2]")).toBe(JsonError.EXPECTED_COMMA_OR_BRACKET);
    expect(validate('{"a":1 "b":2}')).toBe(JsonError.EXPECTED_COMMA_OR_BRACE);
    expect(validate('{"a":1]')).toBe(JsonError.EXPECTED_COMMA_OR_BRACE);
    expect(validate("[1}")).toBe(JsonError.EXPECTED_COMMA_OR_BRACKET);
  });

  it("rejects truncated documents", () => {
    expect(validate("")).toBe(JsonError.UNEXPECTED_END);
    expect(validate("   ")).toBe(JsonError.UNEXPECTED_END);
    expect(validate("{")).toBe(JsonError.UNEXPECTED_END);
    expect(validate('{"a"')).toBe(JsonError.UNEXPECTED_END);
    expect(validate('{"a":')).toBe(JsonError.UNEXPECTED_END);
    expect(validate('{"a":1')).toBe(JsonError.UNEXPECTED_END);
    expect(validate('{"a":"x')).toBe(JsonError.UNEXPECTED_END);
    expect(validate("[1,")).toBe(JsonError.UNEXPECTED_END);
    expect(validate("tru")).toBe(JsonError.UNEXPECTED_END);
  });

  it("rejects trailing characters after the value", () => {
    expect(validate("{} x")).toBe(JsonError.TRAILING_CHARS);
    expect(validate("{}{}")).toBe(JsonError.TRAILING_CHARS);
    expect(validate("{},")).toBe(JsonError.TRAILING_CHARS);
    expect(validate("{}\u0000")).toBe(JsonError.TRAILING_CHARS);
    expect(reader.errorAt).toBe(2);
  });

  it("accepts only space, tab, LF and CR as whitespace", () => {
    expect(validate("\u000b{}")).toBe(JsonError.EXPECTED_VALUE); // vertical tab
    expect(validate("\u000c{}")).toBe(JsonError.EXPECTED_VALUE); // form feed
    expect(validate("\u00a0{}")).toBe(JsonError.EXPECTED_VALUE); // no-break space
    expect(validateBytes([0xef, 0xbb, 0xbf, 0x7b, 0x7d])).toBe(JsonError.EXPECTED_VALUE); // BOM
  });

  it("checks literals exactly", () => {
    expect(validate("[true,false,null]")).toBe(0);
    expect(validate("True")).toBe(JsonError.EXPECTED_VALUE);
    expect(validate("nul1")).toBe(JsonError.INVALID_LITERAL);
    expect(validate("nulll")).toBe(JsonError.INVALID_LITERAL);
    expect(validate("[truex]")).toBe(JsonError.INVALID_LITERAL);
    expect(validate("NaN")).toBe(JsonError.EXPECTED_VALUE);
    expect(validate("Infinity")).toBe(JsonError.EXPECTED_VALUE);
    expect(validate("undefined")).toBe(JsonError.EXPECTED_VALUE);
  });

  it("limits nesting depth, counting objects and arrays alike", () => {
    expect(validate(nested("[", "]", 32))).toBe(0);
    expect(validate(nested("[", "]", 33))).toBe(JsonError.TOO_DEEP);
    expect(validate(nested('{"a":', "}", 31) + "")).toBe(JsonError.EXPECTED_VALUE); // {"a":{"a":...}} needs a value
    let mixed = "";
    for (let i = 0; i < 16; i++) mixed += '{"a":[';
    mixed += "1";
    for (let i = 0; i < 16; i++) mixed += "]}";
    expect(validate(mixed)).toBe(0); // exactly 32 levels
    expect(validate("[" + mixed + "]")).toBe(JsonError.TOO_DEEP);
    expect(validate(nested("[", "]", 100000))).toBe(JsonError.TOO_DEEP);
  });

  it("honours a smaller depth limit", () => {
    const r = new JsonReader(1024, 2);
    useText("[[1]]");
    r.reset(changetype<usize>(input), input.byteLength);
    expect(r.skipValue()).toBe(true);
    useText("[[[1]]]");
    r.reset(changetype<usize>(input), input.byteLength);
    expect(r.skipValue()).toBe(false);
    expect(r.error).toBe(JsonError.TOO_DEEP);
  });

  it("walks objects and arrays with the cursor API", () => {
    useText('{"a": [1, 2, 3], "b": {"c": "d"}, "e": true}');
    const r = startReader();
    const key = new Str();
    expect(r.beginObject()).toBe(true);
    expect(r.nextKey(key)).toBe(true);
    expect(key.equalsAscii("a")).toBe(true);
    expect(r.beginArray()).toBe(true);
    let sum: i64 = 0;
    while (r.nextElement()) {
      expect(r.readI64()).toBe(NumberStatus.OK);
      sum += r.number.intValue;
    }
    expect(sum).toBe(6);
    expect(r.nextKey(key)).toBe(true);
    expect(key.equalsAscii("b")).toBe(true);
    expect(r.peekKind()).toBe(JsonKind.OBJECT);
    expect(r.skipValue()).toBe(true);
    expect(r.nextKey(key)).toBe(true);
    expect(r.readBool()).toBe(true);
    expect(r.boolValue).toBe(true);
    expect(r.nextKey(key)).toBe(false);
    expect(r.failed).toBe(false);
    expect(r.depth).toBe(0);
    expect(r.finish()).toBe(true);
  });

  it("keeps the first error and refuses to go on", () => {
    useText("[1,,2]");
    const r = startReader();
    expect(r.skipValue()).toBe(false);
    expect(r.error).toBe(JsonError.EXPECTED_VALUE);
    expect(r.errorAt).toBe(3);
    expect(r.peekKind()).toBe(JsonKind.NONE);
    expect(r.error).toBe(JsonError.EXPECTED_VALUE);
  });
});

describe("JsonReader: numbers", () => {
  it("accepts the RFC 8259 grammar", () => {
    expect(validate("[0,-0,1,-1,10,1.5,-1.5,0.001,1e5,1E5,1e+5,1e-5,-1.25E-10,123456789012345678901234567890]")).toBe(0);
  });

  it("rejects what the grammar does not allow", () => {
    expect(validate("01")).toBe(JsonError.INVALID_NUMBER);
    expect(validate("-01")).toBe(JsonError.INVALID_NUMBER);
    expect(validate("00")).toBe(JsonError.INVALID_NUMBER);
    expect(validate("+1")).toBe(JsonError.EXPECTED_VALUE);
    expect(validate("1.")).toBe(JsonError.UNEXPECTED_END);
    expect(validate("[1.]")).toBe(JsonError.INVALID_NUMBER);
    expect(validate(".5")).toBe(JsonError.EXPECTED_VALUE);
    expect(validate("-")).toBe(JsonError.UNEXPECTED_END);
    expect(validate("[-]")).toBe(JsonError.INVALID_NUMBER);
    expect(validate("--1")).toBe(JsonError.INVALID_NUMBER);
    expect(validate("-a")).toBe(JsonError.INVALID_NUMBER);
    expect(validate("[1e]")).toBe(JsonError.INVALID_NUMBER);
    expect(validate("[1e+]")).toBe(JsonError.INVALID_NUMBER);
    expect(validate("1.2.3")).toBe(JsonError.INVALID_NUMBER);
    expect(validate("0x1F")).toBe(JsonError.INVALID_NUMBER);
    expect(validate("12abc")).toBe(JsonError.INVALID_NUMBER);
    expect(validate("1e5e")).toBe(JsonError.INVALID_NUMBER);
    expect(validate("-Infinity")).toBe(JsonError.INVALID_NUMBER);
  });

  it("reads integers into i64 with overflow detection", () => {
    expect(int("0")).toBe(NumberStatus.OK);
    expect(reader.number.intValue).toBe(0);
    expect(int("-0")).toBe(NumberStatus.OK);
    expect(reader.number.intValue).toBe(0);
    expect(int("300")).toBe(NumberStatus.OK);
    expect(reader.number.intValue).toBe(300);
    expect(int("9223372036854775807")).toBe(NumberStatus.OK);
    expect(reader.number.intValue).toBe(i64.MAX_VALUE);
    expect(int("-9223372036854775808")).toBe(NumberStatus.OK);
    expect(reader.number.intValue).toBe(i64.MIN_VALUE);
    expect(int("9223372036854775808")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("-9223372036854775809")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("18446744073709551616")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("99999999999999999999999")).toBe(NumberStatus.NOT_INTEGER);
  });

  it("reads an integral value written with a fraction or an exponent as an integer", () => {
    expect(intOf("300.0")).toBe(300);
    expect(intOf("300.00")).toBe(300);
    expect(intOf("200.000000000000000000000000000")).toBe(200);
    expect(intOf("2.5e2")).toBe(250);
    expect(intOf("2.55e2")).toBe(255);
    expect(intOf("2.50E+2")).toBe(250);
    expect(intOf("1E0")).toBe(1);
    expect(intOf("1e3")).toBe(1000);
    expect(intOf("3e2")).toBe(300);
    expect(intOf("100e-2")).toBe(1);
    expect(intOf("-1.5e1")).toBe(-15);
    expect(intOf("0.1e1")).toBe(1);
    expect(intOf("0.00000000000000000000000000000000001e35")).toBe(1);
    expect(intOf("1" + "0".repeat(30) + "e-30")).toBe(1);
    expect(intOf("9007199254740993.0")).toBe(9007199254740993);
    expect(intOf("12345678901234567890e-1")).toBe(1234567890123456789); // the 20th digit, 0, is dropped
    expect(intOf("9.223372036854775807e18")).toBe(i64.MAX_VALUE);
    expect(intOf("-9.223372036854775808e18")).toBe(i64.MIN_VALUE);
    expect(intOf("9223372036854775807.000")).toBe(i64.MAX_VALUE);
  });

  it("reads every written zero as 0", () => {
    expect(intOf("0.0")).toBe(0);
    expect(intOf("-0.0")).toBe(0);
    expect(intOf("0e0")).toBe(0);
    expect(intOf("-0E-5")).toBe(0);
    expect(intOf("0.000e999999999")).toBe(0);
  });

  it("does not take a non-integral value as an integer, however close", () => {
    expect(int("1.5")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("200.5")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("2.555e2")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("1e-1")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("1e-400")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("0.5e0")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("1.0000000000000000001")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("9007199254740993.5")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("1" + "0".repeat(30) + "1e-31")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("-123e-2")).toBe(NumberStatus.NOT_INTEGER);
  });

  it("does not take an integral value beyond i64 as an integer", () => {
    expect(int("1e400")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("1e19")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("1e999999999999")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("9.223372036854775808e18")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("-9.223372036854775809e18")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("18446744073709551616.0")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("1844674407370955161.6e1")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("99999999999999999999.0e-1")).toBe(NumberStatus.NOT_INTEGER);
    expect(int("12345678901234567891e-1")).toBe(NumberStatus.NOT_INTEGER); // ...789.1
  });

  it("reads floats exactly on the fast path", () => {
    expect(float("0.1")).toBe(0.1);
    expect(float("0.5")).toBe(0.5);
    expect(float("1.25")).toBe(1.25);
    expect(float("37.7749295")).toBe(37.7749295);
    expect(float("-122.4194155")).toBe(-122.4194155);
    expect(float("40.71277618408203")).toBe(40.71277618408203);
    expect(float("0.000123")).toBe(0.000123);
    expect(float("1e22")).toBe(1e22);
    expect(float("1e23")).toBe(1e23);
    expect(float("123e30")).toBe(123e30);
    expect(float("9007199254740993")).toBe(9007199254740992.0);
    expect(float("2.5E-3")).toBe(0.0025);
  });

  it("reads other floats closely", () => {
    expect(Math.abs(float("0.12345678901234567890") - 0.1234567890123456789)).toBeLessThan(1e-17);
    expect(Math.abs(float("1.7976931348623157e300") / 1.7976931348623157e300 - 1)).toBeLessThan(1e-15);
    expect(Math.abs(float("2.2250738585072014e-308") / 2.2250738585072014e-308 - 1)).toBeLessThan(1e-15);
    expect(float("5e-324")).toBeGreaterThan(0);
    expect(Math.abs(float("123456789012345678901234567890") / 1.2345678901234568e29 - 1)).toBeLessThan(1e-15);
  });

  it("maps -0 to +0 and underflow to 0", () => {
    expect(1 / float("-0")).toBe(Infinity);
    expect(1 / float("-0.0e5")).toBe(Infinity);
    expect(float("1e-400")).toBe(0);
  });

  it("refuses values beyond f64", () => {
    expect(floatStatus("1e400")).toBe(NumberStatus.OUT_OF_RANGE);
    expect(floatStatus("-1e400")).toBe(NumberStatus.OUT_OF_RANGE);
    expect(floatStatus("1e999999999999")).toBe(NumberStatus.OUT_OF_RANGE);
    expect(floatStatus("1.8e308")).toBe(NumberStatus.OUT_OF_RANGE);
    expect(floatStatus("1e308")).toBe(NumberStatus.OK);
  });
});

describe("JsonReader: strings", () => {
  it("returns a view into the input when there is no escape", () => {
    useText('"hello"');
    const r = startReader();
    const out = new Str();
    expect(r.readString(out)).toBe(true);
    expect(out.ptr).toBe(changetype<usize>(input) + 1);
    expect(out.len).toBe(5);
  });

  it("unescapes into the scratch arena", () => {
    useText('"a\\nb"');
    const r = startReader();
    const out = new Str();
    expect(r.readString(out)).toBe(true);
    expect(out.ptr).toBe(r.scratch.base);
    expect(out.toString()).toStrictEqual("a\nb");
  });

  it("decodes every escape", () => {
    expect(stringValue('"\\" \\\\ \\/ \\b \\f \\n \\r \\t"')).toStrictEqual('" \\ / \b \f \n \r \t');
    expect(stringValue('"\\u0041\\u00e9\\u20AC"')).toStrictEqual("Aé€");
    expect(stringValue('"\\u0000"').length).toBe(1);
  });

  it("joins surrogate pairs into one 4-byte character", () => {
    expect(stringBytes('"\\uD83D\\uDE00"')).toStrictEqual([0xf0, 0x9f, 0x98, 0x80]);
    expect(stringValue('"x\\ud83d\\ude00y"')).toStrictEqual("x😀y");
  });

  it("rejects lone surrogates", () => {
    expect(validate('"\\uD83D"')).toBe(JsonError.LONE_SURROGATE);
    expect(validate('"\\uD83Dx"')).toBe(JsonError.LONE_SURROGATE);
    expect(validate('"\\uDE00"')).toBe(JsonError.LONE_SURROGATE);
    expect(validate('"\\uD83D\\uD83D"')).toBe(JsonError.LONE_SURROGATE);
    expect(validate('"\\uD83D\\n"')).toBe(JsonError.LONE_SURROGATE);
  });

  it("reads lone surrogates as U+FFFD when told to (scratch.replaceLoneSurrogates), counting them", () => {
    reader.scratch.replaceLoneSurrogates = true;
    expect(stringBytes('"\\uD83D"')).toStrictEqual([0xef, 0xbf, 0xbd]);
    expect(reader.scratch.replaced).toBe(1);
    expect(stringBytes('"\\uD83Dx\\uDE00"')).toStrictEqual([0xef, 0xbf, 0xbd, 0x78, 0xef, 0xbf, 0xbd]);
    expect(reader.scratch.replaced).toBe(2);
    expect(stringBytes('"\\uD83D\\n"')).toStrictEqual([0xef, 0xbf, 0xbd, 0x0a]);
    expect(stringBytes('"\\uD83D\\uDE00"')).toStrictEqual([0xf0, 0x9f, 0x98, 0x80]); // a pair is still a pair
    expect(validate('"\\uD83D\\uD83D"')).toBe(0);
    expect(validate('"\\uD83D')).toBe(JsonError.UNEXPECTED_END);
    expect(validate('"\\uD83D\\uDE0"')).toBe(JsonError.INVALID_ESCAPE);
    reader.scratch.replaceLoneSurrogates = false;
    expect(validate('"\\uD83D"')).toBe(JsonError.LONE_SURROGATE);
  });

  it("rejects bad escapes", () => {
    expect(validate('"\\x41"')).toBe(JsonError.INVALID_ESCAPE);
    expect(validate('"\\a"')).toBe(JsonError.INVALID_ESCAPE);
    expect(validate('"\\u12G4"')).toBe(JsonError.INVALID_ESCAPE);
    expect(validate('"\\u12"')).toBe(JsonError.INVALID_ESCAPE);
    expect(validate('"\\u12')).toBe(JsonError.UNEXPECTED_END);
    expect(validate('"\\')).toBe(JsonError.UNEXPECTED_END);
    expect(validate("\"\\'\"")).toBe(JsonError.INVALID_ESCAPE);
  });

  it("rejects raw control characters, accepts DEL", () => {
    expect(validateBytes([0x22, 0x61, 0x01, 0x22])).toBe(JsonError.CONTROL_CHAR);
    expect(validateBytes([0x22, 0x09, 0x22])).toBe(JsonError.CONTROL_CHAR); // raw tab
    expect(validateBytes([0x22, 0x0a, 0x22])).toBe(JsonError.CONTROL_CHAR); // raw newline
    expect(validateBytes([0x22, 0x00, 0x22])).toBe(JsonError.CONTROL_CHAR);
    expect(reader.errorAt).toBe(1);
    expect(validateBytes([0x22, 0x7f, 0x22])).toBe(0);
  });

  it("accepts well-formed UTF-8", () => {
    expect(validateBytes([0x22, 0xc3, 0xa9, 0x22])).toBe(0); // é
    expect(validateBytes([0x22, 0xe2, 0x82, 0xac, 0x22])).toBe(0); // €
    expect(validateBytes([0x22, 0xf0, 0x9f, 0x98, 0x80, 0x22])).toBe(0); // 😀
    expect(validateBytes([0x22, 0xef, 0xbf, 0xbf, 0x22])).toBe(0); // U+FFFF
    expect(validateBytes([0x22, 0xf4, 0x8f, 0xbf, 0xbf, 0x22])).toBe(0); // U+10FFFF
    expect(validateBytes([0x22, 0xed, 0x9f, 0xbf, 0x22])).toBe(0); // U+D7FF
  });

  it("rejects ill-formed UTF-8", () => {
    expect(validateBytes([0x22, 0xc0, 0x80, 0x22])).toBe(JsonError.INVALID_UTF8); // overlong NUL
    expect(validateBytes([0x22, 0xc1, 0xbf, 0x22])).toBe(JsonError.INVALID_UTF8); // overlong
    expect(validateBytes([0x22, 0xe0, 0x80, 0x80, 0x22])).toBe(JsonError.INVALID_UTF8); // overlong 3-byte
    expect(validateBytes([0x22, 0xf0, 0x80, 0x80, 0x80, 0x22])).toBe(JsonError.INVALID_UTF8); // overlong 4-byte
    expect(validateBytes([0x22, 0xed, 0xa0, 0x80, 0x22])).toBe(JsonError.INVALID_UTF8); // U+D800
    expect(validateBytes([0x22, 0xed, 0xbf, 0xbf, 0x22])).toBe(JsonError.INVALID_UTF8); // U+DFFF
    expect(validateBytes([0x22, 0xf4, 0x90, 0x80, 0x80, 0x22])).toBe(JsonError.INVALID_UTF8); // U+110000
    expect(validateBytes([0x22, 0xf5, 0x80, 0x80, 0x80, 0x22])).toBe(JsonError.INVALID_UTF8);
    expect(validateBytes([0x22, 0xff, 0x22])).toBe(JsonError.INVALID_UTF8);
    expect(validateBytes([0x22, 0x80, 0x22])).toBe(JsonError.INVALID_UTF8); // stray continuation
    expect(validateBytes([0x22, 0xc3, 0x22])).toBe(JsonError.INVALID_UTF8); // truncated before quote
    expect(validateBytes([0x22, 0xe2, 0x82, 0x22])).toBe(JsonError.INVALID_UTF8);
    expect(validateBytes([0x22, 0xf0, 0x9f, 0x98])).toBe(JsonError.INVALID_UTF8); // truncated at end
    expect(validateBytes([0x22, 0x61, 0x5c, 0x6e, 0xc3, 0x28, 0x22])).toBe(JsonError.INVALID_UTF8); // after an escape
    expect(reader.errorAt).toBe(4);
  });

  it("rejects bytes >= 0x80 outside strings", () => {
    expect(validateBytes([0x5b, 0xc3, 0xa9, 0x5d])).toBe(JsonError.EXPECTED_VALUE);
  });

  it("validates skipped strings and keys just as strictly", () => {
    expect(validateBytes([0x7b, 0x22, 0xc0, 0x80, 0x22, 0x3a, 0x31, 0x7d])).toBe(JsonError.INVALID_UTF8);
    expect(validate('{"a\\u":1}')).toBe(JsonError.INVALID_ESCAPE);
    expect(validate('{"a":["\\uDE00"]}')).toBe(JsonError.LONE_SURROGATE);
  });

  it("matches escaped keys by their value", () => {
    useText('{"\\u0069d":1}');
    const r = startReader();
    const key = new Str();
    r.beginObject();
    expect(r.nextKey(key)).toBe(true);
    expect(key.equalsAscii("id")).toBe(true);
  });

  it("fails, never overflows, when the scratch arena is exhausted", () => {
    const small = new JsonReader(16, 32);
    useText('["\\n123456789012345678901234567890"]');
    small.reset(changetype<usize>(input), input.byteLength);
    expect(small.beginArray()).toBe(true);
    expect(small.nextElement()).toBe(true);
    const out = new Str();
    expect(small.readString(out)).toBe(false);
    expect(small.error).toBe(JsonError.STRING_TOO_LONG);
    // Skipping does not use the arena at all.
    small.reset(changetype<usize>(input), input.byteLength);
    expect(small.skipValue()).toBe(true);
  });

  it("never reads past the end of the input", () => {
    // Every prefix of a valid document is either valid or an error; none traps.
    const doc = '{"a":"\\ud83d\\ude00\\u00e9","b":[1.5e3,-2,true,null],"c":{"d":"é😀"}}';
    const bytes = String.UTF8.encode(doc);
    for (let n = 0; n < bytes.byteLength; n++) {
      reader.reset(changetype<usize>(bytes), n);
      const ok = reader.skipValue() && reader.finish();
      expect(ok).toBe(false);
    }
    reader.reset(changetype<usize>(bytes), bytes.byteLength);
    expect(reader.skipValue() && reader.finish()).toBe(true);
  });
});

/** Pieces of the random strings below: plain bytes, the specials, good and bad escapes and UTF-8. */
const STRING_PIECES: u8[][] = [
  [0x61], [0x62], [0x7a], [0x20], [0x7f], [0x22], [0x5c, 0x6e], [0x5c, 0x22], [0x5c, 0x5c], [0x5c, 0x78],
  [0x5c], [0x01], [0x1f], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xc3], [0xff], [0xed, 0xa0, 0x80],
];

/**
 * The string scan, defined byte by byte (every escape but \u, which STRING_PIECES cannot form): the
 * position after the closing quote, or minus the error's offset with refError set. The
 * decoded bytes go to `out`.
 */
let refError: i32 = 0;
function refScanString(p: usize, end: usize, out: u8[]): i64 {
  const base = p;
  refError = 0;
  let i = p + 1;
  while (true) {
    if (i >= end) return refFail(JsonError.UNEXPECTED_END, i - base);
    const c = load<u8>(i);
    if (c == 0x22) return <i64>(i + 1 - base);
    if (c == 0x5c) {
      if (i + 1 >= end) return refFail(JsonError.UNEXPECTED_END, i + 1 - base);
      const e = load<u8>(i + 1);
      if (e == 0x6e) out.push(0x0a);
      else if (e == 0x62) out.push(0x08);
      else if (e == 0x66) out.push(0x0c);
      else if (e == 0x72) out.push(0x0d);
      else if (e == 0x74) out.push(0x09);
      else if (e == 0x22 || e == 0x5c || e == 0x2f) out.push(e);
      else return refFail(JsonError.INVALID_ESCAPE, i - base); // no \u in STRING_PIECES
      i += 2;
      continue;
    }
    if (c < 0x20) return refFail(JsonError.CONTROL_CHAR, i - base);
    const n = c < 0x80 ? 1 : utf8SequenceLength(i, end);
    if (n == 0) return refFail(JsonError.INVALID_UTF8, i - base);
    for (let k = 0; k < n; k++) out.push(load<u8>(i + <usize>k));
    i += <usize>n;
  }
  return 0; // unreachable
}

function refFail(code: i32, at: usize): i64 {
  refError = code;
  return -<i64>at;
}

describe("JsonReader: strings against a byte-by-byte definition", () => {
  it("reads and skips random strings as the definition does", () => {
    let seed: u32 = 4242;
    let plainLong = 0;
    for (let round = 0; round < 6000; round++) {
      const bytes: u8[] = [0x22];
      seed = seed * 1664525 + 1013904223;
      const pieces = <i32>((seed >>> 8) % 40);
      // Mostly plain bytes, so runs longer than a word occur before the specials.
      const specialOdds = 1 + ((seed >>> 20) % 12);
      for (let i = 0; i < pieces; i++) {
        seed = seed * 1664525 + 1013904223;
        const pick = (seed >>> 8) % specialOdds == 0 ? <i32>((seed >>> 16) % <u32>STRING_PIECES.length) : <i32>((seed >>> 16) % 5);
        const piece = STRING_PIECES[pick];
        for (let k = 0; k < piece.length; k++) bytes.push(piece[k]);
      }
      seed = seed * 1664525 + 1013904223;
      if (seed % 5 != 0) bytes.push(0x22); // usually closed
      // Sometimes more follows the string, so the scan may load words past its end.
      const more = <i32>((seed >>> 8) % 12);
      for (let i = 0; i < more; i++) bytes.push(0x61);
      useBytes(bytes);
      const p = changetype<usize>(input);
      const end = p + <usize>input.byteLength;
      const want: u8[] = [];
      const wantAt = refScanString(p, end, want);
      const what = bytes.toString();

      reader.reset(p, input.byteLength);
      const out = new Str();
      const ok = reader.readString(out);
      expect(ok).toBe(wantAt > 0, what);
      if (ok) {
        expect(reader.offset).toBe(<i32>wantAt, what);
        const got: u8[] = [];
        for (let k = 0; k < out.len; k++) got.push(out.byteAt(k));
        expect(got).toStrictEqual(want, what);
        if (want.length > 8 && out.ptr == p + 1) plainLong++;
      } else {
        expect(reader.error).toBe(refError, what);
        expect(reader.errorAt).toBe(<i32>-wantAt, what);
      }

      reader.reset(p, input.byteLength);
      expect(reader.skipValue()).toBe(ok, what);
      if (ok) expect(reader.offset).toBe(<i32>wantAt, what);
      else expect(reader.error).toBe(refError, what);
    }
    expect(plainLong).toBeGreaterThan(300);
  });
});

describe("UTF-8 truncation", () => {
  it("cuts at a character boundary", () => {
    const b = String.UTF8.encode("aé😀z"); // 1 + 2 + 4 + 1 bytes
    const p = changetype<usize>(b);
    expect(utf8TruncatedLength(p, 8, 8)).toBe(8);
    expect(utf8TruncatedLength(p, 8, 7)).toBe(7);
    expect(utf8TruncatedLength(p, 8, 6)).toBe(3);
    expect(utf8TruncatedLength(p, 8, 4)).toBe(3);
    expect(utf8TruncatedLength(p, 8, 3)).toBe(3);
    expect(utf8TruncatedLength(p, 8, 2)).toBe(1);
    expect(utf8TruncatedLength(p, 8, 1)).toBe(1);
    expect(utf8TruncatedLength(p, 8, 0)).toBe(0);
  });
});

describe("MessageBuffer and JsonPath", () => {
  it("writes paths like imp[2].banner.format[0].w", () => {
    const path = new JsonPath();
    const m = new MessageBuffer();
    path.writeTo(m);
    expect(m.toString()).toStrictEqual("$");
    path.pushField("imp");
    path.pushIndex(2);
    path.pushField("banner");
    path.pushField("format");
    path.pushIndex(0);
    path.pushField("w");
    m.clear();
    path.writeTo(m);
    expect(m.toString()).toStrictEqual("imp[2].banner.format[0].w");
    path.pop();
    path.pop();
    m.clear();
    path.writeTo(m);
    expect(m.toString()).toStrictEqual("imp[2].banner.format");
  });

  it("writes numbers and never writes characters that need JSON escaping", () => {
    const m = new MessageBuffer();
    m.appendInt(-42);
    m.appendAscii(' "q" \\ ');
    m.appendUint(18446744073709551615);
    expect(m.toString()).toStrictEqual("-42 ?q? ? 18446744073709551615");
  });

  it("stops at its capacity", () => {
    const m = new MessageBuffer(16);
    m.appendAscii("0123456789abcdefXYZ");
    m.appendUint(12345);
    expect(m.len).toBe(16);
  });
});

const NAMES = new FieldTable(["a", "b", "list"]);

function run(text: string, f: FieldReader): i32 {
  useText(text);
  f.reset(changetype<usize>(input), input.byteLength);
  if (!f.beginObject()) return -1;
  let sum: i32 = 0;
  let k: i32;
  while ((k = f.nextField(NAMES)) >= 0) {
    if (k == 2) {
      if (!f.beginArray()) return -1;
      let i = 0;
      while (f.nextElement(i)) {
        if (!f.readInt(0, 100)) return -1;
        sum += <i32>f.intValue;
        f.endElement();
        i++;
      }
      if (f.failed) return -1;
    } else {
      if (!f.readInt(0, 100)) return -1;
      sum += <i32>f.intValue;
    }
    f.endField();
  }
  if (k != FIELD_END) return -1;
  if (!f.finish()) return -1;
  return sum;
}

describe("FieldReader", () => {
  it("reads known fields, skips unknown ones and nulls", () => {
    const f = new FieldReader();
    expect(run('{"a":1,"x":{"y":[1,2]},"b":2,"x":3,"list":[3,4],"z":null}', f)).toBe(10);
    expect(run('{"a":null,"b":5}', f)).toBe(5);
  });

  it("reports paths, types, ranges and duplicates", () => {
    const f = new FieldReader();
    expect(run('{"a":"1"}', f)).toBe(-1);
    expect(f.message.toString()).toStrictEqual("a: expected integer");
    expect(run('{"list":[1,2,101]}', f)).toBe(-1);
    expect(f.message.toString()).toStrictEqual("list[2]: out of range");
    expect(f.error).toBe(JsonError.OUT_OF_RANGE);
    expect(run('{"a":1,"a":2}', f)).toBe(-1);
    expect(f.message.toString()).toStrictEqual("a: duplicate key");
    expect(run('{"a":null,"a":2}', f)).toBe(-1);
    expect(f.error).toBe(JsonError.DUPLICATE_KEY);
    expect(run('{"list":{}}', f)).toBe(-1);
    expect(f.message.toString()).toStrictEqual("list: expected array");
    expect(run("[]", f)).toBe(-1);
    expect(f.message.toString()).toStrictEqual("$: expected object");
  });

  it("reads integral fractions and exponents as integers, keeping the range check", () => {
    const f = new FieldReader();
    expect(run('{"a":2.5e1,"list":[1.0,2E0,300e-2]}', f)).toBe(31);
    expect(run('{"a":1e3}', f)).toBe(-1);
    expect(f.message.toString()).toStrictEqual("a: out of range");
    expect(run('{"a":1e400}', f)).toBe(-1);
    expect(f.message.toString()).toStrictEqual("a: expected integer");
    expect(run('{"list":[1,2.5]}', f)).toBe(-1);
    expect(f.message.toString()).toStrictEqual("list[1]: expected integer");
    expect(f.error).toBe(JsonError.WRONG_TYPE);
  });

  it("reports syntax errors with the byte offset", () => {
    const f = new FieldReader();
    expect(run('{"a":1,"b":01}', f)).toBe(-1);
    expect(f.message.toString()).toStrictEqual("$: invalid number at byte 12");
    expect(run('{"a":1} x', f)).toBe(-1);
    expect(f.message.toString()).toStrictEqual("$: trailing characters after JSON value at byte 8");
  });
});

/** readObjectText() of the value of "a" in `text`: the text it kept, or "ERR <message>". */
function objectTextOf(text: string, maxLen: i32 = 1000, maxDepth: i32 = 32): string {
  useText(text);
  const f = new FieldReader(65536, maxDepth);
  f.reset(changetype<usize>(input), input.byteLength);
  const out = new Str();
  if (!f.beginObject() || f.nextField(NAMES) != 0 || !f.readObjectText(out, maxLen)) return "ERR " + f.message.toString();
  f.endField();
  if (f.nextField(NAMES) != FIELD_END || !f.finish()) return "ERR " + f.message.toString();
  return out.toString();
}

describe("FieldReader.readObjectText", () => {
  it("keeps the exact bytes of the object, escapes and spacing included", () => {
    expect(objectTextOf('{"a":{"ver":"1.2","assets":[{"id":1}]}}')).toStrictEqual('{"ver":"1.2","assets":[{"id":1}]}');
    expect(objectTextOf('{"a": \n { "t" : "\\u00e9\\"" } }')).toStrictEqual('{ "t" : "\\u00e9\\"" }');
    expect(objectTextOf('{"a":{}}')).toStrictEqual("{}");
  });

  it("validates the object like any other value", () => {
    expect(objectTextOf('{"a":{"x":01}}')).toStrictEqual("ERR $: invalid number at byte 11");
    expect(objectTextOf('{"a":{"x":[1,]}}')).toStrictEqual("ERR $: expected a JSON value at byte 13");
    expect(objectTextOf('{"a":{"x":{"y":{}}}}', 1000, 3)).toStrictEqual("ERR $: nesting deeper than 3 at byte 15");
    expect(objectTextOf('{"a":[1]}')).toStrictEqual("ERR a: expected object");
  });

  it("cuts at maxLen on a character boundary and counts it", () => {
    useText('{"a":{"t":"\u00e9\u00e9"}}');
    const f = new FieldReader();
    f.reset(changetype<usize>(input), input.byteLength);
    const out = new Str();
    expect(f.beginObject()).toBe(true);
    expect(f.nextField(NAMES)).toBe(0);
    // {"t":" is 6 bytes, then a 2-byte character: a cut at 7 keeps 6.
    expect(f.readObjectText(out, 7)).toBe(true);
    expect(out.len).toBe(6);
    expect(f.truncatedStrings).toBe(1);
  });
});

const LONG_NAMES = new FieldTable([
  "w", "id", "pos", "tagid", "domain", "country", "bidfloor", "publisher",
  "bidfloorcur", "private_auction", "a_name_of_seventeen", "a_name_of_seventeex",
]);

function lookupText(t: FieldTable, key: string): i32 {
  const b = String.UTF8.encode(key);
  return t.lookup(changetype<usize>(b), b.byteLength);
}

function fieldOf(t: FieldTable, key: string): i32 {
  // Through the reader, so short keys take its one-load packed path.
  useText('{"' + key + '":1}');
  const f = new FieldReader();
  f.reset(changetype<usize>(input), input.byteLength);
  if (!f.beginObject()) return -9;
  return f.nextField(t);
}

describe("FieldTable", () => {
  it("finds every name at its index, through lookup() and through the reader", () => {
    for (let i = 0; i < LONG_NAMES.length; i++) {
      const name = LONG_NAMES.names[i];
      expect(lookupText(LONG_NAMES, name)).toBe(i, name);
      expect(fieldOf(LONG_NAMES, name)).toBe(i, name);
    }
  });

  it("refuses keys that share a length, a prefix, a suffix or all but a middle byte", () => {
    const others: string[] = ["", "x", "ix", "idd", "i", "tagiD", "bidfloors", "bidfloorcux", "publishex",
      "private_auctiom", "a_name_of_seventee", "a_name_of_sevenXeen", "a_name_of_seventeen_", "\u00e9", "id\u00e9"];
    for (let i = 0; i < others.length; i++) {
      expect(lookupText(LONG_NAMES, others[i])).toBe(-1, others[i]);
      if (others[i].length > 0) expect(fieldOf(LONG_NAMES, others[i])).toBe(FIELD_END, others[i]);
    }
  });

  it("finds through the reader what lookup() finds, for random keys at random distances from the end", () => {
    // The reader packs keys under 16 plain bytes itself (one or two 8-byte loads) when the
    // input goes on far enough; the definition is lookup() of the decoded key.
    const letters = "bidfloorcupshtagwnymx_\u00e9\\";
    let seed: u32 = 777;
    let packed = 0;
    for (let round = 0; round < 4000; round++) {
      seed = seed * 1664525 + 1013904223;
      let key = "";
      if (seed % 4 == 0) {
        // A name, or a name cut or extended by one byte.
        const name = LONG_NAMES.names[<i32>((seed >>> 8) % <u32>LONG_NAMES.length)];
        const cut = (seed >>> 20) % 3;
        key = cut == 0 ? name : cut == 1 ? name.substring(0, name.length - 1) : name + "r";
      } else {
        const n = 1 + <i32>((seed >>> 8) % 18);
        for (let i = 0; i < n; i++) {
          seed = seed * 1664525 + 1013904223;
          const c = letters.charAt(<i32>((seed >>> 8) % <u32>letters.length));
          key += c == "\\" ? "\\u0070" : c; // an escaped 'p'
        }
      }
      seed = seed * 1664525 + 1013904223;
      const tail = "                ".substring(0, <i32>((seed >>> 8) % 17));
      useText('{"' + key + '":1' + tail + "}");
      const f = new FieldReader();
      f.reset(changetype<usize>(input), input.byteLength);
      expect(f.beginObject()).toBe(true);
      const decoded = key.replaceAll("\\u0070", "p");
      const want = lookupText(LONG_NAMES, decoded);
      const got = f.nextField(LONG_NAMES);
      expect(got).toBe(want < 0 ? FIELD_END : want, key + " +" + tail.length.toString());
      if (f.reader.keyPacked) packed++;
      if (want < 0) expect(f.failed).toBe(false, key);
    }
    // Both the packed and the full scan were taken.
    expect(packed).toBeGreaterThan(1000);
    expect(packed).toBeLessThan(3900);
  });

  it("matches escaped keys by their decoded bytes", () => {
    useText('{"t\\u0061gid":1}');
    const f = new FieldReader();
    f.reset(changetype<usize>(input), input.byteLength);
    f.beginObject();
    expect(f.nextField(LONG_NAMES)).toBe(3);
  });
});
