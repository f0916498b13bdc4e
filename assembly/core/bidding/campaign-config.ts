// Parses the campaign set the host publishes ({"version": n, "campaigns": [...]})
// into a CampaignTable. Cold path: runs when the configuration version changes.
// The format is documented in docs/CAMPAIGNS.md.
import { ConfigDoc } from "../config/config-doc";
import { MAX_CAMPAIGNS, MAX_FREQUENCY_CAPS, Campaign, CampaignDsa, CampaignTable, CategorySet, Creative, IAB_CONTENT_1, MAX_CREATIVE_APIS, MAX_CREATIVE_ATTRS, languagePrimaryLength, OwnedBytes, StringSet, bannerTypesOf, markupIsSecure } from "./campaign";
import { MAX_CAMPAIGN_ID } from "../ledger/reservation-record";
import { appStoreNumberAt, hostOf } from "../bytes/host-name";
import { Str, bytesEqual, bytesEqualIgnoreAsciiCase } from "../bytes/str";
import { MARKUP_AUDIO, MARKUP_BANNER, MARKUP_NATIVE, MARKUP_VIDEO } from "./creative";
import { NativeCreative, nativeIsSecure } from "./native-creative";
import { checkNative, readNativeKey, resolveNativeVideos } from "./native-config";
import { VIDEO_MID_ROLL, VIDEO_POST_ROLL, VIDEO_PRE_ROLL, vastProtocolOf } from "./media";
import { MAX_ID_BYTES } from "../openrtb/limits";
import { isCurrencyCode } from "./currency";
import { countryAlpha3, isAssignedAlpha3, regionCodeStart } from "../openrtb/country";

/** A country code read as alpha-3 (countrySet). */
const COUNTRY_CODE: usize = memory.data(4);
/** Views for the duplicate checks of deal ids and categories (StringSet.has). */
const DEAL_ID = new Str();
const CATEGORY = new Str();
import { SellerRules } from "./owned-bytes";
import { MAX_FREQUENCY_CAP, MAX_FREQUENCY_WINDOW_S, campaignIdHash, frequencyGroupHash } from "./frequency";

const MAX_MICROS: i64 = 1_000_000_000_000_000; // 1e9 currency units
const MAX_CAMPAIGN_DEALS: i32 = 64;
const MAX_CREATIVE_CATEGORIES: i32 = 64;
/** Entries of a seller rule list: each supply-chain node is compared with every entry. */
const MAX_SELLER_RULES: i32 = 256;
/** The request parser's longest id (deal.id included): a longer one could never match. */
const MAX_DEAL_ID: i32 = MAX_ID_BYTES;
/**
 * Scratch for the unescaped strings of one campaign document, all of them together (escapes
 * are rare; 256 KiB is ample). The filter's parser and the host's check (the tools entry) must
 * use the same value: a document whose escaped strings need more is refused.
 */
export const CAMPAIGN_SCRATCH_BYTES: i32 = 256 * 1024;

export class CampaignConfigParser {
  readonly doc: ConfigDoc;
  private readonly tmp: Str = new Str();

  constructor(maxBytes: i32 = 1 << 20) {
    this.doc = new ConfigDoc(maxBytes);
  }

  /** Returns the table, or null with the reason in `error`. */
  parse(ptr: usize, len: i32): CampaignTable | null {
    const d = this.doc;
    d.start(ptr, len);
    const table = new CampaignTable();
    let sawCampaigns = false;
    if (!d.beginObject()) return null;
    while (d.nextKey()) {
      if (d.keyIs("version")) table.version = d.int(0, i64.MAX_VALUE);
      else if (d.keyIs("currency")) {
        table.currency = d.owned(3);
        if (!d.failed && !isCurrencyCode(table.currency.ptr, table.currency.len)) d.fail("expected a 3-letter upper-case ISO 4217 code, e.g. \"USD\"");
      } else if (d.keyIs("campaigns")) {
        sawCampaigns = true;
        this.campaigns(table);
      } else d.unknownKey();
      d.endMember();
    }
    if (!d.failed && !sawCampaigns) d.fail("campaigns: required");
    if (!d.finish()) return null;
    return table;
  }

  get error(): string {
    return this.doc.message();
  }

