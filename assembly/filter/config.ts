// The plugin configuration (Envoy's `configuration` of the Wasm filter, JSON),
// parsed once in on_configure into a typed object with defaults. Any error —
// wrong type, out of range, unknown key — fails the plugin start with a
// message naming the field. Documented field by field in docs/PLUGIN_CONFIG.md.
import { ConfigDoc } from "../core/config/config-doc";
import { JsonKind } from "../core/json/reader";
import { Str } from "../core/bytes/str";
import { OwnedBytes } from "../core/bidding/campaign";
import { CurrencyTable, isCurrencyCode } from "../core/bidding/currency";
import { PidGains } from "../core/pacing/pid";
import { InvalidTrafficRules } from "../core/traffic/invalid-traffic";
import { IpRangeSet, MAX_IP_RANGES } from "../core/traffic/ip-ranges";
import { MAX_UA_PATTERNS, UaPatternSet } from "../core/traffic/ua-patterns";

export class PluginConfig {
  bidPath: OwnedBytes = OwnedBytes.fromString("/openrtb2/bid");
  winPath: OwnedBytes = OwnedBytes.fromString("/openrtb2/win");
  lossPath: OwnedBytes = OwnedBytes.fromString("/openrtb2/loss");
  maxBodyBytes: i32 = 65536;
  decisionBudgetMs: i32 = 4;
  /** Share of the request's tmax the decision may use (the rest is network). */
  tmaxShare: f64 = 0.5;
  currency: OwnedBytes = OwnedBytes.fromString("USD");
  fx: CurrencyTable = new CurrencyTable();
  /** The currency the model learned its floor= feature in ("": floors bucketed as sent). */
  floorFeatureCurrency: OwnedBytes = OwnedBytes.fromString("");
  seat: OwnedBytes = OwnedBytes.fromString("nexus");
  /** Base of notice URLs; empty = "<scheme>://<:authority>" of each bid request. */
  noticeBaseUrl: OwnedBytes = OwnedBytes.fromString("");
  hashBits: i32 = 18;
  utcOffsetMinutes: i32 = 0;
  /** Our IAB Global Vendor List id: TCF consent must name it (0 = not set: purposes only). */
  gdprVendorId: i32 = 0;
  /** regs.coppa = 1: no bid (`coppa`) instead of a contextual bid. */
  coppaNoBid: bool = false;
  /** The general-invalid-traffic screen (`invalid_traffic`); null: the built-in defaults. */
  traffic: InvalidTrafficRules | null = null;
  /** Refuse (400) the type slips exchanges make instead of reading them as meant (core/openrtb/README.md "Type slips"). */
  strictTypes: bool = false;
  /** Envoy cluster of the control-plane host (proxy_http_call upstream). */
  hostCluster: OwnedBytes = OwnedBytes.fromString("nexus_host");
  hostAuthority: OwnedBytes = OwnedBytes.fromString("nexus-host");
  tickMs: i32 = 200;
  syncPeriodMs: i32 = 1000;
  syncTimeoutMs: i32 = 2000;
  reservationTtlMs: i32 = 120000;
  /** Longest hold an imp's exp may give a reservation (ms); 0: exp is not used (ledger.ts holdFor). */
  reservationExpMaxMs: i32 = 0;
  reservationSlots: i32 = 65536;
  /** Frequency caps: shared-data buckets of 16 per-user counts each (frequency-table.ts), made as wins are counted. */
  frequencyBuckets: i32 = 16384;
  casRetries: i32 = 32;
  pacing: PidGains = new PidGains();
  hourlyWeights: StaticArray<f64> | null = null;
  /** Replay guard: a request id seen within this many ms is a no-bid ("replay"); 0 = off. */
  replayTtlMs: i32 = 60000;
  /** Replay guard: shared-data buckets of 16 ids each (capacity of ids live within the TTL). */
  replayBuckets: i32 = 16384;
  /** Cross-pod replay claims through the host (replay-claim.ts); only while the local guard is on. */
  replayClaim: bool = false;
  /** Longest wait for a claim's answer (further capped by the request's time budget). */
  replayClaimTimeoutMs: i32 = 2;
  /** A claim that failed (no answer in time, host or Redis error): bid anyway (open) or not (closed). */
  replayClaimFailOpen: bool = true;
  /** Envoy cluster of the replay claims' proxy_http_call; unset = host_cluster (parse() fills it in). */
  replayCluster: OwnedBytes = OwnedBytes.fromString("nexus_host");
  /**
   * A notice for a bid this pod does not know goes to the host, which asks the other pods
   * (notice-forward.ts, SECURITY.md G12); off: such notices are answered 404 at once.
   */
  noticeForward: bool = true;
  /**
   * Longest wait for a forwarded notice's answer (the exchange waits that long); below the route's
   * request_timeout (envoy.yaml: 1 s), which stays armed while the notice is paused.
   */
  noticeForwardTimeoutMs: i32 = 800;
  /** Bearer token sent to the host on every call (sync, config, model, replay claims, notice forwards). */
  syncToken: OwnedBytes = OwnedBytes.fromString("");
  /** Name of a VM environment variable holding the token instead (Envoy: vm_config.environment_variables). */
  syncTokenEnv: OwnedBytes = OwnedBytes.fromString("");
  /** Test-only: a path that makes the VM trap (to test recovery). Empty = off. */
  trapPath: OwnedBytes = OwnedBytes.fromString("");
}

