import { Buffer } from "node:buffer";
import type { WasmMemory } from "./wasm-api.ts";

// Bounds-checked access to a VM's linear memory. Every read or write of a (pointer, length) coming
// from the module goes through here; out of bounds is reported as a result, never thrown, so the
// host call returns INVALID_MEMORY_ACCESS (or WASI FAULT) as cpp-host does.
//
// The views (Uint8Array, DataView, Buffer) are cached: host calls run on every request, and
// WebAssembly.Memory#buffer is a getter that allocates nothing but is not free either. memory.grow
// detaches the old ArrayBuffer, which leaves the cached views with length 0: that (cheap) check is
// what triggers a refresh.

const EMPTY_BUFFER = new ArrayBuffer(0);
const EMPTY = new Uint8Array(0);

// Copies out of a VM (local reply bodies, callout bodies...) are carved out of shared 64 KiB slabs:
// a fresh ArrayBuffer per copy costs a native allocation, several times the copy itself for a
// typical 1-2 KiB reply. A copy keeps its slab alive like any view (as Buffer's own pool does);
// copies larger than SLAB_MAX get their own buffer. ownedBuffers() (worker-protocol.ts) never
// transfers a view that does not span its whole buffer, so a slab is never detached.
const SLAB_BYTES = 64 * 1024;
const SLAB_MAX = 8 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

function copyOf(src: Uint8Array): Uint8Array {
  const n = src.length;
  if (n === 0) return EMPTY;
  if (n > SLAB_MAX) return src.slice();
  if (slabUsed + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, n);
  slabUsed = (slabUsed + n + 7) & ~7;
  out.set(src);
  return out;
}

export class VmMemory {
  private memory: WasmMemory | undefined;
  private u8cache: Uint8Array = new Uint8Array(0);
  private dvcache: DataView = new DataView(EMPTY_BUFFER);
  private bufcache: Buffer = Buffer.alloc(0);
  /**
   * A shared memory's buffer is not detached by memory.grow (the old SharedArrayBuffer keeps its
   * old length): its views are checked against memory.buffer on every access instead.
   */
  private shared = false;

  attach(memory: WasmMemory): void {
    this.memory = memory;
    this.shared = typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
    this.refresh();
  }

  private refresh(): Uint8Array {
    const b = this.memory?.buffer as ArrayBuffer | undefined;
    if (b === undefined) return this.u8cache;
    if (b !== this.u8cache.buffer) {
      this.u8cache = new Uint8Array(b);
      this.dvcache = new DataView(b);
      this.bufcache = Buffer.from(b);
    }
    return this.u8cache;
  }

  /** Current bytes (refreshed after memory.grow, which detaches the old ArrayBuffer: length 0). */
  bytes(): Uint8Array {
    const u = this.u8cache;
    return u.length === 0 || this.shared ? this.refresh() : u;
  }

  /** The same bytes as a Buffer (latin1/UTF-8 conversions without intermediate copies). */
  buffer(): Buffer {
    if (this.u8cache.length === 0 || this.shared) this.refresh();
    return this.bufcache;
  }

  private view(): DataView {
    if (this.u8cache.length === 0 || this.shared) this.refresh();
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

  /** A copy of [ptr, ptr+len), or undefined when out of bounds (an empty range gives a shared empty array). */
  copy(ptr: number, len: number): Uint8Array | undefined {
    const v = this.read(ptr, len);
    return v === undefined ? undefined : copyOf(v);
  }

  /** [ptr, ptr+len) as a latin1 string (one char per byte), or undefined when out of bounds. */
  latin1(ptr: number, len: number): string | undefined {
    const p = ptr >>> 0;
    const n = len >>> 0;
    const b = this.buffer();
    if (p + n > b.length) return undefined;
    return n === 0 ? "" : b.toString("latin1", p, p + n);
  }

  /** [ptr, ptr+len) decoded as UTF-8 (invalid sequences become U+FFFD), or undefined when out of bounds. */
  utf8(ptr: number, len: number): string | undefined {
    const p = ptr >>> 0;
    const n = len >>> 0;
    const b = this.buffer();
    if (p + n > b.length) return undefined;
    return n === 0 ? "" : b.toString("utf8", p, p + n);
  }

  write(ptr: number, data: Uint8Array): boolean {
    const p = ptr >>> 0;
    const m = this.bytes();
    if (p + data.length > m.length) return false;
    m.set(data, p);
    return true;
  }

  /** Writes a latin1 string (one byte per char, the low 8 bits) at ptr; false when out of bounds. */
  writeLatin1(ptr: number, s: string): boolean {
    const p = ptr >>> 0;
    const b = this.buffer();
    if (p + s.length > b.length) return false;
    if (s.length > 0) b.write(s, p, s.length, "latin1");
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

  /** Writes a u64 given as its two u32 halves (no BigInt on the hot path). */
  writeU64Parts(ptr: number, lo: number, hi: number): boolean {
    const p = ptr >>> 0;
    if (p + 8 > this.bytes().length) return false;
    const v = this.view();
    v.setUint32(p, lo >>> 0, true);
    v.setUint32(p + 4, hi >>> 0, true);
    return true;
  }
}
