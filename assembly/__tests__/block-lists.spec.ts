// The request's badv, bcat and acat as the decision reads them (assembly/core/bidding/block-lists.ts):
// short lists scanned, long ones (more than SCAN_AT_MOST entries) in hash sets. Both must answer
// exactly what comparing the creative with every entry answers (the definitions below).
import { BadvHosts, ByteStringSet, CategoryList, RequestList, SCAN_AT_MOST } from "../core/bidding/block-lists";
import { OwnedBytes, StringSet } from "../core/bidding/owned-bytes";
import { Str, bytesEqualIgnoreAsciiCase } from "../core/bytes/str";
import { hostOf, withoutWww } from "../core/bytes/host-name";
import { StrList } from "../core/json/lists";
import { MAX_BLOCKED } from "../core/openrtb/limits";
import { view } from "./support/decision-fixtures";

const keep = new Array<ArrayBuffer>();

function listOf(items: string[]): StrList {
  const l = new StrList(MAX_BLOCKED);
  for (let i = 0; i < items.length; i++) {
    const b = String.UTF8.encode(items[i]);
    keep.push(b);
    l.next()!.set(changetype<usize>(b), b.byteLength);
  }
  return l;
}

/** `items` with `n` unrelated entries before them (n > SCAN_AT_MOST: the hashed path). */
function padded(items: string[], n: i32, pad: (i: i32) => string): string[] {
  const out = new Array<string>();
  for (let i = 0; i < n; i++) out.push(pad(i));
  for (let i = 0; i < items.length; i++) out.push(items[i]);
  return out;
}

/** The definition: some badv entry, read as a host name without "www.", is the domain or a parent of it. */
function badvBlocksByDefinition(badv: StrList, domain: OwnedBytes): bool {
  const h = new Str();
  for (let j = 0; j < badv.count; j++) {
    hostOf(badv.get(j), h);
    withoutWww(h);
    if (domain.isDomainOrSubdomainOf(h)) return true;
  }
  return false;
}

/** The definition in IAB 1.0: the entry is the category or a parent of it ("IAB3" covers "IAB3-1"), in any letter case. */
function underIab1Category(cat: OwnedBytes, entry: Str): bool {
  const n = entry.len;
  if (n == 0 || cat.len < n || !bytesEqualIgnoreAsciiCase(cat.ptr, n, entry.ptr, n)) return false;
  return cat.len == n || load<u8>(cat.ptr + <usize>n) == 0x2d;
}

function catListedByDefinition(list: StrList, cat: OwnedBytes, iab1: bool): bool {
  for (let j = 0; j < list.count; j++) {
    if (iab1 ? underIab1Category(cat, list.get(j)) : cat.equalsStr(list.get(j))) return true;
  }
  return false;
}

function badvBlocks(entries: string[], domain: string): bool {
  const hosts = new BadvHosts();
  const l = listOf(entries);
  hosts.read(l);
  const d = OwnedBytes.fromString(domain);
  const answer = hosts.blocks(d);
  expect(answer).toBe(badvBlocksByDefinition(l, d), domain);
  return answer;
}

function listed(entries: string[], cat: string, iab1: bool): bool {
  const list = new CategoryList();
  const l = listOf(entries);
  list.read(l, iab1);
  const c = OwnedBytes.fromString(cat);
  const answer = list.lists(c);
  expect(answer).toBe(catListedByDefinition(l, c, iab1), cat);
  return answer;
}

const PADS: i32[] = [0, SCAN_AT_MOST + 1, 200];

