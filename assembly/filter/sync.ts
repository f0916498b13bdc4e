// Control-plane sync, from the root context's tick. Every VM refreshes its
// campaigns, model and per-campaign state from shared data. The VM holding the
// leader lease (a shared-data key renewed with CAS) also calls the host through
// the configured cluster (proxy_http_call): it reports spend, applies the
// budget grants it gets back, fetches a new campaign set or model when the
// announced version changes (checking the model's SHA-256 against the
// announcement), and publishes them in shared data for every VM. It also
// sweeps expired reservations and runs the pacing controllers.
// Host unreachable: nothing changes; grants run out and bidding stops (safe).
// Clocks: calendar windows (budget day, pacing plan, soft-cap hour and minute) follow the wall
// clock `now`; intervals (sync period, leader lease, retry delay, PID step) run on the host's
// monotonic clock (`steady`, monotonic.ts), so a wall clock step does not stop syncing for its length.
import {
  Status, LogLevel, BufferType, HostBytes, CallToken, HeaderMapWriter,
  httpCall, getBufferBytes, log, recordMetric, collectAfterCallback, getMetric,
} from "../proxy-wasm";
import { ByteWriter } from "../core/bytes/writer";
import { Str } from "../core/bytes/str";
import { ConfigDoc } from "../core/config/config-doc";
import { CampaignConfigParser, CAMPAIGN_SCRATCH_BYTES } from "../core/bidding/campaign-config";
import { CampaignTable } from "../core/bidding/campaign";
import { sha256 } from "../core/hash/sha256";
import { MAX_FREQUENCY_WINDOW_S } from "../core/bidding/frequency";
import { parseFrequencyKey } from "./query";
import { FrequencyCursor } from "./frequency-fleet";
import { SpendPlan, } from "../core/pacing/spend-plan";
import { clamp } from "../core/pacing/pid";
import { dayNumber, msIntoDay, localMinutes } from "../core/features/time";
import { LedgerRecord } from "../core/ledger/ledger-record";
import { readShared, writeShared, shared } from "./shared";
import { calloutKey, calloutStatus } from "./callout-key";
import { randomNonce } from "./nonce";
import { monotonicMs, steadyMs } from "./monotonic";
import { leaseExpiry, leaseLive } from "./leader-lease";
import {
  KEY_LEADER, KEY_LEDGER_EPOCH, KEY_CONFIG, KEY_CONFIG_VERSION, KEY_MODEL_META, KEY_MODEL_BLOB, KEY_STATUS, LedgerKeyBuilder, VmStatusKey,
} from "./keys";
import { CampaignRuntime } from "./ledger";
import { loadPaceState, savePaceState } from "./pace-state";
import { metrics } from "./metrics";
import { MultiplierGauges } from "./multiplier-gauges";
import { NexusRoot } from "./root";

const MAX_VERSION: i32 = 64;
/** A model the leader refused (invalid for this filter, or not publishable) is not downloaded again for this long. */
const MODEL_REFUSAL_RETRY_MS: i64 = 60_000;
/** A campaign set the leader refused (another currency, too large for shared data) is not downloaded again for this long. */
const CONFIG_REFUSAL_RETRY_MS: i64 = 60_000;
const buf16 = memory.data(16);
/** Longest pacing step fed to the PID as such (see pace()). */
const MAX_PACE_STEP_MS: i64 = 60_000;
const statusBuf = memory.data(24);

/** Ring records one tick's sweep reads, unless one lap per TTL needs more (HostSync.sweep). */
const SWEEP_SLICE_MAX: i64 = 4096;

export class HostSync {
  readonly root: NexusRoot;
  private readonly hdrs: HeaderMapWriter = new HeaderMapWriter(8, 2048);
  /** A report: ~300 bytes a campaign, plus up to 1,024 frequency counts of ~50 bytes. */
  private readonly out: ByteWriter = new ByteWriter(192 * 1024);
  private readonly bytes: HostBytes = new HostBytes();
  private readonly token: CallToken = new CallToken();
  private readonly statusBytes: HostBytes = new HostBytes();
  /** This pod's position in the fleet's stream of counted wins (frequency-fleet.ts). */
  private readonly fleetCursor: FrequencyCursor = new FrequencyCursor();
  private readonly doc: ConfigDoc = new ConfigDoc(1 << 16);
  private readonly campaignParser: CampaignConfigParser = new CampaignConfigParser(CAMPAIGN_SCRATCH_BYTES);
  private readonly plan: SpendPlan = new SpendPlan();
  private readonly ledger: LedgerRecord = new LedgerRecord();
  private readonly keyBuilder: LedgerKeyBuilder = new LedgerKeyBuilder();
  private readonly vmStatusKey: VmStatusKey = new VmStatusKey();
  private readonly fleet: FleetFigures = new FleetFigures();

