// The domains of a request that a campaign's domain lists compare (domains_allow, domains_block).
// Exchanges fill these fields loosely: site.page without site.domain, a domain written as a URL
// ("https://news.example"), with a port or a trailing dot ("news.example."). Each is reduced to
// its host name here, so that a block list cannot be passed by the form of the name.
import { Str } from "../bytes/str";
import { BidRequest } from "../openrtb/request";
import { StringSet } from "./owned-bytes";

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

/**
 * The request's domains, reduced to host names (filled per request by read()). `primary` is the
 * one an allow list must find: the site's (site.domain, else the host of site.page), else the
 * app's bundle. A block list looks at all of them: site.domain, site.page's host, app.bundle and
 * app.domain (a request that names a blocked domain anywhere is not bid on).
 */
export class RequestDomains {
  readonly siteDomain: Str = new Str();
  readonly pageHost: Str = new Str();
  readonly appBundle: Str = new Str();
  readonly appDomain: Str = new Str();
  readonly primary: Str = new Str();

  /** Some domain of the request is in `list` (a block list): site.domain, site.page's host, app.bundle, app.domain. */
  anyIn(list: StringSet): bool {
    return (
      (this.siteDomain.len > 0 && list.hasDomain(this.siteDomain)) ||
      (this.pageHost.len > 0 && list.hasDomain(this.pageHost)) ||
      (this.appBundle.len > 0 && list.hasDomain(this.appBundle)) ||
      (this.appDomain.len > 0 && list.hasDomain(this.appDomain))
    );
  }

  /** Reads the request's domains (DecisionEngine.decide(), when some campaign has a domain list). */
  read(req: BidRequest): void {
    const site = req.site;
    const app = req.app;
    if (site.present) {
      hostOf(site.domain, this.siteDomain);
      hostOf(site.page, this.pageHost);
    } else {
      this.siteDomain.clear();
      this.pageHost.clear();
    }
    if (app.present) {
      hostOf(app.bundle, this.appBundle);
      hostOf(app.domain, this.appDomain);
    } else {
      this.appBundle.clear();
      this.appDomain.clear();
    }
    if (this.siteDomain.len > 0) this.primary.copyFrom(this.siteDomain);
    else if (this.pageHost.len > 0) this.primary.copyFrom(this.pageHost);
    else this.primary.copyFrom(this.appBundle);
  }
}
