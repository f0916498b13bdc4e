/**
 * Reading the context objects of a BidRequest: site, app, publisher, device,
 * geo, user (+ data[].segment[]), regs and source (+ schain). Where OpenRTB
 * 2.5 kept a field in `ext` and 2.6 moved it to the object itself (gdpr,
 * us_privacy, consent, schain), both places are read into separate fields.
 */
import { Str } from "../bytes/str";
import { FieldReader, FIELD_ERROR } from "../json/fields";
import { FieldTable } from "../json/field-table";
import { JsonKind } from "../json/reader";
import { App, Device, Geo, Publisher, Regs, Segment, Site, Source, SupplyChain, User } from "./context";
import { MAX_PRIVACY_STRING_BYTES, MAX_SEGMENTS, MAX_STRING_BYTES } from "./limits";
import { BidRequest } from "./request";

const I32_MAX: i64 = 2147483647;
const F64_MAX: f64 = 1.7976931348623157e308;
const I32_MIN: i64 = -2147483648;
const S = MAX_STRING_BYTES;
/** Consent strings (TCF, GPP) are read whole: a cut one loses the sections after the cut. */
const P = MAX_PRIVACY_STRING_BYTES;

const SITE_FIELDS = new FieldTable(["id", "name", "domain", "page", "ref", "cat", "mobile", "publisher"]);
const APP_FIELDS = new FieldTable(["id", "name", "bundle", "domain", "storeurl", "ver", "cat", "publisher"]);
const PUBLISHER_FIELDS = new FieldTable(["id", "name", "domain"]);
const DEVICE_FIELDS = new FieldTable([
  "ua", "ip", "ipv6", "make", "model", "os", "osv", "language", "ifa",
  "devicetype", "js", "dnt", "lmt", "connectiontype", "w", "h", "geo", "ext",
]);
const DEVICE_EXT_FIELDS = new FieldTable(["atts"]);
const GEO_FIELDS = new FieldTable(["lat", "lon", "type", "country", "region", "city", "zip", "metro", "utcoffset"]);
const USER_FIELDS = new FieldTable(["id", "buyeruid", "gender", "keywords", "yob", "geo", "data", "consent", "ext", "kwarray"]);
const USER_EXT_FIELDS = new FieldTable(["consent"]);
const DATA_FIELDS = new FieldTable(["id", "name", "segment"]);
const SEGMENT_FIELDS = new FieldTable(["id", "name", "value"]);
const REGS_FIELDS = new FieldTable(["coppa", "gdpr", "us_privacy", "gpp", "gpp_sid", "ext"]);
const REGS_EXT_FIELDS = new FieldTable(["gdpr", "us_privacy", "dsa", "gpp", "gpp_sid"]);
const DSA_FIELDS = new FieldTable(["dsarequired", "pubrender"]);
const SOURCE_FIELDS = new FieldTable(["tid", "fd", "schain", "ext"]);
const SOURCE_EXT_FIELDS = new FieldTable(["schain"]);
const SCHAIN_FIELDS = new FieldTable(["complete", "nodes", "ver"]);
const SCHAIN_NODE_FIELDS = new FieldTable(["asi", "sid"]);

const SPARE_SEGMENT = new Segment();
/** user.data[].id and .name while a data object is read (ids are copied onto its segments). */
const DATA_ID = new Str();
const DATA_NAME = new Str();

