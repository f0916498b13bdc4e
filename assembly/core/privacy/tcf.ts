// IAB TCF v2 consent string (the "TC string" of user.consent): the core
// segment, decoded bit by bit straight from the request body. Only what the
// privacy decision needs is kept (the header fields, the purpose bits, and
// the consent bit of one vendor); nothing is allocated. The string is the
// exchange's, not ours to validate: anything truncated, malformed or of
// another version decodes as "no consent", never as an error.
//
// Layout (IAB Tech Lab, "Consent string and vendor list formats v2", the core
// string; big-endian, bits numbered left to right, base64url without padding):
//   Version 6 · Created 36 · LastUpdated 36 · CmpId 12 · CmpVersion 12 ·
//   ConsentScreen 6 · ConsentLanguage 12 · VendorListVersion 12 ·
//   TcfPolicyVersion 6 · IsServiceSpecific 1 · UseNonStandardTexts 1 ·
//   SpecialFeatureOptIns 12 · PurposesConsent 24 · PurposesLITransparency 24 ·
//   PurposeOneTreatment 1 · PublisherCC 12 ·
//   MaxVendorId 16 · IsRangeEncoding 1 · then either a bitfield of MaxVendorId
//   bits (vendor 1 first) or NumEntries 12 and entries of IsARange 1,
//   StartOrOnlyVendorId 16, [EndVendorId 16].
// The segments after the first '.' (disclosed/allowed vendors, publisher TC)
// are not read.

import { Bits, base64urlRun } from "./base64url-bits";

export class TcfConsent {
  /** The core string decoded completely and is version 2; every field below is meaningful only then. */
  valid: bool = false;
  version: i32 = 0;
  /** Epoch deciseconds. */
  created: i64 = 0;
  lastUpdated: i64 = 0;
  cmpId: i32 = 0;
  cmpVersion: i32 = 0;
  consentScreen: i32 = 0;
  /** Two letters, 6 bits each (a = 0): see letters(). */
  consentLanguage: i32 = 0;
  vendorListVersion: i32 = 0;
  tcfPolicyVersion: i32 = 0;
  isServiceSpecific: bool = false;
  specialFeatureOptIns: u32 = 0;
  /** Bit 23 = purpose 1 … bit 0 = purpose 24 (as in the string). */
  purposesConsent: u32 = 0;
  purposesLiTransparency: u32 = 0;
  purposeOneTreatment: bool = false;
  publisherCC: i32 = 0;
  maxVendorId: i32 = 0;
  isRangeEncoding: bool = false;
  /** The user consented to the vendor asked about in decode() (false when it asked for none). */
  vendorConsent: bool = false;
  private readonly bits: Bits = new Bits();

  /** Consent for purpose p (1-24). */
  purpose(p: i32): bool {
    if (!this.valid || p < 1 || p > 24) return false;
    return ((this.purposesConsent >> <u32>(24 - p)) & 1) != 0;
  }

  /**
   * Decodes the core segment of the TC string at ptr[0..len) and looks up the consent of
   * `vendorId` (0: none). Returns `valid`.
   */
  decode(ptr: usize, len: i32, vendorId: i32): bool {
    this.clear();
    const chars = base64urlRun(ptr, len, 0x2e); // the core segment, up to the first '.'
    if (chars < 0) return false;
    const b = this.bits;
    b.bind(ptr, chars);
    this.version = <i32>b.read(6);
    if (this.version != 2) return false;
    this.created = <i64>b.read(36);
    this.lastUpdated = <i64>b.read(36);
    this.cmpId = <i32>b.read(12);
    this.cmpVersion = <i32>b.read(12);
    this.consentScreen = <i32>b.read(6);
    this.consentLanguage = <i32>b.read(12);
    this.vendorListVersion = <i32>b.read(12);
    this.tcfPolicyVersion = <i32>b.read(6);
    this.isServiceSpecific = b.read(1) != 0;
    b.skip(1); // UseNonStandardTexts
    this.specialFeatureOptIns = <u32>b.read(12);
    this.purposesConsent = <u32>b.read(24);
    this.purposesLiTransparency = <u32>b.read(24);
    this.purposeOneTreatment = b.read(1) != 0;
    this.publisherCC = <i32>b.read(12);
    this.maxVendorId = <i32>b.read(16);
    this.isRangeEncoding = b.read(1) != 0;
    if (b.short) return false;
    const consent = this.isRangeEncoding ? this.rangeConsent(vendorId) : this.bitfieldConsent(vendorId);
    if (b.short) return false;
    this.vendorConsent = consent;
    this.valid = true;
    return true;
  }

  private bitfieldConsent(vendorId: i32): bool {
    const b = this.bits;
    const start = b.pos;
    b.skip(this.maxVendorId); // the whole bitfield must be there
    if (b.short || vendorId < 1 || vendorId > this.maxVendorId) return false;
    return b.bitAt(start + vendorId - 1) != 0;
  }

  private rangeConsent(vendorId: i32): bool {
    const b = this.bits;
    const entries = <i32>b.read(12);
    let found = false;
    for (let i = 0; i < entries && !b.short; i++) {
      const isRange = b.read(1) != 0;
      const first = <i32>b.read(16);
      const last = isRange ? <i32>b.read(16) : first;
      // An id 0, a reversed range or one past MaxVendorId: not a string a CMP writes.
      if (first < 1 || last < first || last > this.maxVendorId) {
        b.short = true;
        return false;
      }
      if (vendorId >= first && vendorId <= last) found = true;
    }
    return found;
  }

  clear(): void {
    this.valid = false;
    this.version = 0;
    this.created = 0;
    this.lastUpdated = 0;
    this.cmpId = 0;
    this.cmpVersion = 0;
    this.consentScreen = 0;
    this.consentLanguage = 0;
    this.vendorListVersion = 0;
    this.tcfPolicyVersion = 0;
    this.isServiceSpecific = false;
    this.specialFeatureOptIns = 0;
    this.purposesConsent = 0;
    this.purposesLiTransparency = 0;
    this.purposeOneTreatment = false;
    this.publisherCC = 0;
    this.maxVendorId = 0;
    this.isRangeEncoding = false;
    this.vendorConsent = false;
  }
}
