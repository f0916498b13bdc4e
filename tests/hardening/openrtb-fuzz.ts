// Generators and checks shared by the property tests (properties.test.ts) and
// the long fuzz run (scripts/fuzz-long.ts):
//   - validRequest: random VALID OpenRTB 2.5/2.6 requests, built from the
//     schema the parser reads (assembly/core/openrtb/README.md), with unknown
//     fields and ext objects sprinkled in, encoded in several JSON styles;
//   - mutatedRequest: a valid request's bytes after random byte flips,
//     truncations, insertions, deletions, span duplications and swaps;
//   - runValid / runMutated: send one case into the bidder's VM pool, check
//     the answer, and send a loss notice for every bid so no money stays
//     reserved. They return problems (strings), never throw for the bidder's
//     sake.
import fc from "fast-check";
import type { Standalone } from "../../host/src/standalone.ts";
import { bidsOf, lossAll, poolBid, exchangeListProblems, responseProblems, type Answer } from "./helpers.ts";

const I32_MAX = 2147483647;
/** Keep bodies under the filter's 64 KiB limit (so that a valid request is never a 413). */
export const MAX_VALID_BYTES = 60_000;

// ---- building blocks ------------------------------------------------------------------------

/** Any Unicode scalar values (no lone surrogates: JSON.stringify would escape them, and the parser refuses those). */
const text = (maxLength = 16) => fc.string({ unit: "binary", maxLength });
const asciiText = (maxLength = 16) => fc.string({ unit: "binary-ascii", maxLength });
const str = fc.oneof({ weight: 6, arbitrary: asciiText() }, { weight: 3, arbitrary: text() }, { weight: 1, arbitrary: text(700) });
const int = fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: I32_MAX }));
const flag = fc.constantFrom(0, 1);
const intList = fc.array(int, { maxLength: 20 });
const strList = (maxLength = 20) => fc.array(str, { maxLength });
/** Unknown members: skipped by the parser but fully validated (depth stays well under 32). */
const ext = fc.dictionary(asciiText(8), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 3 });
/** Present in one request of eight: lists that refuse most creatives (acat, wlang) would otherwise leave few bids to check. */
const rare = <T>(a: fc.Arbitrary<T>) => fc.oneof({ weight: 7, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: a });

/** Sizes the test campaign buys, and anything else. */
const size = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom([300, 250], [728, 90], [320, 50], [160, 600], [300, 600], [320, 480]) },
  { weight: 1, arbitrary: fc.tuple(int, int) },
);

/** An id: non-empty, at most 256 bytes of UTF-8 (the parser's limit for echoed ids). */
const id = fc
  .oneof({ weight: 4, arbitrary: fc.string({ unit: "binary-ascii", minLength: 1, maxLength: 24 }) }, { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 60 }) })
  .filter((s) => Buffer.byteLength(s) <= 200);

const banner = fc.record(
  {
    w: fc.nat({ max: I32_MAX }),
    h: fc.nat({ max: I32_MAX }),
    format: fc.array(size.map(([w, h]) => ({ w, h })), { maxLength: 20 }),
    pos: int,
    btype: intList,
    battr: intList,
    api: intList,
    ext,
  },
  { requiredKeys: [] },
);
const bannerWithSize = fc.tuple(size, banner).map(([[w, h], b]) => ({ ...b, w, h }));

