import { Str } from "../core/bytes/str";
import { BidRequestParser, ParseErrorCode } from "../core/openrtb/parse";
import {
  BidRequest,
  MAX_BLOCKED,
  MAX_CUR,
  MAX_DEALS,
  MAX_FORMATS,
  MAX_IMPS,
  MAX_NATIVE_REQUEST_BYTES,
  MAX_SEGMENTS,
  MAX_STRING_BYTES,
  UNSET,
} from "../core/openrtb/request";

const parser = new BidRequestParser();
const req = new BidRequest();
// The body must stay alive while the request's Str views point into it.
let body: ArrayBuffer = new ArrayBuffer(0);

function parse(text: string): i32 {
  body = String.UTF8.encode(text);
  return parser.parse(changetype<usize>(body), body.byteLength, req);
}

function parseBytes(bytes: u8[]): i32 {
  body = new ArrayBuffer(bytes.length);
  for (let i = 0; i < bytes.length; i++) store<u8>(changetype<usize>(body) + <usize>i, bytes[i]);
  return parser.parse(changetype<usize>(body), body.byteLength, req);
}

/** "OK" or the error message of parsing `text`. */
function errorOf(text: string): string {
  return parse(text) == 0 ? "OK" : parser.errorMessage.toString();
}

function str(s: Str): string {
  return s.toString();
}

const IMP = '{"id":"1","banner":{"w":300,"h":250}}';

/** A valid request with `extra` members added at the top level. */
function withTop(extra: string): string {
  return '{"id":"r1","imp":[' + IMP + "]" + (extra.length > 0 ? "," + extra : "") + "}";
}

/** A valid request whose single imp is `imp`. */
function withImp(imp: string): string {
  return '{"id":"r1","imp":[' + imp + "]}";
}

function repeat(s: string, n: i32): string {
  let out = "";
  for (let i = 0; i < n; i++) out += s;
  return out;
}

function list(item: string, n: i32): string {
  let out = "";
  for (let i = 0; i < n; i++) out += (i > 0 ? "," : "") + item.replaceAll("#", i.toString());
  return out;
}

/** True when the message can go into a JSON string without escaping. */
function jsonSafe(m: Str): bool {
  for (let i = 0; i < m.len; i++) {
    const c = m.byteAt(i);
    if (c < 0x20 || c > 0x7e || c == 0x22 || c == 0x5c) return false;
  }
  return true;
}

describe("BidRequest: minimal request and defaults", () => {
  it("parses the smallest valid request", () => {
    expect(parse(withTop(""))).toBe(0);
    expect(parser.errorCode).toBe(0);
    expect(parser.errorMessage.len).toBe(0);
    expect(str(req.id)).toStrictEqual("r1");
    expect(req.impCount).toBe(1);
    expect(req.impCountTotal).toBe(1);
    const imp = req.imp(0);
    expect(str(imp.id)).toStrictEqual("1");
    expect(imp.banner.present).toBe(true);
    expect(imp.banner.w).toBe(300);
    expect(imp.banner.h).toBe(250);
  });

  it("applies the documented defaults", () => {
    expect(parse(withTop(""))).toBe(0);
    expect(req.test).toBe(0);
    expect(req.at).toBe(2);
    expect(req.tmax).toBe(0);
    expect(req.cattax).toBe(1);
    expect(req.site.present).toBe(false);
    expect(req.app.present).toBe(false);
    expect(req.device.present).toBe(false);
    expect(req.user.present).toBe(false);
    expect(req.regs.present).toBe(false);
    expect(req.source.present).toBe(false);
    expect(req.cur.count).toBe(0);
    const imp = req.imp(0);
    expect(imp.bidfloor).toBe(0);
    expect(str(imp.bidfloorcur)).toStrictEqual("USD");
    expect(imp.hasBidfloorcur).toBe(false);
    expect(imp.secure).toBe(UNSET);
    expect(imp.instl).toBe(0);
    expect(imp.video.present).toBe(false);
    expect(imp.video.skip).toBe(UNSET);
    expect(imp.pmp.present).toBe(false);
    expect(req.device.lmt).toBe(UNSET);
    expect(req.device.dnt).toBe(UNSET);
    expect(req.regs.gdpr).toBe(UNSET);
    expect(req.regs.effectiveGdpr).toBe(UNSET);
    expect(req.regs.coppa).toBe(UNSET);
    expect(req.source.fd).toBe(UNSET);
    expect(req.truncatedStrings).toBe(0);
    expect(req.truncatedArrays).toBe(0);
  });

  it("points unescaped strings into the body", () => {
    expect(parse(withTop(""))).toBe(0);
    expect(req.id.ptr).toBeGreaterThan(changetype<usize>(body));
    expect(req.id.ptr).toBeLessThan(changetype<usize>(body) + <usize>body.byteLength);
  });

  it("accepts each media type alone", () => {
    expect(errorOf(withImp('{"id":"1","video":{"mimes":["video/mp4"]}}'))).toStrictEqual("OK");
    expect(req.imp(0).video.present).toBe(true);
    expect(errorOf(withImp('{"id":"1","native":{"request":"{}"}}'))).toStrictEqual("OK");
    expect(req.imp(0).native.present).toBe(true);
    expect(errorOf(withImp('{"id":"1","audio":{}}'))).toStrictEqual("OK");
    expect(req.imp(0).audio.present).toBe(true);
  });
});

const FULL =
  '{"id":"req-1","test":1,"at":1,"tmax":120,"cur":["USD","EUR"],' +
  '"bcat":["IAB25","IAB26"],"acat":["IAB1","IAB2-3"],"cattax":1,"wlang":["en","de"],"wlangb":["en-GB"],"badv":["bad.com"],"bapp":["com.bad.app"],"wseat":["s1"],"bseat":["s2","s3"],' +
  '"imp":[{"id":"imp-1","tagid":"tag-9","secure":1,"instl":1,"rwdd":1,"exp":300,"bidfloor":1.25,"bidfloorcur":"EUR",' +
  '"banner":{"w":728,"h":90,"pos":1,"format":[{"w":728,"h":90},{"w":970,"h":90,"wratio":1}],"btype":[4],"battr":[1,3],"api":[3,5]},' +
  '"video":{"mimes":["video/mp4","application/javascript"],"w":640,"h":480,"minduration":5,"maxduration":30,' +
  '"protocols":[2,3,5,6],"placement":1,"plcmt":1,"linearity":1,"startdelay":0,"skip":1,"skipmin":6,"poddur":60},' +
  '"native":{"request":"{\\"ver\\":\\"1.2\\",\\"assets\\":[]}","ver":"1.2","api":[3],"battr":[2]},' +
  '"audio":{"mimes":["audio/mpeg"],"minduration":10,"maxduration":60},' +
  '"pmp":{"private_auction":1,"deals":[{"id":"deal-1","bidfloor":5.5,"bidfloorcur":"USD","at":3,"wseat":["w1"],"wadomain":["adv.com"]},{"id":"deal-2"}]}}],' +
  '"site":{"id":"s","name":"News","domain":"news.example","page":"https://news.example/a","ref":"https://r.example/",' +
  '"cat":["IAB12"],"mobile":0,"publisher":{"id":"pub-1","name":"Pub","domain":"pub.example"}},' +
  '"app":{"id":"a","name":"Game","bundle":"com.game","domain":"game.example","storeurl":"https://store/x","ver":"2.1","cat":["IAB9"],"publisher":{"id":"pub-2"}},' +
  '"device":{"ua":"Mozilla/5.0","ip":"203.0.113.7","ipv6":"2001:db8::1","make":"Apple","model":"iPhone","os":"iOS","osv":"17.1",' +
  '"language":"en","ifa":"6D92078A-8246-4BA4-AE5B-76104861E7DC","devicetype":4,"js":1,"dnt":0,"lmt":0,"connectiontype":2,"w":390,"h":844,' +
  '"geo":{"lat":37.7749,"lon":-122.4194,"type":1,"country":"USA","region":"CA","city":"San Francisco","zip":"94103","metro":"807","utcoffset":-480}},' +
  '"user":{"id":"u1","buyeruid":"b1","gender":"F","keywords":"news,tech","yob":1985,"geo":{"country":"USA"},"consent":"CPXX",' +
  '"data":[{"id":"dp1","name":"Provider","segment":[{"id":"seg-1","name":"Sports","value":"1"},{"id":"seg-2"}]},{"segment":[{"id":"seg-3"}],"id":"dp2"}]},' +
  '"regs":{"ext":{"dsa":{"dsarequired":3,"pubrender":0,"datatopub":2,"transparency":[{"domain":"ssp.example","dsaparams":[1]}]}},"coppa":0,"gdpr":1,"us_privacy":"1YNN","gpp":"DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA","gpp_sid":[2,6]},' +
  '"source":{"tid":"t-1","fd":1,"schain":{"complete":1,"ver":"1.0","nodes":[{"asi":"x.com","sid":"1","hp":1},{"asi":"y.com","sid":"2","hp":1}]}}}';

