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

/** Sets `out` to the host name in `raw` (a view into it) and says whether it is readable. */
export function hostOf(raw: Str, out: Str): bool {
  let start = raw.ptr;
  let end = raw.ptr + <usize>raw.len;
  while (start < end && isSpace(load<u8>(start))) start++;
  while (end > start && isSpace(load<u8>(end - 1))) end--;
  const named = start;
  start = afterScheme(start, end);
  const hadScheme = start != named;
  // The authority ends at the first "/", "\", "?" or "#"; user info ends at its last "@".
  let stop = start;
  while (stop < end) {
    const c = load<u8>(stop);
    if (c == 0x2f || c == 0x5c || c == 0x3f || c == 0x23) break;
    stop++;
  }
  for (let p = stop; p > start; p--) {
    if (load<u8>(p - 1) == 0x40) {
      start = p;
      break;
    }
  }
  if (start < stop && load<u8>(start) == 0x5b) {
    // "[...]": an IPv6 literal (its colons are not a port), compared without its brackets.
    let close = start + 1;
    while (close < stop && load<u8>(close) != 0x5d) close++;
    start++;
    stop = close;
  } else {
    // The host ends at its first ":" (a port, well formed or not).
    for (let p = start; p < stop; p++) {
      if (load<u8>(p) == 0x3a) {
        stop = p;
        break;
      }
    }
  }
  while (stop > start && load<u8>(stop - 1) == 0x2e) stop--;
  out.set(start, <i32>(stop - start));
  if (hadScheme && stop == start) return false; // "https:///", "https:://x": no host where one must be
  for (let p = start; p < stop; p++) {
    const c = load<u8>(p);
    if (c == 0x25) return false; // a percent-escape
    // U+3002, U+FF0E, U+FF61: dots to IDNA (E3 80 82, EF BC 8E, EF BD A1 in UTF-8).
    if (c == 0xe3 && p + 2 < stop && load<u8>(p + 1) == 0x80 && load<u8>(p + 2) == 0x82) return false;
    if (c == 0xef && p + 2 < stop && ((load<u8>(p + 1) == 0xbc && load<u8>(p + 2) == 0x8e) || (load<u8>(p + 1) == 0xbd && load<u8>(p + 2) == 0xa1))) return false;
  }
  return true;
}

/**
 * Where the name starts after its scheme: a special scheme (http, https, ws, wss, ftp; any case)
 * and ":" then any run of "/" or "\" (browsers read "https:/x", "https:///x" and "https:\\x" as
 * host x); "blob:" then the URL inside it; another scheme followed by "//"; a scheme-relative
 * "//". `start` when there is none ("news.example:443" has no scheme).
 */
function afterScheme(start: usize, end: usize): usize {
  for (;;) {
    if (end - start >= 2 && isSlash(load<u8>(start)) && isSlash(load<u8>(start + 1))) return skipSlashes(start, end);
    let colon = start;
    while (colon < end && isSchemeByte(load<u8>(colon), colon == start)) colon++;
    if (colon == start || colon >= end || load<u8>(colon) != 0x3a) return start;
    const len = <i32>(colon - start);
    if (len == 4 && lower4(start) == 0x626f6c62) {
      start = colon + 1; // "blob": its origin is the URL inside
      continue;
    }
    if (isSpecial(start, len)) return skipSlashes(colon + 1, end);
    return end - colon >= 3 && isSlash(load<u8>(colon + 1)) && isSlash(load<u8>(colon + 2)) ? skipSlashes(colon + 1, end) : start;
  }
}

/** http, https, ws, wss, ftp (any case): a host follows the ":" whatever slashes come or not. */
function isSpecial(p: usize, len: i32): bool {
  if (len == 4 || len == 5) {
    if (lower4(p) != 0x70747468) return false; // "http"
    return len == 4 || (load<u8>(p + 4) | 0x20) == 0x73; // "s"
  }
  const a = load<u8>(p) | 0x20;
  const b = load<u8>(p + 1) | 0x20;
  if (len == 2) return a == 0x77 && b == 0x73; // "ws"
  if (len == 3) {
    const c = load<u8>(p + 2) | 0x20;
    return (a == 0x77 && b == 0x73 && c == 0x73) || (a == 0x66 && b == 0x74 && c == 0x70); // "wss", "ftp"
  }
  return false;
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
