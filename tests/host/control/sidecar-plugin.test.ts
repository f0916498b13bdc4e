// In sidecar mode the host runs no filter VM, yet reads its `plugin` setting, its copy of Envoy's
// plugin configuration: the lease refill runs at the pace of its pacing.hourly_weights, and its
// budget day on utc_offset_minutes until the filter reports its own. A docs audit started a
// sidecar host with a misspelt key and 2 hourly weights: it started, and paced by the flat plan.
// The host now checks that copy with the filter's own parser (build/nexus_core.wasm) at start.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { testBidderConfig } from "../../helpers/bidder.ts";
import { startControlPlane } from "../../../host/src/standalone.ts";
import { captureLogger, stopControlPlane } from "../model-store/helpers.ts";

describe("sidecar host: its plugin setting", () => {
  for (const [plugin, why] of [
    [{ bogus_key: 1 }, /^plugin: bogus_key: unknown key/],
    [{ pacing: { hourly_weights: [1, 2] } }, /^plugin: pacing\.hourly_weights: expected 24 weights/],
    [{ utc_offset_minutes: "x" }, /^plugin: utc_offset_minutes: /],
  ] as const) {
    it(`refuses ${JSON.stringify(plugin)} with the filter's reason`, async () => {
      const { cfg, dir } = testBidderConfig({ vms: 1, plugin });
      cfg.mode = "sidecar";
      try {
        const started = await startControlPlane(cfg, captureLogger().log).catch((err: Error & { code?: string }) => err);
        if (!(started instanceof Error)) {
          await stopControlPlane(started, dir);
          assert.fail("the sidecar host started with a plugin configuration the filter refuses");
        }
        assert.equal((started as Error & { code?: string }).code, "CONFIG_INVALID");
        assert.match(started.message, why);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("starts with the filter's weights (the copy the lease refill reads)", async () => {
    const weights = Array.from({ length: 24 }, (_, h) => (h >= 8 && h < 20 ? 2 : 1));
    const { cfg, dir } = testBidderConfig({ vms: 1, plugin: { pacing: { hourly_weights: weights } } });
    cfg.mode = "sidecar";
    const cp = await startControlPlane(cfg, captureLogger().log);
    await stopControlPlane(cp, dir);
  });
});
