// The host end of the filter↔host sync protocol (docs/SYNC_PROTOCOL.md):
//   POST /nexus/v1/sync            report in, grants + versions out
//   GET  /nexus/v1/config?version= the campaign set
//   GET  /nexus/v1/model?version=  the NXM blob (its SHA-256 was announced)
import type { CampaignCatalog, CampaignDoc } from "./campaigns.ts";
import { limitsOf, sameLimits, type BudgetLease, type BudgetSource, type CampaignLimits, type PodReport } from "./budget.ts";
import type { ModelRegistry } from "./model-registry.ts";
import { LogThrottle, type Logger } from "../log.ts";
import type { LeasedOverrides } from "./fleet-overrides.ts";
import { MAX_REPORT_COUNTS, STREAM_CURSOR_RE, parseFrequencyCount, type FleetFrequency, type FrequencyCount } from "./fleet-frequency.ts";
import type { PacePlan } from "./pace-plan.ts";

export interface SyncReportCampaign {
  id: string;
  granted_micros: number;
  charged_micros: number;
  reserved_micros: number;
  daily_charged_micros: number;
  wins: number;
  late_wins: number;
  multiplier_ppm: number;
}

export interface SyncReport {
  vm: number;
  config_version: number;
  model_loaded: boolean;
  /** The filter's hash_bits (its plugin configuration); undefined from filters that do not send it. */
  hash_bits: number | undefined;
  /** Version of the model the filter's VMs serve ("" none); undefined from filters that do not send it. */
  model_version: string | undefined;
  /** The epoch of the filter's ledger (shared data); undefined from filters that do not send it. */
  ledger_epoch: number | undefined;
  /** The filter's utc_offset_minutes (its plugin configuration); undefined from filters that do not send it. */
  utc_offset_minutes: number | undefined;
  /** When the report was made, on the filter's monotonic clock (ms); undefined from filters that do not send it. */
  report_ms: number | undefined;
  /** The filter's budget day when it made the report: its campaigns' daily_charged_micros are of that day. */
  day: number | undefined;
  /** The tag in the filter's notice URLs (8 hex digits, assembly/filter/pod-tag.ts); undefined from filters that do not send it. */
  pod_tag: string | undefined;
  /** Reservations the filter refunded at their TTL so far (all its VMs); undefined from filters that do not send it. */
  reservations_expired: number | undefined;
  campaigns: SyncReportCampaign[];
  /** Wins of frequency-capped campaigns this pod counted since its last report (fleet-frequency.ts); malformed ones dropped. */
  frequency_counts: FrequencyCount[];
  /** The filter's position in the fleet's stream of counted wins ("" none yet); undefined from filters that keep none, or a malformed one. */
  frequency_cursor: string | undefined;
}

export interface SyncAnswer {
  config_version: number;
  model: { version: string; sha256: string } | null;
  grants: Array<SyncGrant>;
  /** With a fleet store only: false when the report's counts were not stored (the filter sends them again). */
  frequency_accepted?: boolean;
  /** With a fleet store, to filters that report one: the position after frequency_counts (sent before them: the filter stores it as it reads it). */
  frequency_cursor?: string;
  /** With a fleet store only: the other pods' counted wins, as ["<key hex>", at ms, window s]. */
  frequency_counts?: Array<[string, number, number]>;
}

export interface SyncGrant {
  id: string;
  granted_micros: number;
  /** The budget day, local hour and minute of the lease, and what the other pods charged in each (BudgetLease). */
  day: number;
  others_daily_charged_micros: number;
  hour: number;
  others_hourly_charged_micros: number;
  minute: number;
  others_minute_charged_micros: number;
}

export class SyncError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** What the host last heard from the filter (for /readyz, the admin API and metrics). */
export interface FilterView {
  lastSyncMs: number;
  modelLoaded: boolean;
  configVersion: number;
  /** The filter's hash_bits and the version its VMs serve, as last reported (null: not reported). */
  hashBits: number | null;
  modelVersion: string | null;
  /** The last report of each campaign of the current set (SyncService.keepReports). */
  campaigns: Map<string, SyncReportCampaign>;
  /** Reservations refunded at their TTL so far, as last reported (0: none, or a filter that does not say). */
  reservationsExpired: number;
  /** When a report last showed that figure grow (performance.now()), -Infinity never: the notice window counts from it. */
  lastExpiryAt: number;
}

