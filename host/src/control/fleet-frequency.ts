// Frequency counts across pods (docs/SYNC_PROTOCOL.md, "Frequency counts"; the filter's side is
// assembly/filter/frequency-fleet.ts). Each pod's filter counts the wins it charges in its own
// shared data; its sync report carries them here ("frequency_counts"), this host appends them to
// one Redis stream every pod's host shares, and the sync answer carries the other pods' counts
// back, which the filter adds to its buckets.
//
// Stream: nexus:<prefix>:frequency, one entry per report with counts:
//   i = the pod's tag (its filter's pod_tag; older filters: this host process's random id); a
//       pod skips its own entries,
//   c = the counts, "<key hex>:<at ms>:<window s>" joined by ",".
// Trimmed to about MAX_STREAM_ENTRIES entries, and it expires a day after the last append.
//
// Where a pod is in the stream is its filter's: the leader reports its position
// ("frequency_cursor", kept in the filter's shared data) with each sync, and the host reads after
// it and answers the new position with the counts. So:
//   - a new pod (its filter has no position: "") reads the stream from its start and learns the
//     counts still in their windows (the stream holds about 100,000 reports and expires a day
//     after the last one);
//   - a host restarted while Envoy runs on resumes where its filter is: no count handed twice,
//     none skipped;
//   - an answer the filter drops (its VM no longer leads, a timeout) moves nothing: the next
//     sync gets the same counts.
// Entries carry the pod's tag (its filter's, as long-lived as its shared data) and are skipped
// when read back, also by the next host process of the same Envoy. A filter that reports no
// position (older) gets the host's own cursor, from the stream's end at the host's start, and
// entries carry this host process's random instance id.
// Redis down: the report's counts are refused ("frequency_accepted": false: the filter sends them
// again with its next report) and nothing comes back.
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { Counter, Gauge, type Registry } from "prom-client";
import { closeRedis, failFastRedis } from "./fail-fast-redis.ts";
import { LogThrottle, type Logger } from "../log.ts";

/** One counted win: the (campaign, user) count key, when it was counted (wall-clock ms), the window it opened (s). */
export interface FrequencyCount {
  key: string;
  atMs: number;
  windowS: number;
}

/** Longest frequency_cap.seconds (assembly/core/bidding/frequency.ts MAX_FREQUENCY_WINDOW_S). */
export const MAX_FREQUENCY_WINDOW_S = 365 * 86_400;
/** Counts accepted from one report (the filter sends at most 1,024). */
export const MAX_REPORT_COUNTS = 4096;
/** Counts in one answer at most: what the filter's sync answer parser is sized for. */
export const MAX_ANSWER_COUNTS = 2048;
/** Stream entries kept (approximately: MAXLEN ~). */
const MAX_STREAM_ENTRIES = 100_000;
const STREAM_TTL_MS = 86_400_000;
/**
 * Stream entries read per XREAD; at most READS_PER_EXCHANGE reads per sync: a new pod catches up
 * with a full stream (100,000 reports) in about 100 syncs, its answers still at most
 * MAX_ANSWER_COUNTS counts.
 */
const READ_BATCH = 64;
const READS_PER_EXCHANGE = 16;

const KEY_RE = /^[0-9a-f]{16}$/;

/** A count of a report as the filter writes it (["<16 hex>", at ms, window s]), else null. */
export function parseFrequencyCount(v: unknown): FrequencyCount | null {
  if (!Array.isArray(v) || v.length !== 3) return null;
  const [key, atMs, windowS] = v as unknown[];
  if (typeof key !== "string" || !KEY_RE.test(key) || key === "0000000000000000") return null;
  if (typeof atMs !== "number" || !Number.isSafeInteger(atMs) || atMs < 0) return null;
  if (typeof windowS !== "number" || !Number.isSafeInteger(windowS) || windowS < 1 || windowS > MAX_FREQUENCY_WINDOW_S) return null;
  return { key, atMs, windowS };
}

/** The stream's encoding of counts ("<key>:<at>:<window>" joined by ","), and back (malformed parts skipped). */
export function encodeCounts(counts: readonly FrequencyCount[]): string {
  return counts.map((c) => `${c.key}:${c.atMs}:${c.windowS}`).join(",");
}

