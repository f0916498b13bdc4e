// Where the GPP US sections (IAB Privacy's MSPA national and state sections) keep what the
// privacy decision reads: bit offsets in the core sub-section, counted from its Version field
// (bit 0). Each opt-out field is Int(2): 0 not applicable, 1 opted out, 2 did not opt out.
// KnownChildSensitiveDataConsents is one or more Int(2): 0 not applicable, else a known child
// (the current specs read 1 "No Consent", 2 "Consent"; their earlier versions had the two the
// other way round, so any value but 0 is read as a child here, the safe reading either way).
// Sections without a field have -1 there; ids not listed are not read (unreadable: no).
//
// From the section specifications in IAB's Global-Privacy-Platform repository (core segment
// tables; the states' current "GPP Extension: <State> Privacy Technical Specification" files).

export class UsSection {
  saleOptOut: i32 = -1;
  sharingOptOut: i32 = -1;
  targetedOptOut: i32 = -1;
  /** First KnownChildSensitiveDataConsents value and how many there are (2 bits each). */
  childAt: i32 = -1;
  childCount: i32 = 0;
  /** Bits of the core the fields above need. */
  bits: i32 = 0;
  /** The section may carry a GPC sub-section (SubsectionType 1 · Gpc 1). */
  hasGpc: bool = false;

  set(sale: i32, sharing: i32, targeted: i32, childAt: i32, childCount: i32, hasGpc: bool): bool {
    this.saleOptOut = sale;
    this.sharingOptOut = sharing;
    this.targetedOptOut = targeted;
    this.childAt = childAt;
    this.childCount = childCount;
    this.hasGpc = hasGpc;
    let end = max(sale, max(sharing, targeted)) + 2;
    if (childAt >= 0) end = max(end, childAt + 2 * childCount);
    this.bits = end;
    return true;
  }
}

/**
 * The layout of US section `id` at `version` (its first 6 bits) into `out`; false for a section
 * or version this does not read. `coreBits`: the core's length (6 a character), which tells
 * usnat version 2's wider fields from version 1's (some encoders wrote version 1 with them).
 */
export function usSectionLayout(id: i32, version: i32, coreBits: i32, out: UsSection): bool {
  switch (id) {
    case 7: // usnat: SensitiveDataProcessing 12 values in version 1 (60-bit core), 16 in version 2
      // (70 bits). Up to 11 characters is version 1's core, padded to bytes then sextets (66 bits).
      if (version == 1 && coreBits <= 66) return out.set(18, 20, 22, 48, 2, true);
      if (version == 1 || version == 2) return out.set(18, 20, 22, 56, 3, true);
      return false;
    case 8: // usca: sale and sharing, no targeted-advertising field
      return version == 1 && out.set(12, 14, -1, 34, 2, true);
    case 9: // usva
      return version == 1 && out.set(12, -1, 14, 32, 1, false);
    case 10: // usco
      return version == 1 && out.set(12, -1, 14, 30, 1, true);
    case 11: // usut
      return version == 1 && out.set(14, -1, 16, 34, 1, false);
    case 12: // usct
      return version == 1 && out.set(12, -1, 14, 32, 3, true);
    // The states that joined later: sale and targeted advertising, no sharing field.
    case 13: // usfl
      return version == 1 && out.set(12, -1, 14, 32, 3, false);
    case 14: // usmt
    case 20: // usnh
      return version == 1 && out.set(12, -1, 14, 32, 3, true);
    case 15: // usor
      return version == 1 && out.set(12, -1, 14, 38, 3, true);
    case 16: // ustx
    case 19: // usne
    case 22: // ustn
    case 23: // usmn
      return version == 1 && out.set(12, -1, 14, 32, 1, true);
    case 17: // usde
      return version == 1 && out.set(12, -1, 14, 34, 5, true);
    case 18: // usia: a sensitive-data notice before the opt-outs
      return version == 1 && out.set(14, -1, 16, 34, 1, true);
    case 21: // usnj
      return version == 1 && out.set(12, -1, 14, 36, 5, true);
    // 24 usmd, 25 usin, 26 usky, 27 usri: public-comment drafts of another structure (a section
    // header before the core); not read.
  }
  return false;
}
