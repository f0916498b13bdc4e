// The bidding decision (assembly/core/bidding/decision.ts) over a parsed
// BidRequest, a CampaignTable from CampaignConfigParser, a model pair loaded
// from an NXM blob built here, and an in-memory BudgetPort.
import { BidRequestParser } from "../core/openrtb/parse";
import { BidRequest } from "../core/openrtb/request";
import { CampaignConfigParser } from "../core/bidding/campaign-config";
import { Campaign, CampaignTable } from "../core/bidding/campaign";
import { BudgetPort } from "../core/bidding/budget-port";
import { Decision, DecisionDeadline, DecisionEngine, DecisionSettings } from "../core/bidding/decision";
import { BID_ID_MAX, ImpBid, ParsedBidId, formatBidId, isTestBidId } from "../core/bidding/imp-bid";
import { NoBid, noBidName } from "../core/bidding/reasons";
import { cpmToImpressionMicrosCeil, microsFloor } from "../core/bidding/money";
import { LrModelPair, ModelError } from "../core/model/lr-model";
import { murmur3_32 } from "../core/hash/murmur3";
import { Str } from "../core/bytes/str";
import { FrequencyPort, capKey, frequencyKey, userKeyOf } from "../core/bidding/frequency";

const BITS: i32 = 10;
const MASK: u32 = (1 << 10) - 1;
/** 2024-01-01T00:00:00Z, a Monday. */
const NOW: i64 = 1704067200000;

const keep = new Array<ArrayBuffer>();

function view(s: string): Str {
  const b = String.UTF8.encode(s);
  keep.push(b);
  const v = new Str();
  v.set(changetype<usize>(b), b.byteLength);
  return v;
}

function bucket(s: string): u32 {
  const b = String.UTF8.encode(s);
  return murmur3_32(changetype<usize>(b), b.byteLength, 0) & MASK;
}

function sig(z: f64): f64 {
  return 1.0 / (1.0 + Math.exp(-z));
}

// ---- model ---------------------------------------------------------------

/** A sparse NXM v1 blob (indexes must be given increasing). */
function nxm(bCtr: f32, bCvr: f32, ctrIdx: u32[], ctrW: f32[], cvrIdx: u32[], cvrW: f32[]): ArrayBuffer {
  const b = new ArrayBuffer(32 + 8 * (ctrIdx.length + cvrIdx.length));
  const p = changetype<usize>(b);
  store<u32>(p, 0x314d584e);
  store<u32>(p, 32, 4);
  store<u8>(p, <u8>BITS, 8);
  store<u8>(p, 1, 9);
  store<f32>(p, bCtr, 12);
  store<f32>(p, bCvr, 16);
  store<u32>(p, <u32>ctrIdx.length, 20);
  store<u32>(p, <u32>cvrIdx.length, 24);
  let off: usize = 32;
  for (let i = 0; i < ctrIdx.length; i++) {
    store<u32>(p + off, ctrIdx[i]);
    store<f32>(p + off, ctrW[i], 4);
    off += 8;
  }
  for (let i = 0; i < cvrIdx.length; i++) {
    store<u32>(p + off, cvrIdx[i]);
    store<f32>(p + off, cvrW[i], 4);
    off += 8;
  }
  return b;
}

function loadModel(blob: ArrayBuffer): LrModelPair {
  const m = new LrModelPair(BITS);
  expect(m.loadNxm(changetype<usize>(blob), blob.byteLength)).toBe(ModelError.OK);
  return m;
}

/** pCTR = pCVR = 0.5 for every request: EV = 0.25 x value. */
const HALF = loadModel(nxm(0, 0, [], [], [], []));

// ---- budget --------------------------------------------------------------

class MemBudget extends BudgetPort {
  /** Most micros one reserve() grants (-1 = all that is asked). */
  grant: i64 = -1;
  /** lastFailure when nothing is granted. */
  failure: i32 = NoBid.BUDGET;
  /** lastFailure of the first reserves that grant nothing, in turn (then `failure`). */
  failures: Array<i32> = new Array<i32>();
  shade: f64 = 1.0;
  /** Market price override in micros (-1 = BudgetPort's default: the campaign prior). */
  market: i64 = -1;
  /** Campaign index reported exhausted (-1 = none). */
  exhaustedIndex: i32 = -1;
  nextSeq: u64 = 0x100;
  wanted: Array<i64> = new Array<i64>();
  reservedFor: Array<string> = new Array<string>();
  refunded: Array<i64> = new Array<i64>();

  isExhausted(campaign: Campaign): bool {
    return campaign.index == this.exhaustedIndex;
  }

  shading(campaign: Campaign): f64 {
    return this.shade;
  }

  marketPriceMicros(campaign: Campaign): i64 {
    return this.market >= 0 ? this.market : super.marketPriceMicros(campaign);
  }

  reserve(campaign: Campaign, wanted: i64, bid: ImpBid): i64 {
    this.wanted.push(wanted);
    this.reservedFor.push(campaign.id.toString());
    const amount = this.grant < 0 || this.grant > wanted ? wanted : this.grant;
    if (amount <= 0) {
      this.lastFailure = this.failures.length > 0 ? this.failures.shift() : this.failure;
      return 0;
    }
    bid.seq = this.nextSeq++;
    return amount;
  }

  refund(bid: ImpBid): void {
    this.refunded.push(bid.priceMicros);
    bid.reserved = false;
  }
}

/** Grants everything, except to `broke` (nothing) and `short` (a tenth of the bid: under the floor). */
class PerCampaignBudget extends MemBudget {
  broke: string = "";
  short: string = "";

  reserve(campaign: Campaign, wanted: i64, bid: ImpBid): i64 {
    const id = campaign.id.toString();
    this.reservedFor.push(id);
    if (id == this.broke) {
      this.lastFailure = NoBid.BUDGET;
      return 0;
    }
    bid.seq = this.nextSeq++;
    return id == this.short ? wanted / 10 : wanted;
  }
}

// ---- request, campaigns, settings ---------------------------------------------

const parser = new BidRequestParser();
const req = new BidRequest();
let body: ArrayBuffer = new ArrayBuffer(0);

function parseReq(json: string): void {
  body = String.UTF8.encode(json);
  const rc = parser.parse(changetype<usize>(body), body.byteLength, req);
  if (rc != 0) trace("request: " + parser.errorMessage.toString());
  expect(rc).toBe(0);
}

const config = new CampaignConfigParser();

function table(campaigns: string): CampaignTable {
  const b = String.UTF8.encode('{"version":1,"campaigns":[' + campaigns + "]}");
  const t = config.parse(changetype<usize>(b), b.byteLength);
  if (t === null) trace("campaigns: " + config.error);
  expect(t).not.toBeNull();
  return t!;
}

const CR_300 = '{"crid":"cr300","w":300,"h":250,"adomain":["adv.example"],"cat":["IAB1"]}';
const CR_728 = '{"crid":"cr728","w":728,"h":90}';

/** A campaign with EV 0.25 x value; `extra` is more members (with a trailing comma). */
function camp(id: string, value: i64, extra: string = "", creatives: string = CR_300): string {
  return '{"id":"' + id + '","value_per_conversion_micros":' + value.toString() + "," + extra + '"creatives":[' + creatives + "]}";
}

/** EV 2000 micros per impression (2.0 CPM) with the HALF model. */
const C1 = camp("c1", 8000);

const IMP = '{"id":"1","banner":{"w":300,"h":250},"bidfloor":0.5}';
const SITE = '"site":{"domain":"news.example"}';
const DEVICE = '"device":{"devicetype":2,"geo":{"country":"USA"}}';

/** A request with the given imps and top-level members. */
function request(imps: string = IMP, top: string = SITE + "," + DEVICE): string {
  return '{"id":"r1","imp":[' + imps + "]" + (top.length > 0 ? "," + top : "") + "}";
}

/** A 300x250 banner imp (floor 0.5) whose banner has the integer list `key` = [list]. */
function bannerWith(key: string, list: string): string {
  return '{"id":"1","banner":{"w":300,"h":250,"' + key + '":[' + list + ']},"bidfloor":0.5}';
}

function imp(id: string, members: string): string {
  return '{"id":"' + id + '",' + members + "}";
}

function settings(currency: string = "USD"): DecisionSettings {
  const s = new DecisionSettings();
  s.currency.copyFrom(view(currency));
  s.seat.copyFrom(view("nexus"));
  s.fx.set("EUR", 1.1);
  return s;
}

const engine = new DecisionEngine(BITS);
const out = new Decision();

function decide(
  reqJson: string,
  campaigns: string,
  budget: MemBudget = new MemBudget(),
  s: DecisionSettings = settings(),
  model: LrModelPair = HALF,
): Decision {
  parseReq(reqJson);
  engine.seed(1);
  engine.decide(req, model, table(campaigns), s, budget, NOW, out);
  return out;
}

/** A deadline that passes after `passAfter` questions, counting them. */
class CountingDeadline extends DecisionDeadline {
  asked: i32 = 0;
  passAfter: i32 = 0;
  passed(): bool {
    this.asked++;
    return this.asked > this.passAfter;
  }
}

/** A campaign set kept across decisions (decide() parses a new one each time). */
let keptTable: CampaignTable | null = null;

/** The price of the single bid on keptTable, or -(reason) when there is none. */
function onKeptTable(reqJson: string): i64 {
  parseReq(reqJson);
  engine.seed(1);
  engine.decide(req, HALF, keptTable!, settings(), new MemBudget(), NOW, out);
  if (out.count == 0) return -(<i64>out.reason);
  return out.bid(0).priceMicros;
}

/** The price of the single bid, or -(reason) when there is none. */
function priceOrReason(reqJson: string, campaigns: string, budget: MemBudget = new MemBudget()): i64 {
  const d = decide(reqJson, campaigns, budget);
  if (d.count == 0) return -(<i64>d.reason);
  expect(d.count).toBe(1);
  return d.bid(0).priceMicros;
}

function nb(reason: i32): i64 {
  return -(<i64>reason);
}

function bidIdOf(b: ImpBid): string {
  return String.UTF8.decodeUnsafe(b.bidId, <usize>b.bidIdLen);
}

// ---- tests ------------------------------------------------------------------

