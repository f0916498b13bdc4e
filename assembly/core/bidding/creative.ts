// Creatives as the filter holds them, with the per-creative rules exchanges filter on:
// categories per taxonomy (bcat, acat), language (wlang, wlangb), banner type and secure markup.
import { bytesEqualIgnoreAsciiCase, containsIgnoreCase } from "../bytes/str";
import { IntList, StrList } from "../json/lists";
import { OwnedBytes, StringSet } from "./owned-bytes";
import { NativeCreative } from "./native-creative";
import { CategoryList } from "./block-lists";

/** AdCOM "Category Taxonomies" 1: IAB Content Category Taxonomy 1.0, OpenRTB's default cattax. */
export const IAB_CONTENT_1: i32 = 1;

/**
 * A creative's categories in one taxonomy (AdCOM "Category Taxonomies": 1 IAB Content 1.0, 7 IAB
 * Content 3.0, 8 IAB Ad Product 2.0, ...). Only IAB 1.0 codes show their parents ("IAB3-1" is
 * under "IAB3"); the other taxonomies' ids do not, so there a category matches a bcat or acat
 * entry only when it is that entry (a creative lists its parents too).
 */
export class CategorySet {
  readonly codes: StringSet = new StringSet();
  /** The bid's `cat` (and `cattax` outside IAB 1.0) for these categories, written at the first bid (bid-response.ts). */
  replyFields: OwnedBytes | null = null;

  constructor(readonly taxonomy: i32) {}

  /** One of the categories is blocked by an entry of bcat (the category, or a parent in IAB 1.0). */
  anyBlockedBy(bcat: CategoryList): bool {
    const n = this.codes.items.length;
    for (let i = 0; i < n; i++) {
      if (bcat.lists(unchecked(this.codes.items[i]))) return true;
    }
    return false;
  }

  /** Every category is allowed by an entry of acat (the category, or a parent in IAB 1.0). */
  allAllowedBy(acat: CategoryList): bool {
    const n = this.codes.items.length;
    for (let i = 0; i < n; i++) {
      if (!acat.lists(unchecked(this.codes.items[i]))) return false;
    }
    return n > 0;
  }
}

/** AdCOM "API Frameworks": the MRAID versions (apisSupported). */
const API_MRAID_1: i32 = 3;
const API_MRAID_2: i32 = 5;
const API_MRAID_3: i32 = 6;

/** The language code of a creative without linguistic content (OpenRTB 2.6 bid.language). */
const XX: StaticArray<u8> = [0x78, 0x78];

/**
 * The length of the primary language subtag of a BCP 47 tag as creatives declare it (2–3 ASCII
 * letters, then "-" and subtags of 1–8 letters or digits, 35 bytes at most), or -1 if it is not
 * one.
 */
export function languagePrimaryLength(tag: string): i32 {
  const n = tag.length;
  if (n < 2 || n > 35) return -1;
  let primary = 0;
  while (primary < n && isAsciiLetter(tag.charCodeAt(primary))) primary++;
  if (primary < 2 || primary > 3) return -1;
  // Then subtags, each "-" and 1–8 letters or digits.
  let i = primary;
  while (i < n) {
    if (tag.charCodeAt(i) != 0x2d) return -1;
    let j = i + 1;
    while (j < n && isAsciiAlnum(tag.charCodeAt(j))) j++;
    const len = j - i - 1;
    if (len < 1 || len > 8) return -1;
    i = j;
  }
  return primary;
}

@inline function isAsciiLetter(c: i32): bool {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
}

@inline function isAsciiAlnum(c: i32): bool {
  return isAsciiLetter(c) || (c >= 0x30 && c <= 0x39);
}

/** Creative attributes a creative may declare (OpenRTB list "Creative Attributes"; bid.attr). */
export const MAX_CREATIVE_ATTRS: i32 = 32;
/** API frameworks a creative may require (bid.apis). */
export const MAX_CREATIVE_APIS: i32 = 8;

/** bid.mtype (OpenRTB 2.6 "Creative Markup Types"): what a creative's markup is. */
export const MARKUP_BANNER: i32 = 1;
export const MARKUP_VIDEO: i32 = 2;
export const MARKUP_AUDIO: i32 = 3;
export const MARKUP_NATIVE: i32 = 4;

