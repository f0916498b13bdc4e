// Ledger updates that must not be lost: a notice (or an expiry) has already moved its
// reservation record, so the matching ledger change (charge, late charge, refund) is owed
// exactly once. When its CAS loop gives up (a storm of competing writers, or a full store),
// the change waits here and is applied on a later tick; meanwhile this VM's bids count the queued
// late charges as spent (SharedLedger.queuedLateCharges: a queued settle or refund still has its
// reservation in the ledger, a late charge has nothing there). Fixed memory, no allocation: up to
// CAPACITY changes per VM; beyond that one is lost, counted and logged (SECURITY.md G10).
// A VM that is destroyed with changes waiting loses them (as before): the counters say how many.
const CAPACITY: i32 = 256;
/** Key length (u8), op (u8), 6 spare bytes, amount (i64), price (i64), key bytes. */
const KEY_MAX: i32 = 128;
const ENTRY: i32 = 24 + KEY_MAX;

export class DeferredLedgerUpdates {
  private readonly base: usize = heap.alloc(<usize>(CAPACITY * ENTRY));
  count: i32 = 0;

  /** Queues (key, op, amount, price); false when the queue is full or the key too long. */
  push(keyPtr: usize, keyLen: i32, op: i32, amount: i64, price: i64): bool {
    if (this.count >= CAPACITY || keyLen > KEY_MAX) return false;
    const e = this.base + <usize>(this.count * ENTRY);
    store<u8>(e, <u8>keyLen);
    store<u8>(e, <u8>op, 1);
    store<i64>(e, amount, 8);
    store<i64>(e, price, 16);
    memory.copy(e + 24, keyPtr, <usize>keyLen);
    this.count++;
    return true;
  }

  @inline keyPtr(i: i32): usize {
    return this.base + <usize>(i * ENTRY) + 24;
  }
  @inline keyLen(i: i32): i32 {
    return <i32>load<u8>(this.base + <usize>(i * ENTRY));
  }
  @inline op(i: i32): i32 {
    return <i32>load<u8>(this.base + <usize>(i * ENTRY), 1);
  }
  @inline amount(i: i32): i64 {
    return load<i64>(this.base + <usize>(i * ENTRY), 8);
  }
  @inline price(i: i32): i64 {
    return load<i64>(this.base + <usize>(i * ENTRY), 16);
  }

  /** The sum of the prices of the queued `op` changes to the ledger at this key (at most CAPACITY compared). */
  sumPrices(keyPtr: usize, keyLen: i32, op: i32): i64 {
    let sum: i64 = 0;
    for (let i = 0; i < this.count; i++) {
      if (this.op(i) != op || this.keyLen(i) != keyLen) continue;
      if (memory.compare(this.keyPtr(i), keyPtr, <usize>keyLen) == 0) sum += this.price(i);
    }
    return sum;
  }

  /** Removes entry i (the last one takes its place: order does not matter, each change commutes). */
  remove(i: i32): void {
    const last = this.count - 1;
    if (i != last) memory.copy(this.base + <usize>(i * ENTRY), this.base + <usize>(last * ENTRY), <usize>ENTRY);
    this.count = last;
  }
}
