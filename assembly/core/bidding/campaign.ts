// Campaigns as the filter holds them: parsed once from the host's sync answer
// (a cold path, so these objects may allocate), read on every bid request.
import { OwnedBytes, SellerRules, StringSet } from "./owned-bytes";
import { Creative } from "./creative";
import { bytesEqual } from "../bytes/str";

/** Frequency caps of one campaign at most (frequency_caps). */
export const MAX_FREQUENCY_CAPS: i32 = 4;

// What campaign-config.ts, the decision and the reply writer import from here.
export { OwnedBytes, StringSet } from "./owned-bytes";
export { CategorySet, Creative, IAB_CONTENT_1, MAX_CREATIVE_APIS, MAX_CREATIVE_ATTRS, bannerTypesOf, languagePrimaryLength, markupIsSecure } from "./creative";

/**
 * What a campaign's bids tell an exchange under the EU Digital Services Act (IAB Tech Lab's DSA
 * Transparency extension: bid.ext.dsa), for requests whose regs.ext.dsa asks for it.
 */
export class CampaignDsa {
  /** On whose behalf the ad is shown (at most 100 characters). */
  behalf: OwnedBytes = OwnedBytes.fromString("");
  /** Who paid for it (at most 100 characters; given even when it is the same). */
  paid: OwnedBytes = OwnedBytes.fromString("");
  /** 1: the creatives render the DSA notice themselves; 0: they do not. */
  adrender: i32 = 0;
  /**
   * The domain of the party that applied the user parameters (the bidder's operator), for
   * bid.ext.dsa.transparency; empty: no transparency entry.
   */
  domain: OwnedBytes = OwnedBytes.fromString("");
  /** `,"ext":{"dsa":{"behalf":…,"paid":…,"adrender":N`, written at the first bid (bid-response.ts). */
  replyPrefix: OwnedBytes | null = null;
}

export class Campaign {
  /** Position in the campaign table (ledger keys and metrics use it). */
  index: i32 = 0;
  id: OwnedBytes = OwnedBytes.fromString("");
  active: bool = true;
  /** Value of one conversion, in micros of the account currency. */
  valuePerConversionMicros: i64 = 0;
  /** Campaign-level bid multiplier (the seed's alpha). */
  alpha: f64 = 1.0;
  /** Cap on the bid, CPM in micros (0 = no cap). */
  maxBidCpmMicros: i64 = 0;
  /** Prior for the market price (CPM micros) used by the ROI guard until wins give an estimate; 0 disables. */
  marketPriceCpmMicros: i64 = 0;
  /** The ROI guard skips when expected cost × roiFactor exceeds the expected value. */
  roiFactor: f64 = 1.0;