/** Leases of one campaign in one sync at most: the first, and one again by limits changed meanwhile. */
const MAX_LEASES_PER_CAMPAIGN = 2;

/** What a graceful stop gave back (SyncService.returnUnspent). */
export interface ReturnOutcome {
  /** False when nothing was tried: the budget source is not shared (nobody to give to), no time to wait, or no sync ever. */
  attempted: boolean;
  /** Every campaign the filter reported had its return confirmed by a later report. */
  complete: boolean;
  /** Per campaign whose return a report confirmed: the micros the store no longer counts for this pod. */
  returned: Record<string, number>;
  /** Per confirmed campaign: what the store still counts for the pod (charged + reserved). */
  kept: Record<string, number>;
  /** Campaigns still unconfirmed when the wait ended: they stay counted as before (safe). */
  pending: string[];
  /** Syncs answered in returning mode. */
  syncs: number;
}

/**
 * The return in progress. A campaign is confirmed by a lease whose answer is not below the
 * granted its report shows: the filter applied the lowered grant and the store now counts
 * exactly the answer (charged + reserved). Redis decides what it un-counts by itself (LEASE_LUA:
 * max(answer, reported granted)); this only decides how long the stop waits, and what it logs.
 */
interface ReturnProgress {
  /** Per campaign: what the store counted for the pod before the return (max(reported granted, last answer)). */
  before: Map<string, number>;
  kept: Map<string, number>;
  /** Campaigns of the catalog that returning-mode reports carried. */
  reported: Set<string>;
  syncs: number;
}

export class SyncService {
  readonly filter: FilterView = { lastSyncMs: 0, modelLoaded: false, configVersion: -1, hashBits: null, modelVersion: null, campaigns: new Map(), reservationsExpired: 0, lastExpiryAt: -Infinity };
  budgetErrors = 0;
  private readonly grantFailedLog = new LogThrottle();
  syncs = 0;
  /** Per campaign: the grant last answered (what the store counts at least, until the next report). */
  private readonly lastAnswers = new Map<string, number>();
  private returning: ReturnProgress | null = null;
  /** Called with the tag of the filter's notice URLs, from every report that has one (control/notice-forward.ts lists it). */
  onPodTag: ((tag: string) => void) | undefined;
  /** Told the fleet override each lease read (Redis source: fleet-overrides.ts lays it over the catalog). */
  overrides: LeasedOverrides | undefined;
  /** Where the pods swap counted wins of capped campaigns (Redis budget source); undefined: one pod, nothing to swap. */
  frequency: FleetFrequency | undefined;

  constructor(
    private readonly podId: string,
    private readonly catalog: CampaignCatalog,
    private readonly models: ModelRegistry,
    private readonly budget: BudgetSource,
    private readonly log: Logger,
    /** The plugin's spend plan: each campaign's lease pace follows it (control/pace-plan.ts); none: the policy's flat pace. */
    private readonly pacePlan?: PacePlan,
  ) {}

