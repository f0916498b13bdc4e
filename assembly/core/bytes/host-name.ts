// The host name in a URL or a loosely written domain, as a view (nothing copied): what domain
// lists compare (the request's domains: bidding/request-domain.ts; the exchange's badv).
import { Str } from "./str";

/**
 * Sets `out` to the host name in `raw`: after a scheme ("https://") or a scheme-relative "//" and
 * any user info ("user@"), up to a path, query, fragment or port, without trailing dots. A bare
 * name comes back as it is (less a port and trailing dots). A view into `raw`: nothing is copied.
 */
export function hostOf(raw: Str, out: Str): void {
  let start = raw.ptr;
  const end = raw.ptr + <usize>raw.len;
  start = afterScheme(start, end);
  // The authority ends at the first "/", "?" or "#"; user info ends at its last "@".
  let stop = start;
  while (stop < end) {
    const c = load<u8>(stop);
    if (c == 0x2f || c == 0x3f || c == 0x23) break;
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
}

/** Where the name starts after "scheme://" or "//" at `start` (a scheme: a letter, then letters, digits, "+", "-", "."); `start` when there is none. */
function afterScheme(start: usize, end: usize): usize {
  if (end - start >= 2 && load<u8>(start) == 0x2f && load<u8>(start + 1) == 0x2f) return start + 2;
  for (let p = start; p < end; p++) {
    const c = load<u8>(p);
    if (c == 0x3a) {
      return p > start && end - p >= 3 && load<u8>(p + 1) == 0x2f && load<u8>(p + 2) == 0x2f ? p + 3 : start;
    }
    const letter = (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
    const other = (c >= 0x30 && c <= 0x39) || c == 0x2b || c == 0x2d || c == 0x2e;
    if (!letter && (p == start || !other)) return start;
  }
  return start;
}

/** `name` without a leading "www." label (any case): the same site or advertiser. */
export function withoutWww(name: Str): void {
  if (name.len > 4 && (load<u32>(name.ptr) | 0x00202020) == 0x2e777777) name.set(name.ptr + 4, name.len - 4);
}