  // Targeting (empty list = any).
  sizes: Array<u32> = new Array<u32>(); // (w << 16) | h
  deviceTypes: u32 = 0; // bit n set = OpenRTB devicetype n allowed; 0 = any
  countries: StringSet = new StringSet();
  /** device.geo.region: ISO 3166-2 subdivision codes as exchanges send them ("CA", without the country). */
  regions: StringSet = new StringSet();
  /** device.geo.metro: Nielsen DMA codes ("803") or the exchange's metro codes. */
  metros: StringSet = new StringSet();
  /** device.geo.zip: postal codes. */
  zips: StringSet = new StringSet();
  domainAllow: StringSet = new StringSet(); // the request's primary domain (request-domain.ts)
  domainBlock: StringSet = new StringSet();
  /**
   * Supply-path rule: bid only on requests whose supply chain (source.schain, or 2.5's
   * source.ext.schain) is complete (complete = 1): every seller back to the publisher is named.
   */
  schainComplete: bool = false;
  /**
   * Supply-path rule: bid only on requests whose supply chain has at most this many nodes (sellers
   * between the publisher and the exchange, the exchange included); 0 = no limit.
   */
  schainMaxNodes: i32 = 0;
  /**
   * Supply-path rules on the sellers: every node of the request's supply chain must be named by
   * an allow entry (none: any seller), and none by a block entry (decision.ts suppliedAsRequired).
   */
  sellersAllow: SellerRules = new SellerRules();
  sellersBlock: SellerRules = new SellerRules();
  /** Any of the four supply-path rules above (set once the targeting is read): most campaigns have none. */
  hasSupplyRules: bool = false;
  /** Dayparting: bit h set = bid in local hour h (0–23); 0 = any hour. */
  hours: u32 = 0;
  /** Dayparting: bit d set = bid on local weekday d (0 Sunday … 6 Saturday); 0 = any day. */
  weekdays: u32 = 0;
  /** Video placements (OpenRTB 2.6 video.plcmt 1-4) it buys: bit n = plcmt n; 0 = any (video.ts). */
  videoPlcmt: u32 = 0;
  /** Roll positions it buys (video.ts VIDEO_PRE_ROLL | VIDEO_MID_ROLL | VIDEO_POST_ROLL); 0 = any. */
  videoStart: u32 = 0;
  /** Skippability it buys (targeting.video_skippable): 1 skippable ads only, 0 non-skippable only, -1 either (video.ts). */
  videoSkippable: i32 = -1;
  /**
   * Rewarded slots it buys (targeting.rewarded; imp.rwdd, the user gets a reward for viewing): 1
   * rewarded only, 0 not rewarded only, -1 either.
   */
  rewarded: i32 = -1;
  /** Interstitial slots it buys (targeting.interstitial; imp.instl): 1 interstitial only, 0 the others only, -1 either. */
  interstitial: i32 = -1;
  /** Dayparting on this fixed clock (minutes from UTC) instead of the user's; only with hasDaypartOffset. */
  daypartOffsetMinutes: i32 = 0;
  hasDaypartOffset: bool = false;

  /** Private-marketplace deal ids this campaign buys in (imp.pmp.deals; deals.ts). */
  deals: StringSet = new StringSet();
  /** Bid only in those deals, never in the open auction. */
  dealsOnly: bool = false;
  /** DSA transparency of its bids, or null: it cannot bid where a request requires it. */
  dsa: CampaignDsa | null = null;
  /**
   * Frequency caps (frequency.ts): for each i < frequencyCaps, at most capImpressions[i]
   * impressions (charged wins) per user in capWindowMs[i] (e.g. 1 an hour and 3 a day); 0: none.
   */
  frequencyCaps: i32 = 0;
  readonly capImpressions: StaticArray<i32> = new StaticArray<i32>(MAX_FREQUENCY_CAPS);
  readonly capWindowMs: StaticArray<i64> = new StaticArray<i64>(MAX_FREQUENCY_CAPS);
  /**
   * Campaigns that count one user's impressions together (frequency_group, e.g. one advertiser's
   * campaigns): null when the campaign counts alone. The group's campaigns all have the same caps.
   */
  frequencyGroup: OwnedBytes | null = null;
  /** One of its creatives is a video (set by the parser): only then is an impression's video looked at. */
  hasVideo: bool = false;
  /** One of its creatives is audio (set by the parser): only then is an impression's audio looked at. */
  hasAudio: bool = false;
  /** One of its creatives is native (set by the parser): only then is an impression's native request read. */
  hasNative: bool = false;
  /** The hash that keys the per-user counts: of the id, or of the frequency_group (set by the parser). */
  idHash: u64 = 0;

  creatives: Array<Creative> = new Array<Creative>();

  // Budget (hard caps block reservations; soft caps only steer pacing).
  totalBudgetMicros: i64 = 0;
  dailyBudgetMicros: i64 = 0;
  hourlyBudgetMicros: i64 = 0;
  minuteBudgetMicros: i64 = 0;

  /** The request whose request-level targeting last judged it (decision.ts: targetsRequest), and its answer. */
  targetedInRequest: u32 = 0;
  targetedAnswer: bool = false;

  allowsSize(w: i32, h: i32): bool {
    if (this.sizes.length == 0) return true;
    const key = (<u32>w << 16) | (<u32>h & 0xffff);
    for (let i = 0; i < this.sizes.length; i++) {
      if (unchecked(this.sizes[i]) == key) return true;
    }
    return false;
  }