  private campaigns(table: CampaignTable): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      if (i >= MAX_CAMPAIGNS) {
        d.fail("more than " + MAX_CAMPAIGNS.toString() + " campaigns");
        return;
      }
      const c = this.campaign();
      c.index = table.campaigns.length;
      if (c.deals.size > 0) table.buysDeals = true;
      if (c.hours != 0 || c.weekdays != 0) table.dayparted = true;
      if (c.frequencyCaps > 0) table.frequencyCapped = true;
      if (c.domainAllow.size > 0 || c.domainBlock.size > 0) table.hasDomainLists = true;
      if (c.hasVideo) table.hasVideo = true;
      if (c.hasAudio) table.hasAudio = true;
      if (c.hasNative) table.hasNative = true;
      for (let j = 0; j < table.campaigns.length; j++) {
        const other = table.campaigns[j];
        if (bytesEqual(other.id.ptr, other.id.len, c.id.ptr, c.id.len)) d.fail("duplicate campaign id");
        // One set of counts: one set of caps. A group's campaigns with other windows would read
        // each other's counts as their own.
        else if (c.frequencyGroup !== null && other.frequencyGroup !== null && c.idHash == other.idHash && !sameCaps(c, other)) {
          d.fail("frequency_group \"" + c.frequencyGroup!.toString() + "\": caps differ from campaign \"" + other.id.toString() + "\"'s (a group's campaigns share their counts: give them the same caps)");
        }
      }
      table.campaigns.push(c);
      d.endMember();
      i++;
    }
  }

  private campaign(): Campaign {
    const d = this.doc;
    const c = new Campaign();
    let hasId = false;
    if (!d.beginObject()) return c;
    while (d.nextKey()) {
      if (d.keyIs("id")) {
        c.id = d.owned(MAX_CAMPAIGN_ID);
        hasId = c.id.len > 0;
      } else if (d.keyIs("active")) c.active = d.bool();
      else if (d.keyIs("value_per_conversion_micros")) c.valuePerConversionMicros = d.int(0, MAX_MICROS);
      else if (d.keyIs("alpha")) c.alpha = d.number(0, 100);
      else if (d.keyIs("max_bid_cpm_micros")) c.maxBidCpmMicros = d.int(0, MAX_MICROS);
      else if (d.keyIs("market_price_cpm_micros")) c.marketPriceCpmMicros = d.int(0, MAX_MICROS);
      else if (d.keyIs("roi_factor")) c.roiFactor = d.number(0, 100);
      else if (d.keyIs("targeting")) this.targeting(c);
      else if (d.keyIs("creatives")) this.creatives(c);
      else if (d.keyIs("budget")) this.budget(c);
      else if (d.keyIs("deals")) this.deals(c);
      else if (d.keyIs("deals_only")) c.dealsOnly = d.bool();
      else if (d.keyIs("dsa")) c.dsa = this.dsa();
      else if (d.keyIs("frequency_cap")) {
        if (c.frequencyCaps > 0) d.fail("give frequency_cap or frequency_caps, not both");
        else this.frequencyCap(c);
      } else if (d.keyIs("frequency_caps")) {
        if (c.frequencyCaps > 0) d.fail("give frequency_cap or frequency_caps, not both");
        else this.frequencyCaps(c);
      }
      else if (d.keyIs("frequency_group")) c.frequencyGroup = d.owned(MAX_CAMPAIGN_ID);
      else if (d.keyIs("name")) d.string();
      else d.unknownKey();
      d.endMember();
    }
    if (!d.failed && !hasId) d.fail("id: required");
    const group = c.frequencyGroup;
    if (group !== null) {
      if (!d.failed && group.len == 0) d.fail("frequency_group: empty");
      if (!d.failed && c.frequencyCaps == 0) d.fail("frequency_group: needs frequency_cap or frequency_caps");
      c.idHash = frequencyGroupHash(group.ptr, group.len);
    } else if (hasId) c.idHash = campaignIdHash(c.id.ptr, c.id.len);
    if (!d.failed && c.creatives.length == 0) d.fail("creatives: at least one required");
    // A campaign that may bid nowhere is a mistake in the file, not a campaign to lease money to.
    if (!d.failed && c.dealsOnly && c.deals.size == 0) d.fail("deals_only: needs deals");
    if (!d.failed && (c.videoPlcmt != 0 || c.videoStart != 0 || c.videoSkippable >= 0) && !c.hasVideo) d.fail("targeting.video_plcmt, video_start, video_skippable: need a video creative");
    return c;
  }

  /** `{"impressions": N, "seconds": S}`: at most N charged impressions per user in S seconds; both required. */
  private frequencyCap(c: Campaign): void {
    const d = this.doc;
    if (!d.beginObject()) return;
    let impressions = 0;
    let windowMs: i64 = 0;
    while (d.nextKey()) {
      if (d.keyIs("impressions")) impressions = <i32>d.int(1, MAX_FREQUENCY_CAP);
      else if (d.keyIs("seconds")) windowMs = d.int(1, MAX_FREQUENCY_WINDOW_S) * 1000;
      else d.unknownKey();
      d.endMember();
    }
    if (d.failed) return;
    if (impressions == 0 || windowMs == 0) {
      d.fail("impressions and seconds are required");
      return;
    }
    for (let i = 0; i < c.frequencyCaps; i++) {
      if (unchecked(c.capWindowMs[i]) == windowMs) {
        d.fail("a second cap of " + (windowMs / 1000).toString() + " seconds: one cap per window");
        return;
      }
    }
    unchecked((c.capImpressions[c.frequencyCaps] = impressions));
    unchecked((c.capWindowMs[c.frequencyCaps] = windowMs));
    c.frequencyCaps++;
  }

  /** `[{"impressions": N, "seconds": S}, ...]`: 1-4 caps, each with its own window, all applied (e.g. 1 an hour, 3 a day). */
  private frequencyCaps(c: Campaign): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      if (i >= MAX_FREQUENCY_CAPS) d.fail("at most " + MAX_FREQUENCY_CAPS.toString() + " caps");
      else this.frequencyCap(c);
      d.endMember();
      i++;
    }
    if (!d.failed && i == 0) d.fail("empty: leave it out for no cap");
  }

  /** `{"behalf": "…", "paid": "…", "adrender": 0, "domain": "…"}`: behalf and paid required. */
  private dsa(): CampaignDsa {
    const d = this.doc;
    const dsa = new CampaignDsa();
    if (!d.beginObject()) return dsa;
    while (d.nextKey()) {
      if (d.keyIs("behalf")) dsa.behalf = this.dsaName();
      else if (d.keyIs("paid")) dsa.paid = this.dsaName();
      else if (d.keyIs("adrender")) dsa.adrender = <i32>d.int(0, 1);
      else if (d.keyIs("domain")) {
        dsa.domain = d.owned(253);
        if (!d.failed && dsa.domain.len == 0) d.fail("empty domain");
      } else d.unknownKey();
      d.endMember();
    }
    if (!d.failed && (dsa.behalf.len == 0 || dsa.paid.len == 0)) d.fail("behalf and paid are required");
    return dsa;
  }

  /** A DSA advertiser name: 1–100 characters (the extension's limit). */
  private dsaName(): OwnedBytes {
    const d = this.doc;
    const name = d.string();
    if (d.failed) return OwnedBytes.fromString("");
    if (name.length == 0 || name.length > 100) {
      d.fail("expected 1-100 characters");
      return OwnedBytes.fromString("");
    }
    return OwnedBytes.fromString(name);
  }

  /** Deal ids: distinct non-empty strings of at most MAX_DEAL_ID bytes, at most MAX_CAMPAIGN_DEALS. */
  private deals(c: Campaign): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      const id = d.owned(MAX_DEAL_ID);
      if (!d.failed && id.len == 0) d.fail("empty deal id");
      if (!d.failed && i >= MAX_CAMPAIGN_DEALS) d.fail("at most " + MAX_CAMPAIGN_DEALS.toString() + " deals");
      // A view of the id for the lookup (the set's index makes it O(1): 64 deals × 256 campaigns).
      DEAL_ID.set(id.ptr, id.len);
      if (!d.failed && c.deals.has(DEAL_ID)) d.fail("duplicate deal id");
      c.deals.push(id);
      d.endMember();
      i++;
    }
  }

  private targeting(c: Campaign): void {
    const d = this.doc;
    if (!d.beginObject()) return;
    let hasZone = false;
    while (d.nextKey()) {
      if (d.keyIs("sizes")) this.sizes(c);
      else if (d.keyIs("device_types")) this.deviceTypes(c);
      else if (d.keyIs("countries")) this.countrySet(c.countries);
      else if (d.keyIs("regions")) this.regionSet(c.regions);
      else if (d.keyIs("metros")) this.stringSet(c.metros);
      else if (d.keyIs("zips")) this.stringSet(c.zips);
      else if (d.keyIs("domains_allow")) this.domainSet(c.domainAllow);
      else if (d.keyIs("domains_block")) this.domainSet(c.domainBlock);
      else if (d.keyIs("schain_complete")) c.schainComplete = d.bool();
      else if (d.keyIs("schain_max_nodes")) c.schainMaxNodes = <i32>d.int(1, 100);
      else if (d.keyIs("schain_sellers_allow")) this.sellerRules(c.sellersAllow);
      else if (d.keyIs("schain_sellers_block")) this.sellerRules(c.sellersBlock);
      else if (d.keyIs("hours")) c.hours = this.bits(0, 23, "hour");
      else if (d.keyIs("weekdays")) c.weekdays = this.bits(0, 6, "weekday");
      else if (d.keyIs("video_plcmt")) c.videoPlcmt = this.bits(1, 4, "placement");
      else if (d.keyIs("video_start")) c.videoStart = this.videoStarts();
      else if (d.keyIs("video_skippable")) c.videoSkippable = d.bool() ? 1 : 0;
      else if (d.keyIs("rewarded")) c.rewarded = d.bool() ? 1 : 0;
      else if (d.keyIs("interstitial")) c.interstitial = d.bool() ? 1 : 0;
      else if (d.keyIs("daypart_utc_offset_minutes")) {
        c.daypartOffsetMinutes = <i32>d.int(-720, 840);
        c.hasDaypartOffset = true;
      }
      // An IANA zone: the host resolves it into daypart_utc_offset_minutes for the current date
      // and publishes again when the zone's offset changes (host/src/control/campaign-zones.ts);
      // the filter has no time zone database and reads the offset only.
      else if (d.keyIs("daypart_time_zone")) {
        if (d.string().length == 0) d.fail("empty");
        hasZone = true;
      }
      else d.unknownKey();
      d.endMember();
    }
    c.hasSupplyRules = c.schainComplete || c.schainMaxNodes > 0 || c.sellersAllow.size > 0 || c.sellersBlock.size > 0;
    if (!d.failed && hasZone && !c.hasDaypartOffset) d.fail("daypart_time_zone: needs the daypart_utc_offset_minutes the host sets from it (a set not published by the host?)");
    // A clock for dayparting that has no hours or weekdays to apply to is a mistake in the file.
    // Named as the file wrote it: with a zone, the offset is the host's, not the user's.
    if (!d.failed && c.hasDaypartOffset && c.hours == 0 && c.weekdays == 0) d.fail((hasZone ? "daypart_time_zone" : "daypart_utc_offset_minutes") + ": needs hours or weekdays");
  }

  private sizes(c: Campaign): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      const s = d.string();
      const x = s.indexOf("x");
      const w = x > 0 ? parseDimension(s.substring(0, x)) : -1;
      const h = x > 0 ? parseDimension(s.substring(x + 1)) : -1;
      if (!d.failed && (w <= 0 || h <= 0)) d.fail("expected \"WxH\"");
      else c.sizes.push((<u32>w << 16) | <u32>h);
      d.endMember();
      i++;
    }
  }

  /** Distinct integers min..max as a bit set (bit n = n); an empty list is refused (it would never bid). */
  private bits(min: i32, max: i32, what: string): u32 {
    const d = this.doc;
    let set: u32 = 0;
    if (!d.beginArray()) return 0;
    let i = 0;
    while (d.nextElement(i)) {
      const n = <u32>d.int(min, max);
      if (!d.failed && (set & (1 << n)) != 0) d.fail("duplicate " + what);
      set |= 1 << n;
      d.endMember();
      i++;
    }
    if (!d.failed && set == 0) d.fail("empty: leave it out to bid at any " + what);
    return set;
  }

  /** `"pre"`, `"mid"`, `"post"` (roll positions, video.ts VIDEO_PRE_ROLL...), distinct, not empty. */
  private videoStarts(): u32 {
    const d = this.doc;
    let set: u32 = 0;
    if (!d.beginArray()) return 0;
    let i = 0;
    while (d.nextElement(i)) {
      const s = d.string();
      const bit: u32 = s == "pre" ? VIDEO_PRE_ROLL : s == "mid" ? VIDEO_MID_ROLL : s == "post" ? VIDEO_POST_ROLL : 0;
      if (!d.failed && bit == 0) d.fail("expected \"pre\", \"mid\" or \"post\"");
      else if (!d.failed && (set & bit) != 0) d.fail("duplicate position");
      set |= bit;
      d.endMember();
      i++;
    }
    if (!d.failed && set == 0) d.fail("empty: leave it out to bid at any position");
    return set;
  }

  private deviceTypes(c: Campaign): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      const t = <u32>d.int(1, 31);
      c.deviceTypes |= 1 << t;
      d.endMember();
      i++;
    }
  }

  private stringSet(set: StringSet): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      const o = d.owned(256);
      set.push(o);
      d.endMember();
      i++;
    }
  }

  /** ISO 3166-1 codes, stored as upper-case alpha-3 (an alpha-2 code is taken as its alpha-3: country.ts). */
  private countrySet(set: StringSet): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      const o = d.owned(256);
      if (!d.failed && (!countryAlpha3(o.ptr, o.len, COUNTRY_CODE) || !isAssignedAlpha3(COUNTRY_CODE))) d.fail('expected an ISO 3166-1 country code (alpha-3 as OpenRTB sends it, e.g. "USA"; or alpha-2)');
      else set.push(new OwnedBytes(COUNTRY_CODE, 3));
      d.endMember();
      i++;
    }
  }

  /** Region codes, stored without a country prefix ("us-ca" is "ca"; matched ignoring case: decision.ts inRegions). */
  private regionSet(set: StringSet): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      const o = d.owned(256);
      const at = regionCodeStart(o.ptr, o.len);
      if (!d.failed && o.len - at == 0) d.fail("empty region");
      else set.push(new OwnedBytes(o.ptr + <usize>at, o.len - at));
      d.endMember();
      i++;
    }
  }

  /**
   * Domains and bundles, stored lower-case (matching ignores ASCII case). Each must be a plain host
   * name, as the request's are compared (bytes/host-name.ts): a URL, a port or a trailing dot
   * would never match, so it is refused with the name to write instead.
   */
  private domainSet(set: StringSet): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      const written = d.string();
      const s = written.toLowerCase();
      if (!d.failed && s.length == 0) d.fail("empty domain");
      else if (!d.failed) {
        const why = notAHostName(written);
        if (why.length > 0) d.fail(why);
      }
      // An App Store id written "id1234567" is kept as its number, as the request's app.bundle is read.
      set.push(appStoreNumberOf(OwnedBytes.fromString(s)));
      d.endMember();
      i++;
    }
  }

  /**
   * Seller entries: "asi" (an advertising system's canonical domain, any seller on it) or
   * "asi:sid" (one seller account there; a domain has no ':', so the first one splits), at most
   * MAX_SELLER_RULES, none empty, none twice.
   */
  private sellerRules(rules: SellerRules): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      const entry = d.string();
      if (!d.failed) {
        const colon = entry.indexOf(":");
        let asi: string = entry;
        let sid: string | null = null;
        if (colon >= 0) {
          asi = entry.substring(0, colon);
          sid = entry.substring(colon + 1);
        }
        if (asi.length == 0 || asi.length > 253) d.fail("expected \"asi\" or \"asi:sid\" with a domain of 1-253 characters");
        else if (sid !== null && changetype<string>(sid).length == 0) d.fail("empty seller id after ':'");
        else if (i >= MAX_SELLER_RULES) d.fail(`more than ${MAX_SELLER_RULES} entries`);
        else if (!rules.add(asi, sid)) d.fail(`${entry} is listed twice`);
      }
      d.endMember();
      i++;
    }
  }

  private creatives(c: Campaign): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      const cr = this.creative();
      if (cr.isVideo) c.hasVideo = true;
      if (cr.isAudio) c.hasAudio = true;
      if (cr.isNative) c.hasNative = true;
      c.creatives.push(cr);
      d.endMember();
      i++;
    }
    resolveNativeVideos(d, c.creatives);
  }

  private creative(): Creative {
    const d = this.doc;
    const cr = new Creative();
    if (!d.beginObject()) return cr;
    let bannerType: i32 = -1;
    let secure: i32 = -1;
    let protocol: i32 = -1;
    // A native creative's keys are read whatever the order of "type" (checked after the loop).
    const native = new NativeCreative();
    let nativeKeys = false;
    let otherKeys = false;
    while (d.nextKey()) {
      if (readNativeKey(d, native)) {
        nativeKeys = true;
        d.endMember();
        continue;
      }
      if (!d.keyIs("crid") && !d.keyIs("type") && !d.keyIs("adomain") && !d.keyIs("cat") && !d.keyIs("cat_by_taxonomy") &&
        !d.keyIs("attr") && !d.keyIs("api") && !d.keyIs("secure") && !d.keyIs("language") && !d.keyIs("bundle")) otherKeys = true;
      if (d.keyIs("crid")) cr.crid = d.owned(128);
      else if (d.keyIs("type")) cr.markup = this.markupType();
      else if (d.keyIs("w")) cr.w = <i32>d.int(1, 65535);
      else if (d.keyIs("h")) cr.h = <i32>d.int(1, 65535);
      else if (d.keyIs("adm")) cr.adm = d.owned(32768);
      else if (d.keyIs("adomain")) this.stringSet(cr.adomain);
      else if (d.keyIs("cat")) this.categorySet(cr, IAB_CONTENT_1);
      else if (d.keyIs("cat_by_taxonomy")) this.categoriesByTaxonomy(cr);
      else if (d.keyIs("attr")) cr.attr = this.codes(MAX_CREATIVE_ATTRS, "attribute");
      else if (d.keyIs("api")) cr.api = this.codes(MAX_CREATIVE_APIS, "API");
      else if (d.keyIs("banner_type")) bannerType = <i32>d.int(1, 4);
      else if (d.keyIs("secure")) secure = d.bool() ? 1 : 0;
      else if (d.keyIs("language")) this.language(cr);
      else if (d.keyIs("bundle")) this.bundle(cr);
      else if (d.keyIs("duration")) cr.duration = <i32>d.int(1, 3600);
      else if (d.keyIs("mimes")) this.mediaTypes(cr.mimes);
      else if (d.keyIs("protocol")) protocol = <i32>d.int(1, 65535);
      else d.unknownKey();
      d.endMember();
    }
    if (cr.isNative) {
      checkNative(d, cr, native, otherKeys);
      cr.native = native;
    } else if (!d.failed && nativeKeys) {
      d.fail("title, images, data, link, clicktrackers, imptrackers, privacy and video are for native creatives (\"type\": \"native\")");
    } else if (cr.isMedia) this.checkMedia(cr, bannerType, protocol);
    else {
      if (!d.failed && (cr.crid.len == 0 || cr.w == 0 || cr.h == 0)) d.fail("crid, w and h are required");
      if (!d.failed && (cr.duration > 0 || cr.mimes.size > 0 || protocol >= 0)) d.fail("duration, mimes and protocol are for video and audio creatives (\"type\": \"video\" or \"audio\")");
      // Undeclared: read off the markup, so that exchanges' btype rules still apply.
      cr.bannerTypes = bannerType >= 0 ? 1 << bannerType : bannerTypesOf(cr.adm);
    }
    // Undeclared: read off the markup (a native ad's: its URLs), so that exchanges' secure rule still applies.
    cr.secure = secure >= 0 ? secure == 1 : cr.isNative ? nativeIsSecure(native) : markupIsSecure(cr.adm);
    return cr;
  }

  /** `"banner"` (the default), `"video"`, `"audio"` or `"native"`. */
  private markupType(): i32 {
    const t = this.doc.string();
    if (this.doc.failed) return MARKUP_BANNER;
    if (t == "video") return MARKUP_VIDEO;
    if (t == "audio") return MARKUP_AUDIO;
    if (t == "native") return MARKUP_NATIVE;
    if (t != "banner") this.doc.fail("expected \"banner\", \"video\", \"audio\" or \"native\"");
    return MARKUP_BANNER;
  }

  /**
   * A video or audio creative: its VAST (audio: or DAAST) document in adm (the bidder serves no
   * markup), a duration, the media types of its files; a video's w and h both or neither (its
   * size; neither: any player), none for audio; its protocol declared or read off the document's
   * root element.
   */
  private checkMedia(cr: Creative, bannerType: i32, protocol: i32): void {
    const d = this.doc;
    if (d.failed) return;
    const kind = cr.isVideo ? "a video" : "an audio";
    if (cr.crid.len == 0) d.fail("crid is required");
    else if (cr.isVideo && (cr.w == 0) != (cr.h == 0)) d.fail("w and h: give both or neither");
    else if (cr.isAudio && (cr.w != 0 || cr.h != 0)) d.fail("w and h are for banner and video creatives");
    else if (cr.duration == 0) d.fail("duration is required for " + kind + " creative (seconds, 1-3600)");
    else if (cr.mimes.size == 0) d.fail("mimes is required for " + kind + " creative (" + (cr.isVideo ? "\"video/mp4\"" : "\"audio/mpeg\"") + ", ...)");
    else if (cr.adm.len == 0) d.fail("adm is required for " + kind + " creative: its VAST document");
    else if (bannerType >= 0) d.fail("banner_type is for banner creatives");
    if (d.failed) return;
    cr.protocol = protocol >= 0 ? protocol : vastProtocolOf(cr.adm);
    if (cr.protocol == 0) d.fail("protocol: adm is not a VAST 1.0-4.2 or DAAST 1.0 document with a version attribute; declare protocol (AdCOM creative subtype, e.g. 7 for VAST 4.0)");
  }

  /** Media types ("video/mp4"): distinct (any case) `type/subtype` strings, 1 to 16. */
  private mediaTypes(set: StringSet): void {
    const d = this.doc;
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      const m = d.owned(128);
      if (!d.failed && !isMediaType(m)) d.fail("expected a media type (\"video/mp4\")");
      for (let j = 0; !d.failed && j < set.items.length; j++) {
        const other = unchecked(set.items[j]);
        if (bytesEqualIgnoreAsciiCase(other.ptr, other.len, m.ptr, m.len)) d.fail("duplicate media type");
      }
      if (!d.failed && set.items.length >= 16) d.fail("at most 16 media types");
      set.push(m);
      d.endMember();
      i++;
    }
  }

  /** A BCP 47 tag ("en", "pt-BR"; "xx": no linguistic content). */
  private language(cr: Creative): void {
    const d = this.doc;
    const tag = d.string();
    if (d.failed) return;
    const primary = languagePrimaryLength(tag);
    if (primary < 0) {
      d.fail("expected a BCP 47 language tag (\"en\", \"pt-BR\"; \"xx\": no linguistic content)");
      return;
    }
    cr.language = OwnedBytes.fromString(tag);
    cr.languagePrimaryLen = primary;
  }

  /**
   * The app the creative advertises, by its app store id ("com.brand.game" on Google Play,
   * "1234567" or "id1234567" on the App Store), as exchanges list it in bapp: printable ASCII
   * without spaces or quotes, at most 256 bytes.
   */
  private bundle(cr: Creative): void {
    const d = this.doc;
    const id = d.owned(256);
    if (d.failed) return;
    let ok = id.len > 0;
    for (let i = 0; ok && i < id.len; i++) {
      const c = load<u8>(id.ptr + <usize>i);
      ok = c > 0x20 && c < 0x7f && c != 0x22 && c != 0x5c;
    }
    if (!ok) d.fail("expected an app store id (\"com.brand.game\", \"1234567\"): printable ASCII, no spaces, quotes or backslashes");
    // "id1234567" is kept as 1234567: OpenRTB's form of an App Store id, which bid.bundle sends and bapp is compared in.
    else cr.bundle = appStoreNumberOf(id);
  }

  /**
   * The creative's categories in one taxonomy: distinct non-empty codes (an empty list declares
   * none, as if left out).
   */
  private categorySet(cr: Creative, taxonomy: i32): void {
    const d = this.doc;
    const set = new CategorySet(taxonomy);
    if (!d.beginArray()) return;
    let i = 0;
    while (d.nextElement(i)) {
      const code = d.owned(256);
      if (!d.failed && code.len == 0) d.fail("empty category");
      // Every one is looked up in a request's bcat or acat: a creative listing 100,000 took 54 s to
      // load and milliseconds per request (worst-case audit).
      if (!d.failed && i >= MAX_CREATIVE_CATEGORIES) d.fail("at most " + MAX_CREATIVE_CATEGORIES.toString() + " categories per taxonomy");
      CATEGORY.set(code.ptr, code.len);
      if (!d.failed && set.codes.has(CATEGORY)) d.fail("duplicate category");
      set.codes.push(code);
      d.endMember();
      i++;
    }
    if (set.codes.size > 0) cr.categories.push(set);
  }

  /**
   * `{"7": ["1234", ...], "8": [...]}`: categories in taxonomies other than IAB 1.0 (`cat`), keyed by
   * their AdCOM "Category Taxonomies" number (2–65535; 500 and up are exchange-specific).
   */
  private categoriesByTaxonomy(cr: Creative): void {
    const d = this.doc;
    if (!d.beginObject()) return;
    while (d.nextKey()) {
      const key = d.key.toString();
      const taxonomy = parseDimension(key);
      if (taxonomy == IAB_CONTENT_1) d.fail("IAB Content 1.0 categories go in cat");
      else if (taxonomy < 2 || taxonomy.toString() != key) d.fail("expected a taxonomy number 2-65535");
      else this.categorySet(cr, taxonomy);
      d.endMember();
    }
  }

  /**
   * Creative attributes or API frameworks: distinct integers 1–65535 (OpenRTB's lists; 500 and up
   * are exchange-specific), at most `maxCount`.
   */
  private codes(maxCount: i32, what: string): StaticArray<i32> {
    const d = this.doc;
    const list = new Array<i32>();
    if (!d.beginArray()) return new StaticArray<i32>(0);
    let i = 0;
    while (d.nextElement(i)) {
      const a = <i32>d.int(1, 65535);
      if (!d.failed && list.includes(a)) d.fail("duplicate " + what + " " + a.toString());
      if (!d.failed && list.length >= maxCount) d.fail("at most " + maxCount.toString() + " " + what + "s");
      list.push(a);
      d.endMember();
      i++;
    }
    return StaticArray.fromArray<i32>(list);
  }

  private budget(c: Campaign): void {
    const d = this.doc;
    if (!d.beginObject()) return;
    while (d.nextKey()) {
      if (d.keyIs("total_micros")) c.totalBudgetMicros = d.int(0, MAX_MICROS);
      else if (d.keyIs("daily_micros")) c.dailyBudgetMicros = d.int(0, MAX_MICROS);
      else if (d.keyIs("hourly_micros")) c.hourlyBudgetMicros = d.int(0, MAX_MICROS);
      else if (d.keyIs("minute_micros")) c.minuteBudgetMicros = d.int(0, MAX_MICROS);
      else d.unknownKey();
      d.endMember();
    }
  }
}

