// The host's one typed configuration: defaults, then a JSON file (--config or
// NEXUS_CONFIG), then NEXUS_* environment variables. Validated at start; an
// invalid value is a ConfigError naming the field. Documented in docs/HOST_CONFIG.md.
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { firstDuplicateKey } from "./json-duplicate-keys.ts";
import { planPeakFactor, planWeights, type PacePlan } from "./control/pace-plan.ts";
import { isNoticeBaseUrl } from "./control/notice-forward.ts";
import { ConfigError } from "./errors.ts";
import { DEFAULT_WASM, DEMO_DIR, PACKAGE_ROOT } from "./paths.ts";

export interface Listen {
  host: string;
  port: number;
}

export interface HostConfig {
  /** standalone: run the filter in-process and serve bids; sidecar: control plane only (Envoy runs the filter). */
  mode: "standalone" | "sidecar";
  bid: Listen;
  control: Listen;
  /** Number of filter VMs (Envoy worker threads in standalone mode). */
  vms: number;
  vmMode: "inline" | "workers";
  wasmPath: string;
  /** The filter's plugin configuration (docs/PLUGIN_CONFIG.md); host_cluster is set by the host in standalone mode. */
  plugin: Record<string, unknown>;
  campaignsPath: string;
  /**
   * Standalone: data-centre range files (control/ip-ranges.ts: the cloud providers' JSON lists or
   * CIDR text) whose blocks are added to the filter's invalid_traffic.ip_ranges at start.
   */
  ipRangesFiles: string[];
  model: {
    /** A local directory or s3://bucket/prefix. */
    store: string;
    /**
     * Model file name inside the store, used when the store has no CURRENT pointer
     * (a CURRENT file/object whose content names the model wins; see
     * host/src/models/stores/README.md). Empty and no CURRENT: no model (fail closed).
     */
    file: string;
    publicKey: string;
    allowUnsigned: boolean;
    /** How often the model store is polled for a new version. */
    pollMs: number;
    /** S3-compatible endpoint for s3:// stores ("" = AWS); path-style addressing when set. */
    s3Endpoint: string;
    /**
     * Sidecar mode: the hash_bits of Envoy's filter (its plugin configuration), 0 = not given.
     * Given, the first model poll already refuses a model of other dimensions, and a file larger
     * than a model of that size can be before downloading it; otherwise both wait for the
     * filter's first sync. Standalone mode takes them from its own plugin configuration.
     */
    hashBits: number;
  };
  budget: {
    source: "memory" | "redis";
    redisUrl: string;
    keyPrefix: string;
    /** Seconds of pacing-target spend a pod may hold beyond what it spent. */
    leaseSeconds: number;
    /** Smallest slice granted (micros). */
    minSliceMicros: number;
    /** The pacing target spreads the daily budget (the total when no daily) over this many seconds: the lease refill rate. */
    pacingSeconds: number;
    /** This pod's id in the shared budget store (Redis); empty: "<hostname>-<pid>". Set it to the pod name in Kubernetes. */
    podId: string;
    /** Redis command timeout (ms): a slower answer is a failed lease (no new money, the pod keeps what it holds). */
    redisTimeoutMs: number;
    /**
     * Redis command timeout of replay claims (ms), on their own connection: the filter waits only
     * a few ms for a claim (replay_claim_timeout_ms), so a claim Redis has not answered by then is
     * useless, and waiting the lease timeout for it would only pile requests up at the host.
     */
    replayRedisTimeoutMs: number;
    /** After Redis lost its data, no new slices for this long (ms) while the pods re-register what they hold. */
    recoveryHoldMs: number;
    /**
     * A graceful stop waits at most this long (ms) for the filter's syncs to carry its unspent
     * grants back to a shared store (SyncService.returnUnspent): two syncs of the filter and their
     * round trips. Standalone mode waits no longer than what is left of the drain budget.
     */
    returnWaitMs: number;
    /**
     * With budget.source memory: a file that keeps what each campaign was granted and charged
     * across restarts (control/budget-state-file.ts), so that a restart does not start the total
     * and daily caps from zero. Empty: none (the demo's default; the host warns at start).
     */
    stateFile: string;
    /**
     * With budget.stateFile: how long a start waits (ms) for another process that holds the
     * file's lock (`<stateFile>.lock`, control/state-file-lock.ts) to stop, before it fails.
     */
    stateLockWaitMs: number;
    /**
     * With budget.source redis: where the other pods reach this pod's bid listener (Envoy's, in
     * sidecar mode), e.g. http://10.1.2.3:8080, so that a notice for one of its bids that landed
     * on another pod is forwarded here (control/notice-forward.ts, SECURITY.md G12). Empty: this
     * pod forwards notices to the others but gets none.
     */
    noticeForwardUrl: string;
    /**
     * With budget.source redis: how long after the start /readyz waits for the filter to catch up
     * with the other pods' counted wins of frequency-capped campaigns (ms; 0: it does not wait).
     */
    frequencyReadyWaitMs: number;
  };
  /** The graceful stop (SIGTERM; docs/OPERATIONS.md "Stopping"): standalone mode's, and noticeMs for a sidecar's too. */
  drain: {
    /**
     * The whole stop at most (ms): the notice window, the requests in flight, then the return of
     * the unspent grants (budget.returnWaitMs). Requests still unanswered then are cut.
     */
    totalMs: number;
    /**
     * How long (ms) the bid listener stays open for win/loss notices after the stop began (bids
     * are refused from the start): exchanges send the notices of this process's bids seconds
     * after them, and only this process's ledger can charge them. It ends earlier once the
     * filter holds no reservation; at most totalMs less budget.returnWaitMs. Sidecar: how long
     * the host still takes the filter's reports after returning the unspent budget (Envoy still
     * charges notices, and only those reports bring the charges to the budget store).
     */
    noticeMs: number;
  };
  adminToken: string;
  /**
   * Bearer token the filter must send on every call to the host's /nexus/v1/* endpoints (sync,
   * config, model, replay claims); the filter gets it through its plugin configuration
   * (sync_token or sync_token_env). Required in sidecar mode; standalone mode makes a random
   * one per process when it is empty (the host configures its own filter VMs).
   */
  syncToken: string;
  logLevel: string;
}

