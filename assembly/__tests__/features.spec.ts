// Hashed features of one impression (assembly/core/features/*): every test
// parses a real BidRequest and compares the emitted buckets, in order, with
// murmur3_32("field=value", 0) & mask computed independently here.
import { murmur3_32, Murmur3Stream } from "../core/hash/murmur3";
import { BidRequestParser } from "../core/openrtb/parse";
import { BidRequest } from "../core/openrtb/request";
import { FeatureExtractor, MAX_SEGMENT_FEATURES } from "../core/features/extract";
import { FeatureVector, MAX_FEATURES } from "../core/features/feature-vector";
import {
  BROWSER_NAMES,
  OS_NAMES,
  browserName,
  classifyBrowser,
  classifyOs,
  osName,
} from "../core/features/user-agent";
import { containsIgnoreCase } from "../core/bytes/str";
import {
  FLOOR_BUCKETS,
  decimalHashes,
  floorBucketIndex,
  hashDecimal,
  nameHashes,
  uaClassHashes,
  uaClassIndex,
} from "../core/features/constant-hashes";
import { dayNumber, hourOf, localMinutes, msIntoDay, weekdayOf } from "../core/features/time";

const BITS: i32 = 18;
const MASK: u32 = (1 << 18) - 1;

/** 2024-01-01T00:00:00Z, a Monday. */
const MON_2024: i64 = 1704067200000;
const HOUR_MS: i64 = 3600000;
const DAY_MS: i64 = 86400000;

const parser = new BidRequestParser();
const req = new BidRequest();
const fx = new FeatureExtractor(BITS);
const fv = new FeatureVector();
// Keeps the body alive while req's views point into it.
let body: ArrayBuffer = new ArrayBuffer(0);

function parse(json: string): void {
  body = String.UTF8.encode(json);
  const rc = parser.parse(changetype<usize>(body), body.byteLength, req);
  if (rc != 0) {
    trace("parse failed: " + parser.errorMessage.toString());
  }
  expect(rc).toBe(0);
}

function h(s: string, mask: u32 = MASK): u32 {
  const b = String.UTF8.encode(s);
  return murmur3_32(changetype<usize>(b), b.byteLength, 0) & mask;
}

/** Buckets of the "field=value" strings, in order. */
function hs(items: string[], mask: u32 = MASK): u32[] {
  const out = new Array<u32>();
  for (let i = 0; i < items.length; i++) out.push(h(items[i], mask));
  return out;
}

function extract(json: string, timeMs: i64, offset: i32, impIndex: i32 = 0, personal: bool = true): u32[] {
  parse(json);
  fv.reset();
  fx.extract(req, req.imp(impIndex), timeMs, offset, fv, personal, req.imp(impIndex).bidfloor);
  expect(fv.dropped).toBe(0);
  const out = new Array<u32>();
  for (let i = 0; i < fv.count; i++) out.push(fv.at(i));
  return out;
}

function uaOf(ua: string): string {
  const b = String.UTF8.encode(ua);
  const p = changetype<usize>(b);
  return osName(classifyOs(p, b.byteLength)) + "_" + browserName(classifyBrowser(p, b.byteLength));
}

const UA_CHROME_WIN =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const UA_SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
const UA_CHROME_ANDROID =
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
const UA_FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
const UA_MSIE = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)";
const UA_EDGE =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91";
const UA_SAFARI_MAC =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";

