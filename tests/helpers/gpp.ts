// Builds IAB Global Privacy Platform strings for tests ("Consent String Specification": a
// base64url header of Type 6 = 3, Version 6 = 1 and the section ids as Range(Fibonacci), then
// the sections joined by '~'), and the US sections' core sub-sections field by field. The
// decoder under test is assembly/core/privacy/gpp.ts (with gpp-us.ts).
import { BitWriter } from "./tcf.ts";

/** Fibonacci code of n ≥ 1: a bit per term 1, 2, 3, 5, … (smallest first), then a closing 1. */
export function fibonacciBits(n: number): number[] {
  const terms = [1, 2];
  while (terms[terms.length - 1]! <= n) terms.push(terms[terms.length - 1]! + terms[terms.length - 2]!);
  const bits = new Array<number>(terms.length).fill(0);
  let rest = n;
  for (let i = terms.length - 1; i >= 0; i--) {
    if (terms[i]! <= rest) {
      bits[i] = 1;
      rest -= terms[i]!;
    }
  }
  while (bits.length > 0 && bits[bits.length - 1] === 0) bits.pop();
  return [...bits, 1];
}

/** The header of a string with these section ids (sorted, each item a single id, as the spec's examples). */
export function gppHeader(ids: number[]): string {
  const w = new BitWriter();
  w.put(3, 6);
  w.put(1, 6);
  w.put(ids.length, 12);
  let last = 0;
  for (const id of ids) {
    w.put(0, 1);
    for (const b of fibonacciBits(id - last)) w.put(b, 1);
    last = id;
  }
  return w.base64url();
}

/** A whole string: the header, then each section's text in the same order. */
export function gppString(sections: Array<[number, string]>): string {
  return [gppHeader(sections.map(([id]) => id)), ...sections.map(([, text]) => text)].join("~");
}

/** A core sub-section from [value, bits] fields, base64url with 6-bit padding (`padBytes`: first to whole bytes, as some encoders do). */
export function bitsOf(fields: Array<[number, number]>, padBytes = false): string {
  const w = new BitWriter();
  let n = 0;
  for (const [v, bits] of fields) {
    w.put(v, bits);
    n += bits;
  }
  if (padBytes && n % 8 !== 0) w.put(0, 8 - (n % 8));
  return w.base64url();
}

/** The GPC sub-section: SubsectionType 2 = 1 · Gpc 1. */
export const gpcSub = (gpc: boolean) => bitsOf([[1, 2], [gpc ? 1 : 0, 1]]);

export interface UsNat {
  version?: 1 | 2;
  /** 1 opted out, 2 did not, 0 not applicable. */
  sale?: number;
  sharing?: number;
  targeted?: number;
  /** KnownChildSensitiveDataConsents values (2 in version 1, 3 in version 2). */
  child?: number[];
  gpc?: boolean;
  padBytes?: boolean;
}

/** A usnat (section 7) string: the core of version 1 (60 bits) or 2 (70 bits), and a GPC sub-section when `gpc` is given. */
export function usnat(o: UsNat = {}): string {
  const v = o.version ?? 1;
  const sensitive = v === 1 ? 12 : 16;
  const child = o.child ?? new Array(v === 1 ? 2 : 3).fill(0);
  const fields: Array<[number, number]> = [
    [v, 6],
    [1, 2], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2], // the six notices: given
    [o.sale ?? 2, 2], [o.sharing ?? 2, 2], [o.targeted ?? 2, 2],
    ...new Array<[number, number]>(sensitive).fill([2, 2]),
    ...child.map((c): [number, number] => [c, 2]),
    [2, 2], // PersonalDataConsents
    [1, 2], [1, 2], [2, 2], // MSPA covered, opt-out option mode, service provider mode
  ];
  const core = bitsOf(fields, o.padBytes);
  return o.gpc === undefined ? core : `${core}.${gpcSub(o.gpc)}`;
}

/** A state section with sale/targeted opt-outs at 12/14 (usva, usco, usct, …): `bits` long, fields as given. */
export function usState(o: { sale?: number; targeted?: number; childAt?: number; child?: number[]; bits: number; gpc?: boolean; saleAt?: number }): string {
  const values = new Array<number>(o.bits).fill(0);
  const put = (at: number, v: number, width: number) => {
    for (let i = 0; i < width; i++) values[at + i] = (v >> (width - 1 - i)) & 1;
  };
  put(0, 1, 6); // Version 1
  const saleAt = o.saleAt ?? 12;
  put(saleAt, o.sale ?? 2, 2);
  put(saleAt + 2, o.targeted ?? 2, 2);
  (o.child ?? []).forEach((c, i) => put(o.childAt! + 2 * i, c, 2));
  const core = bitsOf(values.map((b): [number, number] => [b, 1]));
  return o.gpc === undefined ? core : `${core}.${gpcSub(o.gpc)}`;
}