  // What this VM has loaded.
  private loadedConfigVersion: i64 = -1;
  private loadedModelMeta: ArrayBuffer = new ArrayBuffer(0);
  /** Version of the model this VM serves ("" none): reported in the sync. */
  private servingModelVersion: string = "";
  // Leader state.
  leader: bool = false;
  /** steadyMs() of the last sync sent; -1: none yet. */
  private lastSyncMs: i64 = -1;
  /** calloutKey() of the leader's calls in flight; 0: none. */
  private syncToken: u32 = 0;
  private configToken: u32 = 0;
  private modelToken: u32 = 0;
  private pendingConfigVersion: i64 = -1;
  // The last campaign set version the leader could not take, and until when it is not fetched
  // again (each sync would otherwise download, refuse, log and count it once more).
  private refusedConfigVersion: i64 = -1;
  /** On steadyMs(). */
  private refusedConfigUntilMs: i64 = 0;
  private pendingModelVersion: string = "";
  private readonly pendingModelSha: ArrayBuffer = new ArrayBuffer(32);
  // The last model the leader refused (version, digest) and until when it is not fetched again.
  private refusedModelVersion: string = "";
  private readonly refusedModelSha: ArrayBuffer = new ArrayBuffer(32);
  /** On steadyMs(). */
  private refusedUntilMs: i64 = 0;
  private sweepStart: u32 = 0;
  private readonly multiplierGauges: MultiplierGauges = new MultiplierGauges();

  constructor(root: NexusRoot) {
    this.root = root;
  }

  configure(): void {
    const w = this.root.config.hourlyWeights;
    if (w !== null) this.plan.setHourlyWeights(w);
    this.plan.finishEarlyMs = 0;
  }

  tick(now: i64): void {
    this.root.ledger.nowMs = now;
    if (this.root.ledger.deferred.count > 0) this.root.ledger.retryDeferred();
    this.refreshConfig();
    this.refreshModel();
    this.refreshCampaigns();
    this.publishVmStatus(now);
    const steady = steadyMs(now);
    const wasLeader = this.leader;
    if (this.tryLead(now)) {
      const due = this.lastSyncMs < 0 || steady - this.lastSyncMs >= <i64>this.root.config.syncPeriodMs;
      if (this.syncToken == 0 && due) this.sendSync(now, steady);
      this.sweep();
      this.pace(now, steady);
    } else if (wasLeader) {
      this.root.fleet.giveBack();
    }
  }

  // ---- every VM: pick up what the leader published --------------------------------

  private refreshConfig(): void {
    if (readShared(KEY_CONFIG_VERSION) != Status.OK || shared.len != 8) return;
    const version = load<i64>(shared.ptr);
    if (version == this.loadedConfigVersion) return;
    if (readShared(KEY_CONFIG) != Status.OK) return;
    const table = this.acceptedSet(shared.ptr, shared.len, "published campaigns rejected: ");
    if (table === null) {
      this.loadedConfigVersion = version; // do not retry the same bad version every tick
      return;
    }
    this.root.campaigns = table;
    collectAfterCallback(); // the previous campaign table becomes garbage
    this.root.ledger.bindCampaigns(table);
    this.loadedConfigVersion = version;
    metrics.inc(metrics.configLoads);
    recordMetric(metrics.configVersion, <u64>version);
    this.multiplierGauges.bind(table);
  }

  private refreshModel(): void {
    if (readShared(KEY_MODEL_META) != Status.OK) return;
    if (bytesMatch(this.loadedModelMeta, shared.ptr, shared.len)) return;
    const meta = new ArrayBuffer(shared.len);
    collectAfterCallback(); // the previous model and meta become garbage
    memory.copy(changetype<usize>(meta), shared.ptr, <usize>shared.len);
    const metaLen = meta.byteLength;
    if (readShared(KEY_MODEL_BLOB) != Status.OK || shared.len < 32 || metaLen < 33) return;
    const vlen = <i32>load<u8>(changetype<usize>(meta));
    // The blob starts with the digest the meta announces: a torn pair (new meta, old blob) waits a tick.
    if (1 + vlen + 32 > metaLen || memory.compare(shared.ptr, changetype<usize>(meta) + 1 + <usize>vlen, 32) != 0) return;
    const err = this.root.model.loadNxm(shared.ptr + 32, shared.len - 32);
    this.loadedModelMeta = meta;
    if (err != 0) {
      metrics.inc(metrics.modelLoadFailures);
      log(LogLevel.ERROR, "nexus: published model rejected, code " + err.toString());
      return;
    }
    this.servingModelVersion = String.UTF8.decodeUnsafe(changetype<usize>(meta) + 1, <usize>vlen);
    metrics.inc(metrics.modelLoads);
    recordMetric(metrics.modelLoaded, 1);
    // Which model: the first 6 bytes of its SHA-256 (after the version in the meta) as a
    // number, so a dashboard sees a switch and pods that disagree. Cold path (model change).
    const digest = changetype<usize>(meta) + 1 + <usize>vlen;
    let id: u64 = 0;
    for (let i = 0; i < 6; i++) id = (id << 8) | <u64>load<u8>(digest + <usize>i);
    recordMetric(metrics.modelDigest, id);
  }

