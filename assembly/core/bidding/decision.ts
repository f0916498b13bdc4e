// The bidding decision for one parsed BidRequest: for every impression, score
// it once with the model pair, value it for every eligible campaign
// (EV = pCTR × pCVR × value; bid = EV × shading × alpha), keep the best, apply
// the ROI guard and the floor (the open auction's, or a deal's: deals.ts), and
// reserve its price. Pure: no ABI calls; the clock, the money and the pacing
// come in through arguments and BudgetPort, the time budget through
// DecisionDeadline.
import { BidRequest, Deal, Imp } from "../openrtb/request";
import { Banner } from "../openrtb/imp";
import { Str } from "../bytes/str";
import { FeatureExtractor } from "../features/extract";
import { FeatureVector } from "../features/feature-vector";
import { LrModelPair } from "../model/lr-model";
import { Campaign, CampaignTable, Creative, IAB_CONTENT_1 } from "./campaign";
import { BudgetPort } from "./budget-port";
import { ImpBid, formatBidId, formatTestBidId } from "./imp-bid";
import { NoBid, reasonRank, worse } from "./reasons";
import { MAX_BID_MICROS, cpmToImpressionMicrosCeil, microsFloor } from "./money";
import { CurrencyTable } from "./currency";
import { DealPicker } from "./deals";
import { RequestDomains } from "./request-domain";
import { BadvHosts, CategoryList, RequestList } from "./block-lists";
import { MAX_IMPS } from "../openrtb/limits";
import { countryAlpha3, regionCodeStart } from "../openrtb/country";
import { PersonalData, PersonalDataPolicy } from "../privacy/personal-data";
import { hourOf, weekdayOf } from "../features/time";
import { FrequencyPort, capKey, frequencyKey, userKeyOf } from "./frequency";
import { mediaFits, mediaFloorCpm, mediaRefused, sameAdvertiser, skipTargeted, slotFor, slotTargeted, videoFits } from "./media";
import { InvalidTrafficRules, TrafficVerdict } from "../traffic/invalid-traffic";
import { NativeRequest, NativeRequestParser } from "../openrtb/native";
import { fillsVideo, nativeFill, nativeRefused } from "./native-creative";

export class Decision {
  readonly bids: StaticArray<ImpBid> = new StaticArray<ImpBid>(MAX_IMPS);
  count: i32 = 0;
  /** The request's no-bid reason when count == 0 (the most specific one seen). */
  reason: i32 = NoBid.NONE;
  /** Per-reason impression counts of this decision (for metrics). */
  readonly impReasons: StaticArray<i32> = new StaticArray<i32>(NoBid.COUNT);
  /** PersonalData.ALLOWED, or why this request was valued on contextual features only. */
  personalData: i32 = PersonalData.ALLOWED;
  /** Impressions whose native request document could not be read (those get no native bid). */
  nativeInvalid: i32 = 0;

  /** The request was valued without the user's personal data (ip, segments). */
  @inline get contextual(): bool {
    return this.personalData != PersonalData.ALLOWED;
  }

  constructor() {
    for (let i = 0; i < MAX_IMPS; i++) unchecked((this.bids[i] = new ImpBid()));
  }

  reset(): void {
    for (let i = 0; i < this.count; i++) unchecked(this.bids[i]).reset();
    this.count = 0;
    this.reason = NoBid.NONE;
    this.personalData = PersonalData.ALLOWED;
    this.nativeInvalid = 0;
    for (let i = 0; i < NoBid.COUNT; i++) unchecked((this.impReasons[i] = 0));
  }

  @inline bid(i: i32): ImpBid {
    return unchecked(this.bids[i]);
  }

  /** Bids of campaign `c`, or of another campaign of its frequency_group, in this decision so far. */
  bidsOf(c: Campaign): i32 {
    let n = 0;
    // The same counts: the campaign itself, or another of its frequency_group.
    for (let i = 0; i < this.count; i++) {
      const b = unchecked(this.bids[i]).campaign;
      if (b === c || (b !== null && c.frequencyGroup !== null && b.idHash == c.idHash)) n++;
    }
    return n;
  }

  noteImpReason(reason: i32): void {
    unchecked((this.impReasons[reason] += 1));
    // Keep the reason that got furthest down the pipeline.
    if (reasonRank(reason) > reasonRank(this.reason)) this.reason = reason;
  }
}

export class DecisionSettings {
  /** Account currency, e.g. "USD". */
  readonly currency: Str = new Str();
  /** The bidder's seat (seatbid.seat): checked against the request's wseat and bseat. */
  readonly seat: Str = new Str();
  utcOffsetMinutes: i32 = 0;
  readonly fx: CurrencyTable = new CurrencyTable();
  /**
   * Account units per unit of the currency the model learned its `floor=` feature in (plugin
   * floor_feature_currency): a floor in another currency is converted into it before it is
   * bucketed. 0: bucketed as sent. Set with setFloorFeatureCurrency, after `currency` and `fx`.
   */
  floorFeatureRate: f64 = 0;
  /** The model's floor currency (empty: floors bucketed as sent); 0 when `fx` has no rate for it. */
  setFloorFeatureCurrency(code: Str): void {
    this.floorFeatureRate = code.len == 0 ? 0 : this.fx.rateToAccount(code, this.currency);
  }

  /** Our IAB Global Vendor List id, checked in TCF consent strings; 0 = purposes only. */
  gdprVendorId: i32 = 0;
  /** A COPPA request (regs.coppa = 1) is a no-bid (`coppa`) instead of a contextual bid. */
  coppaNoBid: bool = false;
  /** The general-invalid-traffic screen (plugin `invalid_traffic`); the built-in UA tokens by default. */
  traffic: InvalidTrafficRules = InvalidTrafficRules.defaults();
}