describe("time: weekday and hour in a UTC offset", () => {
  it("numbers weekdays from Sunday = 0 (epoch was a Thursday)", () => {
    expect(weekdayOf(0, 0)).toBe(4);
    expect(weekdayOf(MON_2024, 0)).toBe(1);
    expect(weekdayOf(MON_2024 + 5 * DAY_MS, 0)).toBe(6);
    expect(weekdayOf(MON_2024 + 6 * DAY_MS, 0)).toBe(0);
    expect(hourOf(MON_2024, 0)).toBe(0);
    expect(hourOf(MON_2024 + 13 * HOUR_MS + 59 * 60000, 0)).toBe(13);
  });

  it("switches day and hour exactly at midnight", () => {
    expect(weekdayOf(MON_2024 - 1, 0)).toBe(0);
    expect(hourOf(MON_2024 - 1, 0)).toBe(23);
    expect(weekdayOf(MON_2024, 0)).toBe(1);
    expect(hourOf(MON_2024, 0)).toBe(0);
  });

  it("applies positive and negative offsets across midnight", () => {
    // 23:30 UTC Sunday = 00:30 Monday at UTC+1
    const t = MON_2024 - 30 * 60000;
    expect(weekdayOf(t, 60)).toBe(1);
    expect(hourOf(t, 60)).toBe(0);
    // 00:30 UTC Monday = 19:30 Sunday at UTC-5
    const u = MON_2024 + 30 * 60000;
    expect(weekdayOf(u, -300)).toBe(0);
    expect(hourOf(u, -300)).toBe(19);
    // offsets of a whole day either way
    expect(weekdayOf(MON_2024, 1440)).toBe(2);
    expect(weekdayOf(MON_2024, -1440)).toBe(0);
    expect(hourOf(MON_2024, -1440)).toBe(0);
    // half-hour offsets (India, UTC+5:30): 20:00 UTC -> 01:30 next day
    expect(hourOf(MON_2024 + 20 * HOUR_MS, 330)).toBe(1);
    expect(weekdayOf(MON_2024 + 20 * HOUR_MS, 330)).toBe(2);
  });

  it("handles timestamps before the epoch (floor division)", () => {
    expect(weekdayOf(-1, 0)).toBe(3); // 1969-12-31 23:59:59.999, Wednesday
    expect(hourOf(-1, 0)).toBe(23);
    expect(localMinutes(-1, 0)).toBe(-1);
    expect(localMinutes(-60000, 0)).toBe(-1);
    expect(localMinutes(-60001, 0)).toBe(-2);
    expect(dayNumber(-1, 0)).toBe(-1);
    expect(dayNumber(0, 0)).toBe(0);
    expect(msIntoDay(-1, 0)).toBe(DAY_MS - 1);
  });

  it("computes day numbers and ms into the day with the offset", () => {
    expect(dayNumber(MON_2024, 0)).toBe(19723);
    expect(dayNumber(MON_2024 - 1, 0)).toBe(19722);
    expect(dayNumber(MON_2024 - 1, 1)).toBe(19723);
    expect(msIntoDay(MON_2024 + 1234, 0)).toBe(1234);
    expect(msIntoDay(MON_2024 + 1234, -60)).toBe(DAY_MS - HOUR_MS + 1234);
    expect(msIntoDay(MON_2024 + 1234, 60)).toBe(HOUR_MS + 1234);
  });
});

