// The VM's live contexts by id, without allocating per stream.
//
// A Map or Set of contexts allocates on almost every stream: a stream is added and deleted again,
// so V8's ordered hash tables fill with deleted entries and rehash into a new table every few
// streams (and a Set that empties shrinks into a new table every time). Profiled in the filter
// bench, that was ~3% of the host's time plus the garbage. Here a context sits in the slot its id
// selects (id & mask) of a plain array; the VM's allocContextId skips ids whose slot is taken
// (context ids only have to be unique and non-zero), so a new context never collides. A set()
// that would collide anyway (an id not from allocContextId) goes to a small overflow map.

import { StreamContext, type AnyContext } from "./stream.ts";

const INITIAL_SLOTS = 64;

export class ContextTable {
  private slots: Array<AnyContext | undefined> = new Array<AnyContext | undefined>(INITIAL_SLOTS).fill(undefined);
  private mask = INITIAL_SLOTS - 1;
  private live = 0;
  /** Contexts whose slot was taken by another id (not expected: allocContextId avoids it). */
  private readonly overflow = new Map<number, AnyContext>();

  get size(): number {
    return this.live + this.overflow.size;
  }

  get(id: number): AnyContext | undefined {
    const c = this.slots[id & this.mask];
    if (c !== undefined && c.id === id) return c;
    return this.overflow.size === 0 ? undefined : this.overflow.get(id);
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Whether `id` is free to hand out: its slot is empty and no overflow context has it (allocContextId's test). */
  canTake(id: number): boolean {
    return this.slots[id & this.mask] === undefined && (this.overflow.size === 0 || !this.overflow.has(id));
  }

  set(ctx: AnyContext): void {
    const at = ctx.id & this.mask;
    const old = this.slots[at];
    if (old !== undefined && old.id !== ctx.id) {
      this.overflow.set(ctx.id, ctx);
      return;
    }
    if (old === undefined) this.live++;
    this.slots[at] = ctx;
    // Keep at least half the slots free, so that allocContextId finds a free one within a few ids.
    if (this.live * 2 > this.slots.length) this.grow();
  }

  delete(id: number): boolean {
    const at = id & this.mask;
    const c = this.slots[at];
    if (c === undefined || c.id !== id) return this.overflow.delete(id);
    this.slots[at] = undefined;
    this.live--;
    return true;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.live = 0;
    this.overflow.clear();
  }

  /** Ids in ascending order. */
  keys(): number[] {
    const ids: number[] = [];
    for (const c of this.slots) if (c !== undefined) ids.push(c.id);
    for (const id of this.overflow.keys()) ids.push(id);
    return ids.sort((a, b) => a - b);
  }

  /** Streams that have not finished (cold paths: close, discard, a VM failure). */
  activeStreams(): StreamContext[] {
    const out: StreamContext[] = [];
    for (const c of [...this.slots, ...this.overflow.values()]) if (c instanceof StreamContext && !c.finished) out.push(c);
    return out.sort((a, b) => a.id - b.id);
  }

  /**
   * Doubles the slots. Ids that differ under a mask still differ under a wider one, so nothing
   * collides after growing; overflow contexts move into slots when theirs are free.
   */
  private grow(): void {
    const old = this.slots;
    const size = old.length * 2;
    this.slots = new Array<AnyContext | undefined>(size).fill(undefined);
    this.mask = size - 1;
    for (const c of old) if (c !== undefined) this.slots[c.id & this.mask] = c;
    for (const [id, c] of this.overflow) {
      if (this.slots[id & this.mask] !== undefined) continue;
      this.slots[id & this.mask] = c;
      this.overflow.delete(id);
      this.live++;
    }
  }
}
