// The Nexus root context: one per VM. It parses the plugin configuration once,
// owns every preallocated object of the bid path (parser, request, engine,
// reply buffers), answers bids and notices for its streams, and on each tick
// refreshes campaigns and model from shared data; the VM holding the leader
// lease also syncs with the host, sweeps expired reservations and paces.
import {
  RootContext, HttpContext, LogLevel, BufferType, HostBytes, Status,
  getBufferBytes, log, setTickPeriodMillis, currentTimeNanos, reserveHostCopyArena, recordMetric,
} from "../proxy-wasm";
import { Str } from "../core/bytes/str";
import { BidRequestParser } from "../core/openrtb/parse";
import { BidRequest } from "../core/openrtb/request";
import { LrModelPair } from "../core/model/lr-model";
import { CampaignTable } from "../core/bidding/campaign";
import { Decision, DecisionDeadline, DecisionEngine, DecisionSettings } from "../core/bidding/decision";
import { PersonalData } from "../core/privacy/personal-data";
import { NoBid } from "../core/bidding/reasons";
import { ParsedBidId, isTestBidId } from "../core/bidding/imp-bid";
import { writeBidResponse, ReplySettings } from "../core/reply/bid-response";
import { PluginConfig, PluginConfigParser, viewOf } from "./config";
import { NexusStream } from "./stream";
import { SharedLedger, NoticeResult } from "./ledger";
import { HostSync } from "./sync";
import { ReplayGuard } from "./replay-guard";
import { ReplayGatedBudget, ReservationProbe } from "./replay-gate";
import { BudgetPort } from "../core/bidding/budget-port";
import { ReplayClaims, CLAIM_PENDING } from "./replay-claim";
import { NoticeForwards, MAX_FORWARD_PATH_BYTES } from "./notice-forward";
import { PodTag } from "./pod-tag";
import { HostAuth } from "./host-auth";
import { reservationRingSlots } from "./ring-size";
import { metrics } from "./metrics";
import { body, replyJson, replyNoBid, replyError, replyErrorText, replyNoticeJson, replyNoticeError } from "./replies";
import { queryParam, parseCpmToMicros, parseFrequencyKey } from "./query";
import { SharedFrequencyTable } from "./frequency-table";
import { capKey } from "../core/bidding/frequency";
import { FleetCounts } from "./frequency-fleet";
import { ensureU64, fetchAddU64 } from "./shared";
import { KEY_VM_SEQ, KEY_RESV_CURSOR } from "./keys";
import { vmSeqStart } from "./vm-seq";
import { randomNonce } from "./nonce";

const configBytes = new HostBytes();
const claimedBody = new HostBytes();

export class NexusRoot extends RootContext {
  config: PluginConfig = new PluginConfig();
  vmSeq: u32 = 0;
  // Bid path (allocated in onConfigure, reused for every request).
  parser: BidRequestParser = new BidRequestParser(1024, 1);
  request: BidRequest = new BidRequest();
  model: LrModelPair = new LrModelPair(10);
  campaigns: CampaignTable = new CampaignTable();
  engine: DecisionEngine = new DecisionEngine(10);
  /** The decision's time budget, asked by the engine between impressions. */
  private readonly deadline: StreamDeadline = new StreamDeadline();
  decision: Decision = new Decision();
  settings: DecisionSettings = new DecisionSettings();
  reply: ReplySettings = new ReplySettings();
  ledger: SharedLedger = new SharedLedger();
  frequency: SharedFrequencyTable = new SharedFrequencyTable();
  /** This pod's counted wins on their way to the other pods, and theirs to here (frequency-fleet.ts). */
  fleet: FleetCounts = new FleetCounts();
  sync: HostSync = new HostSync(this);
  replay: ReplayGuard = new ReplayGuard();
  /** The ledger behind the replay guard, asked at a request's first reservation (replay-gate.ts). */
  gatedLedger: ReplayGatedBudget = new ReplayGatedBudget(this.ledger, this.replay);
  /** With replay claims: the decision before the claim, which reserves nothing (replay-gate.ts). */
  probe: ReservationProbe = new ReservationProbe(this.ledger);
  claims: ReplayClaims = new ReplayClaims(this);
  forwards: NoticeForwards = new NoticeForwards(this);
  podTag: PodTag = new PodTag();
  hostAuth: HostAuth = new HostAuth();
  private readonly base: Str = new Str();
  private readonly param: Str = new Str();
  private readonly bidId: ParsedBidId = new ParsedBidId();
  private pool: Array<NexusStream> = new Array<NexusStream>();
  private configured: bool = false;