describe("decision: a simple bid", () => {
  it("never bids above 1,000,000 CPM, the highest price a win notice is read at", () => {
    // value 8e12 micros: EV 2e12 micros per impression (2e9 CPM) with the HALF model.
    expect(priceOrReason(request(), camp("big", 8_000_000_000_000))).toBe(1_000_000_000);
    expect(priceOrReason(request(), camp("edge", 4_000_000_000))).toBe(1_000_000_000);
    expect(priceOrReason(request(), camp("under", 3_999_996_000))).toBe(999_999_000);
    // A floor above it cannot be met.
    expect(priceOrReason(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":1000000.001')), camp("big", 8_000_000_000_000))).toBe(nb(NoBid.BELOW_FLOOR));
  });

  it("bids floor(pCTR x pCVR x value), reserves it and formats the bid id", () => {
    const budget = new MemBudget();
    const d = decide(request(), C1, budget);
    expect(d.count).toBe(1);
    expect(d.reason).toBe(NoBid.NONE);
    for (let i = 0; i < NoBid.COUNT; i++) expect(d.impReasons[i]).toBe(0);
    const b = d.bid(0);
    expect(b.priceMicros).toBe(2000);
    expect(b.reserved).toBe(true);
    expect(b.impIndex).toBe(0);
    expect(b.impId.toString()).toBe("1");
    expect(b.campaign!.id.toString()).toBe("c1");
    expect(b.creative!.crid.toString()).toBe("cr300");
    expect(b.seq).toBe(0x100);
    expect(budget.wanted).toStrictEqual([<i64>2000]);
    expect(budget.refunded.length).toBe(0);
    const id = bidIdOf(b);
    expect(id.length).toBe(12);
    expect(id.startsWith("100-")).toBe(true);
    const parsed = new ParsedBidId();
    expect(parsed.parse(b.bidId, b.bidIdLen)).toBe(true);
    expect(parsed.seq).toBe(0x100);
    expect(parsed.nonce).toBe(b.nonce);
  });

  it("scales with value, alpha and the pacing multiplier", () => {
    expect(priceOrReason(request(), camp("c", 12000))).toBe(3000);
    expect(priceOrReason(request(), camp("c", 8000, '"alpha":0.5,'))).toBe(1000);
    const shaded = new MemBudget();
    shaded.shade = 0.5;
    expect(priceOrReason(request(), C1, shaded)).toBe(1000);
    const both = new MemBudget();
    both.shade = 0.5;
    expect(priceOrReason(request(), camp("c", 8000, '"alpha":0.5,'), both)).toBe(500);
    // rounds down to whole micros
    expect(priceOrReason(request(), camp("c", 8003))).toBe(2000);
    expect(priceOrReason(request(), camp("c", 8004))).toBe(2001);
  });

  it("scores the impression's features with the model (and the settings' UTC offset)", () => {
    const wDomain: f32 = 1.0;
    const m = loadModel(nxm(0, 0, [bucket("domain=news.example")], [wDomain], [], []));
    const budget = new MemBudget();
    let d = decide(request(), C1, budget, settings(), m);
    expect(d.count).toBe(1);
    const want = microsFloor(sig(1.0) * 0.5 * 8000.0);
    expect(want).toBe(2924);
    expect(d.bid(0).priceMicros).toBe(want);
    // a pCVR weight on the local hour: only seen with the offset that makes it 05:00
    const h5 = bucket("hour=5");
    const m2 = loadModel(nxm(0, 0, [], [], [h5], [2.0]));
    d = decide(request(), C1, new MemBudget(), settings(), m2);
    expect(d.bid(0).priceMicros).toBe(2000);
    const s = settings();
    s.utcOffsetMinutes = 300;
    d = decide(request(), C1, new MemBudget(), s, m2);
    expect(d.bid(0).priceMicros).toBe(microsFloor(0.5 * sig(2.0) * 8000.0));
  });

  it("caps the bid at max_bid_cpm_micros / 1000", () => {
    expect(priceOrReason(request(), camp("c", 8000, '"max_bid_cpm_micros":1500000,'))).toBe(1500);
    expect(priceOrReason(request(), camp("c", 8000, '"max_bid_cpm_micros":1500999,'))).toBe(1500);
    expect(priceOrReason(request(), camp("c", 8000, '"max_bid_cpm_micros":2500000,'))).toBe(2000);
    expect(priceOrReason(request(), camp("c", 8000, '"max_bid_cpm_micros":0,'))).toBe(2000);
    // capped below the floor (0.5 CPM = 500 micros)
    expect(priceOrReason(request(), camp("c", 8000, '"max_bid_cpm_micros":400000,'))).toBe(nb(NoBid.BELOW_FLOOR));
  });

  // Regression: max_bid_cpm_micros in 1..999 used to truncate to 0 = "no cap".
  it("a max_bid_cpm_micros below 1000 still caps the bid", () => {
    const noFloor = request('{"id":"1","banner":{"w":300,"h":250}}');
    expect(priceOrReason(noFloor, camp("c", 8000, '"max_bid_cpm_micros":999,'))).toBe(nb(NoBid.BELOW_FLOOR));
  });
});

describe("decision: floors and currencies", () => {
  it("bids at or above the floor (CPM x 1000 micros), not below", () => {
    expect(cpmToImpressionMicrosCeil(2.0)).toBe(2000);
    expect(cpmToImpressionMicrosCeil(2.3)).toBe(2300);
    expect(cpmToImpressionMicrosCeil(0.0001)).toBe(1);
    // A floor truly above a whole micro is not met by it (an exchange refuses a bid below its
    // floor); the binary error of a decimal floor is absorbed.
    expect(cpmToImpressionMicrosCeil(2.0000000001)).toBe(2001);
    expect(cpmToImpressionMicrosCeil(2.000000001)).toBe(2001);
    expect(cpmToImpressionMicrosCeil(1.1)).toBe(1100);
    for (let i = 1; i <= 100000; i++) expect(cpmToImpressionMicrosCeil(<f64>i / 1000.0)).toBe(<i64>i);
    for (let i = 1; i <= 10000; i++) expect(cpmToImpressionMicrosCeil((<f64>i / 1000.0) * 1.08)).toBe(<i64>Math.ceil(<f64>i * 1.08 - 1e-9));
    expect(priceOrReason(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":2.0')), C1)).toBe(2000);
    expect(priceOrReason(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":2.001')), C1)).toBe(nb(NoBid.BELOW_FLOOR));
    expect(priceOrReason(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":2.0000001')), C1)).toBe(nb(NoBid.BELOW_FLOOR));
    expect(priceOrReason(request(imp("1", '"banner":{"w":300,"h":250}')), C1)).toBe(2000);
  });

  it("does not reserve when the bid is below the floor", () => {
    const budget = new MemBudget();
    const d = decide(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":3')), C1, budget);
    expect(d.count).toBe(0);
    expect(d.reason).toBe(NoBid.BELOW_FLOOR);
    expect(d.impReasons[NoBid.BELOW_FLOOR]).toBe(1);
    expect(budget.wanted.length).toBe(0);
  });

  it("converts the floor currency with DecisionSettings.fx", () => {
    // 1.8 EUR x 1.1 = 1.98 USD -> 1980 micros <= 2000
    expect(priceOrReason(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":1.8,"bidfloorcur":"EUR"')), C1)).toBe(2000);
    // 1.9 EUR = 2.09 USD > 2.0
    expect(priceOrReason(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":1.9,"bidfloorcur":"EUR"')), C1)).toBe(
      nb(NoBid.BELOW_FLOOR),
    );
    // the account currency itself needs no rate
    expect(priceOrReason(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":1.9,"bidfloorcur":"USD"')), C1)).toBe(2000);
    // codes match up to case
    expect(priceOrReason(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":1.9,"bidfloorcur":"eur"')), C1)).toBe(
      nb(NoBid.BELOW_FLOOR),
    );
    expect(priceOrReason(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":1.8,"bidfloorcur":"Eur"')), C1)).toBe(2000);
    expect(priceOrReason(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":1.9,"bidfloorcur":"usd"')), C1)).toBe(2000);
  });

  it("refuses a floor in a currency without a rate (CURRENCY), but not a zero floor", () => {
    const budget = new MemBudget();
    const d = decide(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":0.01,"bidfloorcur":"JPY"')), C1, budget);
    expect(d.count).toBe(0);
    expect(d.reason).toBe(NoBid.CURRENCY);
    expect(d.impReasons[NoBid.CURRENCY]).toBe(1);
    expect(budget.wanted.length).toBe(0);
    // nothing to convert: the bid stands
    expect(priceOrReason(request(imp("1", '"banner":{"w":300,"h":250},"bidfloorcur":"JPY"')), C1)).toBe(2000);
  });

  it("requires the account currency in the request's cur list (default USD)", () => {
    expect(priceOrReason(request(IMP, SITE + ',"cur":["EUR"]'), C1)).toBe(nb(NoBid.CURRENCY));
    expect(priceOrReason(request(IMP, SITE + ',"cur":["EUR","USD"]'), C1)).toBe(2000);
    // ISO 4217 codes differ by letters, never by case: "usd" is USD.
    expect(priceOrReason(request(IMP, SITE + ',"cur":["usd"]'), C1)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"cur":["eur","Usd"]'), C1)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"cur":["usdx"]'), C1)).toBe(nb(NoBid.CURRENCY));
  });

  it("takes the last rate of a currency set twice (as JSON takes a repeated key's last value)", () => {
    const s = settings();
    const eur = view("EUR");
    const usd = view("USD");
    expect(s.fx.rateToAccount(eur, usd)).toBe(1.1);
    s.fx.set("EUR", 1.25);
    expect(s.fx.rateToAccount(eur, usd)).toBe(1.25);
    expect(s.fx.codes.length).toBe(1);
    expect(s.fx.rateToAccount(view("GBP"), usd)).toBe(0.0);
  });

  it("works in a non-USD account currency", () => {
    const eur = new DecisionSettings();
    eur.currency.copyFrom(view("EUR"));
    eur.fx.set("USD", 0.9);
    // no cur list: OpenRTB's default is USD, which is not the account currency
    let d = decide(request(), C1, new MemBudget(), eur);
    expect(d.count).toBe(0);
    expect(d.reason).toBe(NoBid.CURRENCY);
    // floor 2.1 USD (default bidfloorcur) = 1.89 EUR -> 1890 micros <= 2000
    d = decide(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":2.1'), SITE + ',"cur":["EUR"]'), C1, new MemBudget(), eur);
    expect(d.count).toBe(1);
    expect(d.bid(0).priceMicros).toBe(2000);
    // floor 2.3 USD = 2.07 EUR
    d = decide(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":2.3'), SITE + ',"cur":["EUR"]'), C1, new MemBudget(), eur);
    expect(d.reason).toBe(NoBid.BELOW_FLOOR);
  });
});

describe("decision: request-level refusals", () => {
  it("NO_MODEL without a loaded model (before anything else)", () => {
    const m = new LrModelPair(BITS);
    const budget = new MemBudget();
    const d = decide(request(), C1, budget, settings(), m);
    expect(d.count).toBe(0);
    expect(d.reason).toBe(NoBid.NO_MODEL);
    expect(budget.wanted.length).toBe(0);
    const unloaded = loadModel(nxm(0, 0, [], [], [], []));
    unloaded.unload();
    expect(decide(request(), "", new MemBudget(), settings(), unloaded).reason).toBe(NoBid.NO_MODEL);
  });

  it("NO_CAMPAIGN for an empty table", () => {
    const d = decide(request(), "");
    expect(d.count).toBe(0);
    expect(d.reason).toBe(NoBid.NO_CAMPAIGN);
  });

  it("reason names are stable", () => {
    expect(noBidName(NoBid.NO_MODEL)).toBe("no_model");
    expect(noBidName(NoBid.BELOW_FLOOR)).toBe("below_floor");
    expect(noBidName(NoBid.PAUSED)).toBe("paused");
    expect(noBidName(NoBid.CONTENTION)).toBe("contention");
    expect(noBidName(NoBid.COPPA)).toBe("coppa");
    expect(noBidName(NoBid.RING_FULL)).toBe("ring_full");
    expect(noBidName(NoBid.DSA)).toBe("dsa");
    expect(noBidName(NoBid.FREQUENCY)).toBe("frequency");
    expect(noBidName(NoBid.BOT_USER_AGENT)).toBe("bot_user_agent");
    expect(noBidName(NoBid.DATACENTER_IP)).toBe("datacenter_ip");
    expect(noBidName(NoBid.REPLY_TOO_LARGE)).toBe("reply_too_large");
    // Appended: the numbers before it did not move.
    expect(NoBid.CONTENTION).toBe(9);
    expect(NoBid.COPPA).toBe(13);
    expect(NoBid.RING_FULL).toBe(14);
    expect(NoBid.DSA).toBe(15);
    expect(NoBid.FREQUENCY).toBe(16);
    expect(NoBid.BOT_USER_AGENT).toBe(17);
    expect(NoBid.DATACENTER_IP).toBe(18);
    expect(NoBid.REPLY_TOO_LARGE).toBe(19);
    expect(NoBid.COUNT).toBe(20);
    expect(noBidName(NoBid.COUNT)).toBe("unknown");
    expect(noBidName(-1)).toBe("unknown");
  });
});

describe("decision: targeting", () => {
  it("sizes: the banner's own size, then its formats, with a matching creative", () => {
    const both = CR_300 + "," + CR_728;
    // targeted to 728x90 only: the banner's 300x250 does not match
    expect(priceOrReason(request(), camp("c", 8000, '"targeting":{"sizes":["728x90"]},', both))).toBe(nb(NoBid.NO_MATCH));
    // ... but its format does
    const fmt = imp("1", '"banner":{"w":300,"h":250,"format":[{"w":300,"h":250},{"w":728,"h":90}]}');
    const d = decide(request(fmt), camp("c", 8000, '"targeting":{"sizes":["728x90"]},', both));
    expect(d.count).toBe(1);
    expect(d.bid(0).creative!.crid.toString()).toBe("cr728");
    // no size targeting, but no creative of the banner's size
    expect(priceOrReason(request(), camp("c", 8000, "", CR_728))).toBe(nb(NoBid.NO_MATCH));
    // banner without w/h: the first format with a creative
    const onlyFmt = imp("1", '"banner":{"format":[{"w":320,"h":50},{"w":728,"h":90}]}');
    const d2 = decide(request(onlyFmt), camp("c", 8000, "", both));
    expect(d2.count).toBe(1);
    expect(d2.bid(0).creative!.crid.toString()).toBe("cr728");
    // the banner's own size wins over formats
    const d3 = decide(request(fmt), camp("c", 8000, "", CR_728 + "," + CR_300));
    expect(d3.bid(0).creative!.crid.toString()).toBe("cr300");
    // format lists the sizes permitted (§3.2.6): an own size it leaves out is not bid
    const outside = imp("1", '"banner":{"w":300,"h":250,"format":[{"w":728,"h":90}]}');
    expect(priceOrReason(request(outside), camp("c", 8000, "", CR_300))).toBe(nb(NoBid.NO_MATCH));
    const d4 = decide(request(outside), camp("c", 8000, "", CR_300 + "," + CR_728));
    expect(d4.bid(0).creative!.crid.toString()).toBe("cr728");
    // ...unless format holds a flexible (ratio) entry this reader does not evaluate
    const flex = imp("1", '"banner":{"w":300,"h":250,"format":[{"wratio":6,"hratio":5,"wmin":300}]}');
    expect(priceOrReason(request(flex), camp("c", 8000, "", CR_300))).toBe(2000);
  });

  it("device types", () => {
    const t = camp("c", 8000, '"targeting":{"device_types":[4,5]},');
    expect(priceOrReason(request(), t)).toBe(nb(NoBid.NO_MATCH)); // devicetype 2
    expect(priceOrReason(request(IMP, '"device":{"devicetype":4}'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, '"device":{"devicetype":5}'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE), t)).toBe(nb(NoBid.NO_MATCH)); // no device
    expect(priceOrReason(request(IMP, '"device":{}'), t)).toBe(nb(NoBid.NO_MATCH));
  });

  it("countries", () => {
    const t = camp("c", 8000, '"targeting":{"countries":["USA","CAN"]},');
    expect(priceOrReason(request(), t)).toBe(2000);
    expect(priceOrReason(request(IMP, '"device":{"geo":{"country":"CAN"}}'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, '"device":{"geo":{"country":"MEX"}}'), t)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, '"device":{"ua":"x"}'), t)).toBe(nb(NoBid.NO_MATCH)); // no geo
    expect(priceOrReason(request(IMP, ""), t)).toBe(nb(NoBid.NO_MATCH)); // no device
    // user.geo is not used for targeting
    expect(priceOrReason(request(IMP, '"user":{"geo":{"country":"USA"}}'), t)).toBe(nb(NoBid.NO_MATCH));
    // Alpha-2 and lower case, as some exchanges send them, are the same countries; a campaign may
    // list them so too. A code that is none does not match.
    expect(priceOrReason(request(IMP, '"device":{"geo":{"country":"US"}}'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, '"device":{"geo":{"country":"ca"}}'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, '"device":{"geo":{"country":"usa"}}'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, '"device":{"geo":{"country":"MX"}}'), t)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, '"device":{"geo":{"country":"ZZ"}}'), t)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, '"device":{"geo":{"country":"U"}}'), t)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, '"device":{"geo":{"country":"US1"}}'), t)).toBe(nb(NoBid.NO_MATCH));
    const a2 = camp("c", 8000, '"targeting":{"countries":["de","XK"]},');
    expect(priceOrReason(request(IMP, '"device":{"geo":{"country":"DEU"}}'), a2)).toBe(2000);
    expect(priceOrReason(request(IMP, '"device":{"geo":{"country":"XKX"}}'), a2)).toBe(2000);
    expect(priceOrReason(request(IMP, '"device":{"geo":{"country":"FRA"}}'), a2)).toBe(nb(NoBid.NO_MATCH));
  });

  it("regions, metros and zips of device.geo, each list on top of the others", () => {
    const ca = camp("c", 8000, '"targeting":{"countries":["USA"],"regions":["CA","NY"]},');
    const geo = (g: string): string => request(IMP, '"device":{"geo":{' + g + "}}");
    expect(priceOrReason(geo('"country":"USA","region":"CA"'), ca)).toBe(2000);
    expect(priceOrReason(geo('"country":"USA","region":"TX"'), ca)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(geo('"country":"CAN","region":"CA"'), ca)).toBe(nb(NoBid.NO_MATCH)); // the country list still applies
    expect(priceOrReason(geo('"country":"USA"'), ca)).toBe(nb(NoBid.NO_MATCH)); // no region given
    // Any case, and with the ISO 3166-2 country prefix, on either side.
    expect(priceOrReason(geo('"country":"USA","region":"ca"'), ca)).toBe(2000);
    expect(priceOrReason(geo('"country":"USA","region":"US-NY"'), ca)).toBe(2000);
    expect(priceOrReason(geo('"country":"USA","region":"US-TX"'), ca)).toBe(nb(NoBid.NO_MATCH));
    const prefixed = camp("c", 8000, '"targeting":{"regions":["us-wi"]},');
    expect(priceOrReason(geo('"region":"WI"'), prefixed)).toBe(2000);
    expect(priceOrReason(geo('"region":"wi"'), prefixed)).toBe(2000);
    expect(priceOrReason(geo('"region":"MI"'), prefixed)).toBe(nb(NoBid.NO_MATCH));
    const dma = camp("c", 8000, '"targeting":{"metros":["803","501"]},');
    expect(priceOrReason(geo('"metro":"501"'), dma)).toBe(2000);
    expect(priceOrReason(geo('"metro":"502"'), dma)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, SITE), dma)).toBe(nb(NoBid.NO_MATCH)); // no device
    const zip = camp("c", 8000, '"targeting":{"zips":["94107"],"metros":["807"]},');
    expect(priceOrReason(geo('"zip":"94107","metro":"807"'), zip)).toBe(2000);
    expect(priceOrReason(geo('"zip":"94107","metro":"803"'), zip)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(geo('"zip":"10001","metro":"807"'), zip)).toBe(nb(NoBid.NO_MATCH));
    // Empty lists: any place (as for countries).
    expect(priceOrReason(geo('"region":"TX"'), camp("c", 8000, '"targeting":{"regions":[],"metros":[],"zips":[]},'))).toBe(2000);
    // user.geo is the user's home, not where the ad is seen.
    expect(priceOrReason(request(IMP, '"user":{"geo":{"metro":"803"}}'), dma)).toBe(nb(NoBid.NO_MATCH));
  });

  it("domain allow list (with subdomains) over site.domain or app.bundle", () => {
    const t = camp("c", 8000, '"targeting":{"domains_allow":["example.com","com.game"]},');
    expect(priceOrReason(request(IMP, '"site":{"domain":"example.com"}'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, '"site":{"domain":"news.example.com"}'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, '"site":{"domain":"badexample.com"}'), t)).toBe(nb(NoBid.NO_MATCH));
    // An allow list needs a readable domain of the request's own.
    expect(priceOrReason(request(IMP, '"site":{"domain":"example%2Ecom"}'), t)).toBe(nb(NoBid.NO_MATCH));
    // Without site.domain, the host of site.page; a domain written as a URL, with a port or a trailing dot.
    expect(priceOrReason(request(IMP, '"site":{"page":"https://example.com/"}'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, '"site":{"page":"https://badexample.com/?example.com"}'), t)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, '"site":{"domain":"https://news.example.com:8443"}'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, '"site":{"domain":"example.com."}'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, '"app":{"bundle":"com.game"}'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, '"app":{"bundle":"com.other"}'), t)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, ""), t)).toBe(nb(NoBid.NO_MATCH));
  });

  it("domain block list (with subdomains); no domain is not blocked", () => {
    const t = camp("c", 8000, '"targeting":{"domains_block":["bad.example"]},');
    expect(priceOrReason(request(IMP, '"site":{"domain":"bad.example"}'), t)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, '"site":{"domain":"www.bad.example"}'), t)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, '"site":{"domain":"notbad.example"}'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, '"app":{"bundle":"bad.example"}'), t)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, ""), t)).toBe(2000);
  });

  // An audit bid on a blocked domain whenever the exchange wrote it in another form than site.domain.
  it("domain block list: the domain in any form, in any of the request's domain fields", () => {
    const t = camp("c", 8000, '"targeting":{"domains_block":["bad.example"]},');
    const blocked = [
      '"site":{"page":"https://bad.example/x"}', // no site.domain
      '"site":{"domain":"bad.example."}', // a trailing dot (the DNS root)
      '"site":{"domain":"https://bad.example"}', // a URL
      '"site":{"domain":"bad.example:443"}', // a port
      '"site":{"page":"//user@www.bad.example:8080/a#b"}', // scheme-relative, user info, a port
      '"site":{"domain":"good.example","page":"https://bad.example/"}', // the page says otherwise
      '"site":{},"app":{"bundle":"bad.example"}', // an empty site beside the app
      '"app":{"bundle":"com.good","domain":"bad.example"}', // app.domain
    ];
    for (let i = 0; i < blocked.length; i++) expect(priceOrReason(request(IMP, blocked[i]), t)).toBe(nb(NoBid.NO_MATCH), blocked[i]);
    // A review's forms (compared with WHATWG URL parsing): whitespace, backslashes, slashes after
    // the scheme, user info after a backslash; what cannot be read without decoding (percent-escapes,
    // non-ASCII) is refused by a block list rather than let through.
    const review = [
      '"site":{"domain":"bad.example "}', '"site":{"domain":"bad.example\\t"}', '"site":{"page":" https://bad.example/"}',
      '"site":{"page":"https:///bad.example/"}', '"site":{"page":"https:/bad.example/"}', '"site":{"page":"https:bad.example"}',
      '"site":{"page":"https://bad.example\\\\@good.example/"}', '"site":{"page":"HTTPS:\\\\bad.example\\\\path"}',
      '"site":{"page":"https://bad%2Eexample/"}', '"site":{"page":"https://%62ad.example/"}', '"site":{"domain":"bad\u3002example"}',
    ];
    for (let i = 0; i < review.length; i++) expect(priceOrReason(request(IMP, review[i]), t)).toBe(nb(NoBid.NO_MATCH), review[i]);
    // A second review's: ports that are not digits, brackets, special schemes without slashes,
    // a blob: URL, no host after a scheme.
    const review2 = [
      '"site":{"domain":"bad.example:abc"}', '"site":{"domain":"bad.example:443."}', '"site":{"domain":"bad.example:80:80"}',
      '"site":{"page":"http://bad.example:8080x/"}', '"site":{"page":"ws:bad.example"}', '"site":{"domain":"[bad.example]"}',
      '"site":{"page":"https:://bad.example/"}', '"site":{"domain":"https:://bad.example"}', '"site":{"page":"http::bad.example"}',
      '"site":{"page":"blob:https://bad.example/x"}',
    ];
    for (let i = 0; i < review2.length; i++) expect(priceOrReason(request(IMP, review2[i]), t)).toBe(nb(NoBid.NO_MATCH), review2[i]);
    // International names are compared as sent (a false block would lose real inventory).
    expect(priceOrReason(request(IMP, '"site":{"domain":"bücher.de","page":"https://bücher.de/straße?q=%20"}'), t)).toBe(2000);
    const fine = ['"site":{"page":"https://good.example/bad.example"}', '"site":{"domain":"bad.example.good.example"}', '"site":{"page":"bad.example-news.com"}', '"app":{"bundle":"12345678"}'];
    for (let i = 0; i < fine.length; i++) expect(priceOrReason(request(IMP, fine[i]), t)).toBe(2000, fine[i]);
  });

  // DNS names are case-insensitive: "BAD.example" must not get past the block list.
  it("a block-listed domain in another letter case is still blocked", () => {
    const t = camp("c", 8000, '"targeting":{"domains_block":["bad.example"]},');
    expect(priceOrReason(request(IMP, '"site":{"domain":"BAD.Example"}'), t)).toBe(nb(NoBid.NO_MATCH));
  });

  it("badv and bcat block a creative (BLOCKED)", () => {
    expect(priceOrReason(request(IMP, SITE + ',"badv":["adv.example"]'), C1)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"bcat":["IAB9","IAB1"]'), C1)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"badv":["other.example"],"bcat":["IAB2"]'), C1)).toBe(2000);
    // badv matches whole labels: "dv.example" is not "adv.example"
    expect(priceOrReason(request(IMP, SITE + ',"badv":["dv.example"]'), C1)).toBe(2000);
    // another campaign's creative is not blocked
    const d = decide(request(IMP, SITE + ',"badv":["adv.example"]'), C1 + "," + camp("c2", 4000, "", CR_728 + ',{"crid":"ok","w":300,"h":250}'));
    expect(d.count).toBe(1);
    expect(d.bid(0).campaign!.id.toString()).toBe("c2");
    expect(d.bid(0).priceMicros).toBe(1000);
  });

  it("a bcat in a taxonomy the creative has no categories in blocks it when it has categories in another", () => {
    // cattax 1 (the default, IAB 1.0) compares as usual.
    expect(priceOrReason(request(IMP, SITE + ',"cattax":1,"bcat":["IAB2"]'), C1)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"cattax":1,"bcat":["IAB1"]'), C1)).toBe(nb(NoBid.BLOCKED));
    // Content Taxonomy 2.0 ids cannot be compared with the creative's IAB1: blocked, whatever the codes.
    expect(priceOrReason(request(IMP, SITE + ',"cattax":2,"bcat":["52"]'), C1)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"cattax":2,"bcat":["IAB2"]'), C1)).toBe(nb(NoBid.BLOCKED));
    // No bcat: nothing to compare, whatever the taxonomy.
    expect(priceOrReason(request(IMP, SITE + ',"cattax":2'), C1)).toBe(2000);
    // A creative without categories is not blocked by a bcat in any taxonomy (as with cattax 1).
    const d = decide(request(IMP, SITE + ',"cattax":7,"bcat":["1"]'), C1 + "," + camp("c2", 4000, "", CR_728 + ',{"crid":"ok","w":300,"h":250}'));
    expect(d.count).toBe(1);
    expect(d.bid(0).campaign!.id.toString()).toBe("c2");
    // The other way round: categories only in Content 3.0 cannot be compared with an IAB 1.0 bcat.
    const only7 = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"cat_by_taxonomy":{"7":["52"]}}');
    expect(priceOrReason(request(IMP, SITE + ',"bcat":["IAB2"]'), only7)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE), only7)).toBe(2000);
  });

  it("a bcat in a taxonomy the creative declares categories in is compared there, code for code", () => {
    const t = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"cat":["IAB3-1"],"cat_by_taxonomy":{"7":["52","483"],"8":["1234"]}}');
    expect(priceOrReason(request(IMP, SITE + ',"cattax":7,"bcat":["1","2"]'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"cattax":7,"bcat":["9","483"]'), t)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"cattax":8,"bcat":["1234"]'), t)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"cattax":8,"bcat":["52"]'), t)).toBe(2000); // 52 is the creative's in 7, not in 8
    // Outside IAB 1.0 the ids do not show parents: "48" is not a parent of "483", nor "IAB3" of "IAB3-1" there.
    expect(priceOrReason(request(IMP, SITE + ',"cattax":7,"bcat":["48"]'), t)).toBe(2000);
    // IAB 1.0 keeps its subcategory rule.
    expect(priceOrReason(request(IMP, SITE + ',"bcat":["IAB3"]'), t)).toBe(nb(NoBid.BLOCKED));
    // A taxonomy it has nothing in: not comparable, blocked.
    expect(priceOrReason(request(IMP, SITE + ',"cattax":6,"bcat":["1"]'), t)).toBe(nb(NoBid.BLOCKED));
  });

  it("acat (2.6) allows only creatives whose categories are all listed, in the request's taxonomy", () => {
    const t = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"cat":["IAB3-1","IAB2"],"cat_by_taxonomy":{"7":["52"]}}');
    expect(priceOrReason(request(IMP, SITE + ',"acat":["IAB3","IAB2"]'), t)).toBe(2000); // IAB3 covers IAB3-1
    expect(priceOrReason(request(IMP, SITE + ',"acat":["IAB3-1","IAB2","IAB9"]'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"acat":["IAB3"]'), t)).toBe(nb(NoBid.BLOCKED)); // IAB2 not allowed
    expect(priceOrReason(request(IMP, SITE + ',"acat":["IAB3-11","IAB2"]'), t)).toBe(nb(NoBid.BLOCKED)); // not a parent
    expect(priceOrReason(request(IMP, SITE + ',"cattax":7,"acat":["52"]'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"cattax":7,"acat":["5"]'), t)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"cattax":6,"acat":["52"]'), t)).toBe(nb(NoBid.BLOCKED)); // nothing in 6
    // Without categories nothing shows a creative is allowed.
    const plain = camp("c", 8000, "", '{"crid":"x","w":300,"h":250}');
    expect(priceOrReason(request(IMP, SITE + ',"acat":["IAB1"]'), plain)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"acat":[]'), plain)).toBe(2000); // empty: not given
    // Both lists (the spec says one or the other): both apply.
    expect(priceOrReason(request(IMP, SITE + ',"acat":["IAB3","IAB2"],"bcat":["IAB3-1"]'), t)).toBe(nb(NoBid.BLOCKED));
    // Another campaign whose creative is allowed takes the impression.
    const d = decide(request(IMP, SITE + ',"acat":["IAB1"]'), camp("c0", 9000, "", '{"crid":"x","w":300,"h":250}') + "," + C1);
    expect(d.count).toBe(1);
    expect(d.bid(0).campaign!.id.toString()).toBe("c1");
  });

  it("bapp refuses a creative that advertises a listed app (its app store id, in any case); creatives without one pass", () => {
    const app = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"bundle":"com.brand.game"}');
    expect(priceOrReason(request(IMP, SITE), app)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"bapp":["com.brand.game"]'), app)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"bapp":["other.app","COM.Brand.Game"]'), app)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"bapp":["com.brand","com.brand.game.lite"]'), app)).toBe(2000); // whole ids only
    // A long list (hashed): listed or not.
    let long = "";
    for (let i = 0; i < 40; i++) long += '"com.other' + i.toString() + '",';
    expect(priceOrReason(request(IMP, SITE + ',"bapp":[' + long + '"com.brand.game"]'), app)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"bapp":[' + long + '"com.brand.gam"]'), app)).toBe(2000);
    // Longer than the parser keeps (512): the part left out could list it, so app-install creatives
    // are refused; a creative that advertises no app is not concerned.
    let huge = "";
    for (let i = 0; i < 600; i++) huge += (i > 0 ? "," : "") + '"a' + i.toString() + '"';
    expect(priceOrReason(request(IMP, SITE + ',"bapp":[' + huge + "]"), app)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"bapp":[' + huge + "]"), C1)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"bapp":["com.brand.game"]'), C1)).toBe(2000);
    // Another campaign takes the impression, and its bid names its app.
    const d = decide(request(IMP, SITE + ',"bapp":["com.brand.game"]'), camp("c0", 9000, "", '{"crid":"x","w":300,"h":250,"bundle":"com.brand.game"}') + "," +
      camp("c1", 8000, "", '{"crid":"y","w":300,"h":250,"bundle":"id1234567"}'));
    expect(d.count).toBe(1);
    expect(d.bid(0).campaign!.id.toString()).toBe("c1");
    expect(d.bid(0).creative!.bundle.toString()).toBe("1234567"); // the App Store number, as OpenRTB names it
  });

  it("an App Store id is one app written \"1234567\" (OpenRTB's form) or \"id1234567\" (the store URL's), in bapp, the creative's bundle and the domain lists", () => {
    const byPrefixed = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"bundle":"id1234567890"}');
    const byNumber = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"bundle":"1617391485"}');
    expect(priceOrReason(request(IMP, SITE + ',"bapp":["1234567890"]'), byPrefixed)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"bapp":["ID1617391485"]'), byNumber)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"bapp":["id161739148"]'), byNumber)).toBe(2000); // another number
    // bid.bundle names it as OpenRTB does: the number.
    const d = decide(request(IMP, SITE), byPrefixed);
    expect(d.count).toBe(1);
    expect(d.bid(0).creative!.bundle.toString()).toBe("1234567890");
    // "id" before something else is not the App Store's prefix: kept and compared as written.
    const other = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"bundle":"id12ab"}');
    expect(decide(request(IMP, SITE), other).bid(0).creative!.bundle.toString()).toBe("id12ab");
    expect(priceOrReason(request(IMP, SITE + ',"bapp":["12ab"]'), other)).toBe(2000);
    // The domain lists read app.bundle the same way.
    const block = (entry: string): string => camp("c", 8000, '"targeting":{"domains_block":["' + entry + '"]},');
    const allow = (entry: string): string => camp("c", 8000, '"targeting":{"domains_allow":["' + entry + '"]},');
    expect(priceOrReason(request(IMP, '"app":{"bundle":"id1617391485"}'), block("1617391485"))).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, '"app":{"bundle":"1617391485"}'), block("id1617391485"))).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, '"app":{"bundle":"1617391485"}'), allow("ID1617391485"))).toBe(2000);
    expect(priceOrReason(request(IMP, '"app":{"bundle":"id1617391485"}'), allow("1617391485"))).toBe(2000);
    expect(priceOrReason(request(IMP, '"app":{"bundle":"id1617391486"}'), allow("1617391485"))).toBe(nb(NoBid.NO_MATCH));
  });

  it("targeting.rewarded: true buys rewarded slots only (imp.rwdd 1), false only the others; left out, either", () => {
    const rewarded = imp("1", '"rwdd":1,"banner":{"w":300,"h":250},"bidfloor":0.5');
    const plain = imp("1", '"rwdd":0,"banner":{"w":300,"h":250},"bidfloor":0.5');
    const only = camp("c", 8000, '"targeting":{"rewarded":true},');
    const never = camp("c", 8000, '"targeting":{"rewarded":false},');
    expect(priceOrReason(request(rewarded), only)).toBe(2000);
    expect(priceOrReason(request(plain), only)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP), only)).toBe(nb(NoBid.NO_MATCH)); // rwdd left out: 0
    expect(priceOrReason(request(rewarded), never)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(plain), never)).toBe(2000);
    expect(priceOrReason(request(rewarded), C1)).toBe(2000);
    expect(priceOrReason(request(plain), C1)).toBe(2000);
    // The flags 2.5 exchanges and SDK mediation send instead of imp.rwdd.
    expect(priceOrReason(request(imp("1", '"ext":{"is_rewarded_inventory":1},"banner":{"w":300,"h":250},"bidfloor":0.5')), only)).toBe(2000);
    expect(priceOrReason(request(imp("1", '"ext":{"rewarded":true,"other":{"x":1}},"banner":{"w":300,"h":250},"bidfloor":0.5')), only)).toBe(2000);
    expect(priceOrReason(request(imp("1", '"ext":{"rewarded":0},"banner":{"w":300,"h":250},"bidfloor":0.5')), only)).toBe(nb(NoBid.NO_MATCH));
    // Exchange-specific: a value of another form is not a 400, and not a rewarded slot.
    expect(priceOrReason(request(imp("1", '"ext":{"rewarded":"yes","is_rewarded_inventory":{"a":[1]}},"banner":{"w":300,"h":250},"bidfloor":0.5')), only)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(imp("1", '"ext":{"rewarded":2},"banner":{"w":300,"h":250},"bidfloor":0.5')), C1)).toBe(2000);
    expect(priceOrReason(request(imp("1", '"ext":{"is_rewarded_inventory":1},"banner":{"w":300,"h":250},"bidfloor":0.5')), never)).toBe(nb(NoBid.NO_MATCH));
    // targeting.interstitial the same way, by imp.instl.
    const full = camp("c", 8000, '"targeting":{"interstitial":true},');
    const inline = camp("c", 8000, '"targeting":{"interstitial":false},');
    const instl = imp("1", '"instl":1,"banner":{"w":300,"h":250},"bidfloor":0.5');
    expect(priceOrReason(request(instl), full)).toBe(2000);
    expect(priceOrReason(request(IMP), full)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(instl), inline)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP), inline)).toBe(2000);
    // Per impression: of two, the rewarded one gets the bid.
    const d = decide(request(plain + "," + imp("2", '"rwdd":1,"banner":{"w":300,"h":250},"bidfloor":0.5')), only);
    expect(d.count).toBe(1);
    expect(d.bid(0).impIndex).toBe(1);
  });

  it("wlang and wlangb (2.6) admit only creatives in a listed language, or without linguistic content", () => {
    const cr = (language: string): string => camp("c", 8000, "", '{"crid":"x","w":300,"h":250' + (language.length > 0 ? ',"language":"' + language + '"' : "") + "}");
    expect(priceOrReason(request(IMP, SITE + ',"wlang":["de","en"]'), cr("en"))).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"wlang":["DE","EN"]'), cr("en"))).toBe(2000); // any letter case
    expect(priceOrReason(request(IMP, SITE + ',"wlang":["de"]'), cr("en"))).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"wlang":["pt"]'), cr("pt-BR"))).toBe(2000); // its primary subtag
    // Entries written as locales are read as their language (exchanges send them, though wlang is ISO 639-1).
    expect(priceOrReason(request(IMP, SITE + ',"wlang":["en-US"]'), cr("en"))).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"wlang":["pt_BR"]'), cr("pt-PT"))).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"wlang":["en-US"]'), cr("de"))).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"wlang":["eng"]'), cr("en"))).toBe(nb(NoBid.BLOCKED)); // another code, not a locale
    expect(priceOrReason(request(IMP, SITE + ',"wlang":["e"]'), cr("en"))).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"wlang":["p"]'), cr("pt-BR"))).toBe(nb(NoBid.BLOCKED));
    // wlangb: RFC 4647 basic filtering, a range covers the tags under it.
    expect(priceOrReason(request(IMP, SITE + ',"wlangb":["pt"]'), cr("pt-BR"))).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"wlangb":["pt-br"]'), cr("pt-BR"))).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"wlangb":["pt-PT"]'), cr("pt-BR"))).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"wlangb":["pt-BR"]'), cr("pt"))).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"wlangb":["p"]'), cr("pt"))).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"wlangb":["*"]'), cr("pt"))).toBe(2000);
    // "xx": no linguistic content, admitted by any list; no language declared: refused by any list.
    expect(priceOrReason(request(IMP, SITE + ',"wlang":["de"],"wlangb":["de-AT"]'), cr("xx"))).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"wlang":["de"]'), cr(""))).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"wlangb":["*"]'), cr(""))).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"wlang":[]'), cr(""))).toBe(2000); // empty: not given
    expect(priceOrReason(request(IMP, SITE), cr(""))).toBe(2000);
    // Both lists: both apply.
    expect(priceOrReason(request(IMP, SITE + ',"wlang":["en"],"wlangb":["en-US"]'), cr("en-GB"))).toBe(nb(NoBid.BLOCKED));
    // The language rule holds whatever the category lists say.
    expect(priceOrReason(request(IMP, SITE + ',"bcat":["IAB9"],"wlang":["de"]'), cr("en"))).toBe(nb(NoBid.BLOCKED));
  });

  it("DSA transparency (regs.ext.dsa): required, only campaigns that declare it and whose rendering fits bid", () => {
    const DSA0 = '"dsa":{"behalf":"Brand","paid":"Agency"},';
    const DSA1 = '"dsa":{"behalf":"Brand","paid":"Agency","adrender":1},';
    const regs = (required: i32, pubrender: i32 = -1): string =>
      SITE + ',"regs":{"ext":{"dsa":{"dsarequired":' + required.toString() + (pubrender >= 0 ? ',"pubrender":' + pubrender.toString() : "") + ',"datatopub":2,"transparency":[]}}}';
    const plain = camp("c", 8000);
    const with0 = camp("c", 8000, DSA0);
    const with1 = camp("c", 8000, DSA1);
    // Not required (0, 1, absent): every campaign bids.
    expect(priceOrReason(request(IMP, regs(0)), plain)).toBe(2000);
    expect(priceOrReason(request(IMP, regs(1)), plain)).toBe(2000);
    // Required (2, 3, or a later value): only campaigns with dsa.
    expect(priceOrReason(request(IMP, regs(2)), plain)).toBe(nb(NoBid.DSA));
    expect(priceOrReason(request(IMP, regs(3)), plain)).toBe(nb(NoBid.DSA));
    expect(priceOrReason(request(IMP, regs(4)), plain)).toBe(nb(NoBid.DSA));
    expect(priceOrReason(request(IMP, regs(2)), with0)).toBe(2000);
    // Someone must show the notice, once.
    expect(priceOrReason(request(IMP, regs(2, 0)), with0)).toBe(nb(NoBid.DSA)); // publisher cannot, creative does not
    expect(priceOrReason(request(IMP, regs(2, 0)), with1)).toBe(2000);
    expect(priceOrReason(request(IMP, regs(2, 2)), with1)).toBe(nb(NoBid.DSA)); // both would
    expect(priceOrReason(request(IMP, regs(2, 2)), with0)).toBe(2000);
    expect(priceOrReason(request(IMP, regs(2, 1)), with0)).toBe(2000);
    expect(priceOrReason(request(IMP, regs(2, 1)), with1)).toBe(2000);
    // The campaign that can give it takes the impression from a higher-valued one that cannot.
    const d = decide(request(IMP, regs(3)), camp("hi", 9000) + "," + camp("dsa", 8000, DSA0));
    expect(d.count).toBe(1);
    expect(d.bid(0).campaign!.id.toString()).toBe("dsa");
    expect(d.bid(0).dsa).not.toBeNull();
    // Checked before the campaign's state: a paused campaign without dsa could not bid here either.
    expect(priceOrReason(request(IMP, regs(2)), camp("c", 8000, '"active":false,'))).toBe(nb(NoBid.DSA));
  });

  it("a bid carries the campaign's DSA transparency where the request supports it and its rendering fits", () => {
    const DSA0 = '"dsa":{"behalf":"Brand","paid":"Agency"},';
    const req = (dsa: string, user: string = ""): string => request(IMP, SITE + ',"regs":{"ext":{"dsa":' + dsa + "}}" + user);
    expect(decide(request(IMP, SITE), camp("c", 8000, DSA0)).bid(0).dsa).toBeNull(); // not asked
    expect(decide(req('{"dsarequired":0}'), camp("c", 8000, DSA0)).bid(0).dsa).toBeNull();
    expect(decide(req('{"dsarequired":1}'), camp("c", 8000, DSA0)).bid(0).dsa).not.toBeNull();
    // Supported only, and the rendering conflicts: the bid goes without (an exchange drops a conflicting one).
    expect(decide(req('{"dsarequired":1,"pubrender":0}'), camp("c", 8000, DSA0)).bid(0).dsa).toBeNull();
    // Profiling: the user's segments were used (not on a contextual request).
    const segs = ',"user":{"data":[{"id":"dp","segment":[{"id":"s1"}]}]}';
    expect(decide(req('{"dsarequired":2}', segs), camp("c", 8000, DSA0)).bid(0).profiled).toBe(true);
    expect(decide(req('{"dsarequired":2}'), camp("c", 8000, DSA0)).bid(0).profiled).toBe(false);
    expect(decide(req('{"dsarequired":2}', segs + ',"device":{"dnt":1}'), camp("c", 8000, DSA0)).bid(0).profiled).toBe(false);
  });

  it("schain_complete: only requests whose supply chain says it is complete (2.6 or 2.5 location)", () => {
    const spo = camp("c", 8000, '"targeting":{"schain_complete":true},');
    const nodes = '"nodes":[{"asi":"exchange.example","sid":"1","hp":1}]';
    expect(priceOrReason(request(IMP, SITE + ',"source":{"schain":{"complete":1,"ver":"1.0",' + nodes + "}}"), spo)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"source":{"ext":{"schain":{"complete":1,"ver":"1.0",' + nodes + "}}}"), spo)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"source":{"schain":{"complete":0,"ver":"1.0",' + nodes + "}}"), spo)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, SITE + ',"source":{"tid":"t"}'), spo)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, SITE), spo)).toBe(nb(NoBid.NO_MATCH));
    // The 2.6 location wins over 2.5's when both are sent.
    expect(priceOrReason(request(IMP, SITE + ',"source":{"schain":{"complete":0,' + nodes + '},"ext":{"schain":{"complete":1,' + nodes + "}}}"), spo)).toBe(nb(NoBid.NO_MATCH));
    // Without the rule, any request.
    expect(priceOrReason(request(IMP, SITE), camp("c", 8000, '"targeting":{"schain_complete":false},'))).toBe(2000);
  });

  it("schain_max_nodes: only supply chains with at most that many nodes", () => {
    const node = '{"asi":"x.example","sid":"1","hp":1}';
    const chain = (n: i32, complete: i32 = 1): string => {
      const nodes = new Array<string>();
      for (let i = 0; i < n; i++) nodes.push(node);
      return request(IMP, SITE + ',"source":{"schain":{"complete":' + complete.toString() + ',"ver":"1.0","nodes":[' + nodes.join(",") + "]}}");
    };
    const direct = camp("c", 8000, '"targeting":{"schain_max_nodes":2},');
    expect(priceOrReason(chain(1), direct)).toBe(2000);
    expect(priceOrReason(chain(2), direct)).toBe(2000);
    expect(priceOrReason(chain(3), direct)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(chain(2, 0), direct)).toBe(2000); // completeness is the other rule
    expect(priceOrReason(request(IMP, SITE), direct)).toBe(nb(NoBid.NO_MATCH)); // no chain: cannot tell
    const both = camp("c", 8000, '"targeting":{"schain_max_nodes":2,"schain_complete":true},');
    expect(priceOrReason(chain(2, 0), both)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(chain(2, 1), both)).toBe(2000);
  });

  it("schain_sellers_allow / _block: every node named by an allow entry, none by a block entry", () => {
    const chain = (nodes: string): string => request(IMP, SITE + ',"source":{"schain":{"complete":1,"ver":"1.0","nodes":[' + nodes + "]}}");
    const pub = '{"asi":"ssp.example","sid":"pub-1","hp":1}';
    const ex = '{"asi":"Exchange.Example","sid":"r-9","hp":1}';
    const reseller = '{"asi":"resell.example","sid":"x","hp":1}';
    const allow = camp("c", 8000, '"targeting":{"schain_sellers_allow":["ssp.example","exchange.example:r-9"]},');
    expect(priceOrReason(chain(pub + "," + ex), allow)).toBe(2000); // asi compared ignoring case
    expect(priceOrReason(chain(pub + "," + reseller + "," + ex), allow)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(chain(pub + ',{"asi":"exchange.example","sid":"r-10"}'), allow)).toBe(nb(NoBid.NO_MATCH)); // another seller there
    expect(priceOrReason(chain('{"asi":"sub.ssp.example","sid":"1"}'), allow)).toBe(nb(NoBid.NO_MATCH)); // whole domains only
    expect(priceOrReason(chain('{"sid":"pub-1"}'), allow)).toBe(nb(NoBid.NO_MATCH)); // a node without asi
    expect(priceOrReason(request(IMP, SITE), allow)).toBe(nb(NoBid.NO_MATCH)); // no chain: cannot tell
    // A chain without nodes (nodes is required) tells nothing of the sellers: as no chain.
    expect(priceOrReason(chain(""), allow)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, SITE + ',"source":{"schain":{"complete":1,"ver":"1.0"}}'), allow)).toBe(nb(NoBid.NO_MATCH));
    // An empty 2.6 chain does not hide a 2.5 chain (an audit bid through one naming a seller not allowed).
    const bad = '{"asi":"bad.example","sid":"1","hp":1}';
    expect(priceOrReason(request(IMP, SITE + ',"source":{"schain":{},"ext":{"schain":{"complete":1,"nodes":[' + bad + "]}}}"), allow)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, SITE + ',"source":{"schain":{},"ext":{"schain":{"complete":1,"nodes":[' + pub + "]}}}"), allow)).toBe(2000);
    const block = camp("c", 8000, '"targeting":{"schain_sellers_block":["resell.example:x"]},');
    expect(priceOrReason(chain(pub + "," + ex), block)).toBe(2000);
    expect(priceOrReason(chain(pub + "," + reseller + "," + ex), block)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(chain(pub + ',{"asi":"resell.example","sid":"y"}'), block)).toBe(2000); // another account
    expect(priceOrReason(request(IMP, SITE), block)).toBe(2000); // no chain: no node to block
    // 2.5's location, and a chain longer than the 16 nodes kept cannot be checked node by node.
    expect(priceOrReason(request(IMP, SITE + ',"source":{"ext":{"schain":{"complete":1,"nodes":[' + pub + "," + reseller + "]}}}"), block)).toBe(nb(NoBid.NO_MATCH));
    const long = new Array<string>();
    for (let i = 0; i < 17; i++) long.push(pub);
    expect(priceOrReason(chain(long.slice(0, 16).join(",")), allow)).toBe(2000);
    expect(priceOrReason(chain(long.join(",")), allow)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(chain(long.join(",")), block)).toBe(nb(NoBid.NO_MATCH));
    // With the other supply-path rules.
    const both = camp("c", 8000, '"targeting":{"schain_sellers_block":["resell.example"],"schain_max_nodes":1},');
    expect(priceOrReason(chain(pub), both)).toBe(2000);
    expect(priceOrReason(chain(pub + "," + ex), both)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(IMP, SITE), both)).toBe(nb(NoBid.NO_MATCH));
  });

  it("a creative that needs API frameworks (MRAID, OMID) bids only where the banner supports all of them", () => {
    const mraid = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"api":[5,7]}');
    expect(priceOrReason(request(bannerWith("api", "3,5,7")), mraid)).toBe(2000);
    expect(priceOrReason(request(bannerWith("api", "5")), mraid)).toBe(nb(NoBid.BLOCKED)); // no OMID
    expect(priceOrReason(request(IMP), mraid)).toBe(nb(NoBid.BLOCKED)); // no api: none supported
    // A creative that needs none bids anywhere.
    expect(priceOrReason(request(IMP), C1)).toBe(2000);
    // The plain creative of another campaign takes an impression the MRAID one cannot.
    const d = decide(request(bannerWith("api", "3")), mraid + "," + camp("plain", 4000));
    expect(d.count).toBe(1);
    expect(d.bid(0).campaign!.id.toString()).toBe("plain");
  });

  it("MRAID containers run older MRAID ads: MRAID-1 where MRAID-2 or 3 is listed, MRAID-2 where MRAID-3 is; never newer, and other frameworks as listed", () => {
    const needs = (api: string): string => camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"api":[' + api + "]}");
    expect(priceOrReason(request(bannerWith("api", "6,7")), needs("5"))).toBe(2000);
    expect(priceOrReason(request(bannerWith("api", "6")), needs("3"))).toBe(2000);
    expect(priceOrReason(request(bannerWith("api", "5")), needs("3"))).toBe(2000);
    expect(priceOrReason(request(bannerWith("api", "6,7")), needs("5,7"))).toBe(2000);
    expect(priceOrReason(request(bannerWith("api", "5")), needs("6"))).toBe(nb(NoBid.BLOCKED)); // MRAID-3 ad, MRAID-2 slot
    expect(priceOrReason(request(bannerWith("api", "3")), needs("5"))).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(bannerWith("api", "6")), needs("5,7"))).toBe(nb(NoBid.BLOCKED)); // no OMID
    expect(priceOrReason(request(bannerWith("api", "1,2")), needs("3"))).toBe(nb(NoBid.BLOCKED)); // VPAID is not MRAID
  });

  it("dayparting: hours and weekdays on the user's clock (device.geo.utcoffset), else the filter's", () => {
    // NOW is Monday 2024-01-01 00:00 UTC.
    const dp = (t: string): string => camp("c", 8000, '"targeting":{' + t + "},");
    const at = (geo: string): string => request(IMP, SITE + ',"device":{"geo":{' + geo + "}}");
    expect(priceOrReason(at(""), dp('"hours":[0]'))).toBe(2000);
    expect(priceOrReason(at(""), dp('"hours":[1,2,23]'))).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(at(""), dp('"weekdays":[1]'))).toBe(2000); // Monday
    expect(priceOrReason(at(""), dp('"weekdays":[0,6]'))).toBe(nb(NoBid.NO_MATCH));
    // The user is an hour behind UTC: Sunday 23:00 there.
    expect(priceOrReason(at('"utcoffset":-60'), dp('"hours":[23],"weekdays":[0]'))).toBe(2000);
    expect(priceOrReason(at('"utcoffset":-60'), dp('"hours":[0]'))).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(at('"utcoffset":-60'), dp('"weekdays":[1]'))).toBe(nb(NoBid.NO_MATCH));
    // Without the user's offset, the filter's utc_offset_minutes: 480 is Monday 08:00.
    const s = settings();
    s.utcOffsetMinutes = 480;
    expect(decide(at(""), dp('"hours":[8],"weekdays":[1]'), new MemBudget(), s).count).toBe(1);
    expect(decide(at(""), dp('"hours":[0]'), new MemBudget(), s).count).toBe(0);
    expect(decide(at('"utcoffset":0'), dp('"hours":[0]'), new MemBudget(), s).count).toBe(1);
    // Another campaign without dayparting takes the impression.
    const d = decide(at(""), dp('"hours":[5]') + "," + camp("any", 4000));
    expect(d.count).toBe(1);
    expect(d.bid(0).campaign!.id.toString()).toBe("any");
  });

  it("dayparting on the campaign's own clock (daypart_utc_offset_minutes), whatever the user's", () => {
    // NOW is Monday 2024-01-01 00:00 UTC: Sunday 19:00 in New York (UTC-5).
    const ny = (t: string): string => camp("c", 8000, '"targeting":{"daypart_utc_offset_minutes":-300,' + t + "},");
    const at = (geo: string): string => request(IMP, SITE + ',"device":{"geo":{' + geo + "}}");
    expect(priceOrReason(at(""), ny('"hours":[19],"weekdays":[0]'))).toBe(2000);
    expect(priceOrReason(at(""), ny('"hours":[0]'))).toBe(nb(NoBid.NO_MATCH));
    // The user's offset does not move the campaign's clock (it would for a campaign without one).
    expect(priceOrReason(at('"utcoffset":60'), ny('"hours":[19]'))).toBe(2000);
    expect(priceOrReason(at('"utcoffset":60'), camp("c", 8000, '"targeting":{"hours":[19]},'))).toBe(nb(NoBid.NO_MATCH));
    // Two campaigns on two clocks in one request.
    const d = decide(at('"utcoffset":60'), ny('"hours":[19]') + "," + camp("user", 9000, '"targeting":{"hours":[1]},'));
    expect(d.count).toBe(1);
    expect(d.bid(0).campaign!.id.toString()).toBe("user"); // 01:00 on the user's clock, and it values more
  });

  it("a bid names the creative's categories in the request's taxonomy when it has some there", () => {
    const t = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"cat":["IAB3"],"cat_by_taxonomy":{"7":["52"]}}');
    const in7 = decide(request(IMP, SITE + ',"cattax":7'), t);
    expect(in7.count).toBe(1);
    expect(in7.bid(0).categories!.taxonomy).toBe(7);
    const in6 = decide(request(IMP, SITE + ',"cattax":6'), t);
    expect(in6.bid(0).categories!.taxonomy).toBe(1);
    const plain = decide(request(IMP, SITE), camp("c", 8000, "", '{"crid":"x","w":300,"h":250}'));
    expect(plain.bid(0).categories).toBeNull();
  });

  it("wseat must name our seat when given; bseat must not (BLOCKED)", () => {
    expect(priceOrReason(request(IMP, SITE + ',"wseat":["other","nexus"]'), C1)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"wseat":[]'), C1)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"wseat":["other"]'), C1)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"bseat":["nexus"]'), C1)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"bseat":["other"]'), C1)).toBe(2000);
  });

  it("what is judged once per request (targeting, block lists) is judged again for the next request on the same campaign set", () => {
    keptTable = table(camp("c", 8000, '"targeting":{"countries":["USA"]},', CR_300));
    const usa = '"device":{"geo":{"country":"USA"}}';
    expect(onKeptTable(request(IMP, usa + ',"badv":["adv.example"]'))).toBe(nb(NoBid.BLOCKED));
    expect(onKeptTable(request(IMP, usa))).toBe(2000);
    expect(onKeptTable(request(IMP, usa + ',"bcat":["IAB1"]'))).toBe(nb(NoBid.BLOCKED));
    expect(onKeptTable(request(IMP, '"device":{"geo":{"country":"MEX"}}'))).toBe(nb(NoBid.NO_MATCH));
    expect(onKeptTable(request(IMP, usa))).toBe(2000);
    // Two impressions of one request share the answer: both blocked, then both bid.
    const two = IMP + ',{"id":"2","banner":{"w":300,"h":250},"bidfloor":0.5}';
    expect(onKeptTable(request(two, usa + ',"badv":["x.example","adv.example"]'))).toBe(nb(NoBid.BLOCKED));
    parseReq(request(two, usa));
    engine.decide(req, HALF, keptTable!, settings(), new MemBudget(), NOW, out);
    expect(out.count).toBe(2);
  });

  it("stops between impressions once its time is up: a timeout, and what it reserved refunded", () => {
    const four = IMP + ',{"id":"2","banner":{"w":300,"h":250},"bidfloor":0.5},{"id":"3","banner":{"w":300,"h":250},"bidfloor":0.5},{"id":"4","banner":{"w":300,"h":250},"bidfloor":0.5}';
    const budget = new MemBudget();
    const deadline = new CountingDeadline();
    deadline.passAfter = 2; // on time before impressions 2 and 3, out of time before impression 4
    engine.deadline = deadline;
    const d = decide(request(four), C1, budget);
    engine.deadline = new DecisionDeadline();
    expect(deadline.asked).toBe(3);
    expect(d.count).toBe(0);
    expect(d.reason).toBe(NoBid.TIMEOUT);
    expect(budget.wanted.length).toBe(3);
    expect(budget.refunded.length).toBe(3);
    // Never asked for the first impression, nor when the time is never up.
    const first = new CountingDeadline();
    first.passAfter = 0;
    engine.deadline = first;
    const one = decide(request(IMP), C1);
    engine.deadline = new DecisionDeadline();
    expect(first.asked).toBe(0);
    expect(one.count).toBe(1);
    expect(decide(request(four), C1).count).toBe(4);
  });

  it("a size listed twice, or as the banner's own size, is tried once and still bids", () => {
    const formats = '{"id":"1","banner":{"w":300,"h":250,"format":[{"w":300,"h":250},{"w":728,"h":90},{"w":728,"h":90}]},"bidfloor":0.5}';
    expect(priceOrReason(request(formats, SITE), camp("c", 8000, "", CR_728))).toBe(2000);
    expect(priceOrReason(request(formats, SITE), C1)).toBe(2000);
  });

  it("badv blocks subdomains in any letter case; bcat blocks subcategories", () => {
    const t = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"adomain":["Www.Adv.Example"],"cat":["IAB3-1"]}');
    expect(priceOrReason(request(IMP, SITE), t)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"badv":["adv.example"]'), t)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"badv":["WWW.ADV.EXAMPLE"]'), t)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"badv":["v.example"]'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"badv":["www.adv.example.com"]'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"bcat":["IAB3"]'), t)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"bcat":["IAB3-1"]'), t)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(IMP, SITE + ',"bcat":["IAB3-10"]'), t)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"bcat":["IAB"]'), t)).toBe(2000);
    // As exchanges write them: a category in lower case, an advertiser as a URL, with www. or a trailing dot.
    expect(priceOrReason(request(IMP, SITE + ',"bcat":["iab3"]'), t)).toBe(nb(NoBid.BLOCKED));
    const plain = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"adomain":["adv.example"]}');
    const forms = ['"https://adv.example/"', '"www.adv.example"', '"adv.example."', '"HTTP://WWW.Adv.Example:443"'];
    for (let i = 0; i < forms.length; i++) expect(priceOrReason(request(IMP, SITE + ',"badv":[' + forms[i] + "]"), plain)).toBe(nb(NoBid.BLOCKED), forms[i]);
    expect(priceOrReason(request(IMP, SITE + ',"badv":["www.other.example","wwwadv.example"]'), plain)).toBe(2000);
  });

  it("imp.secure = 1 takes only HTTPS markup (declared, or read off the adm)", () => {
    const SECURE = '{"id":"1","banner":{"w":300,"h":250},"bidfloor":0.5,"secure":1}';
    const INSECURE = '{"id":"1","banner":{"w":300,"h":250},"bidfloor":0.5,"secure":0}';
    const httpAdm = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"adm":"<img src=\\"HTTP://cdn.example/a.png\\">"}');
    const httpsAdm = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"adm":"<img src=\\"https://cdn.example/a.png\\">"}');
    const declared = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"adm":"<img src=\\"https://cdn.example/a.png\\">","secure":false}');
    expect(priceOrReason(request(SECURE), httpAdm)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(INSECURE), httpAdm)).toBe(2000);
    expect(priceOrReason(request(IMP), httpAdm)).toBe(2000); // secure absent: unknown, http allowed
    expect(priceOrReason(request(SECURE), httpsAdm)).toBe(2000);
    expect(priceOrReason(request(SECURE), declared)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(SECURE), C1)).toBe(2000); // no markup: the nurl serves it
  });

  it("banner.btype blocks the creative's banner type (declared, or read off the adm)", () => {
    const js = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"adm":"<SCRIPT src=\\"https://cdn.example/t.js\\"></script>"}');
    const iframe = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"adm":"<iframe src=\\"https://cdn.example/f\\"></iframe>"}');
    const img = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"adm":"<img src=\\"https://cdn.example/a.png\\">"}');
    const declared = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"adm":"<img src=\\"https://cdn.example/a.png\\">","banner_type":3}');
    expect(priceOrReason(request(bannerWith("btype", "3")), js)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(bannerWith("btype", "4")), js)).toBe(2000);
    expect(priceOrReason(request(bannerWith("btype", "1,4")), iframe)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(bannerWith("btype", "2")), img)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(bannerWith("btype", "1,3,4")), img)).toBe(2000);
    expect(priceOrReason(request(bannerWith("btype", "3")), declared)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(bannerWith("btype", "1,2,3,4")), C1)).toBe(2000); // no markup: type unknown
  });

  it("markup with both a script and an iframe is of both types: btype blocking either blocks it", () => {
    const both = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"adm":"<script src=\\"https://cdn.example/t.js\\"></script><noscript><iframe src=\\"https://cdn.example/f\\"></iframe></noscript>"}');
    expect(priceOrReason(request(bannerWith("btype", "4")), both)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(bannerWith("btype", "3")), both)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(bannerWith("btype", "1,2")), both)).toBe(2000);
  });

  it("banner.battr blocks a creative with any of those attributes; a list too long to check blocks", () => {
    const attrs = camp("c", 8000, "", '{"crid":"x","w":300,"h":250,"attr":[6,14]}');
    expect(priceOrReason(request(bannerWith("battr", "1,14")), attrs)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(bannerWith("battr", "6")), attrs)).toBe(nb(NoBid.BLOCKED));
    expect(priceOrReason(request(bannerWith("battr", "1,2,3,4,5,7,8,9,10,11,12,13,15,16,17")), attrs)).toBe(2000);
    expect(priceOrReason(request(bannerWith("battr", "1,2,3")), C1)).toBe(2000); // no attributes declared
    let long = "1";
    for (let i = 2; i <= 40; i++) long += "," + (100 + i).toString();
    expect(priceOrReason(request(bannerWith("battr", long)), C1)).toBe(nb(NoBid.BLOCKED));
  });

  it("a creative the imp refuses is skipped for the campaign's next creative that fits", () => {
    const SECURE = '{"id":"1","banner":{"w":300,"h":250},"bidfloor":0.5,"secure":1}';
    const http = '{"crid":"http","w":300,"h":250,"adm":"<img src=\\"http://cdn.example/a.png\\">"}';
    const https = '{"crid":"https","w":300,"h":250,"adm":"<img src=\\"https://cdn.example/a.png\\">"}';
    const d = decide(request(SECURE), camp("c", 8000, "", http + "," + https));
    expect(d.count).toBe(1);
    expect(d.bid(0).creative!.crid.toString()).toBe("https");
    // Through the banner's formats too: the 300x250 creative is JavaScript, btype blocks it.
    const js = '{"crid":"js","w":300,"h":250,"adm":"<script src=\\"https://cdn.example/t.js\\"></script>"}';
    const multi = '{"id":"1","banner":{"w":300,"h":250,"format":[{"w":300,"h":250},{"w":728,"h":90}],"btype":[3]},"bidfloor":0.5}';
    const d2 = decide(request(multi), camp("c", 8000, "", js + "," + CR_728));
    expect(d2.count).toBe(1);
    expect(d2.bid(0).creative!.crid.toString()).toBe("cr728");
    // badv/bcat alike: a creative of another advertiser domain is taken.
    const d3 = decide(
      request(IMP, SITE + ',"badv":["adv.example"]'),
      camp("c", 8000, "", '{"crid":"a","w":300,"h":250,"adomain":["adv.example"]},{"crid":"b","w":300,"h":250,"adomain":["other.example"]}'),
    );
    expect(d3.count).toBe(1);
    expect(d3.bid(0).creative!.crid.toString()).toBe("b");
    // Every creative that fits refused: BLOCKED, as before.
    expect(priceOrReason(request(SECURE), camp("c", 8000, "", http))).toBe(nb(NoBid.BLOCKED));
  });

  it("an inactive campaign is PAUSED; an exhausted one is BUDGET", () => {
    const budget = new MemBudget();
    const d = decide(request(), camp("c", 8000, '"active":false,'), budget);
    expect(d.reason).toBe(NoBid.PAUSED);
    expect(budget.wanted.length).toBe(0);
    const ex = new MemBudget();
    ex.exhaustedIndex = 0;
    const d2 = decide(request(), C1, ex);
    expect(d2.count).toBe(0);
    expect(d2.reason).toBe(NoBid.BUDGET);
    expect(ex.wanted.length).toBe(0);
  });
});

