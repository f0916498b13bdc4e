// Where the VM counter nexus/v1/vm-seq starts (SECURITY.md G9).
//
// Every VM numbers itself in proxy_on_configure with a fetch-add on the counter, creating it first
// when a read finds none. Envoy's shared data has no create-if-absent (cpp-host SharedData::set
// succeeds on a missing key whatever the CAS) and Envoy configures its worker VMs concurrently, so
// two VMs can both find no counter and both create it, the second create overwriting the first
// VM's increment. With a counter created at 0, both VMs then took number 1: both led (two syncs,
// two PID loops writing the same pace state) and wrote the same status key vm/1.
//
// A counter created at a random value instead means that two racing creators hand out numbers from
// two independent random points of [2^20, 2^30): they collide only if those points are within a
// few VMs of each other, about (VMs per process) / 2^30. (A CAS cannot close the race: a set with
// any CAS creates a missing key, and there is no atomic create or delete to build a lock from.)
// The range stays below 2^31, where the fallback numbers of VMs that could not use the counter
// live (root.ts), and leaves more than 2^30 numbers of u32 headroom for config updates and restarts.

export const VM_SEQ_START_MIN: u64 = 1 << 20;
export const VM_SEQ_START_SPAN: u64 = (1 << 30) - (1 << 20);

/**
 * The value to create the counter with: from `random` (0 to 2^32-1, from the host's CSPRNG), or,
 * when the host gave no random bytes (-1), from the clock's nanoseconds, whose low bits differ
 * between two VMs unless they read the clock in the same nanosecond.
 */
export function vmSeqStart(random: i64, nowNanos: u64): u64 {
  let r: u64;
  if (random >= 0) {
    r = <u64>random;
  } else {
    r = nowNanos ^ (nowNanos >> 29); // mix the fast-changing low bits with the seconds
    r ^= r >> 17;
  }
  return VM_SEQ_START_MIN + r % VM_SEQ_START_SPAN;
}