  onConfigure(size: usize): bool {
    if (this.configured) {
      // Envoy's cpp-host (WasmBase::start) runs on_context_create, on_vm_start and on_configure
      // again on a root context it still holds for the same plugin key, which is the root id
      // plus the plugin configuration: the same bytes, so there is nothing to change. Configuring
      // again would take a second VM number, add streams to the pool and replace the loaded
      // model with an empty one that the sync does not reload (its version did not change).
      log(LogLevel.INFO, "nexus: vm " + this.vmSeq.toString() + " is already configured; on_configure again changes nothing");
      return true;
    }
    let cfg: PluginConfig | null = null;
    const parser = new PluginConfigParser();
    if (size == 0) {
      cfg = new PluginConfig();
    } else {
      getBufferBytes(BufferType.PLUGIN_CONFIGURATION, 0, size, configBytes);
      cfg = configBytes.ok ? parser.parse(configBytes.ptr, configBytes.len) : parser.parse(0, 0);
      configBytes.release();
    }
    if (cfg === null) {
      log(LogLevel.CRITICAL, "nexus: invalid plugin configuration: " + parser.error);
      return false;
    }
    this.config = cfg;
    reserveHostCopyArena(<usize>cfg.maxBodyBytes + 128 * 1024);
    this.parser = new BidRequestParser(cfg.maxBodyBytes, 32);
    this.parser.tolerant = !cfg.strictTypes;
    this.model = new LrModelPair(cfg.hashBits);
    this.engine = new DecisionEngine(cfg.hashBits);
    this.engine.deadline = this.deadline;
    this.frequency.buckets = <u32>cfg.frequencyBuckets;
    this.frequency.retries = cfg.casRetries;
    this.engine.frequency = this.frequency;
    this.fleet.configure(cfg.casRetries);
    viewOf(cfg.currency, this.settings.currency);
    this.settings.utcOffsetMinutes = cfg.utcOffsetMinutes;
    this.settings.gdprVendorId = cfg.gdprVendorId;
    this.settings.coppaNoBid = cfg.coppaNoBid;
    if (cfg.traffic !== null) this.settings.traffic = cfg.traffic!;
    for (let i = 0; i < cfg.fx.codes.length; i++) {
      this.settings.fx.set(cfg.fx.codes[i].toString(), cfg.fx.rates[i]);
    }
    // After the currency and the rates it is converted with.
    this.settings.setFloorFeatureCurrency(viewOf(cfg.floorFeatureCurrency, new Str()));
    viewOf(cfg.winPath, this.reply.winPath);
    viewOf(cfg.lossPath, this.reply.lossPath);
    viewOf(cfg.seat, this.reply.seat);
    viewOf(cfg.seat, this.settings.seat);
    viewOf(cfg.currency, this.reply.currency);
    const l = this.ledger;
    l.ttlMs = cfg.reservationTtlMs;
    l.expMaxMs = cfg.reservationExpMaxMs;
    l.slots = reservationRingSlots(<u32>cfg.reservationSlots);
    l.retries = cfg.casRetries;
    l.utcOffsetMinutes = cfg.utcOffsetMinutes;

    metrics.define();
    const now = currentTimeNanos();
    // A random start: two VMs that both create the counter hand out numbers from two different
    // random points, not both from 0 (vm-seq.ts, SECURITY.md G9).
    ensureU64(KEY_VM_SEQ, vmSeqStart(randomNonce(), now));
    ensureU64(KEY_RESV_CURSOR);
    const seq = fetchAddU64(KEY_VM_SEQ, 1, 64);
    // No usable counter (missing, another layout, or the CAS loop gave up): a number from the
    // clock in [2^31, 2^32), above every number the counter hands out.
    this.vmSeq = seq >= 0 ? <u32>seq + 1 : <u32>(now & 0x7fffffff) | 0x80000000;
    this.engine.seed(now ^ (<u64>this.vmSeq << 40) ^ 0x5deece66d);
    this.podTag.configure(<u32>randomNonce() ^ <u32>(now >> 10));
    this.reply.podTag = this.podTag.text; // the same view: a tag adopted at a tick is in the next bid's URLs
    if (!this.replay.configure(<i64>cfg.replayTtlMs, <u32>cfg.replayBuckets, cfg.casRetries, now ^ <u64>this.vmSeq)) {
      log(LogLevel.ERROR, "nexus: replay guard: shared data refused some bucket keys; requests in those buckets are no-bids");
    }
    this.hostAuth.configure(cfg);
    this.claims.configure(cfg);
    this.forwards.configure(cfg);
    for (let i = 0; i < 64; i++) this.pool.push(new NexusStream(this));
    this.sync.configure();
    setTickPeriodMillis(<u32>cfg.tickMs);
    log(LogLevel.INFO, "nexus: configured vm " + this.vmSeq.toString());
    this.configured = true;
    return true;
  }

