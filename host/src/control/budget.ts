// Budget grants: how much of a campaign's money a pod may hold. A pod's
// filter spends only what it was granted; each sync it reports what it
// charged and reserved, and gets back its new cumulative grant (charged +
// reserved + a slice that refills at the pacing target rate), never more than
// what is left of the campaign's total and daily budget across all pods.
// In-memory here (standalone, one pod); Redis for many pods (budget-redis.ts).
import { FleetSpend, windowsAt } from "./fleet-spend.ts";
import type { MemoryBudgetState } from "./budget-state-file.ts";
import type { CampaignOverride } from "./campaign-overrides.ts";
import { campaignPaceFactor, type PacePlan } from "./pace-plan.ts";

export interface PodReport {
  campaignId: string;
  podId: string;
  /** Cumulative micros the pod was granted, charged and holds reserved (from its ledger). */
  granted: number;
  charged: number;
  reserved: number;
  dailyCharged: number;
  /**
   * The identity of the filter ledger the numbers come from (its shared data's epoch, a u32 > 0):
   * another value than before means a new ledger — Envoy restarted — even when its numbers do not
   * go backwards. Undefined from filters that do not report one.
   */
  ledgerEpoch?: number;
  /**
   * The filter's utc_offset_minutes: the budget day, hour and minute of the lease are counted in
   * it (they are the filter's windows). In sidecar mode the filter's plugin configuration is
   * Envoy's, not the host's `plugin` section, which may say another zone; undefined from filters
   * that do not report it (the source's configured offset then).
   */
  utcOffsetMinutes?: number;
  /**
   * When the filter made the report, on its monotonic clock (ms; the same clock for every VM of
   * the ledger). A report of the same ledger older than one already applied is stale (a leader
   * that stalled with it unsent): the sources change nothing for it. Undefined: not sent.
   */
  reportMs?: number;
  /**
   * The filter's budget day when it made the report (what `dailyCharged` counts). A report the
   * filter made before its midnight and the host leases after its own is yesterday's spend: the
   * sources do not count it in the lease's day. Undefined: not sent (counted in the lease's day).
   */
  reportDay?: number;
  /**
   * The filter did not report this campaign (not in the configuration it has loaded yet): the
   * numbers are zeros, not its ledger's. For a pod whose ledger of the same epoch already has
   * state for the campaign (its records outlive a configuration reload in shared data), the
   * sources change nothing and answer what they answered last; otherwise they lease as usual.
   */
  unreported?: boolean;
  /**
   * The pod is stopping gracefully: it wants only what it holds (charged + reserved), as for a
   * paused campaign, so that its unspent grant goes back to the store (SyncService.returnUnspent).
   */
  returning?: boolean;
}

export interface CampaignLimits {
  id: string;
  totalMicros: number; // 0 = unlimited
  dailyMicros: number; // 0 = unlimited
  active: boolean;
  /** The campaign's pace over the policy's (control/pace-plan.ts campaignPaceFactor; default 1). */
  paceFactor?: number;
}

/** A lease's answer to one pod for one campaign. */
export interface BudgetLease {
  /** The pod's new cumulative grant. */
  granted: number;
  /** The budget day (budgetDay(): days since the epoch in the filter's utc_offset_minutes). */
  day: number;
  /**
   * What the other pods charged on that day (and this pod's ledgers that restarted): the filter
   * adds its own daily spend and paces the fleet's spend against the daily plan. Without it, each
   * of N pods compares a 1/N share with the whole plan, sees itself behind, and never shades down.
   */
  othersDailyCharged: number;
  /** The local hour and minute numbers (windowsAt()) and what the other pods charged in them: the soft caps' fleet spend. */
  hour: number;
  othersHourlyCharged: number;
  minute: number;
  othersMinuteCharged: number;
  /**
   * The campaign's fleet override the lease applied (null: none). Undefined from a source that
   * keeps none (memory: admin changes live in the process): the host's catalog is left as it is.
   */
  override?: CampaignOverride | null;
  /**
   * The store did not know this pod (Redis source: a new pod, or a store that lost its data):
   * what it answered for the override may be a loss, not a clear (FleetOverrides.learned).
   */
  storeForgotPod?: boolean;
}

