// The host name in a URL or a loosely written domain, as a view (nothing copied): what domain
// lists compare (the request's domains: bidding/request-domain.ts; the exchange's badv).
//
// Read as browsers read a URL's host (WHATWG URL, for what can be done without copying): ASCII
// whitespace around it ignored, "\" taken as "/", any run of slashes after a special scheme
// (http, https, ws, wss, ftp), a blob: URL's inner URL, user info up to the last "@" of the
// authority, a port (anything after the host's first ":"), brackets, trailing dots. What cannot
// be compared without decoding (percent-escapes, the full-width dots IDNA maps to ".") or leaves
// no host after a scheme is reported as unreadable, and the caller decides (a block list then
// refuses the request: request-domain.ts). Other non-ASCII names are compared as they are.
import { Str } from "./str";
import { HIGHS, hasByte } from "./swar";

/** Sets `out` to the host name in `raw` (a view into it) and says whether it is readable. */
export function hostOf(raw: Str, out: Str): bool {
  let start = raw.ptr;
  let end = raw.ptr + <usize>raw.len;
  while (start < end && isSpace(load<u8>(start))) start++;
  while (end > start && isSpace(load<u8>(end - 1))) end--;
  const named = start;
  start = afterKnownScheme(start, end);
  // One pass over the authority (it ends at the first "/", "\\", "?" or "#"): its last "@" (user
  // info before it), its first ":" after that (a port after it), and another scheme's "://" when
  // only scheme characters came before it. Plain bytes are skipped 8 at a time.
  let host = start;
  let colon: usize = 0;
  let p = start;
  while (p < end) {
    p = nextAuthorityByte(p, end);
    if (p >= end) break;
    const c = load<u8>(p);
    if (c == 0x2f || c == 0x5c || c == 0x3f || c == 0x23) break;
    if (c == 0x3a) {
      if (colon == 0 && p > host && end - p >= 3 && isSlash(load<u8>(p + 1)) && isSlash(load<u8>(p + 2)) && isScheme(host, p)) {
        p = skipSlashes(p + 1, end); // "scheme://": the authority starts after it
        host = start = p;
        continue;
      }
      if (colon == 0) colon = p;
    } else if (c == 0x40) {
      host = p + 1;
      colon = 0;
    }
    p++;
  }
  let stop = p;
  if (host < stop && load<u8>(host) == 0x5b) {
    // "[...]": an IPv6 literal (its colons are not a port), compared without its brackets.
    let close = host + 1;
    while (close < stop && load<u8>(close) != 0x5d) close++;
    host++;
    stop = close;
  } else if (colon != 0 && colon >= host) {
    stop = colon; // the host ends at its first ":" (a port, well formed or not)
  }
  while (stop > host && load<u8>(stop - 1) == 0x2e) stop--;
  out.set(host, <i32>(stop - host));
  if (stop == host) return start == named; // "https:///", "https:://x": no host where one must be
  for (let q = host; q < stop; q++) {
    while (q + 8 <= stop && (load<u64>(q) & HIGHS) == 0 && !hasByte(load<u64>(q), 0x25)) q += 8;
    if (q >= stop) break;
    const c = load<u8>(q);
    if (c < 0x80 && c != 0x25) continue;
    if (c == 0x25) return false; // a percent-escape
    // U+3002, U+FF0E, U+FF61: dots to IDNA (E3 80 82, EF BC 8E, EF BD A1 in UTF-8).
    if (c == 0xe3 && q + 2 < stop && load<u8>(q + 1) == 0x80 && load<u8>(q + 2) == 0x82) return false;
    if (c == 0xef && q + 2 < stop && ((load<u8>(q + 1) == 0xbc && load<u8>(q + 2) == 0x8e) || (load<u8>(q + 1) == 0xbd && load<u8>(q + 2) == 0xa1))) return false;
  }
  return true;
}

/**
 * Where the name starts after a scheme whose host follows its ":" whatever slashes come or not
 * (http, https, ws, wss, ftp; any case; browsers read "https:/x", "https:///x" and "https:\\x"
 * as host x), after "blob:" (the URL inside it), or after a scheme-relative "//". `start` when
 * there is none of these (another scheme's "://" is found by hostOf's pass).
 */