  onTick(): void {
    this.replay.refreshSeeds();
    this.podTag.read();
    this.fleet.flush(); // before the sync: a leader sends its own counts of this tick too
    const now = nowMs();
    this.fleet.applyIncoming(this.frequency, now); // what the last sync answers did not apply yet
    this.sync.tick(now);
  }

  onHttpCallResponse(token: u32, numHeaders: u32, bodySize: usize, numTrailers: u32): void {
    if (this.claims.onResponse(token, numHeaders)) return;
    if (this.forwards.onResponse(token, numHeaders, bodySize)) return;
    this.sync.onResponse(token, numHeaders, bodySize, nowMs());
  }

  newHttpContext(contextId: u32): HttpContext | null {
    const s = this.pool.length > 0 ? this.pool.pop() : new NexusStream(this);
    s.recycle();
    return s;
  }

  releaseHttpContext(ctx: HttpContext): void {
    this.claims.drop(changetype<NexusStream>(ctx));
    this.forwards.drop(changetype<NexusStream>(ctx));
    if (this.pool.length < 4096) this.pool.push(changetype<NexusStream>(ctx));
  }

  /** POST bid: parse, decide, reserve, reply — one local reply whatever happens. */
  handleBid(ptr: usize, len: i32, stream: NexusStream): void {
    const req = this.request;
    if (stream.badAuthority && this.config.noticeBaseUrl.len == 0) {
      // Notice URLs are built from the Host: one that cannot be put in a URL gets no bid URLs at all.
      metrics.inc(metrics.badRequests);
      replyErrorText(400, ":authority: not a valid host[:port] (set notice_base_url to bid without it)", "nexus_bad_request");
      return;
    }
    if (this.parser.parse(ptr, len, req) != 0) {
      metrics.inc(metrics.badRequests);
      const msg = this.parser.errorMessage;
      replyError(400, msg.ptr, msg.len, "nexus_bad_request");
      return;
    }
    // Taken although some value had the wrong JSON type (e.g. "secure": true): counted, so that
    // an operator sees which share of an exchange's traffic only strict_types would refuse.
    if (req.coercedValues > 0) metrics.inc(metrics.coercedRequests);
    // The decision's wall clock is the one read when the headers came (no second host call): a
    // bid stands only when the body came within decision_budget_ms of them (else TIMEOUT), so
    // pacing windows and replay expiries are off by less than that.
    const ms = <i64>(stream.startNanos / 1000000);
    const mono = stream.startMono >= 0 ? stream.startMono / 1000000 : -1;
    if (!this.replay.enabled) return this.decideAndReply(req, stream, ms, this.ledger);
    if (!this.claims.enabled) {
      // A request id seen within replay_ttl_ms (in any VM) is a no-bid, asked when the decision
      // is about to reserve: requests that would not bid cost the guard nothing (replay-gate.ts).
      this.gatedLedger.begin(req.id.ptr, req.id.len, ms, mono);
      return this.decideAndReply(req, stream, ms, this.gatedLedger);
    }
    // With claims across pods: the claim is a round trip (replay-claim.ts) and nothing may be
    // reserved before its answer. A decision that reserves nothing says whether the request
    // would bid at all; only then are the local guard and the claim asked (replay-gate.ts).
    this.probe.begin();
    this.decide(req, stream, ms, this.probe);
    if (!this.probe.wanted && this.decision.count == 0) return this.answer(req, stream);
    const seen = this.replay.check(req.id.ptr, req.id.len, ms, mono);
    if (seen != NoBid.NONE) {
      metrics.noBid(seen);
      replyNoBid(seen);
      return;
    }
    const left = <i64>this.budgetNanos(req.tmax) - stream.elapsedNanos();
    const claim = this.claims.begin(stream, req.id.ptr, req.id.len, left);
    if (claim == CLAIM_PENDING) return;
    if (claim != NoBid.NONE) {
      metrics.noBid(claim);
      replyNoBid(claim);
      return;
    }
    this.decideAndReply(req, stream, ms, this.ledger);
  }

