// Admin changes that hold for the whole fleet (Redis budget source): a pause or a budget set
// through the admin API is written to Redis ({nexus:<prefix>:<campaign>}:override) before the
// call answers, where every pod's lease applies it (LEASE_LUA), and laid over this host's
// catalog at once; the other hosts learn it from their next lease's answer (one sync period) and
// lay it over theirs, so that every filter's configuration matches. A call Redis does not
// confirm changes nothing anywhere and fails (OverrideStoreUnavailable → 503): a change held by
// this pod alone would be undone by the others' leases, and reporting it done would be a lie.
import { NexusError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { RedisBudgetSource } from "./budget-redis.ts";
import type { CampaignCatalog } from "./campaigns.ts";
import { overrideFromHash, overrideHashFields, overrideJson, type CampaignOverride, type OverrideChange } from "./campaign-overrides.ts";

/**
 * KEYS: the override. ARGV: now ms, instance, then (op, field, value) triples, op "set" or "del".
 * Applies them, stamps who and when, and deletes the key when no field is left (no override: the
 * file's limits apply). Returns the hash (HGETALL), empty when deleted.
 */
const WRITE_OVERRIDE_LUA = `
local k = KEYS[1]
for i = 3, #ARGV, 3 do
  if ARGV[i] == 'set' then redis.call('HSET', k, ARGV[i + 1], ARGV[i + 2]) else redis.call('HDEL', k, ARGV[i + 1]) end
end
if redis.call('HEXISTS', k, 'paused') == 0 and redis.call('HEXISTS', k, 'total') == 0 and redis.call('HEXISTS', k, 'daily') == 0 then
  redis.call('DEL', k)
else
  redis.call('HSET', k, 'updated_ms', ARGV[1], 'updated_by', ARGV[2])
end
return redis.call('HGETALL', k)
`;

/** Writes an override back (HSET of its fields) only where the key is missing. Returns 1 when it did. */
const RESTORE_OVERRIDE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`;

/**
 * The budget store did not confirm an override change. OVERRIDE_STORE_UNAVAILABLE: it was not
 * sent (Redis not connected), so nothing changed. OVERRIDE_OUTCOME_UNKNOWN: it was sent and no
 * answer came in time; Redis may still run it (a timeout does not cancel a command), so the
 * change may hold for the fleet a moment later: read the state before acting on it.
 */
export class OverrideStoreUnavailable extends NexusError {
  constructor(message: string, options?: { cause?: unknown; outcomeUnknown?: boolean }) {
    super(options?.outcomeUnknown ? "OVERRIDE_OUTCOME_UNKNOWN" : "OVERRIDE_STORE_UNAVAILABLE", message, options);
    this.name = "OverrideStoreUnavailable";
  }
}

/** What SyncService tells about the overrides its leases read (a ticket taken before each lease). */
export interface LeasedOverrides {
  ticket(): number;
  learned(campaignId: string, override: CampaignOverride | null, ticket: number, storeForgotPod?: boolean): void | Promise<void>;
}

export interface FleetOverridesOptions {
  source: RedisBudgetSource;
  catalog: CampaignCatalog;
  /** Who makes the changes (the pod id): stored with the override. */
  instance: string;
  log: Logger;
  now?: () => number;
}

export class FleetOverrides implements LeasedOverrides {
  /** Admin writes done by this host; per campaign, the count after its last one. */
  private writes = 0;
  private readonly lastWrite = new Map<string, number>();
  /** Campaigns whose override the store lost and this host has not written back yet. */
  private readonly unrestored = new Set<string>();

  constructor(private readonly o: FleetOverridesOptions) {}

  pause(campaignId: string): Promise<CampaignOverride | null> {
    return this.change(campaignId, { paused: true });
  }

  /** Removes the pause: the file's `active` applies again (a budget override stays). */
  resume(campaignId: string): Promise<CampaignOverride | null> {
    return this.change(campaignId, { paused: null });
  }

  setBudget(campaignId: string, budget: { totalMicros?: number; dailyMicros?: number }): Promise<CampaignOverride | null> {
    return this.change(campaignId, budget);
  }

  /** Removes the whole override (pause and budget): the file's limits apply. Returns what was removed. */
  async clear(campaignId: string): Promise<CampaignOverride | null> {
    const key = this.o.source.overrideKey(campaignId);
    const [before] = await this.redis("clear", async () => {
      const res = await this.o.source.redis.multi().hgetall(key).del(key).exec();
      const failed = res?.find(([err]) => err);
      if (!res || failed?.[0]) throw failed?.[0] ?? new Error("transaction aborted");
      return [overrideFromHash(res[0]![1] as Record<string, string>)];
    });
    this.apply(campaignId, null, "admin_override_cleared");
    return before;
  }

  ticket(): number {
    return this.writes;
  }

  /**
   * The override a lease read, laid over the catalog unless this host wrote the campaign's
   * override after the lease started (the lease read the state before that write).
   */
  async learned(campaignId: string, override: CampaignOverride | null, ticket: number, storeForgotPod = false): Promise<void> {
    if ((this.lastWrite.get(campaignId) ?? 0) > ticket) return;
    const known = this.o.catalog.override(campaignId);
    if (override !== null) this.unrestored.delete(campaignId);
    if (override === null && known !== undefined && (storeForgotPod || this.unrestored.has(campaignId))) {
      // The store no longer knew this pod, and has no override for a campaign this host knows one
      // of: it lost its data (a restart without persistence, a flush), not an operator's clear
      // (which leaves the pod known). Taking "none" would resume a paused campaign or lift a
      // lowered cap on every pod without anyone asking: the override stays here and is written
      // back for the other pods (unless one already did, or an operator wrote another meanwhile).
      await this.restore(campaignId, known);
      return;
    }
    if (this.o.catalog.setOverride(campaignId, override)) {
      this.o.log.info({ event: "override_learned", campaign: campaignId, override: overrideJson(override), config_version: this.o.catalog.version }, "fleet override of a campaign applied from the budget store");
    }
  }

  private async restore(campaignId: string, o: CampaignOverride): Promise<void> {
    let restored = false;
    try {
      restored = (await this.o.source.redis.eval(RESTORE_OVERRIDE_LUA, 1, this.o.source.overrideKey(campaignId), ...overrideHashFields(o))) === 1;
    } catch (err) {
      // The store now knows the pod again: the next lease is not told of the loss, so it is kept here.
      this.unrestored.add(campaignId);
      this.o.log.warn({ event: "override_restore_failed", campaign: campaignId, err: (err as Error).message }, "could not write a lost override back (kept here; retried at the next lease)");
      return;
    }
    this.unrestored.delete(campaignId);
    this.o.log.warn(
      { event: "override_lost_by_store", campaign: campaignId, override: overrideJson(o), restored },
      "the budget store lost this campaign's fleet override (its data was lost): kept, and written back for every pod; clear it (DELETE …/override) if it should go",
    );
  }

  private async change(campaignId: string, change: OverrideChange): Promise<CampaignOverride | null> {
    const args: string[] = [String(Math.floor((this.o.now ?? Date.now)())), this.o.instance];
    if (change.paused === true) args.push("set", "paused", "1");
    if (change.paused === null) args.push("del", "paused", "");
    if (change.totalMicros !== undefined) args.push("set", "total", String(change.totalMicros));
    if (change.dailyMicros !== undefined) args.push("set", "daily", String(change.dailyMicros));
    const key = this.o.source.overrideKey(campaignId);
    const fields = await this.redis("write", async () => {
      const flat = (await this.o.source.redis.eval(WRITE_OVERRIDE_LUA, 1, key, ...args)) as string[];
      const h: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
      return h;
    });
    const o = overrideFromHash(fields);
    this.apply(campaignId, o, "admin_override_set");
    return o;
  }

  /** Lays what Redis now holds over this host's catalog (this host's own write: no sync to wait for). */
  private apply(campaignId: string, o: CampaignOverride | null, event: string): void {
    this.lastWrite.set(campaignId, ++this.writes);
    this.unrestored.delete(campaignId); // an operator's own change replaces what was lost
    this.o.catalog.setOverride(campaignId, o);
    this.o.log.info({ event, campaign: campaignId, override: overrideJson(o), config_version: this.o.catalog.version }, "fleet override of a campaign written to the budget store");
  }

  private async redis<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const message = (err as Error).message;
      if (/timed out/i.test(message)) {
        throw new OverrideStoreUnavailable(
          `the budget store (redis) did not answer the ${what} in time: ${message}; it may still take effect for every pod: read GET /admin/v1/state before retrying or acting on it`,
          { cause: err, outcomeUnknown: true },
        );
      }
      throw new OverrideStoreUnavailable(`the budget store (redis) did not take the ${what}: ${message}; nothing was changed (a change must hold for every pod)`, { cause: err });
    }
  }
}
