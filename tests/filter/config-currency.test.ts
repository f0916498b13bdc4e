// Currency codes in the plugin configuration must be what OpenRTB sends (upper-case ISO 4217):
// a lower-case account currency never matched a request's cur (every request a no-bid
// "currency"), a lower-case fx_rates key never matched a bidfloorcur.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { assertSimRefused, startSimBidder } from "../helpers/sim-bidder.ts";

describe("plugin configuration: currency codes", () => {
  it("refuses a lower-case account currency", async () => {
    await assertSimRefused({ plugin: { currency: "usd" } });
  });

  it("refuses a lower-case fx_rates key", async () => {
    await assertSimRefused({ plugin: { fx_rates: { eur: 1.1 } } });
  });

  it("accepts upper-case codes", async () => {
    const sim = await startSimBidder({ plugin: { currency: "USD", fx_rates: { EUR: 1.1 } } });
    await sim.close();
  });
});