describe("BidRequest: every field", () => {
  it("reads the request, imp and media fields", () => {
    expect(errorOf(FULL)).toStrictEqual("OK");
    expect(str(req.id)).toStrictEqual("req-1");
    expect(req.test).toBe(1);
    expect(req.at).toBe(1);
    expect(req.tmax).toBe(120);
    expect(req.cur.count).toBe(2);
    expect(str(req.cur.get(1))).toStrictEqual("EUR");
    expect(req.bcat.containsAscii("IAB26")).toBe(true);
    expect(req.acat.count).toBe(2);
    expect(req.acat.containsAscii("IAB2-3")).toBe(true);
    expect(req.wlang.containsAscii("de")).toBe(true);
    expect(req.wlangb.containsAscii("en-GB")).toBe(true);
    expect(req.badv.containsAscii("bad.com")).toBe(true);
    expect(req.bapp.containsAscii("com.bad.app")).toBe(true);
    expect(req.wseat.count).toBe(1);
    expect(req.bseat.count).toBe(2);
    const imp = req.imp(0);
    expect(str(imp.id)).toStrictEqual("imp-1");
    expect(str(imp.tagid)).toStrictEqual("tag-9");
    expect(imp.secure).toBe(1);
    expect(imp.instl).toBe(1);
    expect(imp.rwdd).toBe(1);
    expect(imp.exp).toBe(300);
    expect(imp.bidfloor).toBe(1.25);
    expect(str(imp.bidfloorcur)).toStrictEqual("EUR");
    expect(imp.hasBidfloorcur).toBe(true);
    const b = imp.banner;
    expect(b.pos).toBe(1);
    expect(b.formatCount).toBe(2);
    expect(b.format(1).w).toBe(970);
    expect(b.hasSize(970, 90)).toBe(true);
    expect(b.hasSize(728, 90)).toBe(true);
    expect(b.hasSize(300, 250)).toBe(false);
    expect(b.ownSizePermitted()).toBe(true);
    expect(b.btype.get(0)).toBe(4);
    expect(b.battr.count).toBe(2);
    expect(b.api.contains(5)).toBe(true);
    const v = imp.video;
    expect(v.mimes.containsAscii("application/javascript")).toBe(true);
    expect(v.w).toBe(640);
    expect(v.h).toBe(480);
    expect(v.minduration).toBe(5);
    expect(v.maxduration).toBe(30);
    expect(v.protocols.count).toBe(4);
    expect(v.placement).toBe(1);
    expect(v.plcmt).toBe(1);
    expect(v.linearity).toBe(1);
    expect(v.hasStartdelay).toBe(true);
    expect(v.startdelay).toBe(0);
    expect(v.skip).toBe(1);
    expect(v.skipmin).toBe(6);
    expect(v.poddur).toBe(60);
    const n = imp.native;
    expect(str(n.request)).toStrictEqual('{"ver":"1.2","assets":[]}');
    expect(str(n.ver)).toStrictEqual("1.2");
    expect(n.api.get(0)).toBe(3);
    expect(n.battr.get(0)).toBe(2);
    expect(imp.audio.mimes.containsAscii("audio/mpeg")).toBe(true);
    expect(imp.audio.maxduration).toBe(60);
    const pmp = imp.pmp;
    expect(pmp.privateAuction).toBe(1);
    expect(pmp.dealCount).toBe(2);
    const d = pmp.deal(0);
    expect(str(d.id)).toStrictEqual("deal-1");
    expect(d.bidfloor).toBe(5.5);
    expect(d.at).toBe(3);
    expect(d.hasBidfloorcur).toBe(true);
    expect(d.wseat.containsAscii("w1")).toBe(true);
    expect(d.wadomain.containsAscii("adv.com")).toBe(true);
    expect(str(pmp.deal(1).bidfloorcur)).toStrictEqual("USD");
    expect(pmp.deal(1).hasBidfloorcur).toBe(false);
  });

  it("reads site, app, device and geo", () => {
    expect(errorOf(FULL)).toStrictEqual("OK");
    const s = req.site;
    expect(s.present).toBe(true);
    expect(str(s.name)).toStrictEqual("News");
    expect(str(s.domain)).toStrictEqual("news.example");
    expect(str(s.page)).toStrictEqual("https://news.example/a");
    expect(str(s.ref)).toStrictEqual("https://r.example/");
    expect(s.cat.containsAscii("IAB12")).toBe(true);
    expect(s.mobile).toBe(0);
    expect(str(s.publisher.id)).toStrictEqual("pub-1");
    expect(str(s.publisher.domain)).toStrictEqual("pub.example");
    const a = req.app;
    expect(a.present).toBe(true); // both site and app are recorded
    expect(str(a.bundle)).toStrictEqual("com.game");
    expect(str(a.storeurl)).toStrictEqual("https://store/x");
    expect(str(a.ver)).toStrictEqual("2.1");
    expect(str(a.publisher.id)).toStrictEqual("pub-2");
    const d = req.device;
    expect(str(d.ua)).toStrictEqual("Mozilla/5.0");
    expect(str(d.ip)).toStrictEqual("203.0.113.7");
    expect(str(d.ipv6)).toStrictEqual("2001:db8::1");
    expect(str(d.make)).toStrictEqual("Apple");
    expect(str(d.model)).toStrictEqual("iPhone");
    expect(str(d.os)).toStrictEqual("iOS");
    expect(str(d.osv)).toStrictEqual("17.1");
    expect(str(d.language)).toStrictEqual("en");
    expect(str(d.ifa)).toStrictEqual("6D92078A-8246-4BA4-AE5B-76104861E7DC");
    expect(d.devicetype).toBe(4);
    expect(d.js).toBe(1);
    expect(d.dnt).toBe(0);
    expect(d.lmt).toBe(0);
    expect(d.connectiontype).toBe(2);
    expect(d.w).toBe(390);
    expect(d.h).toBe(844);
    const g = d.geo;
    expect(g.hasLat).toBe(true);
    expect(g.lat).toBe(37.7749);
    expect(g.lon).toBe(-122.4194);
    expect(g.type).toBe(1);
    expect(g.country.equalsAscii("USA")).toBe(true);
    expect(str(g.region)).toStrictEqual("CA");
    expect(str(g.city)).toStrictEqual("San Francisco");
    expect(str(g.zip)).toStrictEqual("94103");
    expect(str(g.metro)).toStrictEqual("807");
    expect(g.hasUtcoffset).toBe(true);
    expect(g.utcoffset).toBe(-480);
  });

  it("takes user.yob as exchanges write \"unknown\" (-1, 0) or a year that is none, as unknown (0)", () => {
    const years = ["-1", "0", "19850"];
    for (let i = 0; i < years.length; i++) {
      expect(errorOf('{"id":"r","imp":[{"id":"1","banner":{"w":300,"h":250}}],"user":{"yob":' + years[i] + "}}")).toStrictEqual("OK");
      expect(req.user.yob).toBe(0);
    }
    expect(errorOf('{"id":"r","imp":[{"id":"1","banner":{"w":300,"h":250}}],"user":{"yob":1990}}')).toStrictEqual("OK");
    expect(req.user.yob).toBe(1990);
  });

  it("reads user, segments, regs and source", () => {
    expect(errorOf(FULL)).toStrictEqual("OK");
    const u = req.user;
    expect(str(u.id)).toStrictEqual("u1");
    expect(str(u.buyeruid)).toStrictEqual("b1");
    expect(str(u.gender)).toStrictEqual("F");
    expect(str(u.keywords)).toStrictEqual("news,tech");
    expect(u.yob).toBe(1985);
    expect(u.geo.country.equalsAscii("USA")).toBe(true);
    expect(str(u.effectiveConsent)).toStrictEqual("CPXX");
    expect(u.dataTotal).toBe(2);
    expect(req.segmentCount).toBe(3);
    expect(str(req.segment(0).id)).toStrictEqual("seg-1");
    expect(str(req.segment(0).name)).toStrictEqual("Sports");
    expect(str(req.segment(0).value)).toStrictEqual("1");
    expect(str(req.segment(0).dataId)).toStrictEqual("dp1");
    expect(str(req.segment(2).id)).toStrictEqual("seg-3");
    // data.id after segment[]: still tagged.
    expect(str(req.segment(2).dataId)).toStrictEqual("dp2");
    expect(req.segment(2).dataIndex).toBe(1);
    const r = req.regs;
    expect(r.coppa).toBe(0);
    expect(r.gdpr).toBe(1);
    expect(r.effectiveGdpr).toBe(1);
    expect(str(r.effectiveUsPrivacy)).toStrictEqual("1YNN");
    expect(r.gpp.len).toBeGreaterThan(10);
    expect(r.gppSid.count).toBe(2);
    expect(r.gppSid.get(1)).toBe(6);
    expect(r.dsaRequired).toBe(3);
    expect(r.dsaPubRender).toBe(0);
    const s = req.source;
    expect(str(s.tid)).toStrictEqual("t-1");
    expect(s.fd).toBe(1);
    expect(s.schain.present).toBe(true);
    expect(s.schain.nodeCount).toBe(2);
    expect(s.schain.complete).toBe(1);
    expect(str(s.schain.ver)).toStrictEqual("1.0");
    expect(s.extSchain.present).toBe(false);
    expect(s.effectiveSchain.nodeCount).toBe(2);
  });
});