export function readSite(f: FieldReader, site: Site): bool {
  if (!f.beginObject()) return false;
  site.present = true;
  let k: i32;
  while ((k = f.nextField(SITE_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readString(site.id, S); break;
      case 1: ok = f.readString(site.name, S); break;
      case 2: ok = f.readString(site.domain, S); break;
      case 3: ok = f.readString(site.page, S); break;
      case 4: ok = f.readString(site.ref, S); break;
      case 5: ok = f.readStringList(site.cat, S); break;
      case 6: ok = f.readInt(0, 1); site.mobile = <i32>f.intValue; break;
      case 7: ok = readPublisher(f, site.publisher); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

export function readApp(f: FieldReader, app: App): bool {
  if (!f.beginObject()) return false;
  app.present = true;
  let k: i32;
  while ((k = f.nextField(APP_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readString(app.id, S); break;
      case 1: ok = f.readString(app.name, S); break;
      case 2: ok = f.readString(app.bundle, S); break;
      case 3: ok = f.readString(app.domain, S); break;
      case 4: ok = f.readString(app.storeurl, S); break;
      case 5: ok = f.readString(app.ver, S); break;
      case 6: ok = f.readStringList(app.cat, S); break;
      case 7: ok = readPublisher(f, app.publisher); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

function readPublisher(f: FieldReader, p: Publisher): bool {
  if (!f.beginObject()) return false;
  p.present = true;
  let k: i32;
  while ((k = f.nextField(PUBLISHER_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readString(p.id, S); break;
      case 1: ok = f.readString(p.name, S); break;
      case 2: ok = f.readString(p.domain, S); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

export function readDevice(f: FieldReader, d: Device): bool {
  if (!f.beginObject()) return false;
  d.present = true;
  let k: i32;
  while ((k = f.nextField(DEVICE_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readString(d.ua, S); break;
      case 1: ok = f.readString(d.ip, S); break;
      case 2: ok = f.readString(d.ipv6, S); break;
      case 3: ok = f.readString(d.make, S); break;
      case 4: ok = f.readString(d.model, S); break;
      case 5: ok = f.readString(d.os, S); break;
      case 6: ok = f.readString(d.osv, S); break;
      case 7: ok = f.readString(d.language, S); break;
      case 8: ok = f.readString(d.ifa, S); break;
      case 9: ok = f.readInt(0, I32_MAX); d.devicetype = <i32>f.intValue; break;
      case 10: ok = f.readInt(0, 1); d.js = <i32>f.intValue; break;
      case 11: ok = f.readInt(0, 1); d.dnt = <i32>f.intValue; break;
      case 12: ok = f.readInt(0, 1); d.lmt = <i32>f.intValue; break;
      case 13: ok = f.readInt(0, I32_MAX); d.connectiontype = <i32>f.intValue; break;
      case 14: ok = f.readInt(0, I32_MAX); d.w = <i32>f.intValue; break;
      case 15: ok = f.readInt(0, I32_MAX); d.h = <i32>f.intValue; break;
      case 16: ok = readGeo(f, d.geo); break;
      case 17: ok = readDeviceExt(f, d); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

/**
 * device.ext: the iOS App Tracking Transparency status (atts), as exchanges and Prebid send it.
 * A value that is not a non-negative integer (exchange-specific: not a 400; a string too) is kept
 * as -2, which only says tracking was not shown to be authorized.
 */
function readDeviceExt(f: FieldReader, d: Device): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(DEVICE_EXT_FIELDS)) >= 0) {
    if (f.valueKind() == JsonKind.NUMBER) {
      if (!f.readNumber(-F64_MAX, F64_MAX)) return false;
      const v = f.floatValue;
      d.atts = v >= 0 && v <= <f64>I32_MAX && v == Math.floor(v) ? <i32>v : -2;
    } else {
      if (!f.skip()) return false;
      d.atts = -2;
    }
    f.endField();
  }
  return k != FIELD_ERROR;
}

function readGeo(f: FieldReader, g: Geo): bool {
  if (!f.beginObject()) return false;
  g.present = true;
  let k: i32;
  while ((k = f.nextField(GEO_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readNumber(-90, 90); g.lat = f.floatValue; g.hasLat = true; break;
      case 1: ok = f.readNumber(-180, 180); g.lon = f.floatValue; g.hasLon = true; break;
      case 2: ok = f.readInt(0, I32_MAX); g.type = <i32>f.intValue; break;
      case 3: ok = f.readString(g.country, S); break;
      case 4: ok = f.readString(g.region, S); break;
      case 5: ok = f.readString(g.city, S); break;
      case 6: ok = f.readString(g.zip, S); break;
      case 7: ok = f.readString(g.metro, S); break;
      case 8: {
        // Minutes from UTC: real offsets are within +-14 h; allow a full day either way.
        ok = f.readInt(-1440, 1440);
        g.utcoffset = <i32>f.intValue;
        g.hasUtcoffset = true;
        break;
      }
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

export function readUser(f: FieldReader, u: User, req: BidRequest): bool {
  if (!f.beginObject()) return false;
  u.present = true;
  let k: i32;
  while ((k = f.nextField(USER_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readString(u.id, S); break;
      case 1: ok = f.readString(u.buyeruid, S); break;
      case 2: ok = f.readString(u.gender, S); break;
      case 3: ok = readKeywords(f, u); break;
      case 4: {
        // Exchanges send -1 or 0 for "unknown": any integer is taken (nothing bids on it), and one
        // that is no plausible birth year is kept as unknown (0) instead of refusing the auction.
        ok = f.readInt(I32_MIN, I32_MAX);
        const y = <i32>f.intValue;
        u.yob = y >= 1900 && y <= 2100 ? y : 0;
        break;
      }
      case 5: ok = readGeo(f, u.geo); break;
      case 6: ok = readUserData(f, u, req); break;
      // TCF strings can be long (vendor lists); cut like any other string.
      case 7: ok = f.readString(u.consent, P); break;
      case 8: ok = readUserExt(f, u); break;
      case 9: ok = f.readStringList(u.kwarray, S); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

/**
 * user.keywords: a comma-separated string; sent as an array of strings (as some exchanges do,
 * the form 2.6 names kwarray) and read tolerantly, it goes to user.kwarray and counts as a type
 * slip (in strict mode it is `expected string`).
 */
function readKeywords(f: FieldReader, u: User): bool {
  if (f.tolerant && f.valueKind() == JsonKind.ARRAY) {
    f.coercedValues++;
    return f.readStringList(u.kwarray, S);
  }
  return f.readString(u.keywords, S);
}

function readUserExt(f: FieldReader, u: User): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(USER_EXT_FIELDS)) >= 0) {
    if (!f.readString(u.extConsent, P)) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

/** user.data[]: every segment goes onto req.segments, tagged with its data object's id and index. */
function readUserData(f: FieldReader, u: User, req: BidRequest): bool {
  if (!f.beginArray()) return false;
  let i = 0;
  while (f.nextElement(i)) {
    const first = req.segmentCount;
    if (!readData(f, req, i)) return false;
    // data.id may come after segment[]: tag the segments once the object is read.
    for (let s = first; s < req.segmentCount; s++) {
      const seg = unchecked(req.segments[s]);
      seg.dataId.copyFrom(DATA_ID);
      seg.dataIndex = i;
    }
    f.endElement();
    i++;
  }
  if (f.failed) return false;
  u.dataTotal = i;
  return true;
}

function readData(f: FieldReader, req: BidRequest, dataIndex: i32): bool {
  if (!f.beginObject()) return false;
  DATA_ID.clear();
  let k: i32;
  while ((k = f.nextField(DATA_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readString(DATA_ID, S); break;
      case 1: ok = f.readString(DATA_NAME, S); break;
      case 2: ok = readSegments(f, req); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

function readSegments(f: FieldReader, req: BidRequest): bool {
  if (!f.beginArray()) return false;
  let i = 0;
  const before = req.segmentTotal;
  while (f.nextElement(i)) {
    let seg = SPARE_SEGMENT;
    if (req.segmentCount < MAX_SEGMENTS) {
      seg = unchecked(req.segments[req.segmentCount]);
      req.segmentCount++;
    } else {
      SPARE_SEGMENT.reset();
    }
    req.segmentTotal++;
    if (!readSegment(f, seg)) return false;
    f.endElement();
    i++;
  }
  if (f.failed) return false;
  // Count the overflow once per request, when the flattened list first fills up.
  if (before <= MAX_SEGMENTS && req.segmentTotal > MAX_SEGMENTS) f.truncatedArrays++;
  return true;
}

function readSegment(f: FieldReader, seg: Segment): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(SEGMENT_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readString(seg.id, S); break;
      case 1: ok = f.readString(seg.name, S); break;
      case 2: ok = f.readString(seg.value, S); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

export function readRegs(f: FieldReader, r: Regs): bool {
  if (!f.beginObject()) return false;
  r.present = true;
  let k: i32;
  while ((k = f.nextField(REGS_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readInt(0, 1); r.coppa = <i32>f.intValue; break;
      case 1: ok = f.readInt(0, 1); r.gdpr = <i32>f.intValue; break;
      case 2: ok = f.readString(r.usPrivacy, S); break;
      case 3: ok = f.readString(r.gpp, P); break;
      // -1: "no section applies" (the GPP CMP API's applicableSections, which exchanges copy).
      case 4: ok = f.readIntList(r.gppSid, -1, I32_MAX); break;
      case 5: ok = readRegsExt(f, r); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

/** regs.ext: the 2.5 (IAB extension) gdpr, us_privacy, gpp and gpp_sid, and the DSA Transparency extension. */
function readRegsExt(f: FieldReader, r: Regs): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(REGS_EXT_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readInt(0, 1); r.extGdpr = <i32>f.intValue; break;
      case 1: ok = f.readString(r.extUsPrivacy, S); break;
      case 2: ok = readDsa(f, r); break;
      case 3: ok = f.readString(r.extGpp, P); break;
      case 4: ok = f.readIntList(r.extGppSid, -1, I32_MAX); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

/**
 * regs.ext.dsa: what the bid path acts on (datatopub and transparency are the exchange's). Any
 * non-negative value is taken, so that a value a later version of the extension adds is no 400
 * (decision.ts reads dsarequired 2 and up as required).
 */
function readDsa(f: FieldReader, r: Regs): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(DSA_FIELDS)) >= 0) {
    const ok = f.readInt(0, I32_MAX);
    if (k == 0) r.dsaRequired = <i32>f.intValue;
    else r.dsaPubRender = <i32>f.intValue;
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

export function readSource(f: FieldReader, s: Source): bool {
  if (!f.beginObject()) return false;
  s.present = true;
  let k: i32;
  while ((k = f.nextField(SOURCE_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readString(s.tid, S); break;
      case 1: ok = f.readInt(0, 1); s.fd = <i32>f.intValue; break;
      case 2: ok = readSupplyChain(f, s.schain); break;
      case 3: ok = readSourceExt(f, s); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

function readSourceExt(f: FieldReader, s: Source): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(SOURCE_EXT_FIELDS)) >= 0) {
    if (!readSupplyChain(f, s.extSchain)) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

/** schain: presence, `complete`, `ver`, the node count, and each node's `asi` and `sid` (seller rules). */
function readSupplyChain(f: FieldReader, sc: SupplyChain): bool {
  if (!f.beginObject()) return false;
  sc.present = true;
  let k: i32;
  while ((k = f.nextField(SCHAIN_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: ok = f.readInt(0, 1); sc.complete = <i32>f.intValue; break;
      case 1: ok = readNodes(f, sc); break;
      case 2: ok = f.readString(sc.ver, S); break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

/**
 * schain.nodes: every node must be an object; the first MAX_SCHAIN_NODES keep their asi and sid
 * (index for index in sc.asi and sc.sid; a node without one keeps an empty view), the others
 * are only validated and counted.
 */
function readNodes(f: FieldReader, sc: SupplyChain): bool {
  if (!f.beginArray()) return false;
  let i = 0;
  while (f.nextElement(i)) {
    const asi = sc.asi.next();
    const sid = sc.sid.next();
    if (asi === null || sid === null) {
      if (!f.expect(JsonKind.OBJECT, "expected object")) return false;
      if (!f.skip()) return false;
    } else {
      if (!f.beginObject()) return false;
      let k: i32;
      while ((k = f.nextField(SCHAIN_NODE_FIELDS)) >= 0) {
        if (!f.readString(k == 0 ? asi : sid, S)) return false;
        f.endField();
      }
      if (k == FIELD_ERROR) return false;
    }
    f.endElement();
    i++;
  }
  if (f.failed) return false;
  sc.nodeCount = i;
  return true;
}
