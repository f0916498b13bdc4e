// The global budget in Redis: every pod's host leases slices of each
// campaign's budget for its filter with ONE atomic Lua script per lease.
//
// Keys (one Redis Cluster slot per campaign: every key a lease touches shares
// the hash tag {nexus:<prefix>:<campaign>}):
//   {nexus:P:C}:campaign    hash: total, daily, active, rate, cap (the limits in force at the last
//                           lease: the host's, with the override's fields over them), granted (Σ over pods of
//                           what each may hold, net of returns, ever), charged (Σ pods' reported
//                           charged), tokens + ts (the token bucket), hold_until, leases,
//                           registrations, resets, updated_ms
//   {nexus:P:C}:pod:<pod>   hash: granted (what the pod may hold, counted in the sums), answer (the
//                           last grant answered), charged, reserved, daily_charged (its last report),
//                           day (last day it leased), epoch (its ledger's, last reported), updated_ms
//   {nexus:P:C}:day:<n>     hash: granted (what pods may spend on day n: their unspent holdings
//                           when they first leased that day + every change since), charged (spend
//                           reported for day n); expires 3 days after its last write
//   {nexus:P:C}:pods        set of pod ids (for operators)
//   {nexus:P:C}:hour:<h>    hash: charged (growth of pods' charged reported in local hour h); 2 h TTL
//   {nexus:P:C}:minute:<m>  hash: charged (the same per local minute); 2 min TTL
//   (the pod hash also keeps its own part of both: hour, hour_charged, minute, minute_charged)
//   {nexus:P:C}:override    hash: paused ("1"), total, daily (micros), updated_ms, updated_by (pod
//                           id): the fleet's admin override (fleet-overrides.ts writes it; no key
//                           while nothing is overridden; never expires, also after the campaign
//                           left the file: cleared by DELETE /admin/v1/campaigns/<id>/override)
//
// Every lease reads the override and applies it over the limits its host passes (paused: leased as
// paused; a stored total or daily replaces the host's, and the pace and slice follow it): a host
// whose campaigns file or memory is stale — a pod started or restarted after the admin call —
// cannot lease past a pause or a lowered cap, in the same atomic script, with no window. The
// answer carries the override; SyncService hands it to fleet-overrides.ts, which lays it over the
// host's catalog, so every filter's configuration matches within one sync.
//
// The lease (LEASE_LUA) is a token bucket refilled at the pacing target
// (daily budget / pacingSeconds, or total / pacingSeconds without a daily
// budget; config.ts leasePolicy shortens pacingSeconds to the spend plan's
// peak pace), of size sliceMicros() (leaseSeconds of that pace, at least
// minSliceMicros). A pod reports absolute, cumulative numbers from its filter's
// ledger (granted, charged, reserved, daily charged) and gets back its new
// cumulative grant:
//   - held = charged + reserved; the pod may hold prev = max(reported granted, held, last answer).
//   - it wants held + slice (active) or held (paused, or the pod is stopping — report.returning:
//     unspent slices go back);
//   - an increase beyond what is counted for the pod comes from the bucket (an increase smaller
//     than minSliceMicros waits for the bucket, unless the budget's remainder is smaller), never
//     beyond the total (total − what the other pods hold) nor the day (daily − what pods may spend
//     today) — so Σ granted ≤ total and Σ granted today ≤ daily, whatever the number of pods;
//   - a lower answer returns money, but the store keeps counting max(answer, reported granted)
//     until the pod's next report shows what its ledger kept (the filter never takes back what is
//     reserved, and it may reserve between its report and the answer); returns refill the bucket;
//   - the answer is never below held.
// Retries are idempotent: the report is absolute and the pod's counted grant is stored, so
// running the same lease twice changes nothing the second time. The day number is computed by
// the host (nowMs and the filter's utc_offset_minutes); a pod's first lease of a day carries its
// unspent holding (granted − charged before today) into the day's sum.
//
// Recovery after Redis lost its data (restart without persistence): a pod the
// store does not know but that reports a grant (or a restarted ledger: its reported charged went
// backwards, or it reports another ledger epoch than the last — the filter's shared data, and with
// it the ledger, is new after an Envoy restart) is registered with what it holds,
// max(reported granted, charged + reserved) — its ledger's grant includes all
// it ever charged, so the rebuilt totals are at least what live pods spent — and
// no pod gets new money for recoveryHoldMs, while the other pods re-register. A
// restarted ledger's old grant stays counted (consumed). What only dead pods
// spent is lost with the data: run Redis with persistence (AOF) for the total
// cap to survive data loss across pod churn.
//
// Redis down or slow (commandTimeout, 200 ms): grant() throws (SyncService keeps the filter on
// what it holds: no new money, safe), healthy() is false and nexus_host_budget_source_up 0;
// commands are never queued offline (enableOfflineQueue false, no resend after a reconnect) and,
// while down, one lease at a time probes Redis (the others fail at once). ioredis reconnects by
// itself; the next answer restores everything. Readiness (/readyz) does not depend on Redis: a
// pod without Redis bids only with the grants it holds, then answers no-bids (budget) — taking
// every pod out of the load balancer during a Redis outage would turn a budget-store outage
// into a bidding outage without saving a cent.
//
// Pods: the source leases under its own podId (default: podIdOf; set it to the Kubernetes pod
// name): SyncService reports as "pod-local". A pod that stops gracefully gives its unspent
// slices back by the rule above, never by writing here behind its filter: SyncService.returnUnspent
// leases every campaign as returning (wanting held), the filter applies the lowered grant, and its
// next report (granted = what it kept) is what makes this script un-count the rest; a lease whose
// answer never reached the filter un-counts nothing. A pod that dies (crash, kill -9), or whose
// stop ran out of time (Redis down, the filter gone), keeps its whole grant counted (never
// re-granted: safe). Lost to bidding: its unspent slice and what its open reservations held
// beyond what their exchanges bill, up to reservation_ttl_ms of bids (an audit: 2.8 slices).
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import type { Redis } from "ioredis";
import { loadIoredis } from "../lazy-deps.ts";
import { deadConnectionOptions } from "./fail-fast-redis.ts";
import type { Logger } from "../log.ts";
import { leasePolicy, pluginUtcOffset, type HostConfig } from "../config.ts";
import { budgetDay, windowsAt } from "./fleet-spend.ts";
import type { HostMetrics } from "../server/host-metrics.ts";
import { NexusError } from "../errors.ts";
import { overrideFromHash, type CampaignOverride } from "./campaign-overrides.ts";
import { paceMicrosPerSecond, pacingSecondsOf, sliceMicros, type BudgetLease, type BudgetSource, type CampaignLimits, type PodReport, type SlicePolicy } from "./budget.ts";