/** `type/subtype`: non-empty parts of visible ASCII without spaces, one slash. */
function isMediaType(m: OwnedBytes): bool {
  let slash = -1;
  for (let i = 0; i < m.len; i++) {
    const c = load<u8>(m.ptr + <usize>i);
    if (c <= 0x20 || c >= 0x7f) return false;
    if (c == 0x2f) {
      if (slash >= 0) return false;
      slash = i;
    }
  }
  return slash > 0 && slash < m.len - 1;
}

/** Digits only, 1..65535; -1 otherwise. */
function parseDimension(s: string): i32 {
  if (s.length == 0 || s.length > 5) return -1;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v > 0 && v <= 65535 ? v : -1;
}

/** The same frequency caps, in the same order. */
function sameCaps(a: Campaign, b: Campaign): bool {
  if (a.frequencyCaps != b.frequencyCaps) return false;
  for (let i = 0; i < a.frequencyCaps; i++) {
    if (unchecked(a.capImpressions[i]) != unchecked(b.capImpressions[i]) || unchecked(a.capWindowMs[i]) != unchecked(b.capWindowMs[i])) return false;
  }
  return true;
}

/**
 * Why `s` (as written) is not a plain host name (empty when it is): a campaign's domain list entry.
 * ASCII letters, digits, ".", "-", "_" in labels that are not empty ("xn--" for international
 * names). A URL, a port or dots at either end would never match a request's host: the name to
 * write is given when one can be read from it.
 */
