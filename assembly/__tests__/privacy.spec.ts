// The TCF v2 decoder (privacy/tcf.ts) on strings built here bit by bit, the GPP
// string (privacy/gpp.ts), and the personal-data decision (privacy/personal-data.ts)
// on parsed requests.
import { BidRequestParser } from "../core/openrtb/parse";
import { BidRequest } from "../core/openrtb/request";
import { TcfConsent } from "../core/privacy/tcf";
import { PersonalData, PersonalDataPolicy } from "../core/privacy/personal-data";
import { optedOutOfSale } from "../core/privacy/us-privacy";
import { Str } from "../core/bytes/str";
import { GppString, GppVerdict } from "../core/privacy/gpp";
import { IntList } from "../core/json/lists";

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Purposes 1-24 as the string holds them: purpose 1 is the highest of 24 bits. */
function purposes(list: i32[]): u32 {
  let v: u32 = 0;
  for (let i = 0; i < list.length; i++) v |= (<u32>1) << <u32>(24 - list[i]);
  return v;
}

/** A TCF v2 core string, field by field (the layout of the IAB spec, written independently of the decoder). */
class TcBuilder {
  version: i32 = 2;
  purposesConsent: u32 = purposes([1, 2, 3, 4, 7, 9, 10]);
  maxVendorId: i32 = 0;
  /** Bitfield encoding: the vendors with consent. */
  vendors: i32[] = [];
  /** Range encoding: pairs (first, last); first == last writes a single id. */
  range: bool = false;
  ranges: i32[] = [];
  private bits: u8[] = [];

  private put(v: u64, n: i32): void {
    for (let i = n - 1; i >= 0; i--) this.bits.push(<u8>((v >> <u64>i) & 1));
  }

  encode(): string {
    this.bits = [];
    this.put(<u64>this.version, 6);
    this.put(16000000000, 36); // Created (deciseconds)
    this.put(16000000100, 36); // LastUpdated
    this.put(300, 12); // CmpId
    this.put(2, 12); // CmpVersion
    this.put(1, 6); // ConsentScreen
    this.put((4 << 6) | 13, 12); // ConsentLanguage "EN"
    this.put(150, 12); // VendorListVersion
    this.put(4, 6); // TcfPolicyVersion
    this.put(1, 1); // IsServiceSpecific
    this.put(0, 1); // UseNonStandardTexts
    this.put(0, 12); // SpecialFeatureOptIns
    this.put(<u64>this.purposesConsent, 24);
    this.put(0, 24); // PurposesLITransparency
    this.put(0, 1); // PurposeOneTreatment
    this.put((3 << 6) | 4, 12); // PublisherCC "DE"
    this.put(<u64>this.maxVendorId, 16);
    this.put(this.range ? 1 : 0, 1);
    if (this.range) {
      this.put(<u64>(this.ranges.length / 2), 12);
      for (let i = 0; i < this.ranges.length; i += 2) {
        const single = this.ranges[i] == this.ranges[i + 1];
        this.put(single ? 0 : 1, 1);
        this.put(<u64>this.ranges[i], 16);
        if (!single) this.put(<u64>this.ranges[i + 1], 16);
      }
    } else {
      for (let v = 1; v <= this.maxVendorId; v++) this.put(this.vendors.includes(v) ? 1 : 0, 1);
    }
    // base64url, no padding: the last sextet is filled with zero bits.
    let out = "";
    for (let i = 0; i < this.bits.length; i += 6) {
      let s = 0;
      for (let k = 0; k < 6; k++) s = (s << 1) | (i + k < this.bits.length ? <i32>this.bits[i + k] : 0);
      out += B64URL.charAt(s);
    }
    return out;
  }
}

const tcf = new TcfConsent();
let held: ArrayBuffer = new ArrayBuffer(0);

function decode(s: string, vendorId: i32): bool {
  held = String.UTF8.encode(s);
  return tcf.decode(changetype<usize>(held), held.byteLength, vendorId);
}

function allPurposesWithVendors(maxVendorId: i32, vendors: i32[]): TcBuilder {
  const b = new TcBuilder();
  b.maxVendorId = maxVendorId;
  b.vendors = vendors;
  return b;
}

