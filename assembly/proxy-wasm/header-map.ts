// Header map serialisation (spec "Serialization"): u32 count, then count ×
// (u32 key length, u32 value length), then count × (key, 0x00, value, 0x00),
// little-endian, lengths without the NUL. A malformed map is silently taken as
// empty by Envoy, so the writer refuses to build one (too many pairs / too big).

/** Builds a serialised header map in a reusable buffer, without allocating per use. */
export class HeaderMapWriter {
  private readonly maxPairs: i32;
  private readonly capacity: i32;
  private readonly lengths: StaticArray<u32>;
  private readonly data: usize; // keys/values with NULs, in insertion order
  private dataLen: i32 = 0;
  private count: i32 = 0;
  private readonly out: usize;
  private outLen: i32 = 0;
  /** Set when a pair did not fit: the map built so far stays well-formed. */
  overflowed: bool = false;

  constructor(maxPairs: i32 = 32, capacity: i32 = 8192) {
    this.maxPairs = maxPairs;
    this.capacity = capacity;
    this.lengths = new StaticArray<u32>(maxPairs * 2);
    this.data = heap.alloc(<usize>capacity);
    this.out = heap.alloc(<usize>(capacity + 4 + maxPairs * 8));
  }

  reset(): void {
    this.dataLen = 0;
    this.count = 0;
    this.outLen = 0;
    this.overflowed = false;
  }

  add(keyPtr: usize, keyLen: i32, valuePtr: usize, valueLen: i32): bool {
    const p = this.reserve(keyLen, valueLen);
    if (p == 0) return false;
    memory.copy(p, keyPtr, <usize>keyLen);
    memory.copy(p + <usize>keyLen + 1, valuePtr, <usize>valueLen);
    return true;
  }

  /** Adds an ASCII key and value given as string literals (no allocation: written byte by byte). */
  addAscii(key: string, value: string): bool {
    const p = this.reserve(key.length, value.length);
    if (p == 0) return false;
    writeAscii(p, key);
    writeAscii(p + <usize>key.length + 1, value);
    return true;
  }

  /** Adds an ASCII key literal with a value given as bytes. */
  addAsciiKey(key: string, valuePtr: usize, valueLen: i32): bool {
    const p = this.reserve(key.length, valueLen);
    if (p == 0) return false;
    writeAscii(p, key);
    memory.copy(p + <usize>key.length + 1, valuePtr, <usize>valueLen);
    return true;
  }

  /**
   * Makes room for one pair and records its lengths and NULs; returns where the
   * key goes (the value goes after the key's NUL), or 0 when it does not fit.
   */
  private reserve(keyLen: i32, valueLen: i32): usize {
    const need = keyLen + valueLen + 2;
    if (this.count >= this.maxPairs || this.dataLen + need > this.capacity || keyLen < 0 || valueLen < 0) {
      this.overflowed = true;
      return 0;
    }
    const p = this.data + <usize>this.dataLen;
    store<u8>(p + <usize>keyLen, 0);
    store<u8>(p + <usize>(keyLen + 1 + valueLen), 0);
    unchecked((this.lengths[this.count * 2] = <u32>keyLen));
    unchecked((this.lengths[this.count * 2 + 1] = <u32>valueLen));
    this.dataLen += need;
    this.count++;
    this.outLen = 0;
    return p;
  }

  private finish(): void {
    if (this.outLen != 0) return;
    let p = this.out;
    store<u32>(p, <u32>this.count);
    p += 4;
    for (let i = 0; i < this.count * 2; i++) {
      store<u32>(p, unchecked(this.lengths[i]));
      p += 4;
    }
    memory.copy(p, this.data, <usize>this.dataLen);
    this.outLen = 4 + this.count * 8 + this.dataLen;
  }

  get ptr(): usize {
    this.finish();
    return this.out;
  }

  get len(): i32 {
    this.finish();
    return this.outLen;
  }

  get pairs(): i32 {
    return this.count;
  }
}

/**
 * Reads a serialised header map the host handed us. Validates the layout once
 * (lengths in bounds, NULs where they belong) and then answers lookups.
 */
export class HeaderMapReader {
  private base: usize = 0;
  private size: i32 = 0;
  private count: i32 = 0;
  valid: bool = false;
  // Result of the last find()
  valuePtr: usize = 0;
  valueLen: i32 = 0;

  /** Binds to serialised bytes; returns false (and behaves as empty) if malformed. */
  bind(ptr: usize, len: i32): bool {
    this.base = ptr;
    this.size = len;
    this.count = 0;
    this.valid = false;
    if (len < 4 || ptr == 0) return len == 0 || len == 1; // empty map forms
    const n = load<u32>(ptr);
    if (n > 1024 || <i64>4 + <i64>n * 8 > <i64>len) return false;
    let data: i64 = 4 + <i64>n * 8;
    for (let i: u32 = 0; i < n; i++) {
      const kl = <i64>load<u32>(ptr + 4 + <usize>i * 8);
      const vl = <i64>load<u32>(ptr + 8 + <usize>i * 8);
      if (data + kl + vl + 2 > <i64>len) return false;
      if (load<u8>(ptr + <usize>(data + kl)) != 0) return false;
      if (load<u8>(ptr + <usize>(data + kl + 1 + vl)) != 0) return false;
      data += kl + vl + 2;
    }
    this.count = <i32>n;
    this.valid = true;
    return true;
  }

  get pairs(): i32 {
    return this.count;
  }

  /** Finds a key (header names are lower case in HTTP/2 and in Envoy). */
  findAscii(key: string): bool {
    const kn = key.length;
    let data: usize = this.base + 4 + <usize>this.count * 8;
    for (let i = 0; i < this.count; i++) {
      const kl = <i32>load<u32>(this.base + 4 + <usize>i * 8);
      const vl = <i32>load<u32>(this.base + 8 + <usize>i * 8);
      if (kl == kn) {
        let same = true;
        for (let j = 0; j < kn; j++) {
          if (<u32>load<u8>(data + <usize>j) != <u32>load<u16>(changetype<usize>(key) + (<usize>(j) << 1))) {
            same = false;
            break;
          }
        }
        if (same) {
          this.valuePtr = data + <usize>kl + 1;
          this.valueLen = vl;
          return true;
        }
      }
      data += <usize>(kl + vl + 2);
    }
    this.valuePtr = 0;
    this.valueLen = 0;
    return false;
  }
}

function writeAscii(p: usize, s: string): void {
  for (let i = 0; i < s.length; i++) store<u8>(p + <usize>i, <u8>load<u16>(changetype<usize>(s) + (<usize>(i) << 1)));
}
