// Owned strings of the campaign set: UTF-8 copies made once when campaigns are parsed (a cold
// path), compared byte-wise with request views (Str) on the bid path, so matching allocates
// nothing.
import { Str, bytesEqual, bytesEqualIgnoreAsciiCase, asciiLower } from "../bytes/str";

export class OwnedBytes {
  readonly buf: ArrayBuffer;
  constructor(ptr: usize, len: i32) {
    this.buf = new ArrayBuffer(len);
    memory.copy(changetype<usize>(this.buf), ptr, <usize>len);
  }
  static fromString(s: string): OwnedBytes {
    const b = String.UTF8.encode(s);
    return new OwnedBytes(changetype<usize>(b), b.byteLength);
  }
  @inline get ptr(): usize {
    return changetype<usize>(this.buf);
  }
  @inline get len(): i32 {
    return this.buf.byteLength;
  }
  @inline equalsStr(s: Str): bool {
    return bytesEqual(this.ptr, this.len, s.ptr, s.len);
  }

  /** This domain is `domain` or a subdomain of it, ignoring ASCII case (badv blocks, deal.wadomain admits). */
  isDomainOrSubdomainOf(domain: Str): bool {
    const off = domainSuffixAt(this.ptr, this.len, domain.len);
    return domain.len > 0 && off >= 0 && bytesEqualIgnoreAsciiCase(this.ptr + <usize>off, domain.len, domain.ptr, domain.len);
  }

  /**
   * This IAB 1.0 category is `entry` or one of its subcategories ("IAB3-1" is under "IAB3"): a
   * bcat entry blocks it, an acat entry allows it.
   */
  isUnderIab1Category(entry: Str): bool {
    const n = entry.len;
    // In any letter case: "iab3" is how some exchanges write IAB3 (a block list must not miss it).
    if (n == 0 || this.len < n || !bytesEqualIgnoreAsciiCase(this.ptr, n, entry.ptr, n)) return false;
    return this.len == n || load<u8>(this.ptr + <usize>n) == 0x2d;
  }
  toString(): string {
    return String.UTF8.decode(this.buf);
  }
}

/** A list of owned strings with allocation-free membership tests. */
export class StringSet {
  readonly items: Array<OwnedBytes> = new Array<OwnedBytes>();

  add(ptr: usize, len: i32): void {
    this.items.push(new OwnedBytes(ptr, len));
  }

  @inline get size(): i32 {
    return this.items.length;
  }

  has(s: Str): bool {
    const n = this.items.length;
    for (let i = 0; i < n; i++) {
      if (unchecked(this.items[i]).equalsStr(s)) return true;
    }
    return false;
  }

  /** True if [ptr, ptr+len) equals an item ignoring ASCII case. */
  hasIgnoringCase(ptr: usize, len: i32): bool {
    const n = this.items.length;
    for (let i = 0; i < n; i++) {
      const it = unchecked(this.items[i]);
      if (bytesEqualIgnoreAsciiCase(ptr, len, it.ptr, it.len)) return true;
    }
    return false;
  }

  /**
   * True if s equals an item or is a subdomain of it ("news.example.com" matches
   * "example.com"), ignoring ASCII case as DNS does. Items are stored lower-case.
   */
  hasDomain(s: Str): bool {
    const n = this.items.length;
    for (let i = 0; i < n; i++) {
      const it = unchecked(this.items[i]);
      const off = domainSuffixAt(s.ptr, s.len, it.len);
      if (off >= 0 && equalsLowerAscii(s.ptr + <usize>off, it.ptr, it.len)) return true;
    }
    return false;
  }
}

/**
 * Where a domain of `domainLen` bytes would start in the name [name, name+nameLen) if the name
 * were that domain or a subdomain of it (its last bytes, after a "."), or -1.
 */
function domainSuffixAt(name: usize, nameLen: i32, domainLen: i32): i32 {
  const off = nameLen - domainLen;
  if (off < 0 || (off > 0 && load<u8>(name + <usize>(off - 1)) != 0x2e)) return -1;
  return off;
}

/** [a, a+n) equals the lower-case bytes [lower, lower+n) ignoring ASCII case of a. */
function equalsLowerAscii(a: usize, lower: usize, n: i32): bool {
  for (let i = 0; i < n; i++) {
    if (asciiLower(load<u8>(a + <usize>i)) != load<u8>(lower + <usize>i)) return false;
  }
  return true;
}

/**
 * Supply-chain seller rules (a campaign's schain_sellers_allow / schain_sellers_block): each
 * entry names an advertising system by its canonical domain (a node's `asi`, compared whole,
 * ignoring ASCII case), optionally one seller account on it (`sid`, compared exactly).
 */
export class SellerRules {
  /** Lower-case asi of each entry. */
  readonly asi: Array<OwnedBytes> = new Array<OwnedBytes>();
  /** The entry's sid, or null: any seller on that system. */
  readonly sid: Array<OwnedBytes | null> = new Array<OwnedBytes | null>();

  @inline get size(): i32 {
    return this.asi.length;
  }

  /** Cold path (loading campaigns): adds the entry; false, adding nothing, when it is listed already. */
  add(asi: string, sid: string | null): bool {
    const lower = asi.toLowerCase();
    for (let i = 0; i < this.asi.length; i++) {
      if (this.asi[i].toString() != lower) continue;
      const s = this.sid[i];
      if (s === null ? sid === null : sid !== null && s.toString() == sid) return false;
    }
    this.asi.push(OwnedBytes.fromString(lower));
    this.sid.push(sid === null ? null : OwnedBytes.fromString(sid));
    return true;
  }

  /** Some entry names this node (its asi and sid as the request gives them). */
  matches(asi: Str, sid: Str): bool {
    const n = this.asi.length;
    for (let i = 0; i < n; i++) {
      const a = unchecked(this.asi[i]);
      if (a.len != asi.len || !equalsLowerAscii(asi.ptr, a.ptr, a.len)) continue;
      const s = unchecked(this.sid[i]);
      if (s === null || s.equalsStr(sid)) return true;
    }
    return false;
  }
}
