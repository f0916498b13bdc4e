// Rules of targeting, matching and configuration that no other test pinned: a mutation audit of
// assembly/core/bidding, privacy, traffic and the plugin configuration (2026-12-07) changed each
// of them in one line and the suite still passed. Each test here fails on that mutation.
import { BidRequest } from "../core/openrtb/request";
import { BidRequestParser } from "../core/openrtb/parse";
import { Creative } from "../core/bidding/campaign";
import { noBidName } from "../core/bidding/reasons";
import { PersonalData, PersonalDataPolicy } from "../core/privacy/personal-data";
import { GppString, GppVerdict } from "../core/privacy/gpp";
import { IntList } from "../core/json/lists";
import { IpRangeSet } from "../core/traffic/ip-ranges";
import { PluginConfig, PluginConfigParser } from "../filter/config";
import { DecisionHarness, OpenBudget, bytesOf, campaign, jsonString, view } from "./support/decision-fixtures";

const pluginParser = new PluginConfigParser();
function plugin(json: string): PluginConfig | null {
  return pluginParser.parse(bytesOf(json), String.UTF8.byteLength(json));
}
const TOKEN = "0123456789abcdefABCDEF";

/** The crid of the single bid on this whole request body, or the no-bid reason's name. */
function outcomeOfBody(h: DecisionHarness, body: string, campaigns: string): string {
  const rc = h.requestParser.parse(bytesOf(body), String.UTF8.byteLength(body), h.req);
  expect(rc).toBe(0);
  const t = h.parseSet(campaigns);
  if (t === null) trace("campaigns: " + h.config.error);
  h.engine.seed(1);
  h.engine.decide(h.req, h.model, t!, h.settings(), new OpenBudget(), h.nowMs, h.out);
  if (h.out.count == 0) return noBidName(h.out.reason);
  return changetype<Creative>(h.out.bid(0).creative).crid.toString();
}

/** The personal-data verdict on a banner request with these extra top-level members. */
function privacyOf(members: string): i32 {
  const parser = new BidRequestParser();
  const req = new BidRequest();
  const json = '{"id":"r","imp":[{"id":"1","banner":{"w":300,"h":250}}],' + members + "}";
  const rc = parser.parse(bytesOf(json), String.UTF8.byteLength(json), req);
  expect(rc).toBe(0);
  return new PersonalDataPolicy().decide(req);
}

/** GppString.decide on `s` with the applicable section ids `ids`. */
function gppVerdict(s: string, ids: i32[]): i32 {
  const sids = new IntList(8);
  for (let i = 0; i < ids.length; i++) sids.add(ids[i]);
  return new GppString().decide(view(s), sids);
}

function ipIn(set: IpRangeSet, s: string): bool {
  const v = view(s);
  return set.containsText(v.ptr, v.len, 0, 0);
}

const BANNER = '{"crid":"b1","w":300,"h":250,"adm":"<div>ad</div>"}';
const VAST4 = '<VAST version="4.0"><Ad><InLine></InLine></Ad></VAST>';
const IMP = '{"id":"1","banner":{"w":300,"h":250}}';