  /**
   * The claim of `stream`'s request id succeeded (or failed open): the effective
   * context is the stream, still paused from on_request_body, whose body the
   * host keeps buffered. Parse it again (this VM's request object may hold
   * another request by now) and decide.
   */
  resumeBid(stream: NexusStream): void {
    const req = this.request;
    getBufferBytes(BufferType.HTTP_REQUEST_BODY, 0, stream.bodySize, claimedBody);
    if (!claimedBody.ok || <usize>claimedBody.len != stream.bodySize || this.parser.parse(claimedBody.ptr, claimedBody.len, req) != 0) {
      claimedBody.release();
      // Not expected (the body parsed before the claim): no bid rather than a guess.
      log(LogLevel.ERROR, "nexus: replay claim answered but the request body could not be read again");
      metrics.noBid(NoBid.CONTENTION);
      replyNoBid(NoBid.CONTENTION);
      return;
    }
    this.decideAndReply(req, stream, nowMs(), this.ledger);
    claimedBody.release();
  }

  /**
   * Decide, reserve and reply (the request passed parsing and, when `budget` is the ledger itself,
   * the replay checks; the gated ledger asks the guard at the first reservation).
   */
  private decideAndReply(req: BidRequest, stream: NexusStream, ms: i64, budget: BudgetPort): void {
    this.decide(req, stream, ms, budget);
    this.answer(req, stream);
  }

  private decide(req: BidRequest, stream: NexusStream, ms: i64, budget: BudgetPort): void {
    this.ledger.nowMs = ms;
    this.deadline.stream = stream;
    this.deadline.budgetNanos = <i64>this.budgetNanos(req.tmax);
    this.engine.decide(req, this.model, this.campaigns, this.settings, budget, ms, this.decision);
  }

