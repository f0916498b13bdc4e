// A few decoded values kept with the VM-memory bytes they were decoded from. A filter sends the
// same few local replies over and over (content type, a no-bid reason...): a byte-equal one is
// found here instead of decoded again. Most recently used first: the next reply most likely
// repeats the last one.

export class RecentBytes<T> {
  private readonly entries: Array<{ bytes: Uint8Array; value: T }> = [];

  /** `maxEntries` kept at most, each of at most `maxBytes` bytes. */
  constructor(
    private readonly maxEntries: number,
    readonly maxBytes: number,
  ) {}

  /** The value kept for the bytes m[p, p+n), or undefined. A hit becomes the most recent. */
  find(m: Uint8Array, p: number, n: number): T | undefined {
    const entries = this.entries;
    for (let j = 0; j < entries.length; j++) {
      const e = entries[j]!;
      const b = e.bytes;
      if (b.length !== n) continue;
      let i = 0;
      while (i < n && m[p + i] === b[i]) i++;
      if (i < n) continue;
      for (let k = j; k > 0; k--) entries[k] = entries[k - 1]!;
      entries[0] = e;
      return e.value;
    }
    return undefined;
  }

  /** Keeps `value` with a copy of m[p, p+n), as the most recent; the oldest goes when full. Longer than maxBytes: not kept. */
  keep(m: Uint8Array, p: number, n: number, value: T): void {
    if (n > this.maxBytes) return;
    this.entries.unshift({ bytes: m.slice(p, p + n), value });
    if (this.entries.length > this.maxEntries) this.entries.pop();
  }
}
