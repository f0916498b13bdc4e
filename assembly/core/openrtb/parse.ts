/**
 * The OpenRTB 2.5/2.6 BidRequest parser of the bid path: strict JSON, the
 * fields the bidder uses, into a preallocated BidRequest. No allocation and no
 * trap on any input; every problem is an error code plus a short message that
 * names the JSON path (see README.md).
 */
import { Str } from "../bytes/str";
import { FieldReader, FIELD_ERROR } from "../json/fields";
import { FieldTable } from "../json/field-table";
import { JsonKind } from "../json/reader";
import { ParseErrorCode, parseErrorLabel } from "./errors";
import { MAX_ID_BYTES, MAX_STRING_BYTES } from "./limits";
import { readApp, readDevice, readRegs, readSite, readSource, readUser } from "./parse-context";
import { readImps, requiredField } from "./parse-imp";
import { BidRequest } from "./request";

export { ParseErrorCode } from "./errors";

const I32_MAX: i64 = 2147483647;
const S = MAX_STRING_BYTES;

const REQUEST_FIELDS = new FieldTable([
  "id", "imp", "site", "app", "device", "user", "test", "at", "tmax",
  "cur", "bcat", "badv", "bapp", "wseat", "bseat", "regs", "source", "cattax",
  "acat", "wlang", "wlangb",
]);

export class BidRequestParser {
  /** The JSON layer (reader, path, message); exposed for diagnostics. */
  readonly fields: FieldReader;
  /** Code of the last parse (0 = OK). */
  errorCode: i32 = 0;
  /** Message of the last failed parse, e.g. `imp[0].banner.w: expected integer`; empty after success. */
  readonly errorMessage: Str = new Str();

  /**
   * @param scratchBytes arena for unescaped strings; as large as the body limit means it cannot run out
   * @param maxDepth nesting limit, counting every object and array (the top-level object is 1)
   */
  constructor(scratchBytes: i32 = 65536, maxDepth: i32 = 32) {
    this.fields = new FieldReader(scratchBytes, maxDepth);
    this.tolerant = true;
  }

  /**
   * Whether the type slips exchanges make are read as meant (the default; see
   * FieldReader.tolerant and README.md "Type slips") or refused with a 400 (the
   * plugin's `strict_types`).
   */
  get tolerant(): bool {
    return this.fields.tolerant;
  }

  set tolerant(on: bool) {
    this.fields.tolerant = on;
    this.fields.reader.scratch.replaceLoneSurrogates = on;
  }

  /**
   * Parses [ptr, ptr+len) into `out` (reset first). Returns 0 on success or a
   * ParseErrorCode; then `errorMessage` says what and where, and `out` holds
   * whatever was read before the error (do not use it). Never allocates,
   * never traps.
   */
  parse(ptr: usize, len: i32, out: BidRequest): i32 {
    out.reset();
    const f = this.fields;
    f.reset(ptr, len);
    if (f.reader.atEnd()) {
      f.fail(ParseErrorCode.EMPTY, "empty body"); // "$: empty body" (also for whitespace only)
    } else if (f.expect(JsonKind.OBJECT, "expected object")) {
      // Syntax first: trailing bytes are reported before a missing id or imp.
      if (readBidRequest(f, out) && f.finish()) checkRequired(f, out);
    }
    out.truncatedStrings = f.truncatedStrings;
    out.truncatedArrays = f.truncatedArrays;
    out.coercedValues = f.coercedValues + f.reader.scratch.replaced;
    this.errorCode = f.error;
    if (f.error != 0) f.errorMessageInto(this.errorMessage);
    else this.errorMessage.clear();
    return f.error;
  }

  /** Start of the error message in linear memory (see errorMessage). */
  get errorMessagePtr(): usize {
    return this.errorMessage.ptr;
  }

  /** Length in bytes of the error message (0 after success). */
  get errorMessageLen(): i32 {
    return this.errorMessage.len;
  }

  /** Metrics label of the last error ("ok" after success). */
  get errorLabel(): string {
    return parseErrorLabel(this.errorCode);
  }

  /** Byte offset of the last syntax error (meaningful for codes below 20). */
  get errorOffset(): i32 {
    return this.fields.reader.errorAt;
  }
}

function readBidRequest(f: FieldReader, req: BidRequest): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(REQUEST_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readId(req.id, MAX_ID_BYTES); break;
      case 1: ok = readImps(f, req); break;
      case 2: ok = readSite(f, req.site); break;
      case 3: ok = readApp(f, req.app); break;
      case 4: ok = readDevice(f, req.device); break;
      case 5: ok = readUser(f, req.user, req); break;
      case 6: ok = f.readInt(0, 1); req.test = <i32>f.intValue; break;
      case 7: ok = f.readInt(1, I32_MAX); req.at = <i32>f.intValue; break;
      case 8: ok = f.readInt(0, I32_MAX); req.tmax = <i32>f.intValue; break;
      case 9: ok = f.readStringList(req.cur, S); break;
      case 10: ok = f.readStringList(req.bcat, S); break;
      case 11: ok = f.readStringList(req.badv, S); break;
      case 12: ok = f.readStringList(req.bapp, S); break;
      case 13: ok = f.readStringList(req.wseat, S); break;
      case 14: ok = f.readStringList(req.bseat, S); break;
      case 15: ok = readRegs(f, req.regs); break;
      case 16: ok = readSource(f, req.source); break;
      // Any taxonomy number is taken (AdCOM adds some; 500+ are exchange-specific): a creative's
      // categories are compared in it when the campaign gives them in it (decision.ts).
      case 17: ok = f.readInt(0, I32_MAX); req.cattax = <i32>f.intValue; break;
      case 18: ok = f.readStringList(req.acat, S); break;
      case 19: ok = f.readStringList(req.wlang, S); break;
      case 20: ok = f.readStringList(req.wlangb, S); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

/** id and imp are required (an empty imp array was already refused while reading it). */
function checkRequired(f: FieldReader, req: BidRequest): bool {
  if (req.id.len == 0) return requiredField(f, "id");
  if (req.impCountTotal == 0) return requiredField(f, "imp");
  return true;
}