describe("decision: ROI guard", () => {
  it("skips when market price x roi_factor exceeds the EV", () => {
    expect(priceOrReason(request(), camp("c", 8000, '"market_price_cpm_micros":2500000,'))).toBe(nb(NoBid.ROI));
    expect(priceOrReason(request(), camp("c", 8000, '"market_price_cpm_micros":2000000,'))).toBe(2000);
    expect(priceOrReason(request(), camp("c", 8000, '"market_price_cpm_micros":2500000,"roi_factor":0.5,'))).toBe(2000);
    expect(priceOrReason(request(), camp("c", 8000, '"market_price_cpm_micros":1000000,"roi_factor":2.5,'))).toBe(nb(NoBid.ROI));
  });

  it("uses the budget port's market price estimate", () => {
    const b = new MemBudget();
    b.market = 2001;
    expect(priceOrReason(request(), C1, b)).toBe(nb(NoBid.ROI));
    const c = new MemBudget();
    c.market = 1999;
    expect(priceOrReason(request(), camp("c", 8000, '"market_price_cpm_micros":9000000,'), c)).toBe(2000);
    const z = new MemBudget();
    z.market = 0; // unknown: no guard
    expect(priceOrReason(request(), camp("c", 8000, '"market_price_cpm_micros":9000000,'), z)).toBe(2000);
  });

  it("compares the unshaded EV (shading applies after the guard)", () => {
    const b = new MemBudget();
    b.market = 1500;
    b.shade = 0.5; // bid 1000 < market 1500, but EV 2000 >= 1500
    expect(priceOrReason(request(imp("1", '"banner":{"w":300,"h":250}')), C1, b)).toBe(1000);
  });
});

