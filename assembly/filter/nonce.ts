// Bid id nonces. A bid id is "<seq hex>-<nonce hex8>" and is the only thing that
// authenticates a win notice; sequence numbers are consecutive (public), so the
// nonce must be unpredictable even to a party that has seen many other bid ids
// (an exchange, or anyone who can send bid requests). The decision engine's
// xorshift64* is not: two consecutive nonces give away its state after a 2^32
// search (seconds), and every later nonce of the VM with it
// (tests/hardening/bid-id-forgery.test.ts). So the ledger stamps each reservation
// with a nonce from the host's CSPRNG (WASI random_get: Envoy's cpp-host fills it
// from BoringSSL's RAND_bytes), taken in batches so most bids make no host call.

@external("wasi_snapshot_preview1", "random_get")
declare function random_get(buf: usize, len: usize): u32;

const BATCH_BYTES: i32 = 4096; // 1024 nonces per host call
const batch = memory.data(BATCH_BYTES);
let used: i32 = BATCH_BYTES;

/** The next random nonce (0 to 2^32-1), or -1 when the host gave no random bytes. */
export function randomNonce(): i64 {
  if (used >= BATCH_BYTES) {
    if (random_get(batch, <usize>BATCH_BYTES) != 0) return -1;
    used = 0;
  }
  const n = load<u32>(batch + <usize>used);
  used += 4;
  return <i64>n;
}
