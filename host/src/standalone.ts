// Standalone mode: the whole bidder in one Node process. The control plane
// (sync endpoints, campaigns, budget grants, models) listens on the control
// port; N filter VMs run the same .wasm Envoy would load, under the project's
// proxy-wasm host, and reach the control plane through the same sync protocol
// (proxy_http_call to the "nexus_host" cluster, mapped to the control port; replay
// claims to the plugin's replay_cluster, by default the same, and "nexus_replay" as
// envoy.yaml names it is mapped to the control port as well).
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { accountCurrency, leasePolicy, pacePlanOf, pluginUtcOffset, publicKeyPath, type HostConfig } from "./config.ts";
import { createLogger, type Logger } from "./log.ts";
import { CampaignCatalog, type CampaignChanges } from "./control/campaigns.ts";
import { CampaignReloader, type ReloadTrigger } from "./control/campaign-reload.ts";
import { filterParserCheck, filterPluginCheck, withAccountCurrency } from "./control/campaign-check.ts";
import { ConfigError } from "./errors.ts";
import { limitsOf, MemoryBudgetSource, type BudgetSource } from "./control/budget.ts";
import { BudgetStateError, BudgetStateFile, readBudgetStateText } from "./control/budget-state-file.ts";
import { STATE_LOCK_DEFAULTS, StateFileLock } from "./control/state-file-lock.ts";
import { podIdOf, RedisBudgetSource, startRedisBudgetSource } from "./control/budget-redis.ts";
import { FleetFrequencyMetrics, RedisFleetFrequency } from "./control/fleet-frequency.ts";
import { FleetOverrides } from "./control/fleet-overrides.ts";
import { readIpRanges } from "./control/ip-ranges.ts";
import { ModelRegistry } from "./control/model-registry.ts";
import { ModelWatcher } from "./control/model-watcher.ts";
import { createModelStore } from "./models/stores/index.ts";
import { parsePublicKeys } from "./models/signing.ts";
import { DEFAULT_HASH_BITS, MAX_HASH_BITS } from "./models/model.ts";
import { SyncService } from "./control/sync-service.ts";
import { RedisReplayClaims, ReplayClaimMetrics, ReplayClaimService } from "./control/replay-claims.ts";
import { NoticeForwardMetrics, NoticeForwardService, RedisNoticePeers } from "./control/notice-forward.ts";
import { ControlServer } from "./server/control-server.ts";
import { BidServer } from "./server/bid-server.ts";
import { waitNoticeWindow } from "./server/notice-window.ts";
import { HostMetrics } from "./server/host-metrics.ts";
import { VmPool } from "./proxy-wasm/pool.ts";
import { standaloneHttpCall } from "./standalone-callouts.ts";
import { renderPrometheus } from "./proxy-wasm/metrics.ts";
import { filterMetricHelp } from "./filter-metric-help.ts";

import { NexusError } from "./errors.ts";

export const HOST_CLUSTER = "nexus_host";
/** envoy.yaml's cluster for replay claims (the plugin's replay_cluster): the same host, its own pool. */
export const REPLAY_CLUSTER = "nexus_replay";

/**
 * The Envoy clusters the standalone host knows (proxy_http_call upstreams): both names reach the
 * control server. A plugin replay_cluster naming any other cluster is refused as Envoy refuses an
 * unknown cluster (the claim fails, counted, and the fail mode applies).
 */
export function hostUpstreams(controlUrl: string): Record<string, string> {
  return { [HOST_CLUSTER]: controlUrl, [REPLAY_CLUSTER]: controlUrl };
}

export interface ControlPlane {
  catalog: CampaignCatalog;
  models: ModelRegistry;
  /** Polls the model store (cfg.model.store) every cfg.model.pollMs; stop() it on shutdown. */
  modelWatcher: ModelWatcher;
  budget: BudgetSource;
  sync: SyncService;
  metrics: HostMetrics;
  control: ControlServer;
  controlUrl: string;
  /** The bearer token the filter must send to /nexus/v1/* (cfg.syncToken, or a random one). */
  syncToken: string;
  /** Cross-pod replay claims (Redis when budget.source is redis; closed with the control server). */
  replay: ReplayClaimService;
  /** Re-reads the campaigns file (cfg.campaignsPath) and replaces the set; throws, changing nothing, when refused. */
  reloadCampaigns(trigger: ReloadTrigger): Promise<CampaignChanges>;
}