export interface BudgetSource {
  /** The pod's new cumulative grant for the campaign. Throws when the source is unreachable. */
  grant(limits: CampaignLimits, report: PodReport, nowMs: number): Promise<number>;
  /** grant() with what the other pods charged this day, hour and minute (what SyncService answers the filter). */
  lease(limits: CampaignLimits, report: PodReport, nowMs: number): Promise<BudgetLease>;
  /** True while the source answers (readiness). */
  healthy(): boolean;
  /**
   * True when other pods lease from the same store: what this pod gives back on a graceful stop
   * can go to them. A store that dies with the process (MemoryBudgetSource) gains nothing from it.
   */
  readonly shared?: boolean;
  close(): Promise<void>;
}

/** The limits a campaign document gives the budget source (what SyncService leases by). */
/** A campaign document's limits; with the plugin's spend plan, its pace factor too (campaignPaceFactor). */
export function limitsOf(c: { id: string; active?: boolean; budget?: { total_micros: number; daily_micros: number }; targeting?: unknown }, plan?: PacePlan): CampaignLimits {
  const limits: CampaignLimits = { id: c.id, totalMicros: c.budget?.total_micros ?? 0, dailyMicros: c.budget?.daily_micros ?? 0, active: c.active !== false };
  if (plan !== undefined) limits.paceFactor = campaignPaceFactor(c, plan);
  return limits;
}

export function sameLimits(a: CampaignLimits, b: CampaignLimits): boolean {
  return a.id === b.id && a.totalMicros === b.totalMicros && a.dailyMicros === b.dailyMicros && a.active === b.active;
}

export interface SlicePolicy {
  /** Seconds of pacing-target spend a pod may hold ahead of what it spent. */
  leaseSeconds: number;
  minSliceMicros: number;
  /** The pacing target spends the daily budget (the total without one) over this many seconds (default 86 400). */
  pacingSeconds?: number;
}

/** The pacing target rate in micros per second (0: the campaign has no budget, so no pace). */
export function paceMicrosPerSecond(limits: CampaignLimits, policy: SlicePolicy): number {
  const base = limits.dailyMicros > 0 ? limits.dailyMicros : limits.totalMicros > 0 ? limits.totalMicros : 0;
  return base / pacingSecondsOf(limits, policy);
}

/** The policy's pacingSeconds for this campaign: shorter by its pace factor (a dayparted campaign's hours). */
export function pacingSecondsOf(limits: CampaignLimits, policy: SlicePolicy): number {
  return (policy.pacingSeconds ?? 86_400) / (limits.paceFactor ?? 1);
}

/** The slice a pod may hold beyond charged + reserved: daily pace × lease, at least the minimum. */
export function sliceMicros(limits: CampaignLimits, policy: SlicePolicy): number {
  const paced = Math.ceil(paceMicrosPerSecond(limits, policy) * policy.leaseSeconds);
  return Math.max(paced, policy.minSliceMicros);
}

export interface MemoryBudgetOptions {
  /** A previous process's state (budget-state-file.ts): its grants count as spent, its windows' spend as charged. */
  restored?: MemoryBudgetState;
  /**
   * Saves the state (snapshot()): awaited before each lease is answered and by close(). The
   * state then outlives the process, which makes the source `shared` (a graceful stop's return
   * of the unspent grant is kept).
   */
  persist?: () => Promise<void>;
  /** Called when saving starts failing (false) or works again (true): the budget-source-up gauge. */
  onHealth?: (ok: boolean) => void;
  /** Called by close() after the last save: lets the state file go (its lock). */
  release?: () => Promise<void>;
  /**
   * Called on each lease with the campaign's unbilled micros of that day: what a previous process
   * (the state file) or a restarted ledger held when it stopped, counted as spent and never
   * charged (the nexus_host_budget_unbilled_micros gauge).
   */
  onUnbilled?: (campaignId: string, micros: number) => void;
}

/**
 * One process's budgets (standalone mode, or tests). Pods are tracked so the
 * total cap holds across them; the daily cap is enforced by each filter's
 * ledger (it knows the campaign's caps) for its own day, and by the grants
 * for what the others (and restarted ledgers) charged that day.
 * With a state file (MemoryBudgetOptions), what was granted and charged
 * outlives the process; without one, a restart starts every cap from zero.
 */
