// A campaigns file may say which currency its money is in (top-level "currency"). A set in
// another currency than the filter's account currency is refused: its budgets and bid caps
// would be spent as micros of the wrong currency (an audit ran the USD demo budget as yen after
// changing the plugin currency). Standalone: the host refuses it at start and at a reload;
// sidecar (the host does not know Envoy's plugin configuration): the filter refuses it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { FIXTURES, README_REQUEST, post, testBidderConfig } from "../../helpers/bidder.ts";
import { startControlPlane, startStandalone } from "../../../host/src/standalone.ts";
import { renderPrometheus, type VmPool } from "../../../host/src/proxy-wasm/index.ts";
import { silentLogger } from "../../../host/src/log.ts";
import { captureLogger, startSidecarFilter, stopControlPlane, waitFor } from "../model-store/helpers.ts";

function campaignsIn(currency: string | undefined, version = 1): Record<string, unknown> {
  const set = JSON.parse(readFileSync(`${FIXTURES}campaigns/test-campaigns.json`, "utf8"));
  return { ...set, version, ...(currency === undefined ? {} : { currency }) };
}

describe("campaigns file currency, standalone", () => {
  it("refuses to start on a set in another currency, naming both", async () => {
    const { cfg, dir } = testBidderConfig({ vms: 1, campaigns: campaignsIn("EUR") });
    try {
      const started = await startStandalone(cfg, silentLogger()).catch((err: Error & { code?: string }) => err);
      if (!(started instanceof Error)) {
        await started.close();
        assert.fail("the bidder started on campaigns in EUR with a USD account");
      }
      assert.equal(started.code, "CAMPAIGNS_INVALID");
      assert.match(started.message, /currency: the campaigns are in EUR, the filter's account currency \(plugin currency\) is USD/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs a set in its own currency, or one that does not say; refuses a reload into another", async () => {
    const { cfg, dir } = testBidderConfig({ vms: 1, campaigns: campaignsIn("EUR"), plugin: { currency: "EUR", fx_rates: { USD: 0.93 } } });
    const app = await startStandalone(cfg, silentLogger());
    try {
      await app.ready();
      const bid = await post(`${app.bidUrl}/openrtb2/bid`, JSON.stringify({ ...JSON.parse(README_REQUEST), cur: ["EUR"] }));
      assert.equal(bid.status, 200, `${bid.status} ${bid.headers["x-nexus-nobid-reason"] ?? bid.text}`); // the USD floor converted
      assert.equal(bid.json().cur, "EUR");
      writeFileSync(cfg.campaignsPath, JSON.stringify(campaignsIn("USD", 2)));
      await assert.rejects(app.reloadCampaigns("sighup"), /the campaigns are in USD.*is EUR/);
      writeFileSync(cfg.campaignsPath, JSON.stringify(campaignsIn(undefined, 3)));
      const changes = await app.reloadCampaigns("sighup");
      assert.equal(changes.version, 3);
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("campaigns file currency, sidecar (the filter checks)", () => {
  it("a set in another currency is not loaded: counted, logged, not announced", async () => {
    const { cfg, dir } = testBidderConfig({ vms: 1, campaigns: campaignsIn("EUR") });
    cfg.mode = "sidecar"; // the host publishes it: Envoy's plugin configuration is not its own
    const cp = await startControlPlane(cfg, captureLogger().log);
    const logs: string[] = [];
    let pool: VmPool | undefined;
    try {
      pool = await startSidecarFilter(cfg, cp, logs);
      const p = pool;
      await waitFor("a refused campaign set", () => /nexus_config_load_failures_total\S* [1-9]/.test(renderPrometheus(p.metrics)), 5000);
      assert.equal(p.shared.get("nexus/v1/config/version"), undefined, "the set is not announced to the VMs");
      assert.ok(logs.some((m) => /campaigns are in EUR, the filter's account currency \(plugin currency\) is USD/.test(m)), `filter log: ${JSON.stringify(logs.slice(-5))}`);
      // Not downloaded and refused again at every sync (10 a second here): once a minute at most.
      await new Promise((r) => setTimeout(r, 1_500));
      assert.match(renderPrometheus(p.metrics), /nexus_config_load_failures_total\S* 1\n/);
      assert.equal(logs.filter((m) => /campaigns are in EUR/.test(m)).length, 1);
    } finally {
      await pool?.close();
      await stopControlPlane(cp, dir);
    }
  });
});