  /** Dayparting admits this local hour (0–23) and weekday (0 Sunday … 6). */
  /**
   * The hours of the budget's day (its clock: `budgetOffsetMinutes` from UTC) this campaign may
   * bid in, as a mask for SpendPlan.fractionWithin; every hour when it has no `hours`. Its hours
   * are on its own dayparting clock when it has one, else on each user's clock, taken here as the
   * budget's (an approximation: users in the account's zone); offsets round to whole hours.
   */
  budgetHoursMask(budgetOffsetMinutes: i32): u32 {
    if (this.hours == 0) return 0xffffff;
    const shift = this.hasDaypartOffset ? <i32>Math.round(<f64>(this.daypartOffsetMinutes - budgetOffsetMinutes) / 60.0) : 0;
    let mask: u32 = 0;
    for (let b = 0; b < 24; b++) {
      const own = (((b + shift) % 24) + 24) % 24; // the campaign clock's hour at budget hour b
      if ((this.hours & (1 << <u32>own)) != 0) mask |= 1 << <u32>b;
    }
    return mask;
  }

  @inline allowsTime(hour: i32, weekday: i32): bool {
    return (this.hours == 0 || (this.hours & (1 << <u32>hour)) != 0) && (this.weekdays == 0 || (this.weekdays & (1 << <u32>weekday)) != 0);
  }

  allowsDeviceType(deviceType: i32): bool {
    if (this.deviceTypes == 0) return true;
    if (deviceType <= 0 || deviceType > 31) return false;
    return (this.deviceTypes & (1 << <u32>deviceType)) != 0;
  }
}

/** Most campaigns in one set (the parser refuses more). */
export const MAX_CAMPAIGNS: i32 = 256;

/** The campaigns of one configuration version. Replaced as a whole. */
export class CampaignTable {
  campaigns: Array<Campaign> = new Array<Campaign>();
  version: i64 = 0;
  /**
   * The currency the set's money is in (top-level "currency"), when the file says: a filter whose
   * account currency differs refuses the set (budgets and bid caps would be spent in the wrong
   * unit). Empty: not said.
   */
  currency: OwnedBytes = OwnedBytes.fromString("");
  /** Some campaign buys in deals (otherwise an impression's deals need no look). */
  buysDeals: bool = false;
  /** Some campaign has dayparting (otherwise a request's local hour and weekday are not needed). */
  dayparted: bool = false;
  /** Some campaign has a frequency cap (otherwise the request's user needs no key). */
  frequencyCapped: bool = false;
  /** Some campaign has a domain allow or block list (otherwise the request's domains are not read). */
  hasDomainLists: bool = false;
  /** Some campaign has a video creative (otherwise a video-only impression is no_match at once). */
  hasVideo: bool = false;
  /** Some campaign has an audio creative (otherwise an audio-only impression is no_match at once). */
  hasAudio: bool = false;
  /** Some campaign has a native creative (otherwise a native-only impression is no_match at once). */
  hasNative: bool = false;

  @inline get size(): i32 {
    return this.campaigns.length;
  }

  /**
   * Why a filter whose account currency (plugin currency) is [accountPtr, +accountLen) cannot
   * run this set: its money is in another currency (budgets and bid caps would be spent as that
   * currency's micros). "" when it can, or when the set does not say. The filter's sync and the
   * host's check before it publishes (the tools entry's checkCampaigns) both ask this.
   */
  currencyRefusal(accountPtr: usize, accountLen: i32): string {
    const set = this.currency;
    if (set.len == 0 || bytesEqual(set.ptr, set.len, accountPtr, accountLen)) return "";
    return "currency: the campaigns are in " + set.toString() + ", the filter's account currency (plugin currency) is " +
      String.UTF8.decodeUnsafe(accountPtr, <usize>accountLen);
  }

  @inline at(i: i32): Campaign {
    return unchecked(this.campaigns[i]);
  }
}