/**
 * The default plugin's exchange rates: demo values quoted in USD, the filter's default account
 * currency. validate() refuses them with another `plugin.currency` (they would be read as rates to
 * it: a 10 CNY floor taken for 1.4 JPY, every bid under the real floor).
 */
const DEMO_FX_RATES: Readonly<Record<string, number>> = Object.freeze({ CNY: 0.14, EUR: 1.08, GBP: 1.27 });

export function defaultConfig(): HostConfig {
  return {
    mode: "standalone",
    bid: { host: "127.0.0.1", port: 8080 },
    control: { host: "127.0.0.1", port: 9090 },
    vms: 2,
    vmMode: "inline",
    wasmPath: DEFAULT_WASM,
    // The demo model is trained on iPinYou logs (China time, CNY floors); the rates are demo
    // values. (Its floor_feature_currency: withDemoModelDefaults.)
    plugin: { utc_offset_minutes: 480, fx_rates: DEMO_FX_RATES },
    campaignsPath: join(DEMO_DIR, "campaigns.json"),
    ipRangesFiles: [],
    model: {
      store: DEMO_DIR,
      file: "demo.nxm",
      publicKey: join(DEMO_DIR, "demo-public.pem"),
      allowUnsigned: false,
      pollMs: 5000,
      s3Endpoint: "",
      hashBits: 0,
    },
    budget: {
      source: "memory",
      redisUrl: "redis://127.0.0.1:6379",
      keyPrefix: "nexus",
      leaseSeconds: 60,
      minSliceMicros: 100_000,
      pacingSeconds: 86_400,
      podId: "",
      redisTimeoutMs: 200,
      replayRedisTimeoutMs: 20,
      recoveryHoldMs: 5000,
      returnWaitMs: 3000,
      stateFile: "",
      stateLockWaitMs: 30_000,
      noticeForwardUrl: "",
      frequencyReadyWaitMs: 60_000,
    },
    // 30 s is Kubernetes' default grace period: 15 s of drain leave room for a preStop sleep.
    // 10 s of notices cover an exchange's win notice (sent within a second or two of the
    // auction), a display ad's billing notice (at render) and a first retry of either.
    drain: { totalMs: 15_000, noticeMs: 10_000 },
    adminToken: "",
    syncToken: "",
    logLevel: "info",
  };
}

