// Per-user impression counts of frequency-capped campaigns (core/bidding/frequency.ts), in shared
// data, so every worker VM of the proxy sees the same counts: `frequency_buckets` keys
// "nexus/v1/fq/<n>", each a FrequencyBucket of 16 counts, the count of key k in bucket k % buckets.
// Bounded on purpose: Envoy's shared data never deletes a key, so a key per user would grow
// without end. A bucket whose 16 entries all hold open windows gives the oldest one to a new user
// (nexus_frequency_evictions_total): size frequency_buckets × 16 above the capped users seen
// within a window.
//
// Counting is one bounded CAS loop on one bucket (read, add, write with the cas; a concurrent
// writer makes it re-read). No allocation: the bucket is worked on in its own buffer, the key in
// a reused one.
import { Status, getSharedData, setSharedData } from "../proxy-wasm";
import { Campaign } from "../core/bidding/campaign";
import { FrequencyBucket, FrequencyPort, FREQUENCY_BUCKET_BYTES } from "../core/bidding/frequency";
import { FREQUENCY_BUCKET_PREFIX, SlotKey } from "./keys";
import { shared } from "./shared";
import { metrics } from "./metrics";

export class SharedFrequencyTable extends FrequencyPort {
  buckets: u32 = 16384;
  retries: i32 = 32;
  private readonly bucketKey: SlotKey = new SlotKey(FREQUENCY_BUCKET_PREFIX);
  private readonly bucket: FrequencyBucket = new FrequencyBucket();

  countOf(c: Campaign, key: u64, nowMs: i64): u32 {
    this.bucketKey.build(<u32>(key % <u64>this.buckets));
    if (getSharedData(this.bucketKey.buf, this.bucketKey.len, shared) != Status.OK) return 0;
    this.bucket.read(shared.ptr, shared.len);
    return this.bucket.countOf(key, nowMs);
  }

  /**
   * Counts one charged impression of count key `key` at `nowMs`, opening a window of `windowMs`
   * when none is open. False when the count was lost (CAS give-up, a shared-data error).
   */
  count(key: u64, nowMs: i64, windowMs: i64): bool {
    return this.countAt(key, nowMs, nowMs, windowMs, false);
  }

  /**
   * Counts an impression another pod counted at `atMs` (frequency-fleet.ts), seen here at `nowMs`:
   * its window runs from `atMs`. Counted in nexus_frequency_fleet_applied_total, not in
   * nexus_frequency_counted_total (which stays this pod's own wins).
   */
  countFleet(key: u64, atMs: i64, nowMs: i64, windowMs: i64): bool {
    return this.countAt(key, atMs, nowMs, windowMs, true);
  }

  private countAt(key: u64, atMs: i64, nowMs: i64, windowMs: i64, fleet: bool): bool {
    const k = this.bucketKey;
    k.build(<u32>(key % <u64>this.buckets));
    const b = this.bucket;
    for (let attempt = 0; attempt < this.retries; attempt++) {
      // cas 0 when the bucket does not exist yet: an unconditional write (shared data has no
      // create-if-absent), so two VMs counting a new bucket's first wins at once can lose one
      // count (SECURITY.md G9: documented, not closed).
      let cas: u32 = 0;
      if (getSharedData(k.buf, k.len, shared) == Status.OK) {
        b.read(shared.ptr, shared.len);
        cas = shared.cas;
      } else b.clear();
      const evicted = b.addAt(key, atMs, nowMs, windowMs);
      const w = setSharedData(k.buf, k.len, b.buf, FREQUENCY_BUCKET_BYTES, cas);
      if (w == Status.OK) {
        metrics.inc(fleet ? metrics.frequencyFleetApplied : metrics.frequencyCounted);
        if (evicted) metrics.inc(metrics.frequencyEvictions);
        return true;
      }
      if (w != Status.CAS_MISMATCH) break;
    }
    metrics.inc(metrics.frequencyGiveUps);
    return false;
  }
}
