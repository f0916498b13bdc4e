// Frequency counts (assembly/core/bidding/frequency.ts): the bucket of 16 counts the filter keeps
// per shared-data key, its window rules, which entry a new user takes, and its encoding.
import { FrequencyBucket, FREQUENCY_BUCKET_BYTES, FREQUENCY_ENTRIES } from "../core/bidding/frequency";

const T0: i64 = 1704067200000;
const HOUR: i64 = 3600000;
const A: u64 = 0x0123456789abcdef;
const B: u64 = 0xfedcba9876543210;

describe("FrequencyBucket", () => {
  it("counts a key's impressions within its window, which opens at the first one", () => {
    const b = new FrequencyBucket();
    expect(b.countOf(A, T0)).toBe(0);
    expect(b.add(A, T0, HOUR)).toBe(false);
    expect(b.countOf(A, T0)).toBe(1);
    b.add(A, T0 + HOUR - 1, HOUR);
    expect(b.countOf(A, T0 + HOUR - 1)).toBe(2);
    // The window runs from the first impression, not the last: at T0 + HOUR it has ended.
    expect(b.countOf(A, T0 + HOUR)).toBe(0);
    b.add(A, T0 + HOUR, HOUR);
    expect(b.countOf(A, T0 + HOUR)).toBe(1);
    expect(b.countOf(A, T0 + 2 * HOUR - 1)).toBe(1);
    expect(b.countOf(A, T0 + 2 * HOUR)).toBe(0);
  });

  it("keys in one bucket count apart", () => {
    const b = new FrequencyBucket();
    b.add(A, T0, HOUR);
    b.add(A, T0, HOUR);
    b.add(B, T0 + 1, HOUR);
    expect(b.countOf(A, T0 + 1)).toBe(2);
    expect(b.countOf(B, T0 + 1)).toBe(1);
  });

  it("16 open counts: a new key takes the entry whose window ends first and says it evicted; an ended one is free", () => {
    const b = new FrequencyBucket();
    for (let i = 0; i < FREQUENCY_ENTRIES; i++) expect(b.add(<u64>(i + 1), T0 + <i64>i * 1000, HOUR)).toBe(false);
    // Key 1's window (opened at T0) ends first.
    expect(b.add(B, T0 + 20_000, HOUR)).toBe(true);
    expect(b.countOf(1, T0 + 20_000)).toBe(0);
    expect(b.countOf(2, T0 + 20_000)).toBe(1);
    expect(b.countOf(B, T0 + 20_000)).toBe(1);
    // Once key 2's window (opened at T0 + 1 s) has ended, its entry is free: no eviction.
    expect(b.add(A, T0 + 1000 + HOUR, HOUR)).toBe(false);
    expect(b.countOf(3, T0 + 1000 + HOUR)).toBe(1);
    expect(b.countOf(A, T0 + 1000 + HOUR)).toBe(1);
  });

  it("another pod's impression (addAt): its window runs from when it was made there; an ended one counts nothing", () => {
    const b = new FrequencyBucket();
    // Made 10 minutes before it arrives: the window ends an hour after it was made.
    const now = T0 + 600_000;
    expect(b.addAt(A, T0, now, HOUR)).toBe(false);
    expect(b.countOf(A, now)).toBe(1);
    expect(b.countOf(A, T0 + HOUR - 1)).toBe(1);
    expect(b.countOf(A, T0 + HOUR)).toBe(0);
    // One more in the window open now, wherever it was made.
    b.addAt(A, T0 + 300_000, now, HOUR);
    b.add(A, now, HOUR);
    expect(b.countOf(A, now)).toBe(3);
    expect(b.countOf(A, T0 + HOUR)).toBe(0, "the window is still the first impression's");
    // Two hours old in a one-hour window: nothing changes.
    expect(b.addAt(B, T0 - 2 * HOUR, now, HOUR)).toBe(false);
    expect(b.addAt(B, now - HOUR, now, HOUR)).toBe(false);
    expect(b.countOf(B, now)).toBe(0);
    expect(b.countOf(B, now - HOUR)).toBe(0);
  });

  it("round-trips through its encoding; anything else reads as empty", () => {
    const b = new FrequencyBucket();
    b.add(A, T0, HOUR);
    b.add(B, T0, HOUR);
    b.add(B, T0, HOUR);
    const copy = new ArrayBuffer(FREQUENCY_BUCKET_BYTES + 8);
    const p = changetype<usize>(copy);
    memory.copy(p, b.buf, <usize>FREQUENCY_BUCKET_BYTES);
    const back = new FrequencyBucket();
    expect(back.read(p, FREQUENCY_BUCKET_BYTES)).toBe(true);
    expect(back.countOf(A, T0)).toBe(1);
    expect(back.countOf(B, T0)).toBe(2);
    expect(back.read(p, FREQUENCY_BUCKET_BYTES - 1)).toBe(false);
    expect(back.countOf(B, T0)).toBe(0);
    store<u8>(p, 0x52); // another value's magic
    expect(back.read(p, FREQUENCY_BUCKET_BYTES)).toBe(false);
    expect(back.countOf(B, T0)).toBe(0);
    expect(FREQUENCY_BUCKET_BYTES).toBe(8 + 16 * 24);
  });
});