export class PluginConfigParser {
  private readonly doc: ConfigDoc = new ConfigDoc(1 << 16);
  error: string = "";

  /** Parses; an empty configuration means all defaults. Returns null on error (see `error`). */
  parse(ptr: usize, len: i32): PluginConfig | null {
    const cfg = new PluginConfig();
    if (len == 0) return cfg;
    const d = this.doc;
    d.start(ptr, len);
    if (!d.beginObject()) return this.failed();
    let replayClusterSet = false;
    while (d.nextKey()) {
      if (d.keyIs("bid_path")) cfg.bidPath = this.path();
      else if (d.keyIs("win_path")) cfg.winPath = this.path();
      else if (d.keyIs("loss_path")) cfg.lossPath = this.path();
      else if (d.keyIs("max_body_bytes")) cfg.maxBodyBytes = <i32>d.int(1024, 1 << 20);
      else if (d.keyIs("decision_budget_ms")) cfg.decisionBudgetMs = <i32>d.int(1, 1000);
      else if (d.keyIs("tmax_share")) cfg.tmaxShare = d.number(0.01, 1.0);
      else if (d.keyIs("currency")) cfg.currency = this.currencyCode();
      else if (d.keyIs("fx_rates")) this.fxRates(cfg.fx);
      else if (d.keyIs("floor_feature_currency")) cfg.floorFeatureCurrency = this.currencyCode(true);
      else if (d.keyIs("seat")) cfg.seat = d.owned(64);
      else if (d.keyIs("notice_base_url")) cfg.noticeBaseUrl = this.noticeBaseUrl();
      else if (d.keyIs("hash_bits")) cfg.hashBits = <i32>d.int(10, 24);
      else if (d.keyIs("utc_offset_minutes")) cfg.utcOffsetMinutes = <i32>d.int(-14 * 60, 14 * 60);
      else if (d.keyIs("gdpr_vendor_id")) cfg.gdprVendorId = <i32>d.int(0, 65535);
      else if (d.keyIs("coppa_no_bid")) cfg.coppaNoBid = d.bool();
      else if (d.keyIs("strict_types")) cfg.strictTypes = d.bool();
      else if (d.keyIs("invalid_traffic")) cfg.traffic = this.invalidTraffic();
      else if (d.keyIs("host_cluster")) cfg.hostCluster = d.owned(128);
      else if (d.keyIs("host_authority")) cfg.hostAuthority = d.owned(256);
      else if (d.keyIs("tick_ms")) cfg.tickMs = <i32>d.int(10, 60000);
      else if (d.keyIs("sync_period_ms")) cfg.syncPeriodMs = <i32>d.int(50, 600000);
      else if (d.keyIs("sync_timeout_ms")) cfg.syncTimeoutMs = <i32>d.int(10, 60000);
      else if (d.keyIs("reservation_ttl_ms")) cfg.reservationTtlMs = <i32>d.int(1000, 86400000);
      else if (d.keyIs("reservation_exp_max_ms")) cfg.reservationExpMaxMs = <i32>d.int(0, 86400000);
      else if (d.keyIs("reservation_slots")) cfg.reservationSlots = <i32>d.int(64, 1 << 22);
      else if (d.keyIs("frequency_buckets")) cfg.frequencyBuckets = <i32>d.int(16, 1 << 16);
      else if (d.keyIs("cas_retries")) cfg.casRetries = <i32>d.int(1, 1000);
      else if (d.keyIs("pacing")) this.pacing(cfg);
      else if (d.keyIs("replay_ttl_ms")) cfg.replayTtlMs = <i32>d.int(0, 86400000);
      else if (d.keyIs("replay_buckets")) cfg.replayBuckets = <i32>d.int(16, 1 << 16);
      else if (d.keyIs("replay_claim")) cfg.replayClaim = d.bool();
      else if (d.keyIs("replay_claim_timeout_ms")) cfg.replayClaimTimeoutMs = <i32>d.int(1, 1000);
      else if (d.keyIs("replay_claim_failure")) cfg.replayClaimFailOpen = this.failMode();
      else if (d.keyIs("replay_cluster")) {
        cfg.replayCluster = this.clusterName();
        replayClusterSet = true;
      }
      else if (d.keyIs("notice_forward")) cfg.noticeForward = d.bool();
      else if (d.keyIs("notice_forward_timeout_ms")) cfg.noticeForwardTimeoutMs = <i32>d.int(1, 10000);
      else if (d.keyIs("sync_token")) cfg.syncToken = this.token();
      else if (d.keyIs("sync_token_env")) cfg.syncTokenEnv = this.envName();
      else if (d.keyIs("test_trap_path")) cfg.trapPath = this.path(true);
      else d.unknownKey();
      d.endMember();
    }
    if (!d.finish()) return this.failed();
    if (!replayClusterSet) cfg.replayCluster = cfg.hostCluster; // default: the host's cluster
    if (cfg.syncToken.len > 0 && cfg.syncTokenEnv.len > 0) {
      this.error = "sync_token and sync_token_env: set one, not both";
      return null;
    }
    const ffc = cfg.floorFeatureCurrency;
    if (ffc.len > 0 && cfg.fx.rateToAccount(viewOf(ffc, new Str()), viewOf(cfg.currency, new Str())) <= 0) {
      // Without a rate no floor could be converted into it: every floor= feature would be the
      // one sent, which is what the setting is there to avoid.
      this.error = "floor_feature_currency " + ffc.toString() + ": fx_rates has no rate for it";
      return null;
    }
    const own = cfg.fx.rateOf(cfg.currency.ptr, cfg.currency.len);
    if (own != 0 && own != 1) {
      // Its rate is 1 by definition (a table that lists its base at 1 is fine); another value
      // was meant for another account currency (a table quoted into it), and was ignored.
      this.error = "fx_rates." + cfg.currency.toString() + ": the account currency (currency) is 1, not " + own.toString();
      return null;
    }
    // All three: with win_path == loss_path every loss notice would be charged as a win (the
    // stream tests for a win first).
    const bid = cfg.bidPath.toString();
    const win = cfg.winPath.toString();
    if (bid == win || bid == cfg.lossPath.toString() || win == cfg.lossPath.toString()) {
      this.error = "bid_path, win_path and loss_path must differ";
      return null;
    }
    return cfg;
  }