describe("decision: reservations", () => {
  it("carries imp.exp (seconds) to the reservation as its hold, in ms; 0 when not given", () => {
    let d = decide(request(imp("1", '"banner":{"w":300,"h":250},"exp":300')), C1);
    expect(d.bid(0).holdMs).toBe(300_000);
    d = decide(request(), C1);
    expect(d.bid(0).holdMs).toBe(0);
  });

  it("a test request (test = 1, not billable) bids as in live mode but reserves nothing; its id is a test id", () => {
    const b = new MemBudget();
    const d = decide(request(IMP, SITE + "," + DEVICE + ',"test":1'), C1, b);
    expect(d.count).toBe(1);
    expect(d.bid(0).priceMicros).toBe(2000);
    expect(d.bid(0).reserved).toBe(false);
    expect(b.wanted.length).toBe(0);
    const id = String.UTF8.decodeUnsafe(d.bid(0).bidId, d.bid(0).bidIdLen);
    expect(id.startsWith("test-")).toBe(true);
    expect(id.length).toBe(13);
    expect(isTestBidId(d.bid(0).bidId, d.bid(0).bidIdLen)).toBe(true);
    expect(new ParsedBidId().parse(d.bid(0).bidId, d.bid(0).bidIdLen)).toBe(false);
    // test = 0 is live: the same request reserves, and its id is no test id.
    const live = new MemBudget();
    const l = decide(request(IMP, SITE + "," + DEVICE + ',"test":0'), C1, live);
    expect(live.wanted).toStrictEqual([<i64>2000]);
    expect(isTestBidId(l.bid(0).bidId, l.bid(0).bidIdLen)).toBe(false);
  });

  it("bids the partial amount when it still clears the floor", () => {
    const b = new MemBudget();
    b.grant = 600;
    const d = decide(request(), C1, b);
    expect(d.count).toBe(1);
    expect(d.bid(0).priceMicros).toBe(600);
    expect(b.wanted).toStrictEqual([<i64>2000]);
    expect(b.refunded.length).toBe(0);
  });

  it("refunds a partial reservation below the floor, a BUDGET no-bid", () => {
    const b = new MemBudget();
    b.grant = 400;
    const d = decide(request(), C1, b);
    expect(d.count).toBe(0);
    expect(d.reason).toBe(NoBid.BUDGET);
    expect(d.impReasons[NoBid.BUDGET]).toBe(1);
    expect(d.impReasons[NoBid.BELOW_FLOOR]).toBe(0);
    expect(b.refunded).toStrictEqual([<i64>400]);
    expect(d.bid(0).reserved).toBe(false);
    expect(d.bid(0).campaign).toBeNull();
  });

  it("reports the budget port's failure when nothing is reserved", () => {
    const b = new MemBudget();
    b.grant = 0;
    let d = decide(request(), C1, b);
    expect(d.count).toBe(0);
    expect(d.reason).toBe(NoBid.BUDGET);
    expect(d.impReasons[NoBid.BUDGET]).toBe(1);
    expect(b.refunded.length).toBe(0);
    const c = new MemBudget();
    c.grant = 0;
    c.failure = NoBid.CONTENTION;
    d = decide(request(), C1, c);
    expect(d.reason).toBe(NoBid.CONTENTION);
    const r = new MemBudget();
    r.grant = 0;
    r.failure = NoBid.RING_FULL;
    d = decide(request(), C1, r);
    expect(d.reason).toBe(NoBid.RING_FULL);
    expect(d.impReasons[NoBid.RING_FULL]).toBe(1);
  });
});

