// proxy-wasm shared data (key -> value with CAS) over one SharedArrayBuffer, so that VMs running in
// several worker threads share it for real, as Envoy's worker VMs share the process-wide store.
//
// Semantics (cpp-host src/shared_data.cc): get of a missing key -> NOT_FOUND; set with cas 0 writes
// unconditionally; set with a non-zero cas on an existing key must match the key's current cas,
// else CAS_MISMATCH; set of a missing key inserts it whatever the cas. Every successful set gives
// the key a new cas from one store-wide counter that is never 0.
//
// SAB layout (byte offsets; all words are Int32 little-endian):
//   [0, 64)          header: magic, lock word, next cas, table capacity, table offset, arena offset,
//                    arena size, live keys, free-list head, used arena bytes, write version
//   [64, 64+32*cap)  key table: open addressing, linear probing; slot = 8 words:
//                    state (0 empty, 1 used), hash, key block, key length, value block, value
//                    length, cas, reserved. Blocks are arena-relative byte offsets.
//   [arena, end)     value/key arena: boundary-tag blocks, 8-byte aligned.
//                    block = [size|used, next-free] header (8 bytes), payload, footer (size|used);
//                    a free block also keeps prev-free at +8. Payload capacity = size - 12.
//                    Explicit doubly-linked free list, first fit, split, immediate coalescing.
//
// The table and the arena never grow. When a set would need more room than is left the store
// returns INTERNAL_FAILURE and leaves the old value in place (documented choice: the ABI has no
// "out of memory" status for proxy_set_shared_data; INTERNAL_FAILURE is "the host failed").
// Values are updated in place when the new value fits the old block (and does not waste more than
// half of a large block), so small hot keys are rewritten without any allocation.
//
// Locking: one mutex word driven by Atomics (compareExchange + wait/notify, Drepper's 3-state
// futex mutex). The critical sections are short host JS (no Wasm runs under the lock).

import { Status } from "./constants.ts";

const MAGIC = 0x50575344; // "PWSD"
const HEADER_BYTES = 64;
const H_MAGIC = 0;
const H_LOCK = 1;
const H_CAS = 2;
const H_CAP = 3;
const H_TABLE_OFF = 4;
const H_ARENA_OFF = 5;
const H_ARENA_SIZE = 6;
const H_COUNT = 7;
const H_FREE_HEAD = 8;
const H_USED = 9;
const H_VERSION = 10;
/** Set (never cleared) when a thread timed out waiting for the lock: its holder died in it. */
const H_WEDGED = 11;
/** Milliseconds a thread waits for the lock before it declares the store wedged. */
const H_LOCK_TIMEOUT = 12;

const SLOT_INTS = 8;
const S_STATE = 0;
const S_HASH = 1;
const S_KEY = 2;
const S_KEY_LEN = 3;
const S_VAL = 4;
const S_VAL_LEN = 5;
const S_CAS = 6;

const BLOCK_OVERHEAD = 12; // header 8 + footer 4
const MIN_BLOCK = 16;
const USED = 1;
const NIL = -1;

const LOCK_TIMEOUT_MS = 10_000;

export interface SharedDataOptions {
  /** Total size of the SharedArrayBuffer in bytes (default 32 MiB). */
  bytes?: number;
  /** Maximum number of keys (default 4096); the table has the next power of two >= 2 x maxKeys slots. */
  maxKeys?: number;
  /** How long a thread waits for the lock before the store is wedged (default 10 s; tests). */
  lockTimeoutMs?: number;
}

export interface SharedDataStats {
  keys: number;
  maxKeys: number;
  arenaBytes: number;
  usedBytes: number;
  freeBytes: number;
  freeBlocks: number;
  largestFreeBlock: number;
  version: number;
}

