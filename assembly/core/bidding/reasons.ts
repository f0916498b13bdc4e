// Why a request or an impression got no bid. Each reason has a stable name
// (used in the X-Nexus-NoBid-Reason header and in metric names).

export namespace NoBid {
  export const NONE: i32 = 0;
  export const NO_MODEL: i32 = 1;
  export const NO_CAMPAIGN: i32 = 2;
  export const NO_MATCH: i32 = 3;
  export const BELOW_FLOOR: i32 = 4;
  export const BUDGET: i32 = 5;
  export const ROI: i32 = 6;
  export const CURRENCY: i32 = 7;
  export const TIMEOUT: i32 = 8;
  export const CONTENTION: i32 = 9;
  export const REPLAY: i32 = 10;
  export const BLOCKED: i32 = 11;
  export const PAUSED: i32 = 12;
  /** regs.coppa = 1 and the plugin's coppa_no_bid: no bid at all rather than a contextual one. */
  export const COPPA: i32 = 13;
  /**
   * The reservation ring's next slot still holds a live reservation (bids without a notice keep
   * theirs for reservation_ttl_ms): reservation_slots is too small for the bid rate.
   */
  export const RING_FULL: i32 = 14;
  /**
   * The request requires DSA transparency (regs.ext.dsa.dsarequired 2 or 3) and no campaign that
   * fits can give it: none declares `dsa`, or its notice rendering conflicts with the publisher's.
   */
  export const DSA: i32 = 15;
  /**
   * Every fitting campaign with a frequency cap has reached it for this user, or cannot count
   * one: the request names no user (or may not be tied to one: a contextual decision).
   */
  export const FREQUENCY: i32 = 16;
  /**
   * General invalid traffic (core/traffic/invalid-traffic.ts): the request would have got a bid,
   * and its User-Agent names a crawler, monitor, script or headless browser.
   */
  export const BOT_USER_AGENT: i32 = 17;
  /** The same, and its device.ip or device.ipv6 is in a configured data-centre range. */
  export const DATACENTER_IP: i32 = 18;
  /**
   * Bids were decided, and not even the first fits the filter's reply buffer (its markup with the
   * rest of the reply): each was refunded. (Bids past the first that do not fit are left out of
   * the reply and refunded; the reply carries the others.)
   */
  export const REPLY_TOO_LARGE: i32 = 19;
  export const COUNT: i32 = 20;
}

export const NO_BID_NAMES: StaticArray<string> = [
  "none",
  "no_model",
  "no_campaign",
  "no_match",
  "below_floor",
  "budget",
  "roi",
  "currency",
  "timeout",
  "contention",
  "replay",
  "blocked",
  "paused",
  "coppa",
  "ring_full",
  "dsa",
  "frequency",
  "bot_user_agent",
  "datacenter_ip",
  "reply_too_large",
];

export function noBidName(reason: i32): string {
  return reason >= 0 && reason < NoBid.COUNT ? unchecked(NO_BID_NAMES[reason]) : "unknown";
}

/** How far a request got before failing: later stages explain more. */
export function reasonRank(r: i32): i32 {
  switch (r) {
    case NoBid.NONE: return 0;
    case NoBid.NO_MATCH: return 1;
    case NoBid.BLOCKED: return 2;
    case NoBid.DSA: return 3;
    case NoBid.FREQUENCY: return 4;
    case NoBid.CURRENCY: return 5;
    case NoBid.PAUSED: return 6;
    case NoBid.ROI: return 7;
    case NoBid.BELOW_FLOOR: return 8;
    case NoBid.BUDGET: return 9;
    case NoBid.CONTENTION: return 10;
    // Always past the ledger (a contention can fail there): only the reservation slot was missing.
    case NoBid.RING_FULL: return 11;
    // The request's own verdicts, asked once a bid was found: they hold for every impression.
    case NoBid.BOT_USER_AGENT: return 12;
    case NoBid.DATACENTER_IP: return 12;
    // The filter's replay guard, asked at the request's first reservation (filter/replay-gate.ts).
    case NoBid.REPLAY: return 12;
    // Past every decision: the bids were made, the reply could not hold them.
    case NoBid.REPLY_TOO_LARGE: return 13;
    default: return 1;
  }
}

/** The reason of the two that got further. */
@inline export function worse(current: i32, candidate: i32): i32 {
  return reasonRank(candidate) > reasonRank(current) ? candidate : current;
}
