// Writes the OpenRTB BidResponse for a decision into a reused buffer. Prices
// are exact decimals from integer micros (no float printing); every echoed
// string is JSON-escaped, every URL component percent-encoded. Notice URLs
// carry the exchange macros (${AUCTION_PRICE}, ${AUCTION_LOSS}) and point back
// at the filter's own win/loss paths.
import { ByteWriter } from "../bytes/writer";
import { Str } from "../bytes/str";
import { ImpBid } from "../bidding/imp-bid";
import { CampaignDsa, CategorySet, Creative, IAB_CONTENT_1, OwnedBytes, StringSet } from "../bidding/campaign";
import { writeNativeAdm } from "./native-markup";

/** Where notices go and how the reply is labelled; set once from configuration. */
export class ReplySettings {
  /** e.g. "https://bidder.example.com" (no trailing slash). Empty: derived per request. */
  noticeBase: Str = new Str();
  winPath: Str = new Str();
  lossPath: Str = new Str();
  seat: Str = new Str();
  currency: Str = new Str();
  /**
   * The bidding pod's tag (URL-safe; empty: none), sent as "&pod=" in notice URLs so that a pod
   * that gets another's notice forwards it to that pod alone (SECURITY.md G12).
   */
  podTag: Str = new Str();
}

/** `["…","…"]`: the set's strings, JSON-escaped. */
export function writeStringArray(w: ByteWriter, set: StringSet): void {
  w.byte(0x5b);
  for (let i = 0; i < set.items.length; i++) {
    if (i > 0) w.byte(0x2c);
    writeJsonString(w, unchecked(set.items[i]));
  }
  w.byte(0x5d);
}

/** `"…"`: the bytes as a JSON string, escaped. */
export function writeJsonString(w: ByteWriter, s: OwnedBytes): void {
  w.byte(0x22);
  w.jsonEscaped(s.ptr, s.len);
  w.byte(0x22);
}

/** "?bid=..&imp=..&cid=..[&fq=..][&pod=..]": a notice URL's query (its values percent-encoded: nothing to JSON-escape). */
function writeNoticeQuery(w: ByteWriter, s: ReplySettings, bid: ImpBid): void {
  w.ascii("?bid=");
  w.bytes(bid.bidId, bid.bidIdLen);
  w.ascii("&imp=");
  w.urlEncoded(bid.impId.ptr, bid.impId.len);
  const c = bid.campaign;
  if (c !== null) {
    w.ascii("&cid=");
    w.urlEncoded(c.id.ptr, c.id.len);
  }
  if (bid.frequencyKey != 0) {
    w.ascii("&fq=");
    w.hexU64(bid.frequencyKey);
  }
  if (s.podTag.len > 0) {
    w.ascii("&pod=");
    w.urlEncoded(s.podTag.ptr, s.podTag.len);
  }
}

/**
 * nurl, burl and lurl: "<base><path><query>&price=${AUCTION_PRICE}…", JSON-escaped. The three
 * share the base and the query, and nurl and burl the path: those are written once (nurl) and
 * copied from the reply itself into the other two.
 */
function writeNoticeUrls(w: ByteWriter, s: ReplySettings, base: Str, bid: ImpBid): void {
  w.ascii(",\"nurl\":\"");
  const urlAt = w.len;
  w.jsonEscaped(base.ptr, base.len);
  const baseLen = w.len - urlAt;
  w.jsonEscaped(s.winPath.ptr, s.winPath.len);
  const queryAt = w.len;
  writeNoticeQuery(w, s, bid);
  const urlLen = w.len - urlAt;
  const queryLen = w.len - queryAt;
  w.ascii("&price=${AUCTION_PRICE}\",\"burl\":\"");
  w.bytes(w.base + <usize>urlAt, urlLen);
  w.ascii("&price=${AUCTION_PRICE}&event=billing\",\"lurl\":\"");
  w.bytes(w.base + <usize>urlAt, baseLen);
  w.jsonEscaped(s.lossPath.ptr, s.lossPath.len);
  w.bytes(w.base + <usize>queryAt, queryLen);
  w.ascii("&price=${AUCTION_PRICE}&reason=${AUCTION_LOSS}\"");
}

/** Bytes kept free after each bid for the reply's closing "]}]}". */
const CLOSING_BYTES: i32 = 4;

/**
 * Writes {"id":…,"bidid":…,"cur":…,"seatbid":[{"seat":…,"bid":[…]}]} with the first bids that
 * fit the writer, in order, and returns how many it wrote (0: not even one, or the head did not
 * fit; `w` then holds nothing usable). A bid whose markup would not fit is left out whole (with
 * every bid after it): the caller refunds those. The writer's capacity bounds a reply, while a
 * campaign's markup may take 32 KiB and a request 16 impressions.
 * `base` is the notice base URL for this request (settings.noticeBase or one derived from :authority).
 */