describe("decision: choosing among campaigns and imps", () => {
  it("keeps the highest bid; the first one on a tie", () => {
    const b = new MemBudget();
    let d = decide(request(), camp("a", 8000) + "," + camp("b", 12000) + "," + camp("c", 10000), b);
    expect(d.count).toBe(1);
    expect(d.bid(0).campaign!.id.toString()).toBe("b");
    expect(d.bid(0).campaign!.index).toBe(1);
    expect(d.bid(0).priceMicros).toBe(3000);
    expect(b.reservedFor).toStrictEqual(["b"]); // only the winner is reserved
    d = decide(request(), camp("a", 8000) + "," + camp("b", 8000));
    expect(d.bid(0).campaign!.id.toString()).toBe("a");
    // the best is paused: the next best bids
    d = decide(request(), camp("a", 8000) + "," + camp("b", 12000, '"active":false,'));
    expect(d.bid(0).campaign!.id.toString()).toBe("a");
    // a campaign that is capped lower loses to one that is not
    d = decide(request(), camp("a", 12000, '"max_bid_cpm_micros":1000000,') + "," + camp("b", 8000));
    expect(d.bid(0).campaign!.id.toString()).toBe("b");
  });

  it("falls through to the next campaign when the best one's reservation fails; none left: the failure's reason", () => {
    const b = new MemBudget();
    b.grant = 0;
    const d = decide(request(), camp("a", 8000) + "," + camp("b", 12000), b);
    expect(d.count).toBe(0);
    expect(d.reason).toBe(NoBid.BUDGET);
    expect(b.reservedFor).toStrictEqual(["b", "a"]);
  });

  it("the next campaign that can pay gets the impression (the best one's grant spent, or paused since the last tick)", () => {
    const b = new PerCampaignBudget();
    b.broke = "b";
    const d = decide(request(), camp("a", 8000) + "," + camp("b", 12000), b);
    expect(d.count).toBe(1);
    expect(d.bid(0).campaign!.id.toString()).toBe("a");
    expect(d.bid(0).priceMicros).toBe(2000); // a's own bid: EV 2000 micros
    expect(b.reservedFor).toStrictEqual(["b", "a"]);
    // A reservation short of the floor (what is left of b's grant): refunded, then a.
    const p = new PerCampaignBudget();
    p.short = "b";
    const e = decide(request(), camp("a", 8000) + "," + camp("b", 12000), p);
    expect(e.count).toBe(1);
    expect(e.bid(0).campaign!.id.toString()).toBe("a");
    expect(p.refunded.length).toBe(1);
  });

  it("falls through at most four times", () => {
    const b = new MemBudget();
    b.grant = 0;
    const six = camp("a", 8000) + "," + camp("b", 9000) + "," + camp("c", 10000) + "," + camp("d", 11000) + "," + camp("e", 12000) + "," + camp("f", 13000);
    const d = decide(request(), six, b);
    expect(d.count).toBe(0);
    expect(d.reason).toBe(NoBid.BUDGET);
    expect(b.reservedFor).toStrictEqual(["f", "e", "d", "c", "b"]);
  });

  it("bids on every biddable imp with its own reservation and bid id", () => {
    const b = new MemBudget();
    const imps = IMP + "," + imp("2", '"banner":{"w":300,"h":250},"bidfloor":1');
    const d = decide(request(imps), C1, b);
    expect(d.count).toBe(2);
    expect(d.bid(0).impIndex).toBe(0);
    expect(d.bid(1).impIndex).toBe(1);
    expect(d.bid(1).impId.toString()).toBe("2");
    expect(d.bid(0).seq).toBe(0x100);
    expect(d.bid(1).seq).toBe(0x101);
    expect(d.bid(0).nonce).not.toBe(d.bid(1).nonce);
    expect(bidIdOf(d.bid(0))).not.toBe(bidIdOf(d.bid(1)));
    expect(b.wanted).toStrictEqual([<i64>2000, <i64>2000]);
  });

  it("skips imps it cannot bid on and counts each imp's reason", () => {
    const imps =
      IMP +
      "," +
      imp("2", '"banner":{"w":728,"h":90}') +
      "," +
      imp("3", '"banner":{"w":300,"h":250},"bidfloor":5') +
      "," +
      imp("4", '"video":{"w":640,"h":480}') +
      "," +
      imp("5", '"banner":{"w":300,"h":250},"bidfloor":0.1');
    const d = decide(request(imps), C1);
    expect(d.count).toBe(2);
    expect(d.bid(0).impId.toString()).toBe("1");
    expect(d.bid(1).impId.toString()).toBe("5");
    expect(d.bid(1).impIndex).toBe(4);
    expect(d.impReasons[NoBid.NO_MATCH]).toBe(2);
    expect(d.impReasons[NoBid.BELOW_FLOOR]).toBe(1);
  });

  it("does not bid on private auctions or non-banner imps", () => {
    const pa = imp("1", '"banner":{"w":300,"h":250},"pmp":{"private_auction":1,"deals":[{"id":"d1","bidfloor":0.1}]}');
    expect(priceOrReason(request(pa), C1)).toBe(nb(NoBid.NO_MATCH));
    const open = imp("1", '"banner":{"w":300,"h":250},"pmp":{"private_auction":0,"deals":[{"id":"d1"}]}');
    expect(priceOrReason(request(open), C1)).toBe(2000);
    expect(priceOrReason(request(imp("1", '"video":{"w":300,"h":250}')), C1)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(imp("1", '"native":{"request":"{}"}')), C1)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(imp("1", '"audio":{}')), C1)).toBe(nb(NoBid.NO_MATCH));
  });

  it("reuses the Decision: reset clears the previous bids and reasons", () => {
    let d = decide(request(IMP + "," + imp("2", '"banner":{"w":300,"h":250}')), C1);
    expect(d.count).toBe(2);
    d = decide(request(imp("1", '"banner":{"w":728,"h":90}')), C1);
    expect(d.count).toBe(0);
    expect(d.reason).toBe(NoBid.NO_MATCH);
    expect(d.impReasons[NoBid.NO_MATCH]).toBe(1);
    expect(d.bid(0).campaign).toBeNull();
    expect(d.bid(1).campaign).toBeNull();
  });
});