/**
 * Asked between impressions whether the decision's time is up. The filter reads its clock (a host
 * call, so not for the first impression); the tools and tests never stop. A request of many
 * impressions against a large campaign set then costs at most one impression past its time
 * budget, instead of holding the VM (and every request queued behind it) until it is done: the
 * filter answers it as a timeout anyway.
 */
export class DecisionDeadline {
  passed(): bool {
    return false;
  }
}

const NO_DEADLINE = new DecisionDeadline();

export class DecisionEngine {
  /** Asked between impressions (DecisionDeadline). */
  deadline: DecisionDeadline = NO_DEADLINE;

  readonly features: FeatureExtractor;
  readonly privacy: PersonalDataPolicy = new PersonalDataPolicy();
  private readonly x: FeatureVector = new FeatureVector();
  private readonly deals: DealPicker = new DealPicker();
  /** The request's domains for campaigns' domain lists, read by decide() when a campaign has one. */
  private readonly domains: RequestDomains = new RequestDomains();
  /** Nonce source for bid ids (xorshift64*; seeded by the caller from time and VM identity). */
  private rng: u64 = 0x9e3779b97f4a7c15;
  /** Set by eligibleCreative(): a creative fit the impression but the exchange's rules refused it. */
  private fitRefused: bool = false;
  /** Index in its campaign of the creative allowedVideo or allowedAudio last returned. */
  private mediaIndex: i32 = 0;
  /** Set by eligibleCreative() with a native creative: the request's assets it fills (nativeFill()). */
  private nativeFilled: u32 = 0;
  /** The request's local hour and weekday for dayparting (set by decide(), on the clock it explains). */
  private hour: i32 = 0;
  private weekday: i32 = 0;
  /** The decision's time (decide()'s nowMs), for campaigns that daypart on their own clock. */
  private nowMs: i64 = 0;
  /** The request's user key for frequency caps (frequency.ts; 0: none), set by decide() when a campaign has a cap. */
  private userKey: u64 = 0;
  /** The request's TrafficVerdict once asked (decide() resets it to -1: not asked yet). */
  private traffic: i32 = -1;
  /** Per-user impression counts of frequency-capped campaigns: the filter's shared-data table; none by default. */
  frequency: FrequencyPort = new FrequencyPort();
  /**
   * Each impression's native request, read when a campaign has native creatives (one per imp
   * position, made the first time a native impression comes in that position, then reused: a
   * bidder without native campaigns carries none, ~40 KiB each).
   */
  private readonly nativeRequests: StaticArray<NativeRequest | null> = new StaticArray<NativeRequest | null>(MAX_IMPS);
  /** Made with the first native request model (its scratch is 16 KiB): none without native campaigns. */
  private nativeParser: NativeRequestParser | null = null;
  /** The impression being decided's native request, or null when no native creative is looked at. */
  private native: NativeRequest | null = null;
  /** Campaigns of the impression being decided whose reservation failed (decideImp's fallback). */
  private readonly failed: StaticArray<Campaign | null> = new StaticArray<Campaign | null>(MAX_FALLBACKS);
  private failedCount: i32 = 0;

  constructor(hashBits: i32) {
    this.features = new FeatureExtractor(hashBits);
  }

  /** The message of the last native request document that could not be read (for diagnostics). */
  get nativeError(): Str {
    const p = this.nativeParser;
    return p !== null ? p.errorMessage : EMPTY;
  }

  seed(v: u64): void {
    this.rng = v != 0 ? v : 0x9e3779b97f4a7c15;
  }

  /**
   * The campaign's creative for this impression, if its targeting matches: for the banner's own
   * w×h, then each format, that the campaign targets, the first creative of that size the
   * exchange's rules allow; else a video, audio or native creative that fits. Null otherwise;
   * `fitRefused` then says whether a creative fit and was refused (the campaign counts as
   * BLOCKED, not as unmatched).
   */
  private eligibleCreative(req: BidRequest, imp: Imp, c: Campaign): Creative | null {
    this.fitRefused = false;
    if (!this.targetsRequest(req, c)) return null;
    if (c.rewarded >= 0 && imp.rewarded != (c.rewarded == 1)) return null;
    if (c.interstitial >= 0 && (imp.instl == 1) != (c.interstitial == 1)) return null;
    const b = imp.banner;
    if (b.present) {
      const own = b.w > 0 && b.h > 0 && c.allowsSize(b.w, b.h) && b.ownSizePermitted();
      if (own) {
        const cr = this.allowedOfSize(req, imp, c, b.w, b.h);
        if (cr !== null) return cr;
      }
      for (let i = 0; i < b.formatCount; i++) {
        const f = b.format(i);
        // A size already tried (the banner's own, or an earlier format) has the same answer.
        if (!c.allowsSize(f.w, f.h) || (own && f.w == b.w && f.h == b.h) || sizeListedBefore(b, i)) continue;
        const cr = this.allowedOfSize(req, imp, c, f.w, f.h);
        if (cr !== null) return cr;
      }
    }
    // A multi-format impression gets a banner when one fits, else a video, else audio.
    if (imp.video.present && c.hasVideo) {
      const cr = this.allowedVideo(req, imp, c);
      if (cr !== null) return cr;
    }
    if (imp.audio.present && c.hasAudio) {
      const cr = this.allowedAudio(req, imp, c);
      if (cr !== null) return cr;
    }
    const native = this.native;
    return native !== null && c.hasNative ? this.allowedNative(req, imp, c, native) : null;
  }

