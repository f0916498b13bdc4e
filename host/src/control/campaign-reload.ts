// Reloading the campaign set at runtime from the file the host started with
// (NEXUS_CAMPAIGNS): POST /admin/v1/campaigns/reload and SIGHUP. The file's set
// replaces the catalog's base set whole when it is valid and of a higher version
// (this process's own admin changes of the memory source not in the file are
// gone); otherwise nothing changes. Fleet overrides (Redis source: pause, budget
// set through the admin API) stay laid over the new file's documents until they
// are cleared: the file does not undo an operator's stop.
//
// The budget source learns the new set through the catalog: SyncService leases
// every campaign of the current set with its current limits on each sync (as
// after an admin budget change), so an added campaign is leased from the next
// sync, a changed one gets its new limits, and a removed one is no longer
// leased (no new money; a lease running when the set changes is answered by
// the new set: SyncService.leaseByCurrentLimits). What a removed campaign was
// granted stays counted by the source, and its reservations are settled by the
// filter's ledger, which keys them by the reservation's own campaign.
//
// A reload writes nothing to the budget store: the first lease of an added
// campaign (at the next sync, the one that announces the new version) writes
// its limits to Redis, as every lease does (budget-redis.ts).
import { readCampaignFile, type CampaignCatalog, type CampaignChanges } from "./campaigns.ts";
import type { Logger } from "../log.ts";

export type ReloadTrigger = "admin" | "sighup";

export interface CampaignReloaderOptions {
  catalog: CampaignCatalog;
  /** The campaigns file the host was started with. */
  path: string;
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
      log.error({ event: "campaigns_reload_failed", trigger, code, err: (err as Error).message, config_version: catalog.version, file_version: catalog.fileVersion }, "campaign reload refused: the current set stays");
      throw err;
    }
    log.info({ event: "campaigns_reloaded", trigger, ...changes, file_version: catalog.fileVersion }, "campaign set reloaded");
    return changes;
  }
}