describe("BidRequest: OpenRTB 2.5 ext locations", () => {
  it("reads regs.ext.gdpr and regs.ext.us_privacy (2.5)", () => {
    expect(errorOf(withTop('"regs":{"ext":{"gdpr":1,"us_privacy":"1YYN","other":{"x":[1]}}}'))).toStrictEqual("OK");
    expect(req.regs.gdpr).toBe(UNSET);
    expect(req.regs.extGdpr).toBe(1);
    expect(req.regs.effectiveGdpr).toBe(1);
    expect(str(req.regs.effectiveUsPrivacy)).toStrictEqual("1YYN");
    expect(req.regs.dsaRequired).toBe(UNSET);
    expect(req.regs.dsaPubRender).toBe(UNSET);
  });

  it("reads regs.ext.dsa (DSA Transparency extension): any non-negative value, the rest skipped", () => {
    expect(errorOf(withTop('"regs":{"ext":{"dsa":{"dsarequired":7,"pubrender":9,"datatopub":1,"transparency":[{"domain":"x","dsaparams":[1,2]}]}}}'))).toStrictEqual("OK");
    expect(req.regs.dsaRequired).toBe(7);
    expect(req.regs.dsaPubRender).toBe(9);
    expect(errorOf(withTop('"regs":{"ext":{"dsa":{"dsarequired":-1}}}'))).toStrictEqual("regs.ext.dsa.dsarequired: out of range");
    expect(errorOf(withTop('"regs":{"ext":{"dsa":[]}}'))).toStrictEqual("regs.ext.dsa: expected object");
    expect(errorOf(withTop('"regs":{"ext":{"dsa":{"dsarequired":"2"}}}'))).toStrictEqual("OK"); // a type slip
    expect(req.regs.dsaRequired).toBe(2);
  });

  it("prefers the 2.6 field when both are given, in any order", () => {
    expect(errorOf(withTop('"regs":{"ext":{"gdpr":1,"us_privacy":"1YYN"},"gdpr":0,"us_privacy":"1NNN"}'))).toStrictEqual("OK");
    expect(req.regs.effectiveGdpr).toBe(0);
    expect(req.regs.extGdpr).toBe(1);
    expect(str(req.regs.effectiveUsPrivacy)).toStrictEqual("1NNN");
  });

  it("reads user.ext.consent (2.5) and user.consent (2.6)", () => {
    expect(errorOf(withTop('"user":{"ext":{"consent":"CO-25","eids":[{"source":"x","uids":[{"id":"1"}]}]}}'))).toStrictEqual("OK");
    expect(str(req.user.extConsent)).toStrictEqual("CO-25");
    expect(str(req.user.effectiveConsent)).toStrictEqual("CO-25");
    expect(errorOf(withTop('"user":{"consent":"CP-26","ext":{"consent":"CO-25"}}'))).toStrictEqual("OK");
    expect(str(req.user.effectiveConsent)).toStrictEqual("CP-26");
  });

  it("reads source.ext.schain (2.5) and source.schain (2.6)", () => {
    expect(errorOf(withTop('"source":{"ext":{"schain":{"complete":0,"nodes":[{"asi":"a"},{"asi":"b"},{"asi":"c"}],"ver":"1.0"}}}'))).toStrictEqual("OK");
    expect(req.source.schain.present).toBe(false);
    expect(req.source.extSchain.present).toBe(true);
    expect(req.source.extSchain.nodeCount).toBe(3);
    expect(req.source.extSchain.complete).toBe(0);
    expect(req.source.effectiveSchain.nodeCount).toBe(3);
    expect(errorOf(withTop('"source":{"schain":{"complete":1,"nodes":[{"asi":"a"}]},"ext":{"schain":{"nodes":[]}}}'))).toStrictEqual("OK");
    expect(req.source.effectiveSchain.nodeCount).toBe(1);
    expect(req.source.extSchain.nodeCount).toBe(0);
  });

  it("keeps each supply-chain node's asi and sid, index for index, for the first 16 nodes", () => {
    expect(errorOf(withTop('"source":{"schain":{"complete":1,"ver":"1.0","nodes":[{"hp":1,"sid":"p-1","asi":"SSP.example"},{"asi":"ex\\u0061mple.com"},{"sid":"7","name":"x"}]}}'))).toStrictEqual("OK");
    const sc = req.source.schain;
    expect(sc.nodeCount).toBe(3);
    expect(sc.asi.count).toBe(3);
    expect(str(sc.asi.get(0))).toStrictEqual("SSP.example");
    expect(str(sc.sid.get(0))).toStrictEqual("p-1");
    expect(str(sc.asi.get(1))).toStrictEqual("example.com"); // unescaped
    expect(sc.sid.get(1).len).toBe(0); // no sid
    expect(sc.asi.get(2).len).toBe(0); // no asi
    expect(str(sc.sid.get(2))).toStrictEqual("7");
    // Longer chains: the first 16 nodes kept, every node validated and counted.
    const nodes = new Array<string>();
    for (let i = 0; i < 20; i++) nodes.push('{"asi":"n' + i.toString() + '.example","sid":"' + i.toString() + '"}');
    expect(errorOf(withTop('"source":{"schain":{"complete":1,"nodes":[' + nodes.join(",") + "]}}"))).toStrictEqual("OK");
    expect(req.source.schain.nodeCount).toBe(20);
    expect(req.source.schain.asi.count).toBe(16);
    expect(req.source.schain.asi.truncated).toBe(true);
    expect(str(req.source.schain.asi.get(15))).toStrictEqual("n15.example");
    // The next request starts empty.
    expect(errorOf(withTop('"source":{"schain":{"complete":1,"nodes":[]}}'))).toStrictEqual("OK");
    expect(req.source.schain.asi.count).toBe(0);
    expect(req.source.schain.asi.truncated).toBe(false);
    // Read fields have their type checked; a number is a string id read as its text.
    expect(errorOf(withTop('"source":{"schain":{"nodes":[{"asi":true}]}}'))).toStrictEqual("source.schain.nodes[0].asi: expected string");
    expect(errorOf(withTop('"source":{"ext":{"schain":{"nodes":[{"asi":"a"},{"sid":{}}]}}}'))).toStrictEqual("source.ext.schain.nodes[1].sid: expected string");
    expect(errorOf(withTop('"source":{"schain":{"nodes":[{"asi":"a","sid":12345}]}}'))).toStrictEqual("OK");
    expect(str(req.source.schain.sid.get(0))).toStrictEqual("12345");
    expect(errorOf(withTop('"source":{"schain":{"nodes":[{"asi":"a"},7]}}'))).toStrictEqual("source.schain.nodes[1]: expected object");
  });

  it("ignores every other ext, whatever it holds", () => {
    expect(errorOf(withTop('"ext":{"prebid":{"targeting":{"a":[1,{"b":null}]}}},"site":{"ext":5,"domain":"x.com"}'))).toStrictEqual("OK");
    expect(str(req.site.domain)).toStrictEqual("x.com");
    expect(errorOf(withImp('{"id":"1","banner":{"w":1,"h":1,"ext":"s"},"ext":{"gpid":"/1/home","data":{"pbadslot":"x"}}}'))).toStrictEqual("OK");
  });
});

describe("BidRequest: required fields", () => {
  it("requires id, non-empty", () => {
    expect(errorOf('{"imp":[' + IMP + "]}")).toStrictEqual("id: required");
    expect(parser.errorCode).toBe(ParseErrorCode.REQUIRED);
    expect(errorOf('{"id":"","imp":[' + IMP + "]}")).toStrictEqual("id: must not be empty");
    expect(parser.errorCode).toBe(ParseErrorCode.EMPTY_VALUE);
  });

  it("requires a non-empty imp array", () => {
    expect(errorOf('{"id":"r"}')).toStrictEqual("imp: required");
    expect(errorOf('{"id":"r","imp":[]}')).toStrictEqual("imp: must not be empty");
  });

  it("requires imp[].id", () => {
    expect(errorOf(withImp('{"banner":{"w":1,"h":1}}'))).toStrictEqual("imp[0].id: required");
    expect(errorOf('{"id":"r","imp":[' + IMP + ',{"banner":{}}]}')).toStrictEqual("imp[1].id: required");
    expect(errorOf(withImp('{"id":"","banner":{}}'))).toStrictEqual("imp[0].id: must not be empty");
  });

  it("refuses an imp id that repeats an earlier one (ids are unique within a request)", () => {
    expect(errorOf('{"id":"r","imp":[{"id":"1","banner":{}},{"id":"1","banner":{}}]}')).toStrictEqual("imp[1]: id repeats an earlier imp's id");
    expect(parser.errorCode).toBe(ParseErrorCode.DUPLICATE_IMP_ID);
    expect(parser.errorLabel).toBe("duplicate_imp_id");
    expect(errorOf('{"id":"r","imp":[{"id":"a","banner":{}},{"id":"b","banner":{}},{"id":"a","video":{}}]}')).toStrictEqual("imp[2]: id repeats an earlier imp's id");
    // Distinct ids, including ones that share a prefix, parse.
    expect(errorOf('{"id":"r","imp":[{"id":"1","banner":{}},{"id":"10","banner":{}},{"id":"2","banner":{}}]}')).toStrictEqual("OK");
  });

  it("requires one of banner, video, native or audio", () => {
    expect(errorOf(withImp('{"id":"1"}'))).toStrictEqual("imp[0]: no banner, video, native or audio");
    expect(parser.errorCode).toBe(ParseErrorCode.NO_MEDIA);
    expect(errorOf(withImp('{"id":"1","banner":null}'))).toStrictEqual("imp[0]: no banner, video, native or audio");
  });

  it("requires deal ids", () => {
    expect(errorOf(withImp('{"id":"1","banner":{},"pmp":{"deals":[{"id":"d"},{"bidfloor":1}]}}'))).toStrictEqual(
      "imp[0].pmp.deals[1].id: required",
    );
  });
});

