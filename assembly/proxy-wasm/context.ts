// Context objects and the table that maps the host's context ids to them.
// A plugin provides a RootContext factory; the root creates HTTP contexts
// (typically from a pool, so that a new stream costs no allocation).
import { Action } from "./types";

export class RootContext {
  constructor(public readonly contextId: u32) {}

  onVmStart(vmConfigurationSize: usize): bool {
    return true;
  }
  onConfigure(pluginConfigurationSize: usize): bool {
    return true;
  }
  onTick(): void {}
  onHttpCallResponse(token: u32, numHeaders: u32, bodySize: usize, numTrailers: u32): void {}
  onDone(): bool {
    return true;
  }
  onLog(): void {}
  onDelete(): void {}

  /** Returns the context for a new HTTP stream, or null to ignore the stream. */
  newHttpContext(contextId: u32): HttpContext | null {
    return null;
  }
  /** Called after the stream's proxy_on_delete: the root may recycle the object. */
  releaseHttpContext(context: HttpContext): void {}
}

export class HttpContext {
  contextId: u32 = 0;
  root: RootContext | null = null;

  onRequestHeaders(numHeaders: u32, endOfStream: bool): u32 {
    return Action.CONTINUE;
  }
  onRequestBody(bodySize: usize, endOfStream: bool): u32 {
    return Action.CONTINUE;
  }
  onRequestTrailers(numTrailers: u32): u32 {
    return Action.CONTINUE;
  }
  onResponseHeaders(numHeaders: u32, endOfStream: bool): u32 {
    return Action.CONTINUE;
  }
  onResponseBody(bodySize: usize, endOfStream: bool): u32 {
    return Action.CONTINUE;
  }
  onResponseTrailers(numTrailers: u32): u32 {
    return Action.CONTINUE;
  }
  onDone(): bool {
    return true;
  }
  onLog(): void {}
  onDelete(): void {}
}

/**
 * Open-addressing table from context id to HttpContext with backward-shift
 * deletion (no tombstones), sized once; it doubles only if a VM ever holds more
 * streams at once than its capacity.
 */
export class HttpContextTable {
  private keys: StaticArray<u32>;
  private values: StaticArray<HttpContext | null>;
  private mask: u32;
  private size: i32 = 0;

  constructor(capacityPow2: i32 = 1024) {
    this.keys = new StaticArray<u32>(capacityPow2);
    this.values = new StaticArray<HttpContext | null>(capacityPow2);
    this.mask = <u32>capacityPow2 - 1;
  }

  @inline private slot(id: u32): u32 {
    return (id * 0x9e3779b1) & this.mask;
  }

  get(id: u32): HttpContext | null {
    let i = this.slot(id);
    while (true) {
      const k = unchecked(this.keys[i]);
      if (k == 0) return null;
      if (k == id) return unchecked(this.values[i]);
      i = (i + 1) & this.mask;
    }
  }

  set(id: u32, ctx: HttpContext): void {
    if (<u32>(this.size + 1) * 2 > this.mask + 1) this.grow();
    let i = this.slot(id);
    while (true) {
      const k = unchecked(this.keys[i]);
      if (k == 0 || k == id) {
        if (k == 0) this.size++;
        unchecked((this.keys[i] = id));
        unchecked((this.values[i] = ctx));
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  remove(id: u32): HttpContext | null {
    let i = this.slot(id);
    while (true) {
      const k = unchecked(this.keys[i]);
      if (k == 0) return null;
      if (k == id) break;
      i = (i + 1) & this.mask;
    }
    const removed = unchecked(this.values[i]);
    // Backward-shift the following cluster so lookups never need tombstones.
    let hole = i;
    let j = (i + 1) & this.mask;
    while (true) {
      const k = unchecked(this.keys[j]);
      if (k == 0) break;
      const home = this.slot(k);
      // Move k into the hole if its home is not cyclically in (hole, j].
      const dist = (j - home) & this.mask;
      const holeDist = (j - hole) & this.mask;
      if (dist >= holeDist) {
        unchecked((this.keys[hole] = k));
        unchecked((this.values[hole] = unchecked(this.values[j])));
        hole = j;
      }
      j = (j + 1) & this.mask;
    }
    unchecked((this.keys[hole] = 0));
    unchecked((this.values[hole] = null));
    this.size--;
    return removed;
  }

  get count(): i32 {
    return this.size;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const cap = (this.mask + 1) * 2;
    this.keys = new StaticArray<u32>(<i32>cap);
    this.values = new StaticArray<HttpContext | null>(<i32>cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = unchecked(oldKeys[i]);
      if (k != 0) this.set(k, changetype<HttpContext>(unchecked(oldValues[i])));
    }
  }
}
