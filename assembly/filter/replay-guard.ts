// Replay protection: a bid request id seen within `replay_ttl_ms` is answered
// with a no-bid (reason "replay"), in every worker VM of the process. The filter
// asks at a request's first reservation (replay-gate.ts), so only requests about
// to bid are checked and recorded; with replay claims, before the decision.
//
// Envoy's shared data has no delete and its keys live as long as the process,
// so there is no key per request id. Instead a fixed set of B bucket keys
// ("nexus/v1/seen/<n>", n in [0, B)), all created when the plugin is
// configured, each holding ENTRIES fixed-size entries:
//
//   entry i at byte 16·i:  u64 hash of the id · i64 expiry
//
// An entry whose expiry is not after `now` is free. Expiries run on the host's monotonic
// clock (monotonic.ts), marked by bit 62 of the expiry, so that a wall clock stepping forward
// (NTP, a resumed VM) does not forget every id at once and let replays bid again. An entry
// without the mark (written by an older filter, or by a host without a monotonic clock) is an
// expiry in wall-clock ms and is compared with the wall clock. The id is hashed with
// murmur3_32 under two seeds into 64 bits; the bucket is the hash modulo B.
// The seeds are random per process (kept in "nexus/v1/seen/seed", written by
// the first VM to configure, read by every other) so that ids cannot be chosen
// offline to land in one bucket.
//
// check() is one bounded CAS loop on one bucket: read (value + cas), look for
// a live entry with the same hash (→ replay), else write the id into a free
// entry (or over the live entry that expires first, when the bucket is full:
// counted in nexus_replay_evictions_total) with the cas. A concurrent writer
// makes the CAS fail, the loop re-reads and sees what the other wrote, so two
// copies of one id racing in two VMs cannot both pass.
//
// Fail-safe: when the loop gives up (cas_retries mismatches in a row, the
// bucket is missing, the host refuses the write), the request is answered as
// if it had been seen: a no-bid (reason "contention", counted in
// nexus_replay_giveups_total). Not bidding loses one auction; bidding on a
// replay can spend money twice. See SECURITY.md.
//
// No allocation per request: the key and the bucket copy live in buffers
// allocated once; the read lands in the host-copy arena.
import { Status, getSharedData, setSharedData } from "../proxy-wasm";
import { murmur3_32 } from "../core/hash/murmur3";
import { NoBid } from "../core/bidding/reasons";
import { shared } from "./shared";
import { OwnedBytes } from "../core/bidding/campaign";
import { metrics } from "./metrics";

/** Entries per bucket. */
export const REPLAY_ENTRIES: i32 = 16;
const ENTRY_BYTES: i32 = 16;
export const REPLAY_BUCKET_BYTES: i32 = REPLAY_ENTRIES * ENTRY_BYTES;
const PREFIX = "nexus/v1/seen/";
/** Marks an expiry on the monotonic clock (wall-clock ms since 1970 stay far below 2^62). */
const MONOTONIC: i64 = 1 << 62;
const KEY_SEED = OwnedBytes.fromString("nexus/v1/seen/seed");

export class ReplayGuard {
  /** 0: the guard is off. */
  ttlMs: i64 = 0;
  buckets: u32 = 0;
  retries: i32 = 32;
  seedA: u32 = 0x9747b28c;
  seedB: u32 = 0x5bd1e995;
  private readonly key: usize = heap.alloc(64);
  private keyLen: i32 = 0;
  private readonly buf: usize = heap.alloc(<usize>REPLAY_BUCKET_BYTES);

  @inline get enabled(): bool {
    return this.ttlMs > 0;
  }

  /**
   * Cold path (on_configure): takes the settings, reads or creates the
   * process-wide seeds, and creates every bucket key that does not exist yet.
   * Returns false when the host refused to create a key (the store is full);
   * requests landing in a missing bucket are then no-bids (fail-safe).
   */
  configure(ttlMs: i64, buckets: u32, retries: i32, entropy: u64): bool {
    this.ttlMs = ttlMs;
    this.buckets = buckets;
    this.retries = retries > 0 ? retries : 1;
    if (ttlMs <= 0 || buckets == 0) return true;
    this.seeds(entropy);
    memory.fill(this.buf, 0, <usize>REPLAY_BUCKET_BYTES);
    let ok = true;
    for (let b: u32 = 0; b < buckets; b++) {
      this.buildKey(b);
      const st = getSharedData(this.key, this.keyLen, shared);
      shared.release(); // cold path: do not let thousands of copies pile up
      if (st == Status.OK) continue;
      if (setSharedData(this.key, this.keyLen, this.buf, REPLAY_BUCKET_BYTES, 0) != Status.OK) ok = false;
    }
    return ok;
  }

