// Notices that reached another pod than the one that bid (SECURITY.md G12; the filter's side is
// assembly/filter/notice-forward.ts). A bid's reservation lives in the shared data of the Envoy
// (or standalone process) that made it; a notice that lands elsewhere is handed by that pod's
// filter to its host (POST /nexus/v1/notice-forward, body = the notice's :path), and the host
// sends it to every other pod registered in Redis, with x-nexus-forwarded: 1 so that none of
// them forwards it again. The owner settles it as if it had come straight; the others answer
// 404. Only answers a filter wrote count (they carry x-nexus-notice: an overloaded Envoy's 503 or
// whatever else listens at a stale address does not), a 2xx first. The filter relays the answer
// to the exchange as it is, when it carries the mark `x-nexus-notice-forward: <owner's pod id>`
// (or `none`: no pod knew the bid). Everything happens within the wait the filter announces
// (x-nexus-forward-timeout-ms), so that its answer never comes after the filter gave up.
//
// Directory: the hash nexus:<prefix>:notice-peers, field = pod id, value = {"url", "expires_ms",
// "instance"} (instance: random per process; a live entry of another instance with another URL
// under this pod's id means two pods share one id, and the forwards of one of them go to the
// other: logged).
// Each host with a notice URL (NEXUS_NOTICE_FORWARD_URL: the address other pods reach its bid
// listener at, e.g. http://$(POD_IP):8080) writes its entry every 10 s for 30 s and removes it
// when it stops (standalone only: in sidecar mode the reservations live in Envoy, which outlives
// the host on the way down, so the entry expires instead); readers skip expired entries, so a
// killed pod drops out by itself, and delete entries expired for a minute.
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { Counter, type Registry } from "prom-client";
import { loadIoredis } from "../lazy-deps.ts";
import { deadConnectionOptions } from "./fail-fast-redis.ts";
import type { Logger } from "../log.ts";

/** Longest :path the host forwards (the filter's notice paths are far shorter). */
export const MAX_NOTICE_PATH_BYTES = 4096;
/** The mark the filter requires on an answer it relays (assembly/filter/notice-forward.ts). */
export const NOTICE_FORWARD_MARK = "x-nexus-notice-forward";
/** The mark of a filter's own notice answers (assembly/filter/replies.ts replyNoticeJson). */
export const FILTER_NOTICE_MARK = "x-nexus-notice";
/** Forwards in flight at most in this host; more are answered 503 at once (forged notices: SECURITY.md G4). */
export const MAX_FORWARDS_IN_FLIGHT = 64;
/** Expired entries older than this are deleted by readers (clocks of two hosts may differ a little). */
const DELETE_EXPIRED_AFTER_MS = 60_000;