type Env = Record<string, string | undefined>;

/** Loads defaults ← file ← environment and validates. */
export function loadConfig(opts: { file?: string; env?: Env; overrides?: Partial<HostConfig> } = {}): HostConfig {
  const env = opts.env ?? process.env;
  const cfg = defaultConfig();
  const file = opts.file ?? env.NEXUS_CONFIG;
  if (file) mergeFile(cfg, file);
  applyEnv(cfg, env);
  if (opts.overrides) Object.assign(cfg, opts.overrides);
  withDemoModelDefaults(cfg);
  validate(cfg);
  return cfg;
}

/** The bundled demo model's floor currency: it learned its floor= feature from iPinYou's CNY slotprice. */
export const DEMO_FLOOR_FEATURE_CURRENCY = "CNY";

/**
 * Standalone on the bundled demo model (npm start): floors in other currencies are converted into
 * CNY for its floor= feature (plugin floor_feature_currency), when the rates allow it and the
 * configuration does not say otherwise. Another model keeps the filter's default (floors as
 * sent): a model trained on USD floors must not have them converted into CNY.
 */
function withDemoModelDefaults(cfg: HostConfig): void {
  const demoModel = cfg.model.store === DEMO_DIR && cfg.model.file === "demo.nxm";
  if (cfg.mode !== "standalone" || !demoModel || !isPlainObject(cfg.plugin) || "floor_feature_currency" in cfg.plugin) return;
  if (accountCurrency(cfg) === DEMO_FLOOR_FEATURE_CURRENCY || hasRate(cfg, DEMO_FLOOR_FEATURE_CURRENCY)) {
    cfg.plugin = { ...cfg.plugin, floor_feature_currency: DEMO_FLOOR_FEATURE_CURRENCY };
  }
}