// A small deterministic generator (AssemblyScript closures cannot capture locals).
let seed: u32 = 12345;
function rnd(n: i32): i32 {
  seed = seed * 1103515245 + 12345;
  return <i32>((seed >>> 8) % <u32>n);
}
const LABELS = ["a", "b", "ab", "www", "brand", "example", "EXAMPLE", "Brand"];
function genName(): string {
  let s = LABELS[rnd(LABELS.length)];
  const k = rnd(3);
  for (let i = 0; i < k; i++) s = LABELS[rnd(LABELS.length)] + "." + s;
  return s;
}
function padDomain(i: i32): string {
  return "pad" + i.toString() + ".example";
}
function padIab(i: i32): string {
  return "IAB" + (100 + i).toString();
}
function padNumber(i: i32): string {
  return (1000 + i).toString();
}
function genCode(): string {
  let s = (rnd(2) == 0 ? "IAB" : "iab") + (1 + rnd(4)).toString();
  const k = rnd(3);
  for (let i = 0; i < k; i++) s += "-" + (1 + rnd(3)).toString();
  return s;
}

describe("badv hosts", () => {
  it("block the domain and its subdomains, in any case, as exchanges write entries; not a longer name ending the same way", () => {
    for (let p = 0; p < PADS.length; p++) {
      const n = PADS[p];
      expect(badvBlocks(padded(["brand.example"], n, padDomain), "brand.example")).toBe(true);
      expect(badvBlocks(padded(["brand.example"], n, padDomain), "ads.brand.example")).toBe(true);
      expect(badvBlocks(padded(["https://WWW.Brand.example/path"], n, padDomain), "brand.example")).toBe(true);
      expect(badvBlocks(padded(["brand.example."], n, padDomain), "cdn.brand.example")).toBe(true);
      expect(badvBlocks(padded(["BRAND.EXAMPLE"], n, padDomain), "Ads.Brand.Example")).toBe(true);
      expect(badvBlocks(padded(["brand.example"], n, padDomain), "xbrand.example")).toBe(false);
      expect(badvBlocks(padded(["ads.brand.example"], n, padDomain), "brand.example")).toBe(false);
      expect(badvBlocks(padded(["example"], n, padDomain), "brand.example")).toBe(true);
      expect(badvBlocks(padded(["", "   ", "https://"], n, padDomain), "brand.example")).toBe(false);
      expect(badvBlocks(padded(["other.example"], n, padDomain), "brand.example")).toBe(false);
    }
  });

  it("answer as the definition on generated lists and domains, scanned and hashed", () => {
    seed = 12345;
    for (let round = 0; round < 300; round++) {
      const entries = new Array<string>();
      const n = rnd(2) == 0 ? rnd(SCAN_AT_MOST) : SCAN_AT_MOST + 1 + rnd(40);
      for (let i = 0; i < n; i++) entries.push(rnd(4) == 0 ? "https://" + genName() + "/" : genName());
      badvBlocks(entries, genName());
    }
  });
});

describe("category lists", () => {
  it("IAB Content 1.0: an entry lists its subcategories, in any case; IAB30 is not under IAB3", () => {
    for (let p = 0; p < PADS.length; p++) {
      const n = PADS[p];
      expect(listed(padded(["IAB3"], n, padIab), "IAB3", true)).toBe(true);
      expect(listed(padded(["IAB3"], n, padIab), "IAB3-1", true)).toBe(true);
      expect(listed(padded(["iab3"], n, padIab), "IAB3-1-2", true)).toBe(true);
      expect(listed(padded(["IAB3-1"], n, padIab), "IAB3-1-2", true)).toBe(true);
      expect(listed(padded(["IAB3-1"], n, padIab), "IAB3", true)).toBe(false);
      expect(listed(padded(["IAB3"], n, padIab), "IAB30", true)).toBe(false);
      expect(listed(padded(["IAB3-"], n, padIab), "IAB3", true)).toBe(false);
    }
  });

  it("other taxonomies: exact codes only (no parents, case counts)", () => {
    for (let p = 0; p < PADS.length; p++) {
      const n = PADS[p];
      expect(listed(padded(["52"], n, padNumber), "52", false)).toBe(true);
      expect(listed(padded(["52"], n, padNumber), "52-1", false)).toBe(false);
      expect(listed(padded(["abc"], n, padNumber), "ABC", false)).toBe(false);
    }
  });

  it("answer as the definition on generated lists and codes, scanned and hashed", () => {
    seed = 777;
    for (let round = 0; round < 300; round++) {
      const entries = new Array<string>();
      const n = rnd(2) == 0 ? rnd(SCAN_AT_MOST) : SCAN_AT_MOST + 1 + rnd(40);
      for (let i = 0; i < n; i++) entries.push(genCode());
      listed(entries, genCode(), rnd(2) == 0);
    }
  });
});

