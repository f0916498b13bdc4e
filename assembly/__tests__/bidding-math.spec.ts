// Edge cases of the bidding arithmetic (assembly/core/bidding/money.ts and
// decision.ts) at the limits of what the configuration and the request accept.
import { BidRequestParser } from "../core/openrtb/parse";
import { BidRequest } from "../core/openrtb/request";
import { CampaignConfigParser } from "../core/bidding/campaign-config";
import { CampaignTable } from "../core/bidding/campaign";
import { BudgetPort } from "../core/bidding/budget-port";
import { Decision, DecisionEngine, DecisionSettings } from "../core/bidding/decision";
import { NoBid } from "../core/bidding/reasons";
import { cpmToImpressionMicrosCeil, microsFloor } from "../core/bidding/money";
import { LrModelPair, ModelError } from "../core/model/lr-model";

const BITS: i32 = 10;
const NOW: i64 = 1704067200000;

/** pCTR = pCVR = 0.5 (no weights, zero biases). */
function halfModel(): LrModelPair {
  const b = new ArrayBuffer(32);
  const p = changetype<usize>(b);
  store<u32>(p, 0x314d584e);
  store<u32>(p, 32, 4);
  store<u8>(p, <u8>BITS, 8);
  store<u8>(p, 1, 9);
  const m = new LrModelPair(BITS);
  expect(m.loadNxm(p, 32)).toBe(ModelError.OK);
  return m;
}
const HALF = halfModel();

const parser = new BidRequestParser();
const req = new BidRequest();
let body: ArrayBuffer = new ArrayBuffer(0);
const config = new CampaignConfigParser();
const engine = new DecisionEngine(BITS);
const out = new Decision();

function table(campaign: string): CampaignTable {
  const b = String.UTF8.encode('{"version":1,"campaigns":[' + campaign + "]}");
  const t = config.parse(changetype<usize>(b), b.byteLength);
  if (t === null) trace("campaigns: " + config.error);
  return t!;
}

function decide(impJson: string, campaign: string): Decision {
  body = String.UTF8.encode('{"id":"r1","imp":[' + impJson + '],"site":{"domain":"news.example"}}');
  expect(parser.parse(changetype<usize>(body), body.byteLength, req)).toBe(0);
  const s = new DecisionSettings();
  const usd = String.UTF8.encode("USD");
  body = usd;
  s.currency.set(changetype<usize>(usd), 3);
  engine.decide(req, HALF, table(campaign), s, new BudgetPort(), NOW, out);
  return out;
}

const CR = '"creatives":[{"crid":"c","w":300,"h":250}]';

describe("floors at the limits of the arithmetic", () => {
  it("a floor too large for i64 micros is above every bid, not equal to the largest one", () => {
    // Both saturate at 9e15 micros: the floor must still win the comparison.
    expect(microsFloor(1e30)).toBeLessThan(cpmToImpressionMicrosCeil(1e30));
    expect(cpmToImpressionMicrosCeil(Infinity)).toBeGreaterThan(microsFloor(Infinity));
    // EV 0.25 x 1e15 x alpha 100 = 2.5e16 micros (saturates); floor 1e14 CPM = 1e17 micros per impression.
    const d = decide(
      '{"id":"1","banner":{"w":300,"h":250},"bidfloor":1e14}',
      '{"id":"big","value_per_conversion_micros":1000000000000000,"alpha":100,' + CR + "}",
    );
    expect(d.count).toBe(0);
    expect(d.reason).toBe(NoBid.BELOW_FLOOR);
  });
});
