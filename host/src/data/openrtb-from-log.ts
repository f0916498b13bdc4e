// THE mapping from an iPinYou log record to an OpenRTB 2.6 BidRequest. The
// trainer, the replay and loadgen all use this one function, so the filter's
// feature extractor sees the same request in training and in serving.
// Field by field (docs/FEATURES.md has the table and the resulting features):
//   bidid → id; one imp with id "1"
//   useragent "os_browser" → device.ua (user-agents.ts; round-trips through the core)
//   IP "a.b.c.*" → device.ip "a.b.c.1" (the filter hashes "ip=a.b.c.*")
//   region, city → device.geo.region / city (strings as logged), country "CHN"
//   adexchange → site.publisher.id (as a string; left out when "null")
//   domain → site.domain, url → site.page (iPinYou anonymises both to hashes; kept opaque)
//   slotid → imp.tagid; slotwidth × slotheight → imp.banner.w/h and format[{w, h}]
//   slotvisibility → imp.banner.pos (SLOT_VISIBILITY_POS)
//   slotprice (CPM fen) → imp.bidfloor = slotprice / 100, bidfloorcur "CNY" (left out when 0)
//   usertag "a,b" → user.data[{id: "ipinyou-usertag", segment: [{id: "a"}, {id: "b"}]}]
//   ipinyouid → user.buyeruid (iPinYou was the bidder: its cookie id is the bidder's own user id;
//     no feature reads it, frequency caps count by it)
//   timestamp (China time) → timeMs with utcOffsetMinutes 480 for the extractor
//   payprice → marketPriceFen (for replay and win notices)
// "null", "Na", "other" and empty values leave the field out. Not mapped
// (no OpenRTB request field, or no feature): logtype, urlid,
// slotformat, creative, bidprice, keypage, advertiser.
import { DataError } from "./errors.ts";
import { IPINYOU_UTC_OFFSET_MINUTES, parseIpinyouTimestamp, type RawLogRecord } from "./ipinyou-raw.ts";
import { userAgentFor } from "./user-agents.ts";

/** A raw-log record, complete or partial (libFM rows); id and timestamp are required. */
export type LogRecordInput = Partial<RawLogRecord> & { bidid: string; timestamp: string };

/**
 * imp.banner.pos of iPinYou's slotvisibility. OpenRTB 2.6 pos: 1 = above the
 * fold, 3 = below the fold. FirstView is the first screen; Second…FifthView
 * and OtherView (any later screen) are below the fold. The numeric codes of
 * the later iPinYou seasons: 1 = first view, 2 = second view, 255 = other
 * view, 0 = unknown. "Na", 0 and anything else leave pos out (unknown).
 */
export const SLOT_VISIBILITY_POS: Readonly<Record<string, number>> = {
  FirstView: 1,
  SecondView: 3,
  ThirdView: 3,
  FourthView: 3,
  FifthView: 3,
  OtherView: 3,
  "1": 1,
  "2": 3,
  "255": 3,
};

/** user.data[].id of the iPinYou user tags. */
export const USERTAG_DATA_ID = "ipinyou-usertag";
export const IPINYOU_COUNTRY = "CHN";
export const IPINYOU_CURRENCY = "CNY";

export interface LogBidRequest {
  /** The BidRequest as a JSON-ready object. */
  request: Record<string, unknown>;
  /** Its JSON text (keys in a fixed order). */
  json: string;
  /** Request time, epoch ms (the log's timestamp). */
  timeMs: number;
  /** The offset the feature extractor must see weekday and hour in (480: China time). */
  utcOffsetMinutes: number;
  /** payprice, CPM fen; undefined when the record has none (libFM rows). */
  marketPriceFen?: number;
  /** The logged click, when known. */
  click?: 0 | 1;
}

function present(v: string | undefined): v is string {
  return v !== undefined && v !== "" && v !== "null" && v !== "Na" && v !== "other";
}