export interface Standalone extends ControlPlane {
  pool: VmPool;
  bid: BidServer;
  bidUrl: string;
  log: Logger;
  /** Resolves when the filter VMs have loaded the model and campaigns (or rejects after timeoutMs). */
  ready(timeoutMs?: number): Promise<void>;
  /** Stops at once (tests, a failed start): requests in flight are cut. */
  close(): Promise<void>;
  /**
   * Graceful stop (SIGTERM), `drainMs` at most (cfg.drain.totalMs): /readyz answers 503
   * (draining) and new bids are refused at once, while win and loss notices are still answered
   * and charged for the notice window (`noticeMs`, cfg.drain.noticeMs: shorter when the filter
   * holds nothing reserved, at most `drainMs` less budget.returnWaitMs); then the bid listener
   * closes, the requests in flight are answered, the filter's unspent grants go back to a shared
   * budget store (for up to budget.returnWaitMs, within `drainMs`), and everything stops.
   */
  stop(drainMs?: number, noticeMs?: number): Promise<void>;
}

/**
 * The hash_bits the standalone host's own filter VMs will run with (their plugin configuration;
 * the filter's default is 18), or undefined for a value the filter will refuse anyway.
 */
export function standaloneHashBits(cfg: HostConfig): number | undefined {
  const bits = cfg.plugin.hash_bits ?? 18;
  return Number.isInteger(bits) && (bits as number) >= 10 && (bits as number) <= 24 ? (bits as number) : undefined;
}

/**
 * `filterHashBits`: the filter's hash_bits when known before its first sync (standalone: its own
 * VMs' plugin configuration; sidecar: cfg.model.hashBits when given). The first model poll then
 * refuses a file larger than a model of that size can be before downloading it, and a model of
 * other dimensions, instead of loading it until the filter's first sync says so.
 */