export class MemoryBudgetSource implements BudgetSource {
  /** Kept across restarts (a state file): a graceful stop's return of the unspent grant counts. */
  readonly shared: boolean;
  /** The last save of the state succeeded (always true without a state file). */
  private saved = true;
  private readonly granted = new Map<string, Map<string, number>>();
  /** Per campaign: grants of ledgers that restarted (consumed: their bids may still be billed). */
  private readonly retired = new Map<string, number>();
  /**
   * Per campaign: what restarted ledgers held beyond their charges (bids out, which exchanges
   * still bill; the unspent slice), counted as spent on the budget day they restarted. Only the
   * daily cap counts it; the fleet's charged figures (FleetSpend) stay what was charged.
   */
  private readonly retiredUnbilled = new Map<string, { day: number; micros: number }>();
  /** Per campaign and pod: the ledger epoch last reported. */
  private readonly epochs = new Map<string, Map<string, number>>();
  /** Per campaign: what each pod charged in the current day, hour and minute. */
  private readonly spend = new Map<string, FleetSpend>();
  /** Per campaign and pod: the last report applied (its ledger and time) and what it was answered. */
  private readonly last = new Map<string, Map<string, { epoch?: number; reportMs?: number; lease: BudgetLease }>>();

  constructor(
    private readonly policy: SlicePolicy,
    private readonly utcOffsetMinutes = 0,
    private readonly options: MemoryBudgetOptions = {},
  ) {
    this.shared = options.persist !== undefined;
    for (const [id, c] of Object.entries(options.restored?.campaigns ?? {})) {
      this.retired.set(id, c.consumedMicros);
      this.spend.set(id, new FleetSpend(c.spend));
      if (c.unbilled) this.retiredUnbilled.set(id, { ...c.unbilled });
    }
  }

  /** What a process restarting after this one must still count (what the state file holds). */
  snapshot(): MemoryBudgetState {
    // No prototype: a campaign id "__proto__" is a key like any other.
    const campaigns: MemoryBudgetState["campaigns"] = Object.create(null);
    for (const id of new Set([...this.retired.keys(), ...this.granted.keys(), ...this.spend.keys()])) {
      let consumed = this.retired.get(id) ?? 0;
      // What the live ledgers hold beyond what they reported charged (reserved bids, the unspent
      // slice) may be charged today before the next save — a crash, notices the next process
      // answers 404 — so the file counts it against today's cap too: the next process's day
      // starts from the worst case, never from less than was spent. Apart from the charges: the
      // next process paces by what was charged (counted as charged, the held money had pushed
      // its pacing multiplier to the floor before any spend: an audit's restart bid nothing).
      const fleet = this.spend.get(id) ?? new FleetSpend();
      const spend = fleet.snapshot();
      let unbilled = this.unbilledOn(id, spend.day.period);
      for (const [pod, g] of this.granted.get(id) ?? []) {
        consumed += g;
        unbilled += Math.max(0, g - fleet.chargedBy(pod));
      }
      campaigns[id] = { consumedMicros: consumed, spend, ...(unbilled > 0 ? { unbilled: { day: spend.day.period, micros: unbilled } } : {}) };
    }
    return { version: 1, campaigns };
  }

  async grant(limits: CampaignLimits, r: PodReport, nowMs: number): Promise<number> {
    return (await this.lease(limits, r, nowMs)).granted;
  }