/** "a.b.c.*" → "a.b.c.1"; a full dotted IPv4 is kept; anything else → undefined. */
export function deviceIpOf(ip: string | undefined): string | undefined {
  if (!present(ip)) return undefined;
  const octet = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
  if (new RegExp(`^${octet}\\.${octet}\\.${octet}\\.\\*$`).test(ip)) return `${ip.slice(0, -1)}1`;
  if (new RegExp(`^${octet}\\.${octet}\\.${octet}\\.${octet}$`).test(ip)) return ip;
  return undefined;
}

/** Segment ids of a usertag list ("10006,10063"), without blanks or repeats. */
export function segmentsOf(usertag: string | undefined): string[] {
  if (!present(usertag)) return [];
  const out: string[] = [];
  for (const t of usertag.split(",")) {
    const id = t.trim();
    if (id !== "" && id !== "null" && !out.includes(id)) out.push(id);
  }
  return out;
}

/**
 * The OpenRTB 2.6 BidRequest of a log record (see the header comment).
 * Throws DataError DATA_BAD_RECORD when the timestamp is not a valid iPinYou
 * timestamp (the parsers never produce such a record).
 */
export function bidRequestFromLog(rec: LogRecordInput): LogBidRequest {
  const timeMs = parseIpinyouTimestamp(rec.timestamp);
  if (timeMs === undefined) throw new DataError("DATA_BAD_RECORD", `record ${rec.bidid}: bad timestamp ${JSON.stringify(rec.timestamp)}`);

  const banner: Record<string, unknown> = {};
  const w = rec.slotwidth ?? 0;
  const h = rec.slotheight ?? 0;
  if (w > 0 && h > 0) {
    banner.w = w;
    banner.h = h;
    banner.format = [{ w, h }];
  }
  const pos = rec.slotvisibility === undefined ? undefined : SLOT_VISIBILITY_POS[rec.slotvisibility];
  if (pos !== undefined) banner.pos = pos;

  const imp: Record<string, unknown> = { id: "1", banner };
  if (present(rec.slotid)) imp.tagid = rec.slotid;
  if (rec.slotprice !== undefined && rec.slotprice > 0) {
    imp.bidfloor = rec.slotprice / 100;
    imp.bidfloorcur = IPINYOU_CURRENCY;
  }

  const request: Record<string, unknown> = { id: rec.bidid, imp: [imp] };

  const site: Record<string, unknown> = {};
  if (present(rec.domain)) site.domain = rec.domain;
  if (present(rec.url)) site.page = rec.url;
  if (present(rec.adexchange)) site.publisher = { id: rec.adexchange };
  if (Object.keys(site).length > 0) request.site = site;

  const device: Record<string, unknown> = {};
  const ua = present(rec.useragent) ? userAgentFor(rec.useragent) : undefined;
  if (ua !== undefined) device.ua = ua;
  const ip = deviceIpOf(rec.ip);
  if (ip !== undefined) device.ip = ip;
  const geo: Record<string, unknown> = { country: IPINYOU_COUNTRY };
  if (present(rec.region)) geo.region = rec.region;
  if (present(rec.city)) geo.city = rec.city;
  device.geo = geo;
  request.device = device;

  const user: Record<string, unknown> = {};
  if (present(rec.ipinyouid)) user.buyeruid = rec.ipinyouid;
  const segments = segmentsOf(rec.usertag);
  if (segments.length > 0) user.data = [{ id: USERTAG_DATA_ID, segment: segments.map((id) => ({ id })) }];
  if (Object.keys(user).length > 0) request.user = user;
  request.at = 2;

  const out: LogBidRequest = { request, json: JSON.stringify(request), timeMs, utcOffsetMinutes: IPINYOU_UTC_OFFSET_MINUTES };
  if (rec.payprice !== undefined) out.marketPriceFen = rec.payprice;
  if (rec.click !== undefined) out.click = rec.click;
  return out;
}
