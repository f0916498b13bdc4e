// Privacy signals over real HTTP: a request whose personal data may not be used
// (COPPA, LMT, DNT, a US Privacy opt-out, GDPR without TCF consent) is priced
// on contextual features only. The test model puts weight on the request's
// `ip=` and `tag=` buckets, so the personal price is well above the contextual
// one; nexus_bid_contextual_total counts the contextual decisions. With
// coppa_no_bid a COPPA request is a 204 (`coppa`) instead.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST, metricValue, post, startTestBidder } from "../helpers/bidder.ts";
import { tcString } from "../helpers/tcf.ts";
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
    ];
    for (const [name, extra] of cases) {
      assert.equal(await price(app, withSignals(extra)), contextual, name);
    }
    assert.equal(await metricValue(app, "nexus_bid_contextual_total"), before + cases.length);
  });

  it("uses personal data when the signals allow it, and does not count it", async () => {
    const personal = await price(app, withSignals({}));
    const before = await metricValue(app, "nexus_bid_contextual_total");
    const cases: Array<[string, Record<string, unknown>]> = [
      ["signals that allow", { regs: { coppa: 0, gdpr: 0, us_privacy: "1YNN" }, ...deviceWith({ lmt: 0, dnt: 0 }) }],
      ["GDPR with consent for purposes and vendor (bitfield)", { regs: { gdpr: 1 }, user: { ...base.user, consent: tcString({ vendors: [3, VENDOR] }) } }],
      ["GDPR with consent in a range entry, extra segments", { regs: { gdpr: 1 }, user: { ...base.user, consent: tcString({ ranges: [[1, 100]] }) + ".YAAAAAAAAAAAAAAAAAA" } }],
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
