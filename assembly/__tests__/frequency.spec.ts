// Frequency counts (assembly/core/bidding/frequency.ts): the record the filter keeps per slot in
// shared data, its window rules, and its encoding.
import { FrequencyCount, FREQUENCY_RECORD_BYTES } from "../core/bidding/frequency";

const T0: i64 = 1704067200000;
const HOUR: i64 = 3600000;
const A: u64 = 0x0123456789abcdef;
const B: u64 = 0xfedcba9876543210;

describe("FrequencyCount", () => {
  it("counts a key's impressions within its window, which opens at the first one", () => {
    const r = new FrequencyCount();
    expect(r.countOf(A, T0)).toBe(0);
    r.add(A, T0, HOUR);
    expect(r.countOf(A, T0)).toBe(1);
    r.add(A, T0 + HOUR - 1, HOUR);
    expect(r.countOf(A, T0 + HOUR - 1)).toBe(2);
    // The window runs from the first impression, not the last: at T0 + HOUR it has ended.
    expect(r.countOf(A, T0 + HOUR)).toBe(0);
    r.add(A, T0 + HOUR, HOUR);
    expect(r.countOf(A, T0 + HOUR)).toBe(1);
    expect(r.windowEndMs).toBe(T0 + 2 * HOUR);
  });

  it("another key's count reads as zero; adding replaces it, and says when it was still open", () => {
    const r = new FrequencyCount();
    r.add(A, T0, HOUR);
    r.add(A, T0, HOUR);
    expect(r.countOf(B, T0)).toBe(0);
    expect(r.heldByOther(B, T0)).toBe(true);
    expect(r.heldByOther(A, T0)).toBe(false);
    expect(r.heldByOther(B, T0 + HOUR)).toBe(false); // ended: nothing lost
    r.add(B, T0 + 10, HOUR);
    expect(r.countOf(B, T0 + 10)).toBe(1);
    expect(r.countOf(A, T0 + 10)).toBe(0);
  });

  it("round-trips through its 24-byte encoding; anything else reads as empty", () => {
    const r = new FrequencyCount();
    r.add(B, T0, HOUR);
    r.add(B, T0, HOUR);
    r.add(B, T0, HOUR);
    const buf = new ArrayBuffer(32);
    const p = changetype<usize>(buf);
    expect(r.write(p)).toBe(FREQUENCY_RECORD_BYTES);
    const back = new FrequencyCount();
    expect(back.read(p, FREQUENCY_RECORD_BYTES)).toBe(true);
    expect(back.key).toBe(B);
    expect(back.count).toBe(3);
    expect(back.windowEndMs).toBe(T0 + HOUR);
    expect(back.read(p, FREQUENCY_RECORD_BYTES - 1)).toBe(false);
    expect(back.count).toBe(0);
    store<u8>(p, 0x52); // another record's magic
    expect(back.read(p, FREQUENCY_RECORD_BYTES)).toBe(false);
    expect(back.countOf(B, T0)).toBe(0);
  });
});
