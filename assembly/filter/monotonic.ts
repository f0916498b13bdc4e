// The host's monotonic clock (WASI clock_time_get, clock id 1: Envoy's cpp-host
// answers it with the dispatcher's steady clock, the same for every VM of the
// process). Reservation TTLs use it, so a wall clock that steps forward (an NTP
// step, a resumed VM) cannot expire every live reservation at once: their money
// would go back to the ledger and be bid again while the exchanges still bill
// the wins of the old bids, beyond the grant.

@external("wasi_snapshot_preview1", "clock_time_get")
declare function clock_time_get(id: u32, precision: u64, out: usize): u32;

const out = memory.data(8);

/** Milliseconds of the monotonic clock (arbitrary origin), or -1 when the host does not have one. */
export function monotonicMs(): i64 {
  const ns = monotonicNanos();
  return ns < 0 ? -1 : ns / 1000000;
}

/** Nanoseconds of the monotonic clock (arbitrary origin), or -1 when the host does not have one. */
export function monotonicNanos(): i64 {
  if (clock_time_get(1, 1000, out) != 0) return -1;
  return <i64>load<u64>(out);
}

/**
 * The clock for intervals that only this VM compares (sync period, retry delays): the monotonic
 * clock, or `wallMs` on a host without one (as the reservation TTLs and the replay guard fall back).
 */
export function steadyMs(wallMs: i64): i64 {
  const mono = monotonicMs();
  return mono >= 0 ? mono : wallMs;
}
