// Reservation sequence numbers are claimed from the shared cursor a block at a time per VM
// (ledger.ts): bids from several VMs still get distinct numbers, the cursor only moves by whole
// blocks, and every reservation is settled by its notice exactly once; a VM's leftover numbers
// that the ring has lapped are dropped instead of overwriting a newer reservation.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST, get, post, startTestBidder, noticeUrl } from "../helpers/bidder.ts";
import { readLedger } from "../helpers/ledger.ts";
import type { Standalone } from "../../host/src/standalone.ts";
import { bidsOf, noticePath, poolBid, poolGet, type Answer } from "../hardening/helpers.ts";

const SLOTS = 4096; // a block is min(64, slots / 256) = 16 numbers
const BLOCK = 16;
const BIDS = 60;

let app: Standalone;

before(async () => {
  app = await startTestBidder({ vms: 2, plugin: { reservation_slots: SLOTS } });
});
after(async () => {
  await app?.close();
});

function cursor(): bigint {
  const v = app.pool.shared.get("nexus/v1/resv/cursor")!.value;
  return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true);
}

describe("reservation sequence blocks", () => {
  it("bids served by two VMs get distinct sequence numbers; the cursor moves by whole blocks", async () => {
    const start = cursor();
    const reservedBefore = readLedger(app.pool.shared, "test-cpa")!.reserved;
    const bids = await Promise.all(
      Array.from({ length: BIDS }, async (_, i) => {
        const req = { ...JSON.parse(README_REQUEST), id: `seq-${i}` };
        const r = await post(`${app.bidUrl}/openrtb2/bid`, JSON.stringify(req));
        assert.equal(r.status, 200, `${r.status} ${String(r.headers["x-nexus-nobid-reason"])}`);
        return r.json().seatbid[0].bid[0] as { nurl: string; lurl: string };
      }),
    );
    const seqs = bids.map((b) => BigInt("0x" + /bid=([0-9a-f]+)-[0-9a-f]{8}/.exec(b.nurl)![1]!));
    assert.equal(new Set(seqs).size, BIDS, "every bid has its own sequence number");
    const end = cursor();
    assert.equal((end - start) % BigInt(BLOCK), 0n, "the cursor advances by whole blocks");
    // Two VMs each hold at most one partly used block.
    assert.ok(end - start <= BigInt(BIDS + 2 * BLOCK), `cursor moved by ${end - start} for ${BIDS} bids`);
    for (const s of seqs) assert.ok(s >= start && s < end, `sequence ${s} comes from a claimed block [${start}, ${end})`);

    // Each reservation is refunded by its loss notice, once.
    for (const b of bids) assert.equal((await get(noticeUrl(b.lurl, "0"))).json().status, "refunded");
    for (const b of bids.slice(0, 5)) assert.equal((await get(noticeUrl(b.lurl, "0"))).json().status, "already_settled");
    assert.equal(readLedger(app.pool.shared, "test-cpa")!.reserved, reservedBefore, "nothing stays reserved");
  });
});

describe("a block left over from long ago", () => {
  // Round robin over two inline VMs: A serves requests 0, 2, 4, ...; B serves 1, 3, 5, ...
  // A makes one bid (claiming numbers [n, n + 16)) and then only sees malformed requests, which
  // claim nothing, while B bids more than a whole lap of the ring, every bid settled by its loss
  // notice. A's next number is then behind B's: the slot it maps to holds B's newer record.
  let pool: Standalone;
  let sent = 0;
  before(async () => {
    pool = await startTestBidder({ vms: 2, vmMode: "inline", plugin: { reservation_slots: SLOTS } });
  });
  after(async () => {
    await pool?.close();
  });

  // Notices go through the same round robin, so the parity is counted over every request.
  async function to(vm: 0 | 1, body: string): Promise<Answer> {
    if (sent % 2 !== vm) {
      await poolBid(pool, "{"); // a malformed request claims no number
      sent++;
    }
    sent++;
    return poolBid(pool, body);
  }
  async function notice(url: string, price: string): Promise<string> {
    sent++;
    const a = await poolGet(pool, noticePath(url, price));
    assert.equal(a.kind, "local");
    return a.text;
  }
  let n = 0;
  const bidBody = () => JSON.stringify({ ...JSON.parse(README_REQUEST), id: `lap-${n++}` });
  const bidOf = (a: Answer) => {
    assert.equal(a.status, 200, a.text);
    return bidsOf(a.text)[0]! as { nurl: string; lurl: string };
  };
  const seqOf = (nurl: string) => BigInt("0x" + /bid=([0-9a-f]+)-[0-9a-f]{8}/.exec(nurl)![1]!);

  it("is dropped: the newer record is kept, and its late win is still charged", async () => {
    const first = bidOf(await to(0, bidBody()));
    const aSeq = seqOf(first.nurl);
    assert.match(await notice(first.lurl, "0"), /refunded/);
    // B bids until one of its numbers lands on the slot of A's next number (aSeq + 1).
    let target: { nurl: string; seq: bigint } | undefined;
    for (let i = 0; i < 3 * SLOTS && target === undefined; i++) {
      const b = bidOf(await to(1, bidBody()));
      const seq = seqOf(b.nurl);
      assert.match(await notice(b.lurl, "0"), /refunded/);
      if (seq > aSeq + 1n && seq % BigInt(SLOTS) === (aSeq + 1n) % BigInt(SLOTS)) target = { nurl: b.nurl, seq };
    }
    assert.ok(target, "B went a lap round the ring");
    const chargedBefore = readLedger(pool.pool.shared, "test-cpa")!.charged;
    // A bids again: its leftover number aSeq + 1 is behind the ring, so it takes a fresh block.
    const second = bidOf(await to(0, bidBody()));
    const aSeq2 = seqOf(second.nurl);
    assert.ok(aSeq2 > target.seq, `A's new number ${aSeq2} comes after B's ${target.seq}, not from its old block`);
    assert.match(await notice(second.lurl, "0"), /refunded/);
    // B's record is intact: a (late) win notice for it is still found and charged.
    const win = await notice(target.nurl, "1.5");
    assert.doesNotMatch(win, /unknown/, win);
    assert.equal(readLedger(pool.pool.shared, "test-cpa")!.charged - chargedBefore, 1500n, "the late win is charged");
  });
});
