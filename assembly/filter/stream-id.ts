// The ids of the Redis stream of counted wins, as the host answers them (frequency-fleet.ts
// FrequencyCursor keeps one in shared data). Pure: no ABI imports, unit-tested with as-pect.

/** A Redis stream id: "<ms>-<seq>", each at most 20 digits. */
export const MAX_CURSOR_BYTES: i32 = 41;

/** Whether [ptr, ptr+len) is a stream id ("<digits>-<digits>", 1–20 digits each). */
export function isStreamId(ptr: usize, len: i32): bool {
  if (len < 3 || len > MAX_CURSOR_BYTES) return false;
  let dash = -1;
  for (let i = 0; i < len; i++) {
    const c = load<u8>(ptr + <usize>i);
    if (c == 0x2d) {
      if (dash >= 0) return false;
      dash = i;
    } else if (c < 0x30 || c > 0x39) return false;
  }
  return dash >= 1 && dash <= 20 && len - dash - 1 >= 1 && len - dash - 1 <= 20;
}