  async sync(body: unknown, nowMs = Date.now()): Promise<SyncAnswer> {
    const report = parseReport(body);
    if (this.syncs === 0 && this.catalog.publishAbove(report.config_version)) {
      // The filter holds a set from an earlier host process under a number this one reuses.
      this.log.info({ event: "campaigns_republished", filter_version: report.config_version, version: this.catalog.version }, "the filter holds a campaign set numbered as this host's: published again above it");
    }
    this.syncs++;
    this.filter.lastSyncMs = nowMs;
    this.filter.modelLoaded = report.model_loaded;
    this.filter.configVersion = report.config_version;
    if (report.pod_tag !== undefined) this.onPodTag?.(report.pod_tag);
    if (report.reservations_expired !== undefined && report.reservations_expired !== this.filter.reservationsExpired) {
      this.filter.reservationsExpired = report.reservations_expired;
      this.filter.lastExpiryAt = performance.now();
    }
    if (report.model_version !== undefined) this.filter.modelVersion = report.model_version;
    if (report.hash_bits !== undefined) {
      this.filter.hashBits = report.hash_bits;
      // A model of other dimensions is one the filter refuses: the registry refuses it too.
      this.models.expectHashBits(report.hash_bits);
    }
    const reported = new Map(report.campaigns.map((c) => [c.id, c]));
    this.keepReports(report.campaigns);

    // A sync that started before the return began is not one of its syncs (it may lease a slice).
    const returning = this.returning;
    // All leases at once: with Redis stalled, one probes and the others fail at once (budget-redis),
    // instead of one command timeout per campaign in turn, past the filter's sync_timeout_ms.
    const leases = this.catalog.campaigns.map((c) => this.leaseOne(c, reported.get(c.id), report, nowMs, returning));
    // Alongside the leases: the exchange never throws (a failure is "not accepted").
    const exchange = this.frequency?.exchange(report.frequency_counts, { cursor: report.frequency_cursor, tag: report.pod_tag });
    const grants = (await Promise.all(leases)).filter((g): g is SyncGrant => g !== null);
    if (returning) returning.syncs++;
    const answer: SyncAnswer = { config_version: this.catalog.version, model: this.models.announcement(), grants };
    if (exchange) {
      const fq = await exchange;
      answer.frequency_accepted = fq.accepted;
      if (report.frequency_cursor !== undefined) answer.frequency_cursor = fq.cursor;
      answer.frequency_counts = fq.counts.map((c) => [c.key, c.atMs, c.windowS]);
    }
    return answer;
  }

  /**
   * Keeps the filter's last report of each campaign of the current set, and only those: a removed
   * campaign's is dropped, also while a filter that has not loaded the new set still reports it.
   * The admin state shows the set's campaigns only, and a removed one's entry would stay for ever
   * (or show a report from before its removal once re-added).
   */
  private keepReports(campaigns: readonly SyncReportCampaign[]): void {
    const ids = new Set(this.catalog.campaigns.map((c) => c.id));
    for (const c of campaigns) if (ids.has(c.id)) this.filter.campaigns.set(c.id, c);
    for (const id of this.filter.campaigns.keys()) if (!ids.has(id)) this.filter.campaigns.delete(id);
  }

  /**
   * A campaign the filter did not report (`r` undefined: not in the configuration it has loaded)
   * is leased on zeros marked unreported: a new one gets its first grant before the filter loads
   * it, and one whose old ledger lives on in shared data (re-added, or new VMs after a
   * configuration reload) is not mistaken for a restarted ledger (PodReport.unreported).
   */
  private async leaseOne(
    c: CampaignDoc, r: SyncReportCampaign | undefined, report: SyncReport, nowMs: number, returning: ReturnProgress | null,
  ): Promise<SyncGrant | null> {
    const podReport: PodReport = {
      campaignId: c.id,
      podId: this.podId,
      granted: r?.granted_micros ?? 0,
      charged: r?.charged_micros ?? 0,
      reserved: r?.reserved_micros ?? 0,
      dailyCharged: r?.daily_charged_micros ?? 0,
      unreported: r === undefined,
      reportDay: report.day,
      ledgerEpoch: report.ledger_epoch,
      utcOffsetMinutes: report.utc_offset_minutes,
      reportMs: report.report_ms,
      returning: returning !== null,
    };
    if (returning && r) this.noteReturnReport(returning, c.id, r);
    try {
      const ticket = this.overrides?.ticket() ?? 0;
      const lease = await this.leaseByCurrentLimits(limitsOf(c, this.pacePlan), podReport, nowMs);
      // Before the answer is built: its config_version is then the set with the override laid over.
      if (lease?.override !== undefined) await this.overrides?.learned(c.id, lease.override, ticket, lease.storeForgotPod === true);
      if (lease === null) return null;
      this.lastAnswers.set(c.id, lease.granted);
      if (returning && r && lease.granted >= r.granted_micros) returning.kept.set(c.id, lease.granted);
      return {
        id: c.id,
        granted_micros: lease.granted,
        day: lease.day,
        others_daily_charged_micros: lease.othersDailyCharged,
        hour: lease.hour,
        others_hourly_charged_micros: lease.othersHourlyCharged,
        minute: lease.minute,
        others_minute_charged_micros: lease.othersMinuteCharged,
      };
    } catch (err) {
      // Budget source down: no new money; the filter keeps what it holds.
      this.budgetErrors++;
      const held = this.grantFailedLog.take();
      if (held !== undefined) this.log.warn({ event: "grant_failed", campaign: c.id, err: (err as Error).message, held_back: held }, "budget source unavailable (one line per 10 s: held_back counts the others)");
      return null;
    }
  }