describe("user-agent classification (iPinYou order)", () => {
  it("classifies real user agents", () => {
    expect(uaOf(UA_CHROME_WIN)).toBe("windows_chrome");
    // iPhone UAs do not contain "ios"; "Mac OS X" makes them "mac", and
    // "safari" comes after "chrome" in the browser list.
    expect(uaOf(UA_SAFARI_IPHONE)).toBe("mac_safari");
    expect(uaOf(UA_CHROME_ANDROID)).toBe("android_chrome");
    expect(uaOf(UA_FIREFOX_LINUX)).toBe("linux_firefox");
    expect(uaOf(UA_MSIE)).toBe("windows_ie");
    // Edge carries "Chrome/": chrome comes first in the list.
    expect(uaOf(UA_EDGE)).toBe("windows_chrome");
    expect(uaOf(UA_SAFARI_MAC)).toBe("mac_safari");
    expect(uaOf("Opera/9.80 (Windows NT 6.1; U; en) Presto/2.10.289 Version/12.02")).toBe("windows_opera");
    expect(uaOf("Mozilla/5.0 (compatible; MetaSr 1.0; SE 2.X MetaSr 1.0; Sogou) Windows")).toBe("windows_sogou");
    expect(uaOf("Mozilla/5.0 (Windows NT 6.1) Maxthon/4.4 Chrome/30")).toBe("windows_chrome");
    expect(uaOf("Mozilla/5.0 (Windows NT 6.1) Maxthon/4.4")).toBe("windows_maxthon");
  });

  it("uses the first operating system of the list, not the first in the string", () => {
    // "Android" appears before "Linux"? No: both present, android is earlier in the list.
    expect(uaOf("Linux; Android 9")).toBe("android_other");
    expect(uaOf("Android 9; Windows")).toBe("windows_other");
    expect(uaOf("iOS 17 Macintosh")).toBe("ios_other");
  });

  it("is case-insensitive", () => {
    expect(uaOf("WINDOWS CHROME")).toBe("windows_chrome");
    expect(uaOf("wInDoWs fIrEfOx")).toBe("windows_firefox");
  });

  it("falls back to other; empty is other_other", () => {
    expect(uaOf("")).toBe("other_other");
    expect(uaOf("curl/8.4.0")).toBe("other_other");
    expect(classifyOs(0, 0)).toBe(-1);
    expect(classifyBrowser(0, 0)).toBe(-1);
    // "ie" is a bare substring in the iPinYou list: any UA containing it counts.
    expect(uaOf("SomeClient/1.0")).toBe("other_ie");
  });

  it("returns the list indexes", () => {
    const b = String.UTF8.encode(UA_FIREFOX_LINUX);
    expect(classifyOs(changetype<usize>(b), b.byteLength)).toBe(4);
    expect(classifyBrowser(changetype<usize>(b), b.byteLength)).toBe(4);
    expect(osName(-1)).toBe("other");
    expect(browserName(7)).toBe("ie");
  });

  it("classifies as trying the names one by one would (random strings of the names' letters)", () => {
    // The definition: the first name of the list that occurs anywhere, ignoring ASCII case.
    const alphabet = "windowsiocmaandrlxuhefgytpWINDOSCHROMEIEFARI ;/";
    let seed: u32 = 12345;
    let bestOs = 0;
    for (let round = 0; round < 3000; round++) {
      const n = <i32>(seed % 40);
      let text = "";
      for (let i = 0; i < n; i++) {
        seed = seed * 1664525 + 1013904223;
        text += alphabet.charAt(<i32>((seed >>> 8) % <u32>alphabet.length));
      }
      seed = seed * 1664525 + 1013904223;
      // Sometimes a name is planted, cut at a random length, so near matches and edges occur.
      if (seed % 3 == 0) {
        const names = seed % 2 == 0 ? OS_NAMES : BROWSER_NAMES;
        const name = unchecked(names[<i32>((seed >>> 4) % <u32>names.length)]);
        text += name.substring(0, 1 + <i32>((seed >>> 12) % <u32>name.length));
      }
      const b = String.UTF8.encode(text);
      const p = changetype<usize>(b);
      // Every prefix too: a name must not match past the end of the range.
      for (let len = b.byteLength; len >= b.byteLength - 3 && len >= 0; len--) {
        let wantOs = -1;
        for (let k = OS_NAMES.length - 1; k >= 0; k--) if (containsIgnoreCase(p, len, unchecked(OS_NAMES[k]))) wantOs = k;
        let wantBrowser = -1;
        for (let k = BROWSER_NAMES.length - 1; k >= 0; k--) if (containsIgnoreCase(p, len, unchecked(BROWSER_NAMES[k]))) wantBrowser = k;
        expect(classifyOs(p, len)).toBe(wantOs, text);
        expect(classifyBrowser(p, len)).toBe(wantBrowser, text);
        if (wantOs > 0) bestOs++;
      }
    }
    // The strings are not all trivial: names after the first are found often.
    expect(bestOs).toBeGreaterThan(100);
  });

  it("containsIgnoreCase matches at the edges and not past the end", () => {
    const b = String.UTF8.encode("xxLINUX");
    const p = changetype<usize>(b);
    expect(containsIgnoreCase(p, 7, "linux")).toBe(true);
    expect(containsIgnoreCase(p, 6, "linux")).toBe(false); // last byte outside
    expect(containsIgnoreCase(p + 2, 5, "linux")).toBe(true);
    expect(containsIgnoreCase(p, 2, "xxl")).toBe(false);
    expect(containsIgnoreCase(p, 0, "")).toBe(true);
    expect(containsIgnoreCase(p, 7, "linuxx")).toBe(false);
  });
});

