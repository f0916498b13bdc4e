// The leader lease's expiry: the i64 at byte 8 of KEY_LEADER (u32 owner, u32 0, i64 expiry),
// renewed by the leader on every tick. It runs on the host's monotonic clock (monotonic.ts): on
// the wall clock, a step back (NTP) kept a dead leader's lease live for the length of the step,
// and no other VM could take over (no sync: grants stopped, the pod answered no-bids).
//
// Every VM of an Envoy process shares the key, and during a config update (or a rollback) some
// of them can run an older build that writes and reads wall-clock expiries. A monotonic expiry is
// therefore marked with the sign bit, and an unmarked one is read as wall-clock ms:
// - an older build reads a marked expiry as a negative wall time, i.e. expired, and takes the lease
//   by CAS at its next tick; this build respects that build's wall-clock lease. One leader at a
//   time, which during the update may be an older VM. (A mark an older build reads as live, such as
//   replay-guard.ts's bit 62, would lock it out for good: after a rollback no VM would ever lead.)
// - a host without a monotonic clock gets unmarked wall-clock expiries, as before.
// A new key name instead would let an older and a newer VM lead at once (two PIDs, two syncs).

/** Marks an expiry on the monotonic clock: the sign bit, so that older builds read it as expired. */
const MONOTONIC: i64 = i64.MIN_VALUE;

/** The expiry to write for a lease of `leaseMs` from now; `monoMs` -1: the host has no monotonic clock. */
export function leaseExpiry(wallMs: i64, monoMs: i64, leaseMs: i64): i64 {
  return monoMs >= 0 ? (monoMs + leaseMs) | MONOTONIC : wallMs + leaseMs;
}

/** True while a lease with this expiry is held, each expiry read on its own clock. */
export function leaseLive(expiry: i64, wallMs: i64, monoMs: i64): bool {
  // A marked expiry and no monotonic clock now (cannot happen: one host for the process): lapsed.
  if (expiry < 0) return monoMs >= 0 && (expiry & i64.MAX_VALUE) > monoMs;
  return expiry > wallMs;
}