describe("BidRequest: what real exchanges send beyond the letter of OpenRTB", () => {
  it("reads integers written with an integral fraction or exponent", () => {
    expect(errorOf(withTop('"cattax":2'))).toStrictEqual("OK");
    expect(req.cattax).toBe(2);
    expect(errorOf(withTop('"cattax":"2.0"'))).toStrictEqual("OK"); // a string too (type slips, below)
    expect(req.cattax).toBe(2);
    expect(errorOf(withTop('"tmax":200.0,"at":1E0,"test":0.0'))).toStrictEqual("OK");
    expect(req.tmax).toBe(200);
    expect(req.at).toBe(1);
    expect(req.test).toBe(0);
    expect(errorOf(withImp('{"id":"1","banner":{"w":300.00,"h":2.5e2,"format":[{"w":3E2,"h":25e1}],"battr":[1.0,30e-1]}}'))).toStrictEqual("OK");
    const b = req.imp(0).banner;
    expect(b.w).toBe(300);
    expect(b.h).toBe(250);
    expect(b.format(0).w).toBe(300);
    expect(b.format(0).h).toBe(250);
    expect(b.battr.get(0)).toBe(1);
    expect(b.battr.get(1)).toBe(3);
    expect(errorOf(withTop('"device":{"geo":{"utcoffset":-3.0e2}}'))).toStrictEqual("OK");
    expect(req.device.geo.utcoffset).toBe(-300);
  });

  it("keeps a native.request object as its raw JSON text", () => {
    const doc = '{"ver":"1.2","assets":[{"id":1,"required":1,"title":{"len":90}}],"t":"\\u00e9"}';
    expect(errorOf(withImp('{"id":"1","native":{"request":' + doc + ',"ver":"1.2"}}'))).toStrictEqual("OK");
    expect(str(req.imp(0).native.request)).toStrictEqual(doc);
    expect(str(req.imp(0).native.ver)).toStrictEqual("1.2");
    expect(req.truncatedStrings).toBe(0);
  });

  it("validates a native.request object as part of the request", () => {
    expect(errorOf(withImp('{"id":"1","native":{"request":{"ver":1.2.3}}}'))).toStrictEqual("$: invalid number at byte 58");
    expect(errorOf(withImp('{"id":"1","native":{"request":{"a":[1,]}}}'))).toStrictEqual("$: expected a JSON value at byte 56");
    expect(errorOf(withImp('{"id":"1","native":{"request":{"a":1,"a":2}}}'))).toStrictEqual("OK"); // not interpreted, as a string would not be
    expect(errorOf(withImp('{"id":"1","native":{"request":' + repeat('{"a":', 40) + "1" + repeat("}", 40) + "}}"))).toStrictEqual(
      "$: nesting deeper than 32 at byte 188",
    );
  });

  it("cuts a native.request object at the native.request limit, like the string", () => {
    const assets = repeat('{"id":1,"title":{"len":90}},', 700);
    expect(errorOf(withImp('{"id":"1","native":{"request":{"assets":[' + assets + "{}]}}}"))).toStrictEqual("OK");
    expect(req.imp(0).native.request.len).toBe(MAX_NATIVE_REQUEST_BYTES);
    expect(req.truncatedStrings).toBe(1);
  });
});

describe("BidRequest: wrong types (strict_types)", () => {
  it("names the field and the expected type", () => {
    parser.tolerant = false;
    const cases: string[] = [
      '{"id":1,"imp":[' + IMP + "]}", "id: expected string",
      '{"id":"r","imp":{}}', "imp: expected array",
      '{"id":"r","imp":[1]}', "imp[0]: expected object",
      '{"id":"r","imp":[null]}', "imp[0]: expected object",
      withImp('{"id":5,"banner":{}}'), "imp[0].id: expected string",
      withImp('{"id":"1","banner":[]}'), "imp[0].banner: expected object",
      withImp('{"id":"1","banner":{"w":"300"}}'), "imp[0].banner.w: expected integer",
      withImp('{"id":"1","banner":{"w":300.5}}'), "imp[0].banner.w: expected integer",
      withImp('{"id":"1","banner":{"w":300.25}}'), "imp[0].banner.w: expected integer",
      withImp('{"id":"1","banner":{"w":3.001e2}}'), "imp[0].banner.w: expected integer",
      withImp('{"id":"1","banner":{"w":1e-400}}'), "imp[0].banner.w: expected integer",
      withImp('{"id":"1","banner":{"w":1e400}}'), "imp[0].banner.w: expected integer",
      withImp('{"id":"1","banner":{"w":3e9}}'), "imp[0].banner.w: out of range",
      withImp('{"id":"1","banner":{"w":-1.0}}'), "imp[0].banner.w: out of range",
      withImp('{"id":"1","banner":{"w":18446744073709551616}}'), "imp[0].banner.w: expected integer",
      withImp('{"id":"1","banner":{"w":-1}}'), "imp[0].banner.w: out of range",
      withImp('{"id":"1","banner":{"w":3000000000}}'), "imp[0].banner.w: out of range",
      withImp('{"id":"1","banner":{"h":true}}'), "imp[0].banner.h: expected integer",
      withImp('{"id":"1","banner":{"format":{}}}'), "imp[0].banner.format: expected array",
      withImp('{"id":"1","banner":{"format":[[300,250]]}}'), "imp[0].banner.format[0]: expected object",
      withImp('{"id":"1","banner":{"format":[{"w":1,"h":2},{"w":3,"h":"250"}]}}'), "imp[0].banner.format[1].h: expected integer",
      withImp('{"id":"1","banner":{"battr":[1,"2"]}}'), "imp[0].banner.battr[1]: expected integer",
      withImp('{"id":"1","banner":{"api":3}}'), "imp[0].banner.api: expected array",
      withImp('{"id":"1","banner":{"btype":[-4]}}'), "imp[0].banner.btype[0]: out of range",
      withImp('{"id":"1","video":{"mimes":"video/mp4"}}'), "imp[0].video.mimes: expected array",
      withImp('{"id":"1","video":{"mimes":[1]}}'), "imp[0].video.mimes[0]: expected string",
      withImp('{"id":"1","video":{"startdelay":-3}}'), "imp[0].video.startdelay: out of range",
      withImp('{"id":"1","video":{"skip":2}}'), "imp[0].video.skip: out of range",
      withImp('{"id":"1","video":{"skipmin":-1}}'), "imp[0].video.skipmin: out of range",
      withImp('{"id":"1","video":{"poddur":"60"}}'), "imp[0].video.poddur: expected integer",
      withImp('{"id":"1","video":{"durfloors":{"bidfloor":1}}}'), "imp[0].video.durfloors: expected array",
      withImp('{"id":"1","video":{"durfloors":[{"mindur":-1}]}}'), "imp[0].video.durfloors[0].mindur: out of range",
      withImp('{"id":"1","pmp":{"deals":[{"id":"d","durfloors":[{"bidfloor":"2"}]}]}}'), "imp[0].pmp.deals[0].durfloors[0].bidfloor: expected number",
      withImp('{"id":"1","pmp":{"deals":[{"id":"d","mincpmpersec":-1}]}}'), "imp[0].pmp.deals[0].mincpmpersec: out of range",
      withImp('{"id":"1","video":{"protocols":[2,3.5]}}'), "imp[0].video.protocols[1]: expected integer",
      withImp('{"id":"1","video":{"plcmt":"1"}}'), "imp[0].video.plcmt: expected integer",
      withImp('{"id":"1","native":{"request":12}}'), "imp[0].native.request: expected string",
      withImp('{"id":"1","native":{"request":["{}"]}}'), "imp[0].native.request: expected string",
      withImp('{"id":"1","native":{"request":true}}'), "imp[0].native.request: expected string",
      withImp('{"id":"1","native":{"ver":1.2}}'), "imp[0].native.ver: expected string",
      withImp('{"id":"1","audio":{"mimes":[null]}}'), "imp[0].audio.mimes[0]: expected string",
      withImp('{"id":"1","audio":{"maxduration":"60"}}'), "imp[0].audio.maxduration: expected integer",
      withImp('{"id":"1","banner":{},"bidfloor":"0.5"}'), "imp[0].bidfloor: expected number",
      withImp('{"id":"1","banner":{},"bidfloor":-1}'), "imp[0].bidfloor: out of range",
      withImp('{"id":"1","banner":{},"bidfloor":1e400}'), "imp[0].bidfloor: out of range",
      withImp('{"id":"1","banner":{},"bidfloorcur":840}'), "imp[0].bidfloorcur: expected string",
      withImp('{"id":"1","banner":{},"secure":true}'), "imp[0].secure: expected integer",
      withImp('{"id":"1","banner":{},"instl":2}'), "imp[0].instl: out of range",
      withImp('{"id":"1","banner":{},"tagid":7}'), "imp[0].tagid: expected string",
      withImp('{"id":"1","banner":{},"pmp":[]}'), "imp[0].pmp: expected object",
      withImp('{"id":"1","banner":{},"pmp":{"deals":{}}}'), "imp[0].pmp.deals: expected array",
      withImp('{"id":"1","banner":{},"pmp":{"private_auction":"1"}}'), "imp[0].pmp.private_auction: expected integer",
      withImp('{"id":"1","banner":{},"pmp":{"deals":[{"id":"d","bidfloor":"1"}]}}'), "imp[0].pmp.deals[0].bidfloor: expected number",
      withImp('{"id":"1","banner":{},"pmp":{"deals":[{"id":"d","wseat":"a"}]}}'), "imp[0].pmp.deals[0].wseat: expected array",
      withImp('{"id":"1","banner":{},"pmp":{"deals":[{"id":"d","at":0}]}}'), "imp[0].pmp.deals[0].at: out of range",
      withImp('{"id":"1","banner":{},"pmp":{"deals":[{"id":5}]}}'), "imp[0].pmp.deals[0].id: expected string",
      withTop('"site":"x"'), "site: expected object",
      withTop('"site":{"cat":"IAB1"}'), "site.cat: expected array",
      withTop('"site":{"mobile":2}'), "site.mobile: out of range",
      withTop('"site":{"publisher":{"id":1}}'), "site.publisher.id: expected string",
      withTop('"app":{"bundle":123}'), "app.bundle: expected string",
      withTop('"app":{"publisher":[]}'), "app.publisher: expected object",
      withTop('"device":[]'), "device: expected object",
      withTop('"device":{"geo":{"lat":"37"}}'), "device.geo.lat: expected number",
      withTop('"device":{"geo":{"lat":91}}'), "device.geo.lat: out of range",
      withTop('"device":{"geo":{"lon":1e400}}'), "device.geo.lon: out of range",
      withTop('"device":{"geo":{"utcoffset":"-480"}}'), "device.geo.utcoffset: expected integer",
      withTop('"device":{"geo":{"country":840}}'), "device.geo.country: expected string",
      withTop('"device":{"devicetype":"4"}'), "device.devicetype: expected integer",
      withTop('"device":{"lmt":2}'), "device.lmt: out of range",
      withTop('"device":{"ua":["x"]}'), "device.ua: expected string",
      withTop('"user":{"yob":1980.5}'), "user.yob: expected integer",
      withTop('"user":{"geo":{"lat":-90.5}}'), "user.geo.lat: out of range",
      withTop('"user":{"data":{}}'), "user.data: expected array",
      withTop('"user":{"data":[{"segment":[{"id":7}]}]}'), "user.data[0].segment[0].id: expected string",
      withTop('"user":{"data":[{"id":"a"},{"segment":{}}]}'), "user.data[1].segment: expected array",
      withTop('"user":{"ext":"x"}'), "user.ext: expected object",
      withTop('"user":{"ext":{"consent":1}}'), "user.ext.consent: expected string",
      withTop('"test":2'), "test: out of range",
      withTop('"test":true'), "test: expected integer",
      withTop('"at":0'), "at: out of range",
      withTop('"tmax":"100"'), "tmax: expected integer",
      withTop('"tmax":1e-3'), "tmax: expected integer",
      withTop('"tmax":-5'), "tmax: out of range",
      withTop('"cur":"USD"'), "cur: expected array",
      withTop('"cur":["USD",null]'), "cur[1]: expected string",
      withTop('"bcat":[1]'), "bcat[0]: expected string",
      withTop('"badv":{}'), "badv: expected array",
      withTop('"bapp":[true]'), "bapp[0]: expected string",
      withTop('"wseat":[1]'), "wseat[0]: expected string",
      withTop('"bseat":"x"'), "bseat: expected array",
      withTop('"regs":[]'), "regs: expected object",
      withTop('"regs":{"gdpr":"1"}'), "regs.gdpr: expected integer",
      withTop('"regs":{"coppa":2}'), "regs.coppa: out of range",
      withTop('"regs":{"ext":{"gdpr":true}}'), "regs.ext.gdpr: expected integer",
      withTop('"regs":{"ext":[]}'), "regs.ext: expected object",
      withTop('"regs":{"ext":{"us_privacy":1}}'), "regs.ext.us_privacy: expected string",
      withTop('"regs":{"gpp_sid":[7,"8"]}'), "regs.gpp_sid[1]: expected integer",
      withTop('"regs":{"gpp":1}'), "regs.gpp: expected string",
      withTop('"regs":{"gpp_sid":[-2]}'), "regs.gpp_sid[0]: out of range",
      withTop('"regs":{"ext":{"gpp":7}}'), "regs.ext.gpp: expected string",
      withTop('"regs":{"ext":{"gpp_sid":[-2]}}'), "regs.ext.gpp_sid[0]: out of range",
      withTop('"source":{"fd":3}'), "source.fd: out of range",
      withTop('"source":{"tid":1}'), "source.tid: expected string",
      withTop('"source":{"schain":[]}'), "source.schain: expected object",
      withTop('"source":{"schain":{"nodes":{}}}'), "source.schain.nodes: expected array",
      withTop('"source":{"schain":{"nodes":[{},"x"]}}'), "source.schain.nodes[1]: expected object",
      withTop('"source":{"ext":{"schain":{"complete":"1"}}}'), "source.ext.schain.complete: expected integer",
      withTop('"source":{"ext":[]}'), "source.ext: expected object",
    ];
    for (let i = 0; i < cases.length; i += 2) {
      expect(errorOf(cases[i])).toStrictEqual(cases[i + 1], cases[i]);
      expect(jsonSafe(parser.errorMessage)).toBe(true);
    }
    parser.tolerant = true;
  });

  it("uses WRONG_TYPE and OUT_OF_RANGE codes", () => {
    parser.tolerant = false;
    expect(parse(withTop('"tmax":"1"'))).toBe(ParseErrorCode.WRONG_TYPE);
    expect(parse(withTop('"test":5'))).toBe(ParseErrorCode.OUT_OF_RANGE);
    expect(parser.errorLabel).toStrictEqual("out_of_range");
    parser.tolerant = true;
  });
});

