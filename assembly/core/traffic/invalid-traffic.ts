// General invalid traffic (MRC's GIVT): requests from software that says it is not a person — a
// crawler, a monitor, a script, a headless browser — or that come from a data centre's addresses.
// Buying them spends money no person sees. The screen is two lists (plugin configuration
// `invalid_traffic`, docs/PLUGIN_CONFIG.md): User-Agent tokens, with exceptions for the devices
// whose names contain one, and IP ranges. It answers for one request; the decision asks it only
// when the request would otherwise get a bid (decision.ts), so traffic the bidder does not want
// anyway costs nothing here.
import { BidRequest } from "../openrtb/request";
import { IpRangeSet } from "./ip-ranges";
import { UaPatternSet } from "./ua-patterns";

/**
 * The tokens of self-declared non-human agents (the default of `user_agents`): search and SEO
 * crawlers ("Googlebot/2.1", "AhrefsBot/7.0", "Baiduspider/2.0" — "bot" or "spider" followed by a
 * version, a separator or the end of a product name; "crawler"), preview fetchers, uptime
 * monitors, HTTP libraries and headless or automated browsers. Each is a case-insensitive
 * substring. "spider" and "crawl" alone also named apps whose names hold them, which SDKs put
 * first in an in-app UA ("SpiderSolitaire/5.3.1 CFNetwork/…", "DungeonCrawl/2.0"): a mobile audit
 * saw them all refused.
 */
export const DEFAULT_BOT_TOKENS: StaticArray<string> = [
  "bot/", "bot;", "bot)", "bot-", "bot ", "bot_", "bot.",
  "spider/", "spider;", "spider)", "spider-", "spider+", "spider_", "spider.", "360spider", "crawler", "slurp", "facebookexternalhit", "mediapartners-google", "feedfetcher",
  "headless", "phantomjs", "selenium", "puppeteer", "playwright", "lighthouse",
  "pingdom", "uptimerobot", "statuscake",
  "python-requests", "python-urllib", "aiohttp", "curl/", "wget/", "go-http-client",
  "java/", "libwww", "httpclient", "scrapy", "node-fetch", "axios/",
];

/**
 * UAs that contain a token and are people's devices all the same (the default of
 * `user_agent_exceptions`): the phone maker Cubot names its models "CUBOT_…"/"Cubot …".
 */
export const DEFAULT_BOT_EXCEPTIONS: StaticArray<string> = ["cubot"];

export namespace TrafficVerdict {
  export const VALID: i32 = 0;
  /** The User-Agent names a non-human agent (a token, and no exception). */
  export const BOT_USER_AGENT: i32 = 1;
  /** device.ip (or device.ipv6) is in one of the configured ranges. */
  export const DATACENTER_IP: i32 = 2;
}

export class InvalidTrafficRules {
  readonly botTokens: UaPatternSet = new UaPatternSet();
  readonly botExceptions: UaPatternSet = new UaPatternSet();
  readonly ipRanges: IpRangeSet = new IpRangeSet();

  /** The default screen: the built-in UA tokens and exceptions, no IP ranges. */
  static defaults(): InvalidTrafficRules {
    const r = new InvalidTrafficRules();
    r.addDefaultTokens();
    r.addDefaultExceptions();
    r.build();
    return r;
  }

  /** The built-in tokens (DEFAULT_BOT_TOKENS), before build(). */
  addDefaultTokens(): void {
    for (let i = 0; i < DEFAULT_BOT_TOKENS.length; i++) this.botTokens.add(DEFAULT_BOT_TOKENS[i]);
  }

  /** The built-in exceptions (DEFAULT_BOT_EXCEPTIONS), before build(). */
  addDefaultExceptions(): void {
    for (let i = 0; i < DEFAULT_BOT_EXCEPTIONS.length; i++) this.botExceptions.add(DEFAULT_BOT_EXCEPTIONS[i]);
  }

  build(): void {
    this.botTokens.build();
    this.botExceptions.build();
    this.ipRanges.build();
  }

  /** Nothing to screen (both lists empty): the decision skips the call. */
  get active(): bool {
    return this.botTokens.size > 0 || !this.ipRanges.isEmpty;
  }

  /** TrafficVerdict for the request's device: its User-Agent first, then its address. */
  judge(req: BidRequest): i32 {
    const dev = req.device;
    if (!dev.present) return TrafficVerdict.VALID;
    const ua = dev.ua;
    if (ua.len > 0 && this.botTokens.matches(ua.ptr, ua.len) && !this.botExceptions.matches(ua.ptr, ua.len)) return TrafficVerdict.BOT_USER_AGENT;
    if (!this.ipRanges.isEmpty && this.ipRanges.containsText(dev.ip.ptr, dev.ip.len, dev.ipv6.ptr, dev.ipv6.len)) return TrafficVerdict.DATACENTER_IP;
    return TrafficVerdict.VALID;
  }
}