export class Creative {
  crid: OwnedBytes = OwnedBytes.fromString("");
  /**
   * MARKUP_BANNER, MARKUP_VIDEO or MARKUP_AUDIO (a VAST/DAAST document in adm, bid on imp.video or
   * imp.audio: media.ts), MARKUP_NATIVE (assets, bid on imp.native: native-creative.ts).
   */
  markup: i32 = MARKUP_BANNER;
  /** A native creative's assets (null for every other kind). */
  native: NativeCreative | null = null;
  /** Banner: required. Video: the video's own size, 0 when not declared (any player). Audio: 0. */
  w: i32 = 0;
  h: i32 = 0;
  /** Video and audio: seconds the ad runs (checked against minduration, maxduration, rqddurs; bid.dur). */
  duration: i32 = 0;
  /** Video and audio: the media types of its files ("video/mp4", "audio/mpeg"), one of which the player must take. */
  mimes: StringSet = new StringSet();
  /** Video and audio: the VAST/DAAST protocol of the markup (AdCOM "Creative Subtypes - Audio/Video"; bid.protocol). */
  protocol: i32 = 0;
  /** Markup returned in bid.adm (may contain ${AUCTION_PRICE}). Empty: the nurl serves it. */
  adm: OwnedBytes = OwnedBytes.fromString("");
  adomain: StringSet = new StringSet();
  /** Its categories, one set per taxonomy (`cat` is IAB 1.0, `cat_by_taxonomy` the others); none: uncategorised. */
  readonly categories: Array<CategorySet> = new Array<CategorySet>();
  /** Creative attributes (checked against imp.banner.battr, sent as bid.attr). */
  attr: StaticArray<i32> = new StaticArray<i32>(0);
  /**
   * API frameworks the markup needs (AdCOM "API Frameworks": 3 MRAID-1, 5 MRAID-2, 6 MRAID-3, 7
   * OMID-1, ...): bid only where the impression supports every one (imp.banner.api); sent as
   * bid.apis.
   */
  api: StaticArray<i32> = new StaticArray<i32>(0);
  /**
   * OpenRTB banner ad types (1 XHTML text, 2 XHTML banner, 3 JavaScript, 4 iframe) the creative
   * is, for imp.banner.btype: bit t set for type t (markup can be two at once); 0 unknown.
   */
  bannerTypes: i32 = 0;
  /** The markup loads over HTTPS only (imp.secure = 1 requires it). */
  secure: bool = true;
  /**
   * The creative's language, a BCP 47 tag ("en", "pt-BR"; "xx": no linguistic content, e.g. a
   * logo); empty: not declared. Checked against the request's wlang and wlangb (OpenRTB 2.6).
   */
  language: OwnedBytes = OwnedBytes.fromString("");
  /** Bytes of the language's primary subtag ("pt" of "pt-BR"). */
  languagePrimaryLen: i32 = 0;
  /**
   * The app it advertises, by app store id (an app-install ad); empty: none. Checked against the
   * request's bapp and sent as bid.bundle, which exchanges use to enforce bapp.
   */
  bundle: OwnedBytes = OwnedBytes.fromString("");
  /**
   * This creative's fields of a bid as JSON (",\"adm\":…,\"h\":250"), written by the reply
   * writer at the first bid with it and copied into every later reply (bid-response.ts).
   */
  replyFields: OwnedBytes | null = null;
  /** The request whose block lists last judged it (decision.ts: blockedByLists), and their answer. */
  blockedInRequest: u32 = 0;
  blockedAnswer: bool = false;

  /** Its categories in that taxonomy, or null when it declares none there. */
  categoriesIn(taxonomy: i32): CategorySet | null {
    for (let i = 0; i < this.categories.length; i++) {
      const set = unchecked(this.categories[i]);
      if (set.taxonomy == taxonomy) return set;
    }
    return null;
  }

  /**
   * The categories a bid with this creative names (bid.cat, bid.cattax): those in the request's
   * taxonomy when it has some there, else its IAB 1.0 ones, else the first set it declares; null
   * when it has none.
   */
  replyCategories(taxonomy: i32): CategorySet | null {
    const set = this.categoriesIn(taxonomy);
    if (set !== null) return set;
    const iab1 = this.categoriesIn(IAB_CONTENT_1);
    if (iab1 !== null) return iab1;
    return this.categories.length > 0 ? unchecked(this.categories[0]) : null;
  }

  /** A request's allowed languages (wlang, wlangb) do not refuse it: it says it has no linguistic content ("xx"). */
  get languageFree(): bool {
    return this.language.len == 2 && bytesEqualIgnoreAsciiCase(this.language.ptr, 2, changetype<usize>(XX), 2);
  }

