// Frequency counts across pods. Each Envoy process counts the wins it charges in its own shared
// data (frequency-table.ts); a user whose requests reach several pods would otherwise see a
// capped campaign up to N times on each. So every counted win also travels to the other pods,
// through the leader's sync with the host (docs/SYNC_PROTOCOL.md, "Frequency counts"):
//
//   VM counts a win      -> this VM's local list (no host call on the notice path)
//   every VM's tick      -> the local list appended to the shared outbox (one CAS on one key)
//   leader's sync        -> up to REPORT_ENTRIES taken from the outbox (CAS) and sent as
//                           "frequency_counts"; they stay "in flight" until an answer accepts them
//                           (an answer with "frequency_accepted": false, or no answer, sends them
//                           again with the next report)
//   leader's sync answer -> the other pods' counts, each added to this pod's buckets with the
//                           window it opened on its pod (SharedFrequencyTable.countFleet)
//   lead lost            -> the in-flight counts go back to the outbox for the next leader
//
// Bounded everywhere: a full local list or outbox drops the count (nexus_frequency_fleet_dropped_total);
// the pod that charged the win has still counted it, so a dropped count only lets other pods show
// the campaign again (a cap fails open, never closed). The counts reach the other pods one or two
// sync periods later: until then they can each show the campaign once more.
import { Status } from "../proxy-wasm";
import { ByteWriter } from "../core/bytes/writer";
import { KEY_FREQUENCY_CURSOR, KEY_FREQUENCY_OUTBOX } from "./keys";
import { readShared, writeShared, shared } from "./shared";
import { metrics } from "./metrics";
import { SharedFrequencyTable } from "./frequency-table";
import { MAX_CURSOR_BYTES, isStreamId } from "./stream-id";

/** One count: key u64, when it was counted (wall-clock ms) i64, its window in seconds u32, 4 bytes zero. */
const ENTRY_BYTES: i32 = 24;
const OUTBOX_HEADER: i32 = 8;
const OUTBOX_MAGIC: u32 = 0x424f5146; // "FQOB"
/** Counts the shared outbox holds (48 KiB): two sync periods of a busy pod. */
export const OUTBOX_ENTRIES: i32 = 2048;
/** Counts one VM keeps between two of its ticks. */
export const LOCAL_ENTRIES: i32 = 1024;
/** Counts in one sync report. */
export const REPORT_ENTRIES: i32 = 1024;
/** Other pods' counts a VM holds until it has applied them (two full sync answers). */
export const INCOMING_ENTRIES: i32 = 4096;
/**
 * Other pods' counts applied in one callback at most (the sync answer's, then each tick's): each is
 * a CAS on a shared-data bucket, and 2,048 at once held a standalone VM for ~5 ms.
 */
export const APPLY_PER_CALLBACK: i32 = 512;

/** A bounded list of counts in one buffer (allocated once). */
export class CountList {
  readonly buf: usize;
  count: i32 = 0;

  constructor(readonly capacity: i32) {
    this.buf = heap.alloc(<usize>(capacity * ENTRY_BYTES));
  }

  push(key: u64, atMs: i64, windowS: u32): bool {
    if (this.count >= this.capacity) return false;
    const e = this.buf + <usize>(this.count * ENTRY_BYTES);
    store<u64>(e, key);
    store<i64>(e, atMs, 8);
    store<u32>(e, windowS, 16);
    store<u32>(e, 0, 20);
    this.count++;
    return true;
  }

  /** Appends n entries in the outbox's layout from `ptr`; those that do not fit are left out. Returns how many it took. */
  pushRaw(ptr: usize, n: i32): i32 {
    const m = min(n, this.capacity - this.count);
    memory.copy(this.buf + <usize>(this.count * ENTRY_BYTES), ptr, <usize>(m * ENTRY_BYTES));
    this.count += m;
    return m;
  }

  keyAt(i: i32): u64 {
    return load<u64>(this.buf + <usize>(i * ENTRY_BYTES));
  }

  atMsAt(i: i32): i64 {
    return load<i64>(this.buf + <usize>(i * ENTRY_BYTES), 8);
  }

  windowSAt(i: i32): u32 {
    return load<u32>(this.buf + <usize>(i * ENTRY_BYTES), 16);
  }

  clear(): void {
    this.count = 0;
  }
}

