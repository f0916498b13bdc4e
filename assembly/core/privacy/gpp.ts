// IAB Global Privacy Platform string (regs.gpp, OpenRTB 2.6; regs.ext.gpp in 2.5) and the
// sections that apply (regs.gpp_sid): whether they let this request's personal data be used.
// Read straight from the request body, nothing allocated. As for the TC string, the exchange's
// string is not ours to validate: what cannot be read is read as "no", never as an error.
//
// String (IAB GPP "Consent String Specification"): base64url sections joined by '~', the header
// first; a section's sub-sections joined by '.'. Header: Type 6 (= 3) · Version 6 (= 1) ·
// section ids as Range(Fibonacci): Count 12, then per item IsARange 1 · offset from the last id
// seen (Fibonacci) · [range: end − start (Fibonacci)]. The sections follow in the header's order.
//
// What applies: the ids in regs.gpp_sid, or, without it, every section of the string. Each
// applicable section must say yes:
//   - 2 tcfeuv2: the TC string, by the TCF rule (tcf.ts, via personal-data.ts: GppString.tcf);
//   - 6 uspv1: the US Privacy string ("1YNN"), not opted out of sale;
//   - the US sections (usnat and the states, gpp-us.ts): no opt-out of sale, sharing or targeted
//     advertising, no known child, and no Global Privacy Control signal (GPC sub-section);
//   - any other id, an id the string does not carry, or a section that does not decode: no.
import { Bits, base64urlRun, readFibonacci } from "./base64url-bits";
import { IntList } from "../json/lists";
import { Str } from "../bytes/str";
import { UsSection, usSectionLayout } from "./gpp-us";
import { optedOutOfSale } from "./us-privacy";

/** What the GPP string says of personal data (the first applicable section that refuses it). */
export namespace GppVerdict {
  export const ALLOWED: i32 = 0;
  /** A US section (or uspv1): the user opted out of sale, sharing or targeted advertising, is a known child, or sent GPC. */
  export const US_OPT_OUT: i32 = 1;
  /** An applicable section the string does not carry, cannot be decoded, or this bidder does not read. */
  export const UNREADABLE: i32 = 2;
  /** Section 2 applies: its TC string (GppString.tcf) is to be judged by the TCF rule. */
  export const TCF: i32 = 3;
}

/** Sections of one string kept at most (a string with more is unreadable). */
const MAX_SECTIONS: i32 = 32;
/** The largest section id read from a header (larger: unreadable; also keeps the sums in range). */
const MAX_SECTION_ID: i32 = 1023;
const SECTION_TCF_EU_V2: i32 = 2;
const SECTION_USP_V1: i32 = 6;

export class GppString {
  /** Sections in the string, in order: id, and the section's text [at, at + len). */
  count: i32 = 0;
  private readonly ids: StaticArray<i32> = new StaticArray<i32>(MAX_SECTIONS);
  private readonly at: StaticArray<i32> = new StaticArray<i32>(MAX_SECTIONS);
  private readonly len: StaticArray<i32> = new StaticArray<i32>(MAX_SECTIONS);
  private ptr: usize = 0;
  private readonly bits: Bits = new Bits();
  private readonly layout: UsSection = new UsSection();
  /** With the TCF verdict: the applicable tcfeuv2 section's text (a view of the string). */
  readonly tcf: Str = new Str();
  /** A uspv1 section's text (a view of the string). */
  private readonly usp: Str = new Str();

  /**
   * GppVerdict for the string `s` and the applicable ids `sids` (none: every section of the
   * string). No string and no id, or only ids that apply nothing: ALLOWED (no GPP signal). No
   * string but applicable ids: UNREADABLE (the exchange says a section applies and does not send it).
   */
  decide(s: Str, sids: IntList): i32 {
    this.tcf.clear();
    // No GPP signal: neither a string nor an id, or ids of which none applies (-1 and the like),
    // whatever the string.
    // A list cut short may hold an applicable id past what was kept: not readable, whatever the rest.
    if (sids.truncated) return GppVerdict.UNREADABLE;
    if (sids.count > 0 ? !appliesAny(sids) : s.len == 0) return GppVerdict.ALLOWED;
    if (!this.parse(s.ptr, s.len) || sids.truncated) return GppVerdict.UNREADABLE;
    let tcf = false;
    const n = sids.count > 0 ? sids.count : this.count;
    for (let i = 0; i < n; i++) {
      const id = sids.count > 0 ? sids.get(i) : unchecked(this.ids[i]);
      if (!sectionApplies(id)) continue;
      const k = this.indexOf(id);
      if (k < 0) return GppVerdict.UNREADABLE;
      const p = this.ptr + <usize>unchecked(this.at[k]);
      const l = unchecked(this.len[k]);
      if (id == SECTION_TCF_EU_V2) {
        this.tcf.set(p, l);
        tcf = true;
        continue;
      }
      let v: i32;
      if (id == SECTION_USP_V1) {
        this.usp.set(p, l);
        v = uspVerdict(this.usp);
      } else v = this.usVerdict(id, p, l);
      if (v != GppVerdict.ALLOWED) return v;
    }
    return tcf ? GppVerdict.TCF : GppVerdict.ALLOWED;
  }