  /**
   * The campaign's first native creative whose assets answer the native request and that the
   * exchange's rules allow, and when it answers a video asset, allow its video creative too.
   */
  private allowedNative(req: BidRequest, imp: Imp, c: Campaign, native: NativeRequest): Creative | null {
    for (let k = 0; k < c.creatives.length; k++) {
      const cr = unchecked(c.creatives[k]);
      const assets = cr.native;
      if (assets === null) continue;
      const filled = nativeFill(native, assets);
      if (filled == 0) continue;
      const video = fillsVideo(native, filled) ? assets.video : null;
      if (!blocked(req, cr) && !nativeRefused(imp, cr) && (video === null || (!blocked(req, video) && !nativeRefused(imp, video)))) {
        this.nativeFilled = filled;
        return cr;
      }
      this.fitRefused = true;
    }
    return null;
  }

  /**
   * The campaign's first video creative that fits the impression's player (video.ts videoFits)
   * and that the exchange's rules allow (notes a refused one in `fitRefused`), in a slot the
   * campaign's video targeting buys. `targeting.sizes` is about banner slots: it does not restrict
   * video.
   */
  private allowedVideo(req: BidRequest, imp: Imp, c: Campaign, from: i32 = 0): Creative | null {
    if (!slotTargeted(imp.video, c)) return null;
    for (let k = from; k < c.creatives.length; k++) {
      const cr = unchecked(c.creatives[k]);
      if (!cr.isVideo || !videoFits(imp.video, cr) || !skipTargeted(imp.video, cr, c)) continue;
      if (!blocked(req, cr) && !mediaRefused(imp, imp.video, cr)) {
        this.mediaIndex = k;
        return cr;
      }
      this.fitRefused = true;
    }
    return null;
  }

  /** The campaign's first audio creative that fits the impression's audio player and that the exchange's rules allow. */
  private allowedAudio(req: BidRequest, imp: Imp, c: Campaign, from: i32 = 0): Creative | null {
    for (let k = from; k < c.creatives.length; k++) {
      const cr = unchecked(c.creatives[k]);
      if (!cr.isAudio || !mediaFits(imp.audio, cr)) continue;
      if (!blocked(req, cr) && !mediaRefused(imp, imp.audio, cr)) {
        this.mediaIndex = k;
        return cr;
      }
      this.fitRefused = true;
    }
    return null;
  }

  /**
   * The open auction's floor (micros per impression) for a video or audio creative: the
   * impression's `floor`, or its slot's by the ad's duration (mincpmpersec, durfloors) when
   * higher; -1 when those cannot be read (below_floor), -2 when their currency has no rate.
   */
  private mediaFloorMicros(imp: Imp, cr: Creative, floor: i64, floorRate: f64): i64 {
    const byDuration = mediaFloorCpm(slotFor(imp, cr), cr);
    if (byDuration < 0) return -1;
    if (byDuration == 0) return floor;
    if (floorRate <= 0) return -2;
    const micros = cpmToImpressionMicrosCeil(byDuration * floorRate);
    return micros > floor ? micros : floor;
  }

  /**
   * Whether any of the campaign's caps is reached for the user of count key `fkey`: its count in
   * the window open now plus `pending`, this request's earlier bids of the campaign (they may be
   * won too, so they count against every cap).
   */
  private capReached(camp: Campaign, fkey: u64, nowMs: i64, pending: i32): bool {
    for (let k = 0; k < camp.frequencyCaps; k++) {
      const seen = <i64>this.frequency.countOf(camp, capKey(fkey, k), nowMs) + <i64>pending;
      if (seen >= <i64>unchecked(camp.capImpressions[k])) return true;
    }
    return false;
  }

  /**
   * The campaign's request-level targeting (targets(), dayparting) admits this request. It does
   * not depend on the impression: judged once per request and campaign (before, once per
   * impression and campaign, over lists of any length).
   */
  private targetsRequest(req: BidRequest, c: Campaign): bool {
    if (c.targetedInRequest != requestStamp) {
      c.targetedAnswer = targets(req, c, this.domains) && this.inDaypart(c);
      c.targetedInRequest = requestStamp;
    }
    return c.targetedAnswer;
  }

  /**
   * The campaign's dayparting admits this moment: on its own clock when it has one
   * (daypart_utc_offset_minutes), else on the request's (decide()).
   */
  @inline private inDaypart(c: Campaign): bool {
    if (c.hours == 0 && c.weekdays == 0) return true;
    if (!c.hasDaypartOffset) return c.allowsTime(this.hour, this.weekday);
    return c.allowsTime(hourOf(this.nowMs, c.daypartOffsetMinutes), weekdayOf(this.nowMs, c.daypartOffsetMinutes));
  }

  /** The campaign's first creative of w×h that the exchange's rules allow (notes a refused one in `fitRefused`). */
  private allowedOfSize(req: BidRequest, imp: Imp, c: Campaign, w: i32, h: i32): Creative | null {
    for (let k = 0; k < c.creatives.length; k++) {
      const cr = unchecked(c.creatives[k]);
      if (cr.w != w || cr.h != h || cr.isMedia) continue;
      if (!refused(req, imp, cr)) return cr;
      this.fitRefused = true;
    }
    return null;
  }

  /** The request's TrafficVerdict, judged at the first impression that asks. */
  private trafficVerdict(req: BidRequest, rules: InvalidTrafficRules): i32 {
    if (this.traffic < 0) this.traffic = rules.active ? rules.judge(req) : TrafficVerdict.VALID;
    return this.traffic;
  }

