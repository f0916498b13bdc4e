/**
 * Error codes of the JSON reader and of the typed field layer on top of it.
 *
 * One numbering for both, so a parser built on the reader (the OpenRTB
 * BidRequest parser, the campaign config parser) can return a single code that
 * is also a stable label for metrics. 0 is success. Codes 1..19 mean the input
 * is not valid JSON (RFC 8259); 20 and up mean valid JSON that does not fit the
 * expected document (wrong type, missing field, ...).
 */
export enum JsonError {
  OK = 0,
  // --- not JSON ---
  EMPTY = 1,
  UNEXPECTED_END = 2,
  EXPECTED_VALUE = 3,
  EXPECTED_KEY = 4,
  EXPECTED_COLON = 5,
  EXPECTED_COMMA_OR_BRACE = 6,
  EXPECTED_COMMA_OR_BRACKET = 7,
  INVALID_NUMBER = 8,
  INVALID_LITERAL = 9,
  INVALID_UTF8 = 10,
  CONTROL_CHAR = 11,
  INVALID_ESCAPE = 12,
  LONE_SURROGATE = 13,
  TOO_DEEP = 14,
  STRING_TOO_LONG = 15,
  TRAILING_CHARS = 16,
  /** The reader was asked for one kind of value and found another (direct reader use only). */
  UNEXPECTED_KIND = 17,
  // --- JSON, but not the expected document ---
  WRONG_TYPE = 20,
  OUT_OF_RANGE = 21,
  REQUIRED = 22,
  EMPTY_VALUE = 23,
  DUPLICATE_KEY = 24,
  TOO_LONG = 25,
  INVALID_VALUE = 26,
  /** A value that must be unique among its siblings repeats (e.g. an imp id). */
  DUPLICATE_VALUE = 27,
}

/** True for the codes that mean "the body is not valid JSON". */
export function isSyntaxError(code: i32): bool {
  return code > 0 && code < 20;
}

/**
 * Human text of a syntax error. Plain ASCII without quotes or backslashes, so
 * it can be embedded in a JSON error reply as it is.
 */
export function jsonErrorText(code: i32): string {
  switch (code) {
    case JsonError.EMPTY: return "empty body";
    case JsonError.UNEXPECTED_END: return "unexpected end of input";
    case JsonError.EXPECTED_VALUE: return "expected a JSON value";
    case JsonError.EXPECTED_KEY: return "expected a string key";
    case JsonError.EXPECTED_COLON: return "expected ':' after key";
    case JsonError.EXPECTED_COMMA_OR_BRACE: return "expected ',' or '}'";
    case JsonError.EXPECTED_COMMA_OR_BRACKET: return "expected ',' or ']'";
    case JsonError.INVALID_NUMBER: return "invalid number";
    case JsonError.INVALID_LITERAL: return "invalid literal";
    case JsonError.INVALID_UTF8: return "invalid UTF-8";
    case JsonError.CONTROL_CHAR: return "control character in string";
    case JsonError.INVALID_ESCAPE: return "invalid escape sequence";
    case JsonError.LONE_SURROGATE: return "lone surrogate in unicode escape";
    case JsonError.TOO_DEEP: return "nesting deeper than";
    case JsonError.STRING_TOO_LONG: return "string too long";
    case JsonError.TRAILING_CHARS: return "trailing characters after JSON value";
    case JsonError.UNEXPECTED_KIND: return "unexpected kind of value";
    default: return "invalid JSON";
  }
}

/** Stable snake_case label of a code, for metrics and logs. */
export function jsonErrorLabel(code: i32): string {
  switch (code) {
    case JsonError.OK: return "ok";
    case JsonError.EMPTY: return "empty_body";
    case JsonError.INVALID_UTF8: return "invalid_utf8";
    case JsonError.TOO_DEEP: return "too_deep";
    case JsonError.STRING_TOO_LONG: return "string_too_long";
    case JsonError.WRONG_TYPE: return "wrong_type";
    case JsonError.OUT_OF_RANGE: return "out_of_range";
    case JsonError.REQUIRED: return "required";
    case JsonError.EMPTY_VALUE: return "empty_value";
    case JsonError.DUPLICATE_KEY: return "duplicate_key";
    case JsonError.TOO_LONG: return "too_long";
    case JsonError.INVALID_VALUE: return "invalid_value";
    case JsonError.DUPLICATE_VALUE: return "duplicate_value";
    default: return isSyntaxError(code) ? "invalid_json" : "invalid";
  }
}