export function decodeCounts(s: string): FrequencyCount[] {
  const out: FrequencyCount[] = [];
  for (const part of s.split(",")) {
    const f = part.split(":");
    const c = f.length === 3 ? parseFrequencyCount([f[0], Number(f[1]), Number(f[2])]) : null;
    if (c) out.push(c);
  }
  return out;
}

export interface FrequencyExchangeResult {
  /** False: the report's counts were not stored (the filter sends them again). */
  accepted: boolean;
  /** The other pods' counts after the position the exchange read from, still in their windows. */
  counts: FrequencyCount[];
  /** The position after them (answered to filters that keep one; unchanged when nothing was read). */
  cursor: string;
}

/** Who exchanges, and from where (the filter's sync report). */
export interface FrequencyExchangeFrom {
  /** The filter's position in the stream: "" none yet (a new pod: from the start); undefined: a filter that keeps none (the host's cursor). */
  cursor?: string;
  /** The pod's tag (pod_tag): its entries carry it. Undefined: this host process's random id. */
  tag?: string;
}

/** Where pods swap counted wins. */
export interface FleetFrequency {
  exchange(counts: readonly FrequencyCount[], from?: FrequencyExchangeFrom): Promise<FrequencyExchangeResult>;
  /**
   * Why this pod should not take bid traffic yet (/readyz), or undefined: its filter has not
   * caught up with the other pods' counted wins, so it would show capped campaigns to users the
   * fleet has already capped.
   */
  notReadyReason?(nowMs?: number): string | undefined;
  close(): Promise<void>;
}

/** A Redis stream id as a filter reports it ("<ms>-<seq>"), or "" for none. */
export const STREAM_CURSOR_RE = /^(?:[0-9]{1,20}-[0-9]{1,20})?$/;

export function frequencyStreamKey(keyPrefix: string): string {
  return `nexus:${keyPrefix}:frequency`;
}

export class FleetFrequencyMetrics {
  readonly counts: Counter<"direction">;
  readonly errors: Counter;
  readonly lag: Gauge;

  constructor(registry: Registry) {
    this.counts = new Counter({
      name: "nexus_host_frequency_fleet_counts_total",
      help: "Frequency counts of capped campaigns exchanged with the other pods through Redis: sent (this pod's wins), received (the other pods')",
      labelNames: ["direction"],
      registers: [registry],
    });
    this.errors = new Counter({ name: "nexus_host_frequency_fleet_errors_total", help: "Frequency count exchanges that failed (Redis down or slow): the filter sends its counts again", registers: [registry] });
    this.lag = new Gauge({
      name: "nexus_host_frequency_fleet_lag_seconds",
      help: "How far behind the other pods' counts this host is: 0 when its last exchange read the stream to its end, else the age of the last entry it handed to its filter",
      registers: [registry],
    });
  }
}

export interface RedisFleetFrequencyOptions {
  url: string;
  keyPrefix: string;
  commandTimeoutMs: number;
  metrics?: FleetFrequencyMetrics;
  log?: Logger;
  /**
   * No further read of the stream once an exchange has read for this long (default
   * READ_BUDGET_MS): a new pod catching up on large reports of ended windows must still answer
   * its filter well within sync_timeout_ms, or the answer would be dropped and the same pages read
   * again at every sync.
   */
  readBudgetMs?: number;
  /**
   * How long after the start the pod is held not ready while its filter catches up with the
   * stream (default FREQUENCY_READY_WAIT_MS; 0: never held). Past it the pod is ready anyway
   * (Redis down, a stream that grows faster than a pod reads it), with a warning.
   */
  readyWaitMs?: number;
}

/** Counts remembered as appended: some syncs' worth of reports (a filter sends at most 1,024 a report). */
const APPENDED_REMEMBERED = 65_536;

function countId(c: FrequencyCount): string {
  return `${c.key}/${c.atMs}/${c.windowS}`;
}

/** How long one exchange keeps reading the stream (RedisFleetFrequencyOptions.readBudgetMs). */
const READ_BUDGET_MS = 250;
/** A full stream (100,000 reports) takes about 100 syncs to read: after a minute, ready anyway. */
export const FREQUENCY_READY_WAIT_MS = 60_000;

