// The campaign set the host publishes to the filter. Loaded from a JSON file
// (the format the filter parses: docs/CAMPAIGNS.md), changed by the admin API
// (budgets, pause/resume: in this process with the memory budget source; as
// fleet-wide overrides kept in Redis with the Redis source) or replaced as a
// whole (a reload of the file), versioned: every change bumps the version and
// the filter picks the new set up on its next sync. Every set is checked with
// the filter's own parser before it is published (campaign-check.ts): one the
// filter would refuse is refused here.
//
// Two layers: the base set (the file's, with this process's own admin changes) and the fleet
// overrides (campaign-overrides.ts) laid over it. A reload replaces the base only: an override
// holds until it is cleared, whatever the file says.
import { readFileSync } from "node:fs";
import { firstDuplicateKey } from "../json-duplicate-keys.ts";
import { NexusError } from "../errors.ts";
import { filterParserCheck, type CampaignSetCheck } from "./campaign-check.ts";
import { sameOverride, withOverride, type CampaignOverride } from "./campaign-overrides.ts";
import { hasZones, resolveZones } from "./campaign-zones.ts";

export interface CampaignBudget {
  total_micros: number;
  daily_micros: number;
  hourly_micros?: number;
  minute_micros?: number;
}

export interface CampaignDoc {
  id: string;
  active?: boolean;
  budget?: CampaignBudget;
  [key: string]: unknown;
}

export interface CampaignSet {
  version: number;
  campaigns: CampaignDoc[];
}

export class CampaignError extends NexusError {}

export class CampaignCatalog {
  /** The published set: the base with the overrides laid over it. */
  private set: CampaignSet;
  private text: string;
  /** The file's set, with this process's own admin changes (update()). */
  private base: CampaignSet;
  /** Fleet overrides by campaign id (also of campaigns the base does not have: they apply if it comes back). */
  private overrides = new Map<string, CampaignOverride>();
  /** The `version` written in the file last loaded (at start or by a reload); admin changes do not move it. */
  private fileVersionValue: number;

  /**
   * `check`: the filter's parser (tests of what the filter does with a set it refuses pass another).
   * `clock`: the instant campaigns' time zones are resolved at (campaign-zones.ts).
   */
  constructor(set: CampaignSet, private readonly check: CampaignSetCheck = filterParserCheck, private readonly clock: () => number = Date.now) {
    const served = this.served(set);
    this.text = served.text;
    this.set = structuredClone(served.set);
    this.base = structuredClone(set);
    this.fileVersionValue = set.version;
  }

  static fromFile(path: string, check?: CampaignSetCheck): CampaignCatalog {
    return new CampaignCatalog(readCampaignFile(path), check);
  }

  /** The published version (config_version): goes up by one with each admin change, and at a reload to the file's version or above. */
  get version(): number {
    return this.set.version;
  }

  /** The version of the file last loaded: what a reload's file must be above. */
  get fileVersion(): number {
    return this.fileVersionValue;
  }

  /** The JSON document served at /nexus/v1/config. */
  get json(): string {
    return this.text;
  }

  get campaigns(): readonly CampaignDoc[] {
    return this.set.campaigns;
  }

  /** The published document (overrides applied). */
  get(id: string): CampaignDoc | undefined {
    return this.set.campaigns.find((c) => c.id === id);
  }

  /** The document before the override: the file's (with this process's own admin changes). */
  baseDoc(id: string): CampaignDoc | undefined {
    return this.base.campaigns.find((c) => c.id === id);
  }

  /** Ids of the campaigns with a fleet override (also of campaigns the set no longer has). */
  overriddenIds(): string[] {
    return [...this.overrides.keys()];
  }

  /** The fleet override this host applies to the campaign, if any. */
  override(id: string): CampaignOverride | undefined {
    return this.overrides.get(id);
  }

  /** Applies a change to one campaign of the base set and publishes a new version. */
  update(id: string, change: (c: CampaignDoc) => void): CampaignDoc {
    const base = structuredClone(this.base);
    const c = base.campaigns.find((x) => x.id === id);
    if (!c) throw new CampaignError("CAMPAIGN_NOT_FOUND", `no campaign "${id}"`);
    change(c);
    this.publish(base, this.overrides, this.set.version + 1);
    return this.get(id)!;
  }

