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
  // Blocks as added, before build(): IPv4 as start << 32 | end; IPv6 as four words each (start
  // hi, lo, end hi, lo). Flat arrays of numbers: no object per block (a configuration may list
  // tens of thousands, and nothing is collected until on_configure returns).
  private pending4: Array<u64> = new Array<u64>();
  private pending6: Array<u64> = new Array<u64>();
  private readonly scratch: Ipv6 = new Ipv6();

  /**
   * Takes room for the blocks of the JSON array of strings whose text starts at `ptr` (its '[')
   * and runs at most to `end`: IPv4 and IPv6 entries are counted (an entry with a ':' is IPv6),
   * and the pending arrays get exactly that capacity. Pushed one by one, they would double and be
   * copied as they grow: the peak of a 20,000-block list (nothing is collected before
   * on_configure returns) took a VM's memory from 4.5 to 9 MiB. A text it cannot read counts
   * nothing (the parser that follows names the error).
   */
  reserveFor(ptr: usize, end: usize): void {
    let v4 = 0;
    let v6 = 0;
    let depth = 0;
    let p = ptr;
    while (p < end) {
      const c = load<u8>(p);
      if (c == 0x22) {
        // A string: an entry when directly in the array.
        let colon = false;
        p++;
        while (p < end && load<u8>(p) != 0x22) {
          if (load<u8>(p) == 0x5c) p++;
          else if (load<u8>(p) == 0x3a) colon = true;
          p++;
        }
        if (depth == 1) {
          if (colon) v6++;
          else v4++;
        }
      } else if (c == 0x5b || c == 0x7b) depth++;
      else if (c == 0x5d || c == 0x7d) {
        depth--;
        if (depth <= 0) break;
      }
      p++;
    }
    if (v4 > MAX_IP_RANGES) v4 = MAX_IP_RANGES;
    if (v6 > MAX_IP_RANGES) v6 = MAX_IP_RANGES;
    reserve(this.pending4, this.pending4.length + v4);
    reserve(this.pending6, this.pending6.length + (v6 << 2));
  }

  /** Blocks added (before merging). */
  get added(): i32 {
    return this.pending4.length + (this.pending6.length >> 2);
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
    return this.addBytes(changetype<usize>(bytes), bytes.byteLength);
  }

  /** add() of the text at [ptr, ptr+len) (e.g. a view into the configuration): allocates nothing but the block's words. */
  addBytes(ptr: usize, len: i32): string {
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
    const p6 = this.pending6;
    p6.push(a.hi);
    p6.push(a.lo);
    p6.push(a.hi | maskHi);
    p6.push(a.lo | maskLo);
    return "";
  }

  /** Sorts and merges what was added (overlapping and adjacent blocks become one range). */
  build(): void {
    // IPv4: sorted by start, merged in place at the front of the pending array.
    const p4 = this.pending4;
    p4.sort((x: u64, y: u64): i32 => (x < y ? -1 : x > y ? 1 : 0));
    let m = 0;
    for (let i = 0; i < p4.length; i++) {
      const s = <u32>(p4[i] >> 32);
      const e = <u32>p4[i];
      if (m > 0 && <u64>s <= <u64>(<u32>p4[m - 1]) + 1) {
        if (e > <u32>p4[m - 1]) p4[m - 1] = (p4[m - 1] & 0xffffffff00000000) | <u64>e;
      } else p4[m++] = p4[i];
    }
    this.v4Start = new StaticArray<u32>(m);
    this.v4End = new StaticArray<u32>(m);
    for (let i = 0; i < m; i++) {
      this.v4Start[i] = <u32>(p4[i] >> 32);
      this.v4End[i] = <u32>p4[i];
    }

    // IPv6: block numbers sorted by start, then merged (counted first: outputs of the exact size).
    const n = this.pending6.length >> 2;
    const order = new StaticArray<i32>(n);
    for (let i = 0; i < n; i++) order[i] = i;
    SORTING_V6 = this.pending6;
    order.sort(compareV6Starts);
    const p6 = this.pending6;
    let ranges = 0;
    let endHi: u64 = 0;
    let endLo: u64 = 0;
    for (let k = 0; k < n; k++) {
      const b = order[k] << 2;
      if (ranges > 0 && startsWithin(p6[b], p6[b + 1], endHi, endLo)) {
        if (p6[b + 2] > endHi || (p6[b + 2] == endHi && p6[b + 3] > endLo)) {
          endHi = p6[b + 2];
          endLo = p6[b + 3];
        }
      } else {
        ranges++;
        endHi = p6[b + 2];
        endLo = p6[b + 3];
      }
    }
    const sh = new StaticArray<u64>(ranges);
    const sl = new StaticArray<u64>(ranges);
    const eh = new StaticArray<u64>(ranges);
    const el = new StaticArray<u64>(ranges);
    let r = -1;
    for (let k = 0; k < n; k++) {
      const b = order[k] << 2;
      if (r >= 0 && startsWithin(p6[b], p6[b + 1], eh[r], el[r])) {
        if (p6[b + 2] > eh[r] || (p6[b + 2] == eh[r] && p6[b + 3] > el[r])) {
          eh[r] = p6[b + 2];
          el[r] = p6[b + 3];
        }
      } else {
        r++;
        sh[r] = p6[b];
        sl[r] = p6[b + 1];
        eh[r] = p6[b + 2];
        el[r] = p6[b + 3];
      }
    }
    this.v6StartHi = sh;
    this.v6StartLo = sl;
    this.v6EndHi = eh;
    this.v6EndLo = el;
    SORTING_V6 = EMPTY_WORDS;
    this.pending4 = new Array<u64>();
    this.pending6 = new Array<u64>();
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

/** The IPv6 blocks being sorted (a comparator cannot capture them). */
let SORTING_V6: Array<u64> = new Array<u64>();
const EMPTY_WORDS: Array<u64> = new Array<u64>();

function compareV6Starts(a: i32, b: i32): i32 {
  const p = SORTING_V6;
  const ah = p[a << 2];
  const bh = p[b << 2];
  if (ah != bh) return ah < bh ? -1 : 1;
  const al = p[(a << 2) + 1];
  const bl = p[(b << 2) + 1];
  return al < bl ? -1 : al > bl ? 1 : 0;
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

/** Gives `a` room for `capacity` elements at once (its length is unchanged). */
function reserve(a: Array<u64>, capacity: i32): void {
  const length = a.length;
  if (capacity <= length) return;
  a.length = capacity; // one allocation of exactly that size...
  a.length = length; // ...kept: a shorter length does not give the buffer back
}
