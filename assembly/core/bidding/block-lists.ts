// The exchange's block and allow lists (badv, bcat, acat) as the decision checks creatives against
// them. A creative's check used to compare each of its advertiser domains with every badv entry
// (parsing each entry as a host name again) and each of its categories with every bcat entry, and
// it was repeated for every impression, size and campaign of the request: a worst-case audit's
// 15 KiB request (511 badv entries, 16 impressions × 17 sizes) took 1 s against 256 campaigns.
// Now each list is read once per request, into a hash set when it is long, and decision.ts keeps
// a creative's answer for the rest of the request. Nothing here allocates after start.
import { Str, bytesEqual, bytesEqualIgnoreAsciiCase } from "../bytes/str";
import { appStoreNumberAt, hostOf, withoutWww } from "../bytes/host-name";
import { StrList } from "../json/lists";
import { MAX_BLOCKED } from "../openrtb/limits";
import { OwnedBytes, foldedHash, parentDomainAt } from "./owned-bytes";

/** Lists of at most this many entries are scanned: for them a hash set costs more than it saves. */
export const SCAN_AT_MOST: i32 = 16;
/** Hash slots: a power of two, at least twice MAX_BLOCKED (open addressing stays short). */
const SLOTS: i32 = 1024;

/**
 * A set of byte strings (views of the request), compared exactly or ignoring ASCII case. Plain
 * arrays, no objects per entry: these sets sit in every VM's memory (a first version with a Str
 * per entry pushed the filter's heap past 4 MiB, and the VM's memory doubled to 8 MiB).
 */
export class ByteStringSet {
  /** Index + 1 of the entry in each slot; 0: empty. */
  private readonly slots: StaticArray<u16> = new StaticArray<u16>(SLOTS);
  private readonly ptrs: StaticArray<usize> = new StaticArray<usize>(MAX_BLOCKED);
  private readonly lens: StaticArray<i32> = new StaticArray<i32>(MAX_BLOCKED);
  private count: i32 = 0;
  private ignoreCase: bool = false;

  /** Empties the set; its entries are then compared ignoring ASCII case or not. */
  clear(ignoreCase: bool): void {
    memory.fill(changetype<usize>(this.slots), 0, <usize>SLOTS << 1);
    this.count = 0;
    this.ignoreCase = ignoreCase;
  }

  /** Adds a view of [ptr, ptr+len) (kept: the bytes must outlive the set's use). At most MAX_BLOCKED entries. */
  add(ptr: usize, len: i32): void {
    if (this.count >= MAX_BLOCKED) return;
    let i = <i32>(foldedHash(ptr, len) & <u32>(SLOTS - 1));
    while (true) {
      const at = <i32>unchecked(this.slots[i]);
      if (at == 0) break;
      if (this.same(at - 1, ptr, len)) return;
      i = (i + 1) & (SLOTS - 1);
    }
    unchecked((this.ptrs[this.count] = ptr));
    unchecked((this.lens[this.count] = len));
    this.count++;
    unchecked((this.slots[i] = <u16>this.count));
  }

  has(ptr: usize, len: i32): bool {
    let i = <i32>(foldedHash(ptr, len) & <u32>(SLOTS - 1));
    while (true) {
      const at = <i32>unchecked(this.slots[i]);
      if (at == 0) return false;
      if (this.same(at - 1, ptr, len)) return true;
      i = (i + 1) & (SLOTS - 1);
    }
  }

  @inline private same(e: i32, ptr: usize, len: i32): bool {
    const p = unchecked(this.ptrs[e]);
    const n = unchecked(this.lens[e]);
    return this.ignoreCase ? bytesEqualIgnoreAsciiCase(p, n, ptr, len) : bytesEqual(p, n, ptr, len);
  }
}

/**
 * The request's badv as the host names its entries name ("https://www.brand.example/" and
 * "brand.example." block brand.example: host-name.ts), read once per request.
 */
export class BadvHosts {
  private readonly ptrs: StaticArray<usize> = new StaticArray<usize>(MAX_BLOCKED);
  private readonly lens: StaticArray<i32> = new StaticArray<i32>(MAX_BLOCKED);
  private count: i32 = 0;
  private hashed: bool = false;
  private readonly set: ByteStringSet = new ByteStringSet();
  /** An entry's host (hostOf writes a view), and a host compared by the scan. */
  private readonly host: Str = new Str();