  nextNonce(): u32 {
    let x = this.rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    this.rng = x;
    return <u32>((x * 0x2545f4914f6cdd1d) >> 32);
  }

  decide(
    req: BidRequest,
    model: LrModelPair,
    table: CampaignTable,
    settings: DecisionSettings,
    budget: BudgetPort,
    nowMs: i64,
    out: Decision,
  ): void {
    out.reset();
    this.traffic = -1;
    nextRequestStamp();
    this.privacy.gdprVendorId = settings.gdprVendorId;
    out.personalData = this.privacy.decide(req);
    if (out.personalData == PersonalData.COPPA && settings.coppaNoBid) {
      out.reason = NoBid.COPPA;
      return;
    }
    if (!model.loaded) {
      out.reason = NoBid.NO_MODEL;
      return;
    }
    if (table.size == 0) {
      out.reason = NoBid.NO_CAMPAIGN;
      return;
    }
    // The exchange's currency allow-list; OpenRTB's default is USD. Codes match up to case ("usd").
    const cur = settings.currency;
    if (req.cur.count > 0 ? !req.cur.containsIgnoreAsciiCase(cur) : !cur.equalsAsciiIgnoreCase("usd")) {
      out.reason = NoBid.CURRENCY;
      return;
    }
    // Buyer restrictions (OpenRTB BidRequest.wseat / bseat), and block lists longer than the
    // parser keeps: checking part of a block list could bid on what the exchange blocked.
    if (!buyerAllowed(req, settings.seat) || req.bcat.truncated || req.badv.truncated) {
      out.reason = NoBid.BLOCKED;
      return;
    }
    // Dayparting runs on the user's clock when the request gives it (device.geo.utcoffset), else on
    // the filter's (utc_offset_minutes, the one the model's hour and weekday features use). Only
    // read when a campaign has dayparting (allowsTime() admits any hour otherwise).
    this.nowMs = nowMs;
    if (table.dayparted) {
      const geo = req.device.geo;
      const offset = req.device.present && geo.present && geo.hasUtcoffset ? geo.utcoffset : settings.utcOffsetMinutes;
      this.hour = hourOf(nowMs, offset);
      this.weekday = weekdayOf(nowMs, offset);
    }
    // A request valued without the user's personal data may not be tied to the user's counts.
    this.userKey = table.frequencyCapped && !out.contextual ? userKeyOf(req) : 0;
    // Read here, once, rather than inside the per-campaign targeting (kept small: it runs for
    // every campaign and impression).
    if (table.hasDomainLists) this.domains.read(req);
    for (let i = 0; i < req.impCount; i++) {
      if (i > 0 && this.deadline.passed()) {
        // Out of time: what was reserved goes back, as the filter does with bids past their time.
        for (let j = 0; j < out.count; j++) budget.refund(out.bid(j));
        out.count = 0;
        out.reason = NoBid.TIMEOUT;
        return;
      }
      this.decideImp(req, i, model, table, settings, budget, nowMs, out);
    }
    if (out.count == 0 && out.reason == NoBid.NONE) out.reason = NoBid.NO_MATCH;
  }

  /**
   * The impression's native request document, read into its NativeRequest (a document that cannot
   * be read is counted in `out.nativeInvalid`, and its NativeRequest fits no creative).
   */
  private readNative(imp: Imp, impIndex: i32, out: Decision): NativeRequest {
    const doc = imp.native.request;
    let native = unchecked(this.nativeRequests[impIndex]);
    if (native === null) {
      native = new NativeRequest();
      unchecked((this.nativeRequests[impIndex] = native));
    }
    let parser = this.nativeParser;
    if (parser === null) this.nativeParser = parser = new NativeRequestParser();
    if (!parser.parse(doc.ptr, doc.len, native)) out.nativeInvalid++;
    return native;
  }

  /** The campaign's reservation already failed for this impression. */
  private failedBefore(camp: Campaign): bool {
    for (let i = 0; i < this.failedCount; i++) if (unchecked(this.failed[i]) === camp) return true;
    return false;
  }

  /** Notes a campaign whose reservation failed; false when no more fallbacks are allowed. */
  private noteFailed(camp: Campaign): bool {
    if (this.failedCount >= MAX_FALLBACKS) return false;
    unchecked((this.failed[this.failedCount++] = camp));
    return true;
  }