  /**
   * Records the request id and says whether it was already seen within the
   * TTL: NoBid.NONE (first time: bid), NoBid.REPLAY (seen), or
   * NoBid.CONTENTION (could not tell: treated as seen, see the file comment).
   * `nowMs`: the wall clock, `mono`: the monotonic clock in ms (-1: the host has none), both as
   * read when the request's headers came (no host call of its own).
   */
  check(idPtr: usize, idLen: i32, nowMs: i64, mono: i64): i32 {
    const h: u64 = (<u64>murmur3_32(idPtr, idLen, this.seedA) << 32) | <u64>murmur3_32(idPtr, idLen, this.seedB);
    this.buildKey(<u32>(h % <u64>this.buckets));
    // Entries compare in one order whatever their clock: the remaining time (expiry − its clock's now).
    const expires = mono >= 0 ? (mono + this.ttlMs) | MONOTONIC : nowMs + this.ttlMs;
    const buf = this.buf;
    for (let attempt = 0; attempt < this.retries; attempt++) {
      if (attempt > 0) metrics.inc(metrics.casRetries);
      if (getSharedData(this.key, this.keyLen, shared) != Status.OK) break;
      const cas = shared.cas;
      const p = shared.ptr;
      let free = -1;
      let oldest = 0;
      let oldestExpiry = i64.MAX_VALUE; // the least time left among live entries
      if (shared.len == REPLAY_BUCKET_BYTES) {
        for (let i = 0; i < REPLAY_ENTRIES; i++) {
          const e = p + <usize>(i * ENTRY_BYTES);
          const left = timeLeft(load<i64>(e, 8), nowMs, mono);
          if (left > 0) {
            if (load<u64>(e) == h) return NoBid.REPLAY;
            if (left < oldestExpiry) {
              oldestExpiry = left;
              oldest = i;
            }
          } else if (free < 0) {
            free = i;
          }
        }
        memory.copy(buf, p, <usize>REPLAY_BUCKET_BYTES);
      } else {
        // Not a bucket of this version (cannot happen with versioned keys): start it afresh.
        memory.fill(buf, 0, <usize>REPLAY_BUCKET_BYTES);
        free = 0;
      }
      let slot = free;
      if (slot < 0) {
        slot = oldest; // full of live ids: the one closest to expiry goes
        metrics.inc(metrics.replayEvictions);
      }
      const e = buf + <usize>(slot * ENTRY_BYTES);
      store<u64>(e, h);
      store<i64>(e, expires, 8);
      const w = setSharedData(this.key, this.keyLen, buf, REPLAY_BUCKET_BYTES, cas);
      if (w == Status.OK) return NoBid.NONE;
      if (w != Status.CAS_MISMATCH) {
        metrics.inc(metrics.sharedDataErrors);
        break;
      }
    }
    metrics.inc(metrics.replayGiveUps);
    return NoBid.CONTENTION;
  }

  /**
   * Every tick: adopt the seeds in shared data. Shared data has no create-if-absent, so two VMs
   * configuring at the same instant can each write their own seeds and one keeps seeds nobody
   * else uses (its ids land in other buckets, and a replay across the two is not seen). The last
   * write is in the store; every VM converges on it within a tick.
   */
  refreshSeeds(): void {
    if (this.enabled) this.readSeeds();
  }

  /** The process-wide seeds: read them, or create them from `entropy` (the first VM to configure). */
  private seeds(entropy: u64): void {
    if (this.readSeeds()) return;
    // splitmix64 of the entropy: any non-constant value will do.
    let z = entropy + 0x9e3779b97f4a7c15;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    z ^= z >> 31;
    store<u64>(this.buf, z);
    setSharedData(KEY_SEED.ptr, KEY_SEED.len, this.buf, 8, 0);
    // Read back: if another VM created it first, use its seeds. None at all: keep the built-in
    // seeds (the guard still works, with predictable buckets).
    this.readSeeds();
  }

  /** Adopts the seeds stored in shared data; false when there are none. */
  private readSeeds(): bool {
    const found = getSharedData(KEY_SEED.ptr, KEY_SEED.len, shared) == Status.OK && shared.len == 8;
    if (found) {
      const s = load<u64>(shared.ptr);
      this.seedA = <u32>(s >> 32);
      this.seedB = <u32>s;
    }
    shared.release();
    return found;
  }

  /** "nexus/v1/seen/<n>" into the key buffer. */
  private buildKey(n: u32): void {
    const k = this.key;
    let len = 0;
    for (let i = 0; i < PREFIX.length; i++) store<u8>(k + <usize>(len++), <u8>PREFIX.charCodeAt(i));
    let div: u32 = 1;
    while (n / div >= 10) div *= 10;
    while (div > 0) {
      store<u8>(k + <usize>(len++), <u8>(0x30 + (n / div) % 10));
      div /= 10;
    }
    this.keyLen = len;
  }
}

/**
 * Milliseconds an entry has left (≤ 0: free), each expiry on its own clock: marked ones on the
 * monotonic clock (`mono`; a host that has none now cannot tell, so they count as expired),
 * unmarked ones on the wall clock.
 */
@inline function timeLeft(expiry: i64, wallMs: i64, mono: i64): i64 {
  if ((expiry & MONOTONIC) != 0) return mono >= 0 ? (expiry & ~MONOTONIC) - mono : 0;
  return expiry - wallMs;
}