  private refreshCampaigns(): void {
    const l = this.root.ledger;
    for (let i = 0; i < l.runtimes.length; i++) {
      const rt = unchecked(l.runtimes[i]);
      l.refresh(rt);
      if (readShared(rt.paceKey) == Status.OK && shared.len == 16) {
        const m = load<f64>(shared.ptr);
        if (isFinite(m) && m >= 0) rt.multiplier = m;
      }
    }
  }

  /**
   * Every VM says what it has loaded (the host's readiness waits for all of them). Stamped with
   * the wall clock: the host compares the stamp with its own wall clock (a stale one is a dead VM).
   */
  private publishVmStatus(now: i64): void {
    this.vmStatusKey.build(this.root.vmSeq);
    store<i64>(statusBuf, now);
    store<i64>(statusBuf, this.loadedConfigVersion, 8);
    store<u8>(statusBuf, this.root.model.loaded ? 1 : 0, 16);
    writeShared(this.vmStatusKey.key, statusBuf, 17, 0);
  }

  // ---- leadership -----------------------------------------------------------------

  private tryLead(now: i64): bool {
    const me = this.root.vmSeq;
    const lease = <i64>this.root.config.tickMs * 5;
    const mono = monotonicMs(); // the lease's clock (leader-lease.ts), -1: none
    const st = readShared(KEY_LEADER);
    if (st != Status.OK) {
      // Envoy's shared data writes a missing key whatever the cas, so two VMs that both found no
      // key would both "win" a cas-0 write and lead together. The key is made vacant first (no
      // owner, expired: the same bytes from any VM, so another VM doing the same a few µs later
      // rewrites the same vacancy) and taken with a real cas from the next tick on.
      store<u32>(buf16, 0);
      store<u32>(buf16, 0, 4);
      store<i64>(buf16, 0, 8);
      writeShared(KEY_LEADER, buf16, 16, 0);
      this.leader = false;
      return false;
    }
    const cas = shared.cas;
    let heldByMe = true;
    if (shared.len == 16) {
      const owner = load<u32>(shared.ptr);
      const expires = load<i64>(shared.ptr, 8);
      if (owner != me && leaseLive(expires, now, mono)) {
        this.leader = false;
        return false;
      }
      heldByMe = owner == me;
    }
    store<u32>(buf16, me);
    store<u32>(buf16, 0, 4);
    store<i64>(buf16, leaseExpiry(now, mono, lease), 8);
    const was = this.leader && heldByMe;
    this.leader = writeShared(KEY_LEADER, buf16, 16, cas) == Status.OK;
    if (this.leader && !was) {
      // Another VM may have led meanwhile: its pacing state, not this VM's old copy, is current.
      // That includes a leader that stalled past its lease and takes an expired key back from the
      // VM that led meanwhile: it never saw itself lose the lead, but the key names the other VM.
      const rts = this.root.ledger.runtimes;
      for (let i = 0; i < rts.length; i++) unchecked(rts[i]).paceStateLoaded = false;
    }
    return this.leader;
  }

  /** True when another VM holds the leader key (this VM's calls in flight are then stale). */
  private lostLeadership(): bool {
    return readShared(KEY_LEADER) == Status.OK && shared.len == 16 && load<u32>(shared.ptr) != this.root.vmSeq;
  }

  // ---- leader: talk to the host ----------------------------------------------------

  private call(method: string, path: string, bodyPtr: usize, bodyLen: i32): u32 {
    const cfg = this.root.config;
    const h = this.hdrs;
    h.reset();
    h.addAscii(":method", method);
    h.addAscii(":path", path);
    h.addAsciiKey(":authority", cfg.hostAuthority.ptr, cfg.hostAuthority.len);
    h.addAscii("content-type", "application/json");
    this.root.hostAuth.addTo(h);
    httpCall(cfg.hostCluster.ptr, cfg.hostCluster.len, h.ptr, h.len, bodyPtr, bodyLen, <u32>cfg.syncTimeoutMs, this.token);
    if (this.token.status != Status.OK) {
      metrics.inc(metrics.syncFailed);
      log(LogLevel.WARN, "nexus: proxy_http_call to " + cfg.hostCluster.toString() + " failed, status " + this.token.status.toString());
      return 0;
    }
    return calloutKey(this.token.token);
  }

