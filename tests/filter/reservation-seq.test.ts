// Reservation sequence numbers are claimed from the shared cursor a block at a time per VM
// (ledger.ts): bids from several VMs still get distinct numbers, the cursor only moves by whole
// blocks, and every reservation is settled by its notice exactly once.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST, get, post, startTestBidder, noticeUrl } from "../helpers/bidder.ts";
import { readLedger } from "../helpers/ledger.ts";
import type { Standalone } from "../../host/src/standalone.ts";

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
