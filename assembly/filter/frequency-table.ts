// Per-user impression counts of frequency-capped campaigns (core/bidding/frequency.ts), in shared
// data, so every worker VM of the proxy sees the same counts: a table of `frequency_slots` keys
// "nexus/v1/fq/<n>", the count of key k in slot k % slots. Bounded on purpose: Envoy's shared data
// never deletes a key, so a key per user would grow without end.
//
// Two (campaign, user) keys in one slot: the later one's count replaces the earlier's while its
// window is still open (nexus_frequency_evictions_total), and the earlier user may then see the
// campaign again before the window ends. A slot can only lose counts, so a cap fails open, never
// closed; size frequency_slots above the capped users live in a window to keep this rare.
import { Status, getSharedData, setSharedData } from "../proxy-wasm";
import { Campaign } from "../core/bidding/campaign";
import { FrequencyCount, FrequencyPort, FREQUENCY_RECORD_BYTES } from "../core/bidding/frequency";
import { FREQUENCY_SLOT_PREFIX, SlotKey } from "./keys";
import { shared } from "./shared";
import { metrics } from "./metrics";

const recordBuf = memory.data(FREQUENCY_RECORD_BYTES);

export class SharedFrequencyTable extends FrequencyPort {
  slots: u32 = 65536;
  retries: i32 = 32;
  private readonly slotKey: SlotKey = new SlotKey(FREQUENCY_SLOT_PREFIX);
  private readonly record: FrequencyCount = new FrequencyCount();

  reached(c: Campaign, key: u64, nowMs: i64): bool {
    this.slotKey.build(<u32>(key % <u64>this.slots));
    if (getSharedData(this.slotKey.buf, this.slotKey.len, shared) != Status.OK) return false;
    this.record.read(shared.ptr, shared.len);
    return this.record.countOf(key, nowMs) >= <u32>c.frequencyCap;
  }

  /**
   * Counts one charged impression of count key `key` at `nowMs`, opening a window of `windowMs`
   * when none is open. False when the count was lost (CAS give-up, a shared-data error).
   */
  count(key: u64, nowMs: i64, windowMs: i64): bool {
    const k = this.slotKey;
    k.build(<u32>(key % <u64>this.slots));
    const r = this.record;
    for (let attempt = 0; attempt < this.retries; attempt++) {
      let cas: u32 = 0;
      if (getSharedData(k.buf, k.len, shared) == Status.OK) {
        r.read(shared.ptr, shared.len);
        cas = shared.cas;
      } else r.clear();
      const evicts = r.heldByOther(key, nowMs);
      r.add(key, nowMs, windowMs);
      r.write(recordBuf);
      const w = setSharedData(k.buf, k.len, recordBuf, FREQUENCY_RECORD_BYTES, cas);
      if (w == Status.OK) {
        metrics.inc(metrics.frequencyCounted);
        if (evicts) metrics.inc(metrics.frequencyEvictions);
        return true;
      }
      if (w != Status.CAS_MISMATCH) break;
    }
    metrics.inc(metrics.frequencyGiveUps);
    return false;
  }
}