  private sendSync(now: i64, steady: i64): void {
    this.lastSyncMs = steady;
    const w = this.out;
    w.reset();
    w.ascii("{\"vm\":");
    w.u64(this.root.vmSeq);
    w.ascii(",\"config_version\":");
    w.i64(this.loadedConfigVersion);
    w.ascii(",\"model_loaded\":");
    w.ascii(this.root.model.loaded ? "true" : "false");
    w.ascii(",\"hash_bits\":");
    w.i64(<i64>this.root.config.hashBits);
    // The host counts the budget day, hour and minute of its answer in this zone: they must be
    // the filter's (its daily spend, pacing and soft-cap windows), whatever the host is configured with.
    w.ascii(",\"utc_offset_minutes\":");
    w.i64(<i64>this.root.config.utcOffsetMinutes);
    w.ascii(",\"model_version\":\"");
    const mv = String.UTF8.encode(this.root.model.loaded ? this.servingModelVersion : "");
    w.jsonEscaped(changetype<usize>(mv), mv.byteLength);
    w.ascii("\"");
    // The tag in this process's notice URLs: the host lists it with its notice URL, so that other
    // pods' hosts send this pod's notices here alone (pod-tag.ts, notice-forward.ts).
    const tag = this.root.podTag.text;
    if (tag.len > 0) {
      w.ascii(",\"pod_tag\":\"");
      w.bytes(tag.ptr, tag.len);
      w.ascii("\"");
    }
    // Where this pod is in the fleet's stream of counted wins ("" none yet: a new pod).
    this.fleetCursor.writeReport(w);
    const epoch = this.ledgerEpoch();
    if (epoch != 0) {
      w.ascii(",\"ledger_epoch\":");
      w.u64(epoch);
    }
    // When the report is made, on the clock every VM of this ledger shares: a report that a stalled
    // leader sends after the next leader's is older, and the host ignores it instead of reading
    // its lower numbers as a ledger restart.
    const mono = monotonicMs();
    if (mono >= 0) {
      w.ascii(",\"report_ms\":");
      w.i64(mono);
    }
    // Reservations refunded at their TTL so far (the counter every VM adds to): their wins may still
    // come, so a host stopping keeps answering syncs for the notice window counted from the last
    // expiry, not only until nothing is reserved (host/src/server/notice-window.ts).
    w.ascii(",\"reservations_expired\":");
    w.u64(getMetric(metrics.expired));
    // The budget day of every daily_charged_micros below: a report made before midnight and
    // leased after the host's midnight is yesterday's spend, which the host must not count today.
    const today = dayNumber(now, this.root.config.utcOffsetMinutes);
    w.ascii(",\"day\":");
    w.i64(today);
    w.ascii(",\"campaigns\":[");
    const l = this.root.ledger;
    for (let i = 0; i < l.runtimes.length; i++) {
      const rt = unchecked(l.runtimes[i]);
      if (i > 0) w.byte(0x2c);
      const rec = this.ledger;
      if (readShared(rt.ledgerKey) == Status.OK) rec.read(shared.ptr, shared.len);
      else rec.clear();
      w.ascii("{\"id\":\"");
      w.jsonEscaped(rt.campaign.id.ptr, rt.campaign.id.len);
      w.ascii("\",\"granted_micros\":");
      w.i64(rec.granted);
      w.ascii(",\"charged_micros\":");
      w.i64(rec.charged);
      w.ascii(",\"reserved_micros\":");
      w.i64(rec.reserved);
      w.ascii(",\"daily_charged_micros\":");
      w.i64(rec.dailyChargedOn(today));
      w.ascii(",\"wins\":");
      w.i64(rec.wins);
      w.ascii(",\"late_wins\":");
      w.i64(rec.lateWins);
      w.ascii(",\"multiplier_ppm\":");
      w.i64(<i64>(rt.multiplier * 1e6));
      w.byte(0x7d);
    }
    w.ascii("]");
    // This pod's counted wins of capped campaigns, for the other pods (frequency-fleet.ts). They
    // never keep the report from going: without room for them it goes without, and they stay in
    // flight for the next one (the budget's figures must reach the host).
    const beforeCounts = w.len;
    const campaignsFit = !w.overflowed && beforeCounts < w.capacity;
    const fleet = this.root.fleet;
    fleet.take();
    fleet.writeReport(w);
    w.byte(0x7d);
    if (w.overflowed && campaignsFit) {
      w.len = beforeCounts;
      w.overflowed = false;
      w.byte(0x7d);
      log(LogLevel.WARN, "nexus: no room for the frequency counts in the sync report; sent without them");
    }
    if (w.overflowed) {
      metrics.inc(metrics.syncFailed);
      log(LogLevel.ERROR, "nexus: sync report larger than " + w.capacity.toString() + " bytes; not sent");
      return;
    }
    this.syncToken = this.call("POST", "/nexus/v1/sync", w.base, w.len);
  }

  /**
   * This store's ledger epoch (KEY_LEDGER_EPOCH), created on the first report. Only the leader
   * reports, and leadership is a CAS, so one VM creates it. 0: no random bytes from the host (the
   * report then has no epoch, and the host detects restarts by charged going backwards only).
   */
  private ledgerEpoch(): u32 {
    if (readShared(KEY_LEDGER_EPOCH) == Status.OK && shared.len == 4 && load<u32>(shared.ptr) != 0) return load<u32>(shared.ptr);
    let e: i64 = 0;
    for (let i = 0; i < 4 && e == 0; i++) e = randomNonce();
    if (e <= 0) return 0;
    store<u32>(buf16, <u32>e);
    return writeShared(KEY_LEDGER_EPOCH, buf16, 4, 0) == Status.OK ? <u32>e : 0;
  }

