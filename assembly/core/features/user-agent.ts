// Operating system and browser of a User-Agent, as the iPinYou logs record
// them ("windows_chrome"): the first operating system, then the first browser
// of each list whose name occurs in the lower-cased UA. The order is the one
// the iPinYou data set was built with (make-ipinyou-data), so that models
// trained on those logs see the same values the filter computes from
// device.ua. Matching is ASCII case-insensitive and allocation-free.
import { asciiLower, codeAt } from "../bytes/str";

export const OS_NAMES: StaticArray<string> = ["windows", "ios", "mac", "android", "linux"];
export const BROWSER_NAMES: StaticArray<string> = ["chrome", "sogou", "maxthon", "safari", "firefox", "theworld", "opera", "ie"];
export const OTHER: string = "other";

/** True if `needle` (lower-case ASCII literal) occurs in [ptr, ptr+len) ignoring ASCII case. */
export function containsIgnoreCase(ptr: usize, len: i32, needle: string): bool {
  const n = needle.length;
  if (n == 0) return true;
  const first = <u8>codeAt(needle, 0);
  for (let i = 0; i + n <= len; i++) {
    if (asciiLower(load<u8>(ptr + <usize>i)) != first) continue;
    let j = 1;
    while (j < n && <u32>asciiLower(load<u8>(ptr + <usize>(i + j))) == codeAt(needle, j)) j++;
    if (j == n) return true;
  }
  return false;
}

/** Index into OS_NAMES, or -1 for "other". */
export function classifyOs(ptr: usize, len: i32): i32 {
  for (let i = 0; i < OS_NAMES.length; i++) {
    if (containsIgnoreCase(ptr, len, unchecked(OS_NAMES[i]))) return i;
  }
  return -1;
}

/** Index into BROWSER_NAMES, or -1 for "other". */
export function classifyBrowser(ptr: usize, len: i32): i32 {
  for (let i = 0; i < BROWSER_NAMES.length; i++) {
    if (containsIgnoreCase(ptr, len, unchecked(BROWSER_NAMES[i]))) return i;
  }
  return -1;
}

@inline export function osName(i: i32): string {
  return i < 0 ? OTHER : unchecked(OS_NAMES[i]);
}

@inline export function browserName(i: i32): string {
  return i < 0 ? OTHER : unchecked(BROWSER_NAMES[i]);
}
