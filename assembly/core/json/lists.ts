import { Str } from "../bytes/str";

/**
 * A fixed-capacity list of string views, preallocated once and refilled for
 * every document. `total` counts every element the input had; only the first
 * `capacity` are kept, so `total > count` means the input was truncated.
 */
export class StrList {
  readonly items: StaticArray<Str>;
  readonly capacity: i32;
  count: i32 = 0;
  total: i32 = 0;

  constructor(capacity: i32) {
    const cap = capacity < 0 ? 0 : capacity;
    const items = new StaticArray<Str>(cap);
    for (let i = 0; i < cap; i++) unchecked((items[i] = new Str()));
    this.items = items;
    this.capacity = cap;
  }

  /** Element i, or an empty view when i is out of [0, count) (never traps). */
  get(i: i32): Str {
    if (i < 0 || i >= this.count) return EMPTY_STR;
    return unchecked(this.items[i]);
  }

  @inline get truncated(): bool {
    return this.total > this.count;
  }

  /** The slot for the next element, or null when the list is full (the element is still counted). */
  next(): Str | null {
    this.total++;
    if (this.count >= this.capacity) return null;
    const s = unchecked(this.items[this.count]);
    this.count++;
    return s;
  }

  /** True when some element equals the ASCII literal. */
  containsAscii(lit: string): bool {
    for (let i = 0; i < this.count; i++) {
      if (unchecked(this.items[i]).equalsAscii(lit)) return true;
    }
    return false;
  }

  /** True when some element has the same bytes as `s`. */
  contains(s: Str): bool {
    for (let i = 0; i < this.count; i++) {
      if (unchecked(this.items[i]).equals(s)) return true;
    }
    return false;
  }

  /** True when some element equals `s` up to ASCII case. */
  containsIgnoreAsciiCase(s: Str): bool {
    for (let i = 0; i < this.count; i++) {
      if (unchecked(this.items[i]).equalsIgnoreAsciiCase(s)) return true;
    }
    return false;
  }

  reset(): void {
    for (let i = 0; i < this.count; i++) unchecked(this.items[i]).clear();
    this.count = 0;
    this.total = 0;
  }
}

/** A fixed-capacity list of integers, with the same truncation rule as StrList. */
export class IntList {
  readonly items: StaticArray<i32>;
  readonly capacity: i32;
  count: i32 = 0;
  total: i32 = 0;

  constructor(capacity: i32) {
    const cap = capacity < 0 ? 0 : capacity;
    this.items = new StaticArray<i32>(cap);
    this.capacity = cap;
  }

  /** Element i, or 0 when i is out of [0, count) (never traps). */
  get(i: i32): i32 {
    if (i < 0 || i >= this.count) return 0;
    return unchecked(this.items[i]);
  }

  @inline get truncated(): bool {
    return this.total > this.count;
  }

  /** Appends v if there is room; counts it either way. Returns false when it was dropped. */
  add(v: i32): bool {
    this.total++;
    if (this.count >= this.capacity) return false;
    unchecked((this.items[this.count] = v));
    this.count++;
    return true;
  }

  contains(v: i32): bool {
    for (let i = 0; i < this.count; i++) {
      if (unchecked(this.items[i]) == v) return true;
    }
    return false;
  }

  reset(): void {
    for (let i = 0; i < this.count; i++) unchecked((this.items[i] = 0));
    this.count = 0;
    this.total = 0;
  }
}

/** Returned for out-of-range reads; never written to by the lists. */
const EMPTY_STR = new Str();