/** The name of a bidfloor's bucket, as the floor feature hashes it. */
function floorBucket(bidfloorCpm: f64): string {
  return FLOOR_BUCKETS[floorBucketIndex(bidfloorCpm)];
}

describe("floor buckets and decimal hashing", () => {
  it("maps bidfloor x 100 to the iPinYou slotprice buckets", () => {
    expect(floorBucket(0)).toBe("0");
    expect(floorBucket(0.004)).toBe("0");
    expect(floorBucket(0.01)).toBe("1-10");
    expect(floorBucket(0.1)).toBe("1-10");
    expect(floorBucket(0.11)).toBe("11-50");
    expect(floorBucket(0.5)).toBe("11-50");
    expect(floorBucket(0.51)).toBe("51-100");
    expect(floorBucket(1.0)).toBe("51-100");
    expect(floorBucket(1.01)).toBe("101+");
    expect(floorBucket(250)).toBe("101+");
    // half-cent boundaries (x * 100 is exactly 0.5, 10.5, 50.5 for these)
    expect(floorBucket(0.005)).toBe("0");
    expect(floorBucket(0.105)).toBe("1-10");
    expect(floorBucket(0.505)).toBe("11-50");
    expect(floorBucket(1.0051)).toBe("101+");
    expect(floorBucket(NaN)).toBe("0");
    expect(floorBucket(-1)).toBe("0");
  });

  it("hashDecimal hashes the decimal digits", () => {
    const vals: i64[] = [0, 7, 10, 300, 250, 1234567890123, -5, -120];
    for (let i = 0; i < vals.length; i++) {
      const s = new Murmur3Stream();
      s.reset(0);
      s.updateAscii("x=");
      hashDecimal(s, vals[i]);
      expect(s.finish()).toBe(h("x=" + vals[i].toString(), 0xffffffff));
    }
  });
});

/** A fresh stream that has hashed `text`. */
function stream(text: string): Murmur3Stream {
  const s = new Murmur3Stream();
  s.reset(0);
  const b = String.UTF8.encode(text);
  s.update(changetype<usize>(b), b.byteLength);
  return s;
}

describe("constant feature hashes", () => {
  it("holds the hash of every weekday and hour text", () => {
    const hours = decimalHashes(stream("hour="), 24);
    expect(hours.length).toBe(24);
    for (let v = 0; v < 24; v++) expect(hours[v]).toBe(h("hour=" + v.toString(), 0xffffffff));
    const days = decimalHashes(stream("weekday="), 7);
    for (let v = 0; v < 7; v++) expect(days[v]).toBe(h("weekday=" + v.toString(), 0xffffffff));
  });

  it("holds the hash of every floor bucket name", () => {
    const t = nameHashes(stream("floor="), FLOOR_BUCKETS);
    expect(t.length).toBe(5);
    for (let i = 0; i < FLOOR_BUCKETS.length; i++) expect(t[i]).toBe(h("floor=" + FLOOR_BUCKETS[i], 0xffffffff));
  });

  it("holds the hash of every os_browser class, other included", () => {
    const t = uaClassHashes(stream("ua="));
    expect(t.length).toBe((OS_NAMES.length + 1) * (BROWSER_NAMES.length + 1));
    for (let os = -1; os < OS_NAMES.length; os++) {
      for (let br = -1; br < BROWSER_NAMES.length; br++) {
        expect(t[uaClassIndex(os, br)]).toBe(h("ua=" + osName(os) + "_" + browserName(br), 0xffffffff));
      }
    }
  });

  it("emits weekday, hour and floor as hashing their text does, for every value", () => {
    const floors: string[] = ["0", "0.07", "0.3", "0.8", "4"];
    for (let d = 0; d < 7; d++) {
      for (let hr = 0; hr < 24; hr++) {
        const t = MON_2024 + <i64>d * DAY_MS + <i64>hr * HOUR_MS;
        const f = floors[(d + hr) % 5];
        const json = '{"id":"r","imp":[{"id":"1","banner":{},"bidfloor":' + f + "}]}";
        const want = hs(["weekday=" + ((d + 1) % 7).toString(), "hour=" + hr.toString(), "floor=" + floorBucket(parseFloat(f))]);
        expect(extract(json, t, 0)).toStrictEqual(want);
      }
    }
  });
});

