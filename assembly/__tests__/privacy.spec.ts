// The TCF v2 decoder (privacy/tcf.ts) on strings built here bit by bit, and
// the personal-data decision (privacy/personal-data.ts) on parsed requests.
import { BidRequestParser } from "../core/openrtb/parse";
import { BidRequest } from "../core/openrtb/request";
import { TcfConsent } from "../core/privacy/tcf";
import { PersonalData, PersonalDataPolicy, optedOutOfSale } from "../core/privacy/personal-data";
import { Str } from "../core/bytes/str";

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
