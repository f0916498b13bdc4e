// The campaign set the host publishes to the filter. Loaded from a JSON file
// (the format the filter parses: docs/CAMPAIGNS.md), changed by the admin API
// (budgets, pause/resume), versioned: every change bumps the version and the
// filter picks the new set up on its next sync.
import { readFileSync } from "node:fs";
import { NexusError } from "../errors.ts";

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
  private set: CampaignSet;
  private text: string;

  constructor(set: CampaignSet) {
    validateSet(set);
    this.set = structuredClone(set);
    this.text = JSON.stringify(this.set);
  }

  static fromFile(path: string): CampaignCatalog {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new CampaignError("CAMPAIGNS_UNREADABLE", `${path}: ${(err as Error).message}`);
    }
    return new CampaignCatalog(raw as CampaignSet);
  }

  get version(): number {
    return this.set.version;
  }

  /** The JSON document served at /nexus/v1/config. */
  get json(): string {
    return this.text;
  }

  get campaigns(): readonly CampaignDoc[] {
    return this.set.campaigns;
  }

  get(id: string): CampaignDoc | undefined {
    return this.set.campaigns.find((c) => c.id === id);
  }

  /** Applies a change to one campaign and publishes a new version. */
  update(id: string, change: (c: CampaignDoc) => void): CampaignDoc {
    const next = structuredClone(this.set);
    const c = next.campaigns.find((x) => x.id === id);
    if (!c) throw new CampaignError("CAMPAIGN_NOT_FOUND", `no campaign "${id}"`);
    change(c);
    next.version = this.set.version + 1;
    validateSet(next);
    this.set = next;
    this.text = JSON.stringify(next);
    return c;
  }
}

function validateSet(set: CampaignSet): void {
  if (typeof set !== "object" || set === null) throw new CampaignError("CAMPAIGNS_INVALID", "expected an object");
  if (!Number.isSafeInteger(set.version) || set.version < 0) throw new CampaignError("CAMPAIGNS_INVALID", "version: expected a non-negative integer");
  if (!Array.isArray(set.campaigns)) throw new CampaignError("CAMPAIGNS_INVALID", "campaigns: expected an array");
  const ids = new Set<string>();
  set.campaigns.forEach((c, i) => {
    if (typeof c?.id !== "string" || c.id.length === 0 || c.id.length > 64) {
      throw new CampaignError("CAMPAIGNS_INVALID", `campaigns[${i}].id: expected a string of 1-64 characters`);
    }
    if (ids.has(c.id)) throw new CampaignError("CAMPAIGNS_INVALID", `campaigns[${i}].id: duplicate "${c.id}"`);
    ids.add(c.id);
    const b = c.budget;
    if (b !== undefined) {
      for (const k of ["total_micros", "daily_micros", "hourly_micros", "minute_micros"] as const) {
        const v = b[k];
        if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
          throw new CampaignError("CAMPAIGNS_INVALID", `campaigns[${i}].budget.${k}: expected a non-negative integer (micros)`);
        }
      }
    }
  });
}
