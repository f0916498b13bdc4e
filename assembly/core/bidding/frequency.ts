// Frequency capping: a campaign with `frequency_cap` bids for a user only while that user has had
// fewer than N of its impressions in the current window. What is counted is charged wins (the
// exchange's win or billing notice), not bids: most bids lose, and counting them would stop a
// campaign long before its users saw it N times.
//
// The counts live outside the core (the filter keeps them in shared data, frequency-table.ts);
// the decision asks through FrequencyPort, and the bid carries its count key in the notice URLs
// (`fq=`), so the notice that charges the win can count it without a lookup of its own.
import { murmur3_32 } from "../hash/murmur3";
import { BidRequest } from "../openrtb/request";
import { Str } from "../bytes/str";
import { Campaign } from "./campaign";

/** Where a user key came from: mixed into the key, so the same string from two sources is two users. */
const FROM_BUYERUID: u64 = 1;
const FROM_USER_ID: u64 = 2;
const FROM_IFA: u64 = 3;
const FROM_CAMPAIGN_ID: u64 = 0x43;

/** Largest `frequency_cap.impressions`. */
export const MAX_FREQUENCY_CAP: i64 = 1_000_000;
/** Longest `frequency_cap.seconds`: one year. */
export const MAX_FREQUENCY_WINDOW_S: i64 = 365 * 86_400;

/**
 * The user's key for frequency counts, 0 when the request names no one: user.buyeruid (the
 * bidder's own id for the user, the same on every exchange), else user.id (the exchange's), else
 * the device's advertising id (device.ifa, unless limit-ad-tracking is on or it is the all-zero id
 * a device sends when tracking is refused). The caller passes 0 for a request valued without the
 * user's personal data: a cap needs an identifier, and such a request may not be tied to one.
 */
export function userKeyOf(req: BidRequest): u64 {
  const u = req.user;
  if (u.present) {
    if (u.buyeruid.len > 0) return idKey(u.buyeruid.ptr, u.buyeruid.len, FROM_BUYERUID);
    if (u.id.len > 0) return idKey(u.id.ptr, u.id.len, FROM_USER_ID);
  }
  const d = req.device;
  if (d.present && d.lmt != 1 && d.ifa.len > 0 && !isZeroIfa(d.ifa)) return idKey(d.ifa.ptr, d.ifa.len, FROM_IFA);
  return 0;
}

/** The hash that keys a campaign's counts (Campaign.idHash). */
export function campaignIdHash(ptr: usize, len: i32): u64 {
  return idKey(ptr, len, FROM_CAMPAIGN_ID);
}

/** The count key of (campaign, user): never 0 (0 means "no key" in a bid and a notice URL). */
export function frequencyKey(c: Campaign, userKey: u64): u64 {
  const k = mix64(userKey ^ c.idHash);
  return k != 0 ? k : 1;
}

/** Two independent 32-bit murmur hashes of the bytes, mixed with the source into 64 bits. */
function idKey(ptr: usize, len: i32, source: u64): u64 {
  const hi = <u64>murmur3_32(ptr, len, 0x5bd1e995);
  const lo = <u64>murmur3_32(ptr, len, 0x1b873593);
  const k = mix64(((hi << 32) | lo) ^ (source * 0x9e3779b97f4a7c15));
  return k != 0 ? k : 1;
}

/** splitmix64's finaliser: every input bit moves every output bit. */
@inline function mix64(v: u64): u64 {
  let x = v;
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9;
  x ^= x >> 27;
  x *= 0x94d049bb133111eb;
  x ^= x >> 31;
  return x;
}

/** "00000000-0000-0000-0000-000000000000" (any case of hyphens and zeros only): a refused IFA. */
function isZeroIfa(s: Str): bool {
  for (let i = 0; i < s.len; i++) {
    const c = load<u8>(s.ptr + <usize>i);
    if (c != 0x30 && c != 0x2d) return false;
  }
  return true;
}

/** The decision's view of the counts. This base has none (no cap is ever reached): tools and tests. */
export class FrequencyPort {
  /** The user of count key `key` has had the campaign's `frequencyCap` impressions in the open window. */
  reached(c: Campaign, key: u64, nowMs: i64): bool {
    return false;
  }
}

export const FREQUENCY_RECORD_BYTES: i32 = 24;
const FREQUENCY_MAGIC: u8 = 0x51; // 'Q'

/**
 * One count: whose (key), how many, and until when the window runs. A window opens at the
 * user's first counted impression and runs `frequency_cap.seconds` from it; a count whose window
 * has ended reads as zero. Layout (little-endian): magic u8, 3 bytes zero, count u32, key u64,
 * window end i64 (wall-clock ms).
 */
export class FrequencyCount {
  key: u64 = 0;
  count: u32 = 0;
  windowEndMs: i64 = 0;

  clear(): void {
    this.key = 0;
    this.count = 0;
    this.windowEndMs = 0;
  }

  /** Decodes; anything that is not a count reads as empty (false). */
  read(ptr: usize, len: i32): bool {
    if (len != FREQUENCY_RECORD_BYTES || load<u8>(ptr) != FREQUENCY_MAGIC) {
      this.clear();
      return false;
    }
    this.count = load<u32>(ptr, 4);
    this.key = load<u64>(ptr, 8);
    this.windowEndMs = load<i64>(ptr, 16);
    return true;
  }

  write(ptr: usize): i32 {
    store<u32>(ptr, <u32>FREQUENCY_MAGIC);
    store<u32>(ptr, this.count, 4);
    store<u64>(ptr, this.key, 8);
    store<i64>(ptr, this.windowEndMs, 16);
    return FREQUENCY_RECORD_BYTES;
  }

  /** Impressions of `key` in the window open at `nowMs` (0: another key's count, or an ended window). */
  countOf(key: u64, nowMs: i64): u32 {
    return this.key == key && nowMs < this.windowEndMs ? this.count : 0;
  }

  /** The record holds another key's count whose window is still open (adding would replace it). */
  heldByOther(key: u64, nowMs: i64): bool {
    return this.key != key && this.count > 0 && nowMs < this.windowEndMs;
  }

  /** Counts one impression of `key` at `nowMs`: one more in its open window, else a new window of `windowMs`. */
  add(key: u64, nowMs: i64, windowMs: i64): void {
    if (this.countOf(key, nowMs) > 0) {
      if (this.count < u32.MAX_VALUE) this.count++;
      return;
    }
    this.key = key;
    this.count = 1;
    this.windowEndMs = nowMs + windowMs;
  }
}