  /** Index of section `id` in the string, -1 when it has none. */
  private indexOf(id: i32): i32 {
    for (let k = 0; k < this.count; k++) if (unchecked(this.ids[k]) == id) return k;
    return -1;
  }

  /** Reads the header and splits the sections; false when the string is not a GPP string this reads. */
  parse(ptr: usize, len: i32): bool {
    this.count = 0;
    this.ptr = ptr;
    const h = base64urlRun(ptr, len, 0x7e); // the header, up to the first '~'
    if (h < 0) return false;
    const b = this.bits;
    b.bind(ptr, h);
    if (b.read(6) != 3 || b.read(6) != 1) return false;
    const items = <i32>b.read(12);
    let last = 0;
    let n = 0;
    for (let i = 0; i < items; i++) {
      const isRange = b.read(1) != 0;
      const start = last + readFibonacci(b);
      const end = isRange ? start + readFibonacci(b) : start;
      // Ids are small (the registry is at 27): a larger one is a string this does not read.
      if (b.short || start < 1 || end < start || end > MAX_SECTION_ID || n + end - start + 1 > MAX_SECTIONS) return false;
      for (let id = start; id <= end; id++) unchecked((this.ids[n++] = id));
      last = end;
    }
    if (b.short || n == 0) return false;
    // The sections, one per id, in the header's order.
    let p = h;
    for (let k = 0; k < n; k++) {
      if (p >= len) return false; // fewer sections than ids
      p++; // the '~'
      const start = p;
      while (p < len && load<u8>(ptr + <usize>p) != 0x7e) p++;
      unchecked((this.at[k] = start));
      unchecked((this.len[k] = p - start));
    }
    if (p != len) return false; // more sections than ids
    this.count = n;
    return true;
  }

  /** A US section: its core segment's opt-outs and child consents, then a GPC sub-section. */
  private usVerdict(id: i32, ptr: usize, len: i32): i32 {
    const l = this.layout;
    const core = base64urlRun(ptr, len, 0x2e);
    if (core <= 0) return GppVerdict.UNREADABLE;
    const b = this.bits;
    b.bind(ptr, core);
    if (!usSectionLayout(id, <i32>b.read(6), b.size, l) || b.short) return GppVerdict.UNREADABLE;
    if (b.size < l.bits) return GppVerdict.UNREADABLE;
    if (optedOut(b, l.saleOptOut) || optedOut(b, l.sharingOptOut) || optedOut(b, l.targetedOptOut)) return GppVerdict.US_OPT_OUT;
    // A known child (any value but "not applicable": gpp-us.ts).
    for (let i = 0; i < l.childCount; i++) if (readAt(b, l.childAt + 2 * i) != 0) return GppVerdict.US_OPT_OUT;
    // Sub-sections: SubsectionType 2 (1 = GPC) · Gpc 1.
    for (let p = core; p < len; ) {
      const start = p + 1; // after the '.'
      const n = base64urlRun(ptr + <usize>start, len - start, 0x2e);
      if (n <= 0) return GppVerdict.UNREADABLE;
      b.bind(ptr + <usize>start, n);
      const type = <i32>b.read(2);
      if (type == 1 && l.hasGpc && b.read(1) == 1 && !b.short) return GppVerdict.US_OPT_OUT;
      p = start + n;
    }
    return GppVerdict.ALLOWED;
  }
}

/**
 * Whether section `id` can apply to a request: not -1 (no section applies: the CMP API's value),
 * nor the header (3) or signal integrity (4) sections, which "do not need to be included" (OpenRTB 2.6).
 */
@inline function sectionApplies(id: i32): bool {
  return id >= 1 && id != 3 && id != 4;
}

/** Whether gpp_sid names a section that applies. */
function appliesAny(sids: IntList): bool {
  for (let i = 0; i < sids.count; i++) if (sectionApplies(sids.get(i))) return true;
  return false;
}

/** uspv1: the plain US Privacy string of version 1 ("1YNN"), read as regs.us_privacy is. */
function uspVerdict(s: Str): i32 {
  if (s.len != 4 || s.byteAt(0) != 0x31) return GppVerdict.UNREADABLE;
  return optedOutOfSale(s) ? GppVerdict.US_OPT_OUT : GppVerdict.ALLOWED;
}

/** The 2-bit field at bit `offset` of the section's core. */
function readAt(b: Bits, offset: i32): i32 {
  b.pos = offset;
  return <i32>b.read(2);
}

/** An opt-out field (2 bits; -1: none in this section) reads 1, "Opted Out". */
function optedOut(b: Bits, offset: i32): bool {
  return offset >= 0 && readAt(b, offset) == 1;
}
