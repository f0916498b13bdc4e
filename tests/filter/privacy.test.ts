// Privacy signals over real HTTP: a request whose personal data may not be used
// (COPPA, LMT, DNT, a US Privacy opt-out, GDPR without TCF consent, a GPP opt-out
// or a GPP section that applies and cannot be read) is priced
// on contextual features only. The test model puts weight on the request's
// `ip=` and `tag=` buckets, so the personal price is well above the contextual
// one; nexus_bid_contextual_total counts the contextual decisions. With
// coppa_no_bid a COPPA request is a 204 (`coppa`) instead.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST, metricValue, post, startTestBidder } from "../helpers/bidder.ts";
import { tcString } from "../helpers/tcf.ts";
import { gppString, usnat } from "../helpers/gpp.ts";
import type { Standalone } from "../../host/src/standalone.ts";

const VENDOR = 77;
const model = { ctrWeights: { "ip=203.0.113.*": 1.0, "tag=seg-1": 0.5 } };
const base = { ...JSON.parse(README_REQUEST), user: { data: [{ id: "dp", segment: [{ id: "seg-1" }] }] } };
const withSignals = (extra: Record<string, unknown>) => JSON.stringify({ ...base, ...extra });
const deviceWith = (more: Record<string, unknown>) => ({ device: { ...base.device, ...more } });


async function price(app: Standalone, body: string): Promise<number> {
  const r = await post(`${app.bidUrl}/openrtb2/bid`, body);
  assert.equal(r.status, 200, r.text);
  return r.json().seatbid[0].bid[0].price as number;
}