export class FleetCounts {
  /** This VM's counted wins since its last tick. */
  private readonly local: CountList = new CountList(LOCAL_ENTRIES);
  /** The leader's counts sent to the host and not yet accepted. */
  readonly inflight: CountList = new CountList(REPORT_ENTRIES);
  /** The other pods' counts received and not applied yet: [incomingNext, incoming.count). */
  private readonly incoming: CountList = new CountList(INCOMING_ENTRIES);
  private incomingNext: i32 = 0;
  /** The outbox worked on in place: header, then up to OUTBOX_ENTRIES entries. */
  private readonly box: usize = heap.alloc(<usize>(OUTBOX_HEADER + OUTBOX_ENTRIES * ENTRY_BYTES));
  retries: i32 = 32;

  /**
   * Creates the empty outbox (on_configure, before the VM serves anything): every later change is
   * a CAS on the existing key, so two VMs appending at once cannot overwrite each other.
   */
  configure(retries: i32): void {
    this.retries = retries;
    if (readShared(KEY_FREQUENCY_OUTBOX) == Status.OK) return;
    store<u32>(this.box, OUTBOX_MAGIC);
    store<u32>(this.box, 0, 4);
    writeShared(KEY_FREQUENCY_OUTBOX, this.box, OUTBOX_HEADER, 0);
  }

  /** A win this VM counted: sent to the other pods with a later sync. */
  note(key: u64, atMs: i64, windowMs: i64): void {
    if (!this.local.push(key, atMs, <u32>(windowMs / 1000))) metrics.inc(metrics.frequencyFleetDropped);
  }

  /** Every VM's tick: this VM's counts into the shared outbox (kept for the next tick if the CAS loop gives up). */
  flush(): void {
    if (this.local.count == 0) return;
    if (this.append(this.local)) this.local.clear();
  }

  /** Leadership lost: the counts in flight go back to the outbox, for whichever VM leads next. */
  giveBack(): void {
    if (this.inflight.count == 0) return;
    this.append(this.inflight);
    this.inflight.clear(); // what the outbox could not take was counted as dropped
  }

  /** The leader, before a report: fills the in-flight list from the outbox (what does not fit stays there). */
  take(): void {
    const room = this.inflight.capacity - this.inflight.count;
    if (room <= 0) return;
    for (let attempt = 0; attempt < this.retries; attempt++) {
      if (readShared(KEY_FREQUENCY_OUTBOX) != Status.OK) return;
      const n = outboxCount(shared.ptr, shared.len);
      if (n == 0) return;
      const cas = shared.cas;
      const m = min(n, room);
      // The rest, moved to the front, is what the outbox keeps.
      const rest = n - m;
      store<u32>(this.box, OUTBOX_MAGIC);
      store<u32>(this.box, <u32>rest, 4);
      memory.copy(this.box + <usize>OUTBOX_HEADER, shared.ptr + <usize>(OUTBOX_HEADER + m * ENTRY_BYTES), <usize>(rest * ENTRY_BYTES));
      const taken = shared.ptr + <usize>OUTBOX_HEADER;
      const w = writeShared(KEY_FREQUENCY_OUTBOX, this.box, OUTBOX_HEADER + rest * ENTRY_BYTES, cas);
      if (w == Status.OK) {
        this.inflight.pushRaw(taken, m);
        return;
      }
      if (w != Status.CAS_MISMATCH) return;
    }
  }

  /** `,"frequency_counts":[["<key hex>",<at ms>,<window s>],...]` while the writer has room; nothing when none are in flight. */
  writeReport(w: ByteWriter): void {
    const l = this.inflight;
    if (l.count == 0) return;
    w.ascii(",\"frequency_counts\":[");
    for (let i = 0; i < l.count; i++) {
      if (i > 0) w.byte(0x2c);
      w.ascii("[\"");
      w.hexU64(l.keyAt(i));
      w.ascii("\",");
      w.i64(l.atMsAt(i));
      w.byte(0x2c);
      w.u64(<u64>l.windowSAt(i));
      w.byte(0x5d);
    }
    w.byte(0x5d);
  }

  /** Another pod's count from a sync answer: applied by applyIncoming (a full list drops it, counted). */
  receive(key: u64, atMs: i64, windowS: u32): void {
    const l = this.incoming;
    if (l.count == l.capacity && this.incomingNext > 0) {
      // Move what is left to the front.
      const left = l.count - this.incomingNext;
      memory.copy(l.buf, l.buf + <usize>(this.incomingNext * ENTRY_BYTES), <usize>(left * ENTRY_BYTES));
      l.count = left;
      this.incomingNext = 0;
    }
    if (!l.push(key, atMs, windowS)) metrics.inc(metrics.frequencyFleetDropped);
  }