describe("BidRequest: type slips read as meant (the default)", () => {
  it("is the parser's default", () => {
    expect(new BidRequestParser().tolerant).toBe(true);
  });

  it("reads true/false as a flag's 1/0", () => {
    expect(errorOf(withImp('{"id":"1","banner":{},"secure":true,"instl":false}'))).toStrictEqual("OK");
    expect(req.imp(0).secure).toBe(1);
    expect(req.imp(0).instl).toBe(0);
    expect(errorOf(withTop('"test":true,"site":{"mobile":true},"regs":{"coppa":false,"gdpr":true,"ext":{"gdpr":true}},"device":{"dnt":false,"lmt":true,"js":true}'))).toStrictEqual("OK");
    expect(req.test).toBe(1);
    expect(req.site.mobile).toBe(1);
    expect(req.regs.coppa).toBe(0);
    expect(req.regs.gdpr).toBe(1);
    expect(req.regs.extGdpr).toBe(1);
    expect(req.device.dnt).toBe(0);
    expect(req.device.lmt).toBe(1);
    expect(req.device.js).toBe(1);
    expect(req.coercedValues).toBe(8);
  });

  it("reads a number written as a string, by the JSON number grammar", () => {
    expect(errorOf(withImp('{"id":"1","banner":{"w":"300","h":"2.5e2","battr":["1",2]},"bidfloor":"0.125","pmp":{"private_auction":"1","deals":[{"id":"d","bidfloor":"1.5"}]}}'))).toStrictEqual("OK");
    const imp = req.imp(0);
    expect(imp.banner.w).toBe(300);
    expect(imp.banner.h).toBe(250);
    expect(imp.banner.battr.get(0)).toBe(1);
    expect(imp.banner.battr.get(1)).toBe(2);
    expect(imp.bidfloor).toBe(0.125);
    expect(imp.pmp.privateAuction).toBe(1);
    expect(imp.pmp.deal(0).bidfloor).toBe(1.5);
    expect(req.coercedValues).toBe(6);
    expect(errorOf(withTop('"tmax":"120","device":{"devicetype":"4","geo":{"lat":"37.5","lon":"-122","utcoffset":"-480"}}'))).toStrictEqual("OK");
    expect(req.tmax).toBe(120);
    expect(req.device.devicetype).toBe(4);
    expect(req.device.geo.lat).toBe(37.5);
    expect(req.device.geo.lon).toBe(-122);
    expect(req.device.geo.utcoffset).toBe(-480);
    // Escapes are decoded before the number is read ("\u0033" is "3").
    expect(errorOf(withTop('"tmax":"\\u0033\\u0030"'))).toStrictEqual("OK");
    expect(req.tmax).toBe(30);
  });

  it("reads a number where a string is expected as its text", () => {
    expect(errorOf('{"id":1234,"imp":[{"id":1,"banner":{},"tagid":77,"pmp":{"deals":[{"id":9001}]}}],"site":{"id":5,"publisher":{"id":1e3}},"user":{"id":-42,"data":[{"segment":[{"id":7}]}]}}')).toStrictEqual("OK");
    expect(str(req.id)).toStrictEqual("1234");
    expect(str(req.imp(0).id)).toStrictEqual("1");
    expect(str(req.imp(0).tagid)).toStrictEqual("77");
    expect(str(req.imp(0).pmp.deal(0).id)).toStrictEqual("9001");
    expect(str(req.site.id)).toStrictEqual("5");
    expect(str(req.site.publisher.id)).toStrictEqual("1e3");
    expect(str(req.user.id)).toStrictEqual("-42");
    expect(str(req.segment(0).id)).toStrictEqual("7");
    expect(req.coercedValues).toBe(8);
  });

  it("reads regs.gpp_sid -1 (no section applies) and the 2.5 regs.ext.gpp and gpp_sid", () => {
    expect(errorOf(withTop('"regs":{"gpp_sid":[-1]}'))).toStrictEqual("OK");
    expect(req.regs.gppSid.get(0)).toBe(-1);
    expect(errorOf(withTop('"regs":{"ext":{"gpp":"DBABL~BVVqqqqqCW","gpp_sid":[7]}}'))).toStrictEqual("OK");
    expect(str(req.regs.effectiveGpp)).toStrictEqual("DBABL~BVVqqqqqCW");
    expect(req.regs.effectiveGppSid.get(0)).toBe(7);
    // The 2.6 string wins, with its own ids.
    expect(errorOf(withTop('"regs":{"gpp":"DBABM~x","gpp_sid":[2],"ext":{"gpp":"DBABL~y","gpp_sid":[7]}}'))).toStrictEqual("OK");
    expect(str(req.regs.effectiveGpp)).toStrictEqual("DBABM~x");
    expect(req.regs.effectiveGppSid.get(0)).toBe(2);
  });

  it("reads a lone value where a list is expected as a list of one", () => {
    expect(errorOf(withTop('"cur":"USD","bcat":"IAB25","wseat":7,"site":{"cat":"IAB1"},"regs":{"gpp_sid":"7"}'))).toStrictEqual("OK");
    expect(req.cur.count).toBe(1);
    expect(str(req.cur.get(0))).toStrictEqual("USD");
    expect(req.bcat.count).toBe(1);
    expect(str(req.bcat.get(0))).toStrictEqual("IAB25");
    expect(str(req.wseat.get(0))).toStrictEqual("7");
    expect(str(req.site.cat.get(0))).toStrictEqual("IAB1");
    expect(req.regs.gppSid.count).toBe(1);
    expect(req.regs.gppSid.get(0)).toBe(7);
    expect(errorOf(withImp('{"id":"1","video":{"mimes":"video/mp4","protocols":2}}'))).toStrictEqual("OK");
    expect(str(req.imp(0).video.mimes.get(0))).toStrictEqual("video/mp4");
    expect(req.imp(0).video.protocols.get(0)).toBe(2);
  });

  it("reads user.keywords sent as an array as the list it is (user.kwarray, 2.6)", () => {
    expect(errorOf(withTop('"user":{"keywords":["food","pasta"]}'))).toStrictEqual("OK");
    expect(req.user.keywords.len).toBe(0);
    expect(req.user.kwarray.count).toBe(2);
    expect(str(req.user.kwarray.get(1))).toStrictEqual("pasta");
    expect(req.coercedValues).toBe(1);
    expect(errorOf(withTop('"user":{"keywords":"food,pasta","kwarray":["food","pasta"]}'))).toStrictEqual("OK");
    expect(str(req.user.keywords)).toStrictEqual("food,pasta");
    expect(req.user.kwarray.count).toBe(2);
    expect(req.coercedValues).toBe(0);
    expect(errorOf(withTop('"user":{"keywords":["food",{}]}'))).toStrictEqual("user.keywords[1]: expected string");
    parser.tolerant = false;
    expect(errorOf(withTop('"user":{"keywords":["food"]}'))).toStrictEqual("user.keywords: expected string");
    parser.tolerant = true;
  });

  it("reads a lone surrogate escape as U+FFFD, wherever it is (JSON.stringify writes one for a string cut inside an emoji)", () => {
    // In a field the parser skips, and in one it reads.
    expect(errorOf(withTop('"site":{"content":{"title":"Breaking \\ud83d"},"name":"caf\\udc00 \\ud83d\\u0041 \\ud83d\\ude00"}'))).toStrictEqual("OK");
    expect(str(req.site.name)).toStrictEqual("caf\uFFFD \uFFFDA \uD83D\uDE00");
    expect(req.coercedValues).toBe(3);
    // A reversed pair is two of them; a high one before another high one too.
    expect(errorOf(withTop('"site":{"name":"\\ude00\\ud83d|\\ud83d\\ud83d"}'))).toStrictEqual("OK");
    expect(str(req.site.name)).toStrictEqual("\uFFFD\uFFFD|\uFFFD\uFFFD");
    // A cut or malformed escape is still invalid JSON.
    expect(errorOf(withTop('"site":{"name":"\\ud83d\\u12"}'))).toStrictEqual("$: invalid escape sequence at byte 79");
  });

  it("counts nothing for a request of the right types", () => {
    expect(errorOf(withTop('"tmax":120,"cur":["USD"],"site":{"id":"5","mobile":1}'))).toStrictEqual("OK");
    expect(req.coercedValues).toBe(0);
  });

  it("still refuses what has no single meaning, with the strict message", () => {
    const cases: string[] = [
      withImp('{"id":"1","banner":{"h":true}}'), "imp[0].banner.h: expected integer",
      withImp('{"id":"1","banner":{"w":"300px"}}'), "imp[0].banner.w: expected integer",
      withImp('{"id":"1","banner":{"w":" 300"}}'), "imp[0].banner.w: expected integer",
      withImp('{"id":"1","banner":{"w":""}}'), "imp[0].banner.w: expected integer",
      withImp('{"id":"1","banner":{"w":"300.5"}}'), "imp[0].banner.w: expected integer",
      withImp('{"id":"1","banner":{"w":"01"}}'), "imp[0].banner.w: expected integer",
      withImp('{"id":"1","banner":{"w":"-1"}}'), "imp[0].banner.w: out of range",
      withImp('{"id":"1","banner":{"w":300.5}}'), "imp[0].banner.w: expected integer",
      withImp('{"id":"1","banner":{"format":{}}}'), "imp[0].banner.format: expected array",
      withImp('{"id":"1","banner":{"battr":[1,"x"]}}'), "imp[0].banner.battr[1]: expected integer",
      withImp('{"id":"1","banner":{"api":{}}}'), "imp[0].banner.api: expected array",
      withImp('{"id":"1","banner":{},"bidfloor":"NaN"}'), "imp[0].bidfloor: expected number",
      withImp('{"id":"1","banner":{},"bidfloor":"-1"}'), "imp[0].bidfloor: out of range",
      withImp('{"id":"1","banner":{},"bidfloor":true}'), "imp[0].bidfloor: expected number",
      withImp('{"id":"1","banner":{},"secure":"yes"}'), "imp[0].secure: expected integer",
      withImp('{"id":"1","banner":{},"instl":2}'), "imp[0].instl: out of range",
      withImp('{"id":"1","banner":{},"tagid":true}'), "imp[0].tagid: expected string",
      withImp('{"id":"1","native":{"request":true}}'), "imp[0].native.request: expected string",
      withImp('{"id":"1","banner":{},"pmp":{"deals":[{"id":"d","wseat":{}}]}}'), "imp[0].pmp.deals[0].wseat: expected array",
      '{"id":"r","imp":{}}', "imp: expected array",
      '{"id":true,"imp":[' + IMP + "]}", "id: expected string",
      withTop('"site":"x"'), "site: expected object",
      withTop('"device":{"ua":["x"]}'), "device.ua: expected string",
      withTop('"device":{"geo":{"lat":"91"}}'), "device.geo.lat: out of range",
      withTop('"cur":["USD",null]'), "cur[1]: expected string",
      withTop('"cur":true'), "cur: expected string",
      withTop('"bapp":[true]'), "bapp[0]: expected string",
      withTop('"tmax":"1e-3"'), "tmax: expected integer",
      withTop('"test":"true"'), "test: expected integer",
      withTop('"regs":{"coppa":2}'), "regs.coppa: out of range",
      withTop('"user":{"ext":"x"}'), "user.ext: expected object",
    ];
    for (let i = 0; i < cases.length; i += 2) {
      expect(errorOf(cases[i])).toStrictEqual(cases[i + 1], cases[i]);
      expect(jsonSafe(parser.errorMessage)).toBe(true);
    }
  });

  it("reports a malformed value as invalid JSON, as strict reading does", () => {
    expect(errorOf(withImp('{"id":"1","banner":{"w":tru}}'))).toStrictEqual("$: invalid literal at byte 42");
    expect(errorOf(withImp('{"id":01,"banner":{}}'))).toStrictEqual("$: invalid number at byte 25");
    expect(errorOf(withTop('"cur":"US\\x"'))).toStrictEqual("$: invalid escape sequence at byte 66");
  });
});