  /** The first returning-mode report of a campaign: what the store counted for the pod before the return. */
  private noteReturnReport(returning: ReturnProgress, id: string, r: SyncReportCampaign): void {
    returning.reported.add(id);
    if (!returning.before.has(id)) returning.before.set(id, Math.max(r.granted_micros, this.lastAnswers.get(id) ?? 0));
  }

  /** Micros the filter's ledger holds reserved (bids waiting for a notice), by its last reports. */
  reservedMicros(): number {
    let sum = 0;
    for (const c of this.filter.campaigns.values()) sum += c.reserved_micros;
    return sum;
  }

  /**
   * Graceful stop: from now on every campaign is leased as paused (the pod wants only what it
   * holds), so the filter's unspent grants go back to the store through the protocol: the next
   * answer lowers the filter's grant (never below charged + reserved), and the report after it
   * shows the lowered grant, which is when the store stops counting the money. Waits for that
   * report for every campaign, at most `timeoutMs`; the mode stays on (later syncs give nothing
   * back out). A source that is not shared has nobody to give to: nothing happens.
   */
  async returnUnspent(timeoutMs: number): Promise<ReturnOutcome> {
    // No time to wait (returnWaitMs 0, or the drain took it all): a return nobody waits for would
    // only stop the filter's bidding early.
    // A filter that never synced, or was never granted anything, holds nothing of the store's (an
    // audit's stop with Redis never reached waited its whole returnWaitMs for a return of nothing).
    if (this.budget.shared !== true || !(timeoutMs > 0) || this.syncs === 0 || this.holdsNothing()) return { attempted: false, complete: false, returned: {}, kept: {}, pending: [], syncs: 0 };
    this.returning ??= { before: new Map(), kept: new Map(), reported: new Set(), syncs: 0 };
    const deadline = Date.now() + timeoutMs;
    while (!this.returnConfirmed() && Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.min(20, Math.max(1, deadline - Date.now()))));
    const outcome = this.returnOutcome();
    this.logReturn(outcome);
    return outcome;
  }

  /** Neither the filter's reports nor this host's answers show a grant: there is nothing to give back. */
  private holdsNothing(): boolean {
    for (const r of this.filter.campaigns.values()) if (r.granted_micros > 0) return false;
    for (const g of this.lastAnswers.values()) if (g > 0) return false;
    return true;
  }

  /** At least one returning-mode sync was answered, and every campaign its reports carried is confirmed. */
  private returnConfirmed(): boolean {
    const s = this.returning;
    if (s === null || s.syncs === 0) return false;
    for (const id of s.reported) if (!s.kept.has(id)) return false;
    return true;
  }

  private returnOutcome(): ReturnOutcome {
    const s = this.returning!;
    const returned: Record<string, number> = {};
    const kept: Record<string, number> = {};
    for (const [id, k] of s.kept) {
      kept[id] = k;
      returned[id] = Math.max(0, (s.before.get(id) ?? k) - k);
    }
    const pending = [...s.reported].filter((id) => !s.kept.has(id));
    return { attempted: true, complete: this.returnConfirmed(), returned, kept, pending, syncs: s.syncs };
  }

  private logReturn(o: ReturnOutcome): void {
    const totalMicros = Object.values(o.returned).reduce((a, b) => a + b, 0);
    const fields = { event: "budget_returned", complete: o.complete, returned_micros: o.returned, total_micros: totalMicros, kept_micros: o.kept, pending: o.pending, syncs: o.syncs };
    if (o.complete) this.log.info(fields, "unspent budget returned to the shared store");
    else this.log.warn(fields, "budget return unconfirmed for some campaigns when the wait ended: their unspent grants stay counted");
  }

  /**
   * A lease answered by the limits of the set current when it comes back, or null (no answer:
   * the filter keeps what it holds). A reload or admin change that lands while a lease runs would
   * otherwise have it answer by the old set: one last grant for a campaign just removed, or a
   * grant by a budget just lowered or a campaign just paused.
   * - removed: no answer, as if the lease had started after the change;
   * - other limits: leased again by them. The report is absolute, so the second lease re-decides
   *   the answer (a lower answer returns money, never below what the filter holds); an unreported
   *   campaign gets no answer instead, since the source would repeat the first one
   *   (PodReport.unreported), and so does one whose limits keep changing.
   * What a lease without an answer counted in the source stays counted for the pod until its next
   * report (budget-redis.ts): money held back, never handed out twice.
   */
  private async leaseByCurrentLimits(limits: CampaignLimits, report: PodReport, nowMs: number): Promise<BudgetLease | null> {
    for (let leases = 1; ; leases++) {
      const version = this.catalog.version;
      const lease = await this.budget.lease(limits, report, nowMs);
      if (this.catalog.version === version) return lease; // the common case: no lookup
      const doc = this.catalog.get(limits.id);
      if (doc === undefined) return null;
      const current = limitsOf(doc, this.pacePlan);
      if (sameLimits(current, limits)) return lease;
      if (report.unreported === true || leases >= MAX_LEASES_PER_CAMPAIGN) return null;
      limits = current;
    }
  }

  config(version: string | null): string {
    if (version !== null && version !== String(this.catalog.version)) {
      throw new SyncError(404, `config version ${version} is not current (current: ${this.catalog.version})`);
    }
    return this.catalog.json;
  }

  model(version: string | null): Uint8Array {
    const blob = version ? this.models.blob(version) : undefined;
    if (!blob) throw new SyncError(404, `model version ${version ?? "(none)"} is not served`);
    return blob;
  }
}

