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

  toString(): string {
    return String.UTF8.decode(this.buf);
  }
}

/** How StringSet.probe compares: bytes as they are, ignoring ASCII case, or with lower-case items. */
const EXACT: i32 = 0;
const IGNORING_CASE: i32 = 1;
const ITEM_LOWER_CASE: i32 = 2;

/** Sets of at most this many strings are scanned; larger ones also keep a hash index. */
const SCAN_AT_MOST: i32 = 16;

/** FNV-1a of the lower-case bytes of [ptr, ptr+len): one index serves exact and case-blind lookups. */
export function foldedHash(ptr: usize, len: i32): u32 {
  let h: u32 = 2166136261;
  for (let i = 0; i < len; i++) h = (h ^ <u32>asciiLower(load<u8>(ptr + <usize>i))) * 16777619;
  return h;
}

/**
 * A list of owned strings with allocation-free membership tests. Filled on the cold path (campaign
 * sets): past SCAN_AT_MOST entries it keeps a hash index, so that a lookup does not scan lists of
 * thousands (a worst-case audit: 16 impressions against a 40,000-domain block list, 256 campaigns
 * buying 64 deals each).
 */
export class StringSet {
  readonly items: Array<OwnedBytes> = new Array<OwnedBytes>();
  /** Item index + 1 per slot (0: empty), a power of two at least twice the items; null while scanned. */
  private index: StaticArray<i32> | null = null;
  /** How many items the index holds: an item pushed to `items` directly makes it stale, and it is not used. */
  private indexed: i32 = 0;

  add(ptr: usize, len: i32): void {
    this.push(new OwnedBytes(ptr, len));
  }

  /** Adds an item (cold path: may allocate the index). */
  push(item: OwnedBytes): void {
    this.items.push(item);
    const n = this.items.length;
    if (n <= SCAN_AT_MOST) return;
    let index = this.index;
    if (index === null || this.indexed != n - 1 || n * 2 > index.length) {
      let size = 64;
      while (size < n * 4) size <<= 1;
      index = new StaticArray<i32>(size);
      this.index = index;
      for (let i = 0; i < n; i++) this.insert(index, i);
    } else {
      this.insert(index, n - 1);
    }
    this.indexed = n;
  }

  private insert(index: StaticArray<i32>, i: i32): void {
    const it = unchecked(this.items[i]);
    const mask = index.length - 1;
    let slot = <i32>foldedHash(it.ptr, it.len) & mask;
    while (unchecked(index[slot]) != 0) slot = (slot + 1) & mask;
    unchecked((index[slot] = i + 1));
  }

  /** The index when it holds every item, else null (scan). */
  @inline private usableIndex(): StaticArray<i32> | null {
    const index = this.index;
    return index !== null && this.indexed == this.items.length ? index : null;
  }

  @inline get size(): i32 {
    return this.items.length;
  }

  has(s: Str): bool {
    return this.hasHashed(s, this.usableIndex() !== null ? foldedHash(s.ptr, s.len) : 0);
  }

  /** has(s), given foldedHash(s) (a caller asking many sets for one string hashes it once). */
  hasHashed(s: Str, hash: u32): bool {
    const index = this.usableIndex();
    if (index !== null) return this.probe(index, s.ptr, s.len, hash, EXACT);
    const n = this.items.length;
    for (let i = 0; i < n; i++) {
      if (unchecked(this.items[i]).equalsStr(s)) return true;
    }
    return false;
  }

  /** True if [ptr, ptr+len) equals an item ignoring ASCII case. */
  hasIgnoringCase(ptr: usize, len: i32): bool {
    const index = this.usableIndex();
    if (index !== null) return this.probe(index, ptr, len, foldedHash(ptr, len), IGNORING_CASE);
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
    const index = this.usableIndex();
    if (index !== null) {
      for (let from = 0; from >= 0; from = parentDomainAt(s.ptr, s.len, from)) {
        const p = s.ptr + <usize>from;
        if (this.probe(index, p, s.len - from, foldedHash(p, s.len - from), ITEM_LOWER_CASE)) return true;
      }
      return false;
    }
    const n = this.items.length;
    for (let i = 0; i < n; i++) {
      const it = unchecked(this.items[i]);
      const off = domainSuffixAt(s.ptr, s.len, it.len);
      if (off >= 0 && equalsLowerAscii(s.ptr + <usize>off, it.ptr, it.len)) return true;
    }
    return false;
  }

  /** Some item the index finds under `hash` is [ptr, ptr+len), compared as `how` says. */
  private probe(index: StaticArray<i32>, ptr: usize, len: i32, hash: u32, how: i32): bool {
    const mask = index.length - 1;
    let slot = <i32>hash & mask;
    while (true) {
      const at = unchecked(index[slot]);
      if (at == 0) return false;
      const it = unchecked(this.items[at - 1]);
      if (how == EXACT ? bytesEqual(ptr, len, it.ptr, it.len)
        : how == IGNORING_CASE ? bytesEqualIgnoreAsciiCase(ptr, len, it.ptr, it.len)
        : it.len == len && equalsLowerAscii(ptr, it.ptr, len)) return true;
      slot = (slot + 1) & mask;
    }
  }

}

/**
 * Where the next parent of the name [name, name+len) starts, after the label at `from`
 * ("a.b.example": 0 → 2, "b.example"; 2 → 4, "example"), or -1 after the last label. A lookup of
 * a name and its parents walks from 0 until -1.
 */
export function parentDomainAt(name: usize, len: i32, from: i32): i32 {
  let dot = from;
  while (dot < len && load<u8>(name + <usize>dot) != 0x2e) dot++;
  return dot >= len ? -1 : dot + 1;
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
    const a = OwnedBytes.fromString(asi.toLowerCase());
    const s: OwnedBytes | null = sid === null ? null : OwnedBytes.fromString(sid);
    // Bytes compared, not strings made for each entry (2 × 256 rules × 256 campaigns took 2.4 s).
    for (let i = 0; i < this.asi.length; i++) {
      const other = unchecked(this.asi[i]);
      if (!bytesEqual(other.ptr, other.len, a.ptr, a.len)) continue;
      const os = unchecked(this.sid[i]);
      if (os === null ? s === null : s !== null && bytesEqual(os.ptr, os.len, s.ptr, s.len)) return false;
    }
    this.asi.push(a);
    this.sid.push(s);
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
