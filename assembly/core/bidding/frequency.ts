// Frequency capping: a campaign with `frequency_cap` bids for a user only while that user has had
// fewer than N of its impressions in the current window. What is counted is charged wins (the
// exchange's win or billing notice), not bids: most bids lose, and counting them would stop a
// campaign long before its users saw it N times.
//
// The counts live outside the core (the filter keeps them in shared-data buckets, FrequencyBucket
// below, in frequency-table.ts);
// the decision asks through FrequencyPort, and the bid carries its count key in the notice URLs
// (`fq=`), so the notice that charges the win can count it without a lookup of its own.
import { murmur3_32 } from "../hash/murmur3";
import { BidRequest } from "../openrtb/request";
import { Str, asciiLower } from "../bytes/str";
import { Campaign } from "./campaign";

/** Where a user key came from: mixed into the key, so the same string from two sources is two users. */
const FROM_BUYERUID: u64 = 1;
const FROM_USER_ID: u64 = 2;
const FROM_IFA: u64 = 3;
const FROM_CAMPAIGN_ID: u64 = 0x43;
const FROM_FREQUENCY_GROUP: u64 = 0x47;

/** Largest `frequency_cap.impressions`. */
export const MAX_FREQUENCY_CAP: i64 = 1_000_000;
/** Longest `frequency_cap.seconds`: one year. */
export const MAX_FREQUENCY_WINDOW_S: i64 = 365 * 86_400;

/**
 * The user's key for frequency counts, 0 when the request names no one: user.buyeruid (the
 * bidder's own id for the user, the same on every exchange), else user.id (the exchange's), else
 * the device's advertising id (device.ifa, unless limit-ad-tracking is on). An id of zeros and
 * hyphens only names no one, wherever it is: the all-zero IDFA a device sends when tracking is
 * refused, which some exchanges copy into user.id (a mobile audit: every such user shared one
 * count, and a capped campaign stopped bidding on all of them after N wins). A UUID-form id is
 * read in lower case: iOS writes its IDFA in upper case and some exchanges pass it on lower-cased,
 * one device either way. The caller passes 0 for a request valued without the user's personal
 * data: a cap needs an identifier, and such a request may not be tied to one.
 */
export function userKeyOf(req: BidRequest): u64 {
  const u = req.user;
  if (u.present) {
    if (namesSomeone(u.buyeruid)) return idKey(u.buyeruid, FROM_BUYERUID);
    if (namesSomeone(u.id)) return idKey(u.id, FROM_USER_ID);
  }
  const d = req.device;
  if (d.present && d.lmt != 1 && namesSomeone(d.ifa)) return idKey(d.ifa, FROM_IFA);
  return 0;
}

/** The hash that keys a campaign's counts (Campaign.idHash). */
export function campaignIdHash(ptr: usize, len: i32): u64 {
  return bytesKey(ptr, len, FROM_CAMPAIGN_ID);
}

/** The hash that keys the counts of a frequency_group's campaigns (never a campaign id's, whatever the names). */
export function frequencyGroupHash(ptr: usize, len: i32): u64 {
  return bytesKey(ptr, len, FROM_FREQUENCY_GROUP);
}

/** The count key of (campaign, user): never 0 (0 means "no key" in a bid and a notice URL). */
export function frequencyKey(c: Campaign, userKey: u64): u64 {
  const k = mix64(userKey ^ c.idHash);
  return k != 0 ? k : 1;
}

/**
 * The count key of cap `i` of a campaign with several caps (frequency_caps): cap 0 counts under
 * the (campaign, user) key itself, the others under keys derived from it, so the notice URL's one
 * key (`fq=`) names every count of the win.
 */
export function capKey(key: u64, i: i32): u64 {
  if (i == 0) return key;
  const k = mix64(key ^ (<u64>i * 0x9e3779b97f4a7c15));
  return k != 0 ? k : 1;
}

/** A user id's key: its bytes, a UUID-form id in lower case (LOWERED holds the copy). */
function idKey(id: Str, source: u64): u64 {
  if (!isUuid(id)) return bytesKey(id.ptr, id.len, source);
  const p = changetype<usize>(LOWERED);
  for (let i = 0; i < UUID_LEN; i++) store<u8>(p + <usize>i, asciiLower(load<u8>(id.ptr + <usize>i)));
  return bytesKey(p, UUID_LEN, source);
}

const UUID_LEN: i32 = 36;
const LOWERED = new StaticArray<u8>(UUID_LEN);

/** 8-4-4-4-12 hex digits, any case ("6D92078A-8246-4BA4-AE5B-76104861E7DC"). */
function isUuid(s: Str): bool {
  if (s.len != UUID_LEN) return false;
  for (let i = 0; i < UUID_LEN; i++) {
    const c = load<u8>(s.ptr + <usize>i);
    const hyphen = i == 8 || i == 13 || i == 18 || i == 23;
    if (hyphen ? c != 0x2d : !isHexDigit(c)) return false;
  }
  return true;
}