  private decideImp(
    req: BidRequest,
    impIndex: i32,
    model: LrModelPair,
    table: CampaignTable,
    settings: DecisionSettings,
    budget: BudgetPort,
    nowMs: i64,
    out: Decision,
  ): void {
    const imp = req.imp(impIndex);
    const nativeWanted = imp.native.present && table.hasNative;
    if (!imp.banner.present && !(imp.video.present && table.hasVideo) && !(imp.audio.present && table.hasAudio) && !nativeWanted) {
      // No campaign has a creative of a kind the impression takes.
      out.noteImpReason(NoBid.NO_MATCH);
      return;
    }
    this.native = nativeWanted ? this.readNative(imp, impIndex, out) : null;
    const pmp = imp.pmp;
    const dealsOffered = table.buysDeals && pmp.present && pmp.dealCount > 0;
    // The open auction's floor; -1: no open-auction bid (a private auction, or a floor in a
    // currency without a rate), only deals (deals.ts).
    let openFloor: i64 = -1;
    let openReason = NoBid.NO_MATCH;
    // Account units per unit of the floor currency (0: no rate): also for video.mincpmpersec.
    let floorRate: f64 = 0;
    if (!(pmp.present && pmp.privateAuction == 1)) {
      const rate = settings.fx.rateToAccount(imp.bidfloorcur, settings.currency);
      floorRate = rate;
      if (rate <= 0 && imp.bidfloor > 0) openReason = NoBid.CURRENCY;
      else openFloor = imp.bidfloor > 0 ? cpmToImpressionMicrosCeil(imp.bidfloor * rate) : 0;
    }
    if (openFloor < 0 && !dealsOffered) {
      out.noteImpReason(openReason);
      return;
    }

    const x = this.x;
    x.reset();
    this.features.extract(req, imp, nowMs, settings.utcOffsetMinutes, x, !out.contextual, floorForFeature(imp, settings, floorRate));
    model.score(x);
    const pCtr = model.pCtr;
    const pCvr = model.pCvr;

    // The best campaign that can pay: one whose reservation fails (or falls short of the floor)
    // gives the impression to the next, up to MAX_FALLBACKS times. Before, it kept winning and the
    // impression went without a bid, while a campaign with money would have paid.
    this.failedCount = 0;
    let carried = NoBid.NONE;
    while (true) {
      let best: Campaign | null = null;
      let bestCreative: Creative | null = null;
      let bestBid: i64 = 0;
      let bestFloor: i64 = 0;
      let bestDeal: Deal | null = null;
      let bestFrequencyKey: u64 = 0;
      let bestNativeAssets: u32 = 0;
      let reason = worse(NoBid.NO_MATCH, carried);
      const deals = this.deals;
      for (let c = 0; c < table.size; c++) {
        const camp = table.at(c);
        if (this.failedCount > 0 && this.failedBefore(camp)) continue;
        let creative = this.eligibleCreative(req, imp, camp);
        if (creative === null) {
          if (this.fitRefused) reason = worse(reason, NoBid.BLOCKED);
          continue;
        }
        if (creative.isMedia && slotFor(imp, creative).podid.len > 0 && inPodAlready(req, out, camp, imp, creative)) {
          // One ad of a campaign, or of an advertiser, per commercial break: the pod's other slots
          // go to other buyers.
          continue;
        }
        if (req.regs.dsaRequired >= 2 && !dsaCompatible(req, camp)) {
          reason = worse(reason, NoBid.DSA);
          continue;
        }
        if (!camp.active || budget.isExhausted(camp)) {
          reason = worse(reason, camp.active ? NoBid.BUDGET : NoBid.PAUSED);
          continue;
        }
        let fkey: u64 = 0;
        if (camp.frequencyCaps > 0) {
          // No user, no count: a capped campaign cannot keep its cap for someone it cannot recognise.
          if (this.userKey == 0) {
            reason = worse(reason, NoBid.FREQUENCY);
            continue;
          }
          fkey = frequencyKey(camp, this.userKey);
          if (this.capReached(camp, fkey, nowMs, out.bidsOf(camp))) {
            reason = worse(reason, NoBid.FREQUENCY);
            continue;
          }
        }
        const ev = pCtr * pCvr * <f64>camp.valuePerConversionMicros; // micros per impression
        // ROI guard: skip when the expected market cost (the average clearing
        // price, or the campaign's prior) is above the expected value. The floor
        // is checked on its own below, after shading.
        const expectedCost = budget.marketPriceMicros(camp);
        if (expectedCost > 0 && <f64>expectedCost * camp.roiFactor > ev) {
          reason = worse(reason, NoBid.ROI);
          continue;
        }
        let bid = microsFloor(ev * budget.shading(camp) * camp.alpha);
        // The cap is CPM micros; compare in CPM terms so a cap under 1000 still caps (at 0: no bid).
        if (camp.maxBidCpmMicros > 0 && bid * 1000 > camp.maxBidCpmMicros) bid = camp.maxBidCpmMicros / 1000;
        // No bid above the highest price a win notice can carry (1,000,000 CPM: query.ts): its win
        // could only be charged at the bid, whatever it cleared at.
        if (bid > MAX_BID_MICROS) bid = MAX_BID_MICROS;
        let floor = openFloor;
        let deal: Deal | null = null;
        if (dealsOffered && camp.deals.size > 0 && deals.pick(imp, req.at, camp, creative, settings.seat, settings.fx, settings.currency, bid)) {
          deal = deals.deal;
          floor = deals.floorMicros;
          bid = deals.priceMicros;
        } else if (openFloor < 0 || camp.dealsOnly) {
          // No deal to bid in, and no open auction for this campaign: why not, as far as it got.
          if (dealsOffered && camp.deals.size > 0) reason = worse(reason, deals.reason);
          if (openFloor < 0 && !camp.dealsOnly) reason = worse(reason, openReason);
          continue;
        } else {
          if (creative.isMedia) {
            // The exchange's price per second and floors by duration make a floor of their own for
            // this ad's duration (one it cannot read in full: no bid rather than one under it). When
            // the bid does not clear it, a later creative of the campaign for the same player (a
            // shorter ad) may.
            let mediaFloor = this.mediaFloorMicros(imp, creative, floor, floorRate);
            while (bid > 0 && (mediaFloor < 0 || bid < mediaFloor)) {
              const next = creative.isVideo ? this.allowedVideo(req, imp, camp, this.mediaIndex + 1) : this.allowedAudio(req, imp, camp, this.mediaIndex + 1);
              if (next === null) break;
              if (slotFor(imp, next).podid.len > 0 && inPodAlready(req, out, camp, imp, next)) continue;
              const nextFloor = this.mediaFloorMicros(imp, next, floor, floorRate);
              if (nextFloor >= 0 && bid >= nextFloor) {
                creative = next;
                mediaFloor = nextFloor;
              }
            }
            if (mediaFloor < 0) {
              reason = worse(reason, mediaFloor == -2 ? NoBid.CURRENCY : NoBid.BELOW_FLOOR);
              continue;
            }
            floor = mediaFloor;
          }
          if (bid <= 0 || bid < floor) {
            reason = worse(reason, NoBid.BELOW_FLOOR);
            continue;
          }
        }
        if (bid > bestBid) {
          best = camp;
          bestCreative = creative;
          bestBid = bid;
          bestFloor = floor;
          bestDeal = deal;
          bestFrequencyKey = fkey;
          bestNativeAssets = creative.isNative ? this.nativeFilled : 0;
        }
      }
      if (best === null) {
        out.noteImpReason(reason);
        return;
      }
      // Invalid traffic is screened only here, where a bid was found: a request the bidder would
      // not bid on anyway costs no UA scan.
      const verdict = this.trafficVerdict(req, settings.traffic);
      if (verdict != TrafficVerdict.VALID) {
        out.noteImpReason(verdict == TrafficVerdict.BOT_USER_AGENT ? NoBid.BOT_USER_AGENT : NoBid.DATACENTER_IP);
        return;
      }
      const slot = out.bid(out.count);
      slot.reset();
      slot.impIndex = impIndex;
      slot.holdMs = <i64>imp.exp * 1000;
      slot.impId.copyFrom(imp.id);
      slot.campaign = best;
      slot.creative = bestCreative;
      slot.categories = bestCreative !== null ? bestCreative.replyCategories(req.cattax) : null;
      // DSA transparency where the request supports or requires it, and never one the exchange
      // would refuse for its rendering (then a bid where it is only supported goes without).
      slot.dsa = req.regs.dsaRequired >= 1 && dsaCompatible(req, best) ? best.dsa : null;
      slot.profiled = !out.contextual && req.segmentCount > 0;
      slot.deal = bestDeal;
      slot.frequencyKey = bestFrequencyKey;
      if (bestCreative !== null && bestCreative.isNative) {
        // What the markup answers, fixed now: this impression's document is the one last read.
        slot.native = this.native;
        slot.nativeAssets = bestNativeAssets;
      }
      slot.nonce = this.nextNonce();
      if (req.test == 1) {
        // OpenRTB 2.6 §3.2.1: in test mode auctions are not billable. The bid is answered as in
        // live mode (the exchange is checking its integration) but reserves nothing, and its id
        // marks it: its notices answer "test" and change no money.
        slot.priceMicros = bestBid;
        formatTestBidId(slot);
        out.count++;
        return;
      }
      const reserved = budget.reserve(best, bestBid, slot);
      let failed = reserved <= 0;
      let failure = budget.lastFailure;
      if (!failed) {
        slot.reserved = true;
        slot.priceMicros = reserved;
        if (reserved < bestFloor) {
          // A partial reservation (the budget ran short) that no longer clears the floor. The bid
          // cleared it at its own price: what stopped it is the budget, and the reason says so (an
          // operator reading below_floor would look at floors and shading, not at the grant).
          budget.refund(slot);
          failed = true;
          failure = NoBid.BUDGET;
        }
      }
      if (failed) {
        slot.reset();
        // The next campaign may have the money (this one's grant is spent, or it was paused since
        // the last tick): it gets the impression, as if this one had not been eligible.
        if (this.noteFailed(best)) {
          carried = worse(carried, failure);
          continue;
        }
        out.noteImpReason(failure);
        return;
      }
      formatBidId(slot);
      out.count++;
      return;
    }
  }
}

