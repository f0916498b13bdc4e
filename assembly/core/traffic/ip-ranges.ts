// A set of IP ranges given as CIDR blocks (IPv4 and IPv6), e.g. the published ranges of cloud
// providers and hosting companies: traffic from there is not people browsing. Built once from the
// configuration (sorted and merged), then asked with a binary search on the bid path.
import { Ipv6, parseIpv4, parseIpv6 } from "./ip-address";

/** Most CIDR blocks one set takes (8 or 32 bytes each after merging). */
export const MAX_IP_RANGES: i32 = 65536;

export class IpRangeSet {
  // Merged, sorted, disjoint: start[i] <= end[i] < start[i+1].
  private v4Start: StaticArray<u32> = new StaticArray<u32>(0);
  private v4End: StaticArray<u32> = new StaticArray<u32>(0);
  private v6StartHi: StaticArray<u64> = new StaticArray<u64>(0);
  private v6StartLo: StaticArray<u64> = new StaticArray<u64>(0);
  private v6EndHi: StaticArray<u64> = new StaticArray<u64>(0);
  private v6EndLo: StaticArray<u64> = new StaticArray<u64>(0);
  // Blocks as added, before build().
  private pending4: Array<u64> = new Array<u64>();
  private pending6: Array<StaticArray<u64>> = new Array<StaticArray<u64>>();
  private readonly scratch: Ipv6 = new Ipv6();

  /** Blocks added (before merging). */
  get added(): i32 {
    return this.pending4.length + this.pending6.length;
  }

  @inline get isEmpty(): bool {
    return this.v4Start.length == 0 && this.v6StartHi.length == 0;
  }

  /**
   * Adds "a.b.c.d/n" (n 0–32) or "x:y::z/n" (n 0–128); an address without "/n" is one address.
   * Bits below the prefix must be 0 ("10.0.0.1/8" is refused: a typo for a host or a prefix).
   * Returns an error text, or "" when added.
   */
  add(cidr: string): string {
    const bytes = String.UTF8.encode(cidr);
    const ptr = changetype<usize>(bytes);
    const len = bytes.byteLength;
    let slash = -1;
    for (let i = 0; i < len; i++) if (load<u8>(ptr + <usize>i) == 0x2f) slash = i;
    const addrLen = slash < 0 ? len : slash;
    let prefix = -1;
    if (slash >= 0) {
      prefix = 0;
      const digits = len - slash - 1;
      if (digits < 1 || digits > 3) return "expected an address or a CIDR block (\"192.0.2.0/24\", \"2001:db8::/32\")";
      for (let i = slash + 1; i < len; i++) {
        const c = <i32>load<u8>(ptr + <usize>i);
        if (c < 0x30 || c > 0x39) return "expected an address or a CIDR block (\"192.0.2.0/24\", \"2001:db8::/32\")";
        prefix = prefix * 10 + (c - 0x30);
      }
    }
    const v4 = parseIpv4(ptr, addrLen);
    if (v4 >= 0) {
      if (prefix < 0) prefix = 32;
      if (prefix > 32) return "prefix length above 32";
      const hostMask: u64 = prefix == 0 ? 0xffffffff : (<u64>1 << <u64>(32 - prefix)) - 1;
      if ((<u64>v4 & hostMask) != 0) return "bits set below the prefix length";
      this.pending4.push((<u64>v4 << 32) | (<u64>v4 | hostMask));
      return "";
    }
    const a = this.scratch;
    if (!parseIpv6(ptr, addrLen, a)) return "expected an address or a CIDR block (\"192.0.2.0/24\", \"2001:db8::/32\")";
    if (prefix < 0) prefix = 128;
    if (prefix > 128) return "prefix length above 128";
    const maskHi: u64 = prefix >= 64 ? 0 : prefix == 0 ? <u64>-1 : (<u64>-1) >> <u64>prefix;
    const maskLo: u64 = prefix >= 128 ? 0 : prefix <= 64 ? <u64>-1 : (<u64>-1) >> <u64>(prefix - 64);
    if ((a.hi & maskHi) != 0 || (a.lo & maskLo) != 0) return "bits set below the prefix length";
    const block = new StaticArray<u64>(4);
    block[0] = a.hi;
    block[1] = a.lo;
    block[2] = a.hi | maskHi;
    block[3] = a.lo | maskLo;
    this.pending6.push(block);
    return "";
  }