describe("decision: the reason when nothing is bid", () => {
  it("keeps the reason that got furthest across imps", () => {
    // imp 1 BLOCKED is not possible per imp with different creatives, so use
    // two campaigns: one blocked everywhere, and floors per imp.
    let d = decide(request(imp("1", '"video":{}') + "," + imp("2", '"banner":{"w":300,"h":250},"bidfloor":0.1,"bidfloorcur":"JPY"')), C1);
    expect(d.reason).toBe(NoBid.CURRENCY);
    expect(d.impReasons[NoBid.NO_MATCH]).toBe(1);
    expect(d.impReasons[NoBid.CURRENCY]).toBe(1);
    d = decide(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":9') + "," + imp("2", '"banner":{"w":300,"h":250},"bidfloorcur":"JPY","bidfloor":1')), C1);
    expect(d.reason).toBe(NoBid.BELOW_FLOOR);
    d = decide(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":9') + "," + imp("2", '"banner":{"w":728,"h":90}'), SITE + ',"badv":["adv.example"]'), C1);
    // imp 1: blocked before the floor is looked at; imp 2: no creative
    expect(d.reason).toBe(NoBid.BLOCKED);
    expect(d.impReasons[NoBid.BLOCKED]).toBe(1);
    expect(d.impReasons[NoBid.NO_MATCH]).toBe(1);
    const b = new MemBudget();
    b.grant = 0;
    d = decide(request(imp("9", '"banner":{"w":300,"h":250},"bidfloor":9') + "," + IMP), C1, b);
    expect(d.reason).toBe(NoBid.BUDGET);
    expect(d.impReasons[NoBid.BELOW_FLOOR]).toBe(1);
    expect(d.impReasons[NoBid.BUDGET]).toBe(1);
  });

  it("RING_FULL ranks above CONTENTION and BUDGET, in either imp order", () => {
    const imps = IMP + "," + imp("2", '"banner":{"w":300,"h":250}');
    const orders: i32[][] = [
      [NoBid.CONTENTION, NoBid.RING_FULL],
      [NoBid.RING_FULL, NoBid.CONTENTION],
      [NoBid.BUDGET, NoBid.RING_FULL],
    ];
    for (let i = 0; i < orders.length; i++) {
      const b = new MemBudget();
      b.grant = 0;
      b.failures = orders[i];
      const d = decide(request(imps), C1, b);
      expect(d.count).toBe(0);
      expect(d.reason).toBe(NoBid.RING_FULL);
      expect(d.impReasons[NoBid.RING_FULL]).toBe(1);
    }
  });

  it("keeps the reason that got furthest across campaigns of one imp", () => {
    // PAUSED ranks above BLOCKED
    let d = decide(request(IMP, SITE + ',"bcat":["IAB1"]'), C1 + "," + camp("p", 8000, '"active":false,', CR_728 + ',{"crid":"x","w":300,"h":250}'));
    expect(d.reason).toBe(NoBid.PAUSED);
    // ROI above PAUSED
    d = decide(request(), camp("p", 8000, '"active":false,') + "," + camp("r", 8000, '"market_price_cpm_micros":9000000,'));
    expect(d.reason).toBe(NoBid.ROI);
    // BELOW_FLOOR above ROI, whatever the order
    d = decide(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":2.5')), camp("f", 8000) + "," + camp("r", 8000, '"market_price_cpm_micros":9000000,'));
    expect(d.reason).toBe(NoBid.BELOW_FLOOR);
    expect(d.impReasons[NoBid.BELOW_FLOOR]).toBe(1);
    expect(d.impReasons[NoBid.ROI]).toBe(0);
    // BUDGET (exhausted) above BELOW_FLOOR
    const b = new MemBudget();
    b.exhaustedIndex = 1;
    d = decide(request(imp("1", '"banner":{"w":300,"h":250},"bidfloor":2.5')), camp("f", 8000) + "," + camp("e", 8000), b);
    expect(d.reason).toBe(NoBid.BUDGET);
    // only non-matching campaigns
    d = decide(request(), camp("x", 8000, "", CR_728));
    expect(d.reason).toBe(NoBid.NO_MATCH);
  });
});

function fmt(seq: u64, nonce: u32): string {
  const b = new ImpBid();
  b.seq = seq;
  b.nonce = nonce;
  formatBidId(b);
  return bidIdOf(b);
}

function parses(s: string, seq: u64, nonce: u32): bool {
  const b = String.UTF8.encode(s);
  const p = new ParsedBidId();
  if (!p.parse(changetype<usize>(b), b.byteLength)) return false;
  return p.seq == seq && p.nonce == nonce;
}

function valid(s: string): bool {
  const b = String.UTF8.encode(s);
  return new ParsedBidId().parse(changetype<usize>(b), b.byteLength);
}

describe("bid ids", () => {
  it("formats <seq hex>-<nonce hex8>", () => {
    expect(fmt(0, 0)).toBe("0-00000000");
    expect(fmt(0x1a2b, 0xdeadbeef)).toBe("1a2b-deadbeef");
    expect(fmt(0xf, 1)).toBe("f-00000001");
    expect(fmt(0x10, 0x10)).toBe("10-00000010");
    expect(fmt(u64.MAX_VALUE, u32.MAX_VALUE)).toBe("ffffffffffffffff-ffffffff");
    expect(fmt(u64.MAX_VALUE, 0).length).toBeLessThanOrEqual(BID_ID_MAX);
  });

  it("parses back what it formats", () => {
    const seqs: u64[] = [0, 1, 0xf, 0x10, 0xabcdef, 0x8000000000000000, u64.MAX_VALUE];
    const nonces: u32[] = [0, 1, 0xdeadbeef, u32.MAX_VALUE];
    for (let i = 0; i < seqs.length; i++) {
      for (let j = 0; j < nonces.length; j++) {
        expect(parses(fmt(seqs[i], nonces[j]), seqs[i], nonces[j])).toBe(true);
      }
    }
  });

  it("refuses invalid ids", () => {
    expect(valid("")).toBe(false);
    expect(valid("-deadbeef")).toBe(false); // no seq digit
    expect(valid("1a2b-deadbee")).toBe(false); // 7 nonce digits
    expect(valid("1a2b-deadbeef0")).toBe(false); // 9 nonce digits
    expect(valid("1a2bdeadbeef")).toBe(false); // no dash
    expect(valid("1A2B-deadbeef")).toBe(false); // upper case
    expect(valid("1a2b-DEADBEEF")).toBe(false);
    expect(valid("1a2g-deadbeef")).toBe(false);
    expect(valid("1a2b-deadbeeg")).toBe(false);
    expect(valid("1a2b--deadbee")).toBe(false);
    expect(valid("1a2b-dead-eef")).toBe(false);
    expect(valid("10000000000000000-00000000")).toBe(false); // 17 seq digits
    expect(valid(" 1-deadbeef")).toBe(false);
    expect(valid("1-deadbeef ")).toBe(false);
    expect(valid("${AUCTION_ID}")).toBe(false);
    expect(valid("1-deadbeef")).toBe(true);
  });

  it("leaves the previous values on failure", () => {
    const p = new ParsedBidId();
    const good = String.UTF8.encode("ab-00000002");
    expect(p.parse(changetype<usize>(good), good.byteLength)).toBe(true);
    const bad = String.UTF8.encode("zz-00000002");
    expect(p.parse(changetype<usize>(bad), bad.byteLength)).toBe(false);
    expect(p.seq).toBe(0xab);
    expect(p.nonce).toBe(2);
  });

  // formatBidId never writes leading zeros: "01-..." must not name the same reservation as "1-...".
  it("refuses a seq with leading zeros (never written by formatBidId)", () => {
    expect(valid("01a2b-deadbeef")).toBe(false);
    expect(valid("00-deadbeef")).toBe(false);
  });

  it("nonces follow the seed; seed(0) falls back to the default", () => {
    const a = new DecisionEngine(BITS);
    const b = new DecisionEngine(BITS);
    a.seed(42);
    b.seed(42);
    const n1 = a.nextNonce();
    expect(b.nextNonce()).toBe(n1);
    expect(a.nextNonce()).not.toBe(n1);
    const c = new DecisionEngine(BITS);
    const d = new DecisionEngine(BITS);
    c.seed(0);
    expect(c.nextNonce()).toBe(d.nextNonce());
    const e = new DecisionEngine(BITS);
    e.seed(43);
    b.seed(42);
    expect(e.nextNonce()).not.toBe(b.nextNonce());
  });
});

/** C1 (EV 2000 micros = 2.0 CPM) buying in deal d1; `extra`: more members (trailing comma). */
function dealCamp(extra: string = ""): string {
  return camp("c1", 8000, '"deals":["d1"],' + extra);
}
/** A 300x250 imp (open floor 0.5) with pmp {private_auction, deals}. */
function pmpImp(privateAuction: i32, deals: string, floor: string = "0.5"): string {
  return imp("1", '"banner":{"w":300,"h":250},"bidfloor":' + floor + ',"pmp":{"private_auction":' + privateAuction.toString() + ',"deals":[' + deals + "]}");
}
function dealIdOf(d: Decision): string {
  expect(d.count).toBe(1);
  const deal = d.bid(0).deal;
  return deal === null ? "(open)" : deal.id.toString();
}

describe("decision: private-marketplace deals", () => {
  it("bids in a private auction through a deal the campaign buys in, at its own price", () => {
    const d = decide(request(pmpImp(1, '{"id":"d0","bidfloor":0.1},{"id":"d1","bidfloor":1.2}')), dealCamp());
    expect(dealIdOf(d)).toBe("d1");
    expect(d.bid(0).priceMicros).toBe(2000);
    expect(d.bid(0).reserved).toBe(true);
  });

  it("a campaign buying many deals (its list indexed) finds each by id, request after request", () => {
    let ids = '"d0"';
    for (let i = 1; i < 40; i++) ids += ',"d' + i.toString() + '"';
    const many = camp("c1", 8000, '"deals":[' + ids + "],");
    expect(dealIdOf(decide(request(pmpImp(1, '{"id":"x1"},{"id":"d33","bidfloor":0.1}')), many))).toBe("d33");
    // The same deal slots hold other ids in the next requests: no answer is kept from the last one.
    expect(priceOrReason(request(pmpImp(1, '{"id":"x2"},{"id":"d40","bidfloor":0.1}')), many)).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(pmpImp(1, '{"id":"x3"},{"id":"D33","bidfloor":0.1}')), many)).toBe(nb(NoBid.NO_MATCH));
    expect(dealIdOf(decide(request(pmpImp(1, '{"id":"d7"},{"id":"d33","bidfloor":0.1}')), many))).toBe("d7");
  });

  it("no-bids a private auction without a deal of its own, or under the deal's floor", () => {
    expect(priceOrReason(request(pmpImp(1, '{"id":"d2","bidfloor":0.1}')), dealCamp())).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(pmpImp(1, '{"id":"d1","bidfloor":2.5}')), dealCamp())).toBe(nb(NoBid.BELOW_FLOOR));
    // Deal ids are compared byte for byte.
    expect(priceOrReason(request(pmpImp(1, '{"id":"D1"}')), dealCamp())).toBe(nb(NoBid.NO_MATCH));
  });

  it("keeps to a deal's wseat and wadomain", () => {
    expect(priceOrReason(request(pmpImp(1, '{"id":"d1","wseat":["other"]}')), dealCamp())).toBe(nb(NoBid.BLOCKED));
    expect(dealIdOf(decide(request(pmpImp(1, '{"id":"d1","wseat":["other","nexus"]}')), dealCamp()))).toBe("d1");
    expect(priceOrReason(request(pmpImp(1, '{"id":"d1","wadomain":["brand.example"]}')), dealCamp())).toBe(nb(NoBid.BLOCKED));
    // The creative's adomain is adv.example: the same domain in any case, or a parent domain, admits it.
    expect(dealIdOf(decide(request(pmpImp(1, '{"id":"d1","wadomain":["ADV.example"]}')), dealCamp()))).toBe("d1");
    expect(dealIdOf(decide(request(pmpImp(1, '{"id":"d1","wadomain":["x.example","example"]}')), dealCamp()))).toBe("d1");
    // The first deal refuses us, the second takes the bid.
    expect(dealIdOf(decide(request(pmpImp(1, '{"id":"d1","wseat":["other"]},{"id":"d9"}')), camp("c1", 8000, '"deals":["d1","d9"],')))).toBe("d9");
  });

  it("pays the agreed price in a fixed-price deal (at 3), when its own bid reaches it", () => {
    expect(priceOrReason(request(pmpImp(1, '{"id":"d1","bidfloor":1.5,"at":3}')), dealCamp())).toBe(1500);
    expect(priceOrReason(request(pmpImp(1, '{"id":"d1","bidfloor":2.5,"at":3}')), dealCamp())).toBe(nb(NoBid.BELOW_FLOOR));
    // The request's at 3 applies to a deal that does not say; a deal's own at overrides it.
    expect(priceOrReason(request(pmpImp(1, '{"id":"d1","bidfloor":1.5}'), SITE + ',"at":3'), dealCamp())).toBe(1500);
    expect(priceOrReason(request(pmpImp(1, '{"id":"d1","bidfloor":1.5,"at":1}'), SITE + ',"at":3'), dealCamp())).toBe(2000);
  });

  it("converts a deal's floor currency, and skips a deal whose currency has no rate", () => {
    // 1.5 EUR = 1.65 USD: cleared by 2.0.
    expect(dealIdOf(decide(request(pmpImp(1, '{"id":"d1","bidfloor":1.5,"bidfloorcur":"EUR"}')), dealCamp()))).toBe("d1");
    // 1.9 EUR = 2.09 USD: not cleared.
    expect(priceOrReason(request(pmpImp(1, '{"id":"d1","bidfloor":1.9,"bidfloorcur":"EUR"}')), dealCamp())).toBe(nb(NoBid.BELOW_FLOOR));
    expect(priceOrReason(request(pmpImp(1, '{"id":"d1","bidfloor":1,"bidfloorcur":"JPY"}')), dealCamp())).toBe(nb(NoBid.CURRENCY));
  });

  it("in an open auction: bids in the deal, else in the open auction unless deals_only", () => {
    expect(dealIdOf(decide(request(pmpImp(0, '{"id":"d1","bidfloor":1.0}')), dealCamp()))).toBe("d1");
    // The deal's floor is not reached: the open auction's (0.5) is.
    expect(dealIdOf(decide(request(pmpImp(0, '{"id":"d1","bidfloor":3.0}')), dealCamp()))).toBe("(open)");
    expect(dealIdOf(decide(request(pmpImp(0, '{"id":"d2"}')), dealCamp()))).toBe("(open)");
    expect(priceOrReason(request(pmpImp(0, '{"id":"d2"}')), dealCamp('"deals_only":true,'))).toBe(nb(NoBid.NO_MATCH));
    expect(priceOrReason(request(pmpImp(0, '{"id":"d1","bidfloor":3.0}')), dealCamp('"deals_only":true,'))).toBe(nb(NoBid.BELOW_FLOOR));
    expect(priceOrReason(request(IMP), dealCamp('"deals_only":true,'))).toBe(nb(NoBid.NO_MATCH));
    expect(dealIdOf(decide(request(pmpImp(0, '{"id":"d1"}')), dealCamp('"deals_only":true,')))).toBe("d1");
    // An open floor in a currency without a rate closes the open auction only.
    const jpy = imp("1", '"banner":{"w":300,"h":250},"bidfloor":1,"bidfloorcur":"JPY","pmp":{"deals":[{"id":"d1"}]}');
    expect(dealIdOf(decide(request(jpy), dealCamp()))).toBe("d1");
    expect(priceOrReason(request(jpy), C1)).toBe(nb(NoBid.CURRENCY));
  });

  it("picks the best price between open-auction and deal bids, and refunds a reservation under the deal's floor", () => {
    const both = C1 + "," + camp("c2", 12000, '"deals":["d1"],');
    const d = decide(request(pmpImp(0, '{"id":"d1","bidfloor":2.5}')), both);
    expect(d.bid(0).campaign!.id.toString()).toBe("c2");
    expect(dealIdOf(d)).toBe("d1");
    expect(d.bid(0).priceMicros).toBe(3000);
    const budget = new MemBudget();
    budget.grant = 2600; // a partial reservation that still clears the deal's floor (2500)
    expect(priceOrReason(request(pmpImp(1, '{"id":"d1","bidfloor":2.5}')), both, budget)).toBe(2600);
    const short = new MemBudget();
    short.grant = 2400; // under the deal's floor: refunded, no bid
    expect(priceOrReason(request(pmpImp(1, '{"id":"d1","bidfloor":2.5}')), both, short)).toBe(nb(NoBid.BUDGET));
    expect(short.refunded).toStrictEqual([<i64>2400]);
  });
});