/**
 * Campaigns an impression falls through to when the best ones cannot pay (their grant spent, paused
 * since the last tick, a reservation falling short of the floor): each costs a reservation
 * attempt; past them the impression gets no bid.
 */
const MAX_FALLBACKS: i32 = 4;

/**
 * An earlier slot of this impression's ad pod (video.podid, or audio.podid for an audio
 * creative) in this request already has a bid of the campaign, or of the same advertiser (a
 * creative sharing an adomain): one ad per advertiser in a commercial break.
 */
function inPodAlready(req: BidRequest, out: Decision, camp: Campaign, imp: Imp, cr: Creative): bool {
  const pod = slotFor(imp, cr).podid;
  for (let i = 0; i < out.count; i++) {
    const b = out.bid(i);
    const other = b.creative;
    if (other === null || other.markup != cr.markup) continue;
    if (b.campaign !== camp && !sameAdvertiser(other, cr)) continue;
    if (slotFor(req.imp(b.impIndex), cr).podid.equals(pod)) return true;
  }
  return false;
}

/** Format i of the banner has the size of an earlier format. */
function sizeListedBefore(b: Banner, i: i32): bool {
  const f = b.format(i);
  for (let j = 0; j < i; j++) {
    const g = b.format(j);
    if (g.w == f.w && g.h == f.h) return true;
  }
  return false;
}

/** The campaign targets this request: device type, geography, domain allow and block lists (request-domain.ts). */
function targets(req: BidRequest, c: Campaign, domains: RequestDomains): bool {
  const dev = req.device;
  if (!c.allowsDeviceType(dev.present ? dev.devicetype : 0)) return false;
  if (!inGeo(req, c)) return false;
  if ((c.domainAllow.size | c.domainBlock.size) != 0 && !domainListsAdmit(c, domains)) return false;
  return suppliedAsRequired(req, c);
}