const video = fc.record(
  {
    mimes: strList(),
    w: int, h: int, minduration: int, maxduration: int, protocols: intList, placement: int, plcmt: int, linearity: int,
    startdelay: fc.integer({ min: -2, max: I32_MAX }),
    skip: flag,
    skipmin: int,
    poddur: int,
    durfloors: fc.array(fc.record({ mindur: int, maxdur: int, bidfloor: fc.double({ min: 0, max: 100, noNaN: true, noDefaultInfinity: true }) }, { requiredKeys: [] }), { maxLength: 10 }),
    ext,
  },
  { requiredKeys: [] },
);
/** native.request: a string (OpenRTB), or the document itself as an object (what several exchanges send). */
const nativeRequest = fc.oneof(str, fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.dictionary(asciiText(8), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }));
const native = fc.record({ request: nativeRequest, ver: str, api: intList, battr: intList }, { requiredKeys: [] });
const audio = fc.record({ mimes: strList(), minduration: int, maxduration: int }, { requiredKeys: [] });
const currency = fc.oneof(
  { weight: 6, arbitrary: fc.constant("USD") },
  { weight: 2, arbitrary: fc.constantFrom("EUR", "GBP", "CNY", "XYZ", "") },
  { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", minLength: 0, maxLength: 4 }) },
);
const price = fc.oneof(
  { weight: 5, arbitrary: fc.double({ min: 0, max: 5, noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1.7976931348623157e308, noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, 5e-324, 0.1, 0.5, 1e-7) },
);
const deal = fc.record(
  { id, bidfloor: price, bidfloorcur: currency, at: fc.integer({ min: 1, max: I32_MAX }), wseat: strList(10), wadomain: strList(10) },
  { requiredKeys: ["id"] },
);
const pmp = fc.record({ private_auction: flag, deals: fc.array(deal, { maxLength: 20 }) }, { requiredKeys: [] });

const impBody = fc
  .record(
    {
      banner: opt(bannerWithSize),
      video: opt(video),
      native: opt(native),
      audio: opt(audio),
      bidfloor: opt(price),
      bidfloorcur: opt(currency),
      tagid: opt(str),
      secure: opt(flag),
      instl: opt(flag),
      pmp: opt(pmp),
      rwdd: opt(flag),
      exp: opt(int),
      ext: opt(ext),
    },
    { requiredKeys: [] },
  )
  .map((imp) => (imp.banner || imp.video || imp.native || imp.audio ? imp : { ...imp, banner: { w: 300, h: 250 } }));

const publisher = fc.record({ id: str, name: str, domain: str }, { requiredKeys: [] });
const domain = fc.oneof(fc.constantFrom("news.example", "www.blocked.example", "sports.example", ""), str);
const site = fc.record({ id: str, name: str, domain, page: str, ref: str, cat: strList(), mobile: flag, publisher, ext }, { requiredKeys: [] });
const app = fc.record({ id: str, name: str, bundle: str, domain, storeurl: str, ver: str, cat: strList(), publisher, ext }, { requiredKeys: [] });
const geo = fc.record(
  {
    lat: fc.double({ min: -90, max: 90, noNaN: true }),
    lon: fc.double({ min: -180, max: 180, noNaN: true }),
    type: int,
    country: fc.oneof(fc.constantFrom("USA", "CAN", "CHN", "GBR"), str),
    region: str, city: str, zip: str, metro: str,
    utcoffset: fc.integer({ min: -1440, max: 1440 }),
    ext,
  },
  { requiredKeys: [] },
);
const device = fc.record(
  {
    ua: fc.oneof(fc.constantFrom("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"), str),
    ip: str, ipv6: str, make: str, model: str, os: str, osv: str, language: str, ifa: str,
    devicetype: int, js: flag, dnt: flag, lmt: flag, connectiontype: int, w: int, h: int, geo, ext,
  },
  { requiredKeys: [] },
);
const segment = fc.record({ id: str, name: str, value: str }, { requiredKeys: [] });
const data = fc.record({ id: str, name: str, segment: fc.array(segment, { maxLength: 30 }), ext }, { requiredKeys: [] });
const user = fc.record(
  { id: str, buyeruid: str, gender: str, keywords: str, yob: int, geo, data: fc.array(data, { maxLength: 5 }), consent: str, ext: fc.record({ consent: str }, { requiredKeys: [] }) },
  { requiredKeys: [] },
);
/** The IAB DSA Transparency extension (regs.ext.dsa), values beyond today's lists included. */
const dsa = fc.record(
  {
    dsarequired: fc.integer({ min: 0, max: 4 }),
    pubrender: fc.integer({ min: 0, max: 3 }),
    datatopub: fc.integer({ min: 0, max: 2 }),
    transparency: fc.array(fc.record({ domain: str, dsaparams: intList }, { requiredKeys: [] }), { maxLength: 3 }),
  },
  { requiredKeys: [] },
);
const regs = fc.record(
  { coppa: flag, gdpr: flag, us_privacy: str, gpp: str, gpp_sid: intList, ext: fc.record({ gdpr: flag, us_privacy: str, dsa }, { requiredKeys: [] }) },
  { requiredKeys: [] },
);
/** A supply-chain node: the spec's fields (asi and sid are read for seller rules), or any object. */
const node = fc.oneof(
  fc.record({ asi: fc.oneof(fc.constantFrom("ssp.example", "SSP.Example", "blocked.example"), str), sid: str, hp: flag }, { requiredKeys: [] }),
  fc.dictionary(asciiText(6), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);
// Up to 20 nodes: past the 16 whose asi and sid the parser keeps.
const schain = fc.record({ complete: flag, nodes: fc.array(node, { maxLength: 20 }), ver: str }, { requiredKeys: [] });
const source = fc.record({ tid: str, fd: flag, schain, ext: fc.record({ schain }, { requiredKeys: [] }) }, { requiredKeys: [] });

export interface OpenRtbRequest {
  id: string;
  imp: Array<Record<string, unknown> & { id: string }>;
  [k: string]: unknown;
}

/** A random valid BidRequest object (ids unique per request; imp ids unique). */
export const requestObject: fc.Arbitrary<OpenRtbRequest> = fc
  .record(
    {
      id,
      imp: fc.uniqueArray(fc.tuple(id, impBody), { minLength: 1, maxLength: 20, selector: ([i]) => i }),
      site: opt(site),
      app: opt(app),
      device: opt(device),
      user: opt(user),
      test: opt(flag),
      at: opt(fc.integer({ min: 1, max: I32_MAX })),
      tmax: opt(fc.oneof(fc.integer({ min: 50, max: 1000 }), int)),
      cur: opt(fc.oneof({ weight: 4, arbitrary: fc.constant(["USD"]) }, { weight: 1, arbitrary: fc.array(currency.filter((c) => c !== ""), { maxLength: 10 }) })),
      bcat: opt(strList(80)),
      acat: rare(fc.array(fc.oneof(fc.constant("IAB3"), str), { maxLength: 6 })),
      cattax: rare(fc.integer({ min: 0, max: 8 })),
      wlang: rare(fc.array(fc.oneof(fc.constantFrom("en", "de", "xx", "en-US", "de_DE"), str), { maxLength: 6 })),
      wlangb: rare(fc.array(fc.oneof(fc.constantFrom("en", "en-US", "*"), str), { maxLength: 6 })),
      badv: opt(fc.array(fc.oneof({ weight: 20, arbitrary: str }, { weight: 1, arbitrary: fc.constant("nexus-demo.example") }), { maxLength: 80 })),
      // Now and then the apps the property test's creatives advertise (com.nexus.demo, 1234567), in any case.
      bapp: opt(fc.array(fc.oneof({ weight: 20, arbitrary: str }, { weight: 1, arbitrary: fc.constantFrom("com.nexus.demo", "COM.Nexus.Demo", "1234567") }), { maxLength: 80 })),
      wseat: opt(strList()),
      bseat: opt(strList()),
      regs: opt(regs),
      source: opt(source),
      ext: opt(ext),
    },
    { requiredKeys: ["id", "imp"] },
  )
  .map((r) => ({ ...r, imp: r.imp.map(([impId, body]) => ({ id: impId, ...body })) }) as OpenRtbRequest);

/**
 * JSON text styles: compact, indented, with every non-ASCII character as a \u escape, and
 * "integral": compact with every integer written with a fraction or an exponent (200.0,
 * 2e2, 20000e-2), which is the same JSON value and must read the same.
 */
export type Style = "compact" | "indent" | "tabs" | "ascii" | "integral";
const style = fc.constantFrom<Style>("compact", "compact", "indent", "tabs", "ascii", "integral");

/** A safe integer in one of the spellings exchanges use for it (chosen by its value: deterministic). */
function integralSpelling(n: number): string {
  const plain = String(n);
  switch (Math.abs(n) % 4) {
    case 0: return `${plain}.0`;
    case 1: return `${plain}E0`;
    case 2: return n % 10 === 0 && n !== 0 ? `${n / 10}e1` : `${plain}.000`;
    default: return `${plain}00e-2`;
  }
}

/** JSON.stringify, compact, with integers spelled by integralSpelling(). */
function stringifyIntegral(v: unknown): string {
  if (typeof v === "number" && Number.isSafeInteger(v)) return integralSpelling(v);
  if (Array.isArray(v)) return `[${v.map((e) => (e === undefined ? "null" : stringifyIntegral(e))).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    const members = Object.entries(v).filter(([, e]) => e !== undefined);
    return `{${members.map(([k, e]) => `${JSON.stringify(k)}:${stringifyIntegral(e)}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

export function encode(req: OpenRtbRequest, s: Style): Buffer {
  if (s === "integral") return Buffer.from(stringifyIntegral(req), "utf8");
  let text = s === "indent" ? JSON.stringify(req, null, 1) : s === "tabs" ? JSON.stringify(req, null, "\t") : JSON.stringify(req);
  if (s === "ascii") text = text.replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  return Buffer.from(text, "utf8");
}

export interface ValidCase {
  request: OpenRtbRequest;
  style: Style;
}

export const validCase: fc.Arbitrary<ValidCase> = fc.record({ request: requestObject, style }).filter((c) => encode(c.request, c.style).byteLength <= MAX_VALID_BYTES);

// ---- mutations ---------------------------------------------------------------------------------

/** Byte strings that make parsers stumble. */
const TOKENS = [
  "{", "}", "[", "]", "\"", "\\", ",", ":", "\\u", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\u0000", "null", "true", "fals", "-", "-0", "1e400", "1e-400",
  "18446744073709551616", "0.", "01", "NaN", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "{\"a\":{\"a\":{\"a\":", "\"id\":", "\"imp\":[", "\"w\":", "\u2028", "\u{1f600}",
].map((t) => Buffer.from(t, "utf8"));
const BAD_BYTES = [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xff], [0x80], [0xe2, 0x82], [0x00], [0x1f], [0xef, 0xbb, 0xbf]].map((b) => Buffer.from(b));

export type Mutation =
  | { op: "flip"; at: number; value: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; bytes: number[] }
  | { op: "token"; at: number; token: number }
  | { op: "bad"; at: number; which: number }
  | { op: "delete"; at: number; len: number }
  | { op: "duplicate"; at: number; len: number; to: number }
  | { op: "swap"; a: number; b: number; len: number };

/** Positions are fractions of the current length (0..1), so a mutation applies to any body. */
const frac = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: frac, value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant("truncate" as const), at: frac }),
  fc.record({ op: fc.constant("insert" as const), at: frac, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant("token" as const), at: frac, token: fc.nat({ max: TOKENS.length - 1 }) }),
  fc.record({ op: fc.constant("bad" as const), at: frac, which: fc.nat({ max: BAD_BYTES.length - 1 }) }),
  fc.record({ op: fc.constant("delete" as const), at: frac, len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant("duplicate" as const), at: frac, len: fc.integer({ min: 1, max: 256 }), to: frac }),
  fc.record({ op: fc.constant("swap" as const), a: frac, b: frac, len: fc.integer({ min: 1, max: 64 }) }),
);

export function applyMutations(input: Buffer, ms: Mutation[]): Buffer {
  let b = input;
  for (const m of ms) {
    const pos = (f: number) => Math.min(b.length, Math.floor(f * (b.length + 1)));
    switch (m.op) {
      case "flip": {
        if (b.length === 0) break;
        const c = Buffer.from(b);
        c[Math.min(b.length - 1, pos(m.at))] = m.value;
        b = c;
        break;
      }
      case "truncate":
        b = b.subarray(0, pos(m.at));
        break;
      case "insert":
        b = Buffer.concat([b.subarray(0, pos(m.at)), Buffer.from(m.bytes), b.subarray(pos(m.at))]);
        break;
      case "token":
        b = Buffer.concat([b.subarray(0, pos(m.at)), TOKENS[m.token]!, b.subarray(pos(m.at))]);
        break;
      case "bad":
        b = Buffer.concat([b.subarray(0, pos(m.at)), BAD_BYTES[m.which]!, b.subarray(pos(m.at))]);
        break;
      case "delete": {
        const at = pos(m.at);
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + m.len))]);
        break;
      }
      case "duplicate": {
        const at = pos(m.at);
        const span = b.subarray(at, Math.min(b.length, at + m.len));
        const to = pos(m.to);
        b = Buffer.concat([b.subarray(0, to), span, b.subarray(to)]);
        break;
      }
      case "swap": {
        let a = pos(m.a);
        let c = pos(m.b);
        if (a > c) [a, c] = [c, a];
        const len = Math.min(m.len, c - a, b.length - c);
        if (len <= 0) break;
        b = Buffer.concat([b.subarray(0, a), b.subarray(c, c + len), b.subarray(a + len, c), b.subarray(a, a + len), b.subarray(c + len)]);
        break;
      }
    }
  }
  return b;
}

export interface MutatedCase {
  base: ValidCase;
  mutations: Mutation[];
}

export const mutatedCase: fc.Arbitrary<MutatedCase> = fc.record({
  base: validCase,
  // Mostly one or two mutations (closer to valid, deeper into the parser), sometimes many.
  mutations: fc.oneof({ weight: 3, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 2 }) }, { weight: 1, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 8 }) }),
});

// ---- running a case ----------------------------------------------------------------------------

let serial = 0;
/** Makes a request id unique in this process (the replay guard would answer a repeated id with 204). */
export function uniquify(req: OpenRtbRequest): OpenRtbRequest {
  return { ...req, id: `${req.id}#${process.pid}.${serial++}` };
}

export interface CaseResult {
  status: number;
  reason?: string;
  problems: string[];
  body: Buffer;
  /** The answer's body as text (a 200's BidResponse). */
  answer: string;
  /** Bids refunded by loss notices. */
  refunded: number;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Does JavaScript consider the body valid JSON? (One-way oracle: invalid here must be a 400 there.) */
function jsParse(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(strictUtf8.decode(body)) };
  } catch {
    return { ok: false };
  }
}

async function settle(app: Standalone, a: Answer, problems: string[]): Promise<number> {
  if (a.status !== 200) return 0;
  try {
    return await lossAll(app, a.text);
  } catch (e) {
    problems.push(`loss notice failed: ${(e as Error).message}`);
    return 0;
  }
}

/** A valid request: 200 or 204, and a 200 consistent with the request. */
export async function runValid(app: Standalone, c: ValidCase): Promise<CaseResult> {
  const req = uniquify(c.request);
  const body = encode(req, c.style);
  const a = await poolBid(app, body);
  const problems: string[] = [];
  if (!a.utf8) problems.push("the answer's body is not valid UTF-8");
  if (a.kind !== "local") problems.push(`no local reply: ${a.kind}`);
  else if (a.status === 200) problems.push(...responseProblems(req, a.text), ...exchangeListProblems(req, a.text));
  else if (a.status === 204) {
    if (!a.headers["x-nexus-nobid-reason"]) problems.push("204 without a reason");
    if (a.text !== "") problems.push("204 with a body");
  } else problems.push(`status ${a.status}: ${a.text.slice(0, 200)}`);
  const refunded = await settle(app, a, problems);
  return { status: a.status, reason: a.headers["x-nexus-nobid-reason"], problems, body, answer: a.text, refunded };
}

/** A mutated request: 200/204/400/413 only, a 400 for anything JavaScript cannot parse, a sane 200. */
export async function runMutated(app: Standalone, c: MutatedCase): Promise<CaseResult> {
  const base = encode(uniquify(c.base.request), c.base.style);
  const body = applyMutations(base, c.mutations);
  const a = await poolBid(app, body);
  const problems: string[] = [];
  if (!a.utf8) problems.push("the answer's body is not valid UTF-8");
  if (a.kind !== "local") problems.push(`no local reply: ${a.kind}`);
  else if (![200, 204, 400, 413].includes(a.status)) problems.push(`status ${a.status}: ${a.text.slice(0, 200)}`);
  else {
    const js = jsParse(body);
    if (a.status === 400) {
      let msg: unknown;
      try {
        msg = (JSON.parse(a.text) as { error?: unknown }).error;
      } catch {
        msg = undefined;
      }
      if (typeof msg !== "string" || msg.length === 0) problems.push(`400 without an error message: ${a.text.slice(0, 200)}`);
    } else if (a.status === 413) {
      if (body.byteLength <= 65536) problems.push(`413 for ${body.byteLength} bytes`);
    } else if (!js.ok && body.byteLength > 0) {
      problems.push(`${a.status} for a body JavaScript's JSON.parse refuses`);
    } else if (a.status === 200 && js.ok) {
      const v = js.value as OpenRtbRequest;
      // A numeric id is a type slip the parser reads as its text (assembly/core/openrtb/README.md).
      const id = (v as { id?: unknown } | null)?.id;
      if (typeof v !== "object" || v === null || (typeof id !== "string" && typeof id !== "number") || !Array.isArray(v.imp)) problems.push("200 for a request without id or imp");
      else problems.push(...responseProblems(v, a.text));
    }
  }
  const refunded = await settle(app, a, problems);
  return { status: a.status, reason: a.headers["x-nexus-nobid-reason"], problems, body, answer: a.text, refunded };
}

/** Bids of a 200 answer (for counting). */
export const bidCount = (a: Answer) => (a.status === 200 ? bidsOf(a.text).length : 0);