  /**
   * Adds up to APPLY_PER_CALLBACK received counts to this pod's buckets, each in the window it
   * opened on its pod (one whose window has ended by now counts nothing); the rest wait for the
   * next call (every tick), so a large answer does not hold the VM's thread.
   */
  applyIncoming(table: SharedFrequencyTable, now: i64): void {
    const l = this.incoming;
    const end = min(l.count, this.incomingNext + APPLY_PER_CALLBACK);
    for (let i = this.incomingNext; i < end; i++) {
      const windowMs = <i64>l.windowSAt(i) * 1000;
      const at = l.atMsAt(i);
      if (at + windowMs > now) table.countFleet(l.keyAt(i), at, now, windowMs);
    }
    this.incomingNext = end;
    if (end == l.count) {
      l.clear();
      this.incomingNext = 0;
    }
  }

  /** The host took the counts in flight (an answer that did not refuse them). */
  accepted(): void {
    metrics.add(metrics.frequencyFleetSent, this.inflight.count);
    this.inflight.clear();
  }

  /** Appends a list to the outbox; false when the CAS loop gave up (nothing appended). Counts that do not fit are dropped. */
  private append(list: CountList): bool {
    for (let attempt = 0; attempt < this.retries; attempt++) {
      let n = 0;
      let cas: u32 = 0;
      if (readShared(KEY_FREQUENCY_OUTBOX) == Status.OK) {
        n = outboxCount(shared.ptr, shared.len);
        cas = shared.cas;
        memory.copy(this.box + <usize>OUTBOX_HEADER, shared.ptr + <usize>OUTBOX_HEADER, <usize>(n * ENTRY_BYTES));
      }
      const m = min(list.count, OUTBOX_ENTRIES - n);
      memory.copy(this.box + <usize>(OUTBOX_HEADER + n * ENTRY_BYTES), list.buf, <usize>(m * ENTRY_BYTES));
      store<u32>(this.box, OUTBOX_MAGIC);
      store<u32>(this.box, <u32>(n + m), 4);
      const w = writeShared(KEY_FREQUENCY_OUTBOX, this.box, OUTBOX_HEADER + (n + m) * ENTRY_BYTES, cas);
      if (w == Status.OK) {
        metrics.add(metrics.frequencyFleetDropped, list.count - m);
        return true;
      }
      if (w != Status.CAS_MISMATCH) return false;
    }
    return false;
  }
}

/** Entries in a stored outbox; 0 for anything else (missing, another layout, a torn length). */
function outboxCount(ptr: usize, len: i32): i32 {
  if (len < OUTBOX_HEADER || load<u32>(ptr) != OUTBOX_MAGIC) return 0;
  const n = <i32>load<u32>(ptr, 4);
  if (n < 0 || n > OUTBOX_ENTRIES || len != OUTBOX_HEADER + n * ENTRY_BYTES) return 0;
  return n;
}

/**
 * This pod's position in the fleet's stream of counted wins, kept in shared data
 * (KEY_FREQUENCY_CURSOR) rather than by the host: the leader reports it with each sync, the host
 * reads the other pods' counts after it and answers the new position with them. So a host that
 * restarts while Envoy runs on hands its filter neither counts it already has nor a gap, and a new
 * pod (shared data without a position) learns the counts already in the stream.
 */
export class FrequencyCursor {
  private readonly buf: usize = heap.alloc(<usize>MAX_CURSOR_BYTES);

  /** `,"frequency_cursor":"<id>"`, or `""` when this pod has none yet (the host then reads the stream from its start). */
  writeReport(w: ByteWriter): void {
    w.ascii(",\"frequency_cursor\":\"");
    if (readShared(KEY_FREQUENCY_CURSOR) == Status.OK) {
      if (isStreamId(shared.ptr, shared.len)) w.bytes(shared.ptr, shared.len);
      shared.release();
    }
    w.byte(0x22);
  }

  /**
   * The position of a sync answer, stored as soon as it is read: the host writes it before the
   * counts it goes with, and a count this pod then fails to take is lost (a cap fails open), never
   * applied twice. Returns false for anything but a stream id (nothing stored).
   */
  store(ptr: usize, len: i32): bool {
    if (!isStreamId(ptr, len)) return false;
    memory.copy(this.buf, ptr, <usize>len);
    return writeShared(KEY_FREQUENCY_CURSOR, this.buf, len, 0) == Status.OK;
  }
}