  /**
   * `{"user_agents": [...], "user_agent_exceptions": [...], "ip_ranges": [...]}`: each list given
   * replaces its default (built-in tokens and exceptions; no IP ranges); `[]` empties it.
   */
  private invalidTraffic(): InvalidTrafficRules {
    const d = this.doc;
    const r = new InvalidTrafficRules();
    let tokensGiven = false;
    let exceptionsGiven = false;
    if (!d.beginObject()) return r;
    while (d.nextKey()) {
      if (d.keyIs("user_agents")) {
        this.uaPatterns(r.botTokens);
        tokensGiven = true;
      } else if (d.keyIs("user_agent_exceptions")) {
        this.uaPatterns(r.botExceptions);
        exceptionsGiven = true;
      } else if (d.keyIs("ip_ranges")) this.ipRanges(r.ipRanges);
      else d.unknownKey();
      d.endMember();
    }
    if (!tokensGiven) r.addDefaultTokens();
    if (!exceptionsGiven) r.addDefaultExceptions();
    r.build();
    return r;
  }

  private uaPatterns(set: UaPatternSet): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      if (set.size >= MAX_UA_PATTERNS) d.fail("more than " + MAX_UA_PATTERNS.toString() + " patterns");
      const p = d.string();
      if (!d.failed) {
        const error = set.add(p);
        if (error.length > 0) d.fail(error);
      }
      d.endMember();
      i++;
    }
  }

  private ipRanges(set: IpRangeSet): void {
    const d = this.doc;
    if (d.r.peekKind() == JsonKind.ARRAY) set.reserveFor(d.r.pos, d.r.end);
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      if (set.added >= MAX_IP_RANGES) d.fail("more than " + MAX_IP_RANGES.toString() + " ranges");
      // A view of the text, not a string: nothing per block but its words in the set.
      const cidr = d.view();
      if (!d.failed) {
        const error = set.addBytes(cidr.ptr, cidr.len);
        if (error.length > 0) d.fail(error);
      }
      d.endMember();
      i++;
    }
  }

  private failed(): PluginConfig | null {
    this.error = this.doc.message();
    return null;
  }

  /** A path; with `orEmpty`, "" is unset (the documented default written out). */
  private path(orEmpty: bool = false): OwnedBytes {
    const p = this.doc.owned(256);
    if (!this.doc.failed && !(orEmpty && p.len == 0) && (p.len == 0 || load<u8>(p.ptr) != 0x2f)) this.doc.fail("must start with '/'");
    return p;
  }

  /**
   * `http(s)://host[:port]` (a path too, for a proxy in front that strips it), without the
   * trailing slashes: notice URLs are this + `win_path`, which starts with '/', and a doubled
   * slash is another path to the standalone server (every win a 404, never charged).
   */
  private noticeBaseUrl(): OwnedBytes {
    const u = this.doc.owned(256);
    if (this.doc.failed || u.len == 0) return u;
    const s = u.toString();
    const lower = s.toLowerCase();
    const schemeEnd = lower.startsWith("https://") ? 8 : lower.startsWith("http://") ? 7 : 0;
    let end = s.length;
    while (end > schemeEnd && s.charCodeAt(end - 1) == 0x2f) end--;
    if (schemeEnd == 0 || end == schemeEnd) {
      this.doc.fail("expected http://host[:port] or https://host[:port] (or \"\": the bid request's authority)");
      return u;
    }
    return end == s.length ? u : OwnedBytes.fromString(s.substring(0, end));
  }

  /**
   * A bearer token: it goes into an Authorization header as is (RFC 6750 token68, 16-512 bytes);
   * "" is unset (the documented default written out, as templates with an empty value do).
   */
  private token(): OwnedBytes {
    const t = this.doc.owned(512);
    if (!this.doc.failed && t.len > 0 && !isToken68(t.ptr, t.len)) this.doc.fail("expected 16-512 characters of A-Z a-z 0-9 - . _ ~ + / (then = padding only)");
    return t;
  }

  private clusterName(): OwnedBytes {
    const n = this.doc.owned(128);
    if (!this.doc.failed && n.len == 0) this.doc.fail("expected the name of an Envoy cluster");
    return n;
  }

  /** An environment variable's name; "" is unset (the documented default). */
  private envName(): OwnedBytes {
    return this.doc.owned(128);
  }

  private failMode(): bool {
    const m = this.doc.string();
    if (this.doc.failed) return true;
    if (m == "open") return true;
    if (m != "closed") this.doc.fail("expected \"open\" or \"closed\"");
    return false;
  }

  /** `orEmpty`: "" is accepted too (a setting turned off). */
  private currencyCode(orEmpty: bool = false): OwnedBytes {
    const c = this.doc.owned(3);
    // Upper case, as OpenRTB sends them: a "usd" would never match a request's cur or bidfloorcur.
    if (!this.doc.failed && !(orEmpty && c.len == 0) && !isCurrencyCode(c.ptr, c.len)) this.doc.fail("expected a 3-letter ISO 4217 code");
    return c;
  }

  private fxRates(fx: CurrencyTable): void {
    const d = this.doc;
    if (!d.beginObject()) return;
    while (d.nextKey()) {
      const code = d.key.toString();
      if (!isCurrencyCode(d.key.ptr, d.key.len)) d.fail("expected a 3-letter ISO 4217 code");
      fx.set(code, d.number(1e-9, 1e9));
      d.endMember();
    }
  }

  private pacing(cfg: PluginConfig): void {
    const d = this.doc;
    const g = cfg.pacing;
    if (!d.beginObject()) return;
    while (d.nextKey()) {
      if (d.keyIs("kp")) g.kp = d.number(0, 1e6);
      else if (d.keyIs("ki")) g.ki = d.number(0, 1e6);
      else if (d.keyIs("kd")) g.kd = d.number(0, 1e6);
      else if (d.keyIs("min_multiplier")) g.minMultiplier = d.number(0, 10);
      else if (d.keyIs("max_multiplier")) g.maxMultiplier = d.number(0, 10);
      else if (d.keyIs("integral_limit")) g.integralLimit = d.number(0, 1e9);
      else if (d.keyIs("hourly_weights")) cfg.hourlyWeights = this.weights();
      else d.unknownKey();
      d.endMember();
    }
    if (!d.failed && g.minMultiplier > g.maxMultiplier) d.fail("min_multiplier above max_multiplier");
  }

  private weights(): StaticArray<f64> {
    const d = this.doc;
    const w = new StaticArray<f64>(24);
    if (!d.beginArray()) return w;
    let i = 0;
    while (d.nextElement(i)) {
      if (i < 24) w[i] = d.number(0, 1e12);
      else d.fail("expected 24 weights");
      d.endMember();
      i++;
    }
    if (!d.failed && i != 24) d.fail("expected 24 weights");
    // SpendPlan.setHourlyWeights refuses a plan without traffic (it would keep the flat plan unsaid).
    let total: f64 = 0;
    for (let h = 0; h < 24; h++) total += w[h];
    if (!d.failed && !(total > 0)) d.fail("hourly_weights: at least one weight must be above 0");
    return w;
  }
}

/** Fills a Str view of owned bytes (for APIs that take Str). */
export function viewOf(o: OwnedBytes, s: Str): Str {
  s.set(o.ptr, o.len);
  return s;
}

/** RFC 6750 token68 (A-Z a-z 0-9 - . _ ~ + /, then "=" padding), 16 to 512 bytes. */
export function isToken68(p: usize, n: i32): bool {
  if (n < 16 || n > 512) return false;
  let i = 0;
  for (; i < n; i++) {
    const c = load<u8>(p + <usize>i);
    const ok =
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c == 0x2d || c == 0x2e || c == 0x5f || c == 0x7e || c == 0x2b || c == 0x2f;
    if (!ok) break;
  }
  if (i == 0) return false;
  for (; i < n; i++) if (load<u8>(p + <usize>i) != 0x3d) return false;
  return true;
}