  /** Answer the request with this.decision: its bids (refunded when past the time budget) or its no-bid reason. */
  private answer(req: BidRequest, stream: NexusStream): void {
    const d = this.decision;
    const elapsed = stream.elapsedNanos();
    if (d.count > 0 && elapsed > <i64>this.budgetNanos(req.tmax)) {
      for (let i = 0; i < d.count; i++) this.ledger.refund(d.bid(i));
      d.count = 0;
      d.reason = NoBid.TIMEOUT;
    }
    recordMetric(metrics.decisionLatencyUs, <u64>(elapsed / 1000));
    if (d.nativeInvalid > 0) metrics.add(metrics.nativeInvalid, d.nativeInvalid);
    // Valued without personal data (a COPPA no-bid was not valued at all).
    if (d.contextual && d.reason != NoBid.COPPA) metrics.inc(metrics.contextual);
    if (d.personalData == PersonalData.GPP_UNREADABLE) metrics.inc(metrics.gppUnreadable);
    if (d.count == 0) {
      metrics.noBid(d.reason);
      replyNoBid(d.reason);
      return;
    }
    // The bids that fit the reply buffer (256 KiB: 16 impressions of 32 KiB markup do not);
    // the others are refunded, never sent truncated.
    const written = writeBidResponse(body, this.reply, stream.noticeBase(this.base), req.id, d.bids, d.count);
    for (let i = written; i < d.count; i++) this.ledger.refund(d.bid(i));
    if (written < d.count) metrics.add(metrics.bidsLeftOut, d.count - written);
    d.count = written;
    if (written == 0) {
      metrics.noBid(NoBid.REPLY_TOO_LARGE);
      replyNoBid(NoBid.REPLY_TOO_LARGE);
      return;
    }
    metrics.inc(metrics.bidResponses);
    metrics.add(metrics.impBids, d.count);
    let inDeals = 0;
    let videos = 0;
    let audios = 0;
    let natives = 0;
    for (let i = 0; i < d.count; i++) {
      const b = d.bid(i);
      if (b.deal !== null) inDeals++;
      const cr = b.creative;
      if (cr === null) continue;
      if (cr.isVideo) videos++;
      else if (cr.isAudio) audios++;
      else if (cr.isNative) natives++;
    }
    // No host call for open-auction banner bids.
    metrics.add(metrics.dealBids, inDeals);
    metrics.add(metrics.videoBids, videos);
    metrics.add(metrics.audioBids, audios);
    metrics.add(metrics.nativeBids, natives);
    replyJson(200, "nexus_bid");
  }

  /** The decision's time budget: decision_budget_ms, or a share of tmax when that is tighter. */
  budgetNanos(tmax: i32): u64 {
    let ms: f64 = <f64>this.config.decisionBudgetMs;
    if (tmax > 0) {
      const share = <f64>tmax * this.config.tmaxShare;
      if (share < ms) ms = share;
    }
    return <u64>(ms * 1e6);
  }

  /**
   * GET/POST win or loss notice (`pathPtr`: its whole :path): answer with what happened to the
   * money. `forwarded`: another pod's host sent it (x-nexus-forwarded), so a bid unknown here is
   * not forwarded again (notice-forward.ts).
   */
  handleNotice(isWin: bool, pathPtr: usize, pathLen: i32, stream: NexusStream, forwarded: bool): void {
    this.ledger.nowMs = nowMs();
    const hasBid = queryParam(pathPtr, pathLen, "bid", this.param);
    // A bid on a test request (BidRequest.test = 1) reserved nothing: its notices change nothing.
    if (hasBid && isTestBidId(this.param.ptr, this.param.len)) return this.noticeOk("{\"status\":\"test\"}");
    if (!hasBid || !this.bidId.parse(this.param.ptr, this.param.len)) {
      metrics.inc(metrics.noticeUnknown);
      replyNoticeError(404, "unknown bid id", "nexus_notice_unknown");
      return;
    }
    let result: i32;
    if (isWin) {
      queryParam(pathPtr, pathLen, "price", this.param);
      // OpenRTB 2.6 §4.4: an exchange rendering for test or ad-quality purposes puts AUDIT in the
      // price macro. Not billable: nothing changes (the reservation waits for a real notice).
      if (this.param.equalsAscii("AUDIT")) return this.noticeOk("{\"status\":\"audit\"}");
      // Any other price that does not parse is -1: unusable (Ledger.win).
      result = this.ledger.win(this.bidId.seq, this.bidId.nonce, parseCpmToMicros(this.param));
      if (this.ledger.firstWin && queryParam(pathPtr, pathLen, "fq", this.param)) this.countImpression();
    } else {
      result = this.ledger.loss(this.bidId.seq, this.bidId.nonce);
    }
    if (result == NoticeResult.UNKNOWN_BID) {
      // Not this pod's bid, maybe another's (SECURITY.md G12): the host asks the other pods.
      if (forwarded) {
        // Counted by the pod that forwarded it in nexus_notices_unknown_total; here in its own
        // counter, since anyone can send the header (SECURITY.md G12): notices probing bid ids
        // with it would otherwise be counted nowhere.
        metrics.inc(metrics.noticeUnknownForwarded);
        return replyNoticeError(404, "unknown bid id", "nexus_notice_unknown");
      }
      // Tagged with this process's own tag: no other pod has it.
      const own = queryParam(pathPtr, pathLen, "pod", this.param) && this.podTag.text.len > 0 && this.param.equals(this.podTag.text);
      if (this.forwards.enabled && !own && pathLen <= MAX_FORWARD_PATH_BYTES) {
        if (!this.forwards.begin(stream, pathPtr, pathLen)) replyNoticeError(503, "notice forward failed: retry the notice", "nexus_notice_forward_failed");
        return;
      }
    }
    this.replyNotice(result);
  }