export function writeBidResponse(
  w: ByteWriter,
  s: ReplySettings,
  base: Str,
  requestId: Str,
  bids: StaticArray<ImpBid>,
  count: i32,
): i32 {
  w.reset();
  w.ascii("{\"id\":\"");
  w.jsonEscaped(requestId.ptr, requestId.len);
  w.ascii("\",\"bidid\":\"");
  if (count > 0) {
    const first = unchecked(bids[0]);
    w.bytes(first.bidId, first.bidIdLen);
  }
  w.ascii("\",\"cur\":\"");
  w.jsonEscaped(s.currency.ptr, s.currency.len);
  w.ascii("\",\"seatbid\":[{\"seat\":\"");
  w.jsonEscaped(s.seat.ptr, s.seat.len);
  w.ascii("\",\"bid\":[");
  if (w.overflowed) return 0;
  let written = 0;
  for (let i = 0; i < count; i++) {
    const bid = unchecked(bids[i]);
    const mark = w.len;
    if (i > 0) w.byte(0x2c);
    writeBid(w, s, base, bid);
    if (w.overflowed || w.len + CLOSING_BYTES > w.capacity) {
      w.len = mark;
      w.overflowed = false;
      break;
    }
    written++;
  }
  if (written == 0 && count > 0) return 0;
  w.ascii("]}]}");
  return written;
}

function writeBid(w: ByteWriter, s: ReplySettings, base: Str, bid: ImpBid): void {
  w.ascii("{\"id\":\"");
  w.bytes(bid.bidId, bid.bidIdLen);
  w.ascii("\",\"impid\":\"");
  w.jsonEscaped(bid.impId.ptr, bid.impId.len);
  w.ascii("\",\"price\":");
  // micros per impression → CPM in currency units: micros × 1000 / 1e6 = micros / 1000
  w.fixed(bid.priceMicros, 3);
  writeNoticeUrls(w, s, base, bid);
  const c = bid.campaign;
  const cr = bid.creative;
  if (cr !== null) {
    cr.replyFields = copyOrWrite<Creative>(w, cr.replyFields, cr, writeCreativeFields);
    // A native ad's markup answers the request's asset ids: written for each bid.
    const native = bid.native;
    const assets = cr.native;
    if (native !== null && assets !== null) writeNativeAdm(w, native, bid.nativeAssets, assets);
  }
  const cats = bid.categories;
  if (cats !== null) cats.replyFields = copyOrWrite<CategorySet>(w, cats.replyFields, cats, writeCategories);
  if (c !== null) {
    w.ascii(",\"cid\":\"");
    w.jsonEscaped(c.id.ptr, c.id.len);
    w.byte(0x22);
  }
  const deal = bid.deal;
  if (deal !== null) {
    w.ascii(",\"dealid\":\"");
    w.jsonEscaped(deal.id.ptr, deal.id.len);
    w.byte(0x22);
  }
  const dsa = bid.dsa;
  if (dsa !== null) writeDsa(w, dsa, bid.profiled);
  w.byte(0x7d);
}

/**
 * bid.ext.dsa (IAB DSA Transparency extension): the campaign's advertiser names and rendering,
 * kept from the first bid, then, when the campaign names its domain, the user parameters this
 * bid applied: 2 (basic advertising: context, device, IP) always, 1 (profiling) when the user's
 * segments were used. Precise geolocation (3) is never used (docs/FEATURES.md).
 */
function writeDsa(w: ByteWriter, dsa: CampaignDsa, profiled: bool): void {
  dsa.replyPrefix = copyOrWrite<CampaignDsa>(w, dsa.replyPrefix, dsa, writeDsaPrefix);
  if (dsa.domain.len > 0) w.ascii(profiled ? "1,2]}]" : "2]}]");
  w.ascii("}}");
}

/** `,"ext":{"dsa":{"behalf":…,"paid":…,"adrender":N`, and the transparency entry up to its parameters. */
function writeDsaPrefix(w: ByteWriter, dsa: CampaignDsa): void {
  w.ascii(",\"ext\":{\"dsa\":{\"behalf\":\"");
  w.jsonEscaped(dsa.behalf.ptr, dsa.behalf.len);
  w.ascii("\",\"paid\":\"");
  w.jsonEscaped(dsa.paid.ptr, dsa.paid.len);
  w.ascii("\",\"adrender\":");
  w.i64(dsa.adrender);
  if (dsa.domain.len > 0) {
    w.ascii(",\"transparency\":[{\"domain\":\"");
    w.jsonEscaped(dsa.domain.ptr, dsa.domain.len);
    w.ascii("\",\"dsaparams\":[");
  }
}