function mergeFile(cfg: HostConfig, file: string): void {
  let raw: unknown;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${file}: ${(err as Error).message}`);
  }
  const repeated = firstDuplicateKey(text);
  if (repeated !== undefined) throw new ConfigError(`config file ${file}: ${repeated}: repeated key (which one was meant?)`);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(`config file ${file}: expected a JSON object`);
  const base = resolve(file, "..");
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!(key in cfg)) throw new ConfigError(`config file ${file}: unknown key "${key}"`);
    const current = (cfg as unknown as Record<string, unknown>)[key];
    if (key === "plugin" && isPlainObject(value)) {
      cfg.plugin = { ...cfg.plugin, ...value }; // the file's plugin fields override the defaults one by one
    } else if (isPlainObject(current)) {
      if (!isPlainObject(value)) throw new ConfigError(`${key}: expected an object`);
      for (const [k, v] of Object.entries(value)) {
        if (!(k in current)) throw new ConfigError(`${key}.${k}: unknown key`);
        expectSameType(`${key}.${k}`, (current as Record<string, unknown>)[k], v);
        (current as Record<string, unknown>)[k] = v;
      }
    } else {
      expectSameType(key, current, value);
      (cfg as unknown as Record<string, unknown>)[key] = value;
    }
  }
  // Paths in a config file are relative to the file.
  for (const p of ["wasmPath", "campaignsPath"] as const) {
    if (typeof cfg[p] === "string" && !isAbsolute(cfg[p])) cfg[p] = resolve(base, cfg[p]);
  }
  if (Array.isArray(cfg.ipRangesFiles)) cfg.ipRangesFiles = cfg.ipRangesFiles.map((f) => (typeof f === "string" && !isAbsolute(f) ? resolve(base, f) : f));
  if (typeof cfg.model.store === "string") cfg.model.store = storeLocation(cfg.model.store, (v) => resolve(base, v));
  // Trailing slashes dropped as from NEXUS_NOTICE_FORWARD_URL: the two layers take the same values.
  if (typeof cfg.budget.noticeForwardUrl === "string") cfg.budget.noticeForwardUrl = cfg.budget.noticeForwardUrl.replace(/\/+$/, "");
  if (cfg.budget.stateFile !== "" && !isAbsolute(cfg.budget.stateFile)) cfg.budget.stateFile = resolve(base, cfg.budget.stateFile);
  const keyPath = publicKeyPath(cfg.model.publicKey, base);
  if (keyPath !== undefined) cfg.model.publicKey = keyPath;
}

/**
 * A config file value must have the type of the setting's default: the string "false" for a
 * boolean would be truthy (model.allowUnsigned: unsigned models accepted), a number for a token
 * would reach the hash functions. JSON's 1e999 parses as Infinity: not a setting either.
 */
function expectSameType(name: string, current: unknown, value: unknown): void {
  if (current === undefined || current === null) return;
  if (typeof value !== typeof current) throw new ConfigError(`${name}: expected a ${typeof current}, got ${JSON.stringify(value)}`);
  if (typeof value === "number" && !Number.isFinite(value)) throw new ConfigError(`${name}: expected a finite number`);
}

/** The plugin's fx_rates give `code` a rate. */
function hasRate(cfg: HostConfig, code: string): boolean {
  const rates = cfg.plugin.fx_rates;
  return isPlainObject(rates) && code in rates;
}

/** The filter's account currency in this host's plugin configuration (the filter's default: USD). */
export function accountCurrency(cfg: HostConfig): string {
  const currency = cfg.plugin.currency;
  return typeof currency === "string" ? currency : "USD";
}

/**
 * The filter's utc_offset_minutes from the plugin configuration (0 when unset): the host's budget
 * day must be the filter's, since the filter's ledger counts its daily spend per local day.
 */
export function pluginUtcOffset(cfg: HostConfig): number {
  const offset = cfg.plugin.utc_offset_minutes;
  return typeof offset === "number" && Number.isFinite(offset) ? offset : 0;
}

/** The plugin's spend plan for the lease refill of each campaign (control/pace-plan.ts). */
export function pacePlanOf(cfg: HostConfig): PacePlan {
  return { weights: planWeights(cfg.plugin), utcOffsetMinutes: pluginUtcOffset(cfg) };
}

/**
 * The budget sources' slice policy. The lease refill (the fleet's grant rate) runs at the plan's
 * peak pace: the daily budget over pacingSeconds, times planPeakFactor. At the flat pace, a
 * traffic-shaped plan could never be followed in its busy hours (and what its quiet hours left
 * unspent was lost): one Redis-leased pod spent 76% of its daily budget on the iPinYou day. The
 * filter's PID paces the spend along the plan; the refill only bounds it.
 */
export function leasePolicy(cfg: HostConfig): { leaseSeconds: number; minSliceMicros: number; pacingSeconds: number } {
  return { leaseSeconds: cfg.budget.leaseSeconds, minSliceMicros: cfg.budget.minSliceMicros, pacingSeconds: cfg.budget.pacingSeconds / planPeakFactor(cfg.plugin) };
}

/**
 * Base64 (standard or url-safe) of raw 32-byte Ed25519 keys, 43 characters each, padded or not:
 * one key, or several one per line (a key rotation, docs/OPERATIONS.md).
 */
const RAW_KEYS_BASE64 = /^\s*[A-Za-z0-9+/_-]{43}=?(\s*[\r\n]\s*[A-Za-z0-9+/_-]{43}=?)*\s*$/;

/**
 * The file a model.publicKey value names, resolved against `base`, or undefined when the value is
 * the key itself: PEM text, or bare base64 of raw keys. A file name is the name of an existing
 * file, or a value with a "/" that is not a raw key in base64 (whose alphabet has "/": half of
 * keygen's keys have one).
 */
export function publicKeyPath(value: string, base: string): string | undefined {
  if (value === "" || value.includes("BEGIN")) return undefined;
  const path = resolve(base, value);
  if (existsSync(path)) return path;
  return value.includes("/") && !RAW_KEYS_BASE64.test(value) ? path : undefined;
}

function applyEnv(cfg: HostConfig, env: Env): void {
  const str = (name: string, set: (v: string) => void) => {
    const v = env[name];
    if (v !== undefined && v !== "") set(v);
  };
  const num = (name: string, set: (v: number) => void) => str(name, (v) => {
    // Decimal only: Number(" ") is 0 (a port of " " would silently be a random one), and
    // Number("0x1F90") is 8080.
    const n = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isFinite(n)) throw new ConfigError(`${name}: expected a number, got "${v}"`);
    set(n);
  });
  const bool = (name: string, set: (v: boolean) => void) => str(name, (v) => {
    // Anything else is refused, not read as false: "yes" meant true to whoever wrote it.
    if (v === "1" || v === "true") set(true);
    else if (v === "0" || v === "false") set(false);
    else throw new ConfigError(`${name}: expected 1, true, 0 or false, got "${v}"`);
  });
  str("NEXUS_MODE", (v) => (cfg.mode = v as HostConfig["mode"]));
  str("NEXUS_BID_HOST", (v) => (cfg.bid.host = v));
  num("NEXUS_BID_PORT", (v) => (cfg.bid.port = v));
  str("NEXUS_CONTROL_HOST", (v) => (cfg.control.host = v));
  num("NEXUS_CONTROL_PORT", (v) => (cfg.control.port = v));
  num("NEXUS_VMS", (v) => (cfg.vms = v));
  str("NEXUS_VM_MODE", (v) => (cfg.vmMode = v as HostConfig["vmMode"]));
  str("NEXUS_WASM", (v) => (cfg.wasmPath = resolve(v)));
  str("NEXUS_CAMPAIGNS", (v) => (cfg.campaignsPath = resolve(v)));
  str("NEXUS_IP_RANGES_FILES", (v) => (cfg.ipRangesFiles = v.split(",").map((f) => f.trim()).filter((f) => f !== "").map((f) => resolve(f))));
  str("NEXUS_MODEL_STORE", (v) => (cfg.model.store = storeLocation(v, (d) => resolve(d))));
  str("NEXUS_MODEL_FILE", (v) => (cfg.model.file = v));
  str("NEXUS_MODEL_PUBLIC_KEY", (v) => (cfg.model.publicKey = v));
  bool("NEXUS_MODEL_ALLOW_UNSIGNED", (v) => (cfg.model.allowUnsigned = v));
  num("NEXUS_MODEL_POLL_MS", (v) => (cfg.model.pollMs = v));
  num("NEXUS_MODEL_HASH_BITS", (v) => (cfg.model.hashBits = v));
  str("NEXUS_S3_ENDPOINT", (v) => (cfg.model.s3Endpoint = v));
  str("NEXUS_BUDGET_SOURCE", (v) => (cfg.budget.source = v as HostConfig["budget"]["source"]));
  str("NEXUS_REDIS_URL", (v) => (cfg.budget.redisUrl = v));
  str("NEXUS_REDIS_PREFIX", (v) => (cfg.budget.keyPrefix = v));
  num("NEXUS_BUDGET_LEASE_SECONDS", (v) => (cfg.budget.leaseSeconds = v));
  num("NEXUS_BUDGET_MIN_SLICE_MICROS", (v) => (cfg.budget.minSliceMicros = v));
  num("NEXUS_BUDGET_PACING_SECONDS", (v) => (cfg.budget.pacingSeconds = v));
  str("NEXUS_POD_ID", (v) => (cfg.budget.podId = v));
  num("NEXUS_REDIS_TIMEOUT_MS", (v) => (cfg.budget.redisTimeoutMs = v));
  num("NEXUS_REPLAY_REDIS_TIMEOUT_MS", (v) => (cfg.budget.replayRedisTimeoutMs = v));
  num("NEXUS_BUDGET_RECOVERY_HOLD_MS", (v) => (cfg.budget.recoveryHoldMs = v));
  num("NEXUS_BUDGET_RETURN_WAIT_MS", (v) => (cfg.budget.returnWaitMs = v));
  str("NEXUS_BUDGET_STATE_FILE", (v) => (cfg.budget.stateFile = resolve(v)));
  num("NEXUS_BUDGET_STATE_LOCK_WAIT_MS", (v) => (cfg.budget.stateLockWaitMs = v));
  str("NEXUS_NOTICE_FORWARD_URL", (v) => (cfg.budget.noticeForwardUrl = v.replace(/\/+$/, "")));
  num("NEXUS_FREQUENCY_READY_WAIT_MS", (v) => (cfg.budget.frequencyReadyWaitMs = v));
  num("NEXUS_DRAIN_MS", (v) => (cfg.drain.totalMs = v));
  num("NEXUS_NOTICE_DRAIN_MS", (v) => (cfg.drain.noticeMs = v));
  str("NEXUS_ADMIN_TOKEN", (v) => (cfg.adminToken = v));
  str("NEXUS_SYNC_TOKEN", (v) => (cfg.syncToken = v));
  str("NEXUS_LOG_LEVEL", (v) => (cfg.logLevel = v));
  str("NEXUS_PLUGIN_CONFIG", (v) => {
    try {
      const parsed: unknown = JSON.parse(v);
      if (!isPlainObject(parsed)) throw new Error("expected a JSON object");
      // As in a config file: JSON.parse keeps the last of a repeated key, and the filter (which
      // refuses repeats) would only see that copy.
      const repeated = firstDuplicateKey(v);
      if (repeated !== undefined) throw new Error(`${repeated}: repeated key (which one was meant?)`);
      cfg.plugin = { ...cfg.plugin, ...parsed };
    } catch (err) {
      throw new ConfigError(`NEXUS_PLUGIN_CONFIG: ${(err as Error).message}`);
    }
  });
}

/**
 * A model store location: s3://bucket/prefix (the scheme in any case), or a directory (made
 * absolute by `dir`). Another scheme is refused here: read as a directory, it would fail only
 * later and as a missing bucket or directory.
 */
function storeLocation(v: string, dir: (v: string) => string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(v);
  if (scheme === null) return isAbsolute(v) ? v : dir(v);
  if (scheme[1]!.toLowerCase() === "s3") return "s3://" + v.slice(scheme[0].length);
  throw new ConfigError(`model.store: ${JSON.stringify(v)}: expected a directory or s3://bucket/prefix`);
}

