// What the specs that run whole decisions or write replies share (media.spec.ts, native.spec.ts,
// invalid-traffic.spec.ts, bid-response.spec.ts): a model pair of constant predictions, a budget
// that grants every reservation and counts them, the reply writer's settings, text as bytes
// kept alive for the test's length, and a harness that decides requests against a campaign set.
// Not a spec itself (as-pect runs *.spec.ts only).
import { BudgetPort } from "../../core/bidding/budget-port";
import { ImpBid } from "../../core/bidding/imp-bid";
import { LrModelPair, ModelError } from "../../core/model/lr-model";
import { Str } from "../../core/bytes/str";
import { ReplySettings, writeBidResponse } from "../../core/reply/bid-response";
import { CampaignConfigParser } from "../../core/bidding/campaign-config";
import { Campaign, CampaignTable, Creative } from "../../core/bidding/campaign";
import { Decision, DecisionEngine, DecisionSettings } from "../../core/bidding/decision";
import { noBidName } from "../../core/bidding/reasons";
import { BidRequestParser } from "../../core/openrtb/parse";
import { BidRequest } from "../../core/openrtb/request";
import { ByteWriter } from "../../core/bytes/writer";

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

/** A JSON string holding `s` (quotes and backslashes escaped). */
export function jsonString(s: string): string {
  return '"' + s.replaceAll("\\", "\\\\").replaceAll('"', '\\"') + '"';
}

/** A campaign "c1" with these creatives; EV 2.0 CPM (2,000 micros an impression) with the half model. `extra`: more members, each followed by a comma. */
export function campaign(creatives: string, extra: string = ""): string {
  return '{"id":"c1","value_per_conversion_micros":8000,' + extra + '"creatives":[' + creatives + "]}";
}

/**
 * Whole decisions over one impression list and one campaign set (media.spec.ts, native.spec.ts):
 * the campaign file parsed, the request parsed (on news.example), decided with the half model,
 * an open budget, USD with an EUR rate of 1.1, and the reply written.
 */
export class DecisionHarness {
  readonly config: CampaignConfigParser = new CampaignConfigParser();
  readonly requestParser: BidRequestParser = new BidRequestParser();
  readonly req: BidRequest = new BidRequest();
  readonly engine: DecisionEngine = new DecisionEngine(10);
  readonly out: Decision = new Decision();
  readonly model: LrModelPair = halfModel();
  readonly nowMs: i64 = 1704067200000;

  settings(): DecisionSettings {
    const s = new DecisionSettings();
    s.currency.copyFrom(view("USD"));
    s.seat.copyFrom(view("nexus"));
    s.fx.set("EUR", 1.1);
    return s;
  }

  /** The campaign set of these campaigns, or null (the reason in config.error). */
  parseSet(campaigns: string): CampaignTable | null {
    const doc = '{"version":1,"campaigns":[' + campaigns + "]}";
    return this.config.parse(bytesOf(doc), String.UTF8.byteLength(doc));
  }

  /** "OK", or why a campaign with this one creative is refused. */
  errorOf(creative: string): string {
    const t = this.parseSet('{"id":"c","creatives":[' + creative + "]}");
    return t !== null ? "OK" : this.config.error;
  }

  /** The decision on a request with these impressions (`top`: more request members, each after a comma). */
  decide(imps: string, campaigns: string, top: string = ""): Decision {
    const body = '{"id":"r1","imp":[' + imps + '],"site":{"domain":"news.example"}' + top + "}";
    const rc = this.requestParser.parse(bytesOf(body), String.UTF8.byteLength(body), this.req);
    if (rc != 0) trace("request: " + this.requestParser.errorMessage.toString());
    expect(rc).toBe(0);
    const t = this.parseSet(campaigns);
    if (t === null) trace("campaigns: " + this.config.error);
    this.engine.seed(1);
    this.engine.decide(this.req, this.model, t!, this.settings(), new OpenBudget(), this.nowMs, this.out);
    return this.out;
  }

  /** The crid of the single bid, or the no-bid reason's name. */
  outcome(imps: string, campaigns: string, top: string = ""): string {
    const d = this.decide(imps, campaigns, top);
    if (d.count == 0) return noBidName(d.reason);
    expect(d.count).toBe(1);
    return changetype<Creative>(d.bid(0).creative).crid.toString();
  }

  /** The BidResponse of a decision with `bids` bids. */
  replyOf(imps: string, campaigns: string, bids: i32 = 1): string {
    const d = this.decide(imps, campaigns);
    expect(d.count).toBe(bids);
    const s = replySettings();
    const w = new ByteWriter(32768);
    writeBidResponse(w, s, s.noticeBase, view("r1"), d.bids, d.count);
    expect(w.overflowed).toBe(false);
    return String.UTF8.decodeUnsafe(w.base, <usize>w.len);
  }
}
