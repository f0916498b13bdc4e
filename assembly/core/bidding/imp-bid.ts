// One priced impression of a decision: what the reply writer needs and what
// the ledger needs to settle it later (reservation sequence and nonce, which
// are also what the bid id encodes).
import { Str, codeAt } from "../bytes/str";
import { Campaign, CampaignDsa, CategorySet, Creative } from "./campaign";
import { Deal } from "../openrtb/request";
import { NativeRequest } from "../openrtb/native";

export const BID_ID_MAX: i32 = 32;

export class ImpBid {
  impIndex: i32 = 0;
  impId: Str = new Str();
  campaign: Campaign | null = null;
  creative: Creative | null = null;
  /** The creative's categories the bid names (bid.cat, bid.cattax): Creative.replyCategories. */
  categories: CategorySet | null = null;
  /** The campaign's DSA transparency when the bid carries it (bid.ext.dsa), else null. */
  dsa: CampaignDsa | null = null;
  /** The decision used the user's data (segments): DSA user parameter 1, profiling. */
  profiled: bool = false;
  /** The (campaign, user) count key of a frequency-capped campaign's bid (notice URLs' fq=), else 0. */
  frequencyKey: u64 = 0;
  /** The private-marketplace deal the bid is in (the request's, valid while it is), or null: the open auction. */
  deal: Deal | null = null;
  /** A native creative's bid: the impression's native request, whose asset ids the markup answers (valid while the request is). */
  native: NativeRequest | null = null;
  /** The assets of `native` the creative fills (bit i: asset i), fixed when the bid was made. */
  nativeAssets: u32 = 0;
  /** Price of one impression in micros (the amount reserved). */
  priceMicros: i64 = 0;
  /** Reservation handle: ring sequence and an unguessable nonce. */
  seq: u64 = 0;
  nonce: u32 = 0;
  reserved: bool = false;
  /**
   * How long the exchange says billing may follow the auction (imp.exp, in ms; 0: not said): the
   * reservation is held at least that long, so that a late billing notice finds its money still
   * reserved instead of charging it a second time after it was refunded and spent again.
   */
  holdMs: i64 = 0;
  /** The bid id as sent ("<seq hex>-<nonce hex>"; "test-<nonce hex>" on a test request: formatTestBidId). */
  readonly bidId: usize = heap.alloc(<usize>BID_ID_MAX);
  bidIdLen: i32 = 0;

  reset(): void {
    this.impIndex = 0;
    this.impId.clear();
    this.campaign = null;
    this.creative = null;
    this.categories = null;
    this.dsa = null;
    this.profiled = false;
    this.frequencyKey = 0;
    this.deal = null;
    this.native = null;
    this.nativeAssets = 0;
    this.priceMicros = 0;
    this.seq = 0;
    this.nonce = 0;
    this.reserved = false;
    this.holdMs = 0;
    this.bidIdLen = 0;
  }
}

const HEX: string = "0123456789abcdef";

/** Writes "<seq hex>-<nonce hex8>" into the bid's id buffer. */
export function formatBidId(bid: ImpBid): void {
  const p = bid.bidId;
  let n = 0;
  // seq in hex without leading zeros (at least one digit)
  let digits = 1;
  let t = bid.seq >> 4;
  while (t != 0) {
    digits++;
    t >>= 4;
  }
  for (let i = digits - 1; i >= 0; i--) {
    store<u8>(p + <usize>n, <u8>codeAt(HEX, <i32>((bid.seq >> (<u64>i << 2)) & 15)));
    n++;
  }
  store<u8>(p + <usize>n, 0x2d);
  n++;
  bid.bidIdLen = writeHex8(p, n, bid.nonce);
}

/** Writes `v` as 8 lower-case hex digits at p + n; returns n + 8. */
export function writeHex8(p: usize, n: i32, v: u32): i32 {
  for (let i = 7; i >= 0; i--) store<u8>(p + <usize>(n++), <u8>codeAt(HEX, <i32>((v >> (<u32>i << 2)) & 15)));
  return n;
}

const TEST_PREFIX = "test-";

/**
 * Writes "test-<nonce hex8>": the id of a bid on a test request (BidRequest.test = 1), which
 * reserved nothing. ParsedBidId refuses it; isTestBidId tells a notice for it.
 */
export function formatTestBidId(bid: ImpBid): void {
  const p = bid.bidId;
  let n = 0;
  for (let i = 0; i < TEST_PREFIX.length; i++) store<u8>(p + <usize>(n++), <u8>codeAt(TEST_PREFIX, i));
  bid.bidIdLen = writeHex8(p, n, bid.nonce);
}

/** The bid id at [ptr, ptr+len) is one formatTestBidId writes. */
export function isTestBidId(ptr: usize, len: i32): bool {
  if (len != TEST_PREFIX.length + 8) return false;
  for (let i = 0; i < TEST_PREFIX.length; i++) if (<u32>load<u8>(ptr + <usize>i) != codeAt(TEST_PREFIX, i)) return false;
  for (let i = TEST_PREFIX.length; i < len; i++) if (hexDigit(load<u8>(ptr + <usize>i)) < 0) return false;
  return true;
}

/** Parses a bid id written by formatBidId. Returns false on any deviation. */
export class ParsedBidId {
  seq: u64 = 0;
  nonce: u32 = 0;

  parse(ptr: usize, len: i32): bool {
    if (len < 10 || len > BID_ID_MAX) return false;
    let i = 0;
    let seq: u64 = 0;
    let seqDigits = 0;
    while (i < len && load<u8>(ptr + <usize>i) != 0x2d) {
      const d = hexDigit(load<u8>(ptr + <usize>i));
      if (d < 0 || seqDigits >= 16) return false;
      seq = (seq << 4) | <u64>d;
      seqDigits++;
      i++;
    }
    if (seqDigits == 0 || i >= len) return false;
    if (seqDigits > 1 && load<u8>(ptr) == 0x30) return false; // formatBidId never writes leading zeros
    i++; // '-'
    if (len - i != 8) return false;
    let nonce: u32 = 0;
    for (; i < len; i++) {
      const d = hexDigit(load<u8>(ptr + <usize>i));
      if (d < 0) return false;
      nonce = (nonce << 4) | <u32>d;
    }
    this.seq = seq;
    this.nonce = nonce;
    return true;
  }
}

@inline function hexDigit(c: u8): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>c - 0x30;
  if (c >= 0x61 && c <= 0x66) return <i32>c - 0x61 + 10;
  return -1;
}