describe("TcfConsent.decode", () => {
  it("decodes every core field, the purposes and a vendor of a bitfield", () => {
    const s = allPurposesWithVendors(120, [1, 77, 120]).encode();
    expect(decode(s, 77)).toBe(true);
    expect(tcf.version).toBe(2);
    expect(tcf.created).toBe(16000000000);
    expect(tcf.lastUpdated).toBe(16000000100);
    expect(tcf.cmpId).toBe(300);
    expect(tcf.cmpVersion).toBe(2);
    expect(tcf.consentScreen).toBe(1);
    expect(tcf.consentLanguage).toBe((4 << 6) | 13);
    expect(tcf.vendorListVersion).toBe(150);
    expect(tcf.tcfPolicyVersion).toBe(4);
    expect(tcf.isServiceSpecific).toBe(true);
    expect(tcf.publisherCC).toBe((3 << 6) | 4);
    expect(tcf.maxVendorId).toBe(120);
    expect(tcf.isRangeEncoding).toBe(false);
    expect(tcf.purpose(1)).toBe(true);
    expect(tcf.purpose(3)).toBe(true);
    expect(tcf.purpose(4)).toBe(true);
    expect(tcf.purpose(5)).toBe(false);
    expect(tcf.vendorConsent).toBe(true);
    // The first and last ids of the bitfield, and ids around them.
    expect(decode(s, 1)).toBe(true);
    expect(tcf.vendorConsent).toBe(true);
    expect(decode(s, 120)).toBe(true);
    expect(tcf.vendorConsent).toBe(true);
    expect(decode(s, 76)).toBe(true);
    expect(tcf.vendorConsent).toBe(false);
    expect(decode(s, 121)).toBe(true);
    expect(tcf.vendorConsent).toBe(false);
    expect(decode(s, 0)).toBe(true);
    expect(tcf.vendorConsent).toBe(false);
  });

  it("finds a vendor in a range entry and in a single-id entry", () => {
    const b = new TcBuilder();
    b.maxVendorId = 900;
    b.range = true;
    b.ranges = [5, 5, 100, 250, 900, 900];
    const s = b.encode();
    expect(decode(s, 180)).toBe(true);
    expect(tcf.isRangeEncoding).toBe(true);
    expect(tcf.vendorConsent).toBe(true);
    expect(decode(s, 5)).toBe(true);
    expect(tcf.vendorConsent).toBe(true);
    expect(decode(s, 900)).toBe(true);
    expect(tcf.vendorConsent).toBe(true);
    expect(decode(s, 99)).toBe(true);
    expect(tcf.vendorConsent).toBe(false);
    expect(decode(s, 251)).toBe(true);
    expect(tcf.vendorConsent).toBe(false);
  });

  it("refuses a range entry that is reversed, starts at 0 or ends past MaxVendorId", () => {
    const b = new TcBuilder();
    b.maxVendorId = 300;
    b.range = true;
    b.ranges = [250, 100];
    expect(decode(b.encode(), 180)).toBe(false);
    b.ranges = [0, 10];
    expect(decode(b.encode(), 5)).toBe(false);
    b.ranges = [10, 301];
    expect(decode(b.encode(), 20)).toBe(false);
  });

  it("is not valid for version 1, a truncated string, or non-base64url characters", () => {
    const b = allPurposesWithVendors(40, [7]);
    b.version = 1;
    expect(decode(b.encode(), 7)).toBe(false);
    expect(tcf.valid).toBe(false);
    expect(tcf.purpose(1)).toBe(false);

    b.version = 2;
    const s = b.encode();
    expect(decode(s, 7)).toBe(true);
    // Cut inside the bitfield, inside the header, and nothing at all.
    expect(decode(s.substring(0, s.length - 2), 7)).toBe(false);
    expect(decode(s.substring(0, 20), 7)).toBe(false);
    expect(decode("", 7)).toBe(false);
    // '+' and '/' (plain base64), '=' padding, a space: not base64url.
    expect(decode(s.substring(0, 10) + "+" + s.substring(11), 7)).toBe(false);
    expect(decode(s.substring(0, 10) + "/" + s.substring(11), 7)).toBe(false);
    expect(decode(s + "==", 7)).toBe(false);
    expect(decode(" " + s, 7)).toBe(false);
  });

  it("reads only the core segment of a '.'-separated string", () => {
    const s = allPurposesWithVendors(40, [7]).encode();
    expect(decode(s + ".IFukWSQgAIQwgI0QEByFAAAAeIAACAIgSAAQ.YAAAAAAAAAAAAAAAAAA", 7)).toBe(true);
    expect(tcf.vendorConsent).toBe(true);
    // Whatever follows the '.' is not looked at, even if it is not base64url.
    expect(decode(s + ".#!", 7)).toBe(true);
    // A core segment cut short before the '.' is still truncated.
    expect(decode(s.substring(0, 30) + "." + s, 7)).toBe(false);
  });

  it("decodes the IAB spec's service-specific example as worked out by hand", () => {
    // From "Consent string and vendor list formats v2" (TC String Format). Decoded by hand
    // (python over the bits): version 2, created 12286442577 ds (2008-12-07), last updated
    // 13262154134 ds (2012-01-10), CMP 21 v7, screen 2, language "EN", GVL 23, policy 2,
    // service-specific, special feature 2, purposes 1 3 9 10, LI purposes 3 4 5 8 9 10,
    // publisher country "KM", bitfield of 115 vendors with 2 3 6 … 114 115.
    const s = "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA.argAC0gAAAAAAAAAAAA";
    expect(decode(s, 21)).toBe(true);
    expect(tcf.version).toBe(2);
    expect(tcf.created).toBe(12286442577);
    expect(tcf.lastUpdated).toBe(13262154134);
    expect(tcf.cmpId).toBe(21);
    expect(tcf.cmpVersion).toBe(7);
    expect(tcf.consentScreen).toBe(2);
    expect(tcf.consentLanguage).toBe((4 << 6) | 13); // E N
    expect(tcf.vendorListVersion).toBe(23);
    expect(tcf.tcfPolicyVersion).toBe(2);
    expect(tcf.isServiceSpecific).toBe(true);
    expect(tcf.specialFeatureOptIns).toBe(1 << 10);
    expect(tcf.purposesConsent).toBe(purposes([1, 3, 9, 10]));
    expect(tcf.purposesLiTransparency).toBe(purposes([3, 4, 5, 8, 9, 10]));
    expect(tcf.purposeOneTreatment).toBe(false);
    expect(tcf.publisherCC).toBe((10 << 6) | 12); // K M
    expect(tcf.maxVendorId).toBe(115);
    expect(tcf.isRangeEncoding).toBe(false);
    expect(tcf.vendorConsent).toBe(true); // 21 is in the list
    expect(decode(s, 20)).toBe(true);
    expect(tcf.vendorConsent).toBe(false);
    expect(decode(s, 115)).toBe(true);
    expect(tcf.vendorConsent).toBe(true);
  });
});