describe("FeatureVector", () => {
  it("keeps MAX_FEATURES buckets and counts the rest as dropped", () => {
    const v = new FeatureVector();
    for (let i = 0; i < MAX_FEATURES + 3; i++) v.push(<u32>i * 7);
    expect(v.count).toBe(MAX_FEATURES);
    expect(v.dropped).toBe(3);
    expect(v.at(0)).toBe(0);
    expect(v.at(MAX_FEATURES - 1)).toBe(<u32>(MAX_FEATURES - 1) * 7);
    v.reset();
    expect(v.count).toBe(0);
    expect(v.dropped).toBe(0);
  });
});

/** A site request with every field the extractor reads (the personal ones included). */
const FULL_SITE_REQUEST =
  '{"id":"r","imp":[{"id":"1","tagid":"slot-9","bidfloor":0.35,' +
  '"banner":{"w":300,"h":250,"pos":3}}],' +
  '"site":{"domain":"news.example","page":"https://news.example/a?b=1","publisher":{"id":"pub-7"}},' +
  '"device":{"ua":"' + UA_CHROME_WIN + '","ip":"203.0.113.7","devicetype":2,' +
  '"geo":{"country":"USA","region":"CA","city":"San Francisco"}},' +
  '"user":{"data":[{"id":"d1","segment":[{"id":"s1"},{"id":"s2"}]},{"segment":[{"id":"s3"}]}]}}';

