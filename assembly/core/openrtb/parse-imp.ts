/**
 * Reading BidRequest.imp[]: imp, banner (+ format[]), video, native, audio,
 * pmp (+ deals[]). Each function reads one JSON object into a preallocated
 * model object; elements past a capacity are read into a spare object so they
 * are validated like the kept ones, then dropped.
 */
import { Str } from "../bytes/str";
import { JsonError } from "../json/errors";
import { FieldReader, FIELD_ERROR } from "../json/fields";
import { FieldTable } from "../json/field-table";
import { JsonKind } from "../json/reader";
import { Banner, Deal, DurFloorsText, Format, Imp, Native, Pmp, Video, Audio } from "./imp";
import { durfloorsRead, readDurFloors } from "./durfloors";
import {
  MAX_DEALS,
  MAX_FORMATS,
  MAX_ID_BYTES,
  MAX_IMPS,
  MAX_NATIVE_REQUEST_BYTES,
  MAX_STRING_BYTES,
  setDefaultCurrency,
} from "./limits";
import { BidRequest } from "./request";

const I32_MAX: i64 = 2147483647;
const F64_MAX: f64 = 1.7976931348623157e308;

const IMP_FIELDS = new FieldTable([
  "id", "banner", "video", "native", "audio", "bidfloor", "bidfloorcur",
  "tagid", "secure", "instl", "pmp", "rwdd", "exp", "ext",
]);
/** imp.ext and video.ext: the rewarded flags of exchanges before 2.6's imp.rwdd; other members skipped. */
const IMP_EXT_FIELDS = new FieldTable(["is_rewarded_inventory", "rewarded"]);
const VIDEO_EXT_FIELDS = new FieldTable(["rewarded"]);
const BANNER_FIELDS = new FieldTable(["w", "h", "format", "pos", "btype", "battr", "api"]);
const FORMAT_FIELDS = new FieldTable(["w", "h"]);
const VIDEO_FIELDS = new FieldTable([
  "mimes", "w", "h", "minduration", "maxduration", "protocols", "placement",
  "plcmt", "linearity", "startdelay", "skip", "protocol", "battr", "api", "rqddurs",
  "mincpmpersec", "podid", "skipmin", "poddur", "durfloors", "ext",
]);
const NATIVE_FIELDS = new FieldTable(["request", "ver", "api", "battr"]);
const AUDIO_FIELDS = new FieldTable([
  "mimes", "minduration", "maxduration", "protocols", "battr", "api", "rqddurs", "mincpmpersec", "podid", "durfloors",
]);
const PMP_FIELDS = new FieldTable(["private_auction", "deals"]);
const DEAL_FIELDS = new FieldTable(["id", "bidfloor", "bidfloorcur", "at", "wseat", "wadomain", "mincpmpersec", "durfloors"]);

// Validation targets for array elements past capacity.
const SPARE_IMP = new Imp();
const SPARE_FORMAT = new Format();
const SPARE_DEAL = new Deal();

/** imp: a non-empty array of imp objects. */
export function readImps(f: FieldReader, req: BidRequest): bool {
  if (!f.beginArray()) return false;
  let i = 0;
  while (f.nextElement(i)) {
    let imp = SPARE_IMP;
    if (i < MAX_IMPS) {
      imp = unchecked(req.imps[i]);
      req.impCount = i + 1; // counted before filling, so reset() also clears a half-read imp
    } else {
      SPARE_IMP.reset();
    }
    if (!readImp(f, imp)) return false;
    // imp.id is "unique within the bid request" (OpenRTB 2.6 §3.2.4): two bids with one impid
    // could not be told apart by the exchange, and both would reserve budget.
    if (i < MAX_IMPS && repeatsEarlierId(req, i)) return f.fail(JsonError.DUPLICATE_VALUE, "id repeats an earlier imp's id");
    f.endElement();
    i++;
  }
  if (f.failed) return false;
  req.impCountTotal = i;
  if (i > MAX_IMPS) f.truncatedArrays++;
  if (i == 0) return f.fail(JsonError.EMPTY_VALUE, "must not be empty");
  return true;
}