export class RedisFleetFrequency implements FleetFrequency {
  private readonly redis: Redis;
  private readonly key: string;
  /** This process's entries carry it when the filter sends no tag: they are skipped when read back. */
  readonly instance = randomBytes(8).toString("hex");
  /** For filters that keep no position: the last stream id read; null until the first exchange found the stream's end. */
  private cursor: string | null = null;
  private closed = false;
  private readonly startedMs = Date.now();
  private readonly failedLog = new LogThrottle();
  /** The filter has applied an answer that reached the end of the stream (readiness). */
  private caughtUp = false;
  /** The position last answered when that answer reached the stream's end, else null. */
  private answeredEnd: string | null = null;
  /** Age of the last entry handed (s) when the last read stopped short of the end; 0 at the end. */
  private lagS = 0;
  private readyWaitWarned = false;
  /** The counts appended lately (countId), to drop the filter's resends: notAppendedYet. */
  private readonly appended = new Set<string>();

  constructor(private readonly o: RedisFleetFrequencyOptions) {
    this.key = frequencyStreamKey(o.keyPrefix);
    this.redis = failFastRedis(o.url, o.commandTimeoutMs, (err) => o.log?.debug({ event: "frequency_redis_error", err: err.message }, "frequency count stream error"));
  }

  /** The exchange in progress: exchanges run one after the other, so two never read from one cursor. */
  private last: Promise<unknown> = Promise.resolve();

  /**
   * Appends the report's counts and reads the other pods' after the filter's position (or the
   * host's, for a filter that keeps none). One at a time: a sync the filter gave up on may still be
   * running here when the next arrives, and both reading from the host's cursor would hand the
   * same counts twice.
   */
  exchange(counts: readonly FrequencyCount[], from: FrequencyExchangeFrom = {}): Promise<FrequencyExchangeResult> {
    const run = this.last.then(() => this.exchangeNow(counts, from));
    this.last = run.catch(() => undefined);
    return run;
  }

  private async exchangeNow(counts: readonly FrequencyCount[], from: FrequencyExchangeFrom): Promise<FrequencyExchangeResult> {
    const own = from.tag ?? this.instance;
    const filterCursor = from.cursor === undefined ? undefined : from.cursor === "" ? "0-0" : from.cursor;
    const unchanged = () => filterCursor ?? this.cursor ?? "0-0";
    if (this.closed) return { accepted: false, counts: [], cursor: unchanged() };
    let accepted = false;
    try {
      // The end of the stream before this host's first append: counts from then on are new.
      if (filterCursor === undefined && this.cursor === null) this.cursor = await this.lastId();
      const fresh = this.notAppendedYet(counts);
      if (fresh.length > 0) await this.append(fresh, own);
      this.noteAppended(fresh);
      accepted = true; // stored: a failed read below must not make the filter send them twice
      this.o.metrics?.counts.inc({ direction: "sent" }, counts.length);
      // The filter reports the position of an answer that reached the end: it has applied it.
      if (from.cursor !== undefined && from.cursor === this.answeredEnd) this.caughtUp = true;
      const { reachedEnd, ...read } = await this.readOthers(filterCursor ?? this.cursor!, own);
      if (filterCursor === undefined) {
        this.cursor = read.cursor;
        if (reachedEnd) this.caughtUp = true; // the host's own position: nothing for the filter to confirm
      }
      this.answeredEnd = reachedEnd && from.cursor !== undefined ? read.cursor : null;
      this.o.metrics?.counts.inc({ direction: "received" }, read.counts.length);
      return { accepted, ...read };
    } catch (err) {
      this.o.metrics?.errors.inc();
      const held = this.failedLog.take();
      if (held !== undefined) this.o.log?.warn({ event: "frequency_exchange_failed", err: (err as Error).message, held_back: held }, "frequency counts not exchanged with the other pods (Redis; one line per 10 s: held_back counts the others)");
      return { accepted, counts: [], cursor: unchanged() };
    }
  }

  /**
   * The counts of a report this host has not appended yet. A filter sends its counts again when it
   * did not get the answer of the sync that carried them (it gave up waiting, the answer was a
   * 500, its leader changed): appended twice, every other pod would count that win twice, and a
   * cap would close early (the caps fail open, never closed). A count is one win: its key, its
   * time in ms and its window; two wins of one user under one key in the same millisecond are
   * taken as one (that cap then fails open by one).
   */
  private notAppendedYet(counts: readonly FrequencyCount[]): FrequencyCount[] {
    return counts.filter((c) => !this.appended.has(countId(c)));
  }

