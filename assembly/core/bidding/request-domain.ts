// The domains of a request that a campaign's domain lists compare (domains_allow, domains_block).
// Exchanges fill these fields loosely: site.page without site.domain, a domain written as a URL
// ("https://news.example"), with a port or a trailing dot ("news.example."). Each is reduced to
// its host name here, so that a block list cannot be passed by the form of the name.
import { Str } from "../bytes/str";
import { hostOf, withoutAppStorePrefix } from "../bytes/host-name";
import { BidRequest } from "../openrtb/request";
import { StringSet } from "./owned-bytes";

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
  /**
   * A domain field holds what cannot be compared without decoding it (percent-escapes, IDNA's
   * full-width dots, no host after a scheme: bytes/host-name.ts): a block list cannot tell it is
   * not listed, so it refuses the request.
   */
  unreadable: bool = false;
  primaryReadable: bool = true;

  /** Some domain of the request is in `list` (a block list): site.domain, site.page's host, app.bundle, app.domain; or one cannot be read (fail closed). */
  anyIn(list: StringSet): bool {
    return (
      this.unreadable ||
      (this.siteDomain.len > 0 && list.hasDomain(this.siteDomain)) ||
      (this.pageHost.len > 0 && list.hasDomain(this.pageHost)) ||
      (this.appBundle.len > 0 && list.hasDomain(this.appBundle)) ||
      (this.appDomain.len > 0 && list.hasDomain(this.appDomain))
    );
  }

  /** `list` (an allow list) has the request's own domain, readable. */
  primaryIn(list: StringSet): bool {
    return this.primaryReadable && list.hasDomain(this.primary);
  }

  /** Reads the request's domains (DecisionEngine.decide(), when some campaign has a domain list). */
  read(req: BidRequest): void {
    const site = req.site;
    const app = req.app;
    let appDomainOk = true;
    let siteOk = true;
    let pageOk = true;
    let bundleOk = true;
    if (site.present) {
      siteOk = hostOf(site.domain, this.siteDomain);
      pageOk = hostOf(site.page, this.pageHost);
    } else {
      this.siteDomain.clear();
      this.pageHost.clear();
    }
    if (app.present) {
      bundleOk = hostOf(app.bundle, this.appBundle);
      withoutAppStorePrefix(this.appBundle); // "id1234567" is App Store app 1234567, as lists may write it
      appDomainOk = hostOf(app.domain, this.appDomain);
    } else {
      this.appBundle.clear();
      this.appDomain.clear();
    }
    this.unreadable = !(appDomainOk && siteOk && pageOk && bundleOk);
    if (this.siteDomain.len > 0) {
      this.primary.copyFrom(this.siteDomain);
      this.primaryReadable = siteOk;
    } else if (this.pageHost.len > 0) {
      this.primary.copyFrom(this.pageHost);
      this.primaryReadable = pageOk;
    } else {
      this.primary.copyFrom(this.appBundle);
      this.primaryReadable = bundleOk;
    }
  }
}