/** bapp as the decision reads it: whole app store ids, any letter case. */
function appListed(entries: string[], bundle: string): bool {
  const list = new RequestList();
  const l = listOf(entries);
  list.read(l, true);
  const b = OwnedBytes.fromString(bundle);
  const answer = list.has(b.ptr, b.len);
  let byDefinition = false;
  for (let j = 0; j < l.count; j++) {
    const e = l.get(j);
    if (e.len > 0 && bytesEqualIgnoreAsciiCase(e.ptr, e.len, b.ptr, b.len)) byDefinition = true;
  }
  expect(answer).toBe(byDefinition, bundle);
  return answer;
}

function appIdListed(list: RequestList, s: string): bool {
  const b = OwnedBytes.fromString(s);
  return list.has(b.ptr, b.len);
}

describe("app lists (bapp)", () => {
  it("list whole app store ids in any letter case, scanned and hashed; not a prefix or a longer id", () => {
    for (let p = 0; p < PADS.length; p++) {
      const n = PADS[p];
      expect(appListed(padded(["com.brand.game"], n, padDomain), "com.brand.game")).toBe(true);
      expect(appListed(padded(["com.Brand.Game"], n, padDomain), "com.brand.game")).toBe(true);
      expect(appListed(padded(["1234567"], n, padNumber), "1234567")).toBe(true);
      expect(appListed(padded(["com.brand"], n, padDomain), "com.brand.game")).toBe(false);
      expect(appListed(padded(["com.brand.game"], n, padDomain), "com.brand.game2")).toBe(false);
      expect(appListed(padded(["123456"], n, padNumber), "1234567")).toBe(false);
      expect(appListed(padded([""], n, padNumber), "1234567")).toBe(false);
    }
  });

  it("as app ids, an App Store entry \"id1234567\" (any case) is the number 1234567, scanned and hashed", () => {
    for (let p = 0; p < PADS.length; p++) {
      const list = new RequestList();
      list.read(listOf(padded(["ID1234567", "idcom.brand"], PADS[p], padDomain)), true, true);
      expect(appIdListed(list, "1234567")).toBe(true);
      expect(appIdListed(list, "123456")).toBe(false);
      expect(appIdListed(list, "idcom.brand")).toBe(true); // not an App Store id: compared whole
    }
  });

  it("answer as the definition on generated lists, scanned and hashed", () => {
    seed = 4242;
    for (let round = 0; round < 200; round++) {
      const entries = new Array<string>();
      const n = rnd(2) == 0 ? rnd(SCAN_AT_MOST) : SCAN_AT_MOST + 1 + rnd(40);
      for (let i = 0; i < n; i++) entries.push(genName());
      appListed(entries, genName());
    }
  });
});