/** The campaign's domain lists admit the request's domains (read by decide(): request-domain.ts). */
function domainListsAdmit(c: Campaign, domains: RequestDomains): bool {
  if (c.domainAllow.size > 0 && !domains.primaryIn(c.domainAllow)) return false;
  return c.domainBlock.size == 0 || !domains.anyIn(c.domainBlock);
}

/**
 * The device's location (device.geo; user.geo is the user's home, not where the ad is seen) is in
 * every geographic list the campaign has: country, region, metro, zip. A request without the
 * field a list needs does not match it.
 */
function inGeo(req: BidRequest, c: Campaign): bool {
  const any = c.countries.size + c.regions.size + c.metros.size + c.zips.size;
  if (any == 0) return true;
  const geo = req.device.geo;
  if (!req.device.present || !geo.present) return false;
  if (c.countries.size > 0 && !inCountries(c, geo.country)) return false;
  if (c.regions.size > 0 && !inRegions(c, geo.region)) return false;
  if (c.metros.size > 0 && !c.metros.has(geo.metro)) return false;
  return c.zips.size == 0 || c.zips.has(geo.zip);
}

/** The request's country as upper-case alpha-3 (inCountries): a view of 3 static bytes. */
const REQUEST_COUNTRY: Str = countryView();

function countryView(): Str {
  const s = new Str();
  s.set(memory.data(4), 3);
  return s;
}

/** The request's country, read as upper-case alpha-3 (an alpha-2 code too: country.ts), is listed. */
function inCountries(c: Campaign, country: Str): bool {
  if (!countryAlpha3(country.ptr, country.len, REQUEST_COUNTRY.ptr)) return false;
  return c.countries.has(REQUEST_COUNTRY);
}

/** The request's region, ignoring case and a country prefix ("us-ca" is "CA"), is listed (stored unprefixed). */
function inRegions(c: Campaign, region: Str): bool {
  const at = regionCodeStart(region.ptr, region.len);
  return c.regions.hasIgnoringCase(region.ptr + <usize>at, region.len - at);
}

/**
 * The campaign's supply-path rules admit the request's supply chain (source.schain, or 2.5's
 * source.ext.schain): complete when schain_complete, at most schain_max_nodes nodes, every node
 * named by schain_sellers_allow, none by schain_sellers_block. A request without a supply chain
 * (or with one without nodes) cannot show any of these, except that it has no node to block. A chain longer than the parser
 * keeps (MAX_SCHAIN_NODES) cannot be checked node by node, so it fails a seller rule.
 */
function suppliedAsRequired(req: BidRequest, c: Campaign): bool {
  if (!c.hasSupplyRules) return true;
  const allow = c.sellersAllow.size > 0;
  const block = c.sellersBlock.size > 0;
  const chain = req.source.effectiveSchain;
  // No chain, or one without nodes (nodes is required): nothing is known of the sellers.
  if (!req.source.present || !chain.present || chain.nodeCount == 0) return !c.schainComplete && c.schainMaxNodes == 0 && !allow;
  if (c.schainComplete && chain.complete != 1) return false;
  if (c.schainMaxNodes > 0 && chain.nodeCount > c.schainMaxNodes) return false;
  if (!allow && !block) return true;
  if (chain.asi.truncated) return false;
  for (let i = 0; i < chain.asi.count; i++) {
    const asi = chain.asi.get(i);
    const sid = chain.sid.get(i);
    if (allow && !c.sellersAllow.matches(asi, sid)) return false;
    if (block && c.sellersBlock.matches(asi, sid)) return false;
  }
  return true;
}

/** The exchange's block lists or the impression's own rules refuse this creative. */
@inline function refused(req: BidRequest, imp: Imp, cr: Creative): bool {
  return blocked(req, cr) || refusedByImp(imp, cr);
}

/** Our seat must be in wseat when one is given and must not be in a (whole) bseat. */
function buyerAllowed(req: BidRequest, seat: Str): bool {
  if (req.wseat.total > 0 && !req.wseat.contains(seat)) return false;
  return !req.bseat.truncated && !req.bseat.contains(seat);
}

/**
 * The request being decided (decide()): what is judged once per request (targetsRequest,
 * blocked) is kept on the campaign or creative with this stamp. Never 0, the stamp of "not yet".
 */
let requestStamp: u32 = 0;

function nextRequestStamp(): void {
  requestStamp++;
  if (requestStamp == 0) requestStamp = 1;
}

/** The request's badv, bcat, acat and bapp as read for the stamp `listsStamp` (block-lists.ts). */
const BADV = new BadvHosts();
const BCAT = new CategoryList();
const ACAT = new CategoryList();
const BAPP = new RequestList();
let listsStamp: u32 = 0;
/** bapp is read at the first creative that advertises an app: most sets have none, and bapp lists run to hundreds. */
let bappStamp: u32 = 0;

/**
 * The exchange's lists refuse the creative: advertiser domains (badv: the domain or a subdomain,
 * any case), the advertised app (bapp), categories (bcat, acat) and languages (wlang, wlangb). Only the request and the
 * creative matter: answered once per request and creative, however many impressions, sizes and
 * campaigns meet it; the lists are read at the first creative of a request.
 */
