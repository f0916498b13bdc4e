// Shared data access for the filter: reads into one reused HostBytes, writes
// with CAS, and a bounded compare-and-swap loop for counters. Values from the
// host live in the host-copy arena until the callback returns.
import { HostBytes, getSharedData, setSharedData, Status } from "../proxy-wasm";
import { OwnedBytes } from "../core/bidding/campaign";

export const shared = new HostBytes();
const u64Buf = memory.data(8);

/** Reads `key` into `shared`; returns the status (OK or NOT_FOUND). */
@inline export function readShared(key: OwnedBytes): u32 {
  return getSharedData(key.ptr, key.len, shared);
}

@inline export function writeShared(key: OwnedBytes, ptr: usize, len: i32, cas: u32): u32 {
  return setSharedData(key.ptr, key.len, ptr, len, cas);
}

/**
 * Creates `key` with the u64 `initial` when it does not exist yet. Envoy's shared
 * data has no create-if-absent, so counters are created in on_configure, before
 * the VM serves anything; every later change is a CAS on an existing key. Two VMs
 * configuring at once can still both create it, the second overwriting the
 * first (and whatever the first did with it meanwhile): see vm-seq.ts.
 */
export function ensureU64(key: OwnedBytes, initial: u64 = 0): void {
  if (readShared(key) == Status.OK) return;
  store<u64>(u64Buf, initial);
  writeShared(key, u64Buf, 8, 0);
}

/**
 * Atomically adds `delta` to an existing u64 counter key and returns the value
 * before the add, or -1 when the key is missing or the CAS loop gave up after
 * `retries` attempts.
 */
export function fetchAddU64(key: OwnedBytes, delta: u64, retries: i32): i64 {
  for (let attempt = 0; attempt < retries; attempt++) {
    if (readShared(key) != Status.OK || shared.len != 8) return -1;
    const current = load<u64>(shared.ptr);
    store<u64>(u64Buf, current + delta);
    const w = writeShared(key, u64Buf, 8, shared.cas);
    if (w == Status.OK) return <i64>current;
    if (w != Status.CAS_MISMATCH) return -1;
  }
  return -1;
}