export async function startControlPlane(cfg: HostConfig, log: Logger, budget?: BudgetSource, filterHashBits?: number): Promise<ControlPlane> {
  const metrics = new HostMetrics();
  if (cfg.mode === "sidecar") {
    // Standalone, the filter's VMs refuse a bad plugin configuration at start. A sidecar host runs
    // none: it reads its `plugin` (the weights and day of its lease refill) unchecked, and a typo
    // there paced the fleet by the flat plan without a word (docs audit).
    const why = filterPluginCheck(JSON.stringify(cfg.plugin));
    if (why !== undefined) throw new ConfigError(`plugin: ${why} (in sidecar mode, the copy of Envoy's plugin configuration the host paces leases by)`);
  }
  const check = cfg.mode === "standalone" ? withAccountCurrency(accountCurrency(cfg)) : filterParserCheck;
  const catalog = CampaignCatalog.fromFile(cfg.campaignsPath, check);
  Object.assign(metrics.campaignOverridden, {
    collect: () => {
      metrics.campaignOverridden.reset();
      for (const id of catalog.overriddenIds()) metrics.campaignOverridden.set({ campaign: id }, 1);
    },
  });
  // A PEM, a file holding one (relative to the working directory), or a bare base64 key.
  const keyPath = publicKeyPath(cfg.model.publicKey, process.cwd());
  const publicKey = keyPath !== undefined ? readFileSync(keyPath, "utf8") : cfg.model.publicKey;
  // Refused now (KEY_INVALID, exit 1) rather than as every model's refusal until the start times out.
  if (publicKey) parsePublicKeys(publicKey);
  const models = new ModelRegistry({
    publicKey: publicKey || undefined,
    allowUnsigned: cfg.model.allowUnsigned,
    log,
    onLoad: (ok, reason) => {
      metrics.modelLoads.inc({ outcome: ok ? "ok" : "refused", reason });
      metrics.modelLoaded.set(models.state === "loaded" ? 1 : 0);
      // After every load or refusal: a refusal may have withdrawn the model (no version is served).
      metrics.modelInfo.reset();
      if (models.current) metrics.modelInfo.set({ version: models.current.version }, 1);
    },
  });
  // The model store (a directory by default, or s3://bucket/prefix) and its pull-based watcher.
  // The initial load is the watcher's first poll (CURRENT pointer, else cfg.model.file; see
  // host/src/models/stores/README.md); without a valid model the registry is failed and the
  // filter fails closed until a later poll finds one.
  const modelWatcher = new ModelWatcher({
    store: createModelStore(cfg.model),
    registry: models,
    log,
    pollMs: cfg.model.pollMs,
    onPoll: (r) => {
      metrics.modelPolls.inc({ result: r.result });
      if (r.result === "loaded" || r.result === "unchanged") metrics.modelCurrentAt.set(Date.now() / 1000);
    },
  });
  const knownHashBits = filterHashBits ?? (cfg.model.hashBits || undefined);
  if (knownHashBits !== undefined) models.expectHashBits(knownHashBits);
  await modelWatcher.pollOnce();
  const source =
    budget ??
    (cfg.budget.source === "redis"
      ? await startRedisBudgetSource(cfg, catalog.campaigns.map((c) => limitsOf(c)), { metrics, log })
      : await memoryBudgetSource(cfg, log, metrics));
  metrics.budgetUp.set(source.healthy() ? 1 : 0);
  const sync = new SyncService("pod-local", catalog, models, source, log, pacePlanOf(cfg));
  // Admin changes kept in Redis for the whole fleet, learned by every host from its leases.
  const overrides = source instanceof RedisBudgetSource ? new FleetOverrides({ source, catalog, instance: source.podId ?? podIdOf(cfg), log }) : undefined;
  sync.overrides = overrides;
  // The filter's endpoints always require a token: standalone mode configures its own VMs, so
  // a random one per process does when none is configured (sidecar mode requires one).
  const syncToken = cfg.syncToken || randomBytes(32).toString("base64url");
  const replayStore =
    cfg.budget.source === "redis"
      ? new RedisReplayClaims({ url: cfg.budget.redisUrl, keyPrefix: cfg.budget.keyPrefix, commandTimeoutMs: cfg.budget.replayRedisTimeoutMs, log })
      : null;
  const replay = new ReplayClaimService(replayStore, new ReplayClaimMetrics(metrics.registry));
  // Notices of this pod's bids that land on another pod come back through the others' hosts.
  let peers: RedisNoticePeers | null = null;
  if (cfg.budget.source === "redis") {
    peers = new RedisNoticePeers({ url: cfg.budget.redisUrl, keyPrefix: cfg.budget.keyPrefix, podId: podIdOf(cfg), selfUrl: cfg.budget.noticeForwardUrl || undefined, removeAtClose: cfg.mode !== "sidecar", log });
    peers.start();
  }
  const notices = new NoticeForwardService(peers, new NoticeForwardMetrics(metrics.registry));
  // Counted wins of frequency-capped campaigns, swapped with the other pods (closed with the control server).
  if (cfg.budget.source === "redis") {
    sync.frequency = new RedisFleetFrequency({
      url: cfg.budget.redisUrl, keyPrefix: cfg.budget.keyPrefix, commandTimeoutMs: cfg.budget.redisTimeoutMs,
      metrics: new FleetFrequencyMetrics(metrics.registry), log, readyWaitMs: cfg.budget.frequencyReadyWaitMs,
    });
  }
  if (peers) sync.onPodTag = (tag) => peers!.setTag(tag);
  const reloader = new CampaignReloader({ catalog, path: cfg.campaignsPath, log });
  const reloadCampaigns = (trigger: ReloadTrigger) => reloader.reload(trigger);
  const control = new ControlServer({
    sync, catalog, models, budget: source, metrics, log, adminToken: cfg.adminToken, syncToken, replay, notices,
    reloadCampaigns: () => reloadCampaigns("admin"), overrides,
  });
  // Campaigns dayparted in a time zone: published again when a zone's UTC offset changes (DST).
  const zoneClock = setInterval(() => {
    try {
      if (catalog.refreshZones()) log.info({ event: "campaign_zones_moved", version: catalog.version }, "a campaign's time zone changed its UTC offset: campaigns published again");
    } catch (err) {
      log.error({ event: "campaign_zones_failed", err: (err as Error).message }, "campaign time zones not refreshed; the published offsets stay");
    }
  }, ZONE_CHECK_MS);
  zoneClock.unref();
  control.onClose(() => clearInterval(zoneClock));
  let addr: AddressInfo;
  try {
    addr = await control.listen(cfg.control.port, cfg.control.host);
  } catch (err) {
    // A port taken: what started goes, the pod's notice-peers entry in Redis too (listed for 30 s,
    // it had other pods forward notices to a process that was gone) and the state file's lock.
    await modelWatcher.stop();
    await control.close();
    if (budget === undefined) await source.close();
    throw err;
  }
  const controlUrl = `http://${formatHost(addr.address)}:${addr.port}`;
  modelWatcher.start(); // polls from now on (after the start-up steps above succeeded)
  return { catalog, models, modelWatcher, budget: source, sync, metrics, control, controlUrl, syncToken, replay, reloadCampaigns };
}