  read(badv: StrList): void {
    const h = this.host;
    let k = 0;
    for (let j = 0; j < badv.count; j++) {
      hostOf(badv.get(j), h);
      withoutWww(h);
      if (h.len == 0) continue;
      unchecked((this.ptrs[k] = h.ptr));
      unchecked((this.lens[k] = h.len));
      k++;
    }
    this.count = k;
    this.hashed = k > SCAN_AT_MOST;
    if (!this.hashed) return;
    this.set.clear(true);
    for (let i = 0; i < k; i++) this.set.add(unchecked(this.ptrs[i]), unchecked(this.lens[i]));
  }

  /** An advertiser domain that is one of the hosts or a subdomain of one, ignoring ASCII case as DNS does. */
  blocks(domain: OwnedBytes): bool {
    if (!this.hashed) {
      const h = this.host;
      for (let i = 0; i < this.count; i++) {
        h.set(unchecked(this.ptrs[i]), unchecked(this.lens[i]));
        if (domain.isDomainOrSubdomainOf(h)) return true;
      }
      return false;
    }
    // The domain itself, then each parent ("a.b.example": "b.example", "example").
    const p = domain.ptr;
    const n = domain.len;
    for (let from = 0; from >= 0; from = parentDomainAt(p, n, from)) {
      if (this.set.has(p + <usize>from, n - from)) return true;
    }
    return false;
  }
}

/**
 * A list of the request read once per request, for whole-string lookups: scanned when short,
 * hashed when long. Entries are compared exactly or ignoring ASCII case; empty ones match nothing.
 * A list of app ids (bapp) is compared as App Store numbers: an entry "id1234567" is 1234567
 * (host-name.ts appStoreNumberAt), the form the lookups come in (a creative's bundle).
 */
export class RequestList {
  private list: StrList | null = null;
  private ignoreCase: bool = false;
  private appIds: bool = false;
  private hashed: bool = false;
  private readonly set: ByteStringSet = new ByteStringSet();

  read(list: StrList, ignoreCase: bool, appIds: bool = false): void {
    this.list = list;
    this.ignoreCase = ignoreCase;
    this.appIds = appIds;
    this.hashed = list.count > SCAN_AT_MOST;
    if (!this.hashed) return;
    this.set.clear(ignoreCase);
    for (let j = 0; j < list.count; j++) {
      const e = list.get(j);
      const at = this.skip(e);
      if (e.len > at) this.set.add(e.ptr + <usize>at, e.len - at);
    }
  }

  /** [ptr, ptr+len) is an entry. */
  has(ptr: usize, len: i32): bool {
    if (this.hashed) return this.set.has(ptr, len);
    const list = this.list!;
    for (let j = 0; j < list.count; j++) {
      const e = list.get(j);
      const at = this.skip(e);
      const p = e.ptr + <usize>at;
      const n = e.len - at;
      if (n > 0 && (this.ignoreCase ? bytesEqualIgnoreAsciiCase(p, n, ptr, len) : bytesEqual(p, n, ptr, len))) return true;
    }
    return false;
  }

  /** Bytes of the entry not compared: an App Store id's "id" in a list of app ids. */
  @inline private skip(e: Str): i32 {
    return this.appIds ? appStoreNumberAt(e.ptr, e.len) : 0;
  }
}

/**
 * A category list of the request (bcat or acat) in its taxonomy, read once per request: in IAB
 * Content 1.0 an entry also lists its subcategories ("IAB3" lists "IAB3-1") and is compared in any
 * letter case; in other taxonomies codes are compared exactly.
 */
export class CategoryList {
  private iab1: bool = false;
  private readonly entries: RequestList = new RequestList();

  read(list: StrList, iab1: bool): void {
    this.iab1 = iab1;
    this.entries.read(list, iab1);
  }

  /** The category is listed: itself, or (IAB 1.0) a parent of it. */
  lists(cat: OwnedBytes): bool {
    if (this.entries.has(cat.ptr, cat.len)) return true;
    if (!this.iab1) return false;
    // Its parents: the code up to each "-" ("IAB3-1-2": "IAB3", "IAB3-1").
    for (let i = 1; i < cat.len; i++) {
      if (load<u8>(cat.ptr + <usize>i) == 0x2d && this.entries.has(cat.ptr, i)) return true;
    }
    return false;
  }
}
