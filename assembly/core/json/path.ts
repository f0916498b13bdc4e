import { MessageBuffer } from "./message";

/** Up to this many segments are kept; deeper pushes are counted but not shown. */
export const MAX_PATH_SEGMENTS: i32 = 32;

/**
 * The JSON path of the field being read, e.g. `imp[2].banner.format[0].w`,
 * kept as a stack the parser pushes and pops while it descends. Names are the
 * parser's own field-name literals (never input bytes), so a path is always
 * safe to put in an error reply.
 */
export class JsonPath {
  /**
   * Addresses of the name literals: plain integers, so a push is a store and
   * not a garbage-collector write barrier (literals are static, never moved).
   */
  private names: StaticArray<usize> = new StaticArray<usize>(MAX_PATH_SEGMENTS);
  /** -1 for a name segment, else an array index. */
  private indexes: StaticArray<i32> = new StaticArray<i32>(MAX_PATH_SEGMENTS);
  depth: i32 = 0;

  @inline clear(): void {
    this.depth = 0;
  }

  /** `name` must be a string literal (static, never collected). */
  pushField(name: string): void {
    const d = this.depth;
    if (d < MAX_PATH_SEGMENTS) {
      unchecked((this.names[d] = changetype<usize>(name)));
      unchecked((this.indexes[d] = -1));
    }
    this.depth = d + 1;
  }

  pushIndex(index: i32): void {
    const d = this.depth;
    if (d < MAX_PATH_SEGMENTS) unchecked((this.indexes[d] = index < 0 ? 0 : index));
    this.depth = d + 1;
  }

  @inline pop(): void {
    if (this.depth > 0) this.depth--;
  }

  /** Writes the path; the document root (empty path) is written as `$`. */
  writeTo(m: MessageBuffer): void {
    const n = this.depth < MAX_PATH_SEGMENTS ? this.depth : MAX_PATH_SEGMENTS;
    if (n == 0) {
      m.appendByte(0x24); // '$'
      return;
    }
    for (let i = 0; i < n; i++) {
      const index = unchecked(this.indexes[i]);
      if (index < 0) {
        if (i > 0) m.appendByte(0x2e); // '.'
        const name = unchecked(this.names[i]);
        if (name != 0) m.appendAscii(changetype<string>(name));
      } else {
        m.appendByte(0x5b); // '['
        m.appendUint(<u64>index);
        m.appendByte(0x5d); // ']'
      }
    }
  }
}