/**
 * Fields that never change for `item` (a creative, a category set, a campaign's DSA names): the
 * bytes kept from its first bid are copied, else written by `write` and kept (returned; null when
 * the writer overflowed). Escaping markup byte by byte on every bid cost more than copying it.
 */
function copyOrWrite<T>(w: ByteWriter, kept: OwnedBytes | null, item: T, write: (w: ByteWriter, item: T) => void): OwnedBytes | null {
  if (kept !== null) {
    w.bytes(kept.ptr, kept.len);
    return kept;
  }
  const start = w.len;
  write(w, item);
  return w.overflowed ? null : new OwnedBytes(w.base + <usize>start, w.len - start);
}

/**
 * The bid's fields that come from the creative alone (markup, advertiser domains, attributes, id,
 * size; not the categories, which depend on the request's taxonomy: writeCategories). Written
 * once per creative and kept (Creative.replyFields, copyOrWrite): the markup is most of a reply.
 */
function writeCreativeFields(w: ByteWriter, cr: Creative): void {
  if (cr.adm.len > 0) {
    w.ascii(",\"adm\":\"");
    w.jsonEscaped(cr.adm.ptr, cr.adm.len);
    w.byte(0x22);
  }
  w.ascii(",\"adomain\":");
  writeStringArray(w, cr.adomain);
  if (cr.attr.length > 0) {
    w.ascii(",\"attr\":");
    writeIntArray(w, cr.attr);
  }
  if (cr.api.length > 0) {
    // OpenRTB 2.5 bid.api (one framework: the first the creative declares, e.g. its MRAID
    // version) for exchanges that read only it, and 2.6 bid.apis, all of them.
    w.ascii(",\"api\":");
    w.i64(unchecked(cr.api[0]));
    w.ascii(",\"apis\":");
    writeIntArray(w, cr.api);
  }
  if (cr.language.len > 0) {
    // bid.language takes ISO 639-1 codes (and "xx"); any other tag goes in bid.langb (2.6).
    w.ascii(cr.language.len == 2 ? ",\"language\":\"" : ",\"langb\":\"");
    w.jsonEscaped(cr.language.ptr, cr.language.len);
    w.byte(0x22);
  }
  if (cr.bundle.len > 0) {
    w.ascii(",\"bundle\":\"");
    w.bytes(cr.bundle.ptr, cr.bundle.len); // printable ASCII without quotes or backslashes (campaign-config.ts)
    w.byte(0x22);
  }
  w.ascii(",\"crid\":\"");
  w.jsonEscaped(cr.crid.ptr, cr.crid.len);
  w.byte(0x22);
  if (cr.w > 0) {
    // A video creative may leave its size out (it fits any player).
    w.ascii(",\"w\":");
    w.i64(cr.w);
    w.ascii(",\"h\":");
    w.i64(cr.h);
  }
  // OpenRTB 2.6 bid.mtype: the markup's type, so that an exchange can tell which of a multi-format
  // imp's objects the bid answers: 1 banner, 2 video, 3 audio, 4 native.
  w.ascii(",\"mtype\":");
  w.i64(cr.markup);
  if (cr.isMedia) {
    // OpenRTB 2.6 bid.dur (seconds) and bid.protocol (the VAST or DAAST version of adm).
    w.ascii(",\"dur\":");
    w.i64(cr.duration);
    w.ascii(",\"protocol\":");
    w.i64(cr.protocol);
  }
}

function writeIntArray(w: ByteWriter, list: StaticArray<i32>): void {
  w.byte(0x5b);
  for (let i = 0; i < list.length; i++) {
    if (i > 0) w.byte(0x2c);
    w.i64(unchecked(list[i]));
  }
  w.byte(0x5d);
}

/** `,"cat":[...]`, and `,"cattax":N` outside IAB Content 1.0 (OpenRTB 2.6 bid.cattax, default 1). */
function writeCategories(w: ByteWriter, cats: CategorySet): void {
  w.ascii(",\"cat\":");
  writeStringArray(w, cats.codes);
  if (cats.taxonomy != IAB_CONTENT_1) {
    w.ascii(",\"cattax\":");
    w.i64(cats.taxonomy);
  }
}

/** {"error":"<message>"} for a 400 reply; the message is escaped anyway. */
export function writeError(w: ByteWriter, ptr: usize, len: i32): void {
  w.reset();
  w.ascii("{\"error\":\"");
  w.jsonEscaped(ptr, len);
  w.ascii("\"}");
}