/**
 * Stops what startControlPlane started: the model watcher, the control server (with the replay
 * store, the notice-peers entry and the frequency stream) and the budget source (its state
 * file's lock, saved last).
 */
export async function closeControlPlane(cp: ControlPlane): Promise<void> {
  await cp.modelWatcher.stop();
  await cp.control.close();
  await cp.budget.close();
}

/** How often campaigns' time zones are checked for a new UTC offset (CampaignCatalog.refreshZones). */
const ZONE_CHECK_MS = 60_000;

/** The standalone's shared data when the plugin configuration needs no more keys than this. */
const BASE_SHARED_DATA = { bytes: 128 << 20, maxKeys: 200_000 };
/** Keys besides the ring, the replay buckets and the frequency counts: per campaign, per VM, leases, seeds, models. */
const OTHER_KEYS = 65_536;
/**
 * Store bytes per key beyond the base: a table share (up to 2 × 32 bytes, doubled by the
 * power-of-two rounding) and the key's arena blocks (a ring slot's key and record take ~150).
 */
const BYTES_PER_EXTRA_KEY = 384;

/**
 * The shared data a plugin configuration needs: every slot of its reservation ring, every
 * replay bucket and every frequency-count bucket is a key of its own, created as bids come. A
 * store with fewer keys would refuse the ring's later slots, and each bid landing there would be
 * a no-bid. Envoy's shared data has no such limit; the standalone's store is fixed at start, so
 * it is sized from the configuration.
 */
export function sharedDataSize(plugin: Record<string, unknown>): { bytes: number; maxKeys: number } {
  // Within the filter's accepted ranges (assembly/filter/config.ts): a value outside them is the
  // filter's configuration error to report, not a store too large to create here.
  const setting = (v: unknown, fallback: number, max: number) => (typeof v === "number" && v > 0 ? Math.min(Math.floor(v), max) : fallback);
  const slots = setting(plugin.reservation_slots, 65_536, 1 << 22);
  const buckets = setting(plugin.replay_buckets, 16_384, 1 << 16);
  const frequencyBuckets = setting(plugin.frequency_buckets, 16_384, 1 << 16);
  const maxKeys = Math.max(BASE_SHARED_DATA.maxKeys, slots + buckets + frequencyBuckets + OTHER_KEYS);
  // The published model is one value of up to modelBlobBytes(hash_bits): the base store has room
  // for the default hash_bits' (2 MiB); a larger one gets twice its size on top, so that a swap to
  // a model of another size finds a free block whatever the keys around the old one (a 24-bit
  // model's 128 MiB did not fit at all: every VM waited for a model the host said was loaded).
  const bits = setting(plugin.hash_bits, DEFAULT_HASH_BITS, MAX_HASH_BITS);
  const modelExtra = bits > DEFAULT_HASH_BITS ? 2 * (modelBlobBytes(bits) - modelBlobBytes(DEFAULT_HASH_BITS)) : 0;
  return { bytes: BASE_SHARED_DATA.bytes + (maxKeys - BASE_SHARED_DATA.maxKeys) * BYTES_PER_EXTRA_KEY + modelExtra, maxKeys };
}

