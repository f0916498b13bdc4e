import type { WasmMemory } from "./wasm-api.ts";

// Bounds-checked access to a VM's linear memory. Every read or write of a (pointer, length) coming
// from the module goes through here; out of bounds is reported as a result, never thrown, so the
// host call returns INVALID_MEMORY_ACCESS (or WASI FAULT) as cpp-host does.

export class VmMemory {
  private memory: WasmMemory | undefined;
  private buf: ArrayBuffer | undefined;
  private u8cache: Uint8Array = new Uint8Array(0);
  private dvcache: DataView = new DataView(new ArrayBuffer(0));

  attach(memory: WasmMemory): void {
    this.memory = memory;
    this.buf = undefined;
  }

  /** Current bytes (refreshed after memory.grow, which replaces the ArrayBuffer). */
  bytes(): Uint8Array {
    const b = this.memory?.buffer as ArrayBuffer | undefined;
    if (b !== this.buf) {
      this.buf = b;
      this.u8cache = b ? new Uint8Array(b) : new Uint8Array(0);
      this.dvcache = b ? new DataView(b) : new DataView(new ArrayBuffer(0));
    }
    return this.u8cache;
  }

  private view(): DataView {
    this.bytes();
    return this.dvcache;
  }

  get size(): number {
    return this.bytes().length;
  }

  /** True when [ptr, ptr+len) is inside memory (both taken as u32). */
  inBounds(ptr: number, len: number): boolean {
    return (ptr >>> 0) + (len >>> 0) <= this.bytes().length;
  }

  /** A view (not a copy) of [ptr, ptr+len), or undefined when out of bounds. */
  read(ptr: number, len: number): Uint8Array | undefined {
    const p = ptr >>> 0;
    const n = len >>> 0;
    const m = this.bytes();
    if (p + n > m.length) return undefined;
    return m.subarray(p, p + n);
  }

  /** A copy of [ptr, ptr+len), or undefined when out of bounds. */
  copy(ptr: number, len: number): Uint8Array | undefined {
    const v = this.read(ptr, len);
    return v === undefined ? undefined : v.slice();
  }

  write(ptr: number, data: Uint8Array): boolean {
    const p = ptr >>> 0;
    const m = this.bytes();
    if (p + data.length > m.length) return false;
    m.set(data, p);
    return true;
  }

  readU32(ptr: number): number | undefined {
    const p = ptr >>> 0;
    if (p + 4 > this.bytes().length) return undefined;
    return this.view().getUint32(p, true);
  }

  writeU32(ptr: number, value: number): boolean {
    const p = ptr >>> 0;
    if (p + 4 > this.bytes().length) return false;
    this.view().setUint32(p, value >>> 0, true);
    return true;
  }

  writeU64(ptr: number, value: bigint): boolean {
    const p = ptr >>> 0;
    if (p + 8 > this.bytes().length) return false;
    this.view().setBigUint64(p, BigInt.asUintN(64, value), true);
    return true;
  }
}
