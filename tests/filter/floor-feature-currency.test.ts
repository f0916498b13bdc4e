// The model's floor= feature buckets the floor in hundredths of a currency. A model trained on
// one currency's floors (the demo model: iPinYou, CNY fen) read a USD floor of 0.20 as 0.20 CNY:
// a currency audit measured bids moving by 2-2.7x with the currency of the floor. With plugin
// floor_feature_currency the filter converts the floor into that currency (fx_rates) before it
// buckets it; without it, floors are bucketed as sent (a model trained on the same exchange).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST, post, startTestBidder } from "../helpers/bidder.ts";

const CNY_PER_USD = 1 / 0.14;

async function pricesByFloor(plugin: Record<string, unknown>, floors: Array<[number, string]>): Promise<number[]> {
  // A model that prices the top floor bucket (101+ hundredths) higher than the others.
  const app = await startTestBidder({ vms: 1, plugin, model: { ctrWeights: { "floor=101+": 1.0 } } });
  try {
    await app.ready();
    const prices: number[] = [];
    for (const [i, [floor, cur]] of floors.entries()) {
      const body = { ...JSON.parse(README_REQUEST), id: `floor-feature-${i}`, imp: [{ id: "1", banner: { w: 300, h: 250 }, bidfloor: floor, bidfloorcur: cur }] };
      const r = await post(`${app.bidUrl}/openrtb2/bid`, JSON.stringify(body));
      assert.equal(r.status, 200, `${floor} ${cur}: ${r.status} ${r.headers["x-nexus-nobid-reason"] ?? r.text}`);
      prices.push(r.json().seatbid[0].bid[0].price as number);
    }
    return prices;
  } finally {
    await app.close();
  }
}

describe("the floor= feature and the floor's currency", () => {
  // 0.20 USD is 1.43 CNY (bucket 101+); 0.20 CNY is bucket 11-50; 2.00 CNY is 101+.
  const floors: Array<[number, string]> = [[0.2, "USD"], [0.2, "CNY"], [2.0, "CNY"]];

  it("with floor_feature_currency CNY, a USD floor is bucketed as its value in CNY", async () => {
    const [usd, lowCny, highCny] = await pricesByFloor({ fx_rates: { CNY: 0.14 }, floor_feature_currency: "CNY" }, floors);
    assert.ok(0.2 * CNY_PER_USD > 1.005, "the USD floor is above 1 CNY");
    assert.equal(usd, highCny, "0.20 USD prices as a CNY floor above 1.00");
    assert.ok(usd! > lowCny!, `0.20 USD (${usd}) above 0.20 CNY (${lowCny})`);
  });

  it("without it, floors are bucketed as sent (0.20 USD as 0.20 CNY)", async () => {
    const [usd, lowCny, highCny] = await pricesByFloor({ fx_rates: { CNY: 0.14 } }, floors);
    assert.equal(usd, lowCny);
    assert.ok(highCny! > usd!);
  });

  it("the plugin refuses a floor_feature_currency it has no rate for, and a lower-case one", async () => {
    await assert.rejects(startTestBidder({ vms: 1, plugin: { fx_rates: {}, floor_feature_currency: "CNY" } }), /floor_feature_currency CNY: fx_rates has no rate for it/);
    await assert.rejects(startTestBidder({ vms: 1, plugin: { fx_rates: { CNY: 0.14 }, floor_feature_currency: "cny" } }), /floor_feature_currency.*ISO 4217/);
  });
});
