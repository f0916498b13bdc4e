// Dayparting in a campaign's time zone (docs/CAMPAIGNS.md, targeting). The filter has no time
// zone database: it reads a campaign's hours and weekdays on a fixed offset
// (targeting.daypart_utc_offset_minutes). A campaign may name an IANA zone instead
// (targeting.daypart_time_zone, e.g. "America/New_York"); the host, which has one (Intl), sets
// the zone's offset at the current instant beside it in the set it serves the filter, and
// publishes again when that offset changes (daylight saving time: CampaignCatalog.refreshZones,
// which the host runs every minute).
import type { CampaignDoc, CampaignSet } from "./campaigns.ts";

/** The zone's offset from UTC at `ms`, in minutes (east positive: America/New_York in January is -300). */
export function zoneOffsetMinutes(zone: string, ms: number): number {
  const name = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" })
    .formatToParts(ms)
    .find((p) => p.type === "timeZoneName")?.value;
  // "GMT" for UTC itself, else "GMT+05:45" / "GMT-04:00".
  const m = /^GMT(?:([+-])(\d{2}):(\d{2}))?$/.exec(name ?? "");
  if (!m) throw new RangeError(`time zone ${zone}: no offset in "${name}"`);
  if (m[1] === undefined) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === "-" ? -minutes : minutes;
}

/** Why a zone cannot be used (not a string, or a name Intl does not know), else undefined. */
export function zoneError(zone: unknown): string | undefined {
  if (typeof zone !== "string" || zone.length === 0 || zone.length > 64) return "expected an IANA time zone name (1-64 characters)";
  try {
    zoneOffsetMinutes(zone, 0);
    return undefined;
  } catch {
    return `unknown time zone "${zone}" (an IANA name such as "America/New_York")`;
  }
}

/** True when some campaign of the set names a time zone. */
export function hasZones(set: CampaignSet): boolean {
  return set.campaigns.some((c) => zoneOf(c) !== undefined);
}

/**
 * The set with every campaign's `targeting.daypart_time_zone` resolved at `ms`: the zone's offset
 * then set in `daypart_utc_offset_minutes`. Throws (naming the campaign) for an unknown zone, or
 * for a campaign that gives an offset as well (which one would it mean?). A set without zones is
 * returned as it is.
 */
export function resolveZones(set: CampaignSet, ms: number): CampaignSet {
  if (!hasZones(set)) return set;
  return {
    ...set,
    campaigns: set.campaigns.map((c) => {
      const zone = zoneOf(c);
      if (zone === undefined) return c;
      const targeting = c.targeting as Record<string, unknown>;
      const err = zoneError(zone);
      if (err) throw new Error(`campaign "${c.id}": targeting.daypart_time_zone: ${err}`);
      if (targeting.daypart_utc_offset_minutes !== undefined) {
        throw new Error(`campaign "${c.id}": targeting: give daypart_time_zone or daypart_utc_offset_minutes, not both (the host sets the offset from the zone)`);
      }
      return { ...c, targeting: { ...targeting, daypart_utc_offset_minutes: zoneOffsetMinutes(zone as string, ms) } };
    }),
  };
}

function zoneOf(c: CampaignDoc): unknown {
  const t = c.targeting;
  return typeof t === "object" && t !== null ? (t as Record<string, unknown>).daypart_time_zone : undefined;
}