// ---- frequency caps ---------------------------------------------------------------

/** Counts in memory: the impressions already counted per count key (the filter keeps them in shared data). */
class MemFrequency extends FrequencyPort {
  keys: Array<u64> = new Array<u64>();
  counts: Array<i32> = new Array<i32>();
  asked: Array<u64> = new Array<u64>();

  set(key: u64, n: i32): void {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) {
        this.counts[i] = n;
        return;
      }
    }
    this.keys.push(key);
    this.counts.push(n);
  }

  countOf(c: Campaign, key: u64, nowMs: i64): u32 {
    this.asked.push(key);
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == key) return <u32>this.counts[i];
    return 0;
  }
}

const CAP2 = '"frequency_cap":{"impressions":2,"seconds":3600},';
const USER = ',"user":{"id":"u-1"}';

/** The count key the decision uses for the campaign at `index` and the request's user. */
function keyFor(reqJson: string, campaigns: string, index: i32): u64 {
  parseReq(reqJson);
  return frequencyKey(table(campaigns).at(index), userKeyOf(req));
}

function decideCapped(reqJson: string, campaigns: string, counts: MemFrequency): Decision {
  engine.frequency = counts;
  const d = decide(reqJson, campaigns);
  engine.frequency = new FrequencyPort();
  return d;
}