/**
 * KEYS: campaign, pod, day, pods, hour, minute, override. ARGV: see RedisBudgetSource.lease.
 * Returns {answer, counted, campaign granted, day granted, tokens, registered, holding, others'
 * daily charged, others' hourly charged, others' minute charged, then the override hash's paused,
 * total, daily, updated_ms and updated_by ("" for a field it lacks)}.
 */
export const LEASE_LUA = `
local function num(v) if v == false or v == nil then return nil end return tonumber(v) end
local function int(x) return string.format('%d', x) end
local ck, pk, dk, sk, hk, mk, ovk = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local pod = ARGV[1]
local now = tonumber(ARGV[2])
-- The bucket's clock (ts, hold_until) is the hosts' (now), but never past Redis's own clock by
-- more than a second: one pod whose clock ran ahead wrote a ts (and a hold) in the future, and no
-- pod with a right clock got new money until real time caught up with it. (Redis 3.2-4 need
-- effects replication for TIME before writes.)
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local bnow = math.min(now, tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + 1000)
local day = ARGV[3]
local total = tonumber(ARGV[4])
local daily = tonumber(ARGV[5])
local active = ARGV[6] == '1'
local rate = tonumber(ARGV[7])
local cap = tonumber(ARGV[8])
local minSlice = tonumber(ARGV[9])
local slice = tonumber(ARGV[10])
local rg = tonumber(ARGV[11])
local charged = tonumber(ARGV[12])
local reserved = tonumber(ARGV[13])
local dcharged = tonumber(ARGV[14])
local dayTtl = tonumber(ARGV[15])
local holdMs = tonumber(ARGV[16])
local epoch = ARGV[17]
local hour = ARGV[18]
local minute = ARGV[19]
local reportMs = ARGV[20]
local reportDay = ARGV[21]
local unreported = ARGV[22] == '1'
local podTtl = tonumber(ARGV[23])
local returning = ARGV[24] == '1'
local pacingSeconds = tonumber(ARGV[25])
local leaseSeconds = tonumber(ARGV[26])

-- The fleet's admin override (campaign-overrides.ts) wins over the limits this host passes: a
-- host whose file or memory is stale (a pod started or restarted after the change) can never
-- lease past a pause or a lowered cap. Its pace and slice follow the budget in force.
local o = redis.call('HMGET', ovk, 'paused', 'total', 'daily', 'updated_ms', 'updated_by')
local oPaused = o[1] == '1'
local oTotal = num(o[2])
local oDaily = num(o[3])
if oPaused then active = false end
if (oTotal ~= nil and oTotal ~= total) or (oDaily ~= nil and oDaily ~= daily) then
  total = oTotal or total
  daily = oDaily or daily
  local base = 0
  if daily > 0 then base = daily elseif total > 0 then base = total end
  if base > 0 then rate = base / pacingSeconds else rate = -1 end
  slice = minSlice
  if rate > 0 then slice = math.max(math.ceil(rate * leaseSeconds), minSlice) end
  cap = slice
end
local oFields = {o[1] or '', o[2] or '', o[3] or '', o[4] or '', o[5] or ''}
local function withOverride(list)
  for _, v in ipairs(oFields) do list[#list + 1] = v end
  return list
end

-- Read everything first: no write happens before the last check that could fail.
local c = redis.call('HMGET', ck, 'granted', 'charged', 'tokens', 'ts', 'hold_until')
local cg = num(c[1]) or 0
local cc = num(c[2]) or 0
local tokens = num(c[3])
local ts = num(c[4])
local holdUntil = num(c[5]) or 0
if tokens == nil or ts == nil then tokens = cap; ts = bnow end
local p = redis.call('HMGET', pk, 'granted', 'answer', 'charged', 'day', 'daily_charged', 'epoch', 'hour', 'hour_charged', 'minute', 'minute_charged', 'report_ms')
local G = num(p[1])
local answer = num(p[2]) or 0
local pc = num(p[3]) or 0
local pday = p[4]
local pdc = num(p[5]) or 0
local pepoch = p[6]
local phc = 0
if p[7] == hour then phc = num(p[8]) or 0 end
local pmc = 0
if p[9] == minute then pmc = num(p[10]) or 0 end
local hc = num(redis.call('HGET', hk, 'charged')) or 0
local mc = num(redis.call('HGET', mk, 'charged')) or 0
local d = redis.call('HMGET', dk, 'granted', 'charged')
local dg = num(d[1]) or 0
local dc = num(d[2]) or 0

-- A report of the same ledger made before one already applied (a leader that stalled with its
-- report unsent while another VM led and reported): its numbers are older, not a restart. Change
-- nothing; answer what was answered (the filter drops answers to a former leader anyway).
-- A campaign the filter did not report (not in the configuration it has loaded yet) while this
-- pod's ledger of the same epoch has state for it: the zeros are not its ledger's numbers (read as
-- a restart, its whole history would count again at the next real report). The same answer.
local prms = num(p[11])
local stale = reportMs ~= '' and prms ~= nil and G ~= nil and epoch ~= '' and pepoch == epoch and tonumber(reportMs) < prms
local unreportedKnown = unreported and G ~= nil and epoch ~= '' and pepoch == epoch
if stale or unreportedKnown then
  local od = dc
  if pday == day then od = dc - pdc end
  return withOverride({answer, G, cg, dg, math.floor(tokens), stale and 3 or 4, bnow < holdUntil and 1 or 0, math.floor(math.max(0, od)),
    math.floor(math.max(0, hc - phc)), math.floor(math.max(0, mc - pmc))})
end
-- The filter's daily charged is of the day it made the report in: one made before its midnight
-- and leased after the host's is yesterday's spend. This day keeps what it knew of the pod (the
-- first lease of the day then carries over what the pod holds unspent, not yesterday's spend).
if reportDay ~= '' and reportDay ~= day then
  if pday == day then dcharged = pdc else dcharged = 0 end
end

local held = charged + reserved
local H = math.max(rg, held)
local registered = 0
-- A ledger reports the epoch of its shared data; another epoch than the last is a new ledger even
-- when its numbers do not go backwards (one that never charged: its reservations, already bid,
-- are billed by the exchanges but unknown to the new ledger).
local newLedger = epoch ~= '' and pepoch ~= false and pepoch ~= '' and pepoch ~= epoch
if G == nil or charged < pc or newLedger then
  -- A pod this store does not know (new, or the store lost its data) or whose ledger restarted
  -- (charged went backwards, or a new epoch): count what it holds now; a restarted ledger's old
  -- grant and charges stay counted (consumed). Holdings nobody counted: hold new money while the
  -- others re-register.
  if G == nil then registered = 1 else registered = 2 end
  G = H; answer = H; pc = 0; pday = false; pdc = 0; phc = 0; pmc = 0
  cg = cg + H
  if H > 0 then holdUntil = math.max(holdUntil, bnow + holdMs) end
end
cc = cc + (charged - pc)
-- The charged growth since the last report counts in this hour and minute (soft caps' fleet spend);
-- a pod the store did not know brings its whole history, which is not this hour's.
local grow = charged - pc
if registered == 1 then grow = 0 end
hc = hc + grow; phc = phc + grow
mc = mc + grow; pmc = pmc + grow

-- What the pod may hold right now: its ledger's grant, or the last answer if not applied yet.
local prev = math.max(H, answer)
if prev > G then
  cg = cg + (prev - G)
  if pday == day then dg = dg + (prev - G) end
  G = prev
end
-- First lease of the day: what the pod held unspent at the start of the day may be spent today.
if pday ~= day then
  local carry = G - (charged - dcharged)
  if carry < 0 then carry = 0 end
  dg = dg + carry
  dc = dc + dcharged
else
  -- The day's charged is the sum of each pod's last report of the day: replace this pod's part.
  -- It may go down: a report the filter built before its midnight (yesterday's spend) that the
  -- host leased after its own counted yesterday's spend in today's key; the next report, of the
  -- filter's new day, takes it out again (the fleet's daily figure paces every pod).
  dc = dc + (dcharged - pdc)
  if dc < 0 then dc = 0 end
end

-- Token bucket: refill at the pacing target, never above its size (rate < 0: no pacing).
if rate < 0 then
  tokens = cap
elseif bnow > ts then
  tokens = tokens + rate * (bnow - ts) / 1000
  ts = bnow
end
if tokens > cap then tokens = cap end

local target = held
if active and not returning then target = held + slice end
local upper = target
if total > 0 then upper = math.min(upper, G + total - cg) end
if daily > 0 then upper = math.min(upper, G + daily - dg) end
local holding = bnow < holdUntil
local new
if upper > G then
  local inc = upper - G
  if holding then
    inc = 0
  elseif inc > tokens then
    inc = math.floor(tokens)
    if inc < minSlice then inc = 0 end
  end
  new = G + inc
else
  new = upper
end
new = math.floor(new)
if new < held then new = held end
local Gn = math.max(new, rg)
local delta = Gn - G
if delta > 0 then tokens = tokens - delta else tokens = math.min(cap, tokens - delta) end
cg = cg + delta
dg = dg + delta

redis.call('HSET', ck, 'granted', int(cg), 'charged', int(cc), 'tokens', string.format('%.3f', tokens), 'ts', int(ts),
  'hold_until', int(holdUntil), 'total', int(total), 'daily', int(daily), 'active', active and '1' or '0',
  'rate', rate < 0 and '-1' or string.format('%.6f', rate), 'cap', int(cap), 'updated_ms', int(now))
redis.call('HINCRBY', ck, 'leases', 1)
if registered == 1 then redis.call('HINCRBY', ck, 'registrations', 1) end
if registered == 2 then redis.call('HINCRBY', ck, 'resets', 1) end
redis.call('HSET', pk, 'granted', int(Gn), 'answer', int(new), 'charged', int(charged), 'reserved', int(reserved),
  'daily_charged', int(dcharged), 'day', day, 'updated_ms', int(now))
if epoch ~= '' then redis.call('HSET', pk, 'epoch', epoch) end
if reportMs ~= '' then redis.call('HSET', pk, 'report_ms', reportMs) end
redis.call('HSET', pk, 'hour', hour, 'hour_charged', int(phc), 'minute', minute, 'minute_charged', int(pmc))
redis.call('HSET', hk, 'charged', int(hc))
redis.call('PEXPIRE', hk, 7200000)
redis.call('HSET', mk, 'charged', int(mc))
redis.call('PEXPIRE', mk, 120000)
redis.call('HSET', dk, 'granted', int(dg), 'charged', int(dc))
redis.call('PEXPIRE', dk, dayTtl)
redis.call('SADD', sk, pod)
-- A pod that stops leasing the campaign (gone after a rollout, or the campaign left the catalog)
-- leaves its hash and set entry for podTtl only; its grant stays counted in the campaign's.
redis.call('PEXPIRE', pk, podTtl)
redis.call('PEXPIRE', sk, podTtl)
-- What the other pods (and this pod's restarted ledgers) charged today: the day's charged without
-- this report's. The filter paces the fleet's spend against the daily plan with it.
local others = dc - dcharged
if others < 0 then others = 0 end
return withOverride({new, Gn, cg, dg, math.floor(tokens), registered, holding and 1 or 0, math.floor(others),
  math.floor(math.max(0, hc - phc)), math.floor(math.max(0, mc - pmc))})
`;