  private noteAppended(counts: readonly FrequencyCount[]): void {
    for (const c of counts) this.appended.add(countId(c));
    // Oldest first (a Set keeps insertion order): a resend comes within a few syncs.
    for (const id of this.appended) {
      if (this.appended.size <= APPENDED_REMEMBERED) break;
      this.appended.delete(id);
    }
  }

  private async lastId(): Promise<string> {
    const last = (await this.redis.xrevrange(this.key, "+", "-", "COUNT", 1)) as Array<[string, string[]]>;
    return last[0]?.[0] ?? "0-0";
  }

  private async append(counts: readonly FrequencyCount[], own: string): Promise<void> {
    const r = await this.redis
      .multi()
      .xadd(this.key, "MAXLEN", "~", MAX_STREAM_ENTRIES, "*", "i", own, "c", encodeCounts(counts))
      .pexpire(this.key, STREAM_TTL_MS)
      .exec();
    const failed = r?.find(([err]) => err !== null);
    if (r === null || failed) throw failed?.[0] ?? new Error("frequency append: transaction discarded");
  }

  /**
   * The other pods' counts after `from` that are still in their windows: whole entries only, up to
   * MAX_ANSWER_COUNTS (an entry that would go over waits for the next exchange, unless it is the
   * first), and the position after them. A failed read throws: nothing handed, nothing moved.
   */
  private async readOthers(from: string, own: string, nowMs = Date.now()): Promise<{ counts: FrequencyCount[]; cursor: string; reachedEnd: boolean }> {
    const out: FrequencyCount[] = [];
    let cursor = from;
    let reachedEnd = false;
    const stopAt = nowMs + (this.o.readBudgetMs ?? READ_BUDGET_MS);
    reads: for (let read = 0; read < READS_PER_EXCHANGE; read++) {
      if (read > 0 && Date.now() >= stopAt) break;
      const res = (await this.redis.xread("COUNT", READ_BATCH, "STREAMS", this.key, cursor)) as Array<[string, Array<[string, string[]]>]> | null;
      const entries = res?.[0]?.[1] ?? [];
      for (const [id, fields] of entries) {
        const f = fieldsOf(fields);
        if (f.i !== own && f.c !== undefined) {
          // A count whose window has ended counts nothing on the filter: not worth the answer's room.
          const counts = decodeCounts(f.c).filter((c) => c.atMs + c.windowS * 1000 > nowMs);
          if (out.length > 0 && out.length + counts.length > MAX_ANSWER_COUNTS) break reads;
          out.push(...counts);
        }
        cursor = id;
      }
      if (entries.length < READ_BATCH) {
        reachedEnd = true;
        break;
      }
    }
    // 0 when the stream was read to its end, else the age of the last entry handed.
    const ms = Number(cursor.split("-")[0]);
    this.lagS = reachedEnd || !(ms > 0) ? 0 : Math.max(0, nowMs - ms) / 1000;
    this.o.metrics?.lag.set(this.lagS);
    return { counts: out, cursor, reachedEnd };
  }

  notReadyReason(nowMs = Date.now()): string | undefined {
    if (this.caughtUp || this.closed) return undefined;
    const wait = this.o.readyWaitMs ?? FREQUENCY_READY_WAIT_MS;
    if (nowMs - this.startedMs >= wait) {
      if (!this.readyWaitWarned && wait > 0) {
        this.readyWaitWarned = true;
        this.o.log?.warn({ event: "frequency_ready_unsynced", waitedMs: wait }, "ready without having caught up with the other pods' frequency counts (Redis down or the stream too long): capped users may see more impressions on this pod until it has");
      }
      return undefined;
    }
    return `frequency: catching up with the other pods' counted wins${this.lagS > 0 ? ` (${Math.round(this.lagS)} s behind)` : ""}`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeRedis(this.redis);
  }
}

function fieldsOf(fields: string[]): { i?: string; c?: string } {
  const out: { i?: string; c?: string } = {};
  for (let k = 0; k + 1 < fields.length; k += 2) {
    if (fields[k] === "i") out.i = fields[k + 1];
    else if (fields[k] === "c") out.c = fields[k + 1];
  }
  return out;
}