// ---- the decision --------------------------------------------------------------

const parser = new BidRequestParser();
const req = new BidRequest();
const policy = new PersonalDataPolicy();
let body: ArrayBuffer = new ArrayBuffer(0);

/** The decision for a request with these extra top-level members (e.g. '"regs":{"coppa":1}'). */
function decideWith(members: string, vendorId: i32 = 0): i32 {
  const json = '{"id":"r","imp":[{"id":"1","banner":{"w":300,"h":250}}]' + (members.length > 0 ? "," + members : "") + "}";
  body = String.UTF8.encode(json);
  const rc = parser.parse(changetype<usize>(body), body.byteLength, req);
  if (rc != 0) trace("parse failed: " + parser.errorMessage.toString());
  expect(rc).toBe(0);
  policy.gdprVendorId = vendorId;
  return policy.decide(req);
}

const GRANTED = allPurposesWithVendors(100, [42]).encode();
function withoutPurpose(p: i32): string {
  const b = allPurposesWithVendors(100, [42]);
  b.purposesConsent &= ~((<u32>1) << <u32>(24 - p));
  return b.encode();
}

describe("PersonalDataPolicy.decide", () => {
  it("allows personal data when no signal is there, or each says so", () => {
    expect(decideWith("")).toBe(PersonalData.ALLOWED);
    expect(decideWith('"regs":{},"device":{},"user":{}')).toBe(PersonalData.ALLOWED);
    expect(decideWith('"regs":{"coppa":0,"gdpr":0,"us_privacy":"1YNN"},"device":{"lmt":0,"dnt":0}')).toBe(PersonalData.ALLOWED);
    expect(decideWith('"regs":{"us_privacy":"1---"}')).toBe(PersonalData.ALLOWED);
    // GDPR does not apply: the consent string is not needed.
    expect(decideWith('"regs":{"gdpr":0},"user":{"consent":"garbage"}')).toBe(PersonalData.ALLOWED);
  });

  it("refuses it for each signal alone", () => {
    expect(decideWith('"regs":{"coppa":1}')).toBe(PersonalData.COPPA);
    expect(decideWith('"device":{"lmt":1}')).toBe(PersonalData.LMT);
    expect(decideWith('"device":{"dnt":1}')).toBe(PersonalData.DNT);
    expect(decideWith('"regs":{"us_privacy":"1YYN"}')).toBe(PersonalData.US_PRIVACY_OPT_OUT);
    expect(decideWith('"regs":{"ext":{"us_privacy":"1NYY"}}')).toBe(PersonalData.US_PRIVACY_OPT_OUT);
    expect(decideWith('"regs":{"gdpr":1}')).toBe(PersonalData.GDPR_NO_CONSENT);
    expect(decideWith('"regs":{"ext":{"gdpr":1}}')).toBe(PersonalData.GDPR_NO_CONSENT);
  });

  it("iOS App Tracking Transparency (device.ext.atts): only 3, authorized, allows it, whatever lmt says", () => {
    expect(decideWith('"device":{"lmt":0,"ext":{"atts":3}}')).toBe(PersonalData.ALLOWED);
    expect(decideWith('"device":{"lmt":0,"ext":{"atts":2}}')).toBe(PersonalData.LMT); // denied
    expect(decideWith('"device":{"lmt":0,"ext":{"atts":1}}')).toBe(PersonalData.LMT); // restricted
    expect(decideWith('"device":{"ext":{"atts":0}}')).toBe(PersonalData.LMT); // not determined: no IDFA, no tracking
    // Exchange-specific, so not a 400: any other form says tracking was not shown to be authorized.
    expect(decideWith('"device":{"ext":{"atts":"3"}}')).toBe(PersonalData.LMT);
    expect(decideWith('"device":{"ext":{"atts":-1}}')).toBe(PersonalData.LMT);
    expect(decideWith('"device":{"ext":{"atts":{"v":3}}}')).toBe(PersonalData.LMT);
    expect(decideWith('"device":{"lmt":1,"ext":{"atts":3}}')).toBe(PersonalData.LMT);
    expect(decideWith('"device":{"ext":{"ifv":"x"}}')).toBe(PersonalData.ALLOWED); // other ext members: skipped
  });

  // OpenRTB 2.6: regs.gdpr omitted means unknown, not "does not apply". An audit saw a refusing
  // TC string ignored on a German device because regs.gdpr was left out.
  it("GDPR not stated: applies when a TC string came, or the device is in the EEA or the UK", () => {
    expect(decideWith('"user":{"consent":"' + withoutPurpose(1) + '"}')).toBe(PersonalData.GDPR_NO_CONSENT);
    expect(decideWith('"user":{"ext":{"consent":"not-a-tc-string!"}}')).toBe(PersonalData.GDPR_NO_CONSENT);
    expect(decideWith('"user":{"consent":"' + GRANTED + '"}')).toBe(PersonalData.ALLOWED);
    expect(decideWith('"device":{"geo":{"country":"DEU"}}')).toBe(PersonalData.GDPR_NO_CONSENT);
    expect(decideWith('"device":{"geo":{"country":"gb"}}')).toBe(PersonalData.GDPR_NO_CONSENT);
    expect(decideWith('"device":{"geo":{"country":"NOR"}},"user":{"consent":"' + GRANTED + '"}')).toBe(PersonalData.ALLOWED);
    expect(decideWith('"device":{"geo":{"country":"USA"}}')).toBe(PersonalData.ALLOWED);
    expect(decideWith('"device":{"geo":{"country":"CHE"}}')).toBe(PersonalData.ALLOWED);
    // Territories with codes of their own (a review: Réunion, Åland), and the EU's own "UK" and "EL".
    const eu = ["REU", "re", "GLP", "MTQ", "GUF", "MYT", "MAF", "ALA", "AX", "GIB", "JEY", "GGY", "IMN", "UK", "el", "LIE", "is"];
    for (let i = 0; i < eu.length; i++) expect(decideWith('"device":{"geo":{"country":"' + eu[i] + '"}}')).toBe(PersonalData.GDPR_NO_CONSENT, eu[i]);
    const not = ["TUR", "RUS", "BLM", "SPM", "NCL", "U", "UKR", "ELL"];
    for (let i = 0; i < not.length; i++) expect(decideWith('"device":{"geo":{"country":"' + not[i] + '"}}')).toBe(PersonalData.ALLOWED, not[i]);
    expect(decideWith('"device":{"geo":{}}')).toBe(PersonalData.ALLOWED);
    // The exchange's explicit 0 stands, whatever the geo or the string.
    expect(decideWith('"regs":{"gdpr":0},"device":{"geo":{"country":"FRA"}},"user":{"consent":"' + withoutPurpose(1) + '"}')).toBe(PersonalData.ALLOWED);
  });

  it("reads GDPR consent from user.consent (2.6) or user.ext.consent (2.5)", () => {
    expect(decideWith('"regs":{"gdpr":1},"user":{"consent":"' + GRANTED + '"}')).toBe(PersonalData.ALLOWED);
    expect(decideWith('"regs":{"ext":{"gdpr":1}},"user":{"ext":{"consent":"' + GRANTED + '"}}')).toBe(PersonalData.ALLOWED);
    // 2.6 regs.gdpr = 0 wins over 2.5 regs.ext.gdpr = 1.
    expect(decideWith('"regs":{"gdpr":0,"ext":{"gdpr":1}}')).toBe(PersonalData.ALLOWED);
  });

  it("needs purposes 1, 3 and 4 under GDPR", () => {
    expect(decideWith('"regs":{"gdpr":1},"user":{"consent":"' + withoutPurpose(1) + '"}')).toBe(PersonalData.GDPR_NO_CONSENT);
    expect(decideWith('"regs":{"gdpr":1},"user":{"consent":"' + withoutPurpose(3) + '"}')).toBe(PersonalData.GDPR_NO_CONSENT);
    expect(decideWith('"regs":{"gdpr":1},"user":{"consent":"' + withoutPurpose(4) + '"}')).toBe(PersonalData.GDPR_NO_CONSENT);
    // Purpose 2 (basic ads) is not needed for personal data.
    expect(decideWith('"regs":{"gdpr":1},"user":{"consent":"' + withoutPurpose(2) + '"}')).toBe(PersonalData.ALLOWED);
    expect(decideWith('"regs":{"gdpr":1},"user":{"consent":"not-a-tc-string!"}')).toBe(PersonalData.GDPR_NO_CONSENT);
  });

  it("needs our vendor only when gdpr_vendor_id is set", () => {
    const consent = '"regs":{"gdpr":1},"user":{"consent":"' + GRANTED + '"}';
    expect(decideWith(consent, 0)).toBe(PersonalData.ALLOWED);
    expect(decideWith(consent, 42)).toBe(PersonalData.ALLOWED);
    expect(decideWith(consent, 43)).toBe(PersonalData.GDPR_NO_CONSENT);
    expect(decideWith(consent, 65535)).toBe(PersonalData.GDPR_NO_CONSENT);
  });

  it("names the first refusing signal when several are there", () => {
    expect(decideWith('"regs":{"coppa":1,"gdpr":1,"us_privacy":"1YYN"},"device":{"lmt":1,"dnt":1}')).toBe(PersonalData.COPPA);
    expect(decideWith('"regs":{"gdpr":1,"us_privacy":"1YYN"},"device":{"lmt":1,"dnt":1}')).toBe(PersonalData.LMT);
    expect(decideWith('"regs":{"gdpr":1,"us_privacy":"1YYN"},"device":{"dnt":1}')).toBe(PersonalData.DNT);
    expect(decideWith('"regs":{"gdpr":1,"us_privacy":"1YYN"},"user":{"consent":"' + GRANTED + '"}')).toBe(PersonalData.US_PRIVACY_OPT_OUT);
    // Granted GDPR consent does not override a device signal.
    expect(decideWith('"regs":{"gdpr":1},"device":{"lmt":1},"user":{"consent":"' + GRANTED + '"}')).toBe(PersonalData.LMT);
  });

  it("reads the US Privacy opt-out from the third character", () => {
    const s = new Str();
    held = String.UTF8.encode("1NYN");
    s.set(changetype<usize>(held), 4);
    expect(optedOutOfSale(s)).toBe(true);
    s.set(changetype<usize>(held), 2);
    expect(optedOutOfSale(s)).toBe(false);
    held = String.UTF8.encode("1YNY");
    s.set(changetype<usize>(held), 4);
    expect(optedOutOfSale(s)).toBe(false);
  });
});