describe("targeting, matching and configuration rules pinned by a mutation audit", () => {
  it("a domain list written in capitals still matches (stored lower-case)", () => {
    const h = new DecisionHarness();
    // The harness's request is on site.domain "news.example".
    expect(h.outcome(IMP, campaign(BANNER, '"targeting":{"domains_block":["News.Example"]},'))).not.toBe("b1");
    expect(h.outcome(IMP, campaign(BANNER, '"targeting":{"domains_allow":["NEWS.example"]},'))).toBe("b1");
  });

  it("a media type with an empty type part (\"/mp4\") is refused", () => {
    const h = new DecisionHarness();
    const mimes = (m: string): string => '{"crid":"v","type":"video","duration":15,"adm":' + jsonString(VAST4) + ',"mimes":' + m + "}";
    expect(h.errorOf(mimes('["video/mp4"]'))).toBe("OK");
    expect(h.errorOf(mimes('["/mp4"]'))).toBe('campaigns[0].creatives[0].mimes[0]: expected a media type ("video/mp4")');
  });

  it("a bid exactly at a deal's floor is a bid in the deal (first price and fixed price)", () => {
    const h = new DecisionHarness();
    // The harness's campaign bids 2.0 CPM (2,000 micros an impression).
    const deal = (d: string): string => '{"id":"1","banner":{"w":300,"h":250},"pmp":{"private_auction":1,"deals":[' + d + "]}}";
    expect(h.outcome(deal('{"id":"d1","bidfloor":2.0}'), campaign(BANNER, '"deals":["d1"],'))).toBe("b1");
    expect(h.outcome(deal('{"id":"d1","bidfloor":2.0,"at":3}'), campaign(BANNER, '"deals":["d1"],'))).toBe("b1");
    expect(h.outcome(deal('{"id":"d1","bidfloor":2.01}'), campaign(BANNER, '"deals":["d1"],'))).toBe("below_floor");
  });

  it("a video whose rqddurs list is longer than the parser keeps does not fit (even when the kept part lists the ad's duration)", () => {
    const h = new DecisionHarness();
    const video = '{"crid":"v","type":"video","duration":15,"adm":' + jsonString(VAST4) + ',"mimes":["video/mp4"]}';
    let durs = "15";
    for (let i = 0; i < 31; i++) durs += "," + (100 + i).toString();
    // 32 durations: all kept, 15 among them.
    expect(h.outcome('{"id":"1","video":{"mimes":["video/mp4"],"rqddurs":[' + durs + "]}}", campaign(video))).toBe("v");
    // 33: truncated, so not checkable in full: no bid.
    expect(h.outcome('{"id":"1","video":{"mimes":["video/mp4"],"rqddurs":[' + durs + ",200]}}", campaign(video))).toBe("no_match");
  });

  it("an allow list does not admit a site.domain that cannot be read (a percent-escape)", () => {
    const h = new DecisionHarness();
    const camp = campaign(BANNER, '"targeting":{"domains_allow":["news.example"]},');
    expect(outcomeOfBody(h, '{"id":"r1","imp":[' + IMP + '],"site":{"domain":"www.news.example"}}', camp)).toBe("b1");
    expect(outcomeOfBody(h, '{"id":"r1","imp":[' + IMP + '],"site":{"domain":"x%41.news.example"}}', camp)).not.toBe("b1");
  });

  it("a native creative whose video creative's VAST loads over http:// is not secure", () => {
    const h = new DecisionHarness();
    const vastHttp = '<VAST version="4.0"><Ad><InLine><MediaFile>http://cdn.example/v.mp4</MediaFile></InLine></Ad></VAST>';
    const video = '{"crid":"v","type":"video","duration":15,"adm":' + jsonString(vastHttp) + ',"mimes":["video/mp4"]}';
    const native = '{"crid":"n","type":"native","title":"T","link":"https://a.example/","video":"v"}';
    const t = h.parseSet('{"id":"c","creatives":[' + video + "," + native + "]}");
    expect(t).not.toBeNull();
    expect(t!.at(0).creatives[0].secure).toBe(false);
    expect(t!.at(0).creatives[1].secure).toBe(false);
  });

  it("a native creative with a single data value of type 1 (sponsored) is a valid creative", () => {
    const h = new DecisionHarness();
    expect(h.errorOf('{"crid":"n","type":"native","link":"https://a.example/","data":{"sponsored":"Acme"}}')).toBe("OK");
  });

  it("an image asset with an exact w (no wmin) is not filled by a larger image", () => {
    const h = new DecisionHarness();
    const n = '{"crid":"n","type":"native","title":"T","link":"https://a.example/","images":[{"type":"main","url":"https://cdn.example/m.jpg","w":1200,"h":627}]}';
    const doc = (img: string): string => '{"ver":"1.2","assets":[{"id":1,"required":1,"img":' + img + "}]}";
    const imp = (d: string): string => '{"id":"1","native":{"request":' + jsonString(d) + "}}";
    expect(h.outcome(imp(doc('{"type":3,"w":1200,"h":627}')), campaign(n))).toBe("n");
    expect(h.outcome(imp(doc('{"type":3,"w":1000,"h":600}')), campaign(n))).toBe("no_match");
  });

  it("a native creative whose privacy notice URL is http:// is not secure", () => {
    const h = new DecisionHarness();
    const t = h.parseSet('{"id":"c","creatives":[{"crid":"n","type":"native","title":"T","link":"https://a.example/","privacy":"http://a.example/privacy"}]}');
    expect(t).not.toBeNull();
    expect(t!.at(0).creatives[0].secure).toBe(false);
    const ok = h.parseSet('{"id":"c","creatives":[{"crid":"n","type":"native","title":"T","link":"https://a.example/","privacy":"https://a.example/privacy"}]}');
    expect(ok!.at(0).creatives[0].secure).toBe(true);
  });

  it("a US Privacy string with a lower-case 'y' opt-out (\"1-y-\") is an opt-out of sale", () => {
    expect(privacyOf('"regs":{"us_privacy":"1YNN"}')).toBe(PersonalData.ALLOWED);
    expect(privacyOf('"regs":{"us_privacy":"1nyn"}')).toBe(PersonalData.US_PRIVACY_OPT_OUT);
  });

  it("a California (usca) section with a GPC sub-section signal is an opt-out", () => {
    const USNAT_OK = "BVVqqqqqCW";
    const USCA_OK = "BAoAAAAA";
    // Header [7, 8]: usnat and usca; usca applies.
    expect(gppVerdict("DBACLY~" + USNAT_OK + "~" + USCA_OK, [8])).toBe(GppVerdict.ALLOWED);
    expect(gppVerdict("DBACLY~" + USNAT_OK + "~" + USCA_OK + ".Q", [8])).toBe(GppVerdict.ALLOWED); // GPC 0
    expect(gppVerdict("DBACLY~" + USNAT_OK + "~" + USCA_OK + ".Y", [8])).toBe(GppVerdict.US_OPT_OUT); // GPC 1
  });

  it("a CIDR block inside a larger one does not shrink the larger one's range", () => {
    const set = new IpRangeSet();
    expect(set.add("10.0.0.0/8")).toBe("");
    expect(set.add("10.1.0.0/16")).toBe("");
    set.build();
    expect(ipIn(set, "10.1.2.3")).toBe(true);
    expect(ipIn(set, "10.200.0.1")).toBe(true);
    expect(ipIn(set, "11.0.0.1")).toBe(false);
  });

  it("the plugin configuration: replay_cluster defaults to the configured host_cluster", () => {
    expect(plugin('{"host_cluster":"control"}')!.replayCluster.toString()).toBe("control");
    expect(plugin('{"host_cluster":"control","replay_cluster":"nexus_replay"}')!.replayCluster.toString()).toBe("nexus_replay");
  });

  it("the plugin configuration: sync_token and sync_token_env together are refused", () => {
    expect(plugin('{"sync_token":"' + TOKEN + '"}')).not.toBeNull();
    expect(plugin('{"sync_token":"' + TOKEN + '","sync_token_env":"NEXUS_SYNC_TOKEN"}')).toBeNull();
    expect(pluginParser.error).toBe("sync_token and sync_token_env: set one, not both");
  });

  it("the plugin configuration: a loss_path equal to bid_path, or a path not starting with '/', is refused", () => {
    expect(plugin('{"bid_path":"/x","loss_path":"/x"}')).toBeNull();
    expect(pluginParser.error).toBe("bid_path, win_path and loss_path must differ");
    // win_path == loss_path: every loss notice would be charged as a win.
    expect(plugin('{"win_path":"/notice","loss_path":"/notice"}')).toBeNull();
    expect(pluginParser.error).toBe("bid_path, win_path and loss_path must differ");
    expect(plugin('{"bid_path":"openrtb2/bid"}')).toBeNull();
    expect(pluginParser.error).toBe("bid_path: must start with '/'");
  });

  it("the plugin configuration: replay_claim_failure open and closed; pacing multipliers in order; 24 hourly weights", () => {
    expect(plugin('{"replay_claim_failure":"open"}')!.replayClaimFailOpen).toBe(true);
    expect(plugin('{"replay_claim_failure":"closed"}')!.replayClaimFailOpen).toBe(false);
    expect(plugin('{"pacing":{"min_multiplier":2,"max_multiplier":1}}')).toBeNull();
    expect(pluginParser.error).toBe("pacing: min_multiplier above max_multiplier");
    let w = "1";
    for (let i = 1; i < 23; i++) w += ",1";
    expect(plugin('{"pacing":{"hourly_weights":[' + w + "]}}")).toBeNull(); // 23
    expect(plugin('{"pacing":{"hourly_weights":[' + w + ",1]}}")).not.toBeNull(); // 24
  });

  it("a gpp_sid list cut short is unreadable, even when the part kept names no applicable section", () => {
    expect(gppVerdict("", [-1, -1, -1, -1, -1, -1, -1, -1])).toBe(GppVerdict.ALLOWED);
    // Nine ids into a list of eight: the dropped one (7, usnat) applies.
    expect(gppVerdict("", [-1, -1, -1, -1, -1, -1, -1, -1, 7])).toBe(GppVerdict.UNREADABLE);
  });
});