describe("privacy signals: contextual bidding", () => {
  let app: Standalone;
  before(async () => {
    app = await startTestBidder({ vms: 1, model, plugin: { gdpr_vendor_id: VENDOR } });
  });
  after(async () => {
    await app?.close();
  });

  it("prices a request without personal data on contextual features only, and counts it", async () => {
    const personal = await price(app, withSignals({}));
    const contextual = await price(app, withSignals({ regs: { coppa: 1 } }));
    assert.ok(personal > 2 * contextual, `personal ${personal} vs contextual ${contextual}`);
    const before = await metricValue(app, "nexus_bid_contextual_total");
    const cases: Array<[string, Record<string, unknown>]> = [
      ["regs.coppa", { regs: { coppa: 1 } }],
      ["device.lmt", deviceWith({ lmt: 1 })],
      ["device.dnt", deviceWith({ dnt: 1 })],
      ["regs.us_privacy opt-out", { regs: { us_privacy: "1YYN" } }],
      ["regs.ext.us_privacy opt-out", { regs: { ext: { us_privacy: "1NYN" } } }],
      ["GDPR without a consent string", { regs: { gdpr: 1 } }],
      ["GDPR without purpose 4", { regs: { gdpr: 1 }, user: { ...base.user, consent: tcString({ purposes: [1, 2, 3], vendors: [VENDOR] }) } }],
      ["GDPR without our vendor", { regs: { gdpr: 1 }, user: { ...base.user, consent: tcString({ vendors: [VENDOR + 1] }) } }],
      ["GDPR with a version 1 string", { regs: { ext: { gdpr: 1 } }, user: { ...base.user, ext: { consent: tcString({ version: 1, vendors: [VENDOR] }) } } }],
      ["GDPR with a truncated string", { regs: { gdpr: 1 }, user: { ...base.user, consent: tcString({ vendors: [VENDOR] }).slice(0, 30) } }],
      ["GPP usnat opt-out of sale", { regs: { gpp: gppString([[7, usnat({ sale: 1 })]]), gpp_sid: [7] } }],
      ["GPP usnat opt-out of targeted advertising (2.5 regs.ext)", { regs: { ext: { gpp: gppString([[7, usnat({ targeted: 1 })]]), gpp_sid: [7] } } }],
      ["GPP usnat with GPC", { regs: { gpp: gppString([[7, usnat({ gpc: true })]]), gpp_sid: [7] } }],
      ["GPP uspv1 opt-out", { regs: { gpp: gppString([[6, "1YYN"]]), gpp_sid: [6] } }],
      ["GPP TCF EU section without purpose 4", { regs: { gpp: gppString([[2, tcString({ purposes: [1, 2, 3], vendors: [VENDOR] })]]), gpp_sid: [2] } }],
      ["GPP section applies but is not sent", { regs: { gpp: gppString([[7, usnat()]]), gpp_sid: [8] } }],
      ["GPP string that does not decode", { regs: { gpp: "DBAA", gpp_sid: [7] } }],
    ];
    const unreadable = await metricValue(app, "nexus_bid_contextual_gpp_unreadable_total");
    for (const [name, extra] of cases) {
      assert.equal(await price(app, withSignals(extra)), contextual, name);
    }
    assert.equal(await metricValue(app, "nexus_bid_contextual_total"), before + cases.length);
    // The two GPP signals that could not be read (not the opt-outs) are counted apart.
    assert.equal(await metricValue(app, "nexus_bid_contextual_gpp_unreadable_total"), unreadable + 2);
  });

  it("uses personal data when the signals allow it, and does not count it", async () => {
    const personal = await price(app, withSignals({}));
    const before = await metricValue(app, "nexus_bid_contextual_total");
    const cases: Array<[string, Record<string, unknown>]> = [
      ["signals that allow", { regs: { coppa: 0, gdpr: 0, us_privacy: "1YNN" }, ...deviceWith({ lmt: 0, dnt: 0 }) }],
      ["GDPR with consent for purposes and vendor (bitfield)", { regs: { gdpr: 1 }, user: { ...base.user, consent: tcString({ vendors: [3, VENDOR] }) } }],
      ["GDPR with consent in a range entry, extra segments", { regs: { gdpr: 1 }, user: { ...base.user, consent: tcString({ ranges: [[1, 100]] }) + ".YAAAAAAAAAAAAAAAAAA" } }],
      ["GPP usnat without opt-outs, GPC false", { regs: { gpp: gppString([[7, usnat({ gpc: false })]]), gpp_sid: [7] } }],
      ["GPP: only the applicable section counts", { regs: { gpp: gppString([[6, "1YYN"], [7, usnat()]]), gpp_sid: [7] } }],
      ["GPP TCF EU section with consent", { regs: { gpp: gppString([[2, tcString({ vendors: [VENDOR] })]]), gpp_sid: [2] } }],
      ["GPP gpp_sid -1 (no section applies)", { regs: { gpp: gppString([[7, usnat({ sale: 1 })]]), gpp_sid: [-1] } }],
    ];
    for (const [name, extra] of cases) {
      assert.equal(await price(app, withSignals(extra)), personal, name);
    }
    assert.equal(await metricValue(app, "nexus_bid_contextual_total"), before);
  });
});

describe("privacy signals: coppa_no_bid", () => {
  let app: Standalone;
  before(async () => {
    app = await startTestBidder({ vms: 1, model, plugin: { coppa_no_bid: true } });
  });
  after(async () => {
    await app?.close();
  });

  it("answers a COPPA request 204 coppa, and still bids contextually on other signals", async () => {
    const r = await post(`${app.bidUrl}/openrtb2/bid`, withSignals({ regs: { coppa: 1 } }));
    assert.equal(r.status, 204);
    assert.equal(r.headers["x-nexus-nobid-reason"], "coppa");
    assert.equal(await metricValue(app, "nexus_nobids_coppa_total"), 1);
    assert.equal(await metricValue(app, "nexus_bid_contextual_total"), 0);
    assert.equal((await post(`${app.bidUrl}/openrtb2/bid`, withSignals(deviceWith({ lmt: 1 })))).status, 200);
    assert.equal(await metricValue(app, "nexus_bid_contextual_total"), 1);
  });
});
