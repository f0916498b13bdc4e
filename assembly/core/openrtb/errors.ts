/**
 * Codes returned by BidRequestParser.parse(). They are the JSON layer's codes
 * (one numbering, see ../json/errors.ts): 1..19 the body is not valid JSON,
 * 20 and up it is JSON but not a valid BidRequest.
 */
import { JsonError, jsonErrorLabel, isSyntaxError } from "../json/errors";

export enum ParseErrorCode {
  OK = JsonError.OK,
  EMPTY = JsonError.EMPTY,
  UNEXPECTED_END = JsonError.UNEXPECTED_END,
  EXPECTED_VALUE = JsonError.EXPECTED_VALUE,
  EXPECTED_KEY = JsonError.EXPECTED_KEY,
  EXPECTED_COLON = JsonError.EXPECTED_COLON,
  EXPECTED_COMMA_OR_BRACE = JsonError.EXPECTED_COMMA_OR_BRACE,
  EXPECTED_COMMA_OR_BRACKET = JsonError.EXPECTED_COMMA_OR_BRACKET,
  INVALID_NUMBER = JsonError.INVALID_NUMBER,
  INVALID_LITERAL = JsonError.INVALID_LITERAL,
  INVALID_UTF8 = JsonError.INVALID_UTF8,
  CONTROL_CHAR = JsonError.CONTROL_CHAR,
  INVALID_ESCAPE = JsonError.INVALID_ESCAPE,
  LONE_SURROGATE = JsonError.LONE_SURROGATE,
  TOO_DEEP = JsonError.TOO_DEEP,
  STRING_TOO_LONG = JsonError.STRING_TOO_LONG,
  TRAILING_CHARS = JsonError.TRAILING_CHARS,
  /** A field has the wrong JSON type (`expected integer`, `expected array`, ...); also a non-object body. */
  WRONG_TYPE = JsonError.WRONG_TYPE,
  /** A number outside the field's range, or beyond f64 (`out of range`). */
  OUT_OF_RANGE = JsonError.OUT_OF_RANGE,
  /** id, imp, imp[].id or deal id missing (`required`). */
  REQUIRED = JsonError.REQUIRED,
  /** Empty id or empty imp array (`must not be empty`). */
  EMPTY_VALUE = JsonError.EMPTY_VALUE,
  /** A field the parser reads appears twice in one object. */
  DUPLICATE_KEY = JsonError.DUPLICATE_KEY,
  /** An echoed id longer than MAX_ID_BYTES. */
  TOO_LONG = JsonError.TOO_LONG,
  /** An imp without banner, video, native or audio. */
  NO_MEDIA = JsonError.INVALID_VALUE,
  /** Two imps with one id. */
  DUPLICATE_IMP_ID = JsonError.DUPLICATE_VALUE,
}

/** True when the code means the body was not valid JSON at all. */
export function isInvalidJson(code: i32): bool {
  return isSyntaxError(code);
}

/** Stable snake_case label for metrics (`invalid_json`, `wrong_type`, `required`, ...). */
export function parseErrorLabel(code: i32): string {
  if (code == ParseErrorCode.NO_MEDIA) return "no_media";
  if (code == ParseErrorCode.DUPLICATE_IMP_ID) return "duplicate_imp_id";
  return jsonErrorLabel(code);
}
