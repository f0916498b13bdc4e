// What a campaign's pods charged in the current budget day, local hour and local minute, so that
// each pod's filter can pace and apply its soft caps to the fleet's spend, not to its own share
// (assembly/filter/sync.ts). The memory budget source keeps it here; the Redis source keeps the
// same numbers in Redis (LEASE_LUA). A pod's day figure is its filter's own (daily charged); its
// hour and minute figures are the growth of its cumulative charged between two reports, counted
// in the window of the later report (so up to one sync period of spend lands in the next window).

const DAY_MS = 86_400_000;

/** The budget day: days since the epoch in the filter's time zone (utc_offset_minutes), as the filter counts them. */
export function budgetDay(nowMs: number, utcOffsetMinutes: number): number {
  return Math.floor((nowMs + utcOffsetMinutes * 60_000) / DAY_MS);
}

/** Minutes since the epoch in the filter's time zone (the filter's localMinutes()). */
export function localMinute(nowMs: number, utcOffsetMinutes: number): number {
  return Math.floor(nowMs / 60_000) + Math.trunc(utcOffsetMinutes);
}

export interface Windows {
  day: number;
  hour: number;
  minute: number;
}

export function windowsAt(nowMs: number, utcOffsetMinutes: number): Windows {
  const minute = localMinute(nowMs, utcOffsetMinutes);
  return { day: budgetDay(nowMs, utcOffsetMinutes), hour: Math.floor(minute / 60), minute };
}

/** What the other pods charged in each current window. */
export interface OthersSpend {
  daily: number;
  hourly: number;
  minute: number;
}

/** Micros charged in one window (a budget day, local hour or minute: `period` is its number). */
export interface SpendWindow {
  period: number;
  micros: number;
}
type Window = SpendWindow;

const KINDS = ["day", "hour", "minute"] as const;
type Kind = (typeof KINDS)[number];
/** A campaign's spend in its latest day, hour and minute, over every pod (FleetSpend.snapshot). */
export type SpendWindows = Record<Kind, SpendWindow>;

interface PodSpend {
  lastCharged: number;
  day: Window;
  hour: Window;
  minute: Window;
}

const empty = (): Window => ({ period: -1, micros: 0 });

/** One campaign's spend by pod, in memory. */
export class FleetSpend {
  private readonly pods = new Map<string, PodSpend>();
  /** Ledgers that restarted: what they had charged in their last windows still counts. */
  private readonly retired: Record<Kind, Window> = { day: empty(), hour: empty(), minute: empty() };
  /** The windows of the latest report: the current day, hour and minute of snapshot(). */
  private current: Windows | undefined;

  /** `carried`: a previous process's spend (its snapshot()), counted as a retired ledger's. */
  constructor(carried?: SpendWindows) {
    if (carried) for (const k of KINDS) this.retired[k] = { ...carried[k] };
  }

  /** What the pod's ledger had charged at its last report (0: none yet). */
  chargedBy(podId: string): number {
    return this.pods.get(podId)?.lastCharged ?? 0;
  }

  /**
   * What every pod and retired ledger charged in the current window of each kind (the windows of
   * the latest report): what a host that restarts must still count. A window of an earlier period
   * is over; one of a later period (a clock that went back, another utc_offset_minutes) is counted
   * in the current one, never dropped. Before any report, the latest windows as they are.
   */
  snapshot(): SpendWindows {
    const current = this.current;
    const out = { day: empty(), hour: empty(), minute: empty() };
    for (const k of KINDS) {
      const windows = [this.retired[k], ...[...this.pods.values()].map((p) => p[k])].filter((w) => w.period >= 0);
      if (current !== undefined) {
        out[k] = { period: current[k], micros: windows.filter((w) => w.period >= current[k]).reduce((a, w) => a + w.micros, 0) };
        continue;
      }
      for (const w of windows) {
        if (w.period > out[k].period) out[k] = { ...w };
        else if (w.period === out[k].period) out[k].micros += w.micros;
      }
    }
    return out;
  }

  /**
   * Records a pod's report and returns what the others charged in the windows `w`. `reportDay`:
   * the filter's day of `dailyCharged`; another day than w.day (a report made before the filter's
   * midnight, leased after the host's) leaves the pod's figure for w.day as it was.
   */
  report(podId: string, charged: number, dailyCharged: number, w: Windows, reportDay?: number): OthersSpend {
    this.current = w;
    let p = this.pods.get(podId);
    // A pod's first report brings its whole history, which is not this hour's or minute's.
    if (!p) this.pods.set(podId, (p = { lastCharged: charged, day: empty(), hour: empty(), minute: empty() }));
    // Charged going backwards: a ledger that restarted without telling (no new epoch). Retired as
    // for a new epoch: the old ledger's day, hour and minute stay in the fleet's spend (its day
    // figure would otherwise be replaced by the new ledger's), and its charged is all new.
    if (charged < p.lastCharged) {
      this.retire(podId);
      p = this.pods.get(podId)!;
    }
    const delta = charged - p.lastCharged;
    p.lastCharged = charged;
    if (reportDay === undefined || reportDay === w.day) p.day = { period: w.day, micros: dailyCharged };
    else if (p.day.period !== w.day) p.day = { period: w.day, micros: 0 };
    for (const k of ["hour", "minute"] as const) {
      if (p[k].period !== w[k]) p[k] = { period: w[k], micros: 0 };
      p[k].micros += delta;
    }
    return { daily: this.others(podId, "day", w.day), hourly: this.others(podId, "hour", w.hour), minute: this.others(podId, "minute", w.minute) };
  }

  /** The pod's ledger restarted: its spend so far stays in the fleet's windows, the pod starts over. */
  retire(podId: string): void {
    const p = this.pods.get(podId);
    if (!p) return;
    for (const k of KINDS) {
      const r = this.retired[k];
      if (p[k].period === r.period) r.micros += p[k].micros;
      else if (p[k].period > r.period) this.retired[k] = { ...p[k] };
    }
    // The new ledger's charged is all new spend (its next report counts it from 0).
    this.pods.set(podId, { lastCharged: 0, day: empty(), hour: empty(), minute: empty() });
  }

  /**
   * What the other pods and the retired ledgers charged in the window `period`, a window of a
   * later period included (as in snapshot()): a clock that went back, or a smaller
   * utc_offset_minutes after a restart, returns to a day whose spend is on file under the later
   * day's number, and that spend was made today. Counting only the same period reopened a spent
   * day (a restart with the offset lowered: the daily cap spent twice, audit).
   */
  private others(podId: string, k: Kind, period: number): number {
    let sum = this.retired[k].period >= period ? this.retired[k].micros : 0;
    for (const [pod, p] of this.pods) if (pod !== podId && p[k].period >= period) sum += p[k].micros;
    return sum;
  }
}
