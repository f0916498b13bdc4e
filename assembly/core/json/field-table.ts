/**
 * A table of known field names with a constant-time lookup of a key read from
 * a document. The bid path looks up every key of every request, so a linear
 * scan of the names (the old way: up to 20 string compares per key) was one
 * of the parser's largest costs.
 *
 * A key is packed into two u64 words from loads that never leave the key's
 * own bytes (overlapping loads for short keys), so two keys of the same
 * length are equal exactly when their words are equal, for keys of up to 16
 * bytes; longer keys also compare their middle bytes. The words go through a
 * multiplicative hash into an open-addressing table built once per table at
 * start-up (allocation only there).
 */

/** Words of the last packKey() (globals: AssemblyScript has no multiple return values). */
let packedLo: u64 = 0;
let packedHi: u64 = 0;

/**
 * Packs the `len` bytes at `ptr` into packedLo/packedHi, reading only
 * [ptr, ptr+len): keys can end at the very end of linear memory. Keys under
 * 8 bytes are their bytes zero-extended (as JsonReader's fast key scan packs
 * them from one 8-byte load); longer ones are their first and last 8 bytes.
 */
function packKey(ptr: usize, len: i32): void {
  if (len >= 8) {
    packedLo = load<u64>(ptr);
    packedHi = load<u64>(ptr + <usize>len - 8);
    return;
  }
  let w: u64 = 0;
  for (let i = len - 1; i >= 0; i--) w = (w << 8) | <u64>load<u8>(ptr + <usize>i);
  packedLo = w;
  packedHi = 0;
}

@inline
function slotOf(lo: u64, hi: u64, len: i32, shift: u64): i32 {
  const h = (lo ^ (hi * 0x9e3779b97f4a7c15) ^ <u64>len) * 0xff51afd7ed558ccd;
  return <i32>(h >> shift);
}

export class FieldTable {
  /** The names, in the order the parser's switch statements number them. */
  readonly names: StaticArray<string>;
  /** Name i as UTF-8 (for the middle bytes of names over 16 bytes). */
  private readonly utf8: StaticArray<ArrayBuffer>;
  private readonly slotLo: StaticArray<u64>;
  private readonly slotHi: StaticArray<u64>;
  /** Length of the name in the slot; 0 = empty slot. */
  private readonly slotLen: StaticArray<i32>;
  private readonly slotIndex: StaticArray<i32>;
  private readonly mask: i32;
  private readonly shift: u64;

  constructor(names: StaticArray<string>) {
    this.names = names;
    const n = names.length;
    let bits = 4;
    while ((1 << bits) < n * 4) bits++; // load factor at most 1/4: probes are rare
    const size = 1 << bits;
    this.mask = size - 1;
    this.shift = <u64>(64 - bits);
    this.slotLo = new StaticArray<u64>(size);
    this.slotHi = new StaticArray<u64>(size);
    this.slotLen = new StaticArray<i32>(size);
    this.slotIndex = new StaticArray<i32>(size);
    const utf8 = new StaticArray<ArrayBuffer>(n);
    this.utf8 = utf8;
    for (let i = 0; i < n; i++) {
      const bytes = String.UTF8.encode(unchecked(names[i]));
      unchecked((utf8[i] = bytes));
      const len = bytes.byteLength;
      assert(len > 0, "field names are not empty");
      assert(this.lookup(changetype<usize>(bytes), len) < 0, "field names are unique");
      packKey(changetype<usize>(bytes), len);
      let s = slotOf(packedLo, packedHi, len, this.shift);
      while (unchecked(this.slotLen[s]) != 0) s = (s + 1) & this.mask;
      unchecked((this.slotLo[s] = packedLo));
      unchecked((this.slotHi[s] = packedHi));
      unchecked((this.slotLen[s] = len));
      unchecked((this.slotIndex[s] = i));
    }
  }

  /** Index of the key [ptr, ptr+len) in the table, or -1. */
  lookup(ptr: usize, len: i32): i32 {
    if (len <= 0) return -1;
    packKey(ptr, len);
    return this.lookupPacked(ptr, len, packedLo, packedHi);
  }

  /**
   * lookup() of a key already packed (see packKey; JsonReader.keyPackedLo and keyPackedHi).
   * Inlined into FieldReader.nextField, which calls it for every key of a request.
   */
  @inline lookupPacked(ptr: usize, len: i32, lo: u64, hi: u64): i32 {
    let s = slotOf(lo, hi, len, this.shift);
    while (true) {
      const l = unchecked(this.slotLen[s]);
      if (l == 0) return -1;
      if (l == len && unchecked(this.slotLo[s]) == lo && unchecked(this.slotHi[s]) == hi) {
        const i = unchecked(this.slotIndex[s]);
        if (len <= 16) return i;
        // Bytes 8 .. len-8 are not in the words.
        if (memory.compare(ptr + 8, changetype<usize>(unchecked(this.utf8[i])) + 8, <usize>len - 16) == 0) return i;
      }
      s = (s + 1) & this.mask;
    }
    return -1; // unreachable
  }

  @inline get length(): i32 {
    return this.names.length;
  }
}