  /**
   * Sets (or, with null, removes) the fleet override of a campaign. Publishes a new version when
   * the campaign is in the set and its document changes. Returns whether the override changed.
   */
  setOverride(id: string, o: CampaignOverride | null): boolean {
    const before = this.overrides.get(id);
    if (sameOverride(before, o)) return false;
    const next = new Map(this.overrides);
    if (o) next.set(id, o);
    else next.delete(id);
    // A new version only when the filter's document changes (who and when are for the state).
    const doc = this.baseDoc(id);
    if (doc !== undefined && JSON.stringify(withOverride(doc, o)) !== JSON.stringify(withOverride(doc, before))) this.publish(this.base, next, this.set.version + 1);
    this.overrides = next;
    return true;
  }

  /**
   * Publishes the set again as `version` + 1 when that is not above the published version. A
   * filter loads a set only when the version it is told differs from the one it holds, and each
   * host process counts versions again from its file: a restarted host (sidecar: Envoy, and its
   * filter's set, kept running) can publish another content under the number the filter holds,
   * which the filter would keep (a lowered daily budget or a resume never taken). SyncService
   * calls this with the version the filter reports at its first sync.
   */
  publishAbove(version: number): boolean {
    if (version < this.set.version) return false;
    this.publish(this.base, this.overrides, version + 1);
    return true;
  }

  /**
   * Publishes the set again, as a new version, when a campaign's time zone has moved to another
   * offset since it was published (daylight saving time); the host calls it every minute. True
   * when it did. Throws, changing nothing, if the set no longer passes (it did when published).
   */
  refreshZones(): boolean {
    if (!hasZones(this.base)) return false;
    const now = this.served(this.unpublished(this.base, this.overrides, this.set.version));
    if (now.text === this.text) return false;
    this.publish(this.base, this.overrides, this.set.version + 1);
    return true;
  }

  /** Checks and publishes `base` with `overrides` laid over it as `version`; throws, changing nothing. */
  private publish(base: CampaignSet, overrides: ReadonlyMap<string, CampaignOverride>, version: number): void {
    const served = this.served(this.unpublished(base, overrides, version));
    this.text = served.text;
    this.set = served.set;
    this.base = { ...base, version };
  }

  private unpublished(base: CampaignSet, overrides: ReadonlyMap<string, CampaignOverride>, version: number): CampaignSet {
    return { ...base, version, campaigns: base.campaigns.map((c) => withOverride(c, overrides.get(c.id))) };
  }

  /**
   * Publishes a whole new set (a reload), checked as at start-up. Its file version must be higher
   * than the last file's, so that an older file is never loaded again by mistake. It is published
   * as the file's version, or one above the published version when admin changes since the last
   * file went higher: a filter skips a set whose version equals the one it has loaded (new VMs
   * would run the new set, running ones the old), so published versions only go up. Admin changes
   * are counted on each pod from its own start, so pods publish different versions for one file;
   * a reload needs only the file's own version raised, on every pod alike. Throws, changing nothing.
   */
  replace(set: CampaignSet): CampaignChanges {
    this.served(set); // the file itself first: a set the filter refuses is refused whatever its version
    if (set.version <= this.fileVersionValue) {
      throw new CampaignError("CAMPAIGNS_VERSION_NOT_HIGHER", `version ${set.version} is not higher than the file version ${this.fileVersionValue} loaded before (file versions only go up)`);
    }
    const before = this.set;
    this.publish(structuredClone(set), this.overrides, Math.max(set.version, this.set.version + 1));
    this.fileVersionValue = set.version;
    return diffSets(before, this.set);
  }

  /**
   * The set the filter will be served for `set` (time zones resolved now) and its JSON text, once
   * the host's checks and then the filter's parser (on that very text) accept it. Throws
   * CAMPAIGNS_INVALID otherwise.
   */
  private served(set: CampaignSet): { set: CampaignSet; text: string } {
    validateSet(set);
    let resolved: CampaignSet;
    try {
      resolved = resolveZones(set, this.clock());
    } catch (err) {
      throw new CampaignError("CAMPAIGNS_INVALID", (err as Error).message);
    }
    const text = JSON.stringify(resolved);
    const reason = this.check(text);
    if (reason !== undefined) throw new CampaignError("CAMPAIGNS_INVALID", `the filter would refuse this set: ${reason}`);
    return { set: resolved, text };
  }
}