function blocked(req: BidRequest, cr: Creative): bool {
  if (cr.blockedInRequest == requestStamp) return cr.blockedAnswer;
  if (listsStamp != requestStamp) {
    listsStamp = requestStamp;
    BADV.read(req.badv);
    const iab1 = req.cattax == IAB_CONTENT_1;
    BCAT.read(req.bcat, iab1);
    ACAT.read(req.acat, iab1);
  }
  const answer = blockedByDomain(req, cr) || blockedByApp(req, cr) || !categoriesAllowed(req, cr) || !languageAllowed(req, cr);
  cr.blockedInRequest = requestStamp;
  cr.blockedAnswer = answer;
  return answer;
}

/** One of the creative's advertiser domains is blocked by badv (BADV, read for this request). */
function blockedByDomain(req: BidRequest, cr: Creative): bool {
  if (req.badv.count == 0) return false;
  for (let i = 0; i < cr.adomain.items.length; i++) {
    if (BADV.blocks(unchecked(cr.adomain.items[i]))) return true;
  }
  return false;
}

/**
 * The app the creative advertises is in bapp (app store ids, compared whole in any letter case:
 * a block list must not be passed by how an id is written). A bapp longer than the parser keeps
 * refuses every app-install creative: the part left out could list it.
 */
function blockedByApp(req: BidRequest, cr: Creative): bool {
  const b = cr.bundle;
  if (b.len == 0 || req.bapp.count == 0) return false;
  if (req.bapp.truncated) return true;
  if (bappStamp != requestStamp) {
    bappStamp = requestStamp;
    // As App Store numbers: "id1234567" is listed as 1234567, the form a bundle is kept in (campaign-config.ts).
    BAPP.read(req.bapp, true, true);
  }
  return BAPP.has(b.ptr, b.len);
}

/**
 * The request's categories admit the creative, compared in the request's taxonomy (cattax, default
 * IAB Content 1.0): bcat blocks a creative with a listed category, acat (2.6) allows only creatives
 * whose categories are all listed (in IAB 1.0 an entry also covers its subcategories: "IAB3"
 * covers "IAB3-1"). A creative with categories but none in that taxonomy cannot be compared, so
 * either list refuses it (a string match across taxonomies would let through what the exchange
 * blocked, or block at random); one without any categories passes bcat and is refused by acat
 * (nothing shows it is allowed).
 */
function categoriesAllowed(req: BidRequest, cr: Creative): bool {
  const bcat = req.bcat.count > 0;
  const acat = req.acat.count > 0;
  if (!(bcat || acat)) return true;
  const cats = cr.categoriesIn(req.cattax);
  if (cats === null) return !acat && cr.categories.length == 0;
  if (bcat && cats.anyBlockedBy(BCAT)) return false;
  return !acat || cats.allAllowedBy(ACAT);
}

/**
 * The request's allowed languages (2.6 wlang, wlangb; both apply when both are given) admit the
 * creative: its declared language is listed, or it has no linguistic content ("xx"). A creative
 * that declares no language is refused by either list: nothing shows it is in one of them.
 */
function languageAllowed(req: BidRequest, cr: Creative): bool {
  const wlang = req.wlang.count > 0;
  const wlangb = req.wlangb.count > 0;
  if (!(wlang || wlangb) || cr.languageFree) return true;
  if (wlang && !cr.languageIn(req.wlang)) return false;
  return !wlangb || cr.languageInRanges(req.wlangb);
}

/**
 * The campaign can give the DSA transparency this request asks for (IAB DSA Transparency
 * extension): it declares `dsa`, and someone shows the notice, once. A publisher that cannot
 * render it (pubrender 0) needs creatives that do (adrender 1); one that will (pubrender 2) must
 * not get creatives that also do (exchanges drop such bids, e.g. Prebid's DSA control).
 */
function dsaCompatible(req: BidRequest, camp: Campaign): bool {
  const dsa = camp.dsa;
  if (dsa === null) return false;
  const pub = req.regs.dsaPubRender;
  if (pub == 0 && dsa.adrender == 0) return false;
  return !(pub == 2 && dsa.adrender == 1);
}

/**
 * The impression's own creative rules: a secure impression takes HTTPS-only markup; the banner
 * must support every API framework the markup needs (api, e.g. MRAID); its blocked types (btype)
 * and attributes (battr). A list longer than the parser keeps cannot be checked in full, so it
 * blocks (as for bcat/badv).
 */
function refusedByImp(imp: Imp, cr: Creative): bool {
  if (imp.secure == 1 && !cr.secure) return true;
  const b = imp.banner;
  if (!cr.apisSupported(b.api)) return true;
  if (b.btype.truncated || b.battr.truncated) return true;
  if (cr.bannerTypes != 0) {
    for (let i = 0; i < b.btype.count; i++) {
      if (cr.isBannerType(b.btype.get(i))) return true;
    }
  }
  for (let i = 0; i < b.battr.count; i++) {
    if (cr.hasAttr(b.battr.get(i))) return true;
  }
  return false;
}

const EMPTY = new Str();

/**
 * The impression's floor as the model's `floor=` feature takes it: in floor_feature_currency when
 * one is set and both currencies have a rate (a USD floor of 1.01 is 7.21 CNY for a model that
 * learned CNY floors, not 1.01 CNY), else as sent. `floorRate`: the floor currency's rate when the
 * decision has it (0: not looked up, a private auction's).
 */
@inline function floorForFeature(imp: Imp, settings: DecisionSettings, floorRate: f64): f64 {
  const to = settings.floorFeatureRate;
  if (to <= 0 || !(imp.bidfloor > 0)) return imp.bidfloor;
  const from = floorRate > 0 ? floorRate : settings.fx.rateToAccount(imp.bidfloorcur, settings.currency);
  return from > 0 ? (imp.bidfloor * from) / to : imp.bidfloor;
}
