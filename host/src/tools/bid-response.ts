// Reading any OpenRTB BidResponse (2.5/2.6) as a load generator needs it:
// the bids' prices, currency and win notice URLs, nothing else assumed; and
// the OpenRTB substitution macros of a notice URL.

export interface ResponseBid {
  id: string;
  impid: string;
  /** Bid price, CPM in the response currency. */
  price: number;
  nurl?: string;
  lurl?: string;
  adid?: string;
  seat?: string;
}

export interface ParsedBidResponse {
  id: string;
  /** Response currency (OpenRTB default "USD"). */
  cur: string;
  bidid?: string;
  bids: ResponseBid[];
}

/** Parses a BidResponse body; returns a reason string when it is not one. */
export function parseBidResponse(body: string): ParsedBidResponse | { error: string } {
  let o: unknown;
  try {
    o = JSON.parse(body);
  } catch {
    return { error: "invalid-json" };
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) return { error: "not-an-object" };
  const r = o as Record<string, unknown>;
  const out: ParsedBidResponse = { id: typeof r.id === "string" ? r.id : "", cur: typeof r.cur === "string" && r.cur !== "" ? r.cur : "USD", bids: [] };
  if (typeof r.bidid === "string") out.bidid = r.bidid;
  const seatbids = r.seatbid ?? [];
  if (!Array.isArray(seatbids)) return { error: "bad-seatbid" };
  for (const sb of seatbids) {
    if (typeof sb !== "object" || sb === null) return { error: "bad-seatbid" };
    const s = sb as Record<string, unknown>;
    const bids = s.bid ?? [];
    if (!Array.isArray(bids)) return { error: "bad-bid" };
    for (const b of bids) {
      if (typeof b !== "object" || b === null) return { error: "bad-bid" };
      const x = b as Record<string, unknown>;
      if (typeof x.price !== "number" || !Number.isFinite(x.price) || x.price < 0) return { error: "bad-price" };
      const bid: ResponseBid = { id: typeof x.id === "string" ? x.id : "", impid: typeof x.impid === "string" ? x.impid : "", price: x.price };
      if (typeof x.nurl === "string" && x.nurl !== "") bid.nurl = x.nurl;
      if (typeof x.lurl === "string" && x.lurl !== "") bid.lurl = x.lurl;
      if (typeof x.adid === "string") bid.adid = x.adid;
      if (typeof s.seat === "string") bid.seat = s.seat;
      out.bids.push(bid);
    }
  }
  return out;
}

/** A CPM price as the macro value: plain decimal, at most 6 decimals, no exponent. */
export function formatPrice(cpm: number): string {
  const s = cpm.toFixed(6);
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

/**
 * Micros charged for one impression at a CPM price written as a plain
 * decimal (formatPrice's output): CPM × 1000, rounded up to a whole micro —
 * the bidder's rule for the ${AUCTION_PRICE} of a win notice (the filter's
 * parseCpmToMicros), so loadgen's spend is what the bidder books.
 */
export function chargedMicros(priceText: string): number {
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(priceText);
  if (!m) throw new RangeError(`not a plain decimal price: ${JSON.stringify(priceText)}`);
  // CPM in 1e-9 units; micros per impression = CPM × 1000 = that / 1e6
  const nano = BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
  return Number((nano + 999_999n) / 1_000_000n);
}

export interface MacroValues {
  AUCTION_ID: string;
  AUCTION_BID_ID: string;
  AUCTION_IMP_ID: string;
  AUCTION_SEAT_ID: string;
  AUCTION_AD_ID: string;
  AUCTION_PRICE: string;
  AUCTION_CURRENCY: string;
  AUCTION_LOSS?: string;
}

/**
 * Substitutes the OpenRTB macros (${AUCTION_PRICE} …, also in their
 * URL-encoded form %24%7B…%7D) in a notice URL. Values are URL-encoded.
 * Unknown macros are left as they are.
 */
export function substituteMacros(url: string, v: MacroValues): string {
  return url.replace(/\$\{([A-Z_]+)\}|%24%7B([A-Z_]+)%7D/gi, (m, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b ?? "").toUpperCase() as keyof MacroValues;
    const value = v[name];
    return value === undefined ? m : encodeURIComponent(value);
  });
}
