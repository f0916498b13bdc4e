// The JSON reader: strict RFC 8259, zero allocation per document, never traps.
export { JsonError, isSyntaxError, jsonErrorText, jsonErrorLabel } from "./errors";
export { JsonKind, JsonReader, MAX_DEPTH_LIMIT } from "./reader";
export { NumberStatus, NumberToken } from "./number";
export { StringScratch } from "./strings";
export { FieldReader, FIELD_END, FIELD_ERROR, MAX_FIELDS_PER_OBJECT } from "./fields";
export { FieldTable } from "./field-table";
export { StrList, IntList } from "./lists";
export { JsonPath, MAX_PATH_SEGMENTS } from "./path";
export { MessageBuffer } from "./message";
export { utf8SequenceLength, utf8Encode, utf8EncodedLength, utf8TruncatedLength } from "./utf8";