  async lease(limits: CampaignLimits, r: PodReport, nowMs: number): Promise<BudgetLease> {
    // A report of the same ledger made before the last one applied (a stalled leader's): older
    // numbers, not a restart. Nothing changes; it gets the last answer (as the Redis source does).
    const lastByPod = mapOf(this.last, limits.id);
    const prev = lastByPod.get(r.podId);
    const stale =
      prev !== undefined && r.reportMs !== undefined && prev.reportMs !== undefined &&
      r.ledgerEpoch !== undefined && r.ledgerEpoch === prev.epoch && r.reportMs < prev.reportMs;
    // A campaign the filter has not loaded, while this ledger has history for it: not a restart.
    const unreportedKnown = prev !== undefined && r.unreported === true && r.ledgerEpoch !== undefined && r.ledgerEpoch === prev.epoch;
    if (stale || unreportedKnown) return prev.lease;
    const byPod = mapOf(this.granted, limits.id);
    let spend = this.spend.get(limits.id);
    if (!spend) this.spend.set(limits.id, (spend = new FleetSpend()));
    const w = windowsAt(nowMs, r.utcOffsetMinutes ?? this.utcOffsetMinutes);
    this.retireRestartedLedger(limits.id, r, byPod, spend, w.day);
    const held = r.charged + r.reserved;
    let others = this.retired.get(limits.id) ?? 0;
    for (const [pod, g] of byPod) if (pod !== r.podId) others += g;
    const o = spend.report(r.podId, r.charged, r.dailyCharged, w, r.reportDay);
    let want = limits.active && r.returning !== true ? held + sliceMicros(limits, this.policy) : held;
    if (limits.totalMicros > 0) want = Math.min(want, limits.totalMicros - others);
    // The filter holds its daily hard cap against its own ledger's day only. What others charged
    // today (other pods, a ledger that restarted, a previous process: the state file) is not in
    // it, so the grant stops where the fleet's day would pass the cap (what it holds reserved is
    // counted as charged today).
    const unbilledToday = this.unbilledOn(limits.id, w.day);
    this.options.onUnbilled?.(limits.id, unbilledToday);
    const othersToday = o.daily + unbilledToday;
    if (limits.dailyMicros > 0 && othersToday > 0) want = Math.min(want, held + Math.max(0, limits.dailyMicros - othersToday - r.dailyCharged - r.reserved));
    const granted = Math.max(held, Math.floor(want));
    byPod.set(r.podId, granted);
    const lease: BudgetLease = {
      granted,
      day: w.day, othersDailyCharged: o.daily,
      hour: w.hour, othersHourlyCharged: o.hourly,
      minute: w.minute, othersMinuteCharged: o.minute,
    };
    // On disk before the filter can spend it. A save that fails fails the lease, as an unreachable
    // store does: the filter keeps what it holds, and the next save counts this grant too. Kept as
    // the answer to repeat (stale reports) only once saved: an unsaved grant is never handed out.
    if (this.options.persist) {
      try {
        await this.options.persist();
        this.setSaved(true);
      } catch (err) {
        this.setSaved(false);
        throw err;
      }
    }
    lastByPod.set(r.podId, { epoch: r.ledgerEpoch, reportMs: r.reportMs, lease });
    return lease;
  }

  /**
   * A pod whose ledger restarted (Envoy restarted under the same host: a new ledger epoch, or,
   * from a filter that sends none, its charged going backwards): what its old ledger was granted
   * stays counted, as the Redis source does — those bids are out and get billed, though their
   * notices now find no reservation — against the total, and against today as spent: what it
   * charged stays in the fleet's day, hour and minute, and the rest of its grant (bids out, the
   * unspent slice) in the day too (`today`).
   */
  private retireRestartedLedger(campaignId: string, r: PodReport, byPod: Map<string, number>, spend: FleetSpend, today: number): void {
    let restarted = false;
    if (r.ledgerEpoch !== undefined) {
      const epochs = mapOf(this.epochs, campaignId);
      const before = epochs.get(r.podId);
      epochs.set(r.podId, r.ledgerEpoch);
      restarted = before !== undefined && before !== r.ledgerEpoch;
    } else {
      restarted = r.charged < spend.chargedBy(r.podId);
    }
    if (!restarted) return;
    const granted = byPod.get(r.podId) ?? 0;
    this.retired.set(campaignId, (this.retired.get(campaignId) ?? 0) + granted);
    byPod.delete(r.podId);
    const unbilled = Math.max(0, granted - spend.chargedBy(r.podId));
    const u = this.retiredUnbilled.get(campaignId);
    if (u !== undefined && u.day >= today) u.micros += unbilled;
    else this.retiredUnbilled.set(campaignId, { day: today, micros: unbilled });
    spend.retire(r.podId);
  }

  /** What restarted ledgers of the campaign held unbilled on budget day `day` (retireRestartedLedger). */
  private unbilledOn(campaignId: string, day: number): number {
    const u = this.retiredUnbilled.get(campaignId);
    return u !== undefined && u.day >= day ? u.micros : 0;
  }

  /** False while the state file cannot be saved (no new grants meanwhile). */
  healthy(): boolean {
    return this.saved;
  }

  private setSaved(ok: boolean): void {
    if (ok !== this.saved) this.options.onHealth?.(ok);
    this.saved = ok;
  }

  async close(): Promise<void> {
    // The last save: a failure is already logged by the saver, and the previous state stays on disk.
    await this.options.persist?.().catch(() => {});
    await this.options.release?.();
  }
}

function mapOf<V>(m: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let inner = m.get(key);
  if (!inner) m.set(key, (inner = new Map()));
  return inner;
}
