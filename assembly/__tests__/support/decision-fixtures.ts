// What the specs that run whole decisions or write replies share (media.spec.ts,
// invalid-traffic.spec.ts, bid-response.spec.ts): a model pair of constant predictions, a budget
// that grants every reservation and counts them, the reply writer's settings, and text as bytes
// kept alive for the test's length. Not a spec itself (as-pect runs *.spec.ts only).
import { BudgetPort } from "../../core/bidding/budget-port";
import { Campaign } from "../../core/bidding/campaign";
import { ImpBid } from "../../core/bidding/imp-bid";
import { LrModelPair, ModelError } from "../../core/model/lr-model";
import { Str } from "../../core/bytes/str";
import { ReplySettings } from "../../core/reply/bid-response";

const kept = new Array<ArrayBuffer>();

/** The UTF-8 bytes of `s`, alive until the end of the run. */
export function bytesOf(s: string): usize {
  const b = String.UTF8.encode(s);
  kept.push(b);
  return changetype<usize>(b);
}

/** A Str view of `s` (its bytes kept alive). */
export function view(s: string): Str {
  const v = new Str();
  v.set(bytesOf(s), String.UTF8.byteLength(s));
  return v;
}

/** The reply settings of the reply writer's tests: notices at https://bidder.example, seat nexus, USD. */
export function replySettings(): ReplySettings {
  const s = new ReplySettings();
  s.noticeBase = view("https://bidder.example");
  s.winPath = view("/openrtb2/win");
  s.lossPath = view("/openrtb2/loss");
  s.seat = view("nexus");
  s.currency = view("USD");
  return s;
}

/** pCTR = pCVR = 0.5 for every request (an empty NXM v1 model of 2^10 buckets): EV = 0.25 × value. */
export function halfModel(): LrModelPair {
  const p = bytesOf("x".repeat(32));
  memory.fill(p, 0, 32);
  store<u32>(p, 0x314d584e);
  store<u32>(p, 32, 4);
  store<u8>(p, 10, 8);
  store<u8>(p, 1, 9);
  const m = new LrModelPair(10);
  expect(m.loadNxm(p, 32)).toBe(ModelError.OK);
  return m;
}

/** Grants every reservation in full; counts them. */
export class OpenBudget extends BudgetPort {
  reserved: i32 = 0;
  private nextSeq: u64 = 1;

  reserve(campaign: Campaign, wanted: i64, bid: ImpBid): i64 {
    this.reserved++;
    bid.seq = this.nextSeq++;
    return wanted;
  }

  refund(bid: ImpBid): void {
    bid.reserved = false;
  }
}