export interface SharedValue {
  value: Uint8Array;
  cas: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function fnv1a(bytes: Uint8Array, off: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = off; i < off + len; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

export class SharedDataStore {
  readonly buffer: SharedArrayBuffer;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly cap: number;
  private readonly tableOff: number; // in Int32 units
  private readonly arenaOff: number; // in bytes
  private readonly arenaSize: number;
  private inHook = false;
  /** readValueAt() copies a value here (reused: the hot keys are small), or into a one-off array when large. */
  private scratch = new Uint8Array(4096);
  /** The same bytes as words (values start 8-byte aligned in the arena: small ones are copied a word at a time). */
  private scratch32 = new Int32Array(this.scratch.buffer);
  /** scratch.subarray(0, n) by n, made once per length seen (a view per read would be garbage per request). */
  private scratchViews: Uint8Array[] = [];
  /** The value of the last readValueAt() that found its key: valueBytes[0, length) (a view of exactly that length when it fits the scratch). */
  valueBytes: Uint8Array = this.scratch;
  /** The CAS of the last readValueAt() that found its key. */
  valueCas = 0;
  /**
   * Test hook: runs in set() before the store is locked, in the thread (the store object) that
   * installed it, so a test can inject a competing write between a VM's get and its set. A set made
   * from inside the hook does not call the hook again.
   */
  onBeforeSet: ((key: string) => void) | undefined = undefined;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    if (Atomics.load(this.i32, H_MAGIC) !== MAGIC) throw new Error("SharedDataStore.attach: not a shared data buffer");
    this.cap = this.i32[H_CAP]!;
    this.tableOff = this.i32[H_TABLE_OFF]! >> 2;
    this.arenaOff = this.i32[H_ARENA_OFF]!;
    this.arenaSize = this.i32[H_ARENA_SIZE]!;
  }

  static create(options: SharedDataOptions = {}): SharedDataStore {
    const bytes = Math.floor(options.bytes ?? 32 * 1024 * 1024);
    const maxKeys = Math.max(1, Math.floor(options.maxKeys ?? 4096));
    let cap = 1;
    while (cap < maxKeys * 2) cap *= 2;
    const tableOff = HEADER_BYTES;
    const arenaOff = align8(tableOff + cap * SLOT_INTS * 4);
    const arenaSize = Math.floor((bytes - arenaOff) / 8) * 8;
    if (arenaSize < 1024) throw new RangeError(`SharedDataStore.create: ${bytes} bytes is too small for ${maxKeys} keys`);
    if (bytes > 0x7fff_fff8) throw new RangeError("SharedDataStore.create: at most 2 GiB");
    const sab = new SharedArrayBuffer(arenaOff + arenaSize);
    const i32 = new Int32Array(sab);
    i32[H_CAP] = cap;
    i32[H_TABLE_OFF] = tableOff;
    i32[H_ARENA_OFF] = arenaOff;
    i32[H_ARENA_SIZE] = arenaSize;
    i32[H_CAS] = 1;
    i32[H_COUNT] = 0;
    i32[H_USED] = 0;
    i32[H_VERSION] = 0;
    i32[H_LOCK_TIMEOUT] = Math.max(1, Math.floor(options.lockTimeoutMs ?? LOCK_TIMEOUT_MS));
    // One free block spanning the arena.
    const a = arenaOff >> 2;
    i32[a] = arenaSize;
    i32[a + 1] = NIL;
    i32[a + 2] = NIL;
    i32[(arenaOff + arenaSize - 4) >> 2] = arenaSize;
    i32[H_FREE_HEAD] = 0;
    Atomics.store(i32, H_MAGIC, MAGIC);
    return new SharedDataStore(sab);
  }

  static attach(buffer: SharedArrayBuffer): SharedDataStore {
    return new SharedDataStore(buffer);
  }

  // ---- public API ---------------------------------------------------------------------------

  get(key: string | Uint8Array): SharedValue | undefined {
    const k = typeof key === "string" ? encoder.encode(key) : key;
    const hash = fnv1a(k, 0, k.length);
    this.lock();
    try {
      const s = this.find(k, 0, k.length, hash);
      if (s < 0) return undefined;
      const i32 = this.i32;
      const voff = this.arenaOff + i32[s + S_VAL]! + 8;
      const len = i32[s + S_VAL_LEN]!;
      return { value: this.u8.slice(voff, voff + len), cas: i32[s + S_CAS]! >>> 0 };
    } finally {
      this.unlock();
    }
  }

  /**
   * get() of the key at src[keyOff, keyOff+keyLen) (e.g. a VM's memory) without a result object or
   * a fresh array: copies the value into `valueBytes` (valid until the next readValueAt of this
   * store object) and its CAS into `valueCas`; returns the value's length, or -1 when the key does
   * not exist.
   */
  readValueAt(src: Uint8Array, keyOff: number, keyLen: number): number {
    const hash = fnv1a(src, keyOff, keyLen);
    this.lock();
    try {
      const s = this.find(src, keyOff, keyLen, hash);
      if (s < 0) return -1;
      const i32 = this.i32;
      const voff = this.arenaOff + i32[s + S_VAL]! + 8;
      const len = i32[s + S_VAL_LEN]!;
      this.valueCas = i32[s + S_CAS]! >>> 0;
      if (len > this.scratch.length) {
        const dst = new Uint8Array(len);
        dst.set(this.u8.subarray(voff, voff + len));
        if (len <= 65536) {
          this.scratch = dst;
          this.scratch32 = new Int32Array(dst.buffer, 0, len >> 2);
          this.scratchViews = [];
        }
        this.valueBytes = dst;
        return len;
      }
      const dst = this.scratch;
      if (len <= 1024) {
        // Word by word: no view object for the source range (voff is 8-byte aligned).
        const w = voff >> 2;
        const words = len >> 2;
        const d32 = this.scratch32;
        for (let i = 0; i < words; i++) d32[i] = i32[w + i]!;
        const u8 = this.u8;
        for (let i = words << 2; i < len; i++) dst[i] = u8[voff + i]!;
      } else {
        dst.set(this.u8.subarray(voff, voff + len));
      }
      this.valueBytes = this.scratchViews[len] ??= dst.subarray(0, len);
      return len;
    } finally {
      this.unlock();
    }
  }

  getString(key: string | Uint8Array): string | undefined {
    const v = this.get(key);
    return v === undefined ? undefined : decoder.decode(v.value);
  }

  /** Sets `key` to `value`; `cas` 0 is unconditional. Returns OK, CAS_MISMATCH or INTERNAL_FAILURE (no room). */
  set(key: string | Uint8Array, value: Uint8Array | string, cas = 0): Status {
    const k = typeof key === "string" ? encoder.encode(key) : key;
    const v = typeof value === "string" ? encoder.encode(value) : value;
    return this.setAt(k, 0, k.length, v, 0, v.length, cas);
  }

  /**
   * set() of the key at ks[keyOff, keyOff+keyLen) to the value at vs[valOff, valOff+valLen) (e.g.
   * both in a VM's memory): both are copied into the store under its lock.
   */
  setAt(ks: Uint8Array, keyOff: number, keyLen: number, vs: Uint8Array, valOff: number, valLen: number, cas = 0): Status {
    if (this.onBeforeSet !== undefined && !this.inHook) {
      this.inHook = true;
      try {
        this.onBeforeSet(decoder.decode(ks.subarray(keyOff, keyOff + keyLen)));
      } finally {
        this.inHook = false;
      }
    }
    const hash = fnv1a(ks, keyOff, keyLen);
    cas = cas >>> 0;
    this.lock();
    try {
      const s = this.find(ks, keyOff, keyLen, hash);
      if (s >= 0) {
        if (cas !== 0 && cas !== this.i32[s + S_CAS]! >>> 0) return Status.CAS_MISMATCH;
        if (!this.replaceValue(s, vs, valOff, valLen)) return Status.INTERNAL_FAILURE;
        this.i32[s + S_CAS] = this.nextCas();
      } else {
        if (!this.insert(ks, keyOff, keyLen, hash, vs, valOff, valLen)) return Status.INTERNAL_FAILURE;
      }
      this.i32[H_VERSION] = (this.i32[H_VERSION]! + 1) | 0;
      return Status.OK;
    } finally {
      this.unlock();
    }
  }

  /** All keys (decoded as UTF-8). */
  keys(): string[] {
    const out: string[] = [];
    this.lock();
    try {
      for (let i = 0; i < this.cap; i++) {
        const s = this.tableOff + i * SLOT_INTS;
        if (this.i32[s + S_STATE] !== 1) continue;
        const off = this.arenaOff + this.i32[s + S_KEY]! + 8;
        out.push(decoder.decode(this.u8.slice(off, off + this.i32[s + S_KEY_LEN]!)));
      }
    } finally {
      this.unlock();
    }
    return out;
  }

  stats(): SharedDataStats {
    this.lock();
    try {
      let freeBlocks = 0;
      let freeBytes = 0;
      let largest = 0;
      let b = this.i32[H_FREE_HEAD]!;
      while (b !== NIL) {
        const size = this.blk(b, 0) & ~7;
        freeBlocks++;
        freeBytes += size;
        if (size > largest) largest = size;
        b = this.blk(b, 1);
      }
      return {
        keys: this.i32[H_COUNT]!,
        maxKeys: this.cap >> 1,
        arenaBytes: this.arenaSize,
        usedBytes: this.i32[H_USED]!,
        freeBytes,
        freeBlocks,
        largestFreeBlock: Math.max(0, largest - BLOCK_OVERHEAD),
        version: this.i32[H_VERSION]!,
      };
    } finally {
      this.unlock();
    }
  }

  /**
   * Keys, arena bytes in use and arena size, as in stats(), without its walk of the free list
   * under the lock (which the bid path waits on): three reads, for gauges read at every scrape.
   */
  fill(): { keys: number; usedBytes: number; arenaBytes: number } {
    return { keys: Atomics.load(this.i32, H_COUNT), usedBytes: Atomics.load(this.i32, H_USED), arenaBytes: this.arenaSize };
  }

  /**
   * A thread waited past the lock timeout: the store is locked for good (its holder died inside
   * a critical section). Read without the lock: the health check must answer while it is held.
   */
  wedged(): boolean {
    return Atomics.load(this.i32, H_WEDGED) !== 0;
  }

  /** Write counter, bumped by every successful set (cheap change detection for watchers). */
  version(): number {
    return Atomics.load(this.i32, H_VERSION);
  }

  // ---- lock ---------------------------------------------------------------------------------

  private lock(): void {
    const i32 = this.i32;
    let c = Atomics.compareExchange(i32, H_LOCK, 0, 1);
    if (c === 0) return;
    const deadline = Date.now() + (i32[H_LOCK_TIMEOUT] || LOCK_TIMEOUT_MS);
    do {
      if (c === 2 || Atomics.compareExchange(i32, H_LOCK, 1, 2) !== 0) {
        Atomics.wait(i32, H_LOCK, 2, 100);
        if (Date.now() > deadline) {
          // A thread terminated inside a critical section (worker.terminate(), out of memory)
          // leaves the lock taken for ever, and its write may be half done: nothing can recover
          // the store in this process. Marked for liveness (wedged()): the process must restart.
          Atomics.store(i32, H_WEDGED, 1);
          throw new Error("SharedDataStore: lock timeout (a thread died holding the lock?)");
        }
      }
    } while ((c = Atomics.compareExchange(i32, H_LOCK, 0, 2)) !== 0);
  }

  private unlock(): void {
    if (Atomics.sub(this.i32, H_LOCK, 1) !== 1) {
      Atomics.store(this.i32, H_LOCK, 0);
      Atomics.notify(this.i32, H_LOCK, 1);
    }
  }

  // ---- table --------------------------------------------------------------------------------

  private nextCas(): number {
    let c = this.i32[H_CAS]! >>> 0;
    if (c === 0) c = 1;
    const next = (c + 1) >>> 0;
    this.i32[H_CAS] = (next === 0 ? 1 : next) | 0;
    return c | 0;
  }

  /** Slot index (Int32 units) of the key, or -1. */
  private find(k: Uint8Array, off: number, len: number, hash: number): number {
    const mask = this.cap - 1;
    const i32 = this.i32;
    for (let n = 0, i = hash & mask; n < this.cap; n++, i = (i + 1) & mask) {
      const s = this.tableOff + i * SLOT_INTS;
      const state = i32[s + S_STATE];
      if (state === 0) return -1;
      if (i32[s + S_HASH] === hash && i32[s + S_KEY_LEN] === len && this.keyEquals(i32[s + S_KEY]!, k, off, len)) return s;
    }
    return -1;
  }

  private keyEquals(block: number, k: Uint8Array, off: number, len: number): boolean {
    const at = this.arenaOff + block + 8;
    const u8 = this.u8;
    for (let i = 0; i < len; i++) if (u8[at + i] !== k[off + i]) return false;
    return true;
  }

  /** Copies src[off, off+len) into the arena at byte `at` (a loop for small ranges: no view object). */
  private copyIn(src: Uint8Array, off: number, len: number, at: number): void {
    if (len <= 64) {
      const u8 = this.u8;
      for (let i = 0; i < len; i++) u8[at + i] = src[off + i]!;
    } else {
      this.u8.set(src.subarray(off, off + len), at);
    }
  }

  private insert(k: Uint8Array, koff: number, klen: number, hash: number, v: Uint8Array, voff: number, vlen: number): boolean {
    if (this.i32[H_COUNT]! >= this.cap >> 1) return false;
    const kb = this.alloc(klen);
    if (kb === NIL) return false;
    const vb = this.alloc(vlen);
    if (vb === NIL) {
      this.free(kb);
      return false;
    }
    this.copyIn(k, koff, klen, this.arenaOff + kb + 8);
    this.copyIn(v, voff, vlen, this.arenaOff + vb + 8);
    const mask = this.cap - 1;
    let i = hash & mask;
    while (this.i32[this.tableOff + i * SLOT_INTS + S_STATE] !== 0) i = (i + 1) & mask;
    const s = this.tableOff + i * SLOT_INTS;
    const i32 = this.i32;
    i32[s + S_HASH] = hash;
    i32[s + S_KEY] = kb;
    i32[s + S_KEY_LEN] = klen;
    i32[s + S_VAL] = vb;
    i32[s + S_VAL_LEN] = vlen;
    i32[s + S_CAS] = this.nextCas();
    i32[s + S_STATE] = 1;
    i32[H_COUNT] = i32[H_COUNT]! + 1;
    return true;
  }

  private replaceValue(s: number, v: Uint8Array, voff: number, vlen: number): boolean {
    const i32 = this.i32;
    const old = i32[s + S_VAL]!;
    const capacity = (this.blk(old, 0) & ~7) - BLOCK_OVERHEAD;
    if (vlen <= capacity && (capacity <= 256 || vlen >= capacity >> 1)) {
      this.copyIn(v, voff, vlen, this.arenaOff + old + 8);
      i32[s + S_VAL_LEN] = vlen;
      return true;
    }
    let nb = this.alloc(vlen);
    if (nb === NIL) {
      // Not enough room next to the old value: free it first, keeping a copy to restore on failure.
      const oldLen = i32[s + S_VAL_LEN]!;
      const saved = this.u8.slice(this.arenaOff + old + 8, this.arenaOff + old + 8 + oldLen);
      this.free(old);
      nb = this.alloc(vlen);
      if (nb === NIL) {
        const back = this.alloc(oldLen);
        // Cannot fail: the block just freed (possibly coalesced) is at least that large.
        this.u8.set(saved, this.arenaOff + back + 8);
        i32[s + S_VAL] = back;
        return false;
      }
    } else {
      this.free(old);
    }
    this.copyIn(v, voff, vlen, this.arenaOff + nb + 8);
    i32[s + S_VAL] = nb;
    i32[s + S_VAL_LEN] = vlen;
    return true;
  }

  // ---- arena allocator ----------------------------------------------------------------------

  /** Word `w` of the block header at arena-relative byte offset `b`. */
  private blk(b: number, w: number): number {
    return this.i32[((this.arenaOff + b) >> 2) + w]!;
  }

  private setBlk(b: number, w: number, value: number): void {
    this.i32[((this.arenaOff + b) >> 2) + w] = value;
  }

  private setFooter(b: number, sizeFlags: number): void {
    this.i32[(this.arenaOff + b + (sizeFlags & ~7) - 4) >> 2] = sizeFlags;
  }

  private unlinkFree(b: number): void {
    const next = this.blk(b, 1);
    const prev = this.blk(b, 2);
    if (prev === NIL) this.i32[H_FREE_HEAD] = next;
    else this.setBlk(prev, 1, next);
    if (next !== NIL) this.setBlk(next, 2, prev);
  }

  private pushFree(b: number, size: number): void {
    this.setBlk(b, 0, size);
    this.setFooter(b, size);
    const head = this.i32[H_FREE_HEAD]!;
    this.setBlk(b, 1, head);
    this.setBlk(b, 2, NIL);
    if (head !== NIL) this.setBlk(head, 2, b);
    this.i32[H_FREE_HEAD] = b;
  }

  /** Allocates a block with `len` payload bytes; returns its arena-relative offset or NIL. */
  private alloc(len: number): number {
    const need = Math.max(MIN_BLOCK, align8(len + BLOCK_OVERHEAD));
    let b = this.i32[H_FREE_HEAD]!;
    while (b !== NIL) {
      const size = this.blk(b, 0) & ~7;
      if (size >= need) {
        this.unlinkFree(b);
        const rest = size - need;
        let taken = size;
        if (rest >= MIN_BLOCK) {
          taken = need;
          this.pushFree(b + need, rest);
        }
        this.setBlk(b, 0, taken | USED);
        this.setBlk(b, 1, 0);
        this.setFooter(b, taken | USED);
        this.i32[H_USED] = this.i32[H_USED]! + taken;
        return b;
      }
      b = this.blk(b, 1);
    }
    return NIL;
  }

  private free(b: number): void {
    let size = this.blk(b, 0) & ~7;
    this.i32[H_USED] = this.i32[H_USED]! - size;
    // Coalesce with the following block.
    const next = b + size;
    if (next < this.arenaSize) {
      const nf = this.blk(next, 0);
      if ((nf & USED) === 0) {
        this.unlinkFree(next);
        size += nf & ~7;
      }
    }
    // Coalesce with the preceding block (its footer is just before us).
    if (b > 0) {
      const pf = this.i32[(this.arenaOff + b - 4) >> 2]!;
      if ((pf & USED) === 0) {
        const psize = pf & ~7;
        const prev = b - psize;
        this.unlinkFree(prev);
        b = prev;
        size += psize;
      }
    }
    this.pushFree(b, size);
  }
}