describe("FeatureExtractor.extract", () => {
  it("emits only weekday, hour and floor for a bare request", () => {
    const got = extract('{"id":"r","imp":[{"id":"1","banner":{}}]}', MON_2024 + 14 * HOUR_MS, 0);
    expect(got).toStrictEqual(hs(["weekday=1", "hour=14", "floor=0"]));
  });

  it("emits every documented field for a full site request, in order", () => {
    // Saturday 2024-01-06 10:15 UTC seen at UTC-8 -> Saturday 02:15
    const got = extract(FULL_SITE_REQUEST, MON_2024 + 5 * DAY_MS + 10 * HOUR_MS + 15 * 60000, -480);
    expect(got).toStrictEqual(
      hs([
        "weekday=6",
        "hour=2",
        "ua=windows_chrome",
        "ip=203.0.113.*",
        "region=CA",
        "city=San Francisco",
        "country=USA",
        "dev=2",
        "pub=pub-7",
        "domain=news.example",
        "url=https://news.example/a?b=1",
        "slot=slot-9",
        "size=300x250",
        "pos=3",
        "floor=11-50",
        "tag=s1",
        "tag=s2",
        "tag=s3",
      ]),
    );
  });

  it("leaves out exactly ip and the segment tags when personal data may not be used", () => {
    const got = extract(FULL_SITE_REQUEST, MON_2024 + 5 * DAY_MS + 10 * HOUR_MS + 15 * 60000, -480, 0, false);
    expect(got).toStrictEqual(
      hs([
        "weekday=6",
        "hour=2",
        "ua=windows_chrome",
        "region=CA",
        "city=San Francisco",
        "country=USA",
        "dev=2",
        "pub=pub-7",
        "domain=news.example",
        "url=https://news.example/a?b=1",
        "slot=slot-9",
        "size=300x250",
        "pos=3",
        "floor=11-50",
      ]),
    );
    // IPv6 too; and an app request keeps its contextual features.
    const v6 = '{"id":"r","imp":[{"id":"1","banner":{}}],"app":{"bundle":"com.x","publisher":{"id":"p"}},"device":{"ipv6":"2001:db8:1:2:3:4:5:6"}}';
    expect(extract(v6, MON_2024, 0, 0, false)).toStrictEqual(hs(["weekday=1", "hour=0", "pub=p", "domain=com.x", "floor=0"]));
    expect(extract(v6, MON_2024, 0, 0, true)).toStrictEqual(hs(["weekday=1", "hour=0", "ip=2001:db8:1:2:*", "pub=p", "domain=com.x", "floor=0"]));
  });

  it("uses the masked hash (hashBits = 10)", () => {
    const small = new FeatureExtractor(10);
    expect(small.mask).toBe(1023);
    parse('{"id":"r","imp":[{"id":"1","banner":{"w":728,"h":90}}],"site":{"domain":"a.example"}}');
    fv.reset();
    small.extract(req, req.imp(0), MON_2024, 0, fv, true, req.imp(0).bidfloor);
    expect(fv.count).toBe(5);
    const want = hs(["weekday=1", "hour=0", "domain=a.example", "size=728x90", "floor=0"], 1023);
    for (let i = 0; i < fv.count; i++) {
      expect(fv.at(i)).toBe(want[i]);
      expect(fv.at(i)).toBeLessThanOrEqual(1023);
    }
  });

  it("takes pub and domain from the app (bundle) when there is no site, without url", () => {
    const json =
      '{"id":"r","imp":[{"id":"1","banner":{}}],' +
      '"app":{"bundle":"com.game.fun","domain":"game.example","publisher":{"id":"apub"}}}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(
      hs(["weekday=1", "hour=0", "pub=apub", "domain=com.game.fun", "floor=0"]),
    );
  });

  it("prefers the site when both site and app are present", () => {
    const json =
      '{"id":"r","imp":[{"id":"1","banner":{}}],' +
      '"app":{"bundle":"com.game","publisher":{"id":"apub"}},"site":{"domain":"s.example"}}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "domain=s.example", "floor=0"]));
  });

  it("skips empty strings and absent objects", () => {
    const json =
      '{"id":"r","imp":[{"id":"1","tagid":"","banner":{"pos":0}}],' +
      '"site":{"domain":"","page":"","publisher":{"id":""}},' +
      '"device":{"ua":"","ip":"","geo":{"country":"","region":"","city":""}},' +
      '"user":{"data":[{"segment":[{"id":""},{"name":"x"}]}]}}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "floor=0"]));
  });

  it("emits geo fields only from device.geo (not user.geo)", () => {
    const json =
      '{"id":"r","imp":[{"id":"1","banner":{}}],"user":{"geo":{"country":"FRA"}},"device":{"geo":{"city":"Lyon"}}}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "city=Lyon", "floor=0"]));
  });

  it("classifies the UA into os_browser", () => {
    const cases: string[] = [UA_SAFARI_IPHONE, UA_CHROME_ANDROID, UA_FIREFOX_LINUX, UA_MSIE, UA_EDGE, "curl/8"];
    const names: string[] = ["mac_safari", "android_chrome", "linux_firefox", "windows_ie", "windows_chrome", "other_other"];
    for (let i = 0; i < cases.length; i++) {
      const json = '{"id":"r","imp":[{"id":"1","banner":{}}],"device":{"ua":"' + cases[i] + '"}}';
      expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "ua=" + names[i], "floor=0"]));
    }
  });

  it("masks IPv4 to a.b.c.* and drops addresses with fewer than three dots", () => {
    let json = '{"id":"r","imp":[{"id":"1","banner":{}}],"device":{"ip":"10.20.30.40"}}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "ip=10.20.30.*", "floor=0"]));
    json = '{"id":"r","imp":[{"id":"1","banner":{}}],"device":{"ip":"10.20.30"}}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "floor=0"]));
    // IPv4 wins over IPv6 when both are given
    json = '{"id":"r","imp":[{"id":"1","banner":{}}],"device":{"ip":"1.2.3.4","ipv6":"2001:db8::1"}}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "ip=1.2.3.*", "floor=0"]));
  });

  it("does not fall back to ipv6 when device.ip is malformed (current behaviour)", () => {
    const json = '{"id":"r","imp":[{"id":"1","banner":{}}],"device":{"ip":"bogus","ipv6":"2001:db8:1:2:3:4:5:6"}}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "floor=0"]));
  });

  it("keeps the first four IPv6 groups", () => {
    let json = '{"id":"r","imp":[{"id":"1","banner":{}}],"device":{"ipv6":"2001:db8:85a3:7:0:8a2e:370:7334"}}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "ip=2001:db8:85a3:7:*", "floor=0"]));
    // fewer than four colons: the whole address, then ":*"
    json = '{"id":"r","imp":[{"id":"1","banner":{}}],"device":{"ipv6":"2001:db8::1"}}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "ip=2001:db8::1:*", "floor=0"]));
  });

  it("takes the size from banner w/h, else the first format", () => {
    let json = '{"id":"r","imp":[{"id":"1","banner":{"w":320,"h":50,"format":[{"w":728,"h":90}]}}]}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "size=320x50", "floor=0"]));
    json = '{"id":"r","imp":[{"id":"1","banner":{"format":[{"w":728,"h":90},{"w":300,"h":250}]}}]}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "size=728x90", "floor=0"]));
    // w given, h missing: falls back to the format
    json = '{"id":"r","imp":[{"id":"1","banner":{"w":320,"format":[{"w":160,"h":600}]}}]}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "size=160x600", "floor=0"]));
    // neither: no size feature
    json = '{"id":"r","imp":[{"id":"1","banner":{"w":320}}]}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "floor=0"]));
  });

  it("emits no size or pos for a non-banner imp", () => {
    const json = '{"id":"r","imp":[{"id":"1","tagid":"v1","video":{"w":640,"h":480}}]}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "slot=v1", "floor=0"]));
  });

  it("buckets the floor of the imp being scored", () => {
    const floors: string[] = ["0", "0.004", "0.05", "0.1", "0.2", "0.5", "0.75", "1", "1.5", "30"];
    const buckets: string[] = ["0", "0", "1-10", "1-10", "11-50", "11-50", "51-100", "51-100", "101+", "101+"];
    for (let i = 0; i < floors.length; i++) {
      const json = '{"id":"r","imp":[{"id":"1","banner":{},"bidfloor":' + floors[i] + "}]}";
      expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "floor=" + buckets[i]]));
    }
    // second imp of a request
    const two = '{"id":"r","imp":[{"id":"1","banner":{},"tagid":"a"},{"id":"2","banner":{},"tagid":"b","bidfloor":2}]}';
    expect(extract(two, MON_2024, 0, 1)).toStrictEqual(hs(["weekday=1", "hour=0", "slot=b", "floor=101+"]));
  });

  it("caps segment tags at MAX_SEGMENT_FEATURES", () => {
    let segs = "";
    for (let i = 0; i < 60; i++) segs += (i > 0 ? "," : "") + '{"id":"g' + i.toString() + '"}';
    const json = '{"id":"r","imp":[{"id":"1","banner":{}}],"user":{"data":[{"segment":[' + segs + "]}]}}";
    const got = extract(json, MON_2024, 0);
    expect(got.length).toBe(3 + MAX_SEGMENT_FEATURES);
    expect(got[2]).toBe(h("floor=0"));
    for (let i = 0; i < MAX_SEGMENT_FEATURES; i++) expect(got[3 + i]).toBe(h("tag=g" + i.toString()));
  });

  it("emits devicetype only when > 0", () => {
    let json = '{"id":"r","imp":[{"id":"1","banner":{}}],"device":{"devicetype":0}}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "floor=0"]));
    json = '{"id":"r","imp":[{"id":"1","banner":{}}],"device":{"devicetype":4}}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "dev=4", "floor=0"]));
  });

  it("hashes unescaped and non-ASCII values as UTF-8", () => {
    const json = '{"id":"r","imp":[{"id":"1","banner":{}}],"device":{"geo":{"city":"Z\\u00fcrich"}}}';
    expect(extract(json, MON_2024, 0)).toStrictEqual(hs(["weekday=1", "hour=0", "city=Zürich", "floor=0"]));
  });

  it("appends to the vector (the caller resets it)", () => {
    parse('{"id":"r","imp":[{"id":"1","banner":{}}]}');
    fv.reset();
    fx.extract(req, req.imp(0), MON_2024, 0, fv, true, req.imp(0).bidfloor);
    fx.extract(req, req.imp(0), MON_2024 + HOUR_MS, 0, fv, true, req.imp(0).bidfloor);
    expect(fv.count).toBe(6);
    expect(fv.at(4)).toBe(h("hour=1"));
  });
});
