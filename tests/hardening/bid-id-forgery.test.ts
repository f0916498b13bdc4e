// Win notices cannot be forged: a bid id ("<seq hex>-<nonce hex8>") is the only thing that
// authenticates a notice, so a party that saw some bid ids (an exchange, or anyone who can send
// bid requests) must not be able to compute the id of a bid it did not see. Sequence numbers are
// public (consecutive); the nonce must be unpredictable. This test plays the attacker: it takes
// the nonces of 64 consecutive bids of one VM, predicts the next bid's nonce as the old xorshift64*
// generator would give it (its state found by a 2^32 search, a few seconds in WebAssembly) and as
// a constant stride would, and sends win notices for that bid (made for "another exchange") at
// its full price after it was lost; then checks the nonces show no stride and no biased bit.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST, get, post, startTestBidder, noticeUrl } from "../helpers/bidder.ts";
import type { Standalone } from "../../host/src/standalone.ts";
import { wasmApi } from "../../host/src/proxy-wasm/wasm-api.ts";

const M = 0x2545f4914f6cdd1dn;
const MASK = (1n << 64n) - 1n;

function inverse64(a: bigint): bigint {
  let x = a; // Newton: x = x * (2 - a x), 6 rounds double the correct bits to 64
  for (let i = 0; i < 6; i++) x = (x * ((2n - a * x) & MASK)) & MASK;
  return x;
}
const MINV = inverse64(M);

function step(x: bigint): bigint {
  x ^= x >> 12n;
  x = (x ^ (x << 25n)) & MASK;
  x ^= x >> 27n;
  return x;
}
const nonceOf = (x: bigint) => Number(((x * M) & MASK) >> 32n);

// search(hi, lo0, n2, minv, m): the first lo >= lo0 such that the state x = ((hi << 32) | lo) * minv
// steps to a state whose nonce is n2; -1 if none.
const WAT = `(module
  (func (export "search") (param $hi i64) (param $lo i64) (param $n2 i64) (param $minv i64) (param $m i64) (result i64)
    (local $x i64) (local $t i64)
    (local.set $x (i64.mul (i64.or (i64.shl (local.get $hi) (i64.const 32)) (local.get $lo)) (local.get $minv)))
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $lo) (i64.const 0x100000000)))
        (local.set $t (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 12))))
        (local.set $t (i64.xor (local.get $t) (i64.shl (local.get $t) (i64.const 25))))
        (local.set $t (i64.xor (local.get $t) (i64.shr_u (local.get $t) (i64.const 27))))
        (if (i64.eq (i64.shr_u (i64.mul (local.get $t) (local.get $m)) (i64.const 32)) (local.get $n2))
          (then (return (local.get $lo))))
        (local.set $x (i64.add (local.get $x) (local.get $minv)))
        (local.set $lo (i64.add (local.get $lo) (i64.const 1)))
        (br $next)))
    (i64.const -1)))`;

async function searcher(): Promise<(hi: bigint, lo: bigint, n2: bigint) => bigint> {
  const binaryen = (await import("binaryen")).default;
  const mod = binaryen.parseText(WAT);
  const bytes = mod.emitBinary();
  mod.dispose();
  const inst = await wasmApi.instantiate(await wasmApi.compile(bytes), {});
  const search = inst.exports.search as (...a: bigint[]) => bigint;
  const s64 = (v: bigint) => BigInt.asIntN(64, v);
  return (hi, lo, n2) => search(hi, lo, n2, s64(MINV), s64(M));
}

/** The state after the step that produced n1, given the two nonces that follow it (n2, n3). */
async function recoverState(n1: number, n2: number, n3: number): Promise<bigint | undefined> {
  const search = await searcher();
  let lo = 0n;
  for (;;) {
    const found = search(BigInt(n1), lo, BigInt(n2));
    if (found < 0n) return undefined;
    const x1 = ((((BigInt(n1) << 32n) | BigInt.asUintN(64, found)) * MINV) & MASK);
    const x2 = step(x1);
    if (nonceOf(step(x2)) === n3) return step(x2);
    lo = BigInt.asUintN(64, found) + 1n;
  }
}

let app: Standalone;
let k = 0;
const request = () => JSON.stringify({ ...JSON.parse(README_REQUEST), id: `forgery-${process.pid}-${k++}` });

before(async () => {
  app = await startTestBidder({ vms: 1 });
});
after(async () => {
  await app?.close();
});

async function bid(): Promise<{ seq: bigint; nonce: number; price: number; nurl: string; lurl: string }> {
  const r = await post(`${app.bidUrl}/openrtb2/bid`, request());
  assert.equal(r.status, 200, `${r.status} ${String(r.headers["x-nexus-nobid-reason"])}`);
  const b = r.json().seatbid[0].bid[0];
  const m = /[?&]bid=([0-9a-f]+)-([0-9a-f]{8})/.exec(b.nurl)!;
  return { seq: BigInt(`0x${m[1]}`), nonce: Number.parseInt(m[2]!, 16), price: b.price, nurl: b.nurl, lurl: b.lurl };
}

describe("bid ids", () => {
  it("the nonce of a bid cannot be computed from the ids of earlier bids (no forged win notice)", { timeout: 120_000 }, async () => {
    // What the attacker sees: consecutive bids of the VM (it releases them with loss notices).
    const seen: Array<Awaited<ReturnType<typeof bid>>> = [];
    for (let i = 0; i < 64; i++) {
      const b = await bid();
      seen.push(b);
      await get(noticeUrl(b.lurl, "0"));
    }
    // Another exchange's auction: the attacker never sees this bid, which loses.
    const victim = await bid();
    const last = seen[seen.length - 1]!;
    assert.equal(victim.seq, last.seq + 1n, "the victim's sequence number is the next one (public)");
    assert.equal((await get(noticeUrl(victim.lurl, "0"))).json().status, "refunded");
    // The attacker's guesses for the victim's nonce: the next output of the xorshift64* the
    // decision engine once used (its state found from three nonces by a 2^32 search), and the
    // next step of a counter or any generator with a constant stride.
    const guesses: Array<[string, number]> = [];
    const n = seen.map((b) => b.nonce);
    const state = await recoverState(n[n.length - 3]!, n[n.length - 2]!, n[n.length - 1]!);
    if (state !== undefined) guesses.push(["xorshift64*", nonceOf(step(state))]);
    guesses.push(["constant stride", (n[n.length - 1]! + (n[n.length - 1]! - n[n.length - 2]!)) >>> 0]);
    for (const [how, nonce] of guesses) {
      const forged = `${app.bidUrl}/openrtb2/win?bid=${victim.seq.toString(16)}-${nonce.toString(16).padStart(8, "0")}&price=${victim.price.toFixed(3)}`;
      const r = await get(forged);
      assert.equal(r.status, 404, `a win notice forged by the ${how} guess answered ${r.status} ${r.text}`);
      assert.notEqual(nonce, victim.nonce, `the victim's nonce ${victim.nonce.toString(16)} was predicted (${how})`);
    }
    // And no structure to guess from: no stride repeats, and every bit of the 32 varies as a
    // random one's would (each set in 8 to 56 of 64 nonces: outside that, p < 1e-9 per bit).
    const strides = new Set(n.slice(1).map((x, i) => (x - n[i]!) >>> 0));
    assert.ok(strides.size >= 60, `only ${strides.size} distinct strides between 64 nonces`);
    for (let bit = 0; bit < 32; bit++) {
      const set = n.filter((x) => (x >>> bit) & 1).length;
      assert.ok(set >= 8 && set <= 56, `bit ${bit} set in ${set} of 64 nonces`);
    }
  });
});