/**
 * The largest model value the filter publishes in shared data for `hashBits`: its digest (32
 * bytes) and the wire blob, at most two float32 weight arrays and a header (dense form).
 */
export function modelBlobBytes(hashBits: number): number {
  return 32 + 8 * 2 ** hashBits + 4096;
}

/**
 * The plugin's invalid_traffic with the blocks of NEXUS_IP_RANGES_FILES added to its own
 * ip_ranges (the filter's parser then checks them all, and refuses to start on a bad one).
 */
function withIpRanges(traffic: unknown, blocks: string[]): Record<string, unknown> {
  const own = traffic !== null && typeof traffic === "object" && !Array.isArray(traffic) ? (traffic as Record<string, unknown>) : {};
  const ranges = Array.isArray(own.ip_ranges) ? own.ip_ranges : [];
  return { ...own, ip_ranges: [...ranges, ...blocks] };
}

export async function startStandalone(cfg: HostConfig, log: Logger = createLogger(cfg.logLevel)): Promise<Standalone> {
  // Read before anything starts: a bad file stops the start with nothing left running.
  const ipRanges = cfg.ipRangesFiles.length > 0 ? readIpRanges(cfg.ipRangesFiles) : undefined;
  const cp = await startControlPlane(cfg, log, undefined, standaloneHashBits(cfg));
  // The control port listens (and the model is loaded) before the VMs start and the bid port
  // listens: until the filter's readiness replaces this, /readyz must not say ready on the model alone.
  cp.control.extend({ readiness: () => ({ ok: false, reasons: ["starting: the filter VMs and the bid listener are not up yet"] }) });
  const plugin: Record<string, unknown> = { ...cfg.plugin, host_cluster: HOST_CLUSTER };
  if (ipRanges !== undefined) plugin.invalid_traffic = withIpRanges(plugin.invalid_traffic, ipRanges);
  // The filter's token for this host: through the VM environment variable the plugin
  // configuration names (what envoy.yaml does with vm_config.environment_variables), else inline.
  const env: Record<string, string> = {};
  if (typeof plugin.sync_token_env === "string" && plugin.sync_token_env !== "") env[plugin.sync_token_env] = cp.syncToken;
  else plugin.sync_token = cp.syncToken;
  // Cross-pod replay claims whenever this host has the shared store, unless configured otherwise.
  if (plugin.replay_claim === undefined && cp.replay.configured) plugin.replay_claim = true;
  const maxBody = typeof plugin.max_body_bytes === "number" ? plugin.max_body_bytes : 65536;
  const upstreams = hostUpstreams(cp.controlUrl);
  let pool: VmPool;
  try {
    pool = await VmPool.start({
      wasm: readFileSync(cfg.wasmPath),
      vms: cfg.vms,
      mode: cfg.vmMode,
      rootId: "nexus",
      vmId: "nexus",
      pluginConfig: JSON.stringify(plugin),
      upstreams,
      // Replay claims answered in-process, the rest over HTTP (standalone-callouts.ts).
      httpCall: standaloneHttpCall({ upstreams, control: cp.control }),
      env,
      sharedData: sharedDataSize(plugin),
      autoTick: true,
      // Behave as Envoy does: on_log before on_done/on_delete, and local replies
      // pass through the filter's own response callbacks.
      streamLifecycle: "envoy",
      localReplyThroughFilter: true,
      log: (level: number, message: string, contextId: number) => logFilter(log, level, message, contextId),
    });
  } catch (err) {
    await closeControlPlane(cp);
    throw err;
  }
  const bid = new BidServer({
    pool, log, maxBodyBytes: Math.max(maxBody * 4, 1 << 20),
    bidPath: typeof plugin.bid_path === "string" ? plugin.bid_path : undefined,
    onRejected: (status, reason) => cp.metrics.bidRejected.inc({ status: String(status), reason }),
  });
  let addr: AddressInfo;
  try {
    addr = await bid.listen(cfg.bid.port, cfg.bid.host);
  } catch (err) {
    // The bid port taken: the VMs and the control plane go (the process exits), and with them the
    // pod's notice-peers entry, which other pods would have forwarded notices to for 30 s.
    await pool.close();
    await closeControlPlane(cp);
    throw err;
  }
  const bidUrl = `http://${formatHost(addr.address)}:${addr.port}`;

  const filterReady = () => {
    // Stopping: /readyz says so at once, so that load balancers stop sending while the bids in
    // flight are answered.
    if (bid.draining) return { ok: false, reasons: ["draining: the bidder is stopping"] };
    const loaded = vmStatuses(pool).filter((s) => s.modelLoaded && s.configVersion >= 0).length;
    const ok = loaded >= pool.size;
    return { ok, reasons: ok ? [] : [`${loaded} of ${pool.size} filter VMs have loaded the model and campaigns`] };
  };
  // Wire the standalone extras into the control server (one /metrics, readiness of the VMs).
  cp.control.extend({
    filterMetrics: () => renderPrometheus(pool.metrics, { help: filterMetricHelp }),
    readiness: filterReady,
    liveness: () => (pool.shared.wedged() ? "the filter VMs' shared data is locked for good (a worker thread died holding its lock): restart the process" : undefined),
    state: () => ({ vms: cfg.vms, vm_restarts: pool.vmRestarts }),
  });
  // nexus_host_vm_restarts: read from the pool at every scrape (prom-client calls `collect` first).
  cp.metrics.vmRestarts.set(0);
  Object.assign(cp.metrics.vmRestarts, { collect: () => cp.metrics.vmRestarts.set(pool.vmRestarts) });
  // Memory gauges, read at every scrape too: each inline VM's linear memory, the shared data's fill.
  const m = cp.metrics;
  Object.assign(m.vmMemory, {
    collect: () => pool.memoryBytes().forEach((bytes, vm) => { if (bytes >= 0) m.vmMemory.set({ vm: String(vm) }, bytes); }),
  });
  Object.assign(m.sharedDataKeys, { collect: () => m.sharedDataKeys.set(pool.shared.fill().keys) });
  Object.assign(m.sharedDataUsedBytes, { collect: () => m.sharedDataUsedBytes.set(pool.shared.fill().usedBytes) });
  Object.assign(m.sharedDataArenaBytes, { collect: () => m.sharedDataArenaBytes.set(pool.shared.fill().arenaBytes) });

  let stopping = false;
  const close = async (): Promise<void> => {
    stopping = true;
    await cp.modelWatcher.stop();
    await bid.close();
    await pool.close();
    await closeControlPlane(cp);
  };

  return {
    ...cp,
    pool,
    bid,
    bidUrl,
    log,
    async ready(timeoutMs = readyTimeoutMs(cfg)) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        // Stopped meanwhile (a SIGTERM before it was ready): no need to wait on, the timer would keep the process up.
        if (stopping || bid.draining) throw new NexusError("STOPPED", "the bidder stopped before it was ready");
        if (cp.control.readiness().ok && filterReady().ok && cp.sync.syncs > 0 && cp.sync.filter.configVersion >= 0) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      // With the model's error in full: the start's one stderr line then says what to fix.
      const modelError = cp.models.lastError;
      throw new NexusError(
        "NOT_READY",
        `bidder not ready after ${timeoutMs} ms: ${cp.control.readiness().reasons.join(", ") || "filter has not synced"}${modelError ? `; model: ${modelError.code}: ${modelError.message.replace(`${modelError.code}: `, "")}` : ""}`,
      );
    },
    close,
    async stop(drainMs = cfg.drain.totalMs, noticeMs = cfg.drain.noticeMs) {
      const deadline = performance.now() + drainMs; // monotonic: a stepped wall clock must not stretch the stop
      // Bids refused from now on; the notices of the bids made are still charged, for the window.
      bid.beginDrain();
      const windowMs = Math.max(0, Math.min(noticeMs, drainMs - cfg.budget.returnWaitMs));
      log.info({ event: "notice_window", window_ms: windowMs }, "stopping: new bids refused, win and loss notices still answered");
      const ended = await waitNoticeWindow(windowMs, {
        connections: () => bid.connections(),
        reports: () => cp.sync.syncs,
        reservedMicros: () => cp.sync.reservedMicros(),
        // A reservation refunded at its TTL (the filter's reports say when) may still get its win.
        msSinceExpiry: () => performance.now() - cp.sync.filter.lastExpiryAt,
      });
      log.info({ event: "notice_window_closed", ended }, "notice window over: closing the bid listener");
      // The requests in flight are answered (bids settle their reservations, notices charge)
      // before the VMs go.
      await bid.drain(Math.max(0, deadline - performance.now()));
      // Nothing reaches the filter any more: the VMs' syncs give back what it holds unspent (its
      // reservations stay held), and their reports carry every notice the window charged. Before
      // the VMs go: only the filter's reports let the store un-count it.
      await cp.sync.returnUnspent(Math.min(cfg.budget.returnWaitMs, deadline - performance.now()));
      await close();
    },
  };
}

