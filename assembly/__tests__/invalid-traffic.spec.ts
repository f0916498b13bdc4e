// The general-invalid-traffic screen (assembly/core/traffic/): IP text parsers, CIDR range sets,
// the User-Agent token search, the default lists, the plugin configuration, and the decision's
// use of it (asked only where a bid was found).
import { Ipv6, parseIpv4, parseIpv6 } from "../core/traffic/ip-address";
import { IpRangeSet } from "../core/traffic/ip-ranges";
import { UaPatternSet } from "../core/traffic/ua-patterns";
import { InvalidTrafficRules, TrafficVerdict } from "../core/traffic/invalid-traffic";
import { PluginConfigParser } from "../filter/config";
import { CampaignConfigParser } from "../core/bidding/campaign-config";
import { Decision, DecisionEngine, DecisionSettings } from "../core/bidding/decision";
import { NoBid, noBidName } from "../core/bidding/reasons";
import { BidRequestParser } from "../core/openrtb/parse";
import { BidRequest } from "../core/openrtb/request";
import { Str } from "../core/bytes/str";
import { OpenBudget, bytesOf, halfModel } from "./support/decision-fixtures";

function v4(s: string): i64 {
  return parseIpv4(bytesOf(s), String.UTF8.byteLength(s));
}

const a6 = new Ipv6();
function v6(s: string): string {
  if (!parseIpv6(bytesOf(s), String.UTF8.byteLength(s), a6)) return "invalid";
  return a6.hi.toString(16) + "/" + a6.lo.toString(16);
}

describe("IP text", () => {
  it("IPv4: four octets 0-255 of 1-3 digits", () => {
    expect(v4("203.0.113.7")).toBe(0xcb007107);
    expect(v4("0.0.0.0")).toBe(0);
    expect(v4("255.255.255.255")).toBe(0xffffffff);
    expect(v4("203.0.113.0")).toBe(0xcb007100);
    expect(v4("256.0.0.1")).toBe(-1);
    expect(v4("1.2.3")).toBe(-1);
    expect(v4("1.2.3.4.5")).toBe(-1);
    expect(v4("1.2.3.")).toBe(-1);
    expect(v4("1..2.3")).toBe(-1);
    expect(v4("1.2.3.0004")).toBe(-1);
    expect(v4("1.2.3.x")).toBe(-1);
    expect(v4(" 1.2.3.4")).toBe(-1);
    expect(v4("")).toBe(-1);
  });

  it("IPv6: groups, one '::', an IPv4 tail", () => {
    expect(v6("2001:db8::1")).toBe("20010db800000000/1");
    expect(v6("2001:DB8:0:0:0:0:0:1")).toBe("20010db800000000/1");
    expect(v6("::")).toBe("0/0");
    expect(v6("::1")).toBe("0/1");
    expect(v6("fe80::")).toBe("fe80000000000000/0");
    expect(v6("1:2:3:4:5:6:7:8")).toBe("1000200030004/5000600070008");
    expect(v6("::ffff:192.0.2.1")).toBe("0/ffffc0000201");
    expect(v6("1:2:3:4:5:6:1.2.3.4")).toBe("1000200030004/5000601020304");
    const bad = ["", ":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4::5:6:7:8", "12345::", "g::", "1:", ":1", "1.2.3.4", "::1.2.3", "1:2:3:4:5:6:7:1.2.3.4", "fe80::1%eth0"];
    for (let i = 0; i < bad.length; i++) expect(v6(bad[i])).toBe("invalid", bad[i]);
  });
});

function set(cidrs: string[]): IpRangeSet {
  const s = new IpRangeSet();
  for (let i = 0; i < cidrs.length; i++) expect(s.add(cidrs[i])).toBe("", cidrs[i]);
  s.build();
  return s;
}

function has(s: IpRangeSet, ip: string): bool {
  const p = bytesOf(ip);
  const n = String.UTF8.byteLength(ip);
  return ip.includes(":") ? s.containsText(0, 0, p, n) : s.containsText(p, n, 0, 0);
}