@inline function isHexDigit(c: u8): bool {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

/** Two independent 32-bit murmur hashes of the bytes, mixed with the source into 64 bits. */
function bytesKey(ptr: usize, len: i32, source: u64): u64 {
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

/**
 * The id is given and is not a placeholder: zeros and hyphens only ("0",
 * "00000000-0000-0000-0000-000000000000", the IDFA of a device that refused tracking).
 */
function namesSomeone(s: Str): bool {
  for (let i = 0; i < s.len; i++) {
    const c = load<u8>(s.ptr + <usize>i);
    if (c != 0x30 && c != 0x2d) return true;
  }
  return false;
}

/** The decision's view of the counts. This base has none (every count is 0): tools and tests. */
export class FrequencyPort {
  /** Impressions the user of count key `key` has had of campaign `c` in the window open at `nowMs`. */
  countOf(c: Campaign, key: u64, nowMs: i64): u32 {
    return 0;
  }
}

/** Counts per bucket key (the filter's shared-data value): 16 users share one key. */
export const FREQUENCY_ENTRIES: i32 = 16;
const ENTRY_BYTES: i32 = 24;
const HEADER_BYTES: i32 = 8;
export const FREQUENCY_BUCKET_BYTES: i32 = HEADER_BYTES + FREQUENCY_ENTRIES * ENTRY_BYTES;
const FREQUENCY_MAGIC: u8 = 0x51; // 'Q'

/**
 * One bucket of counts: up to 16 (count key, count, window end) entries. A window opens at the
 * user's first counted impression and runs `frequency_cap.seconds` from it; an entry whose window
 * has ended is free, and reads as zero. When all 16 hold open windows, a new user takes the entry
 * whose window ends first (the oldest count): that user's count is lost, and may see the campaign
 * again before its window ends (a cap fails open, never closed).
 *
 * Layout (little-endian): magic u8, 7 bytes zero; then per entry key u64, window end i64
 * (wall-clock ms), count u32, 4 bytes zero. Worked on in place in `buf` (allocated once).
 */
export class FrequencyBucket {
  readonly buf: usize = heap.alloc(<usize>FREQUENCY_BUCKET_BYTES);

  constructor() {
    this.clear();
  }

  clear(): void {
    memory.fill(this.buf, 0, <usize>FREQUENCY_BUCKET_BYTES);
    store<u8>(this.buf, FREQUENCY_MAGIC);
  }

  /** Takes a stored bucket; anything else (missing, another layout) reads as empty (false). */
  read(ptr: usize, len: i32): bool {
    if (len != FREQUENCY_BUCKET_BYTES || load<u8>(ptr) != FREQUENCY_MAGIC) {
      this.clear();
      return false;
    }
    memory.copy(this.buf, ptr, <usize>FREQUENCY_BUCKET_BYTES);
    return true;
  }

  @inline private entry(i: i32): usize {
    return this.buf + <usize>(HEADER_BYTES + i * ENTRY_BYTES);
  }

  /** Impressions of `key` in its window open at `nowMs` (0: none counted, or the window ended). */
  countOf(key: u64, nowMs: i64): u32 {
    for (let i = 0; i < FREQUENCY_ENTRIES; i++) {
      const e = this.entry(i);
      if (load<u64>(e) == key && nowMs < load<i64>(e, 8)) return load<u32>(e, 16);
    }
    return 0;
  }

  /**
   * Counts one impression of `key` at `nowMs`: one more in its open window, else a new window of
   * `windowMs` in a free entry (or in the one whose window ends first). True when that replaced
   * another key's open count.
   */
  add(key: u64, nowMs: i64, windowMs: i64): bool {
    return this.addAt(key, nowMs, nowMs, windowMs);
  }

  /**
   * Counts an impression made at `atMs` (another pod's, learned later) as seen at `nowMs`: one more
   * in the key's window open now, else a new window that ends at `atMs + windowMs` (the window
   * opened where the impression was). An impression whose window has already ended counts nothing
   * (false, no change). True when the count replaced another key's open count.
   */
  addAt(key: u64, atMs: i64, nowMs: i64, windowMs: i64): bool {
    if (atMs + windowMs <= nowMs) return false;
    let victim = 0;
    let victimEnd = i64.MAX_VALUE;
    for (let i = 0; i < FREQUENCY_ENTRIES; i++) {
      const e = this.entry(i);
      const end = load<i64>(e, 8);
      if (nowMs < end) {
        if (load<u64>(e) == key) {
          const n = load<u32>(e, 16);
          if (n < u32.MAX_VALUE) store<u32>(e, n + 1, 16);
          return false;
        }
        if (end < victimEnd) {
          victim = i;
          victimEnd = end;
        }
      } else if (victimEnd != i64.MIN_VALUE) {
        // A free entry (never used, or its window ended): taken before any open one.
        victim = i;
        victimEnd = i64.MIN_VALUE;
      }
    }
    const e = this.entry(victim);
    store<u64>(e, key);
    store<i64>(e, atMs + windowMs, 8);
    store<u32>(e, 1, 16);
    return victimEnd != i64.MIN_VALUE;
  }
}