/** imps[i].id equals the id of one of imps[0, i) (at most MAX_IMPS: a few comparisons). */
function repeatsEarlierId(req: BidRequest, i: i32): bool {
  const id = unchecked(req.imps[i]).id;
  for (let j = 0; j < i; j++) if (unchecked(req.imps[j]).id.equals(id)) return true;
  return false;
}

function readImp(f: FieldReader, imp: Imp): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(IMP_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readId(imp.id, MAX_ID_BYTES); break;
      case 1: ok = readBanner(f, imp.banner); break;
      case 2: ok = readVideo(f, imp.video); break;
      case 3: ok = readNative(f, imp.native); break;
      case 4: ok = readAudio(f, imp.audio); break;
      case 5: ok = f.readNumber(0, F64_MAX); imp.bidfloor = f.floatValue; break;
      case 6: {
        const given = readCurrency(f, imp.bidfloorcur);
        ok = given >= 0;
        imp.hasBidfloorcur = given > 0;
        break;
      }
      case 7: ok = f.readString(imp.tagid, MAX_STRING_BYTES); break;
      case 8: ok = f.readInt(0, 1); imp.secure = <i32>f.intValue; break;
      case 9: ok = f.readInt(0, 1); imp.instl = <i32>f.intValue; break;
      case 10: ok = readPmp(f, imp.pmp); break;
      case 11: ok = f.readInt(0, 1); imp.rwdd = <i32>f.intValue; break;
      case 12: ok = f.readInt(0, I32_MAX); imp.exp = <i32>f.intValue; break;
      case 13: {
        const r = readRewardedExt(f, IMP_EXT_FIELDS);
        ok = r >= 0;
        if (r == 1) imp.extRewarded = true;
        break;
      }
    }
    if (!ok) return false;
    f.endField();
  }
  if (k == FIELD_ERROR) return false;
  if (imp.id.len == 0) return requiredField(f, "id");
  if (!(imp.banner.present || imp.video.present || imp.native.present || imp.audio.present)) {
    return f.fail(JsonError.INVALID_VALUE, "no banner, video, native or audio");
  }
  return true;
}

/**
 * An ext object's rewarded flags: 1 when one is 1 or true, 0 when none is, -1 on an error.
 * Exchange-specific: a value of another form is skipped (validated as JSON), not a 400 that would
 * lose the auction.
 */
function readRewardedExt(f: FieldReader, fields: FieldTable): i32 {
  if (!f.beginObject()) return -1;
  let rewarded = 0;
  let k: i32;
  while ((k = f.nextField(fields)) >= 0) {
    const kind = f.valueKind();
    if (kind == JsonKind.BOOL) {
      if (!f.readBool()) return -1;
      if (f.reader.boolValue) rewarded = 1;
    } else if (kind == JsonKind.NUMBER) {
      if (!f.readNumber(-F64_MAX, F64_MAX)) return -1;
      if (f.floatValue == 1) rewarded = 1;
    } else if (!f.skip()) return -1;
    f.endField();
  }
  return k != FIELD_ERROR ? rewarded : -1;
}

/** `<path>.<name>: required` for a field the current object lacks. */
export function requiredField(f: FieldReader, name: string): bool {
  f.path.pushField(name);
  return f.fail(JsonError.REQUIRED, "required");
}

/**
 * A currency code into `cur`. Returns 1 when one was given, 0 for "" (which
 * keeps the default "USD"), -1 on an error.
 */
function readCurrency(f: FieldReader, cur: Str): i32 {
  if (!f.readString(cur, MAX_STRING_BYTES)) return -1;
  if (cur.len > 0) return 1;
  setDefaultCurrency(cur);
  return 0;
}