  onResponse(token: u32, numHeaders: u32, bodySize: usize, now: i64): void {
    const key = calloutKey(token);
    let which = 0;
    if (key == this.syncToken) which = 1;
    else if (key == this.configToken) which = 2;
    else if (key == this.modelToken) which = 3;
    if (which == 0) return;
    const steady = steadyMs(now);
    if (which == 1) this.syncToken = 0;
    else if (which == 2) this.configToken = 0;
    else this.modelToken = 0;

    if (numHeaders == 0 || calloutStatus(this.statusBytes) != 200) {
      metrics.inc(metrics.syncFailed);
      return;
    }
    if (this.lostLeadership()) {
      // Another VM leads now and may already have applied a newer answer: an older grant (or
      // model, or campaign set) applied after it would undo it until the next sync.
      metrics.inc(metrics.syncStale);
      return;
    }
    getBufferBytes(BufferType.HTTP_CALL_RESPONSE_BODY, 0, bodySize, this.bytes);
    const ptr = this.bytes.ok ? this.bytes.ptr : 0;
    const len = this.bytes.ok ? this.bytes.len : 0;
    if (which == 1) this.onSyncAnswer(ptr, len, steady, now);
    else if (which == 2) this.onConfig(ptr, len, steady);
    else this.onModel(ptr, len, steady);
    this.bytes.release();
  }

  private onSyncAnswer(ptr: usize, len: i32, steady: i64, now: i64): void {
    const d = this.doc;
    d.start(ptr, len);
    let configVersion: i64 = -1;
    // Hosts without fleet counts (memory budget: one pod) do not say: the counts are then delivered.
    let fleetAccepted = true;
    let modelVersion = "";
    let modelSha = "";
    if (d.beginObject()) {
      while (d.nextKey()) {
        if (d.keyIs("config_version")) configVersion = d.int(0, i64.MAX_VALUE);
        else if (d.keyIs("model")) {
          if (d.r.peekKind() == 6) d.skip(); // null: no model available
          else if (d.beginObject()) {
            while (d.nextKey()) {
              if (d.keyIs("version")) modelVersion = d.string();
              else if (d.keyIs("sha256")) modelSha = d.string();
              else d.skip();
              d.endMember();
            }
          }
        } else if (d.keyIs("grants")) this.applyGrants();
        else if (d.keyIs("frequency_accepted")) fleetAccepted = d.bool();
        else if (d.keyIs("frequency_cursor")) {
          const c = d.view();
          if (!d.failed && !this.fleetCursor.store(c.ptr, c.len)) log(LogLevel.WARN, "nexus: sync answer: frequency_cursor is not a stream id; position kept");
        } else if (d.keyIs("frequency_counts")) this.applyFleetCounts(now);
        else d.skip(); // newer hosts may send more
        d.endMember();
      }
    }
    if (d.failed || !d.finish()) {
      metrics.inc(metrics.syncFailed);
      log(LogLevel.WARN, "nexus: bad sync answer: " + d.message());
      return;
    }
    metrics.inc(metrics.syncOk);
    if (fleetAccepted) this.root.fleet.accepted();
    this.publishStatus();
    const configRefused = configVersion == this.refusedConfigVersion && steady < this.refusedConfigUntilMs;
    if (configVersion >= 0 && configVersion != this.publishedConfigVersion() && this.configToken == 0 && !configRefused) {
      this.pendingConfigVersion = configVersion;
      this.configToken = this.call("GET", "/nexus/v1/config?version=" + configVersion.toString(), 0, 0);
    }
    if (modelVersion.length > 0 && modelVersion.length <= MAX_VERSION && modelSha.length == 64 && this.modelToken == 0) {
      if (!this.publishedModelIs(modelVersion, modelSha) && hexTo(modelSha, changetype<usize>(this.pendingModelSha)) && !this.refused(modelVersion, steady)) {
        this.pendingModelVersion = modelVersion;
        this.modelToken = this.call("GET", "/nexus/v1/model?version=" + modelVersion, 0, 0);
      }
    }
  }

