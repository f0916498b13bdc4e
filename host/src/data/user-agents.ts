// A realistic User-Agent for each iPinYou "os_browser" class, chosen so that
// the filter's classifier (assembly/core/features/user-agent.ts: lower-cased
// UA, first OS of [windows, ios, mac, android, linux] that occurs in it, then
// the first browser of [chrome, sogou, maxthon, safari, firefox, theworld,
// opera, ie]; "other" when none) maps it back to the same class. The traps:
//   - "ie" is a substring test: any "ie" (client, series, MSIE, …) means IE
//     unless an earlier browser matched, so non-IE strings must avoid it;
//   - Chrome-based browsers (Maxthon 4, Sogou, Opera 15+) carry "Chrome", and
//     Safari/WebKit strings carry "Safari", which win over later names;
//   - a plain Mobile Safari UA has no "ios" (it says "iPhone OS"), so the iOS
//     strings carry the "iOS" token that in-app and iOS-browser UAs have
//     (CriOS, FxiOS, OPiOS, or an app's "iOS/7.0.4").
// Every class is round-tripped through the compiled core in
// tests/tools/openrtb-from-log.test.ts.

export const UA_OS_NAMES = ["windows", "ios", "mac", "android", "linux", "other"] as const;
export const UA_BROWSER_NAMES = ["chrome", "sogou", "maxthon", "safari", "firefox", "theworld", "opera", "ie", "other"] as const;

export type UaOs = (typeof UA_OS_NAMES)[number];
export type UaBrowser = (typeof UA_BROWSER_NAMES)[number];

interface Platform {
  /** Inside the first parentheses of a Mozilla/5.0 UA. */
  token: string;
  mobile: boolean;
  /** Appended at the end (iOS: an "iOS/x" app token, since "iPhone OS" does not contain "ios"). */
  suffix: string;
}

const PLATFORMS: Record<UaOs, Platform> = {
  windows: { token: "Windows NT 6.1; WOW64", mobile: false, suffix: "" },
  ios: { token: "iPhone; CPU iPhone OS 7_0_4 like Mac OS X", mobile: true, suffix: " iOS/7.0.4" },
  mac: { token: "Macintosh; Intel Mac OS X 10_8_5", mobile: false, suffix: "" },
  android: { token: "Linux; U; Android 4.1.2; zh-cn; GT-I9300 Build/JZO54K", mobile: true, suffix: "" },
  linux: { token: "X11; Linux x86_64", mobile: false, suffix: "" },
  other: { token: "X11; FreeBSD amd64", mobile: false, suffix: "" },
};

const WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)";
const OLD_WEBKIT = "AppleWebKit/534.30 (KHTML, like Gecko)";

/** Builds the UA of a browser on a platform. */
const BROWSERS: Record<UaBrowser, (p: Platform) => string> = {
  chrome: (p) => `Mozilla/5.0 (${p.token}) ${WEBKIT} Chrome/31.0.1650.63${p.mobile ? " Mobile" : ""} Safari/537.36`,
  // Sogou's own token; its desktop UAs ("SE 2.X MetaSr") say Chrome or MSIE instead.
  sogou: (p) => `Mozilla/5.0 (${p.token}) ${OLD_WEBKIT} Version/4.0${p.mobile ? " Mobile" : ""} Safari/534.30 SogouMobileBrowser/3.1.0`,
  // Maxthon 3 (WebKit, no Chrome token).
  maxthon: (p) => `Mozilla/5.0 (${p.token}) AppleWebKit/533.9 (KHTML, like Gecko) Maxthon/3.0${p.mobile ? " Mobile" : ""} Safari/533.9`,
  safari: (p) => `Mozilla/5.0 (${p.token}) AppleWebKit/537.71 (KHTML, like Gecko) Version/7.0${p.mobile ? " Mobile/11B554a" : ""} Safari/537.71`,
  firefox: (p) => `Mozilla/5.0 (${p.token}; rv:25.0) Gecko/20100101 Firefox/25.0`,
  theworld: (p) => `Mozilla/4.0 (compatible; MSIE 7.0; ${p.token}; TheWorld)`,
  // Presto Opera (no Chrome token).
  opera: (p) => `Opera/9.80 (${p.token}) Presto/2.12.388 Version/12.16`,
  ie: (p) => `Mozilla/5.0 (compatible; MSIE 10.0; ${p.token}; Trident/6.0)`,
  // A WebKit view or HTTP library without a browser name (Dalvik for Android apps).
  other: (p) => (p.token.includes("Android") ? `Dalvik/1.6.0 (${p.token})` : `Mozilla/5.0 (${p.token}) ${WEBKIT}`),
};

/** Parses "os_browser"; undefined when either half is not a known name. */
export function parseUaClass(cls: string): { os: UaOs; browser: UaBrowser } | undefined {
  const i = cls.indexOf("_");
  if (i < 0) return undefined;
  const os = cls.slice(0, i) as UaOs;
  const browser = cls.slice(i + 1) as UaBrowser;
  if (!UA_OS_NAMES.includes(os) || !UA_BROWSER_NAMES.includes(browser)) return undefined;
  return { os, browser };
}

/** A User-Agent of class "os_browser" (e.g. "windows_chrome"); undefined for an unknown class. */
export function userAgentFor(cls: string): string | undefined {
  const c = parseUaClass(cls);
  if (!c) return undefined;
  const p = PLATFORMS[c.os];
  return BROWSERS[c.browser](p) + p.suffix;
}

/** Every "os_browser" class (6 × 9). */
export function allUaClasses(): string[] {
  return UA_OS_NAMES.flatMap((os) => UA_BROWSER_NAMES.map((b) => `${os}_${b}`));
}