function readBanner(f: FieldReader, b: Banner): bool {
  if (!f.beginObject()) return false;
  b.present = true;
  let k: i32;
  while ((k = f.nextField(BANNER_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readInt(0, I32_MAX); b.w = <i32>f.intValue; break;
      case 1: ok = f.readInt(0, I32_MAX); b.h = <i32>f.intValue; break;
      case 2: ok = readFormats(f, b); break;
      case 3: ok = f.readInt(0, I32_MAX); b.pos = <i32>f.intValue; break;
      case 4: ok = f.readIntList(b.btype, 0, I32_MAX); break;
      case 5: ok = f.readIntList(b.battr, 0, I32_MAX); break;
      case 6: ok = f.readIntList(b.api, 0, I32_MAX); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

function readFormats(f: FieldReader, b: Banner): bool {
  if (!f.beginArray()) return false;
  let i = 0;
  while (f.nextElement(i)) {
    let fmt = SPARE_FORMAT;
    if (i < MAX_FORMATS) {
      fmt = unchecked(b.formats[i]);
      b.formatCount = i + 1;
    } else {
      SPARE_FORMAT.reset();
    }
    if (!readFormat(f, fmt)) return false;
    f.endElement();
    i++;
  }
  if (f.failed) return false;
  b.formatTotal = i;
  if (i > MAX_FORMATS) f.truncatedArrays++;
  return true;
}

/** durfloors: an array of DurFloors objects, each checked; their text is kept (durfloors.ts). */
function readDurFloorsText(f: FieldReader, list: DurFloorsText): bool {
  f.valueKind(); // peeked: the read position is on the value
  const start = f.reader.pos;
  if (readDurFloors(f, 0) < 0) return false;
  list.durfloorsPtr = start;
  list.durfloorsLen = durfloorsRead == 0 ? 0 : <i32>(f.reader.pos - start);
  return true;
}

function readFormat(f: FieldReader, fmt: Format): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(FORMAT_FIELDS)) >= 0) {
    // wratio, hratio, wmin are unknown here, so they are skipped.
    const ok = f.readInt(0, I32_MAX);
    if (!ok) return false;
    if (k == 0) fmt.w = <i32>f.intValue;
    else fmt.h = <i32>f.intValue;
    f.endField();
  }
  return k != FIELD_ERROR;
}

function readVideo(f: FieldReader, v: Video): bool {
  if (!f.beginObject()) return false;
  v.present = true;
  let k: i32;
  while ((k = f.nextField(VIDEO_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readStringList(v.mimes, MAX_STRING_BYTES); break;
      case 1: ok = f.readInt(0, I32_MAX); v.w = <i32>f.intValue; break;
      case 2: ok = f.readInt(0, I32_MAX); v.h = <i32>f.intValue; break;
      case 3: ok = f.readInt(0, I32_MAX); v.minduration = <i32>f.intValue; break;
      case 4: ok = f.readInt(0, I32_MAX); v.maxduration = <i32>f.intValue; break;
      case 5: ok = f.readIntList(v.protocols, 0, I32_MAX); break;
      case 6: ok = f.readInt(0, I32_MAX); v.placement = <i32>f.intValue; break;
      case 7: ok = f.readInt(0, I32_MAX); v.plcmt = <i32>f.intValue; break;
      case 8: ok = f.readInt(0, I32_MAX); v.linearity = <i32>f.intValue; break;
      case 9: {
        // > 0 mid-roll offset in seconds, 0 pre-roll, -1 generic mid-roll, -2 generic post-roll.
        ok = f.readInt(-2, I32_MAX);
        v.startdelay = <i32>f.intValue;
        v.hasStartdelay = true;
        break;
      }
      case 10: ok = f.readInt(0, 1); v.skip = <i32>f.intValue; break;
      case 11: {
        // 2.5's single protocol (deprecated for protocols): one more accepted protocol.
        ok = f.readInt(0, I32_MAX);
        if (ok && !v.protocols.contains(<i32>f.intValue)) v.protocols.add(<i32>f.intValue);
        break;
      }
      case 12: ok = f.readIntList(v.battr, 0, I32_MAX); break;
      case 13: ok = f.readIntList(v.api, 0, I32_MAX); break;
      case 14: ok = f.readIntList(v.rqddurs, 0, I32_MAX); break;
      case 15: ok = f.readNumber(0, F64_MAX); v.mincpmpersec = f.floatValue; break;
      case 16: ok = f.readString(v.podid, MAX_STRING_BYTES); break;
      case 17: ok = f.readInt(0, I32_MAX); v.skipmin = <i32>f.intValue; break;
      case 18: ok = f.readInt(0, I32_MAX); v.poddur = <i32>f.intValue; break;
      case 19: ok = readDurFloorsText(f, v); break;
      case 20: {
        const r = readRewardedExt(f, VIDEO_EXT_FIELDS);
        ok = r >= 0;
        if (r == 1) v.extRewarded = true;
        break;
      }
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

function readNative(f: FieldReader, n: Native): bool {
  if (!f.beginObject()) return false;
  n.present = true;
  let k: i32;
  while ((k = f.nextField(NATIVE_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = readNativeRequest(f, n.request); break;
      case 1: ok = f.readString(n.ver, MAX_STRING_BYTES); break;
      case 2: ok = f.readIntList(n.api, 0, I32_MAX); break;
      case 3: ok = f.readIntList(n.battr, 0, I32_MAX); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

/**
 * native.request is a string holding the Native 1.x request document, but
 * several exchanges send the document itself as an object: keep its raw JSON
 * text, which is what the string would hold once unescaped. Anything else is
 * "expected string", the type OpenRTB names.
 */
function readNativeRequest(f: FieldReader, dst: Str): bool {
  if (f.valueKind() == JsonKind.OBJECT) return f.readObjectText(dst, MAX_NATIVE_REQUEST_BYTES);
  return f.readString(dst, MAX_NATIVE_REQUEST_BYTES);
}

function readAudio(f: FieldReader, a: Audio): bool {
  if (!f.beginObject()) return false;
  a.present = true;
  let k: i32;
  while ((k = f.nextField(AUDIO_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readStringList(a.mimes, MAX_STRING_BYTES); break;
      case 1: ok = f.readInt(0, I32_MAX); a.minduration = <i32>f.intValue; break;
      case 2: ok = f.readInt(0, I32_MAX); a.maxduration = <i32>f.intValue; break;
      case 3: ok = f.readIntList(a.protocols, 0, I32_MAX); break;
      case 4: ok = f.readIntList(a.battr, 0, I32_MAX); break;
      case 5: ok = f.readIntList(a.api, 0, I32_MAX); break;
      case 6: ok = f.readIntList(a.rqddurs, 0, I32_MAX); break;
      case 7: ok = f.readNumber(0, F64_MAX); a.mincpmpersec = f.floatValue; break;
      case 8: ok = f.readString(a.podid, MAX_STRING_BYTES); break;
      case 9: ok = readDurFloorsText(f, a); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

function readPmp(f: FieldReader, pmp: Pmp): bool {
  if (!f.beginObject()) return false;
  pmp.present = true;
  let k: i32;
  while ((k = f.nextField(PMP_FIELDS)) >= 0) {
    let ok = false;
    if (k == 0) {
      ok = f.readInt(0, 1);
      pmp.privateAuction = <i32>f.intValue;
    } else {
      ok = readDeals(f, pmp);
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

function readDeals(f: FieldReader, pmp: Pmp): bool {
  if (!f.beginArray()) return false;
  let i = 0;
  while (f.nextElement(i)) {
    let deal = SPARE_DEAL;
    if (i < MAX_DEALS) {
      deal = unchecked(pmp.deals[i]);
      pmp.dealCount = i + 1;
    } else {
      SPARE_DEAL.reset();
    }
    if (!readDeal(f, deal)) return false;
    f.endElement();
    i++;
  }
  if (f.failed) return false;
  pmp.dealTotal = i;
  if (i > MAX_DEALS) f.truncatedArrays++;
  return true;
}

function readDeal(f: FieldReader, d: Deal): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(DEAL_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readId(d.id, MAX_ID_BYTES); break;
      case 1: ok = f.readNumber(0, F64_MAX); d.bidfloor = f.floatValue; break;
      case 2: {
        const given = readCurrency(f, d.bidfloorcur);
        ok = given >= 0;
        d.hasBidfloorcur = given > 0;
        break;
      }
      case 3: ok = f.readInt(1, I32_MAX); d.at = <i32>f.intValue; break;
      case 4: ok = f.readStringList(d.wseat, MAX_STRING_BYTES); break;
      case 5: ok = f.readStringList(d.wadomain, MAX_STRING_BYTES); break;
      case 6: ok = f.readNumber(0, F64_MAX); d.mincpmpersec = f.floatValue; break;
      case 7: ok = readDurFloorsText(f, d); break;
    }
    if (!ok) return false;
    f.endField();
  }
  if (k == FIELD_ERROR) return false;
  if (d.id.len == 0) return requiredField(f, "id");
  return true;
}