const LEASE_SHA = createHash("sha1").update(LEASE_LUA).digest("hex");
const DAY_MS = 86_400_000;
const DAY_TTL_MS = 3 * DAY_MS;
/**
 * A pod's hash (and the campaign's pod set) expire this long after the pod's last lease of the
 * campaign: pods of old rollouts do not pile up. A pod that comes back after that registers anew
 * (its holdings counted again: less to grant, never more). The campaign's own hash never
 * expires: its granted total is what holds the total cap.
 */
const POD_TTL_MS = 7 * DAY_MS;

export class BudgetUnavailableError extends NexusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("BUDGET_UNAVAILABLE", message, options);
    this.name = "BudgetUnavailableError";
  }
}

export interface RedisBudgetOptions {
  /** redis://host:port[/db] (ignored when client is given). */
  url?: string;
  /** An ioredis client to use (tests); the source then does not own its options. */
  client?: Redis;
  /** Key prefix: keys are {nexus:<keyPrefix>:<campaign>}:… */
  keyPrefix: string;
  policy: SlicePolicy;
  /** Lease under this pod id (default: the report's podId). */
  podId?: string;
  /** Day boundary: the filter's utc_offset_minutes. */
  utcOffsetMinutes?: number;
  /** Command timeout (ms), default 200. */
  commandTimeoutMs?: number;
  /** No new money this long (ms) after a pod with uncounted holdings registered (default 5000). */
  recoveryHoldMs?: number;
  /** Fail at once when this many leases are already waiting for Redis (default 256). */
  maxInFlight?: number;
  metrics?: HostMetrics;
  log?: Logger;
}

