// The largest campaign set the filter takes (256 campaigns, ids of 64 characters that JSON must
// escape) still syncs: the leader's report of every campaign's ledger (~280 bytes each here) fits
// its buffer, so the host hears every campaign and leases each one. A report cut short would be
// refused by the host (400) on every sync, and the pod would stop getting money (with the 64 KiB
// buffer of before, this test fails).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Standalone } from "../../host/src/standalone.ts";
import { FIXTURES, startTestBidder } from "../helpers/bidder.ts";
import { filterMetric, until } from "../hardening/helpers.ts";

describe("a set of 256 campaigns syncs", () => {
  let app: Standalone;

  before(async () => {
    const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
    const base = set.campaigns[0];
    // Quotes and backslashes: two bytes each in the report.
    set.campaigns = Array.from({ length: 256 }, (_, i) => ({ ...base, id: `c${String(i).padStart(3, "0")}`.padEnd(64, '"\\') }));
    app = await startTestBidder({ vms: 1, campaigns: set });
  });
  after(async () => {
    await app?.close();
  });

  it("the host hears every campaign from the filter's reports, and the syncs succeed", async () => {
    await until(() => app.sync.filter.campaigns.size === 256, 15_000, "all 256 campaigns reported");
    const ok = filterMetric(app, "nexus_sync_ok_total");
    await until(() => filterMetric(app, "nexus_sync_ok_total") >= ok + 2n, 15_000, "two more syncs");
    assert.equal(filterMetric(app, "nexus_sync_failed_total"), 0n);
  });
});