function validate(cfg: HostConfig): void {
  const oneOf = (name: string, v: string, allowed: string[]) => {
    if (!allowed.includes(v)) throw new ConfigError(`${name}: expected one of ${allowed.join(", ")}, got "${v}"`);
  };
  const port = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 0 || v > 65535) throw new ConfigError(`${name}: expected a port 0-65535, got ${v}`);
  };
  oneOf("mode", cfg.mode, ["standalone", "sidecar"]);
  oneOf("vmMode", cfg.vmMode, ["inline", "workers"]);
  oneOf("budget.source", cfg.budget.source, ["memory", "redis"]);
  port("bid.port", cfg.bid.port);
  port("control.port", cfg.control.port);
  if (!Number.isInteger(cfg.vms) || cfg.vms < 1 || cfg.vms > 64) throw new ConfigError(`vms: expected 1-64, got ${cfg.vms}`);
  // Node's timers take at most 2^31 - 1 ms; above, they fire after 1 ms (the store polled in a loop).
  const timer = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min || v > MAX_TIMER_MS) throw new ConfigError(`${name}: expected an integer ${min}-${MAX_TIMER_MS} (ms), got ${v}`);
  };
  timer("model.pollMs", cfg.model.pollMs, 100);
  // The S3 client takes only an http(s) URL, and would say so at the first poll, not at the start.
  if (cfg.model.s3Endpoint !== "" && !/^https?:\/\/[^/\s]+/i.test(cfg.model.s3Endpoint)) {
    throw new ConfigError(`model.s3Endpoint: ${JSON.stringify(cfg.model.s3Endpoint)}: expected an http:// or https:// URL, e.g. http://minio:9000`);
  }
  const bits = cfg.model.hashBits;
  if (!Number.isInteger(bits) || (bits !== 0 && (bits < 10 || bits > 24))) throw new ConfigError(`model.hashBits: expected 0 (not given) or an integer 10-24 (the filter's hash_bits), got ${bits}`);
  if (!(cfg.budget.leaseSeconds > 0)) throw new ConfigError(`budget.leaseSeconds: expected > 0`);
  if (!Number.isSafeInteger(cfg.budget.minSliceMicros) || cfg.budget.minSliceMicros < 0) throw new ConfigError(`budget.minSliceMicros: expected a non-negative integer`);
  if (!(cfg.budget.pacingSeconds > 0)) throw new ConfigError(`budget.pacingSeconds: expected > 0`);
  timer("budget.redisTimeoutMs", cfg.budget.redisTimeoutMs, 1);
  timer("budget.replayRedisTimeoutMs", cfg.budget.replayRedisTimeoutMs, 1);
  timer("budget.recoveryHoldMs", cfg.budget.recoveryHoldMs, 0);
  timer("budget.returnWaitMs", cfg.budget.returnWaitMs, 0);
  timer("budget.stateLockWaitMs", cfg.budget.stateLockWaitMs, 0);
  timer("budget.frequencyReadyWaitMs", cfg.budget.frequencyReadyWaitMs, 0);
  timer("drain.totalMs", cfg.drain.totalMs, 0);
  timer("drain.noticeMs", cfg.drain.noticeMs, 0);
  if (cfg.budget.stateFile !== "" && cfg.budget.source !== "memory") {
    throw new ConfigError("budget.stateFile: only for budget.source memory (Redis keeps the budget itself)");
  }
  if (cfg.budget.stateFile !== "" && cfg.mode === "sidecar") {
    // Envoy's ledgers outlive a restart of the host, which would count what they hold twice.
    throw new ConfigError("budget.stateFile: standalone mode only (in sidecar mode use budget.source redis)");
  }
  if (cfg.budget.source === "redis" && !/^(rediss?:\/\/[^\s/]|\/\S)/.test(cfg.budget.redisUrl)) {
    // ioredis takes any string (a bare word is a host name) and retries it for ever: the host came
    // up ready with every bid a "budget" no-bid. (The value is not echoed: it may hold a password.)
    throw new ConfigError("budget.redisUrl: expected redis://[user:password@]host[:port][/db], rediss://... or a socket path");
  }
  if (cfg.budget.noticeForwardUrl !== "" && !isNoticeBaseUrl(cfg.budget.noticeForwardUrl)) {
    throw new ConfigError("budget.noticeForwardUrl: expected http://host:port or https://host:port (no path; an IPv6 address in brackets)");
  }
  if (cfg.budget.noticeForwardUrl !== "" && cfg.budget.source !== "redis") {
    throw new ConfigError("budget.noticeForwardUrl: only with budget.source redis (the pods find each other there)");
  }
  oneOf("logLevel", cfg.logLevel, ["trace", "debug", "info", "warn", "error", "fatal", "silent"]);
  if (!isPlainObject(cfg.plugin)) throw new ConfigError(`plugin: expected an object`);
  // The filter's own settings matter here in standalone mode only (sidecar: Envoy's plugin
  // configuration holds them, and the host reads a few fields of this one).
  if (cfg.mode === "standalone") validateFilterCurrencies(cfg);
  if (!Array.isArray(cfg.ipRangesFiles) || cfg.ipRangesFiles.some((f) => typeof f !== "string")) throw new ConfigError(`ipRangesFiles: expected a list of file paths`);
  if (cfg.adminToken && cfg.adminToken.length < 16) throw new ConfigError(`adminToken: use at least 16 characters`);
  // A token no Authorization header can carry would lock the admin API (the emergency pause) out:
  // a trailing newline from a secret file, or non-ASCII (headers arrive as latin1 bytes).
  if (cfg.adminToken && !ADMIN_TOKEN.test(cfg.adminToken)) {
    throw new ConfigError(`adminToken: use printable ASCII without spaces (no trailing newline from a secret file, no accented letters): no Authorization header could carry this one`);
  }
  if (typeof cfg.syncToken !== "string") throw new ConfigError(`syncToken: expected a string`);
  if (cfg.syncToken && !SYNC_TOKEN.test(cfg.syncToken)) {
    // It travels in an Authorization header and inside the filter's JSON plugin configuration.
    throw new ConfigError(`syncToken: use 16-512 characters of A-Z a-z 0-9 - . _ ~ + / (then = padding only)`);
  }
  if (cfg.mode === "sidecar" && !cfg.syncToken) {
    throw new ConfigError(`syncToken: required in sidecar mode (NEXUS_SYNC_TOKEN, the same secret the filter sends: plugin sync_token or sync_token_env)`);
  }
}