// ---- GPP (privacy/gpp.ts, gpp-us.ts) ---------------------------------------------
// Strings built by tests/helpers/gpp.ts (an encoder written from the GPP specification, field by
// field), printed once and kept here; the headers DBABM and DBACNY are the specification's own
// examples (sections [2] and [2, 6]).
const TC_EXAMPLE = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"; // the GPP specification's TC string
const USNAT_OK = "BVVqqqqqCW"; // version 1: every notice given, no opt-out, no child
const USNAT_SALE = "BVVaqqqqCW"; // SaleOptOut 1
const USNAT_SHARING = "BVVmqqqqCW"; // SharingOptOut 1
const USNAT_TARGETED = "BVVpqqqqCW"; // TargetedAdvertisingOptOut 1
const USNAT_CHILD_NO_CONSENT = "BVVqqqqqGW"; // KnownChild [0, 1]
const USNAT_CHILD_CONSENT = "BVVqqqqqiW"; // KnownChild [2, 0]
const USNAT_OK_BYTE_PADDED = "BVVqqqqqCWA"; // the same core padded to bytes, then sextets (11 characters)
const USNAT_V2_OK = "CVVqqqqqqgJY"; // version 2 (70 bits)
const USNAT_V2_CHILD = "CVVqqqqqqgZY"; // version 2, KnownChild [0, 0, 1]
const USNAT_V1_WIDE = "BVVqqqqqqgJY"; // version 1 written with version 2's field widths (some encoders)
const USCA_SALE = "BAYAAAAA"; // usca: SaleOptOut 1 (bit 12)
const USCA_SHARING = "BAkAAAAA"; // usca: SharingOptOut 1 (bit 14)
const USCA_OK = "BAoAAAAA";
const USVA_TARGETED = "BAkAAAA"; // usva: TargetedAdvertisingOptOut 1 (bit 14)
const USVA_OK = "BAoAAAA";
const USVA_CHILD = "BAoAAIA"; // usva: KnownChild 2 (bit 32)
const USIA_TARGETED = "BAJAAAA"; // usia: TargetedAdvertisingOptOut 1 (bit 16, after a sensitive-data notice)
const USIA_OK = "BAKAAAA";