/** A lease with the store's details (BudgetLease: the pod's grant and the other pods' spend in the day, hour and minute). */
export interface LeaseResult extends BudgetLease {
  /** What the store counts for the pod until its next report: max(answer, reported granted). */
  counted: number;
  campaignGranted: number;
  dayGranted: number;
  tokens: number;
  /** 0 known pod, 1 registered (new or after data loss), 2 ledger restart, 3 stale report, 4 unreported campaign of a known ledger (3 and 4: nothing changed). */
  registered: number;
  /** True while new money is held back after a recovery. */
  holding: boolean;
  /** The campaign's fleet override as the lease read it (null: none), which it applied. */
  override: CampaignOverride | null;
}

export interface PodState {
  granted: number;
  answer: number;
  charged: number;
  reserved: number;
  dailyCharged: number;
  day: number;
  updatedMs: number;
}

export interface CampaignState {
  exists: boolean;
  totalMicros: number;
  dailyMicros: number;
  active: boolean;
  granted: number;
  charged: number;
  tokens: number;
  holdUntil: number;
  leases: number;
  registrations: number;
  resets: number;
  day: number;
  dayGranted: number;
  dayCharged: number;
  pods: Record<string, PodState>;
  override: CampaignOverride | null;
}

export class RedisBudgetSource implements BudgetSource {
  readonly shared = true;
  readonly redis: Redis;
  readonly podId: string | undefined;
  /** The utc_offset_minutes the filter last reported (PodReport.utcOffsetMinutes). */
  private reportedOffset: number | undefined;
  private readonly ownsClient: boolean;
  private up = false;
  private inFlight = 0;
  private lastErrorLogMs = 0;
  private closed = false;