/**
 * Standalone: the currency settings of the filter this host runs. Refuses another account currency
 * with the default (USD) demo rates, which would be read as rates into it (a 10 CNY floor taken for
 * 1.4 JPY), and a floor_feature_currency without a rate (the filter would refuse it at start).
 */
function validateFilterCurrencies(cfg: HostConfig): void {
  const currency = accountCurrency(cfg);
  if (cfg.plugin.fx_rates === DEMO_FX_RATES && currency !== "USD") {
    throw new ConfigError(
      `plugin.currency ${JSON.stringify(currency)}: the default plugin.fx_rates are demo rates to USD; set plugin.fx_rates to rates into ${JSON.stringify(currency)} (1 unit of a floor's currency = how many ${JSON.stringify(currency)}), or {} to bid only on floors in ${JSON.stringify(currency)}`,
    );
  }
  const floorCurrency = cfg.plugin.floor_feature_currency;
  if (typeof floorCurrency === "string" && floorCurrency !== "" && floorCurrency !== currency && !hasRate(cfg, floorCurrency)) {
    throw new ConfigError(
      `plugin.floor_feature_currency ${JSON.stringify(floorCurrency)} (the currency the model learned floors in) has no rate in plugin.fx_rates: add one, or leave floor_feature_currency out (floors bucketed as sent: docs/FEATURES.md)`,
    );
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** An RFC 6750 token68 of 16 to 512 characters. */
export const SYNC_TOKEN = /^(?=.{16,512}$)[A-Za-z0-9\-._~+/]+=*$/;
/** What a bearer token in an HTTP header can be: visible ASCII, no spaces. */
const ADMIN_TOKEN = /^[\x21-\x7e]+$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export { PACKAGE_ROOT };