  /**
   * A capped campaign's win was just charged: one more impression for its user under each of the
   * campaign's caps (the notice's fq= count key, which the bid wrote, and the keys derived from it:
   * capKey). By the campaign's caps as configured now; a campaign no longer capped (or no longer
   * configured) counts nothing.
   */
  private countImpression(): void {
    const key = parseFrequencyKey(this.param);
    if (key == 0) return;
    const slot = this.ledger.slot;
    const rt = this.ledger.runtimeById(slot.campaignId, slot.campaignIdLen);
    if (rt === null) return;
    const c = rt.campaign;
    const now = this.ledger.nowMs;
    for (let i = 0; i < c.frequencyCaps; i++) {
      const k = capKey(key, i);
      const windowMs = unchecked(c.capWindowMs[i]);
      if (this.frequency.count(k, now, windowMs)) this.fleet.note(k, now, windowMs);
    }
  }

  private replyNotice(result: i32): void {
    switch (result) {
      case NoticeResult.CHARGED:
        return this.noticeOk("{\"status\":\"charged\"}");
      case NoticeResult.LATE_CHARGED:
        return this.noticeOk("{\"status\":\"late_charged\"}");
      case NoticeResult.PENDING:
        return this.noticeOk("{\"status\":\"won_price_pending\"}");
      case NoticeResult.LATE_CHARGED_AT_BID:
        return this.noticeOk("{\"status\":\"late_charged_at_bid\"}");
      case NoticeResult.REFUNDED:
        return this.noticeOk("{\"status\":\"refunded\"}");
      case NoticeResult.DUPLICATE:
        metrics.inc(metrics.noticeDuplicate);
        return this.noticeOk("{\"status\":\"already_settled\"}");
      case NoticeResult.CONTENTION:
        return replyNoticeError(503, "busy: retry the notice", "nexus_notice_busy");
      default:
        metrics.inc(metrics.noticeUnknown);
        return replyNoticeError(404, "unknown bid id", "nexus_notice_unknown");
    }
  }

  private noticeOk(json: string): void {
    body.reset();
    body.ascii(json);
    replyNoticeJson(200, "nexus_notice");
  }
}

@inline export function nowMs(): i64 {
  return <i64>(currentTimeNanos() / 1000000);
}

/** The decision's time budget on its stream's clock (elapsedNanos: a host call), for the engine. */
class StreamDeadline extends DecisionDeadline {
  stream: NexusStream | null = null;
  budgetNanos: i64 = 0;

  passed(): bool {
    const s = this.stream;
    return s !== null && s.elapsedNanos() > this.budgetNanos;
  }
}
