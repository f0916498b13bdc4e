// Fleet-wide admin overrides of a campaign (Redis budget source): a pause and/or a total or daily
// budget set through the admin API, stored in Redis next to the campaign's budget keys
// ({nexus:<prefix>:<campaign>}:override) so that every pod's lease applies it (LEASE_LUA), and
// laid by every host over its campaigns file's document (CampaignCatalog). The file stays what it
// is; an override holds until it is cleared (resume clears the pause, DELETE …/override all).
import type { CampaignBudget } from "./campaigns.ts";

/** What Redis holds for a campaign's override (the key exists only while one field is set). */
export interface CampaignOverride {
  /** The campaign is paused for the whole fleet, whatever the file's `active`. */
  paused: boolean;
  /** A total / daily budget that replaces the file's (micros); undefined: the file's applies. */
  totalMicros?: number;
  dailyMicros?: number;
  /** When the override was last changed (ms since the epoch) and by which pod's host. */
  updatedMs: number;
  updatedBy: string;
}

/** A change an admin call asks for: undefined fields are left as they are, null removes one. */
export interface OverrideChange {
  paused?: true | null;
  totalMicros?: number;
  dailyMicros?: number;
}

/** The override in a Redis hash's fields (HGETALL), or null for an empty hash (no override). */
export function overrideFromHash(h: Record<string, string>): CampaignOverride | null {
  const paused = h.paused === "1";
  const total = micros(h.total);
  const daily = micros(h.daily);
  if (!paused && total === undefined && daily === undefined) return null;
  return {
    paused,
    ...(total !== undefined ? { totalMicros: total } : {}),
    ...(daily !== undefined ? { dailyMicros: daily } : {}),
    updatedMs: Number(h.updated_ms ?? 0) || 0,
    updatedBy: h.updated_by ?? "",
  };
}

/** overrideFromHash's inverse: the hash's fields of `o`, flat [field, value, ...] (HSET). */
export function overrideHashFields(o: CampaignOverride): string[] {
  const fields = ["updated_ms", String(o.updatedMs), "updated_by", o.updatedBy];
  if (o.paused) fields.push("paused", "1");
  if (o.totalMicros !== undefined) fields.push("total", String(o.totalMicros));
  if (o.dailyMicros !== undefined) fields.push("daily", String(o.dailyMicros));
  return fields;
}

/** The override as the admin API shows it (snake case, as the campaign documents). */
export function overrideJson(o: CampaignOverride | null | undefined): Record<string, unknown> | null {
  if (!o) return null;
  return {
    paused: o.paused,
    total_micros: o.totalMicros ?? null,
    daily_micros: o.dailyMicros ?? null,
    updated_ms: o.updatedMs,
    updated_by: o.updatedBy,
  };
}

/** The same override, who and when included (a newer write of the same values is a change: the state shows it). */
export function sameOverride(a: CampaignOverride | null | undefined, b: CampaignOverride | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.paused === b.paused && a.totalMicros === b.totalMicros && a.dailyMicros === b.dailyMicros && a.updatedMs === b.updatedMs && a.updatedBy === b.updatedBy;
}

/**
 * A campaign document with the override laid over it: paused → `active: false`; a budget field
 * set → that field of `budget` (the others, hourly and minute caps too, stay the file's).
 */
export function withOverride<T extends { active?: boolean; budget?: CampaignBudget }>(doc: T, o: CampaignOverride | null | undefined): T {
  if (!o) return doc;
  const c = structuredClone(doc);
  if (o.paused) c.active = false;
  if (o.totalMicros !== undefined || o.dailyMicros !== undefined) c.budget = budgetWith(c.budget, o);
  return c;
}

/**
 * A campaign's budget with the total and/or daily micros given set (a fleet override, or an admin
 * change of this process), the other fields kept; a campaign without one starts from no caps.
 */
export function budgetWith(budget: CampaignBudget | undefined, set: { totalMicros?: number; dailyMicros?: number }): CampaignBudget {
  const b: CampaignBudget = { ...(budget ?? { total_micros: 0, daily_micros: 0 }) };
  if (set.totalMicros !== undefined) b.total_micros = set.totalMicros;
  if (set.dailyMicros !== undefined) b.daily_micros = set.dailyMicros;
  return b;
}

function micros(v: string | undefined): number | undefined {
  if (v === undefined || v === "") return undefined;
  const x = Number(v);
  return Number.isSafeInteger(x) && x >= 0 ? x : undefined;
}