  /**
   * wlang (ISO 639-1 codes): the language's primary subtag is listed, in any letter case. An
   * entry written as a locale ("en-US", "pt_BR": not ISO 639-1, but exchanges send them) is read
   * as its language: wlang allows languages, and reading the entry as a whole would match nothing.
   */
  languageIn(wlang: StrList): bool {
    const n = this.languagePrimaryLen;
    if (n == 0) return false;
    for (let j = 0; j < wlang.count; j++) {
      const entry = wlang.get(j);
      if (entry.len < n || !bytesEqualIgnoreAsciiCase(this.language.ptr, n, entry.ptr, n)) continue;
      if (entry.len == n) return true;
      const next = load<u8>(entry.ptr + <usize>n);
      if (next == 0x2d || next == 0x5f) return true; // '-' or '_' ends the entry's language
    }
    return false;
  }

  /**
   * wlangb (BCP 47 language ranges, RFC 4647 §3.3.1 basic filtering): a listed range is the tag or
   * a prefix of it that ends where a subtag does ("en" covers "en-GB", "en-GB" not "en"), in any
   * letter case; "*" covers every tag.
   */
  languageInRanges(wlangb: StrList): bool {
    const tag = this.language;
    if (tag.len == 0) return false; // no language declared: not even "*" says which
    for (let j = 0; j < wlangb.count; j++) {
      const range = wlangb.get(j);
      const n = range.len;
      if (n == 1 && load<u8>(range.ptr) == 0x2a) return true;
      if (n == 0 || n > tag.len || !bytesEqualIgnoreAsciiCase(tag.ptr, n, range.ptr, n)) continue;
      if (n == tag.len || load<u8>(tag.ptr + <usize>n) == 0x2d) return true;
    }
    return false;
  }

  @inline get isVideo(): bool {
    return this.markup == MARKUP_VIDEO;
  }

  @inline get isAudio(): bool {
    return this.markup == MARKUP_AUDIO;
  }

  @inline get isNative(): bool {
    return this.markup == MARKUP_NATIVE;
  }

  /** A video or audio creative: a duration, media types and a protocol; no banner size. */
  @inline get isMedia(): bool {
    return this.markup == MARKUP_VIDEO || this.markup == MARKUP_AUDIO;
  }

  /** The creative is of banner ad type t (1–4). */
  isBannerType(t: i32): bool {
    return t >= 1 && t <= 4 && (this.bannerTypes & (1 << t)) != 0;
  }

  /**
   * The impression supports every API framework the markup needs. MRAID containers run older
   * MRAID ads (the MRAID 2.0 and 3.0 specifications keep their predecessors' API): a creative
   * needing MRAID-1 (3) runs where MRAID-2 (5) or MRAID-3 (6) is listed, one needing MRAID-2 where
   * MRAID-3 is. SDKs list their current version only, and a mobile audit's MRAID-2 banners were
   * refused on every MRAID-3 slot. Other frameworks (VPAID, OMID, SIMID) must be listed as such.
   */
  apisSupported(supported: IntList): bool {
    for (let i = 0; i < this.api.length; i++) {
      const a = unchecked(this.api[i]);
      if (supported.contains(a)) continue;
      if (a == API_MRAID_1 && (supported.contains(API_MRAID_2) || supported.contains(API_MRAID_3))) continue;
      if (a == API_MRAID_2 && supported.contains(API_MRAID_3)) continue;
      return false;
    }
    return true;
  }

  hasAttr(a: i32): bool {
    for (let i = 0; i < this.attr.length; i++) if (unchecked(this.attr[i]) == a) return true;
    return false;
  }
}

/**
 * The banner types a creative's markup shows (Creative.bannerTypes), when its configuration does
 * not say: a script tag makes it JavaScript (3), an iframe an iframe ad (4), both when it has
 * both; other markup an XHTML banner (2), plain text an XHTML text ad (1); no markup (the nurl
 * serves it) is unknown (0).
 */
export function bannerTypesOf(adm: OwnedBytes): i32 {
  if (adm.len == 0) return 0;
  let types = 0;
  if (containsIgnoreCase(adm.ptr, adm.len, "<script")) types |= 1 << 3;
  if (containsIgnoreCase(adm.ptr, adm.len, "<iframe")) types |= 1 << 4;
  if (types != 0) return types;
  return containsIgnoreCase(adm.ptr, adm.len, "<") ? 1 << 2 : 1 << 1;
}

/** Markup is secure when it references nothing over plain http:// (any case). */
export function markupIsSecure(adm: OwnedBytes): bool {
  return !containsIgnoreCase(adm.ptr, adm.len, "http://");
}
