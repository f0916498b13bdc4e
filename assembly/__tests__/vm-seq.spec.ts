import { vmSeqStart, VM_SEQ_START_MIN, VM_SEQ_START_SPAN } from "../filter/vm-seq";

describe("vmSeqStart", () => {
  it("maps random words into [2^20, 2^30)", () => {
    expect(vmSeqStart(0, 0)).toBe(VM_SEQ_START_MIN);
    expect(vmSeqStart(<i64>VM_SEQ_START_SPAN - 1, 0)).toBe((<u64>1 << 30) - 1);
    expect(vmSeqStart(<i64>VM_SEQ_START_SPAN, 0)).toBe(VM_SEQ_START_MIN);
    expect(vmSeqStart(0xffffffff, 0)).toBeLessThan(<u64>1 << 30);
    expect(vmSeqStart(12345, 0)).not.toBe(vmSeqStart(12346, 0));
  });

  it("without random bytes, uses the clock and stays in range", () => {
    const a = vmSeqStart(-1, 1_764_000_000_123_456_789);
    const b = vmSeqStart(-1, 1_764_000_000_123_457_790);
    expect(a).toBeGreaterThanOrEqual(VM_SEQ_START_MIN);
    expect(a).toBeLessThan(<u64>1 << 30);
    expect(b).toBeLessThan(<u64>1 << 30);
    expect(a).not.toBe(b);
  });
});