/**
 * The in-memory budget source, with its state file when budget.stateFile names one (read now: a
 * file that is not a budget state stops the start; saved while leases change it and on close).
 */
async function memoryBudgetSource(cfg: HostConfig, log: Logger, metrics: HostMetrics): Promise<MemoryBudgetSource> {
  const policy = leasePolicy(cfg);
  const path = cfg.budget.stateFile;
  if (path === "") {
    log.warn(
      { event: "budget_in_memory" },
      "budget source memory: spend, caps and the replay guard live in this process only; a restart starts every campaign's daily and total cap from zero (keep them with NEXUS_BUDGET_STATE_FILE, or use NEXUS_BUDGET_SOURCE=redis)",
    );
    return new MemoryBudgetSource(policy, pluginUtcOffset(cfg), { onUnbilled: unbilledGauge(metrics) });
  }
  // Locked before it is read: a process still writing it (a rolling update's old one) is waited
  // for, and the start fails if it does not stop, rather than both writing it.
  const lock = await StateFileLock.acquire(`${path}.lock`, {
    ...STATE_LOCK_DEFAULTS,
    waitMs: cfg.budget.stateLockWaitMs,
    onLost: (why) => log.error({ event: "budget_state_lock_lost", path, err: why }, "budget state file lost to another process: no more grants"),
  }).catch((err: Error) => {
    throw new BudgetStateError(`budget state ${path}: ${err.message}`, { cause: err });
  });
  try {
    const read = readBudgetStateText(path);
    const restored = read?.state;
    log.info({ event: "budget_state", path, restored: restored !== undefined, campaigns: Object.keys(restored?.campaigns ?? {}).length }, "budget state kept in a file across restarts");
    let file: BudgetStateFile | undefined;
    const source = new MemoryBudgetSource(policy, pluginUtcOffset(cfg), {
      restored,
      persist: () => file!.save(),
      onHealth: (ok) => metrics.budgetUp.set(ok ? 1 : 0),
      release: () => lock.release(),
      onUnbilled: unbilledGauge(metrics),
    });
    file = new BudgetStateFile(
      path,
      () => source.snapshot(),
      (err) => log.error({ event: "budget_state_unsaved", path, err: err.message }, "budget state could not be saved"),
      (message) => log.warn({ event: "budget_state_rewritten", path }, message),
      lock,
    );
    // Taken now: a file that cannot be written stops the start (not every lease after it).
    await file.claim(read?.text ?? null);
    return source;
  } catch (err) {
    await lock.release();
    throw err;
  }
}