function afterKnownScheme(start: usize, end: usize): usize {
  for (;;) {
    const n = end - start;
    if (n >= 2 && isSlash(load<u8>(start)) && isSlash(load<u8>(start + 1))) return skipSlashes(start, end);
    if (n < 3) return start;
    let len = 0;
    if (n >= 5 && lower4(start) == 0x70747468) len = (load<u8>(start + 4) | 0x20) == 0x73 ? 5 : 4; // "http", "https"
    else if (n >= 5 && lower4(start) == 0x626f6c62) len = 4; // "blob"
    else {
      const a = load<u8>(start) | 0x20;
      const b = load<u8>(start + 1) | 0x20;
      const c = load<u8>(start + 2) | 0x20;
      if (a == 0x77 && b == 0x73) len = c == 0x73 ? 3 : 2; // "ws", "wss"
      else if (a == 0x66 && b == 0x74 && c == 0x70) len = 3; // "ftp"
    }
    if (len == 0 || start + <usize>len >= end || load<u8>(start + <usize>len) != 0x3a) {
      // "https" may also be "http" + "s..." without a colon: try the shorter name once.
      if (len == 5 && load<u8>(start + 4) == 0x3a) len = 4;
      else if (len == 3 && (load<u8>(start) | 0x20) == 0x77 && load<u8>(start + 2) == 0x3a) len = 2;
      else return start;
    }
    const blob = len == 4 && lower4(start) == 0x626f6c62;
    start += <usize>len + 1;
    if (!blob) return skipSlashes(start, end);
  }
  return start;
}

/** The first byte at or after `p` that may end or split the authority ("/", "\\", "?", "#", ":", "@"), 8 bytes at a time; `end` when none. */
@inline function nextAuthorityByte(p: usize, end: usize): usize {
  while (p + 8 <= end) {
    const w = load<u64>(p);
    if (hasByte(w, 0x2f) || hasByte(w, 0x5c) || hasByte(w, 0x3f) || hasByte(w, 0x23) || hasByte(w, 0x3a) || hasByte(w, 0x40)) break;
    p += 8;
  }
  while (p < end) {
    const c = load<u8>(p);
    if (c == 0x2f || c == 0x5c || c == 0x3f || c == 0x23 || c == 0x3a || c == 0x40) return p;
    p++;
  }
  return end;
}

/** [p, end) is a scheme: a letter, then letters, digits, "+", "-", ".". */
function isScheme(p: usize, end: usize): bool {
  for (let q = p; q < end; q++) {
    if (!isSchemeByte(load<u8>(q), q == p)) return false;
  }
  return true;
}

@inline function lower4(p: usize): u32 {
  return load<u32>(p) | 0x20202020;
}

/** A scheme: a letter, then letters, digits, "+", "-", ".". */
@inline function isSchemeByte(c: u8, first: bool): bool {
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x7a) return true;
  return !first && ((c >= 0x30 && c <= 0x39) || c == 0x2b || c == 0x2d || c == 0x2e);
}

function skipSlashes(p: usize, end: usize): usize {
  while (p < end && isSlash(load<u8>(p))) p++;
  return p;
}

@inline function isSlash(c: u8): bool {
  return c == 0x2f || c == 0x5c;
}

/** ASCII whitespace as WHATWG strips it around a URL (and the C0 controls it strips too). */
@inline function isSpace(c: u8): bool {
  return c <= 0x20;
}

/** `name` without a leading "www." label (any case): the same site or advertiser. */
export function withoutWww(name: Str): void {
  if (name.len > 4 && (load<u32>(name.ptr) | 0x00202020) == 0x2e777777) name.set(name.ptr + 4, name.len - 4);
}

/**
 * Where the App Store number starts in an app id written "id1234567" (any case of "id", then
 * digits only: the App Store URL's form, which exchanges and advertisers also use), else 0.
 * OpenRTB names an iOS app by the number alone ("1234567"), and exchanges send either form in
 * app.bundle and bapp: compared without the prefix, both name one app.
 */
export function appStoreNumberAt(ptr: usize, len: i32): i32 {
  if (len < 3 || (load<u8>(ptr) | 0x20) != 0x69 || (load<u8>(ptr + 1) | 0x20) != 0x64) return 0;
  for (let i = 2; i < len; i++) {
    const c = load<u8>(ptr + <usize>i);
    if (c < 0x30 || c > 0x39) return 0;
  }
  return 2;
}

/** `name` without the "id" of an App Store id written "id1234567" (appStoreNumberAt). */
export function withoutAppStorePrefix(name: Str): void {
  const at = appStoreNumberAt(name.ptr, name.len);
  if (at > 0) name.set(name.ptr + <usize>at, name.len - at);
}