  constructor(private readonly o: RedisBudgetOptions) {
    this.podId = o.podId;
    if (o.client) {
      this.redis = o.client;
      this.ownsClient = false;
    } else {
      this.redis = new (loadIoredis().Redis)(o.url ?? "redis://127.0.0.1:6379", {
        ...deadConnectionOptions(o.commandTimeoutMs ?? 200),
        commandTimeout: o.commandTimeoutMs ?? 200,
        connectTimeout: Math.max(1000, (o.commandTimeoutMs ?? 200) * 5),
        // Never queue commands while offline, never resend them after a reconnect: a lease
        // is either answered now or failed (the pod keeps what it holds).
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        // Reconnect for ever, at most a second apart.
        retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
        lazyConnect: false,
      });
      this.ownsClient = true;
    }
    this.redis.on("ready", () => this.setUp(true));
    // The connection alone must not keep a stopping process alive (close() may never be called).
    if (this.ownsClient) this.redis.on("connect", () => this.redis.stream?.unref?.());
    this.redis.on("close", () => this.setUp(false));
    this.redis.on("end", () => this.setUp(false));
    this.redis.on("error", (err: Error) => this.logError("redis_error", err));
    if (this.redis.status === "ready") this.setUp(true);
  }

  healthy(): boolean {
    return this.up;
  }