describe("BidRequest: null means absent", () => {
  it("treats null optional fields as absent", () => {
    expect(errorOf(withTop('"site":null,"device":{"ua":null,"geo":null},"tmax":null,"cur":null,"regs":{"gdpr":null}'))).toStrictEqual("OK");
    expect(req.site.present).toBe(false);
    expect(req.device.present).toBe(true);
    expect(req.device.ua.len).toBe(0);
    expect(req.device.geo.present).toBe(false);
    expect(req.tmax).toBe(0);
    expect(req.regs.gdpr).toBe(UNSET);
    expect(errorOf(withImp('{"id":"1","banner":{"w":null,"h":250},"bidfloor":null,"bidfloorcur":null}'))).toStrictEqual("OK");
    expect(req.imp(0).banner.w).toBe(0);
    expect(str(req.imp(0).bidfloorcur)).toStrictEqual("USD");
  });

  it("treats null required fields as missing", () => {
    expect(errorOf('{"id":null,"imp":[' + IMP + "]}")).toStrictEqual("id: required");
    expect(errorOf('{"id":"r","imp":null}')).toStrictEqual("imp: required");
    expect(errorOf(withImp('{"id":null,"banner":{}}'))).toStrictEqual("imp[0].id: required");
  });

  it("does not accept null array elements", () => {
    expect(errorOf(withTop('"bcat":["IAB1",null]'))).toStrictEqual("bcat[1]: expected string");
    expect(errorOf(withImp('{"id":"1","banner":{"format":[null]}}'))).toStrictEqual("imp[0].banner.format[0]: expected object");
  });
});