/** What a replace() changed, by campaign id. */
export interface CampaignChanges {
  /** The published version (config_version). */
  version: number;
  added: string[];
  removed: string[];
  /** In both sets with a different document (any field: budget, targeting, creatives, ...). */
  changed: string[];
}

/** Reads a campaign set file (not yet validated: the catalog does that). */
export function readCampaignFile(path: string): CampaignSet {
  let text: string;
  let set: CampaignSet;
  try {
    text = readFileSync(path, "utf8");
    set = JSON.parse(text) as CampaignSet;
  } catch (err) {
    throw new CampaignError("CAMPAIGNS_UNREADABLE", `${path}: ${(err as Error).message}`);
  }
  // JSON.parse keeps the last of repeated keys, and the filter's parser, which refuses them,
  // sees only the text the host writes from the parsed set: refused here, as the docs promise.
  const repeated = firstDuplicateKey(text);
  if (repeated !== undefined) throw new CampaignError("CAMPAIGNS_INVALID", `${repeated}: duplicate key`);
  return set;
}

function diffSets(before: CampaignSet, after: CampaignSet): CampaignChanges {
  const old = new Map(before.campaigns.map((c) => [c.id, canonicalJson(c)]));
  const ids = new Set(after.campaigns.map((c) => c.id));
  return {
    version: after.version,
    added: after.campaigns.filter((c) => !old.has(c.id)).map((c) => c.id),
    removed: before.campaigns.filter((c) => !ids.has(c.id)).map((c) => c.id),
    changed: after.campaigns.filter((c) => old.has(c.id) && old.get(c.id) !== canonicalJson(c)).map((c) => c.id),
  };
}

/** JSON with object keys sorted: the same document written in another key order is not a change. */
function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}

/**
 * The forms a campaign id takes in metric names (the filter's per-campaign gauges,
 * `nexus_pacing_multiplier_ppm.<id>`): Prometheus exporters turn every character outside
 * [A-Za-z0-9_] into "_", this host per UTF-16 unit and Envoy per byte. Two ids with one form
 * would be one series: the second campaign's value never shown ("brand-a", "brand.a").
 */
function metricNamesOf(id: string): [string, string] {
  const perChar = id.replace(/[^A-Za-z0-9_]/g, "_");
  const perByte = Array.from(Buffer.from(id, "utf8"), (b) => (/[A-Za-z0-9_]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : "_")).join("");
  return [perChar, perByte]; // compared within each scheme: "é" and "é_" collide in neither
}

function validateSet(set: CampaignSet): void {
  if (typeof set !== "object" || set === null) throw new CampaignError("CAMPAIGNS_INVALID", "expected an object");
  if (!Number.isSafeInteger(set.version) || set.version < 0) throw new CampaignError("CAMPAIGNS_INVALID", "version: expected a non-negative integer");
  if (!Array.isArray(set.campaigns)) throw new CampaignError("CAMPAIGNS_INVALID", "campaigns: expected an array");
  const ids = new Set<string>();
  const metricNames = new Map<string, string>();
  set.campaigns.forEach((c, i) => {
    if (typeof c?.id !== "string" || c.id.length === 0 || c.id.length > 64) {
      throw new CampaignError("CAMPAIGNS_INVALID", `campaigns[${i}].id: expected a string of 1-64 characters`);
    }
    if (ids.has(c.id)) throw new CampaignError("CAMPAIGNS_INVALID", `campaigns[${i}].id: duplicate "${c.id}"`);
    ids.add(c.id);
    for (const [scheme, name] of metricNamesOf(c.id).entries()) {
      const key = `${scheme}:${name}`;
      const other = metricNames.get(key);
      if (other !== undefined) {
        throw new CampaignError(
          "CAMPAIGNS_INVALID",
          `campaigns[${i}].id: "${c.id}" and "${other}" would share one metric series (per-campaign metric names keep A-Z a-z 0-9 _ and turn every other character into "_")`,
        );
      }
      metricNames.set(key, c.id);
    }
    const b = c.budget;
    if (b !== undefined) {
      if (typeof b !== "object" || b === null) throw new CampaignError("CAMPAIGNS_INVALID", `campaigns[${i}].budget: expected an object`);
      for (const k of ["total_micros", "daily_micros", "hourly_micros", "minute_micros"] as const) {
        const v = b[k];
        if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
          throw new CampaignError("CAMPAIGNS_INVALID", `campaigns[${i}].budget.${k}: expected a non-negative integer (micros)`);
        }
      }
    }
  });
}