  /** Sorts and merges what was added (overlapping and adjacent blocks become one range). */
  build(): void {
    const p4 = this.pending4;
    p4.sort((x: u64, y: u64): i32 => (x < y ? -1 : x > y ? 1 : 0));
    const s4 = new Array<u32>();
    const e4 = new Array<u32>();
    for (let i = 0; i < p4.length; i++) {
      const s = <u32>(p4[i] >> 32);
      const e = <u32>p4[i];
      const n = s4.length;
      if (n > 0 && (<u64>s <= <u64>e4[n - 1] + 1)) {
        if (e > e4[n - 1]) e4[n - 1] = e;
      } else {
        s4.push(s);
        e4.push(e);
      }
    }
    this.v4Start = StaticArray.fromArray<u32>(s4);
    this.v4End = StaticArray.fromArray<u32>(e4);

    const p6 = this.pending6;
    p6.sort((x: StaticArray<u64>, y: StaticArray<u64>): i32 => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
    const sh = new Array<u64>();
    const sl = new Array<u64>();
    const eh = new Array<u64>();
    const el = new Array<u64>();
    for (let i = 0; i < p6.length; i++) {
      const b = p6[i];
      const n = sh.length;
      // Merge when the block starts at or before the last range's end + 1.
      if (n > 0 && startsWithin(b[0], b[1], eh[n - 1], el[n - 1])) {
        if (b[2] > eh[n - 1] || (b[2] == eh[n - 1] && b[3] > el[n - 1])) {
          eh[n - 1] = b[2];
          el[n - 1] = b[3];
        }
      } else {
        sh.push(b[0]);
        sl.push(b[1]);
        eh.push(b[2]);
        el.push(b[3]);
      }
    }
    this.v6StartHi = StaticArray.fromArray<u64>(sh);
    this.v6StartLo = StaticArray.fromArray<u64>(sl);
    this.v6EndHi = StaticArray.fromArray<u64>(eh);
    this.v6EndLo = StaticArray.fromArray<u64>(el);
    this.pending4 = new Array<u64>();
    this.pending6 = new Array<StaticArray<u64>>();
  }

  /** Ranges after merging, IPv4 and IPv6. */
  get ranges(): i32 {
    return this.v4Start.length + this.v6StartHi.length;
  }

  containsV4(ip: u32): bool {
    // The last range starting at or before ip.
    let lo = 0;
    let hi = this.v4Start.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (unchecked(this.v4Start[mid]) <= ip) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return at >= 0 && ip <= unchecked(this.v4End[at]);
  }

  containsV6(ipHi: u64, ipLo: u64): bool {
    let lo = 0;
    let hi = this.v6StartHi.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const sh = unchecked(this.v6StartHi[mid]);
      if (sh < ipHi || (sh == ipHi && unchecked(this.v6StartLo[mid]) <= ipLo)) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (at < 0) return false;
    const eh = unchecked(this.v6EndHi[at]);
    return ipHi < eh || (ipHi == eh && ipLo <= unchecked(this.v6EndLo[at]));
  }

  /**
   * The text address (device.ip, else device.ipv6; an IPv4-mapped IPv6 address is looked up as
   * IPv4) is in the set. An address that does not parse is not.
   */
  containsText(ip: usize, ipLen: i32, ipv6: usize, ipv6Len: i32): bool {
    if (ipLen > 0) {
      const v4 = parseIpv4(ip, ipLen);
      if (v4 >= 0) return this.containsV4(<u32>v4);
    }
    if (ipv6Len > 0) {
      const a = this.scratch;
      if (!parseIpv6(ipv6, ipv6Len, a)) return false;
      // ::ffff:a.b.c.d
      if (a.hi == 0 && (a.lo >> 32) == 0xffff) return this.containsV4(<u32>a.lo);
      return this.containsV6(a.hi, a.lo);
    }
    return false;
  }
}

/** (sh, sl) <= (eh, el) + 1, in 128-bit order. */
function startsWithin(sh: u64, sl: u64, eh: u64, el: u64): bool {
  if (sh < eh) return true;
  if (sh > eh) {
    // Only adjacent when the end is ...ffff:ffff in its low half and the start its next high.
    return sh == eh + 1 && el == <u64>-1 && sl == 0;
  }
  return sl <= el || (el != <u64>-1 && sl == el + 1);
}