describe("BidRequest: duplicate keys", () => {
  it("refuses a known field given twice", () => {
    expect(errorOf('{"id":"a","id":"b","imp":[' + IMP + "]}")).toStrictEqual("id: duplicate key");
    expect(parser.errorCode).toBe(ParseErrorCode.DUPLICATE_KEY);
    expect(errorOf(withImp('{"id":"1","banner":{"w":1,"h":2,"w":3}}'))).toStrictEqual("imp[0].banner.w: duplicate key");
    expect(errorOf(withTop('"device":{"geo":{"lat":1,"lat":null}}'))).toStrictEqual("device.geo.lat: duplicate key");
    expect(errorOf(withTop('"regs":{"ext":{"gdpr":1,"gdpr":0}}'))).toStrictEqual("regs.ext.gdpr: duplicate key");
    expect(errorOf('{"id":"r","imp":[' + IMP + '],"imp":[' + IMP + "]}")).toStrictEqual("imp: duplicate key");
  });

  it("matches escaped keys, so they are duplicates too", () => {
    expect(errorOf('{"id":"a","\\u0069d":"b","imp":[' + IMP + "]}")).toStrictEqual("id: duplicate key");
  });

  it("ignores duplicate unknown keys and the same key in different objects", () => {
    expect(errorOf(withTop('"x":1,"x":2,"ext":{"a":1,"a":2}'))).toStrictEqual("OK");
    expect(errorOf('{"id":"r","imp":[' + IMP + "," + IMP.replace('"id":"1"', '"id":"2"') + "]}")).toStrictEqual("OK");
  });
});

describe("BidRequest: escaped keys and values", () => {
  it("reads keys written with escapes", () => {
    expect(errorOf('{"\\u0069d":"r","\\u0069mp":[{"\\u0069d":"1","b\\u0061nner":{"\\u0077":300,"h":250}}]}')).toStrictEqual("OK");
    expect(str(req.id)).toStrictEqual("r");
    expect(req.imp(0).banner.w).toBe(300);
  });

  it("unescapes values, including surrogate pairs", () => {
    expect(errorOf(withTop('"site":{"name":"caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\/ \\\\","page":"https://ex.com/é😀"}'))).toStrictEqual("OK");
    expect(str(req.site.name)).toStrictEqual('café 😀 "q" / \\');
    expect(str(req.site.page)).toStrictEqual("https://ex.com/é😀");
  });
});

describe("BidRequest: ids and string limits", () => {
  it("accepts an echoed id of 256 bytes and refuses 257", () => {
    const id256 = repeat("a", 256);
    expect(errorOf('{"id":"' + id256 + '","imp":[' + IMP + "]}")).toStrictEqual("OK");
    expect(req.id.len).toBe(256);
    expect(errorOf('{"id":"' + id256 + 'b","imp":[' + IMP + "]}")).toStrictEqual("id: longer than 256 bytes");
    expect(parser.errorCode).toBe(ParseErrorCode.TOO_LONG);
    expect(errorOf(withImp('{"id":"' + id256 + 'b","banner":{}}'))).toStrictEqual("imp[0].id: longer than 256 bytes");
    expect(errorOf(withImp('{"id":"1","banner":{},"pmp":{"deals":[{"id":"' + id256 + 'b"}]}}'))).toStrictEqual(
      "imp[0].pmp.deals[0].id: longer than 256 bytes",
    );
  });

  it("truncates other strings at 512 bytes and counts them", () => {
    expect(errorOf(withTop('"site":{"page":"' + repeat("p", 600) + '","domain":"' + repeat("d", 513) + '"}'))).toStrictEqual("OK");
    expect(req.site.page.len).toBe(MAX_STRING_BYTES);
    expect(req.site.domain.len).toBe(MAX_STRING_BYTES);
    expect(req.truncatedStrings).toBe(2);
  });

  it("truncates at a UTF-8 character boundary", () => {
    // 511 ASCII bytes then a 2-byte é: the cut must drop the é whole.
    expect(errorOf(withTop('"device":{"ua":"' + repeat("u", 511) + 'é"}'))).toStrictEqual("OK");
    expect(req.device.ua.len).toBe(511);
    // 510 bytes then an emoji (4 bytes) written as an escape: cut to 510.
    expect(errorOf(withTop('"device":{"ua":"' + repeat("u", 510) + '\\ud83d\\ude00xyz"}'))).toStrictEqual("OK");
    expect(req.device.ua.len).toBe(510);
    expect(req.truncatedStrings).toBe(1);
    // Exactly 512 bytes ending in a full character is kept whole.
    expect(errorOf(withTop('"device":{"ua":"' + repeat("u", 508) + '😀"}'))).toStrictEqual("OK");
    expect(req.device.ua.len).toBe(512);
    expect(req.truncatedStrings).toBe(0);
  });

  it("keeps native.request whole up to its own larger limit", () => {
    const assets = repeat('{\\"id\\":1,\\"title\\":{\\"len\\":90}},', 40);
    expect(errorOf(withImp('{"id":"1","native":{"request":"{\\"assets\\":[' + assets + '{}]}"}}'))).toStrictEqual("OK");
    expect(req.imp(0).native.request.len).toBeGreaterThan(MAX_STRING_BYTES);
    expect(req.truncatedStrings).toBe(0);
  });
});

describe("BidRequest: capacities", () => {
  it("keeps MAX_IMPS imps, counts and validates the rest", () => {
    const imps = list('{"id":"i#","banner":{"w":300,"h":250}}', MAX_IMPS + 4);
    expect(errorOf('{"id":"r","imp":[' + imps + "]}")).toStrictEqual("OK");
    expect(req.impCount).toBe(MAX_IMPS);
    expect(req.impCountTotal).toBe(MAX_IMPS + 4);
    expect(str(req.imp(MAX_IMPS - 1).id)).toStrictEqual("i15");
    expect(req.imp(MAX_IMPS).id.len).toBe(0); // out of range: a spare, empty imp
    expect(req.truncatedArrays).toBe(1);
    const bad = list('{"id":"i#","banner":{}}', MAX_IMPS + 2) + ',{"banner":{}}';
    expect(errorOf('{"id":"r","imp":[' + bad + "]}")).toStrictEqual("imp[18].id: required");
  });

  it("keeps MAX_FORMATS formats and MAX_DEALS deals", () => {
    const formats = list('{"w":#,"h":50}', MAX_FORMATS + 3);
    const deals = list('{"id":"d#"}', MAX_DEALS + 2);
    expect(errorOf(withImp('{"id":"1","banner":{"format":[' + formats + ']},"pmp":{"deals":[' + deals + "]}}"))).toStrictEqual("OK");
    const imp = req.imp(0);
    expect(imp.banner.formatCount).toBe(MAX_FORMATS);
    expect(imp.banner.formatTotal).toBe(MAX_FORMATS + 3);
    expect(imp.banner.format(MAX_FORMATS - 1).w).toBe(MAX_FORMATS - 1);
    expect(imp.pmp.dealCount).toBe(MAX_DEALS);
    expect(imp.pmp.dealTotal).toBe(MAX_DEALS + 2);
    expect(req.truncatedArrays).toBe(2);
    expect(errorOf(withImp('{"id":"1","banner":{"format":[' + formats + ',{"w":"x"}]}}'))).toStrictEqual(
      "imp[0].banner.format[19].w: expected integer",
    );
  });

  it("keeps MAX_CUR currencies and MAX_BLOCKED categories", () => {
    expect(errorOf(withTop('"cur":[' + list('"C#"', MAX_CUR + 2) + '],"bcat":[' + list('"IAB#"', MAX_BLOCKED + 6) + "]"))).toStrictEqual("OK");
    expect(req.cur.count).toBe(MAX_CUR);
    expect(req.cur.total).toBe(MAX_CUR + 2);
    expect(req.cur.truncated).toBe(true);
    expect(req.bcat.count).toBe(MAX_BLOCKED);
    expect(req.bcat.total).toBe(MAX_BLOCKED + 6);
    expect(req.truncatedArrays).toBe(2);
    expect(errorOf(withTop('"bcat":[' + list('"IAB#"', MAX_BLOCKED + 6) + ",true]"))).toStrictEqual("bcat[" + (MAX_BLOCKED + 6).toString() + "]: expected string");
  });

  it("flattens at most MAX_SEGMENTS segments over all user.data", () => {
    const segs = list('{"id":"s#"}', 40);
    expect(errorOf(withTop('"user":{"data":[{"id":"a","segment":[' + segs + ']},{"id":"b","segment":[' + segs + "]}]}"))).toStrictEqual("OK");
    expect(req.segmentCount).toBe(MAX_SEGMENTS);
    expect(req.segmentTotal).toBe(80);
    expect(str(req.segment(39).dataId)).toStrictEqual("a");
    expect(str(req.segment(40).dataId)).toStrictEqual("b");
    expect(str(req.segment(40).id)).toStrictEqual("s0");
    expect(req.truncatedArrays).toBe(1);
  });
});