describe("ByteStringSet", () => {
  it("finds what it holds, once per entry, ignoring case only when asked; at most MAX_BLOCKED entries", () => {
    const set = new ByteStringSet();
    const a = String.UTF8.encode("Brand.Example");
    const b = String.UTF8.encode("brand.example");
    keep.push(a);
    keep.push(b);
    set.clear(false);
    set.add(changetype<usize>(a), a.byteLength);
    expect(set.has(changetype<usize>(a), a.byteLength)).toBe(true);
    expect(set.has(changetype<usize>(b), b.byteLength)).toBe(false);
    set.clear(true);
    set.add(changetype<usize>(a), a.byteLength);
    expect(set.has(changetype<usize>(b), b.byteLength)).toBe(true);
    expect(set.has(changetype<usize>(b), b.byteLength - 1)).toBe(false);
    // Past the capacity nothing more is added, and nothing loops.
    set.clear(false);
    const many = new Array<ArrayBuffer>();
    for (let i = 0; i < MAX_BLOCKED + 10; i++) {
      const e = String.UTF8.encode("e" + i.toString());
      many.push(e);
      set.add(changetype<usize>(e), e.byteLength);
    }
    expect(set.has(changetype<usize>(many[MAX_BLOCKED - 1]), many[MAX_BLOCKED - 1].byteLength)).toBe(true);
    expect(set.has(changetype<usize>(many[MAX_BLOCKED]), many[MAX_BLOCKED].byteLength)).toBe(false);
  });
});

// Campaign-side lists (owned-bytes.ts StringSet): past 16 items they keep a hash index. Lookups
// must answer as a scan of the items does, whichever path answers.
function setOf(items: string[]): StringSet {
  const set = new StringSet();
  for (let i = 0; i < items.length; i++) set.push(OwnedBytes.fromString(items[i]));
  return set;
}

function hasByScan(set: StringSet, s: Str): bool {
  for (let i = 0; i < set.items.length; i++) if (set.items[i].equalsStr(s)) return true;
  return false;
}

function hasIgnoringCaseByScan(set: StringSet, s: Str): bool {
  for (let i = 0; i < set.items.length; i++) if (bytesEqualIgnoreAsciiCase(s.ptr, s.len, set.items[i].ptr, set.items[i].len)) return true;
  return false;
}

/** The definition: s lower-cased is an item, or ends with "." + an item. */
function hasDomainByScan(set: StringSet, s: Str): bool {
  const lower = s.toString().toLowerCase();
  for (let i = 0; i < set.items.length; i++) {
    const it = set.items[i].toString();
    if (lower == it || lower.endsWith("." + it)) return true;
  }
  return false;
}

describe("StringSet (campaign lists)", () => {
  it("answers as a scan, scanned and indexed, for exact, case-blind and domain lookups", () => {
    seed = 4242;
    for (let round = 0; round < 200; round++) {
      const items = new Array<string>();
      const n = rnd(2) == 0 ? rnd(SCAN_AT_MOST) : SCAN_AT_MOST + 1 + rnd(60);
      for (let i = 0; i < n; i++) items.push(genName().toLowerCase());
      const set = setOf(items);
      for (let k = 0; k < 10; k++) {
        const q = view(genName());
        expect(set.has(q)).toBe(hasByScan(set, q));
        expect(set.hasIgnoringCase(q.ptr, q.len)).toBe(hasIgnoringCaseByScan(set, q));
        expect(set.hasDomain(q)).toBe(hasDomainByScan(set, q));
      }
    }
  });

  it("finds every item of a large set and nothing else; an item pushed past the index is still found", () => {
    const items = new Array<string>();
    for (let i = 0; i < 1000; i++) items.push("d" + i.toString() + ".example");
    const set = setOf(items);
    for (let i = 0; i < 1000; i += 37) {
      expect(set.has(view("d" + i.toString() + ".example"))).toBe(true);
      expect(set.hasDomain(view("cdn.D" + i.toString() + ".Example"))).toBe(true);
    }
    expect(set.has(view("d1000.example"))).toBe(false);
    expect(set.hasDomain(view("xd1.example"))).toBe(false);
    expect(set.has(view("D1.example"))).toBe(false);
    expect(set.hasIgnoringCase(view("D1.EXAMPLE").ptr, 10)).toBe(true);
    set.items.push(OwnedBytes.fromString("late.example"));
    expect(set.has(view("late.example"))).toBe(true);
    expect(set.hasDomain(view("a.late.example"))).toBe(true);
  });
});