  private applyGrants(): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      let id = "";
      let granted: i64 = -1;
      const f = this.fleet;
      f.reset();
      if (d.beginObject()) {
        while (d.nextKey()) {
          if (d.keyIs("id")) id = d.string();
          else if (d.keyIs("granted_micros")) granted = d.int(0, i64.MAX_VALUE);
          else if (d.keyIs("day")) f.day = d.int(0, i64.MAX_VALUE);
          else if (d.keyIs("others_daily_charged_micros")) f.daily = d.int(0, i64.MAX_VALUE);
          else if (d.keyIs("hour")) f.hour = d.int(0, i64.MAX_VALUE);
          else if (d.keyIs("others_hourly_charged_micros")) f.hourly = d.int(0, i64.MAX_VALUE);
          else if (d.keyIs("minute")) f.minute = d.int(0, i64.MAX_VALUE);
          else if (d.keyIs("others_minute_charged_micros")) f.minutely = d.int(0, i64.MAX_VALUE);
          else d.skip();
          d.endMember();
        }
      }
      if (!d.failed && id.length > 0 && granted >= 0) {
        const b = String.UTF8.encode(id);
        const l = this.root.ledger;
        l.setGrantById(changetype<usize>(b), b.byteLength, granted);
        // Older hosts send no fleet figures: the pod then paces, and caps, its own spend alone.
        const rt = l.runtimeById(changetype<usize>(b), b.byteLength);
        if (rt !== null && f.any()) {
          loadPaceState(rt);
          f.applyTo(rt);
          savePaceState(rt);
        }
      }
      d.endMember();
      i++;
    }
  }

  /**
   * The other pods' counted wins, `[["<key hex>",<at ms>,<window s>],...]`: each one more count of
   * its key here, in the window it opened on its pod (FleetCounts.applyIncoming: the first 512
   * now, the rest at the next ticks). A count from a clock ahead of this one is taken as made now;
   * one whose window has ended, or with a malformed key, counts nothing.
   */
  private applyFleetCounts(now: i64): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    const fleet = this.root.fleet;
    let i = 0;
    while (d.nextElement(i)) {
      let key: u64 = 0;
      let at: i64 = -1;
      let windowS: i64 = 0;
      if (d.beginArray()) {
        let j = 0;
        while (d.nextElement(j)) {
          if (j == 0) key = parseFrequencyKey(d.view());
          else if (j == 1) at = d.int(0, i64.MAX_VALUE);
          else if (j == 2) windowS = d.int(1, MAX_FREQUENCY_WINDOW_S);
          else d.skip();
          d.endMember();
          j++;
        }
      }
      if (!d.failed && key != 0 && at >= 0 && windowS > 0) fleet.receive(key, at > now ? now : at, <u32>windowS);
      d.endMember();
      i++;
    }
    fleet.applyIncoming(this.root.frequency, now);
  }

  private publishedConfigVersion(): i64 {
    if (readShared(KEY_CONFIG_VERSION) != Status.OK || shared.len != 8) return -1;
    return load<i64>(shared.ptr);
  }

  private publishedModelIs(version: string, sha: string): bool {
    if (readShared(KEY_MODEL_META) != Status.OK || shared.len < 1) return false;
    const vlen = <i32>load<u8>(shared.ptr);
    if (shared.len < 1 + vlen + 32) return false;
    const v = String.UTF8.decodeUnsafe(shared.ptr + 1, <usize>vlen);
    const out = new ArrayBuffer(32);
    if (!hexTo(sha, changetype<usize>(out))) return false;
    return v == version && memory.compare(shared.ptr + 1 + <usize>vlen, changetype<usize>(out), 32) == 0;
  }

  private onConfig(ptr: usize, len: i32, steady: i64): void {
    collectAfterCallback(); // parsing and publishing a campaign set allocates
    const table = this.acceptedSet(ptr, len, "host sent invalid campaigns: ");
    if (table === null) {
      this.refuseConfig(steady);
      return;
    }
    // Data first, then the version that announces it: a version whose data could not be stored
    // (shared data full) would leave every VM on a campaign set it cannot read.
    if (writeShared(KEY_CONFIG, ptr, len, 0) != Status.OK) {
      metrics.inc(metrics.configLoadFailures);
      log(LogLevel.ERROR, "nexus: could not store campaign set version " + table.version.toString() + " in shared data (" + len.toString() + " bytes)");
      this.refuseConfig(steady);
      return;
    }
    store<i64>(buf16, table.version);
    writeShared(KEY_CONFIG_VERSION, buf16, 8, 0);
  }

  /** The announced campaign set version is not fetched again for CONFIG_REFUSAL_RETRY_MS. */
  private refuseConfig(steady: i64): void {
    this.refusedConfigVersion = this.pendingConfigVersion;
    this.refusedConfigUntilMs = steady + CONFIG_REFUSAL_RETRY_MS;
  }

  /** The campaign set in [ptr, ptr+len), or null, counted and logged (`what` + why), when this filter cannot run it. */
  private acceptedSet(ptr: usize, len: i32, what: string): CampaignTable | null {
    const table = this.campaignParser.parse(ptr, len);
    const account = this.root.config.currency;
    const refusal = table === null ? this.campaignParser.error : table.currencyRefusal(account.ptr, account.len);
    if (refusal.length == 0) return table;
    metrics.inc(metrics.configLoadFailures);
    log(LogLevel.ERROR, "nexus: " + what + refusal);
    return null;
  }

  /** True when the announced model (version, pendingModelSha) is the one refused less than MODEL_REFUSAL_RETRY_MS ago. */
  private refused(version: string, steady: i64): bool {
    return steady < this.refusedUntilMs && version == this.refusedModelVersion &&
      memory.compare(changetype<usize>(this.pendingModelSha), changetype<usize>(this.refusedModelSha), 32) == 0;
  }

  /** Remembers a refusal that would repeat: the same blob is not downloaded again on every sync. */
  private refuse(steady: i64): void {
    this.refusedModelVersion = this.pendingModelVersion;
    memory.copy(changetype<usize>(this.refusedModelSha), changetype<usize>(this.pendingModelSha), 32);
    this.refusedUntilMs = steady + MODEL_REFUSAL_RETRY_MS;
  }

  private onModel(ptr: usize, len: i32, steady: i64): void {
    collectAfterCallback(); // the published copy of a model is large garbage afterwards
    const digest = new ArrayBuffer(32);
    sha256(ptr, len, changetype<usize>(digest));
    if (memory.compare(changetype<usize>(digest), changetype<usize>(this.pendingModelSha), 32) != 0) {
      metrics.inc(metrics.modelLoadFailures);
      log(LogLevel.ERROR, "nexus: model " + this.pendingModelVersion + " digest mismatch: refused");
      return;
    }
    const err = this.root.model.validateNxm(ptr, len);
    if (err != 0) {
      metrics.inc(metrics.modelLoadFailures);
      log(LogLevel.ERROR, "nexus: model " + this.pendingModelVersion + " invalid (code " + err.toString() + "): refused");
      this.refuse(steady); // the same bytes would be refused again
      return;
    }
    const blob = new ArrayBuffer(32 + len);
    memory.copy(changetype<usize>(blob), changetype<usize>(digest), 32);
    memory.copy(changetype<usize>(blob) + 32, ptr, <usize>len);
    // The meta announces the blob: it is written only once the blob is in shared data (a blob
    // that does not fit would leave every VM waiting for it, and this leader believing it published).
    const st = writeShared(KEY_MODEL_BLOB, changetype<usize>(blob), blob.byteLength, 0);
    if (st != Status.OK) {
      metrics.inc(metrics.modelLoadFailures);
      log(LogLevel.ERROR, "nexus: model " + this.pendingModelVersion + " (" + blob.byteLength.toString() + " bytes) could not be written to shared data, status " + st.toString() + ": not published");
      this.refuse(steady);
      return;
    }
    const v = String.UTF8.encode(this.pendingModelVersion);
    const meta = new ArrayBuffer(1 + v.byteLength + 32 + 4);
    const mp = changetype<usize>(meta);
    store<u8>(mp, <u8>v.byteLength);
    memory.copy(mp + 1, changetype<usize>(v), <usize>v.byteLength);
    memory.copy(mp + 1 + <usize>v.byteLength, changetype<usize>(digest), 32);
    store<u32>(mp + 1 + <usize>v.byteLength + 32, <u32>len);
    writeShared(KEY_MODEL_META, mp, meta.byteLength, 0);
    log(LogLevel.INFO, "nexus: model " + this.pendingModelVersion + " published");
  }

  private publishStatus(): void {
    const w = this.out;
    w.reset();
    w.ascii("{\"leader_vm\":");
    w.u64(this.root.vmSeq);
    w.ascii(",\"config_version\":");
    w.i64(this.loadedConfigVersion);
    w.ascii(",\"model_loaded\":");
    w.ascii(this.root.model.loaded ? "true" : "false");
    w.ascii("}");
    writeShared(KEY_STATUS, w.base, w.len, 0);
  }

  // ---- leader: reservations and pacing ------------------------------------------------

  private sweep(): void {
    const l = this.root.ledger;
    // Aim at four laps of the ring per TTL, reading at most SWEEP_SLICE_MAX records a tick (the
    // leader's worker serves no request meanwhile) unless that would take more than one TTL per
    // lap: an expired reservation's money must come back within about two TTLs whatever the
    // ring's size (4M slots at 4096 a tick was a lap of 205 s at a 200 ms tick, TTL 120 s).
    const ticksPerTtl = <i64>(this.root.config.reservationTtlMs / this.root.config.tickMs);
    const perTtl = ticksPerTtl > 0 ? ticksPerTtl : 1;
    const oneLap = <i64>l.slots / perTtl + 1;
    let slice = <i64>l.slots * 4 / perTtl + 1;
    if (slice > SWEEP_SLICE_MAX) slice = oneLap > SWEEP_SLICE_MAX ? oneLap : SWEEP_SLICE_MAX;
    if (slice > <i64>l.slots) slice = <i64>l.slots;
    l.sweep(this.sweepStart, <u32>slice);
    this.sweepStart = <u32>((<u64>this.sweepStart + <u64>slice) % <u64>l.slots);
  }

  private pace(now: i64, steady: i64): void {
    const l = this.root.ledger;
    const cfg = this.root.config;
    const offset = cfg.utcOffsetMinutes;
    const today = dayNumber(now, offset);
    const minutes = localMinutes(now, offset);
    for (let i = 0; i < l.runtimes.length; i++) {
      const rt = unchecked(l.runtimes[i]);
      const c = rt.campaign;
      if (readShared(rt.ledgerKey) != Status.OK) continue;
      const rec = this.ledger;
      rec.read(shared.ptr, shared.len);
      loadPaceState(rt);
      // No daily budget, no PID: the neutral multiplier 1, still within the configured limits.
      let m: f64 = clamp(1.0, cfg.pacing.minMultiplier, cfg.pacing.maxMultiplier);
      if (c.dailyBudgetMicros > 0) {
        // The plan is the campaign's, for the whole fleet: this pod's spend today plus what the
        // host last said the other pods spent today (nothing known for another day).
        const spent = rec.dailyChargedOn(today) + (rt.othersDay == today ? rt.othersDailyCharged : 0);
        // Over the hours it can bid in, when dayparted (SpendPlan.fractionWithin).
        const target = <f64>c.dailyBudgetMicros * this.plan.fractionWithin(msIntoDay(now, offset), c.budgetHoursMask(offset));
        const error = (target - <f64>spent) / <f64>c.dailyBudgetMicros;
        // A step longer than a minute (state restored from long ago, a campaign that comes back)
        // counts as one tick: it must not wind the integral up to its limit at once. So does a
        // negative one: a lastPaceMs on the wall clock, saved by an older build (the PID step is
        // on the monotonic clock, which has another origin).
        const gap = steady - rt.lastPaceMs;
        const dt = rt.lastPaceMs > 0 && gap >= 0 && gap <= MAX_PACE_STEP_MS ? <f64>gap / 1000.0 : <f64>cfg.tickMs / 1000.0;
        m = rt.pid.update(error, dt, cfg.pacing);
      }
      rt.lastPaceMs = steady;
      m = this.applySoftCaps(rt, rec, minutes, m);
      savePaceState(rt);
      store<f64>(buf16, m);
      store<i64>(buf16, now, 8);
      writeShared(rt.paceKey, buf16, 16, 0);
      rt.multiplier = m;
      this.multiplierGauges.record(i, m);
    }
  }

  /**
   * Hourly and per-minute caps never block a reservation; reaching one drops the shading to its floor.
   * The windows only move forward, as the daily cap's day does (LedgerRecord.rollDay): a wall clock
   * that steps back keeps the current window and its spend. Restarting it would forget that spend
   * twice (back, then forward into the same hour) and bid at full price past the cap.
   */
  private applySoftCaps(rt: CampaignRuntime, rec: LedgerRecord, minutes: i64, m: f64): f64 {
    const c = rt.campaign;
    // Forward only, for a step back of up to an hour (NTP): the window keeps its spend. A clock
    // further back than that (a bogus forward step corrected) follows the clock again: the
    // windows must not stay frozen in the future, capping the campaign until the clock gets there.
    if (minutes / 60 > rt.hourNumber || minutes < (rt.hourNumber - 1) * 60) {
      rt.hourNumber = minutes / 60;
      rt.hourStartCharged = rec.charged;
    }
    if (minutes > rt.minuteNumber || minutes < rt.minuteNumber - 60) {
      rt.minuteNumber = minutes;
      rt.minuteStartCharged = rec.charged;
    }
    // The window's hour and minute, not the clock's (which may be behind them).
    const hour = rt.hourNumber;
    const minute = rt.minuteNumber;
    const floor = this.root.config.pacing.minMultiplier;
    // The caps are the campaign's: this pod's spend in the window plus the other pods' (last sync answer).
    const hourSpend = rec.charged - rt.hourStartCharged + (rt.othersHour == hour ? rt.othersHourlyCharged : 0);
    const minuteSpend = rec.charged - rt.minuteStartCharged + (rt.othersMinute == minute ? rt.othersMinuteCharged : 0);
    if (c.hourlyBudgetMicros > 0 && hourSpend >= c.hourlyBudgetMicros) return floor;
    if (c.minuteBudgetMicros > 0 && minuteSpend >= c.minuteBudgetMicros) return floor;
    return m;
  }
}