describe("BidRequest: invalid JSON", () => {
  it("reports syntax errors with $ and the byte offset", () => {
    expect(errorOf("")).toStrictEqual("$: empty body");
    expect(parser.errorCode).toBe(ParseErrorCode.EMPTY);
    expect(errorOf(" \r\n\t ")).toStrictEqual("$: empty body");
    expect(errorOf("[]")).toStrictEqual("$: expected object");
    expect(errorOf("null")).toStrictEqual("$: expected object");
    expect(errorOf('"id"')).toStrictEqual("$: expected object");
    expect(errorOf("{")).toStrictEqual("$: unexpected end of input at byte 1");
    expect(errorOf(withTop("") + " x")).toStrictEqual("$: trailing characters after JSON value at byte 58");
    expect(errorOf('{"id":"r",}')).toStrictEqual("$: expected a string key at byte 10");
    expect(errorOf('{"id":"r" "imp":[]}')).toStrictEqual("$: expected ',' or '}' at byte 10");
    expect(errorOf('{"id":"r","imp":[' + IMP + ' ' + IMP + "]}")).toStrictEqual("$: expected ',' or ']' at byte 55");
    expect(errorOf('{"id" "r"}')).toStrictEqual("$: expected ':' after key at byte 6");
    expect(errorOf(withImp('{"id":"1","banner":{},"bidfloor":NaN}'))).toStrictEqual("$: expected a JSON value at byte 51");
    expect(errorOf(withImp('{"id":"1","banner":{},"bidfloor":01}'))).toStrictEqual("$: invalid number at byte 52");
    expect(errorOf(withTop('"test":tru'))).toStrictEqual("$: invalid literal at byte 64");
    expect(errorOf(withTop('"test":"abc'))).toStrictEqual("$: unexpected end of input at byte 69");
    expect(errorOf('{"id":"r1","imp":[' + IMP + '],"test":tru')).toStrictEqual("$: unexpected end of input at byte 67");
    expect(errorOf(withTop('"test":nul}'))).toStrictEqual("$: invalid literal at byte 64");
    expect(parser.errorOffset).toBe(64);
  });

  it("reports string problems", () => {
    parser.tolerant = false; // by default a lone surrogate is read as U+FFFD (type slips, above)
    expect(errorOf('{"id":"a\\ud800","imp":[]}')).toStrictEqual("$: lone surrogate in unicode escape at byte 8");
    expect(parser.errorCode).toBe(ParseErrorCode.LONE_SURROGATE);
    parser.tolerant = true;
    expect(errorOf('{"id":"a\\qb"}')).toStrictEqual("$: invalid escape sequence at byte 8");
    expect(parseBytes([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0x61, 0x01, 0x22, 0x7d])).toBe(ParseErrorCode.CONTROL_CHAR);
    expect(parser.errorMessage.toString()).toStrictEqual("$: control character in string at byte 8");
    expect(parseBytes([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])).toBe(ParseErrorCode.INVALID_UTF8);
    expect(parser.errorMessage.toString()).toStrictEqual("$: invalid UTF-8 at byte 7");
    expect(parser.errorLabel).toStrictEqual("invalid_utf8");
  });

  it("counts skipped containers towards the depth limit", () => {
    let deep = "";
    for (let i = 0; i < 31; i++) deep += "[";
    for (let i = 0; i < 31; i++) deep += "]";
    expect(errorOf(withTop('"ext":' + deep))).toStrictEqual("OK"); // 1 (top) + 31 = 32
    expect(errorOf(withTop('"ext":[' + deep + "]"))).toStrictEqual("$: nesting deeper than 32 at byte 94");
    expect(parser.errorCode).toBe(ParseErrorCode.TOO_DEEP);
  });

  it("validates unknown fields completely", () => {
    expect(errorOf(withTop('"ext":{"x":[1,2,01]}'))).toStrictEqual("$: invalid number at byte 74");
    expect(errorOf(withTop('"unknown":"\\x"'))).toStrictEqual("$: invalid escape sequence at byte 68");
    expect(parseBytes([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])).toBe(ParseErrorCode.INVALID_UTF8);
  });

  it("never names raw input in messages", () => {
    expect(errorOf('{"a\\"b":1,"id":"r","imp":[1]}')).toStrictEqual("imp[0]: expected object");
    expect(jsonSafe(parser.errorMessage)).toBe(true);
  });

  it("does not trap on any prefix of a valid request", () => {
    const full = String.UTF8.encode(
      withTop('"site":{"page":"h\\u00e9\\ud83d\\ude00"},"device":{"geo":{"lat":1.5e1}},"user":{"data":[{"segment":[{"id":"x"}]}]}'),
    );
    body = full;
    for (let n = 0; n < full.byteLength; n++) {
      expect(parser.parse(changetype<usize>(full), n, req)).not.toBe(0);
      expect(jsonSafe(parser.errorMessage)).toBe(true);
    }
    expect(parser.parse(changetype<usize>(full), full.byteLength, req)).toBe(0);
  });
});

describe("BidRequest: reuse", () => {
  it("leaves nothing from a big request in the next small one", () => {
    const big =
      '{"id":"big","test":1,"at":1,"tmax":99,"cur":["EUR","GBP"],"bcat":["IAB1"],"acat":["IAB2"],"wlang":["fr"],"wlangb":["fr-CA"],"badv":["x.com"],"bapp":["a.b"],' +
      '"imp":[' +
      list('{"id":"b#","tagid":"t","secure":1,"bidfloor":3,"bidfloorcur":"EUR","banner":{"w":728,"h":90,"format":[{"w":1,"h":2}],"battr":[1]},' +
        '"video":{"mimes":["video/mp4"],"startdelay":0,"skip":1},"pmp":{"private_auction":1,"deals":[{"id":"d","wseat":["s"]}]}}', 3) +
      '],"site":{"domain":"big.com","cat":["IAB2"],"publisher":{"id":"p"}},"app":{"bundle":"b"},' +
      '"device":{"ua":"UA","lmt":1,"geo":{"lat":10,"lon":20,"country":"FRA","utcoffset":60}},' +
      '"user":{"id":"u","consent":"c","ext":{"consent":"e"},"data":[{"id":"d","segment":[{"id":"s"}]}]},' +
      '"regs":{"gdpr":1,"coppa":1,"ext":{"gdpr":1,"us_privacy":"1Y"},"gpp_sid":[2]},' +
      '"source":{"tid":"t","fd":1,"schain":{"nodes":[{}]},"ext":{"schain":{"nodes":[{}]}}}}';

    expect(errorOf(big)).toStrictEqual("OK");
    expect(req.impCount).toBe(3);
    expect(errorOf('{"id":"small","imp":[{"id":"s1","native":{"request":"{}"}}]}')).toStrictEqual("OK");
    expect(str(req.id)).toStrictEqual("small");
    expect(req.test).toBe(0);
    expect(req.at).toBe(2);
    expect(req.tmax).toBe(0);
    expect(req.cur.count).toBe(0);
    expect(req.bcat.count).toBe(0);
    expect(req.badv.count).toBe(0);
    expect(req.bapp.count).toBe(0);
    expect(req.impCount).toBe(1);
    expect(req.impCountTotal).toBe(1);
    const imp = req.imp(0);
    expect(imp.banner.present).toBe(false);
    expect(imp.banner.w).toBe(0);
    expect(imp.banner.formatCount).toBe(0);
    expect(imp.banner.battr.count).toBe(0);
    expect(imp.video.present).toBe(false);
    expect(imp.video.mimes.count).toBe(0);
    expect(imp.video.hasStartdelay).toBe(false);
    expect(imp.video.skip).toBe(UNSET);
    expect(imp.pmp.present).toBe(false);
    expect(imp.pmp.dealCount).toBe(0);
    expect(imp.tagid.len).toBe(0);
    expect(imp.secure).toBe(UNSET);
    expect(imp.bidfloor).toBe(0);
    expect(str(imp.bidfloorcur)).toStrictEqual("USD");
    expect(imp.hasBidfloorcur).toBe(false);
    // The imps past the new count were reset too.
    expect(req.imps[1].id.len).toBe(0);
    expect(req.imps[2].pmp.dealCount).toBe(0);
    expect(req.imps[2].pmp.deals[0].wseat.count).toBe(0);
    expect(req.site.present).toBe(false);
    expect(req.site.domain.len).toBe(0);
    expect(req.site.cat.count).toBe(0);
    expect(req.acat.count).toBe(0);
    expect(req.wlang.count).toBe(0);
    expect(req.wlangb.count).toBe(0);
    expect(req.site.publisher.present).toBe(false);
    expect(req.app.present).toBe(false);
    expect(req.device.present).toBe(false);
    expect(req.device.ua.len).toBe(0);
    expect(req.device.lmt).toBe(UNSET);
    expect(req.device.geo.present).toBe(false);
    expect(req.device.geo.hasLat).toBe(false);
    expect(req.device.geo.country.len).toBe(0);
    expect(req.device.geo.hasUtcoffset).toBe(false);
    expect(req.user.present).toBe(false);
    expect(req.user.effectiveConsent.len).toBe(0);
    expect(req.user.dataTotal).toBe(0);
    expect(req.segmentCount).toBe(0);
    expect(req.segments[0].id.len).toBe(0);
    expect(req.regs.present).toBe(false);
    expect(req.regs.effectiveGdpr).toBe(UNSET);
    expect(req.regs.coppa).toBe(UNSET);
    expect(req.regs.effectiveUsPrivacy.len).toBe(0);
    expect(req.regs.gppSid.count).toBe(0);
    expect(req.source.present).toBe(false);
    expect(req.source.fd).toBe(UNSET);
    expect(req.source.effectiveSchain.present).toBe(false);
  });

  it("recovers after a failed parse", () => {
    expect(errorOf(withImp('{"id":"1","banner":{"w":300,"h":"x"}}'))).toStrictEqual("imp[0].banner.h: expected integer");
    expect(errorOf(withImp('{"id":"2","video":{}}'))).toStrictEqual("OK");
    expect(parser.errorMessage.len).toBe(0);
    expect(req.imp(0).banner.present).toBe(false);
    expect(req.imp(0).banner.w).toBe(0);
  });

  it("parses a 64 KiB body full of escapes with the default scratch arena", () => {
    const n = 60000 / 6;
    const escaped = repeat("\\u00e9", n);
    expect(errorOf(withTop('"site":{"page":"' + escaped + '"},"user":{"keywords":"' + repeat("\\n", 2000) + '"}'))).toStrictEqual("OK");
    expect(req.site.page.len).toBe(MAX_STRING_BYTES);
    expect(body.byteLength).toBeGreaterThan(60000);
  });
});