const gpp = new GppString();
const sids = new IntList(8);
let gppBuf: ArrayBuffer = new ArrayBuffer(0);

/** GppString.decide on `s` with the applicable ids `ids`. */
function gppVerdict(s: string, ids: i32[] = []): i32 {
  gppBuf = String.UTF8.encode(s);
  const v = new Str();
  v.set(changetype<usize>(gppBuf), gppBuf.byteLength);
  sids.reset();
  for (let i = 0; i < ids.length; i++) sids.add(ids[i]);
  return gpp.decide(v, sids);
}

describe("GppString", () => {
  it("reads the specification's headers: [2], [2, 6], [5, 6], and the older byte-padded forms", () => {
    expect(gpp.parse(changetype<usize>((gppBuf = String.UTF8.encode("DBABM~" + TC_EXAMPLE))), gppBuf.byteLength)).toBe(true);
    expect(gpp.count).toBe(1);
    expect(gppVerdict("DBABM~" + TC_EXAMPLE)).toBe(GppVerdict.TCF);
    expect(gppVerdict("DBABMA~" + TC_EXAMPLE)).toBe(GppVerdict.TCF);
    expect(gppVerdict("DBACNY~" + TC_EXAMPLE + "~1YNN")).toBe(GppVerdict.TCF);
    expect(gppVerdict("DBACNYA~" + TC_EXAMPLE + "~1YNN")).toBe(GppVerdict.TCF);
    expect(gpp.count).toBe(2);
    // [5, 6]: a group from 5, length 1. Section 5 (Canadian TCF) is not read: unreadable when it applies.
    expect(gppVerdict("DBABjw~" + TC_EXAMPLE + "~1YNN", [6])).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("DBABjw~" + TC_EXAMPLE + "~1YNN", [5])).toBe(GppVerdict.UNREADABLE);
  });

  it("hands the applicable TCF EU section's text to the TCF rule", () => {
    expect(gppVerdict("DBACNY~" + TC_EXAMPLE + "~1YNN", [2])).toBe(GppVerdict.TCF);
    expect(gpp.tcf.len).toBe(TC_EXAMPLE.length);
    expect(String.UTF8.decodeUnsafe(gpp.tcf.ptr, gpp.tcf.len)).toBe(TC_EXAMPLE);
    expect(gppVerdict("DBACNY~" + TC_EXAMPLE + "~1YNN", [6])).toBe(GppVerdict.ALLOWED);
  });

  it("reads uspv1's opt-out of sale", () => {
    expect(gppVerdict("DBACNY~" + TC_EXAMPLE + "~1YYN", [6])).toBe(GppVerdict.US_OPT_OUT);
    expect(gppVerdict("DBACNY~" + TC_EXAMPLE + "~1NNN", [6])).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("DBACNY~" + TC_EXAMPLE + "~1YY", [6])).toBe(GppVerdict.UNREADABLE);
  });

  it("reads usnat's opt-outs of sale, sharing and targeted advertising, a known child and GPC", () => {
    expect(gppVerdict("DBABL~" + USNAT_OK)).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("DBABL~" + USNAT_OK, [7])).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("DBABL~" + USNAT_SALE, [7])).toBe(GppVerdict.US_OPT_OUT);
    expect(gppVerdict("DBABL~" + USNAT_SHARING, [7])).toBe(GppVerdict.US_OPT_OUT);
    expect(gppVerdict("DBABL~" + USNAT_TARGETED, [7])).toBe(GppVerdict.US_OPT_OUT);
    expect(gppVerdict("DBABL~" + USNAT_CHILD_NO_CONSENT, [7])).toBe(GppVerdict.US_OPT_OUT);
    expect(gppVerdict("DBABL~" + USNAT_CHILD_CONSENT, [7])).toBe(GppVerdict.US_OPT_OUT);
    expect(gppVerdict("DBABL~" + USNAT_OK + ".Y", [7])).toBe(GppVerdict.US_OPT_OUT);
    expect(gppVerdict("DBABL~" + USNAT_OK + ".Q", [7])).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("DBABLA~" + USNAT_OK_BYTE_PADDED + ".QA", [7])).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("DBABLA~" + USNAT_OK_BYTE_PADDED + ".YA", [7])).toBe(GppVerdict.US_OPT_OUT);
  });

  it("tells usnat version 2 by its version, and version 1 written with version 2's widths by its length", () => {
    expect(gppVerdict("DBABL~" + USNAT_V2_OK, [7])).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("DBABL~" + USNAT_V2_CHILD, [7])).toBe(GppVerdict.US_OPT_OUT);
    // Read with version 1's offsets, its child field would be sensitive-data values (2: a child).
    expect(gppVerdict("DBABL~" + USNAT_V1_WIDE, [7])).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("DBABL~" + "DVVqqqqqCW", [7])).toBe(GppVerdict.UNREADABLE); // version 3
  });

  it("reads each state section at its own offsets", () => {
    // [7, 8]: usnat and usca.
    expect(gppVerdict("DBACLY~" + USNAT_OK + "~" + USCA_SALE, [8])).toBe(GppVerdict.US_OPT_OUT);
    expect(gppVerdict("DBACLY~" + USNAT_OK + "~" + USCA_SHARING, [8])).toBe(GppVerdict.US_OPT_OUT);
    expect(gppVerdict("DBACLY~" + USNAT_OK + "~" + USCA_OK, [8])).toBe(GppVerdict.ALLOWED);
    // Only the applicable section counts; without gpp_sid every section does.
    expect(gppVerdict("DBACLY~" + USNAT_OK + "~" + USCA_SALE, [7])).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("DBACLY~" + USNAT_OK + "~" + USCA_SALE)).toBe(GppVerdict.US_OPT_OUT);
    // usva (9) alone: header [9] built the same way.
    expect(gppVerdict("DBABRg~" + USVA_TARGETED, [9])).toBe(GppVerdict.US_OPT_OUT);
    expect(gppVerdict("DBABRg~" + USVA_OK, [9])).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("DBABRg~" + USVA_CHILD, [9])).toBe(GppVerdict.US_OPT_OUT);
    // usia (18): the opt-outs two bits later.
    expect(gppVerdict("DBABCw~" + USIA_TARGETED, [18])).toBe(GppVerdict.US_OPT_OUT);
    expect(gppVerdict("DBABCw~" + USIA_OK, [18])).toBe(GppVerdict.ALLOWED);
  });

  it("reads what cannot be read as no: a missing, unknown, short or malformed section, a bad header", () => {
    expect(gppVerdict("DBABL~" + USNAT_OK, [8])).toBe(GppVerdict.UNREADABLE); // usca applies, not in the string
    expect(gppVerdict("", [7])).toBe(GppVerdict.UNREADABLE); // applies, no string
    expect(gppVerdict("DBABL~" + USNAT_OK.slice(0, 3), [7])).toBe(GppVerdict.UNREADABLE); // short
    expect(gppVerdict("DBABL~" + USNAT_OK + "!", [7])).toBe(GppVerdict.UNREADABLE);
    expect(gppVerdict("DBABL~", [7])).toBe(GppVerdict.UNREADABLE);
    expect(gppVerdict("DBABL", [7])).toBe(GppVerdict.UNREADABLE); // fewer sections than ids
    expect(gppVerdict("DBABL~" + USNAT_OK + "~" + USNAT_OK)).toBe(GppVerdict.UNREADABLE); // more
    expect(gppVerdict("CBABL~" + USNAT_OK)).toBe(GppVerdict.UNREADABLE); // type 2
    expect(gppVerdict("DCABL~" + USNAT_OK)).toBe(GppVerdict.UNREADABLE); // version 2
    expect(gppVerdict("DBA")).toBe(GppVerdict.UNREADABLE);
    expect(gppVerdict("DBAA", [2])).toBe(GppVerdict.UNREADABLE); // no section ids
    expect(gppVerdict("not gpp")).toBe(GppVerdict.UNREADABLE);
    // Ids 7 and 7 + 2,147,483,644, a sum that would wrap to a negative id (which applies nothing,
    // leaving usnat to decide alone): a header of such ids does not decode.
    expect(gppVerdict("DBACLIiKQSIRG~" + USNAT_OK + "~" + USNAT_OK)).toBe(GppVerdict.UNREADABLE);
  });

  it("no string and no applicable section is no signal; -1, the header and signal integrity sections apply nothing", () => {
    expect(gppVerdict("")).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("", [-1])).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("", [3, 4])).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("DBABL~" + USNAT_SALE, [-1])).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("not gpp", [-1])).toBe(GppVerdict.ALLOWED);
  });
});