function bytesMatch(a: ArrayBuffer, ptr: usize, len: i32): bool {
  return a.byteLength == len && memory.compare(changetype<usize>(a), ptr, <usize>len) == 0;
}

function hexTo(hex: string, out: usize): bool {
  if (hex.length != 64) return false;
  for (let i = 0; i < 32; i++) {
    const hi = hexVal(hex.charCodeAt(i * 2));
    const lo = hexVal(hex.charCodeAt(i * 2 + 1));
    if (hi < 0 || lo < 0) return false;
    store<u8>(out + <usize>i, <u8>((hi << 4) | lo));
  }
  return true;
}

function hexVal(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** One grant's fleet figures from a sync answer (-1: not sent). */
class FleetFigures {
  day: i64 = -1;
  daily: i64 = -1;
  hour: i64 = -1;
  hourly: i64 = -1;
  minute: i64 = -1;
  minutely: i64 = -1;

  reset(): void {
    this.day = -1;
    this.daily = -1;
    this.hour = -1;
    this.hourly = -1;
    this.minute = -1;
    this.minutely = -1;
  }

  any(): bool {
    return (this.day >= 0 && this.daily >= 0) || (this.hour >= 0 && this.hourly >= 0) || (this.minute >= 0 && this.minutely >= 0);
  }

  applyTo(rt: CampaignRuntime): void {
    if (this.day >= 0 && this.daily >= 0) {
      rt.othersDay = this.day;
      rt.othersDailyCharged = this.daily;
    }
    if (this.hour >= 0 && this.hourly >= 0) {
      rt.othersHour = this.hour;
      rt.othersHourlyCharged = this.hourly;
    }
    if (this.minute >= 0 && this.minutely >= 0) {
      rt.othersMinute = this.minute;
      rt.othersMinuteCharged = this.minutely;
    }
  }
}
