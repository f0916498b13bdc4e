// nexus-rtb check-campaigns --file FILE [--currency CODE] [--json]: the checks a host runs before
// it publishes a campaign set (its own, the time zones, then the filter's parser on the very text
// it would serve: control/campaigns.ts; and the set's currency against the filter's account
// currency, --currency, USD by default as the filter's), run on a file before it is deployed or
// reloaded, e.g. in CI.
// Exit 0 with a summary of what the filter will run (caps, groups, dayparting clocks with the
// zones' current offsets), 1 with the reason the set would be refused, 2 for a bad command line.
import { CampaignCatalog, CampaignError, type CampaignDoc } from "../control/campaigns.ts";
import { withAccountCurrency } from "../control/campaign-check.ts";
import { flag, str, type Values } from "../tools/args.ts";

export const CHECK_CAMPAIGNS_USAGE =
  "usage: nexus-rtb check-campaigns --file FILE [--currency CODE] [--json]\n" +
  "  --currency CODE  the account currency (plugin currency) of the filters that will run it (default USD)\n";

export interface CampaignSummary {
  id: string;
  active: boolean;
  daily_micros: number | null;
  total_micros: number | null;
  /** "N per S s" for each frequency cap. */
  frequency_caps: string[];
  frequency_group: string | null;
  /** The dayparting clock: "user" (the request's), "UTC±hh:mm", or "<zone> (UTC±hh:mm now)". */
  daypart_clock: string | null;
  deals: number;
  /** Its creatives by markup: banners, each video's and audio ad's seconds, natives, e.g. {banner: 6, video: [15, 30], audio: [], native: 1}. */
  creatives: { banner: number; video: number[]; audio: number[]; native: number };
}

export function summarize(c: CampaignDoc): CampaignSummary {
  const t = (c.targeting ?? {}) as Record<string, unknown>;
  const caps = (Array.isArray(c.frequency_caps) ? c.frequency_caps : c.frequency_cap ? [c.frequency_cap] : []) as Array<{ impressions: number; seconds: number }>;
  const dayparted = t.hours !== undefined || t.weekdays !== undefined;
  const offset = typeof t.daypart_utc_offset_minutes === "number" ? utcOffset(t.daypart_utc_offset_minutes) : undefined;
  return {
    id: c.id,
    active: c.active !== false,
    daily_micros: c.budget?.daily_micros ?? null,
    total_micros: c.budget?.total_micros ?? null,
    frequency_caps: caps.map((x) => `${x.impressions} per ${x.seconds} s`),
    frequency_group: typeof c.frequency_group === "string" ? c.frequency_group : null,
    daypart_clock: !dayparted ? null : typeof t.daypart_time_zone === "string" ? `${t.daypart_time_zone} (${offset} now)` : (offset ?? "user"),
    deals: Array.isArray(c.deals) ? c.deals.length : 0,
    creatives: creativesOf(c),
  };
}

function creativesOf(c: CampaignDoc): CampaignSummary["creatives"] {
  const list = (Array.isArray(c.creatives) ? c.creatives : []) as Array<{ type?: string; duration?: number }>;
  const seconds = (type: string) => list.filter((cr) => cr.type === type).map((cr) => cr.duration ?? 0);
  const video = seconds("video");
  const audio = seconds("audio");
  const native = list.filter((cr) => cr.type === "native").length;
  return { banner: list.length - video.length - audio.length - native, video, audio, native };
}

function utcOffset(minutes: number): string {
  const a = Math.abs(minutes);
  return `UTC${minutes < 0 ? "-" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}

export function checkCampaigns(values: Values): number {
  const file = str(values, "file");
  if (!file) {
    process.stderr.write(`check-campaigns: --file FILE is required\n\n${CHECK_CAMPAIGNS_USAGE}`);
    return 2;
  }
  const currency = str(values, "currency") ?? "USD";
  if (!/^[A-Z]{3}$/.test(currency)) {
    process.stderr.write(`check-campaigns: --currency: expected a 3-letter upper-case ISO 4217 code, got ${JSON.stringify(currency)}\n\n${CHECK_CAMPAIGNS_USAGE}`);
    return 2;
  }
  let catalog: CampaignCatalog;
  try {
    catalog = CampaignCatalog.fromFile(file, withAccountCurrency(currency));
  } catch (err) {
    if (!(err instanceof CampaignError)) throw err;
    if (flag(values, "json")) process.stdout.write(JSON.stringify({ ok: false, code: err.code, error: err.message }) + "\n");
    else process.stderr.write(`${file}: ${err.code}: ${err.message}\n`);
    return 1;
  }
  const campaigns = catalog.campaigns.map(summarize);
  if (flag(values, "json")) {
    process.stdout.write(JSON.stringify({ ok: true, version: catalog.version, campaigns }) + "\n");
    return 0;
  }
  const lines = [`${file}: version ${catalog.version}, ${campaigns.length} campaign(s), accepted by the host and the filter's parser`];
  for (const c of campaigns) {
    const parts = [c.active ? "active" : "paused"];
    if (c.daily_micros !== null) parts.push(`daily ${c.daily_micros} µ`);
    if (c.frequency_caps.length > 0) parts.push(`caps ${c.frequency_caps.join(", ")}${c.frequency_group ? ` (group ${c.frequency_group})` : ""}`);
    if (c.daypart_clock) parts.push(`dayparting on ${c.daypart_clock}`);
    if (c.deals > 0) parts.push(`${c.deals} deal(s)`);
    const kinds = [];
    if (c.creatives.banner > 0) kinds.push(`${c.creatives.banner} banner`);
    for (const kind of ["video", "audio"] as const) {
      const ads = c.creatives[kind];
      if (ads.length > 0) kinds.push(`${ads.length} ${kind} (${ads.map((s) => `${s} s`).join(", ")})`);
    }
    if (c.creatives.native > 0) kinds.push(`${c.creatives.native} native`);
    parts.push(`creatives: ${kinds.join(", ")}`);
    lines.push(`  ${c.id}: ${parts.join("; ")}`);
  }
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}