describe("PersonalDataPolicy.decide with GPP", () => {
  it("refuses personal data on an applicable opt-out, in regs.gpp (2.6) or regs.ext.gpp (2.5)", () => {
    expect(decideWith('"regs":{"gpp":"DBABL~' + USNAT_SALE + '","gpp_sid":[7]}')).toBe(PersonalData.GPP_OPT_OUT);
    expect(decideWith('"regs":{"ext":{"gpp":"DBABL~' + USNAT_SALE + '","gpp_sid":[7]}}')).toBe(PersonalData.GPP_OPT_OUT);
    expect(decideWith('"regs":{"gpp":"DBABL~' + USNAT_OK + '","gpp_sid":[7]}')).toBe(PersonalData.ALLOWED);
    // The 2.6 string is used with its own gpp_sid: the 2.5 one's ids do not apply to it.
    expect(decideWith('"regs":{"gpp":"DBABL~' + USNAT_OK + '","ext":{"gpp":"DBABL~' + USNAT_SALE + '","gpp_sid":[7]}}')).toBe(PersonalData.ALLOWED);
    expect(decideWith('"regs":{"gpp_sid":[7]}')).toBe(PersonalData.GPP_UNREADABLE);
    expect(decideWith('"regs":{"gpp":"DBABL~' + USNAT_OK + '","gpp_sid":[8]}')).toBe(PersonalData.GPP_UNREADABLE);
    expect(decideWith('"regs":{"gpp_sid":[-1]}')).toBe(PersonalData.ALLOWED);
  });

  it("reads a 2.5 regs.ext.gpp_sid sent without any string as the unreadable signal it is", () => {
    // Applicable ids with no string, wherever they are: the exchange says a section applies and does not send it.
    expect(decideWith('"regs":{"ext":{"gpp_sid":[7]}}')).toBe(PersonalData.GPP_UNREADABLE);
    expect(decideWith('"regs":{"ext":{"gpp_sid":[-1]}}')).toBe(PersonalData.ALLOWED);
    // Both lists and no string: the 2.6 list is read, as with a string.
    expect(decideWith('"regs":{"gpp_sid":[-1],"ext":{"gpp_sid":[7]}}')).toBe(PersonalData.ALLOWED);
    expect(decideWith('"regs":{"gpp_sid":[7],"ext":{"gpp_sid":[-1]}}')).toBe(PersonalData.GPP_UNREADABLE);
    // A 2.5 string with its own ids is still read with them when the 2.6 list has no string.
    expect(decideWith('"regs":{"gpp_sid":[8],"ext":{"gpp":"DBABL~' + USNAT_OK + '","gpp_sid":[7]}}')).toBe(PersonalData.ALLOWED);
  });

  it("reads consent strings whole past 512 bytes: a long TCF section, then a US section", () => {
    // A vendor bitfield up to id 4000 (~670 characters), as real CMPs send, consenting to 3900.
    const long = allPurposesWithVendors(4000, [42, 3900]).encode();
    expect(long.length).toBeGreaterThan(600);
    expect(decideWith('"regs":{"gdpr":1},"user":{"consent":"' + long + '"}', 3900)).toBe(PersonalData.ALLOWED);
    expect(decideWith('"regs":{"gdpr":1},"user":{"ext":{"consent":"' + long + '"}}', 3900)).toBe(PersonalData.ALLOWED);
    // Header "DBACNY": sections 2 (TCF EU) and 6 (uspv1), in that order.
    expect(decideWith('"regs":{"gpp":"DBACNY~' + long + '~1YYN","gpp_sid":[6]}')).toBe(PersonalData.GPP_OPT_OUT);
    expect(decideWith('"regs":{"gpp":"DBACNY~' + long + '~1YNN","gpp_sid":[6]}')).toBe(PersonalData.ALLOWED);
    expect(decideWith('"regs":{"ext":{"gpp":"DBACNY~' + long + '~1YNN","gpp_sid":[2,6]}}', 42)).toBe(PersonalData.ALLOWED);
  });

  it("judges an applicable TCF EU section by the TCF rule", () => {
    const s = "DBABM~" + GRANTED;
    expect(decideWith('"regs":{"gpp":"' + s + '","gpp_sid":[2]}', 42)).toBe(PersonalData.ALLOWED);
    expect(decideWith('"regs":{"gpp":"' + s + '","gpp_sid":[2]}', 43)).toBe(PersonalData.GDPR_NO_CONSENT);
    expect(decideWith('"regs":{"gpp":"DBABM~' + withoutPurpose(3) + '","gpp_sid":[2]}')).toBe(PersonalData.GDPR_NO_CONSENT);
  });
});