  /** Resolves true once connected (false after timeoutMs). */
  async waitReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && this.redis.status !== "ready" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.redis.status === "ready";
  }

  keys(campaignId: string, podId: string, day: number, hour = 0, minute = 0): [string, string, string, string, string, string, string] {
    const tag = `{nexus:${this.o.keyPrefix}:${campaignId}}`;
    return [`${tag}:campaign`, `${tag}:pod:${podId}`, `${tag}:day:${day}`, `${tag}:pods`, `${tag}:hour:${hour}`, `${tag}:minute:${minute}`, this.overrideKey(campaignId)];
  }

  /** The campaign's fleet override (campaign-overrides.ts): in the slot of its other keys, for the lease to read. */
  overrideKey(campaignId: string): string {
    return `{nexus:${this.o.keyPrefix}:${campaignId}}:override`;
  }

  /** Writes each campaign's limits where Redis has none yet (operators see them; leases keep them current). */
  async init(campaigns: readonly CampaignLimits[], nowMs = Date.now()): Promise<void> {
    if (campaigns.length === 0) return;
    await this.op("init", async () => {
      // One transaction per campaign: each touches one key (one cluster slot).
      for (const l of campaigns) {
        const [ck] = this.keys(l.id, "-", 0);
        const res = await this.redis
          .multi()
          .hsetnx(ck, "total", String(int(l.totalMicros)))
          .hsetnx(ck, "daily", String(int(l.dailyMicros)))
          .hsetnx(ck, "active", l.active ? "1" : "0")
          .hsetnx(ck, "created_ms", String(Math.floor(nowMs)))
          .exec();
        const failed = res?.find(([err]) => err);
        if (failed?.[0]) throw failed[0];
      }
    });
  }

  async grant(limits: CampaignLimits, report: PodReport, nowMs: number): Promise<number> {
    return (await this.lease(limits, report, nowMs)).granted;
  }

  /** One lease (grant() with the details). Throws BudgetUnavailableError when Redis does not answer. */
  async lease(limits: CampaignLimits, report: PodReport, nowMs: number): Promise<LeaseResult> {
    const podId = this.podId ?? report.podId;
    // The filter's zone when it reports one (PodReport.utcOffsetMinutes): the windows are its own.
    if (report.utcOffsetMinutes !== undefined) this.reportedOffset = report.utcOffsetMinutes;
    const w = windowsAt(nowMs, this.utcOffset());
    const day = w.day;
    const keys = this.keys(limits.id, podId, day, w.hour, w.minute);
    const pace = paceMicrosPerSecond(limits, this.o.policy);
    const slice = sliceMicros(limits, this.o.policy);
    const args = [
      podId,
      String(Math.floor(nowMs)),
      String(day),
      String(int(limits.totalMicros)),
      String(int(limits.dailyMicros)),
      limits.active ? "1" : "0",
      pace > 0 ? pace.toFixed(6) : "-1",
      String(slice),
      String(int(this.o.policy.minSliceMicros)),
      String(slice),
      String(int(report.granted)),
      String(int(report.charged)),
      String(int(report.reserved)),
      String(int(report.dailyCharged)),
      String(DAY_TTL_MS),
      String(int(this.o.recoveryHoldMs ?? 5000)),
      report.ledgerEpoch === undefined ? "" : String(report.ledgerEpoch),
      String(w.hour),
      String(w.minute),
      report.reportMs === undefined ? "" : String(Math.floor(report.reportMs)),
      report.reportDay === undefined ? "" : String(report.reportDay),
      report.unreported === true ? "1" : "0",
      String(POD_TTL_MS),
      report.returning === true ? "1" : "0",
      String(pacingSecondsOf(limits, this.o.policy)),
      String(this.o.policy.leaseSeconds),
    ];
    let raw: unknown;
    try {
      raw = await this.op("lease", () => this.evalLease(keys, args));
    } catch (err) {
      this.o.metrics?.budgetErrors.inc();
      throw err;
    }
    const a = raw as Array<number | string>;
    const r: LeaseResult = {
      granted: Number(a[0]),
      counted: Number(a[1]),
      campaignGranted: Number(a[2]),
      dayGranted: Number(a[3]),
      tokens: Number(a[4]),
      registered: Number(a[5]),
      holding: Number(a[6]) === 1,
      day,
      othersDailyCharged: Number(a[7] ?? 0),
      hour: w.hour,
      othersHourlyCharged: Number(a[8] ?? 0),
      minute: w.minute,
      othersMinuteCharged: Number(a[9] ?? 0),
      override: overrideFromHash({ paused: String(a[10] ?? ""), total: String(a[11] ?? ""), daily: String(a[12] ?? ""), updated_ms: String(a[13] ?? ""), updated_by: String(a[14] ?? "") }),
      storeForgotPod: Number(a[5]) === 1,
    };
    // An unreported campaign of a known ledger: nothing changed (see LEASE_LUA).
    if (r.registered === 4) return r;
    if (r.registered === 3) {
      this.o.metrics?.budgetStaleReports.inc({ campaign: limits.id });
      this.o.log?.warn({ event: "budget_report_stale", campaign: limits.id, pod: podId, report_ms: report.reportMs }, "a report older than one already applied: ignored");
      return r;
    }
    const m = this.o.metrics;
    if (m) {
      m.budgetLeases.inc({ campaign: limits.id });
      const change = r.granted - report.granted;
      if (change > 0) m.budgetLeasedMicros.inc({ campaign: limits.id }, change);
      else if (change < 0) m.budgetReturnedMicros.inc({ campaign: limits.id }, -change);
      m.budgetCampaignGranted.set({ campaign: limits.id }, r.campaignGranted);
    }
    if (r.registered === 2) m?.budgetLedgerRestarts.inc({ campaign: limits.id });
    if (r.registered !== 0) {
      const holds = Math.max(report.granted, report.charged + report.reserved);
      // A pod the store did not know that holds nothing is a new pod (info); one that holds money
      // means the store lost its data (a warning, as a restarted ledger is).
      const level = r.registered === 1 && holds === 0 ? "info" : "warn";
      if (r.registered === 1 && holds > 0) m?.budgetStoreLostPod.inc({ campaign: limits.id });
      this.o.log?.[level](
        { event: r.registered === 1 ? "budget_pod_registered" : "budget_ledger_restarted", campaign: limits.id, pod: podId, holds, hold: r.holding },
        r.registered === 1 ? "budget store did not know this pod: registered what it holds" : "pod ledger restarted: its old grant stays counted",
      );
    }
    return r;
  }

  /** EVALSHA, and EVAL (which caches the script again) when Redis answers NOSCRIPT. */
  private async evalLease(keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(LEASE_SHA, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      this.o.metrics?.redisScriptLoads.inc();
      return await this.redis.eval(LEASE_LUA, keys.length, ...keys, ...args);
    }
  }

  /** The day boundary's zone: the filter's last reported utc_offset_minutes, else the configured one. */
  private utcOffset(): number {
    return this.reportedOffset ?? this.o.utcOffsetMinutes ?? 0;
  }

  /** What Redis holds for a campaign (operators, tests). */
  async campaignState(campaignId: string, nowMs = Date.now()): Promise<CampaignState> {
    return this.op("state", async () => {
      const day = budgetDay(nowMs, this.utcOffset());
      const [ck, , dk, sk] = this.keys(campaignId, "-", day);
      const c = await this.redis.hgetall(ck);
      const d = await this.redis.hgetall(dk);
      const override = overrideFromHash(await this.redis.hgetall(this.overrideKey(campaignId)));
      const pods: Record<string, PodState> = {};
      for (const pod of await this.redis.smembers(sk)) {
        const p = await this.redis.hgetall(this.keys(campaignId, pod, day)[1]);
        if (Object.keys(p).length === 0) continue; // expired (POD_TTL_MS); the set entry goes with the set's own expiry
        pods[pod] = {
          granted: n(p.granted), answer: n(p.answer), charged: n(p.charged), reserved: n(p.reserved),
          dailyCharged: n(p.daily_charged), day: n(p.day), updatedMs: n(p.updated_ms),
        };
      }
      return {
        exists: Object.keys(c).length > 0,
        totalMicros: n(c.total), dailyMicros: n(c.daily), active: c.active !== "0",
        granted: n(c.granted), charged: n(c.charged), tokens: n(c.tokens), holdUntil: n(c.hold_until),
        leases: n(c.leases), registrations: n(c.registrations), resets: n(c.resets),
        day, dayGranted: n(d.granted), dayCharged: n(d.charged), pods, override,
      };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (!this.ownsClient) return;
    try {
      if (this.redis.status === "ready") await this.redis.quit();
      else this.redis.disconnect();
    } catch {
      this.redis.disconnect();
    }
    this.setUp(false);
  }

  private async op<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const m = this.o.metrics;
    // While Redis is down, one operation at a time probes it; the others fail at once
    // (a sync with many campaigns must not wait a timeout per campaign).
    if ((!this.up && this.inFlight > 0) || this.inFlight >= (this.o.maxInFlight ?? 256) || this.closed) {
      m?.redisErrors.inc({ operation });
      throw new BudgetUnavailableError(`redis ${operation}: ${this.closed ? "source closed" : "redis unavailable (a probe is in flight)"}`);
    }
    this.inFlight++;
    const t0 = performance.now();
    try {
      const r = await fn();
      m?.redisLatency.observe({ operation }, (performance.now() - t0) / 1000);
      this.setUp(true);
      return r;
    } catch (err) {
      m?.redisLatency.observe({ operation }, (performance.now() - t0) / 1000);
      m?.redisErrors.inc({ operation });
      this.setUp(false);
      this.logError(`redis_${operation}_failed`, err as Error);
      throw new BudgetUnavailableError(`redis ${operation}: ${(err as Error).message}`, { cause: err });
    } finally {
      this.inFlight--;
    }
  }

  private setUp(up: boolean): void {
    if (this.closed && up) return;
    if (up !== this.up) {
      this.up = up;
      if (up) this.o.log?.info({ event: "budget_source_up" }, "redis budget source answers");
      // close() marks it down too: a stop, not an outage worth a warning.
      else if (!this.closed) this.o.log?.warn({ event: "budget_source_down" }, "redis budget source unavailable: no new grants, pods spend what they hold");
    }
    this.o.metrics?.budgetUp.set(up ? 1 : 0);
  }

  /** Logs at most one Redis error every 5 s (a reconnect loop would flood the log). */
  private logError(event: string, err: Error): void {
    const now = Date.now();
    if (now - this.lastErrorLogMs < 5000) return;
    this.lastErrorLogMs = now;
    this.o.log?.warn({ event, err: err.message }, "redis budget source error");
  }
}

