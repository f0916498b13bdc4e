// Builds IAB TCF v2 core strings for tests (the layout of "Consent string and
// vendor list formats v2", written field by field; base64url without padding).
// The decoder under test is assembly/core/privacy/tcf.ts.

export interface TcOptions {
  version?: number;
  /** Purposes with consent (1-24); default 1-10. */
  purposes?: number[];
  /** Vendors with consent; encoded as a bitfield unless `range`. */
  vendors?: number[];
  /** Range encoding: [first, last] entries (first === last: a single id). */
  ranges?: Array<[number, number]>;
  maxVendorId?: number;
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

export class BitWriter {
  private readonly bits: number[] = [];

  put(value: number | bigint, n: number): void {
    const v = BigInt(value);
    for (let i = n - 1; i >= 0; i--) this.bits.push(Number((v >> BigInt(i)) & 1n));
  }

  base64url(): string {
    let out = "";
    for (let i = 0; i < this.bits.length; i += 6) {
      let s = 0;
      for (let k = 0; k < 6; k++) s = (s << 1) | (this.bits[i + k] ?? 0);
      out += B64URL[s];
    }
    return out;
  }
}

const letters = (s: string) => ((s.charCodeAt(0) - 65) << 6) | (s.charCodeAt(1) - 65);

export function tcString(o: TcOptions = {}): string {
  const w = new BitWriter();
  const vendors = o.vendors ?? [];
  const maxVendorId = o.maxVendorId ?? Math.max(0, ...vendors, ...(o.ranges ?? []).map((r) => r[1]));
  let purposeBits = 0;
  for (const p of o.purposes ?? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) purposeBits |= 1 << (24 - p);
  w.put(o.version ?? 2, 6);
  w.put(16_000_000_000n, 36); // Created, deciseconds
  w.put(16_000_000_100n, 36); // LastUpdated
  w.put(300, 12); // CmpId
  w.put(2, 12); // CmpVersion
  w.put(1, 6); // ConsentScreen
  w.put(letters("EN"), 12);
  w.put(150, 12); // VendorListVersion
  w.put(4, 6); // TcfPolicyVersion
  w.put(1, 1); // IsServiceSpecific
  w.put(0, 1); // UseNonStandardTexts
  w.put(0, 12); // SpecialFeatureOptIns
  w.put(purposeBits >>> 0, 24); // PurposesConsent
  w.put(0, 24); // PurposesLITransparency
  w.put(0, 1); // PurposeOneTreatment
  w.put(letters("DE"), 12); // PublisherCC
  w.put(maxVendorId, 16);
  if (o.ranges) {
    w.put(1, 1);
    w.put(o.ranges.length, 12);
    for (const [first, last] of o.ranges) {
      w.put(first === last ? 0 : 1, 1);
      w.put(first, 16);
      if (first !== last) w.put(last, 16);
    }
  } else {
    w.put(0, 1);
    for (let v = 1; v <= maxVendorId; v++) w.put(vendors.includes(v) ? 1 : 0, 1);
  }
  return w.base64url();
}
