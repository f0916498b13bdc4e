// Operating system and browser of a User-Agent, as the iPinYou logs record
// them ("windows_chrome"): the first operating system, then the first browser
// of each list whose name occurs in the lower-cased UA. The order is the one
// the iPinYou data set was built with (make-ipinyou-data), so that models
// trained on those logs see the same values the filter computes from
// device.ua. Matching is ASCII case-insensitive and allocation-free.
import { asciiLower, codeAt } from "../bytes/str";
// The classifiers' definition is bytes/str containsIgnoreCase() tried name by name; the tests
// compare them with it.

export const OS_NAMES: StaticArray<string> = ["windows", "ios", "mac", "android", "linux"];
export const BROWSER_NAMES: StaticArray<string> = ["chrome", "sogou", "maxthon", "safari", "firefox", "theworld", "opera", "ie"];
export const OTHER: string = "other";

/**
 * For each byte, the names (bit k = names[k]) whose letter `at` (0 or 1) it is, in either case.
 * Every name has at least two letters.
 */
function letterMasks(names: StaticArray<string>, at: i32): StaticArray<u32> {
  const masks = new StaticArray<u32>(256);
  for (let k = 0; k < names.length; k++) {
    assert(unchecked(names[k]).length >= 2, "UA names have two letters or more");
    const c = codeAt(unchecked(names[k]), at); // a lower-case ASCII letter
    masks[c] |= 1 << k;
    if (c >= 0x61 && c <= 0x7a) masks[c - 0x20] |= 1 << k;
  }
  return masks;
}

const OS_FIRST_LETTERS = letterMasks(OS_NAMES, 0);
const OS_SECOND_LETTERS = letterMasks(OS_NAMES, 1);
const BROWSER_FIRST_LETTERS = letterMasks(BROWSER_NAMES, 0);
const BROWSER_SECOND_LETTERS = letterMasks(BROWSER_NAMES, 1);

/** `needle` (lower-case ASCII) occurs at [ptr+i, ptr+i+n) ignoring ASCII case; its first two bytes are known to match. */
@inline function matchesAt(ptr: usize, len: i32, i: i32, needle: string): bool {
  const n = needle.length;
  if (i + n > len) return false;
  let j = 2;
  while (j < n && <u32>asciiLower(load<u8>(ptr + <usize>(i + j))) == codeAt(needle, j)) j++;
  return j == n;
}

/**
 * Index of the first of `names` (in list order) that occurs anywhere in [ptr, ptr+len), or -1:
 * what trying bytes/str containsIgnoreCase() name by name gives, in one pass over the UA. At each
 * byte only the names whose first two letters are this byte and the next one, and that come
 * before the best match so far, are compared: two table lookups and nothing else at most bytes
 * (with the first letter alone, common letters such as c, m, s, i and o started a comparison
 * every few bytes). A match of names[0] ends the pass.
 */
function firstListed(
  ptr: usize,
  len: i32,
  names: StaticArray<string>,
  firstLetters: StaticArray<u32>,
  secondLetters: StaticArray<u32>,
): i32 {
  let best = names.length;
  // No name fits in the last byte alone.
  for (let i = 0; i + 1 < len; i++) {
    const q = ptr + <usize>i;
    let candidates =
      unchecked(firstLetters[load<u8>(q)]) & unchecked(secondLetters[load<u8>(q, 1)]) & ((<u32>1 << <u32>best) - 1);
    while (candidates != 0) {
      const k = <i32>ctz(candidates);
      if (matchesAt(ptr, len, i, unchecked(names[k]))) {
        if (k == 0) return 0;
        best = k; // the lowest candidate here (bits are tried from the lowest)
        break;
      }
      candidates &= candidates - 1;
    }
  }
  return best == names.length ? -1 : best;
}

/** Index into OS_NAMES, or -1 for "other". */
export function classifyOs(ptr: usize, len: i32): i32 {
  return firstListed(ptr, len, OS_NAMES, OS_FIRST_LETTERS, OS_SECOND_LETTERS);
}

/** Index into BROWSER_NAMES, or -1 for "other". */
export function classifyBrowser(ptr: usize, len: i32): i32 {
  return firstListed(ptr, len, BROWSER_NAMES, BROWSER_FIRST_LETTERS, BROWSER_SECOND_LETTERS);
}

@inline export function osName(i: i32): string {
  return i < 0 ? OTHER : unchecked(OS_NAMES[i]);
}

@inline export function browserName(i: i32): string {
  return i < 0 ? OTHER : unchecked(BROWSER_NAMES[i]);
}