/** A base URL (scheme, host, port; no path) that fetch() takes, IPv6 in brackets. */
export function isNoticeBaseUrl(url: string): boolean {
  if (!/^https?:\/\/[^/?#\s]+$/.test(url)) return false;
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

export interface NoticePeer {
  podId: string;
  /** Base URL of the pod's bid listener (no trailing slash). */
  url: string;
  /** The tag in its notice URLs ("&pod=", assembly/filter/pod-tag.ts), once its filter reported it. */
  tag?: string;
}

export interface NoticePeerDirectory {
  /** The other pods (not this one) whose entries have not expired. Throws when the directory cannot be read. */
  peers(): Promise<NoticePeer[]>;
  close(): Promise<void>;
}

export function noticePeersKey(keyPrefix: string): string {
  return `nexus:${keyPrefix}:notice-peers`;
}

export interface RedisNoticePeersOptions {
  url: string;
  keyPrefix: string;
  podId: string;
  /** This pod's notice URL; absent: it forwards to others but is not listed (it receives none). */
  selfUrl?: string;
  /** Delete this pod's entry at close (standalone); false: let it expire (sidecar: Envoy outlives the host). */
  removeAtClose?: boolean;
  log?: Logger;
  refreshMs?: number;
  ttlMs?: number;
  /** How long a read of the directory is reused. */
  cacheMs?: number;
}

export class RedisNoticePeers implements NoticePeerDirectory {
  private readonly redis: Redis;
  private readonly key: string;
  private timer: NodeJS.Timeout | undefined;
  private cached: { at: number; peers: NoticePeer[] } | null = null;
  private closed = false;
  private readonly instance = randomBytes(8).toString("hex");
  private lastConflictLogMs = 0;
  private tag: string | undefined;
  private register: (() => void) | undefined;
  /** This pod's entry was written at least once (so a read without it means Redis lost it). */
  private listedOnce = false;
  /** Until then (local ms) the list is refused: Redis lost entries and the pods are listing themselves again. */
  private relistingUntilMs = 0;
  private lastLostLogMs = 0;
  private lastRelistMs = 0;
  /** How often this pod lists itself again (RedisNoticePeersOptions.refreshMs). */
  private readonly refreshMs: number;

  constructor(private readonly o: RedisNoticePeersOptions) {
    this.redis = new (loadIoredis().Redis)(o.url, { ...deadConnectionOptions(500), commandTimeout: 500, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: (n: number) => Math.min(100 * n, 2000) });
    this.redis.on("error", (err: Error) => o.log?.debug({ event: "notice_peers_redis_error", err: err.message }, "notice peer directory error"));
    this.redis.on("connect", () => this.redis.stream?.unref?.());
    this.key = noticePeersKey(o.keyPrefix);
    this.refreshMs = o.refreshMs ?? 10_000;
  }

  /** Lists this pod (when it has a notice URL) now and every refreshMs. */
  start(): void {
    if (!this.o.selfUrl) return;
    const register = () => {
      // Expiries are on Redis's clock, which every pod reads alike: on its own, a pod whose clock
      // ran 30 s behind listed itself as already expired, and its wins that reached other pods
      // were charged nowhere.
      redisNowMs(this.redis)
        .then(async (now) => {
          const own = await this.checkConflict(now);
          if (own === null && this.listedOnce) this.entriesLost();
          const value = JSON.stringify({ url: this.o.selfUrl, expires_ms: now + (this.o.ttlMs ?? 30_000), instance: this.instance, ...(this.tag ? { tag: this.tag } : {}) });
          // (A write still under way when close() ran must not list the pod again.)
          if (!this.closed) {
            await this.redis.hset(this.key, this.o.podId, value);
            this.listedOnce = true;
          }
        })
        .catch((err: Error) => this.o.log?.warn({ event: "notice_peer_register_failed", err: err.message }, "could not list this pod for notice forwarding (retrying)"));
    };
    // Before the connection is up a write fails at once (no offline queue): the first one waits
    // for it instead (a warning at every start for a retry already planned said nothing useful).
    // And at every reconnect: a Redis restarted empty would otherwise not list this pod until the
    // next refresh, and the other pods would answer its wins "unknown" meanwhile.
    if (this.redis.status === "ready") register();
    this.redis.on("ready", register);
    this.timer = setInterval(register, this.refreshMs);
    this.timer.unref();
    this.register = register;
  }

  /** The tag this pod's filter puts in its notice URLs (from its sync report): listed at once when it changes. */
  setTag(tag: string): void {
    if (tag === this.tag) return;
    this.tag = tag;
    if (!this.closed) this.register?.();
  }

  /**
   * Logs (at most once a minute) when a live entry of another process holds this pod's id (`now`:
   * Redis's clock). Returns the entry under this pod's id (null: none).
   */
  private async checkConflict(now: number): Promise<string | null> {
    const raw = await this.redis.hget(this.key, this.o.podId);
    if (raw === null) return null;
    let v: { url?: unknown; expires_ms?: unknown; instance?: unknown };
    try {
      v = JSON.parse(raw) as typeof v;
    } catch {
      return raw;
    }
    // The same URL: this pod's previous host process (restarted in place), not another pod.
    if (v.instance === this.instance || v.url === this.o.selfUrl || typeof v.expires_ms !== "number" || v.expires_ms <= now) return raw;
    if (now - this.lastConflictLogMs < 60_000) return raw;
    this.lastConflictLogMs = now;
    this.o.log?.error(
      { event: "notice_peer_conflict", pod: this.o.podId, other_url: v.url, url: this.o.selfUrl },
      "another process lists itself for notice forwarding under this pod id: the notices of one of them go to the other and are lost (give every pod its own NEXUS_POD_ID)",
    );
    return raw;
  }

  /**
   * Redis lost this pod's entry, so the others' too (restarted empty, flushed, or its writes refused
   * for a whole TTL): every pod lists itself again within a refresh period, and until then the list
   * is refused (forwards answer 503, which the exchange retries) rather than read as the fleet.
   */
  private entriesLost(): void {
    const now = Date.now();
    this.relistingUntilMs = now + this.refreshMs + 1_000;
    if (now - this.lastLostLogMs < 60_000) return;
    this.lastLostLogMs = now;
    this.o.log?.warn({ event: "notice_peers_lost", pod: this.o.podId }, "the notice peer directory lost this pod's entry (Redis restarted empty, flushed, or refusing writes): forwarded notices answer 503 until the pods are listed again");
  }

  async peers(): Promise<NoticePeer[]> {
    const at = Date.now();
    if (this.cached && at - this.cached.at < (this.o.cacheMs ?? 2_000)) return this.cached.peers;
    // Read with Redis's clock, the one the expiries were written on.
    const replies = (await this.redis.pipeline().time().hgetall(this.key).exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
    const now = msOfRedisTime(replies[0]?.[1] as ArrayLike<string | number>);
    const all = replies[1]?.[1] as Record<string, string>;
    // An entry is still asked for one refresh period after it expired (the pods' refreshes are out
    // of phase): a pod that did die does not answer, and an unanswered ask is a 503 (the exchange
    // retries), not a 404. While Redis refuses writes, entries are judged against this pod's own.
    const cutoff = this.checkOwnEntry(all[this.o.podId], now) - this.refreshMs;
    const peers: NoticePeer[] = [];
    const stale: string[] = [];
    for (const [podId, raw] of Object.entries(all)) {
      if (podId === this.o.podId) continue;
      let v: { url?: unknown; expires_ms?: unknown; tag?: unknown };
      try {
        v = JSON.parse(raw) as typeof v;
      } catch {
        continue; // not an entry of this version: skipped
      }
      if (typeof v.expires_ms !== "number") continue;
      if (v.expires_ms > cutoff && typeof v.url === "string" && isNoticeBaseUrl(v.url)) {
        peers.push({ podId, url: v.url, ...(typeof v.tag === "string" ? { tag: v.tag } : {}) });
      }
      else if (v.expires_ms < now - DELETE_EXPIRED_AFTER_MS) stale.push(podId);
    }
    // Pods killed without a stop leave their entries: every read would go over them again.
    if (stale.length > 0) this.redis.hdel(this.key, ...stale).catch(() => {});
    this.cached = { at, peers };
    return peers;
  }

  /**
   * What the list's expiries are judged against (Redis's clock): `now`, or, while Redis refuses this
   * pod's refreshes (full, read-only: its own entry expired), its own entry's expiry, so that the
   * pods refreshed as late as this one stay listed. Answering from a list that expired as a whole
   * told the exchange 404 "unknown bid" for wins another pod made: never retried, charged nowhere,
   * their money spent again (an audit's full Redis: 146% of a daily cap billed). A pod that listed
   * itself and no longer finds its entry has a list that is not the fleet's (Redis lost its data:
   * restarted empty, flushed): throws (a 503: the exchange retries) and lists itself again. A pod
   * not listed yet (its first write pending or refused) and one whose id another process holds (a
   * conflict, logged) read the list as it is, as before.
   */
  private checkOwnEntry(raw: string | undefined, now: number): number {
    if (!this.o.selfUrl || !this.register) return now;
    if (raw === undefined) {
      if (!this.listedOnce) return now;
      this.entriesLost();
      // Once a second at most: every forwarded notice reads the list while it is refused.
      if (!this.closed && Date.now() - this.lastRelistMs >= 1_000) {
        this.lastRelistMs = Date.now();
        this.register();
      }
      throw new Error("this pod's entry is gone from the notice peer directory (Redis lost its data): the list is not the fleet's");
    }
    if (Date.now() < this.relistingUntilMs) throw new Error("the notice peer directory lost its entries: the pods are listing themselves again");
    let v: { expires_ms?: unknown; instance?: unknown };
    try {
      v = JSON.parse(raw) as typeof v;
    } catch {
      return now;
    }
    return v.instance === this.instance && typeof v.expires_ms === "number" ? Math.min(now, v.expires_ms) : now;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    try {
      if (this.o.selfUrl && this.o.removeAtClose !== false) await this.redis.hdel(this.key, this.o.podId);
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}

export class NoticeForwardMetrics {
  /** outcome: settled (a pod answered) | unknown (every pod answered 404, or none is listed) | unreachable | overloaded | bad_request. */
  readonly forwards: Counter<"outcome">;
  constructor(registry: Registry) {
    this.forwards = new Counter({ name: "nexus_host_notice_forwards_total", help: "Notices the filter could not place, sent to the other pods, by outcome", labelNames: ["outcome"], registers: [registry] });
  }
}

export interface ForwardAnswer {
  status: number;
  headers: Record<string, string>;
  /** JSON text. */
  body: string;
}

const unknown = (): ForwardAnswer => ({ status: 404, headers: { [NOTICE_FORWARD_MARK]: "none" }, body: JSON.stringify({ error: "unknown bid id" }) });

/** Time kept back from the filter's announced wait for the answer's way back. */
const ANSWER_MARGIN_MS = 50;

export class NoticeForwardService {
  private inFlight = 0;

  constructor(
    private readonly directory: NoticePeerDirectory | null,
    private readonly metrics: NoticeForwardMetrics,
  ) {}

  /** A forward whose body could not be read whole (over MAX_NOTICE_PATH_BYTES: 413, or cut off): counted as a bad request. */
  unreadable(): void {
    this.metrics.forwards.inc({ outcome: "bad_request" });
  }

  /**
   * Sends the notice at `path` to the other pods; the owner's answer, marked (see the file
   * comment), within `waitMs` (the filter's x-nexus-forward-timeout-ms) less a margin.
   */
  async forward(pathBytes: Uint8Array, waitMs = 800): Promise<ForwardAnswer> {
    if (this.inFlight >= MAX_FORWARDS_IN_FLIGHT) {
      this.metrics.forwards.inc({ outcome: "overloaded" });
      return { status: 503, headers: {}, body: JSON.stringify({ error: "too many notice forwards in flight: retry the notice" }) };
    }
    this.inFlight++;
    try {
      return await this.forwardWithin(pathBytes, Date.now() + Math.max(1, waitMs - ANSWER_MARGIN_MS));
    } finally {
      this.inFlight--;
    }
  }

  private async forwardWithin(pathBytes: Uint8Array, deadline: number): Promise<ForwardAnswer> {
    const path = Buffer.from(pathBytes).toString("latin1");
    if (path.length === 0 || path.length > MAX_NOTICE_PATH_BYTES || path[0] !== "/" || !/^[\x21-\x7e]+$/.test(path)) {
      this.metrics.forwards.inc({ outcome: "bad_request" });
      return { status: 400, headers: { [NOTICE_FORWARD_MARK]: "none" }, body: JSON.stringify({ error: "notice path: 1-4096 printable ASCII bytes starting with /" }) };
    }
    if (!this.directory) {
      this.metrics.forwards.inc({ outcome: "unknown" });
      return unknown();
    }
    let peers: NoticePeer[];
    try {
      // At most half the wait for the directory: the rest is for the pods.
      peers = await withTimeout(this.directory.peers(), (deadline - Date.now()) / 2, "no answer from Redis in time");
    } catch (err) {
      this.metrics.forwards.inc({ outcome: "unreachable" });
      return { status: 503, headers: {}, body: JSON.stringify({ error: `notice peers: ${(err as Error).message}` }) };
    }
    // The notice names the pod that bid (&pod=, its tag): that pod alone when it is listed; else
    // (an older filter's URL, a pod not yet listed) every pod.
    const q = path.indexOf("?");
    const tag = q < 0 ? null : new URLSearchParams(path.slice(q + 1)).get("pod");
    const tagged = tag ? peers.filter((p) => p.tag === tag) : [];
    if (tagged.length > 0) peers = tagged;
    const answers = await Promise.all(peers.map((p) => this.ask(p, path, deadline)));
    // The owner answers anything but 404 (charged, refunded, already settled, busy, ...); a
    // filter's answer (marked) only, a settled one first.
    const owner = answers.find((a) => a !== null && a.status >= 200 && a.status < 300) ?? answers.find((a) => a !== null && a.status !== 404);
    if (owner) {
      this.metrics.forwards.inc({ outcome: "settled" });
      return { status: owner.status, headers: { [NOTICE_FORWARD_MARK]: owner.podId }, body: owner.body };
    }
    if (answers.some((a) => a === null)) {
      // A pod did not answer: it may be the owner. Not "unknown": the exchange should retry.
      this.metrics.forwards.inc({ outcome: "unreachable" });
      return { status: 503, headers: {}, body: JSON.stringify({ error: "a pod did not answer: retry the notice" }) };
    }
    this.metrics.forwards.inc({ outcome: "unknown" });
    return unknown();
  }

  /** A filter's answer from `peer`, or null: no answer by `deadline`, or not a filter's (unmarked). */
  private async ask(peer: NoticePeer, path: string, deadline: number): Promise<{ podId: string; status: number; body: string } | null> {
    try {
      const res = await fetch(peer.url + path, { headers: { "x-nexus-forwarded": "1" }, signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())), redirect: "manual" });
      const body = await res.text();
      if (!res.headers.has(FILTER_NOTICE_MARK)) return null;
      return { podId: peer.podId, status: res.status, body: body.length <= MAX_NOTICE_PATH_BYTES ? body : "" };
    } catch {
      return null;
    }
  }

  async close(): Promise<void> {
    await this.directory?.close();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), Math.max(1, ms));
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Redis's clock (TIME), in ms since the epoch. */
async function redisNowMs(redis: Redis): Promise<number> {
  return msOfRedisTime(await redis.time());
}

function msOfRedisTime(t: ArrayLike<string | number>): number {
  return Number(t[0]) * 1000 + Math.floor(Number(t[1]) / 1000);
}