function parseReport(body: unknown): SyncReport {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new SyncError(400, "sync: expected a JSON object");
  const b = body as Record<string, unknown>;
  const campaigns = Array.isArray(b.campaigns) ? b.campaigns : [];
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);
  return {
    vm: num(b.vm),
    config_version: typeof b.config_version === "number" ? b.config_version : -1,
    model_loaded: b.model_loaded === true,
    hash_bits: typeof b.hash_bits === "number" && Number.isInteger(b.hash_bits) && b.hash_bits >= 10 && b.hash_bits <= 24 ? b.hash_bits : undefined,
    model_version: typeof b.model_version === "string" && b.model_version.length <= 64 ? b.model_version : undefined,
    ledger_epoch: typeof b.ledger_epoch === "number" && Number.isInteger(b.ledger_epoch) && b.ledger_epoch > 0 && b.ledger_epoch <= 0xffffffff ? b.ledger_epoch : undefined,
    report_ms: typeof b.report_ms === "number" && Number.isSafeInteger(b.report_ms) && b.report_ms >= 0 ? b.report_ms : undefined,
    day: typeof b.day === "number" && Number.isSafeInteger(b.day) && b.day >= 0 ? b.day : undefined,
    pod_tag: typeof b.pod_tag === "string" && /^[0-9a-f]{8}$/.test(b.pod_tag) ? b.pod_tag : undefined,
    reservations_expired: typeof b.reservations_expired === "number" && Number.isSafeInteger(b.reservations_expired) && b.reservations_expired >= 0 ? b.reservations_expired : undefined,
    utc_offset_minutes:
      typeof b.utc_offset_minutes === "number" && Number.isInteger(b.utc_offset_minutes) && Math.abs(b.utc_offset_minutes) <= 840 ? b.utc_offset_minutes : undefined,
    frequency_cursor: typeof b.frequency_cursor === "string" && STREAM_CURSOR_RE.test(b.frequency_cursor) ? b.frequency_cursor : undefined,
    frequency_counts: (Array.isArray(b.frequency_counts) ? b.frequency_counts.slice(0, MAX_REPORT_COUNTS) : [])
      .map(parseFrequencyCount)
      .filter((c): c is FrequencyCount => c !== null),
    campaigns: campaigns
      .filter((c): c is Record<string, unknown> => typeof c === "object" && c !== null && typeof (c as { id?: unknown }).id === "string")
      .map((c) => ({
        id: c.id as string,
        granted_micros: num(c.granted_micros),
        charged_micros: num(c.charged_micros),
        reserved_micros: num(c.reserved_micros),
        daily_charged_micros: num(c.daily_charged_micros),
        wins: num(c.wins),
        late_wins: num(c.late_wins),
        multiplier_ppm: num(c.multiplier_ppm),
      })),
  };
}
