// The host name in a URL or a loosely written domain, as a view (nothing copied): what domain
// lists compare (the request's domains: bidding/request-domain.ts; the exchange's badv).
//
// Read as browsers read a URL's host (WHATWG URL, for what can be done without copying): ASCII
// whitespace around it ignored, "\" taken as "/", any run of slashes after "http:" or "https:",
// user info up to the last "@" of the authority, a port, trailing dots. What cannot be compared
// without decoding (percent-escapes, non-ASCII characters: IDNA) is reported as unreadable, and
// the caller decides (a block list then refuses the request: request-domain.ts).
import { Str } from "./str";

/**
 * Sets `out` to the host name in `raw` (a view into it) and says whether it is readable: only
 * letters, digits and ".-_:[]" (an IPv6 literal keeps its brackets and colons), none of it
 * percent-encoded or non-ASCII. An empty host is readable (there is none).
 */
export function hostOf(raw: Str, out: Str): bool {
  let start = raw.ptr;
  let end = raw.ptr + <usize>raw.len;
  while (start < end && isSpace(load<u8>(start))) start++;
  while (end > start && isSpace(load<u8>(end - 1))) end--;
  start = afterScheme(start, end);
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
  // A port: ":" followed by digits only, after the last "]" (an IPv6 literal keeps its colons).
  for (let p = stop; p > start; p--) {
    const c = load<u8>(p - 1);
    if (c == 0x3a) {
      stop = p - 1;
      break;
    }
    if (c < 0x30 || c > 0x39) break;
  }
  while (stop > start && load<u8>(stop - 1) == 0x2e) stop--;
  out.set(start, <i32>(stop - start));
  for (let p = start; p < stop; p++) {
    if (!isHostByte(load<u8>(p))) return false;
  }
  return true;
}

/**
 * Where the name starts after its scheme: "http:" or "https:" (any case) and any run of "/" or
 * "\" after it (browsers read "https:/x", "https:///x" and "https:\\x" as host x); another scheme
 * followed by "//"; a scheme-relative "//". `start` when there is none ("news.example:443" has no
 * scheme: a scheme is only taken before "//" or as http(s)).
 */
function afterScheme(start: usize, end: usize): usize {
  const n = end - start;
  if (n >= 2 && isSlash(load<u8>(start)) && isSlash(load<u8>(start + 1))) return skipSlashes(start, end);
  if (n >= 5 && (load<u32>(start) | 0x20202020) == 0x70747468) {
    // "http"
    let p = start + 4;
    if ((load<u8>(p) | 0x20) == 0x73) p++; // "s"
    if (p < end && load<u8>(p) == 0x3a) return skipSlashes(p + 1, end);
  }
  for (let p = start; p < end; p++) {
    const c = load<u8>(p);
    if (c == 0x3a) {
      return p > start && end - p >= 3 && isSlash(load<u8>(p + 1)) && isSlash(load<u8>(p + 2)) ? skipSlashes(p + 1, end) : start;
    }
    const letter = (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
    const other = (c >= 0x30 && c <= 0x39) || c == 0x2b || c == 0x2d || c == 0x2e;
    if (!letter && (p == start || !other)) return start;
  }
  return start;
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

@inline function isHostByte(c: u8): bool {
  const l = c | 0x20;
  return (l >= 0x61 && l <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2e || c == 0x2d || c == 0x5f || c == 0x3a || c == 0x5b || c == 0x5d;
}

/** `name` without a leading "www." label (any case): the same site or advertiser. */
export function withoutWww(name: Str): void {
  if (name.len > 4 && (load<u32>(name.ptr) | 0x00202020) == 0x2e777777) name.set(name.ptr + 4, name.len - 4);
}