/**
 * The pod id the host leases under: budget.podId, else the hostname in sidecar mode and
 * "<hostname>-<pid>" in standalone mode. A sidecar host that restarts serves the same Envoy, whose
 * ledger (shared data) lives on: under a new id its report would be a second pod holding the same
 * ledger, and the day's spend would count twice in the fleet's pacing. A standalone host's ledger
 * dies with its process; the pid keeps two bidders on one machine apart.
 */
export function podIdOf(cfg: Pick<HostConfig, "mode" | "budget">, host = hostname(), pid = process.pid): string {
  if (cfg.budget.podId) return cfg.budget.podId;
  return cfg.mode === "sidecar" ? host : `${host}-${pid}`;
}

/** The Redis source of a host configuration: connects, and writes campaign budgets Redis lacks (best effort). */
export async function startRedisBudgetSource(
  cfg: HostConfig,
  campaigns: readonly CampaignLimits[],
  opts: { metrics?: HostMetrics; log?: Logger; connectWaitMs?: number } = {},
): Promise<RedisBudgetSource> {
  const source = new RedisBudgetSource({
    url: cfg.budget.redisUrl,
    keyPrefix: cfg.budget.keyPrefix,
    policy: leasePolicy(cfg),
    podId: podIdOf(cfg),
    utcOffsetMinutes: pluginUtcOffset(cfg),
    commandTimeoutMs: cfg.budget.redisTimeoutMs,
    recoveryHoldMs: cfg.budget.recoveryHoldMs,
    metrics: opts.metrics,
    log: opts.log,
  });
  opts.metrics?.budgetUp.set(0);
  // Redis down at start does not fail the source: the pod has no grants (no bids) until it
  // answers. (A standalone start still waits for readiness, which needs the replay claim store
  // reached once, and exits NOT_READY, naming it, when Redis stays down: readyTimeoutMs.)
  if (await source.waitReady(opts.connectWaitMs ?? 2000)) {
    try {
      await source.init(campaigns);
    } catch (err) {
      opts.log?.warn({ event: "budget_init_failed", err: (err as Error).message }, "could not write campaign budgets to redis (leases will)");
    }
  } else {
    opts.log?.warn({ event: "budget_source_down", url: redactUrl(cfg.budget.redisUrl) }, "redis not reachable at start: no grants until it answers");
  }
  return source;
}

function int(v: number): number {
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

function n(v: string | undefined): number {
  const x = v === undefined ? 0 : Number(v);
  return Number.isFinite(x) ? x : 0;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
