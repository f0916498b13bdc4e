// Features whose value comes from a short fixed list (weekday, hour, the UA's
// os_browser class, the floor bucket) hash one of a few constant strings. Their
// finished murmur3 states are computed once, at start-up, by the same stream
// code the other features use, so a decision looks them up instead of hashing
// the text again (updateAscii goes byte by byte; hashDecimal divides per digit).
import { Murmur3Stream } from "../hash/murmur3";
import { BROWSER_NAMES, OS_NAMES, browserName, osName } from "./user-agent";

/** Names of the floor buckets, by floorBucketIndex() (the iPinYou slotprice buckets). */
export const FLOOR_BUCKETS: StaticArray<string> = ["0", "1-10", "11-50", "51-100", "101+"];

/** Index into FLOOR_BUCKETS of a bidfloor (CPM): slotprice is that in hundredths. */
export function floorBucketIndex(bidfloorCpm: f64): i32 {
  const cents = bidfloorCpm * 100.0;
  if (!(cents > 0.5)) return 0;
  if (cents <= 10.5) return 1;
  if (cents <= 50.5) return 2;
  if (cents <= 100.5) return 3;
  return 4;
}

/** Hashes the decimal digits of v (with '-' if negative). */
export function hashDecimal(s: Murmur3Stream, v: i64): void {
  if (v < 0) {
    s.updateByte(0x2d);
    v = -v;
  }
  let div: i64 = 1;
  while (v / div >= 10) div *= 10;
  while (div > 0) {
    s.updateByte(<u8>(0x30 + <i32>((v / div) % 10)));
    div /= 10;
  }
}

/** finish() of `prefix` followed by the decimal digits of v, for v in [0, n). */
export function decimalHashes(prefix: Murmur3Stream, n: i32): StaticArray<u32> {
  const out = new StaticArray<u32>(n);
  const s = new Murmur3Stream();
  for (let v = 0; v < n; v++) {
    s.copyFrom(prefix);
    hashDecimal(s, v);
    unchecked((out[v] = s.finish()));
  }
  return out;
}

/** finish() of `prefix` followed by each of `names`. */
export function nameHashes(prefix: Murmur3Stream, names: StaticArray<string>): StaticArray<u32> {
  const out = new StaticArray<u32>(names.length);
  const s = new Murmur3Stream();
  for (let i = 0; i < names.length; i++) {
    s.copyFrom(prefix);
    s.updateAscii(unchecked(names[i]));
    unchecked((out[i] = s.finish()));
  }
  return out;
}

/** Browser classes per OS class: the list and "other" (-1). */
export const UA_BROWSER_CLASSES: i32 = BROWSER_NAMES.length + 1;

/** Index into uaClassHashes() of an (os, browser) pair of classifyOs/classifyBrowser results (-1 = other). */
@inline export function uaClassIndex(os: i32, browser: i32): i32 {
  return (os + 1) * UA_BROWSER_CLASSES + browser + 1;
}

/** finish() of `prefix` followed by "<os>_<browser>", for every pair, by uaClassIndex(). */
export function uaClassHashes(prefix: Murmur3Stream): StaticArray<u32> {
  const out = new StaticArray<u32>((OS_NAMES.length + 1) * UA_BROWSER_CLASSES);
  const s = new Murmur3Stream();
  for (let os = -1; os < OS_NAMES.length; os++) {
    for (let br = -1; br < BROWSER_NAMES.length; br++) {
      s.copyFrom(prefix);
      s.updateAscii(osName(os));
      s.updateByte(0x5f); // '_'
      s.updateAscii(browserName(br));
      unchecked((out[uaClassIndex(os, br)] = s.finish()));
    }
  }
  return out;
}
