// Currency codes in the plugin configuration must be what OpenRTB sends (upper-case ISO 4217):
// a lower-case account currency never matched a request's cur (every request a no-bid
// "currency"), a lower-case fx_rates key never matched a bidfloorcur.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startSimBidder } from "../helpers/sim-bidder.ts";

/** Fails (after closing it) when the bidder starts with this plugin configuration. */
async function refused(plugin: Record<string, unknown>): Promise<void> {
  let sim;
  try {
    sim = await startSimBidder({ plugin });
  } catch {
    return;
  }
  await sim.close();
  assert.fail(`plugin configuration accepted: ${JSON.stringify(plugin)}`);
}

describe("plugin configuration: currency codes", () => {
  it("refuses a lower-case account currency", async () => {
    await refused({ currency: "usd" });
  });

  it("refuses a lower-case fx_rates key", async () => {
    await refused({ fx_rates: { eur: 1.1 } });
  });

  it("accepts upper-case codes", async () => {
    const sim = await startSimBidder({ plugin: { currency: "USD", fx_rates: { EUR: 1.1 } } });
    await sim.close();
  });
});