function notAHostName(s: string): string {
  let plain = s.length > 0;
  for (let i = 0; i < s.length && plain; i++) {
    const c = s.charCodeAt(i);
    const l = c | 0x20;
    plain = (l >= 0x61 && l <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2e || c == 0x2d || c == 0x5f;
  }
  if (plain && !s.startsWith(".") && !s.endsWith(".") && !s.includes("..")) return "";
  let hint = "";
  if (s.includes("://") || s.startsWith(".") || s.endsWith(".")) {
    const bytes = String.UTF8.encode(s);
    const raw = new Str();
    raw.set(changetype<usize>(bytes), bytes.byteLength);
    const host = new Str();
    if (hostOf(raw, host) && host.len > 0) {
      let name = String.UTF8.decodeUnsafe(host.ptr, <usize>host.len);
      while (name.startsWith(".")) name = name.substring(1);
      if (name.length > 0 && name != s && notAHostName(name).length == 0) hint = ' (write "' + name + '")';
    }
  }
  return '"' + s + '" is not a domain name' + (hint.length > 0 ? hint : " (ASCII letters, digits, '.', '-', '_' in labels that are not empty; xn-- for international names)");
}

/** `name` without the "id" of an App Store id written "id1234567" (host-name.ts appStoreNumberAt); else `name` itself. */
function appStoreNumberOf(name: OwnedBytes): OwnedBytes {
  const at = appStoreNumberAt(name.ptr, name.len);
  return at > 0 ? new OwnedBytes(name.ptr + <usize>at, name.len - at) : name;
}