describe("IP ranges", () => {
  it("IPv4 blocks: the block's first and last address, not their neighbours", () => {
    const s = set(["192.0.2.0/24", "198.51.100.7", "10.0.0.0/8"]);
    expect(has(s, "192.0.2.0")).toBe(true);
    expect(has(s, "192.0.2.255")).toBe(true);
    expect(has(s, "192.0.1.255")).toBe(false);
    expect(has(s, "192.0.3.0")).toBe(false);
    expect(has(s, "198.51.100.7")).toBe(true);
    expect(has(s, "198.51.100.8")).toBe(false);
    expect(has(s, "10.255.255.255")).toBe(true);
    expect(has(s, "11.0.0.0")).toBe(false);
    expect(has(s, "0.0.0.0")).toBe(false);
    expect(has(s, "not an ip")).toBe(false);
    expect(s.ranges).toBe(3);
  });

  it("merges overlapping and adjacent blocks; /0 is everything", () => {
    const s = set(["10.0.0.0/9", "10.128.0.0/9", "10.64.0.0/10", "172.16.0.0/12"]);
    expect(s.ranges).toBe(2);
    expect(has(s, "10.127.255.255")).toBe(true);
    expect(has(s, "10.128.0.0")).toBe(true);
    const all = set(["0.0.0.0/0"]);
    expect(has(all, "255.255.255.255")).toBe(true);
    expect(has(all, "0.0.0.0")).toBe(true);
  });

  it("IPv6 blocks, and an IPv4-mapped IPv6 address is looked up as IPv4", () => {
    const s = set(["2001:db8::/32", "2600:1f00::/24", "192.0.2.0/24", "fd00::/8", "fe00::/8"]);
    expect(has(s, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(true);
    expect(has(s, "2001:db9::")).toBe(false);
    expect(has(s, "2001:db7:ffff::")).toBe(false);
    expect(has(s, "2600:1fff::1")).toBe(true);
    expect(has(s, "2601::")).toBe(false);
    expect(has(s, "::ffff:192.0.2.9")).toBe(true);
    expect(has(s, "::ffff:192.0.3.9")).toBe(false);
    // fd00::/8 and fe00::/8 are adjacent: one range.
    expect(s.ranges).toBe(4);
    expect(has(s, "feff::")).toBe(true);
    const host = set(["2001:db8::1/128", "2001:db8:1::/64"]);
    expect(has(host, "2001:db8::1")).toBe(true);
    expect(has(host, "2001:db8::2")).toBe(false);
    expect(has(host, "2001:db8:1:0:ffff::")).toBe(true);
    expect(has(host, "2001:db8:1:1::")).toBe(false);
  });

  it("refuses what is not an address or a block, and host bits under the prefix", () => {
    const s = new IpRangeSet();
    expect(s.add("10.0.0.1/8")).toBe("bits set below the prefix length");
    expect(s.add("10.0.0.0/33")).toBe("prefix length above 32");
    expect(s.add("2001:db8::/129")).toBe("prefix length above 128");
    expect(s.add("2001:db8::1/64")).toBe("bits set below the prefix length");
    expect(s.add("10.0.0.0/")).toBe('expected an address or a CIDR block ("192.0.2.0/24", "2001:db8::/32")');
    expect(s.add("10.0.0.0/8a")).toBe('expected an address or a CIDR block ("192.0.2.0/24", "2001:db8::/32")');
    expect(s.add("example.com")).toBe('expected an address or a CIDR block ("192.0.2.0/24", "2001:db8::/32")');
    expect(s.added).toBe(0);
  });
});

function patterns(list: string[]): UaPatternSet {
  const s = new UaPatternSet();
  for (let i = 0; i < list.length; i++) expect(s.add(list[i])).toBe("", list[i]);
  s.build();
  return s;
}

function found(s: UaPatternSet, ua: string): bool {
  return s.matches(bytesOf(ua), String.UTF8.byteLength(ua));
}

describe("User-Agent tokens", () => {
  it("finds a token anywhere, in any letter case, and nothing else", () => {
    const s = patterns(["spider", "bot/", "HeadlessChrome"]);
    expect(found(s, "Mozilla/5.0 (compatible; Baiduspider/2.0)")).toBe(true);
    expect(found(s, "Googlebot/2.1")).toBe(true);
    expect(found(s, "x HEADLESSCHROME/120")).toBe(true);
    expect(found(s, "spider")).toBe(true);
    expect(found(s, "spide")).toBe(false);
    expect(found(s, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0")).toBe(false);
    expect(found(s, "")).toBe(false);
    expect(found(s, "bo")).toBe(false);
  });

  it("patterns that share their first three bytes are all tried", () => {
    const s = patterns(["crawler-x", "crawl"]);
    expect(found(s, "a crawl b")).toBe(true);
    expect(found(s, "CRAWLER-X")).toBe(true);
    const longFirst = patterns(["abcdef", "abcxyz"]);
    expect(found(longFirst, "zzabcxyzz")).toBe(true);
    expect(found(longFirst, "zzabcdezz")).toBe(false);
  });

  it("matches what a plain search would, at every offset, stepping by 1 (a 3-byte pattern) or by 2", () => {
    const withShort = ["bot/", "spider", "crawl", "curl/", "python-requests", "headless", "java/", "slurp", "aaa", "zzz"];
    const longOnly = ["bot/", "spider", "crawl", "curl/", "python-requests", "headless", "java/", "slurp", "abcd"];
    const texts = ["Mozilla/5.0 AppleWebKit/537.36", "curl/8.1", "Java/1.8.0_351", "Python-Requests/2.31", "Yahoo! Slurp", "aazaaz", "xzzz", "aaa",
      "AppleWebKit/605.1.15 Mobile/15E148", "Dalvik/2.1.0 (Linux; U; Android 13)", "abcd", "abc", "bot", "Googlebot/2.1", "headles", "spide", "x crawl"];
    const prefixes = ["", "x", "xy", "xyz", "(compatible; "];
    for (let l = 0; l < 2; l++) {
      const list = l == 0 ? withShort : longOnly;
      const s = patterns(list);
      for (let t = 0; t < texts.length; t++) {
        for (let q = 0; q < prefixes.length; q++) {
          for (let e = 0; e < 2; e++) {
            const text = prefixes[q] + texts[t] + (e == 0 ? "" : " tail");
            const lower = text.toLowerCase();
            let plain = false;
            for (let k = 0; k < list.length; k++) if (lower.includes(list[k])) plain = true;
            expect(found(s, text)).toBe(plain, text);
          }
        }
      }
    }
  });

  it("refuses short, long, non-ASCII and duplicate patterns", () => {
    const s = new UaPatternSet();
    expect(s.add("ab")).toBe("expected 3-128 characters");
    expect(s.add("a".repeat(129))).toBe("expected 3-128 characters");
    expect(s.add("bot\n")).toBe("expected printable ASCII");
    expect(s.add("robé")).toBe("expected printable ASCII");
    expect(s.add("Bot/")).toBe("");
    expect(s.add("bot/")).toBe("duplicate pattern");
  });
});

const defaultRules = InvalidTrafficRules.defaults();
const requestParser = new BidRequestParser();
const req = new BidRequest();

function judge(device: string): i32 {
  const body = '{"id":"r","imp":[{"id":"1","banner":{"w":300,"h":250}}],"device":' + device + "}";
  expect(requestParser.parse(bytesOf(body), String.UTF8.byteLength(body), req)).toBe(0);
  return defaultRules.judge(req);
}

function ua(s: string): i32 {
  return judge('{"ua":"' + s + '"}');
}

describe("the default screen", () => {
  it("names crawlers, monitors, scripts and headless browsers", () => {
    const bots = [
      "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
      "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
      "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36 (compatible; Googlebot/2.1)",
      "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
      "AdsBot-Google (+http://www.google.com/adsbot.html)",
      "Mediapartners-Google",
      "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
      "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/112.0 Safari/537.36 Chrome-Lighthouse",
      "curl/8.4.0",
      "python-requests/2.31.0",
      "Go-http-client/1.1",
      "Apache-HttpClient/4.5.14 (Java/17.0.8)",
      "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
      "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
      "Baiduspider-image+(+http://www.baidu.com/search/spider.htm)",
      "Mozilla/5.0 (compatible; YisouSpider; +http://yisou.example/)",
      "Screaming Frog SEO Spider/19.0",
      "Mozilla/5.0 (compatible; Seekport Crawler; http://seekport.com/)",
      "Mozilla/5.0 (compatible; Dataprovider.com) Crawler",
      // 360 Search's crawler ends the UA with its name, after no separator.
      "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/38.0.2125.122 Safari/537.36 360Spider",
      "Mozilla/5.0 (Windows; U; Windows NT 5.1; zh-CN; rv:1.8.0.11) Firefox/1.5.0.11; 360Spider",
    ];
    for (let i = 0; i < bots.length; i++) expect(ua(bots[i])).toBe(TrafficVerdict.BOT_USER_AGENT, bots[i]);
  });

  it("lets people's browsers and apps through, the Cubot phones included", () => {
    const people = [
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 Firefox/120.0",
      "Mozilla/5.0 (Linux; Android 10; CUBOT_X30 Build/QP1A.190711.020) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Mobile Safari/537.36",
      "Mozilla/5.0 (Linux; Android 11; Cubot KingKong 5 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0 Mobile Safari/537.36",
      "Dalvik/2.1.0 (Linux; U; Android 13; SM-S918B Build/TP1A.220624.014)",
      "Roku/DVP-12.5 (12.5.0.4178-AE)",
      "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36",
      "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
      // In-app UAs that start with the app's name (an iOS app's HTTP client, an SDK's webview).
      "SpiderSolitaire/5.3.1 CFNetwork/1410.0.3 Darwin/22.6.0",
      "DungeonCrawl/2.0 CFNetwork/1410.0.3 Darwin/22.6.0",
      "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0 Mobile Safari/537.36 SpiderSolitaire/5.3",
    ];
    for (let i = 0; i < people.length; i++) expect(ua(people[i])).toBe(TrafficVerdict.VALID, people[i]);
    expect(judge('{"ip":"203.0.113.7"}')).toBe(TrafficVerdict.VALID);
  });
});

const pluginConfig = new PluginConfigParser();

function parseTraffic(json: string): InvalidTrafficRules | null {
  const cfg = pluginConfig.parse(bytesOf(json), String.UTF8.byteLength(json));
  return cfg === null ? null : cfg.traffic;
}

describe("the plugin configuration's invalid_traffic", () => {
  it("each list given replaces its default; [] empties it; left out, the defaults hold", () => {
    expect(pluginConfig.parse(bytesOf("{}"), 2)!.traffic).toBeNull(); // the decision's defaults
    const mine = parseTraffic('{"invalid_traffic":{"user_agents":["mybot"],"ip_ranges":["192.0.2.0/24","2001:db8::/32"]}}')!;
    expect(mine.botTokens.size).toBe(1);
    expect(mine.botExceptions.size).toBe(1); // the default exception
    expect(mine.ipRanges.ranges).toBe(2);
    expect(mine.active).toBe(true);
    const ipOnly = parseTraffic('{"invalid_traffic":{"ip_ranges":["10.0.0.0/8"]}}')!;
    expect(ipOnly.botTokens.size).toBeGreaterThan(30); // the built-in tokens
    const off = parseTraffic('{"invalid_traffic":{"user_agents":[]}}')!;
    expect(off.active).toBe(false);
  });

  it("errors name the field and the element", () => {
    expect(parseTraffic('{"invalid_traffic":{"ip_ranges":["10.0.0.1/8"]}}')).toBeNull();
    expect(pluginConfig.error).toBe("invalid_traffic.ip_ranges[0]: bits set below the prefix length");
    expect(parseTraffic('{"invalid_traffic":{"user_agents":["ok-bot","x"]}}')).toBeNull();
    expect(pluginConfig.error).toBe("invalid_traffic.user_agents[1]: expected 3-128 characters");
    expect(parseTraffic('{"invalid_traffic":{"user_agent_exceptions":["cubot","CUBOT"]}}')).toBeNull();
    expect(pluginConfig.error).toBe("invalid_traffic.user_agent_exceptions[1]: duplicate pattern");
    expect(parseTraffic('{"invalid_traffic":{"bots":[]}}')).toBeNull();
    expect(pluginConfig.error).toBe("invalid_traffic.bots: unknown key");
    expect(parseTraffic('{"invalid_traffic":{"ip_ranges":"10.0.0.0/8"}}')).toBeNull();
  });
});

// ---- decision -----------------------------------------------------------------------



const MODEL = halfModel();
const engine = new DecisionEngine(10);
const out = new Decision();
const CAMPAIGNS_JSON = '{"version":1,"campaigns":[{"id":"c1","value_per_conversion_micros":8000,"creatives":[{"crid":"b","w":300,"h":250}]}]}';
const CAMPAIGNS = new CampaignConfigParser().parse(bytesOf(CAMPAIGNS_JSON), String.UTF8.byteLength(CAMPAIGNS_JSON))!;
const BANNER = '{"id":"1","banner":{"w":300,"h":250}}';
const OTHER_SIZE = '{"id":"1","banner":{"w":1,"h":1}}';

function settingsWith(traffic: InvalidTrafficRules): DecisionSettings {
  const s = new DecisionSettings();
  const usd = new Str();
  usd.set(bytesOf("USD"), 3);
  s.currency.copyFrom(usd);
  s.traffic = traffic;
  return s;
}

/** "bid", or the no-bid reason's name; a screened request reserves nothing. */
function decide(imps: string, device: string, traffic: InvalidTrafficRules = defaultRules): string {
  const body = '{"id":"r","imp":[' + imps + '],"device":' + device + "}";
  expect(requestParser.parse(bytesOf(body), String.UTF8.byteLength(body), req)).toBe(0);
  const budget = new OpenBudget();
  engine.decide(req, MODEL, CAMPAIGNS, settingsWith(traffic), budget, 1704067200000, out);
  expect(budget.reserved).toBe(out.count);
  return out.count > 0 ? "bid" : noBidName(out.reason);
}

describe("the decision screens a request it would bid on", () => {
  it("a crawler's request that would get a bid is bot_user_agent; one that would not keeps its reason", () => {
    expect(decide(BANNER, '{"ua":"Mozilla/5.0 (compatible; Googlebot/2.1)"}')).toBe("bot_user_agent");
    expect(decide(BANNER + "," + BANNER.replace('"1"', '"2"'), '{"ua":"curl/8.4.0"}')).toBe("bot_user_agent");
    expect(decide(OTHER_SIZE, '{"ua":"Mozilla/5.0 (compatible; Googlebot/2.1)"}')).toBe("no_match");
    expect(decide(BANNER, '{"ua":"Mozilla/5.0 (Windows NT 10.0) Chrome/120.0"}')).toBe("bid");
    expect(out.impReasons[NoBid.BOT_USER_AGENT]).toBe(0);
  });

  it("a data-centre address is datacenter_ip (IPv4, IPv6); an empty screen lets everything through", () => {
    const dc = new InvalidTrafficRules();
    expect(dc.ipRanges.add("198.51.100.0/24")).toBe("");
    expect(dc.ipRanges.add("2600:1f00::/24")).toBe("");
    dc.build();
    expect(decide(BANNER, '{"ua":"Mozilla/5.0 Chrome/120.0","ip":"198.51.100.20"}', dc)).toBe("datacenter_ip");
    expect(decide(BANNER, '{"ua":"Mozilla/5.0 Chrome/120.0","ipv6":"2600:1f18::1"}', dc)).toBe("datacenter_ip");
    expect(decide(BANNER, '{"ua":"Mozilla/5.0 Chrome/120.0","ip":"203.0.113.7"}', dc)).toBe("bid");
    // dc has no UA tokens: a crawler from elsewhere passes this screen.
    expect(decide(BANNER, '{"ua":"Googlebot/2.1","ip":"203.0.113.7"}', dc)).toBe("bid");
    expect(decide(BANNER, '{"ua":"Googlebot/2.1","ip":"198.51.100.20"}', new InvalidTrafficRules())).toBe("bid");
  });
});
