// A set of case-insensitive substrings searched for in a User-Agent in one pass: the tokens by
// which crawlers, monitors, scripts and headless browsers name themselves. Each pattern is found
// by three of its bytes: at each byte of the UA (every other byte when the patterns allow it) a
// three-byte key is looked up in a 4,096-bit table; only a set bit leads to comparing the
// patterns of that key. Built once from the configuration; asking allocates nothing.

/** Most patterns one set takes, and their length limits (bytes). */
export const MAX_UA_PATTERNS: i32 = 1024;
export const MIN_UA_PATTERN: i32 = 3;
export const MAX_UA_PATTERN: i32 = 128;

const TABLE_BITS: u32 = 12;

/** ASCII lower case of every byte (others unchanged). */
const LOWER: StaticArray<u8> = lowerTable();

function lowerTable(): StaticArray<u8> {
  const t = new StaticArray<u8>(256);
  for (let i = 0; i < 256; i++) t[i] = <u8>(i >= 0x41 && i <= 0x5a ? i + 0x20 : i);
  return t;
}

@inline function slotOf(key: u32): u32 {
  return (key * 0x9e3779b1) >> (32 - TABLE_BITS);
}

export class UaPatternSet {
  /** The patterns, lower-cased. */
  private readonly patterns: Array<StaticArray<u8>> = new Array<StaticArray<u8>>();
  /** Bit s: some entry's key hashes to slot s. */
  private bits: StaticArray<u32> = new StaticArray<u32>(1 << (TABLE_BITS - 5));
  /**
   * Entries by slot: entries[start[s] .. start[s+1]) are those of slot s, each a pattern index
   * times 2 plus the offset of its key in the pattern (0, or 1 when the scan steps by 2).
   */
  private start: StaticArray<i32> = new StaticArray<i32>((1 << TABLE_BITS) + 1);
  private entries: StaticArray<i32> = new StaticArray<i32>(0);
  /**
   * Positions the scan steps by: 2 when every pattern has 4 bytes or more, each then indexed by
   * the keys at its offsets 0 and 1 (an occurrence at p has one of them at an even position);
   * else 1.
   */
  private step: i32 = 1;

  get size(): i32 {
    return this.patterns.length;
  }

  /**
   * Adds a pattern: 3–128 bytes of printable ASCII (a User-Agent is ASCII), compared without
   * regard to letter case. Returns an error text, or "" when added.
   */
  add(pattern: string): string {
    const n = pattern.length;
    if (n < MIN_UA_PATTERN || n > MAX_UA_PATTERN) return "expected 3-128 characters";
    const p = new StaticArray<u8>(n);
    for (let i = 0; i < n; i++) {
      const c = pattern.charCodeAt(i);
      if (c < 0x20 || c > 0x7e) return "expected printable ASCII";
      p[i] = unchecked(LOWER[c]);
    }
    for (let i = 0; i < this.patterns.length; i++) {
      if (sameBytes(this.patterns[i], p)) return "duplicate pattern";
    }
    this.patterns.push(p);
    return "";
  }

  /** Indexes the patterns added so far (call once after the last add). */
  build(): void {
    let shortest = MAX_UA_PATTERN;
    for (let i = 0; i < this.patterns.length; i++) shortest = min(shortest, this.patterns[i].length);
    this.step = shortest >= MIN_UA_PATTERN + 1 ? 2 : 1;
    const slots = 1 << TABLE_BITS;
    const count = new StaticArray<i32>(slots);
    this.bits = new StaticArray<u32>(slots >> 5);
    const n = this.patterns.length * this.step;
    for (let e = 0; e < n; e++) {
      const s = this.slotOfEntry(e);
      count[s]++;
      this.bits[s >> 5] |= 1 << (s & 31);
    }
    const start = new StaticArray<i32>(slots + 1);
    for (let s = 0; s < slots; s++) start[s + 1] = start[s] + count[s];
    const entries = new StaticArray<i32>(n);
    const fill = new StaticArray<i32>(slots);
    for (let e = 0; e < n; e++) {
      const s = this.slotOfEntry(e);
      // Entry e is pattern e / step at offset e % step.
      entries[start[s] + fill[s]] = (e / this.step) * 2 + (e % this.step);
      fill[s]++;
    }
    this.start = start;
    this.entries = entries;
  }

  private slotOfEntry(e: i32): u32 {
    const p = this.patterns[e / this.step];
    return slotOf(foldedKey(changetype<usize>(p) + <usize>(e % this.step)));
  }

  /**
   * Some pattern occurs in [ptr, ptr+len), ignoring ASCII case. The table key of a position is
   * its three bytes with bit 5 set in each (letters lower-cased; a few other bytes fold onto
   * others, which only costs a comparison), read as one word: a load, two ALU operations, a
   * multiply and a bit test per position, at every other position when the patterns allow.
   */
  matches(ptr: usize, len: i32): bool {
    if (this.patterns.length == 0 || len < MIN_UA_PATTERN) return false;
    const bits = changetype<usize>(this.bits);
    // Word loads while four bytes are left, then the last position byte by byte (no read past the UA).
    const last = len - MIN_UA_PATTERN;
    const step = this.step;
    for (let i = 0; i <= last; i += step) {
      const key = i < last ? (load<u32>(ptr + <usize>i) & 0xffffff) | 0x202020 : foldedKey(ptr + <usize>i);
      const s = slotOf(key);
      if ((load<u32>(bits + (<usize>(s >> 5) << 2)) & (1 << (s & 31))) == 0) continue;
      if (this.matchesAt(ptr, len, i, s)) return true;
    }
    return false;
  }

  /** One of slot s's entries occurs with its key at `at` (its key hashes there, not necessarily matches). */
  private matchesAt(ptr: usize, len: i32, at: i32, s: u32): bool {
    const lower = changetype<usize>(LOWER);
    for (let k = unchecked(this.start[s]); k < unchecked(this.start[s + 1]); k++) {
      const entry = unchecked(this.entries[k]);
      const p = unchecked(this.patterns[entry >> 1]);
      const from = at - (entry & 1);
      const n = p.length;
      if (from < 0 || from + n > len) continue;
      let j = 0;
      while (j < n && load<u8>(lower + <usize>load<u8>(ptr + <usize>(from + j))) == unchecked(p[j])) j++;
      if (j == n) return true;
    }
    return false;
  }
}

/** Three bytes at p, little-endian, with bit 5 set in each. */
@inline function foldedKey(p: usize): u32 {
  return ((<u32>load<u8>(p) | (<u32>load<u8>(p, 1) << 8) | (<u32>load<u8>(p, 2) << 16)) | 0x202020);
}

function sameBytes(a: StaticArray<u8>, b: StaticArray<u8>): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] != b[i]) return false;
  return true;
}
