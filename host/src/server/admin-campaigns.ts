// The admin API's campaign changes: POST …/<id>/pause and …/<id>/resume, PUT …/<id>/budget,
// DELETE …/<id>/override. With the Redis budget source they are fleet overrides
// (control/fleet-overrides.ts): stored in Redis before the answer, applied by every pod's lease
// and catalog, answered `scope: "fleet"`, and a 503 when Redis does not confirm them. With the
// memory source (one process) they change this process's catalog (`scope: "process"`), gone at
// a restart or a reload of the campaigns file, as before.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../log.ts";
import { CampaignError, type CampaignCatalog, type CampaignDoc } from "../control/campaigns.ts";
import { budgetWith, overrideJson } from "../control/campaign-overrides.ts";
import { OverrideStoreUnavailable, type FleetOverrides } from "../control/fleet-overrides.ts";
import { readJson, sendJson } from "./http-util.ts";

export type CampaignAction = "pause" | "resume" | "budget" | "override";

export interface AdminCampaignDeps {
  catalog: CampaignCatalog;
  /** Present with the Redis budget source: changes are fleet overrides. */
  overrides?: FleetOverrides;
  log: Logger;
}

/** Answers one campaign change; false when the method does not fit the action (the caller's 404). */
export async function campaignCall(req: IncomingMessage, res: ServerResponse, d: AdminCampaignDeps, id: string, action: CampaignAction, log: Logger): Promise<boolean> {
  const method = action === "budget" ? "PUT" : action === "override" ? "DELETE" : "POST";
  if (req.method !== method) return false;
  // An override outlives its campaign's removal from the file: clearing it needs no campaign.
  if (!d.catalog.get(id) && !(action === "override" && d.overrides)) {
    sendJson(res, 404, { error: `no campaign "${id}"` });
    return true;
  }
  let budget: { totalMicros?: number; dailyMicros?: number } = {};
  if (action === "budget") {
    const parsed = await budgetBody(req);
    if (typeof parsed === "string") {
      sendJson(res, 400, { error: parsed });
      return true;
    }
    budget = parsed;
  }
  if (d.overrides) await fleetChange(res, d.overrides, d.catalog, id, action, budget, log);
  else processChange(res, d.catalog, id, action, budget, log);
  return true;
}

async function fleetChange(
  res: ServerResponse, overrides: FleetOverrides, catalog: CampaignCatalog, id: string, action: CampaignAction,
  budget: { totalMicros?: number; dailyMicros?: number }, log: Logger,
): Promise<void> {
  try {
    if (action === "override") {
      const cleared = await overrides.clear(id);
      const c = catalog.get(id);
      log.info({ event: "admin_override_clear", campaign: id, cleared: overrideJson(cleared) }, "campaign override cleared for the fleet");
      return sendJson(res, 200, { id, scope: "fleet", cleared: overrideJson(cleared), active: c ? c.active !== false : null, budget: c?.budget ?? null, config_version: catalog.version });
    }
    const o = action === "pause" ? await overrides.pause(id) : action === "resume" ? await overrides.resume(id) : await overrides.setBudget(id, budget);
    const c = catalog.get(id)!;
    log.info({ event: "admin_" + action, campaign: id, scope: "fleet", override: overrideJson(o) }, `campaign ${action} stored for the fleet`);
    const what = action === "budget" ? { budget: c.budget } : { active: c.active !== false };
    sendJson(res, 200, { id, ...what, scope: "fleet", override: overrideJson(o), config_version: catalog.version });
  } catch (err) {
    if (!(err instanceof OverrideStoreUnavailable)) throw err;
    log.warn(
      { event: "admin_" + action + "_failed", campaign: id, code: err.code, err: err.message },
      err.code === "OVERRIDE_OUTCOME_UNKNOWN" ? "campaign change not confirmed: the budget store may still apply it" : "campaign change refused: the budget store did not take it",
    );
    sendJson(res, 503, { error: err.message, code: err.code });
  }
}

/** The memory source: this process's catalog only. */
function processChange(res: ServerResponse, catalog: CampaignCatalog, id: string, action: CampaignAction, budget: { totalMicros?: number; dailyMicros?: number }, log: Logger): void {
  if (action === "override") {
    return sendJson(res, 400, { error: "no fleet overrides with the memory budget source: admin changes live in this process until a reload of the campaigns file or a restart" });
  }
  if (action === "budget") {
    const c = changeCampaign(res, catalog, id, (c) => void (c.budget = budgetWith(c.budget, budget)));
    if (!c) return;
    log.info({ event: "admin_budget", campaign: id, budget: c.budget }, "campaign budget changed");
    return sendJson(res, 200, { id, budget: c.budget, scope: "process", config_version: catalog.version });
  }
  if (!changeCampaign(res, catalog, id, (c) => void (c.active = action === "resume"))) return;
  log.info({ event: "admin_" + action, campaign: id }, `campaign ${action}d`);
  sendJson(res, 200, { id, active: action === "resume", scope: "process", config_version: catalog.version });
}

/** The largest budget a campaign may have, in micros (the filter's MAX_MICROS: a billion currency units). */
const MAX_BUDGET_MICROS = 1e15;

/** The budget a PUT asks for, or the reason it is refused (400). */
async function budgetBody(req: IncomingMessage): Promise<{ totalMicros?: number; dailyMicros?: number } | string> {
  const body = await readJson(req, 64 * 1024);
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "expected a JSON object with total_micros and/or daily_micros";
  const { total_micros: total, daily_micros: daily } = body as Record<string, unknown>;
  // The filter's range (campaign-config.ts MAX_MICROS): with Redis a value past it was stored as
  // the fleet's override before the catalog refused it, and every pod's leases failed on it.
  const ok = (v: unknown) => v === undefined || (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= MAX_BUDGET_MICROS);
  if (!ok(total) || !ok(daily)) return `total_micros and daily_micros must be integers from 0 to ${MAX_BUDGET_MICROS}`;
  // Nothing to change: not a new configuration version for the filters to fetch.
  if (total === undefined && daily === undefined) return "expected total_micros and/or daily_micros";
  return { ...(typeof total === "number" ? { totalMicros: total } : {}), ...(typeof daily === "number" ? { dailyMicros: daily } : {}) };
}

/**
 * catalog.update(), or a 400 (nothing changed) when the catalog refuses the new set, i.e. the
 * filter's parser would (not expected from a budget or pause change, but then not a 500).
 */
function changeCampaign(res: ServerResponse, catalog: CampaignCatalog, id: string, change: (c: CampaignDoc) => void): CampaignDoc | undefined {
  try {
    return catalog.update(id, change);
  } catch (err) {
    refuseCampaignChange(res, catalog, err);
    return undefined;
  }
}

/** A change the catalog refused (nothing changed): 409 for a version not higher than the current one, else 400. Rethrows other errors. */
export function refuseCampaignChange(res: ServerResponse, catalog: CampaignCatalog, err: unknown): void {
  if (!(err instanceof CampaignError)) throw err;
  const status = err.code === "CAMPAIGNS_VERSION_NOT_HIGHER" ? 409 : 400;
  sendJson(res, status, { error: err.message, code: err.code, config_version: catalog.version, file_version: catalog.fileVersion });
}
