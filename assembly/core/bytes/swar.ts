// Eight bytes at a time (SWAR): the constants and the byte test the scanners share (JSON strings,
// the writer's escaping, host names).

/** 0x01 in every byte. */
export const ONES: u64 = 0x0101010101010101;
/** The high bit of every byte. */
export const HIGHS: u64 = 0x8080808080808080;

/** Some byte of `w` is `b` (exact: a borrow can only follow a real match). */
@inline
export function hasByte(w: u64, b: u8): bool {
  const x = w ^ (ONES * <u64>b);
  return ((x - ONES) & ~x & HIGHS) != 0;
}
