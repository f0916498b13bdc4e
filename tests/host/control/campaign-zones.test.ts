// Dayparting in a campaign's time zone (host/src/control/campaign-zones.ts, CampaignCatalog): the
// host sets the zone's offset beside it in the set it serves the filter, refuses unknown zones and
// a zone given with an offset, and publishes a new version when the offset changes (daylight
// saving time), and only then. The filter's own parser checks every set served (campaign-check.ts).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CampaignCatalog, CampaignError, type CampaignSet } from "../../../host/src/control/campaigns.ts";
import { zoneError, zoneOffsetMinutes } from "../../../host/src/control/campaign-zones.ts";

const JAN = Date.UTC(2026, 0, 15, 12);
const JUL = Date.UTC(2026, 6, 15, 12);
// US daylight saving time starts on 2026-03-08 at 02:00 local (07:00 UTC).
const DST_START = Date.UTC(2026, 2, 8, 7);

const creative = () => ({ crid: "cr-1", w: 300, h: 250, adm: "<div>ad</div>" });
function set(version: number, targeting: Record<string, unknown>): CampaignSet {
  return {
    version,
    campaigns: [
      { id: "ny", active: true, creatives: [creative()], budget: { total_micros: 1000, daily_micros: 1000 }, targeting },
      { id: "plain", active: true, creatives: [creative()], budget: { total_micros: 1000, daily_micros: 1000 } },
    ],
  };
}
const served = (c: CampaignCatalog) => JSON.parse(c.json).campaigns[0].targeting;

describe("time zones for dayparting", () => {
  it("reads a zone's offset at an instant, daylight saving time included", () => {
    assert.equal(zoneOffsetMinutes("America/New_York", JAN), -300);
    assert.equal(zoneOffsetMinutes("America/New_York", JUL), -240);
    assert.equal(zoneOffsetMinutes("America/New_York", DST_START - 1), -300);
    assert.equal(zoneOffsetMinutes("America/New_York", DST_START), -240);
    assert.equal(zoneOffsetMinutes("Asia/Kathmandu", JAN), 345);
    assert.equal(zoneOffsetMinutes("Australia/Sydney", JAN), 660);
    assert.equal(zoneOffsetMinutes("UTC", JUL), 0);
    assert.equal(zoneError("Europe/Paris"), undefined);
    assert.match(zoneError("Mars/Olympus_Mons")!, /unknown time zone "Mars\/Olympus_Mons"/);
    assert.match(zoneError("")!, /expected an IANA time zone name/);
    assert.match(zoneError(5)!, /expected an IANA time zone name/);
  });

  it("serves the filter the zone's current offset beside the zone; the base document keeps the zone alone", () => {
    let now = JAN;
    const catalog = new CampaignCatalog(set(1, { hours: [9, 10, 11], daypart_time_zone: "America/New_York" }), undefined, () => now);
    assert.deepEqual(served(catalog), { hours: [9, 10, 11], daypart_time_zone: "America/New_York", daypart_utc_offset_minutes: -300 });
    assert.equal(catalog.baseDoc("ny")!.targeting && (catalog.baseDoc("ny")!.targeting as Record<string, unknown>).daypart_utc_offset_minutes, undefined);
    assert.equal(JSON.parse(catalog.json).campaigns[1].targeting, undefined, "other campaigns untouched");
    // No change of offset: no new version.
    now = JAN + 86_400_000;
    assert.equal(catalog.refreshZones(), false);
    assert.equal(catalog.version, 1);
    // Daylight saving time starts: a new version with the new offset.
    now = DST_START + 60_000;
    assert.equal(catalog.refreshZones(), true);
    assert.equal(catalog.version, 2);
    assert.equal(served(catalog).daypart_utc_offset_minutes, -240);
    assert.equal(catalog.refreshZones(), false);
    // Admin changes and reloads resolve the zone at their own instant.
    catalog.update("ny", (c) => (c.active = false));
    assert.equal(catalog.version, 3);
    assert.equal(served(catalog).daypart_utc_offset_minutes, -240);
    now = JAN;
    catalog.replace(set(5, { weekdays: [1, 2, 3, 4, 5], daypart_time_zone: "Asia/Kathmandu" }));
    assert.equal(served(catalog).daypart_utc_offset_minutes, 345);
  });

  it("refuses an unknown zone, and a zone given with an offset of its own, naming the campaign", () => {
    const bad = (t: Record<string, unknown>) => () => new CampaignCatalog(set(1, t), undefined, () => JAN);
    assert.throws(bad({ hours: [9], daypart_time_zone: "Mars/Olympus_Mons" }), (e: unknown) => e instanceof CampaignError && /campaign "ny": targeting.daypart_time_zone: unknown time zone/.test(e.message));
    assert.throws(bad({ hours: [9], daypart_time_zone: "America/New_York", daypart_utc_offset_minutes: -300 }), /campaign "ny": targeting: give daypart_time_zone or daypart_utc_offset_minutes, not both/);
    // Checked by the filter's parser on the served text: a zone without hours or weekdays does nothing.
    assert.throws(bad({ daypart_time_zone: "America/New_York" }), /the filter would refuse this set: .*daypart_time_zone: needs hours or weekdays/);
    // A reload with a bad zone changes nothing.
    const catalog = new CampaignCatalog(set(1, { hours: [9], daypart_time_zone: "Europe/Paris" }), undefined, () => JAN);
    assert.throws(() => catalog.replace(set(2, { hours: [9], daypart_time_zone: "Europe/Atlantis" })), /unknown time zone/);
    assert.equal(catalog.version, 1);
    assert.equal(served(catalog).daypart_time_zone, "Europe/Paris");
  });
});