describe("frequency caps", () => {
  it("a capped campaign bids until its user's count reaches the cap, and its bid carries the count key", () => {
    const campaigns = camp("c", 8000, CAP2);
    const r = request(IMP, SITE + USER);
    const key = keyFor(r, campaigns, 0);
    const counts = new MemFrequency();
    let d = decideCapped(r, campaigns, counts);
    expect(d.count).toBe(1);
    expect(d.bid(0).frequencyKey).toBe(key);
    expect(counts.asked).toStrictEqual([key]);
    counts.set(key, 1);
    expect(decideCapped(r, campaigns, counts).count).toBe(1);
    counts.set(key, 2);
    d = decideCapped(r, campaigns, counts);
    expect(d.count).toBe(0);
    expect(d.reason).toBe(NoBid.FREQUENCY);
  });

  it("an uncapped campaign neither asks nor carries a key; a capped one at its cap leaves the impression to the next", () => {
    const counts = new MemFrequency();
    let d = decideCapped(request(IMP, SITE + USER), C1, counts);
    expect(d.count).toBe(1);
    expect(d.bid(0).frequencyKey).toBe(0);
    expect(counts.asked.length).toBe(0);
    const both = camp("capped", 9000, CAP2) + "," + camp("open", 8000);
    const r = request(IMP, SITE + USER);
    counts.set(keyFor(r, both, 0), 2);
    d = decideCapped(r, both, counts);
    expect(d.count).toBe(1);
    expect(d.bid(0).campaign!.id.toString()).toBe("open");
    expect(d.bid(0).frequencyKey).toBe(0);
  });

  it("a request without a user it may be tied to is a frequency no-bid for capped campaigns", () => {
    const capped = camp("c", 8000, CAP2);
    expect(priceOrReason(request(IMP, SITE), capped)).toBe(nb(NoBid.FREQUENCY));
    expect(priceOrReason(request(IMP, SITE + USER), capped)).toBe(2000);
    // Contextual decisions (no consent, DNT, COPPA...) may not use the id.
    expect(priceOrReason(request(IMP, SITE + USER + ',"device":{"dnt":1}'), capped)).toBe(nb(NoBid.FREQUENCY));
    // The device's advertising id counts, unless tracking is limited or it is the all-zero id.
    expect(priceOrReason(request(IMP, SITE + ',"device":{"ifa":"6D92078A-8246-4BA4-AE5B-76104861E7DC"}'), capped)).toBe(2000);
    expect(priceOrReason(request(IMP, SITE + ',"device":{"ifa":"00000000-0000-0000-0000-000000000000"}'), capped)).toBe(nb(NoBid.FREQUENCY));
    // A capped campaign at its cap is further down the pipeline than one that does not match.
    expect(priceOrReason(request(IMP, SITE), camp("c", 8000, CAP2) + "," + camp("big", 8000, "", CR_728))).toBe(nb(NoBid.FREQUENCY));
  });

  it("several impressions of one request: each bid counts against the cap of the impressions after it", () => {
    const three = imp("a", '"banner":{"w":300,"h":250}') + "," + imp("b", '"banner":{"w":300,"h":250}') + "," + imp("c", '"banner":{"w":300,"h":250}');
    const r = request(three, SITE + USER);
    const counts = new MemFrequency();
    // Cap 2, nothing counted yet: two of the three impressions.
    let d = decideCapped(r, camp("c", 8000, CAP2), counts);
    expect(d.count).toBe(2);
    expect(d.impReasons[NoBid.FREQUENCY]).toBe(1);
    // One counted already: one impression.
    counts.set(keyFor(r, camp("c", 8000, CAP2), 0), 1);
    d = decideCapped(r, camp("c", 8000, CAP2), counts);
    expect(d.count).toBe(1);
    // The next request starts again from the stored count (nothing carried over).
    counts.set(keyFor(r, camp("c", 8000, CAP2), 0), 0);
    expect(decideCapped(r, camp("c", 8000, CAP2), counts).count).toBe(2);
    // An uncapped campaign takes the impressions the capped one may not.
    d = decideCapped(r, camp("c", 9000, CAP2) + "," + camp("open", 8000), counts);
    expect(d.count).toBe(3);
    expect(d.bid(2).campaign!.id.toString()).toBe("open");
  });

  it("several caps: the campaign bids only while every one is below its limit; each counts under its own key", () => {
    const caps = camp("c", 8000, '"frequency_caps":[{"impressions":1,"seconds":3600},{"impressions":3,"seconds":86400}],');
    const r = request(IMP, SITE + USER);
    const key = keyFor(r, caps, 0);
    const counts = new MemFrequency();
    let d = decideCapped(r, caps, counts);
    expect(d.count).toBe(1);
    // The bid carries the first cap's key; the second counts under the key derived from it.
    expect(d.bid(0).frequencyKey).toBe(key);
    expect(counts.asked).toStrictEqual([key, capKey(key, 1)]);
    expect(capKey(key, 0)).toBe(key);
    expect(capKey(key, 1)).not.toBe(key);
    expect(capKey(key, 2)).not.toBe(capKey(key, 1));
    // The hour's cap reached: no bid, whatever the day's count.
    counts.set(key, 1);
    d = decideCapped(r, caps, counts);
    expect(d.count).toBe(0);
    expect(d.reason).toBe(NoBid.FREQUENCY);
    // A new hour, two of the day's three: a bid.
    counts.set(key, 0);
    counts.set(capKey(key, 1), 2);
    expect(decideCapped(r, caps, counts).count).toBe(1);
    // The day's cap reached: no bid in a new hour either.
    counts.set(capKey(key, 1), 3);
    expect(decideCapped(r, caps, counts).reason).toBe(NoBid.FREQUENCY);
  });

  it("a frequency_group's campaigns count together: one's impressions cap the other, also within one request", () => {
    const G = '"frequency_group":"brand",' + CAP2;
    const group = camp("a", 9000, G) + "," + camp("b", 8000, G);
    const r = request(IMP, SITE + USER);
    const key = keyFor(r, group, 0);
    expect(keyFor(r, group, 1)).toBe(key);
    const counts = new MemFrequency();
    counts.set(key, 2);
    expect(decideCapped(r, group, counts).reason).toBe(NoBid.FREQUENCY);
    // Without the group, b would still bid.
    expect(decideCapped(r, camp("a", 9000, CAP2) + "," + camp("b", 8000, CAP2), counts).count).toBe(1);
    // Three impressions, one counted already: a's bid on the first leaves b none on the others.
    const three = imp("x", '"banner":{"w":300,"h":250}') + "," + imp("y", '"banner":{"w":300,"h":250}') + "," + imp("z", '"banner":{"w":300,"h":250}');
    const r3 = request(three, SITE + USER);
    counts.set(keyFor(r3, group, 0), 1);
    const d = decideCapped(r3, group, counts);
    expect(d.count).toBe(1);
    expect(d.impReasons[NoBid.FREQUENCY]).toBe(2);
  });

  it("count keys: per campaign and per user; buyeruid before user.id before device.ifa", () => {
    const two = camp("a", 8000, CAP2) + "," + camp("b", 8000, CAP2);
    const r = request(IMP, SITE + USER);
    expect(keyFor(r, two, 0)).not.toBe(keyFor(r, two, 1));
    expect(keyFor(r, two, 0)).not.toBe(keyFor(request(IMP, SITE + ',"user":{"id":"u-2"}'), two, 0));
    // The same user id, whatever else the request says.
    expect(keyFor(r, two, 0)).toBe(keyFor(request(IMP, SITE + ',"user":{"id":"u-1","yob":1980}'), two, 0));
    // buyeruid (the bidder's own id) wins over the exchange's user.id.
    const viaBuyer = keyFor(request(IMP, SITE + ',"user":{"id":"u-1","buyeruid":"b-9"}'), two, 0);
    expect(viaBuyer).toBe(keyFor(request(IMP, SITE + ',"user":{"id":"other","buyeruid":"b-9"}'), two, 0));
    expect(viaBuyer).not.toBe(keyFor(r, two, 0));
    // The same string as user.id and as buyeruid is two users (two id spaces).
    expect(keyFor(request(IMP, SITE + ',"user":{"buyeruid":"u-1"}'), two, 0)).not.toBe(keyFor(r, two, 0));
    // lmt: the device id is not used.
    parseReq(request(IMP, SITE + ',"device":{"ifa":"6D92078A-8246-4BA4-AE5B-76104861E7DC","lmt":1}'));
    expect(userKeyOf(req)).toBe(0);
  });

  it("count keys: a placeholder id (zeros and hyphens) names no one wherever it is; a UUID-form id in any case is one user", () => {
    const two = camp("a", 8000, CAP2) + "," + camp("b", 8000, CAP2);
    const ZERO = "00000000-0000-0000-0000-000000000000";
    const IFA = ',"device":{"ifa":"6D92078A-8246-4BA4-AE5B-76104861E7DC"}';
    // The refused IDFA copied into user.id, or a buyeruid "0": the next id is used, else no one.
    const byIfa = keyFor(request(IMP, SITE + IFA), two, 0);
    expect(keyFor(request(IMP, SITE + ',"user":{"id":"' + ZERO + '"}' + IFA), two, 0)).toBe(byIfa);
    expect(keyFor(request(IMP, SITE + ',"user":{"id":"u-1","buyeruid":"0"}'), two, 0)).toBe(keyFor(request(IMP, SITE + USER), two, 0));
    parseReq(request(IMP, SITE + ',"user":{"id":"' + ZERO + '","buyeruid":"0"},"device":{"ifa":"' + ZERO + '"}'));
    expect(userKeyOf(req)).toBe(0);
    // The IDFA as iOS writes it (upper case) and as some exchanges pass it on: one device.
    expect(keyFor(request(IMP, SITE + ',"device":{"ifa":"6d92078a-8246-4ba4-ae5b-76104861e7dc"}'), two, 0)).toBe(byIfa);
    expect(keyFor(request(IMP, SITE + ',"user":{"id":"6D92078A-8246-4BA4-AE5B-76104861E7DC"}'), two, 0))
      .toBe(keyFor(request(IMP, SITE + ',"user":{"id":"6d92078a-8246-4ba4-ae5b-76104861e7dc"}'), two, 0));
    // Other ids are opaque: their case counts (a cookie id "AbC" is not "abc").
    expect(keyFor(request(IMP, SITE + ',"user":{"id":"AbC"}'), two, 0)).not.toBe(keyFor(request(IMP, SITE + ',"user":{"id":"abc"}'), two, 0));
    expect(keyFor(request(IMP, SITE + ',"user":{"id":"6D92078A-8246-4BA4-AE5B-76104861E7DX"}'), two, 0))
      .not.toBe(keyFor(request(IMP, SITE + ',"user":{"id":"6d92078a-8246-4ba4-ae5b-76104861e7dx"}'), two, 0));
  });
});

