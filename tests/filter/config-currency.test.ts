// Currency codes in the plugin configuration must be what OpenRTB sends (upper-case ISO 4217):
// a lower-case account currency never matched a request's cur (every request a no-bid
// "currency"), a lower-case fx_rates key never matched a bidfloorcur.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { assertSimRefused, startSimBidder } from "../helpers/sim-bidder.ts";
import { README_REQUEST } from "../helpers/bidder.ts";

describe("plugin configuration: currency codes", () => {
  it("refuses a lower-case account currency", async () => {
    await assertSimRefused({ plugin: { currency: "usd" } });
  });

  it("refuses a lower-case fx_rates key", async () => {
    await assertSimRefused({ plugin: { fx_rates: { eur: 1.1 } } });
  });

  it("refuses a rate other than 1 for the account currency itself, before or after `currency`", async () => {
    // Another value belongs to a table quoted into another currency, and was ignored.
    await assertSimRefused({ plugin: { fx_rates: { USD: 2 } } }, /fx_rates\.USD: the account currency \(currency\) is 1, not 2/);
    await assertSimRefused({ plugin: { currency: "EUR", fx_rates: { EUR: 1.08, USD: 1 } } }, /fx_rates\.EUR/);
    await assertSimRefused({ plugin: { fx_rates: { USD: 1, EUR: 0.93 }, currency: "EUR" } }, /fx_rates\.EUR: the account currency \(currency\) is 1, not 0\.93/);
    // A table that lists its base at 1 (as FX exports do) is fine.
    const sim = await startSimBidder({ plugin: { currency: "USD", fx_rates: { USD: 1, EUR: 1.08 } } });
    await sim.close();
  });

  it("accepts upper-case codes, and the rate converts an EUR floor", async () => {
    const sim = await startSimBidder({ plugin: { currency: "USD", fx_rates: { EUR: 1.1 } } });
    try {
      await sim.untilReady();
      const request = (floor: number, cur: string) =>
        JSON.stringify({ ...JSON.parse(README_REQUEST), id: `fx-${floor}-${cur}`, imp: [{ id: "1", banner: { w: 300, h: 250 }, bidfloor: floor, bidfloorcur: cur }] });
      const priced = await sim.bid(request(0.01, "EUR"));
      assert.ok(priced.kind === "local" && priced.status === 200, "a bid over a small EUR floor");
      const price = JSON.parse(new TextDecoder().decode(priced.body)).seatbid[0].bid[0].price as number;
      // A floor just under the bid in USD is under it in EUR too, but × 1.1 it is above.
      const floorEur = (price / 1.1) * 1.05;
      const over = await sim.bid(request(floorEur, "EUR"));
      assert.ok(over.kind === "local" && over.status === 204, `an EUR floor of ${floorEur} (×1.1 = ${floorEur * 1.1} USD) over the ${price} bid`);
      assert.equal(over.headers.find(([k]) => k === "x-nexus-nobid-reason")?.[1], "below_floor");
      const under = await sim.bid(request(price * 0.9, "USD"));
      assert.ok(under.kind === "local" && under.status === 200, "the same campaign bids over a USD floor under its bid");
    } finally {
      await sim.close();
    }
  });
});