function unbilledGauge(metrics: HostMetrics): (campaignId: string, micros: number) => void {
  return (id, micros) => metrics.budgetUnbilled.set({ campaign: id }, micros);
}

export interface VmStatus {
  vm: number;
  atMs: number;
  configVersion: number;
  modelLoaded: boolean;
}

/**
 * The per-VM statuses the filter publishes each tick (fresh ones only: a dead VM's goes stale).
 * Readiness probes call this while bids are served: it reads the status keys "nexus/v1/vm/<n>" of
 * the numbers the filter's VM counter ("nexus/v1/vm-seq") handed out last, instead of walking
 * every key of the store (the reservation ring alone holds tens of thousands). The counter starts
 * at a random value (assembly/filter/vm-seq.ts, SECURITY.md G9) and holds the last number handed
 * out, so the walk goes down from it: twice `expected` numbers plus a margin for the configuration
 * canary, VMs restarted after a trap and earlier configurations, and never below 1 (a counter that
 * an older build started at 0). Only when that finds fewer statuses than `expected` (start-up, a
 * VM that could not count itself, or two VMs that both created the counter) does it fall back to
 * the full walk.
 */
export function vmStatuses(pool: VmPool, nowMs = Date.now(), maxAgeMs = 5000, expected = pool.size): VmStatus[] {
  const out: VmStatus[] = [];
  const seq = pool.shared.get(VM_SEQ_KEY);
  if (seq && seq.value.byteLength === 8) {
    const last = Number(new DataView(seq.value.buffer, seq.value.byteOffset, 8).getBigUint64(0, true));
    const span = Math.min(VM_SEQ_WALK_MAX, 2 * expected + pool.vmRestarts + VM_SEQ_WALK_MARGIN);
    for (let vm = last; vm >= 1 && vm > last - span; vm--) {
      const status = vmStatusOf(pool, vm, nowMs, maxAgeMs);
      if (status) out.push(status);
    }
    if (out.length >= expected) return out.reverse();
    out.length = 0;
  }
  for (const key of pool.shared.keys()) {
    if (!key.startsWith(VM_STATUS_PREFIX)) continue;
    const status = vmStatusOf(pool, Number(key.slice(VM_STATUS_PREFIX.length)), nowMs, maxAgeMs);
    if (status) out.push(status);
  }
  return out;
}

