// A campaign dayparted in its time zone, end to end: the host resolves targeting.daypart_time_zone
// into the zone's current offset in the set it serves (campaign-zones.ts), and the compiled filter
// reads the campaign's hours on that clock, whatever the request's own (device.geo.utcoffset).
// Two bidders over real HTTP: the campaign's hours are the zone's current hour and the next one
// (bids), or six hours away from it (no bid).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, README_REQUEST, post, startTestBidder } from "../helpers/bidder.ts";
import { zoneOffsetMinutes } from "../../host/src/control/campaign-zones.ts";

// Kathmandu is UTC+05:45: its hour is never the UTC hour, nor any whole-hour zone's.
const ZONE = "Asia/Kathmandu";

function hourInZone(ms: number): number {
  return Math.floor((ms + zoneOffsetMinutes(ZONE, ms) * 60_000) / 3_600_000) % 24;
}

async function answer(hours: number[]): Promise<{ status: number; reason: string | undefined }> {
  const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  set.campaigns[0].targeting = { ...set.campaigns[0].targeting, hours, daypart_time_zone: ZONE };
  const app = await startTestBidder({ vms: 1, campaigns: set });
  try {
    const served = JSON.parse(app.catalog.json).campaigns[0].targeting;
    assert.equal(served.daypart_utc_offset_minutes, 345, "the host served the zone's offset");
    // The user's clock says UTC-10: it must not matter.
    const req = JSON.parse(README_REQUEST);
    const body = JSON.stringify({ ...req, device: { ...req.device, geo: { ...(req.device?.geo ?? {}), utcoffset: -600 } } });
    const r = await post(`${app.bidUrl}/openrtb2/bid`, body);
    return { status: r.status, reason: r.headers["x-nexus-nobid-reason"] as string | undefined };
  } finally {
    await app.close();
  }
}

describe("dayparting in the campaign's time zone (host resolves, filter applies)", () => {
  it("bids in the zone's current hour and not six hours away from it", async () => {
    const h = hourInZone(Date.now());
    // The hour and the next: the test may cross the hour's end.
    assert.equal((await answer([h, (h + 1) % 24])).status, 200);
    const away = hourInZone(Date.now());
    const no = await answer([(away + 6) % 24, (away + 7) % 24]);
    assert.equal(no.status, 204);
    assert.equal(no.reason, "no_match");
  });
});
