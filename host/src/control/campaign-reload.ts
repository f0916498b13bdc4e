// Reloading the campaign set at runtime from the file the host started with
// (NEXUS_CAMPAIGNS): POST /admin/v1/campaigns/reload and SIGHUP. The file's set
// replaces the catalog's whole (admin changes not in the file are gone) when it
// is valid and of a higher version; otherwise nothing changes.
//
// The budget source learns the new set through the catalog: SyncService leases
// every campaign of the current set with its current limits on each sync (as
// after an admin budget change), so an added campaign is leased from the next
// sync, a changed one gets its new limits, and a removed one is no longer
// leased (no new money; a lease running when the set changes is answered by
// the new set: SyncService.leaseByCurrentLimits). What a removed campaign was
// granted stays counted by the source, and its reservations are settled by the
// filter's ledger, which keys them by the reservation's own campaign.
import { readCampaignFile, type CampaignCatalog, type CampaignChanges } from "./campaigns.ts";
import type { BudgetSource } from "./budget.ts";
import { limitsOf } from "./budget.ts";
import type { Logger } from "../log.ts";

export type ReloadTrigger = "admin" | "sighup";

export interface CampaignReloaderOptions {
  catalog: CampaignCatalog;
  /** The campaigns file the host was started with. */
  path: string;
  budget: BudgetSource;
  log: Logger;
}

export class CampaignReloader {
  constructor(private readonly o: CampaignReloaderOptions) {}

  /**
   * Re-reads the file and publishes its set. Throws the catalog's CampaignError (code
   * CAMPAIGNS_UNREADABLE, CAMPAIGNS_INVALID or CAMPAIGNS_VERSION_NOT_HIGHER) with nothing
   * changed; every outcome is logged.
   */
  async reload(trigger: ReloadTrigger): Promise<CampaignChanges> {
    const { catalog, log } = this.o;
    let changes: CampaignChanges;
    try {
      changes = catalog.replace(readCampaignFile(this.o.path));
    } catch (err) {
      const code = (err as { code?: string }).code;
      log.error({ event: "campaigns_reload_failed", trigger, code, err: (err as Error).message, config_version: catalog.version }, "campaign reload refused: the current set stays");
      throw err;
    }
    log.info({ event: "campaigns_reloaded", trigger, ...changes }, "campaign set reloaded");
    await this.initLimits(changes.added);
    return changes;
  }

  /** Writes the added campaigns' limits where the source keeps them (as at start-up; best effort). */
  private async initLimits(added: readonly string[]): Promise<void> {
    const { budget, catalog, log } = this.o;
    if (!budget.init || added.length === 0) return;
    try {
      await budget.init(added.map((id) => limitsOf(catalog.get(id)!)));
    } catch (err) {
      log.warn({ event: "budget_init_failed", err: (err as Error).message }, "could not write the added campaigns' budgets to the budget source (leases will)");
    }
  }
}