const VM_SEQ_KEY = "nexus/v1/vm-seq";
const VM_STATUS_PREFIX = "nexus/v1/vm/";
/** vmStatuses(): numbers read below the counter, beyond twice the VMs and the restarts. */
const VM_SEQ_WALK_MARGIN = 64;
const VM_SEQ_WALK_MAX = 4096;

function vmStatusOf(pool: VmPool, vm: number, nowMs: number, maxAgeMs: number): VmStatus | undefined {
  const v = pool.shared.get(VM_STATUS_PREFIX + vm);
  if (!v || v.value.byteLength !== 17) return undefined;
  const d = new DataView(v.value.buffer, v.value.byteOffset, v.value.byteLength);
  const atMs = Number(d.getBigInt64(0, true));
  if (nowMs - atMs > maxAgeMs) return undefined;
  return { vm, atMs, configVersion: Number(d.getBigInt64(8, true)), modelLoaded: d.getUint8(16) === 1 };
}

function logFilter(log: Logger, level: number, message: string, contextId: number): void {
  const fields = { source: "filter", context: contextId };
  if (level >= 5) log.fatal(fields, message);
  else if (level === 4) log.error(fields, message);
  else if (level === 3) log.warn(fields, message);
  else if (level === 2) log.info(fields, message);
  else log.debug(fields, message);
}

function formatHost(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}

/**
 * How long a start waits for readiness: 15 s for the model and the first sync; with Redis, a new
 * pod may also wait for the fleet's frequency counts for up to budget.frequencyReadyWaitMs (then
 * it is ready regardless), so the start waits that long too instead of exiting mid catch-up (and
 * catching up again, from the start of the stream, at every restart).
 */
export function readyTimeoutMs(cfg: Pick<HostConfig, "budget">): number {
  return 15_000 + (cfg.budget.source === "redis" ? cfg.budget.frequencyReadyWaitMs : 0);
}
