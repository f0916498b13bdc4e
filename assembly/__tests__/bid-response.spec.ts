// The OpenRTB BidResponse writer (assembly/core/reply/bid-response.ts):
// exact JSON text for one and two bids, escaping, notice URLs, writeError.
import { ByteWriter } from "../core/bytes/writer";
import { Str } from "../core/bytes/str";
import { ImpBid, formatBidId } from "../core/bidding/imp-bid";
import { Campaign, CampaignDsa, CategorySet, Creative, OwnedBytes } from "../core/bidding/campaign";
import { ReplySettings, writeBidResponse, writeError } from "../core/reply/bid-response";
import { JsonReader } from "../core/json/reader";
import { Deal } from "../core/openrtb/request";
import { replySettings } from "./support/decision-fixtures";

const keep = new Array<ArrayBuffer>();

function view(s: string): Str {
  const b = String.UTF8.encode(s);
  keep.push(b);
  const v = new Str();
  v.set(changetype<usize>(b), b.byteLength);
  return v;
}


function creative(crid: string, w: i32, h: i32, adm: string, adomain: string[], cat: string[]): Creative {
  const c = new Creative();
  c.crid = OwnedBytes.fromString(crid);
  c.w = w;
  c.h = h;
  c.adm = OwnedBytes.fromString(adm);
  for (let i = 0; i < adomain.length; i++) c.adomain.items.push(OwnedBytes.fromString(adomain[i]));
  if (cat.length > 0) c.categories.push(categories(1, cat));
  return c;
}

function categories(taxonomy: i32, codes: string[]): CategorySet {
  const set = new CategorySet(taxonomy);
  for (let i = 0; i < codes.length; i++) set.codes.items.push(OwnedBytes.fromString(codes[i]));
  return set;
}

function campaign(id: string): Campaign {
  const c = new Campaign();
  c.id = OwnedBytes.fromString(id);
  return c;
}

function bid(seq: u64, nonce: u32, impId: string, price: i64, c: Campaign | null, cr: Creative | null): ImpBid {
  const b = new ImpBid();
  b.seq = seq;
  b.nonce = nonce;
  b.impId.copyFrom(view(impId));
  b.priceMicros = price;
  b.campaign = c;
  b.creative = cr;
  b.categories = cr !== null ? cr.replyCategories(1) : null; // as the decision does for a request in IAB 1.0
  formatBidId(b);
  return b;
}

function text(w: ByteWriter): string {
  return String.UTF8.decodeUnsafe(w.base, <usize>w.len);
}

/** True if the writer holds exactly one valid JSON value (checked with the core reader). */
function isValidJson(w: ByteWriter): bool {
  const r = new JsonReader(65536, 32);
  r.reset(w.base, w.len);
  return r.skipValue() && r.finish();
}

function write(reqId: string, bids: ImpBid[], s: ReplySettings = replySettings(), cap: i32 = 8192): ByteWriter {
  const arr = new StaticArray<ImpBid>(bids.length > 0 ? bids.length : 1);
  for (let i = 0; i < bids.length; i++) arr[i] = bids[i];
  if (bids.length == 0) arr[0] = new ImpBid();
  const w = new ByteWriter(cap);
  writeBidResponse(w, s, s.noticeBase, view(reqId), arr, bids.length);
  return w;
}

const NOTICE_Q1 = "?bid=1f-0000abcd&imp=1&cid=camp%201";

describe("writeBidResponse", () => {
  it("writes one bid exactly", () => {
    const c = campaign("camp 1");
    const cr = creative("cr-1", 300, 250, "", ["adv.example"], ["IAB1", "IAB2"]);
    const w = write("req-1", [bid(0x1f, 0xabcd, "1", 2003, c, cr)]);
    expect(w.overflowed).toBe(false);
    const want =
      '{"id":"req-1","bidid":"1f-0000abcd","cur":"USD","seatbid":[{"seat":"nexus","bid":[' +
      '{"id":"1f-0000abcd","impid":"1","price":2.003,' +
      '"nurl":"https://bidder.example/openrtb2/win' + NOTICE_Q1 + '&price=${AUCTION_PRICE}",' +
      '"burl":"https://bidder.example/openrtb2/win' + NOTICE_Q1 + '&price=${AUCTION_PRICE}&event=billing",' +
      '"lurl":"https://bidder.example/openrtb2/loss' + NOTICE_Q1 + '&price=${AUCTION_PRICE}&reason=${AUCTION_LOSS}",' +
      '"adomain":["adv.example"],"crid":"cr-1","w":300,"h":250,"mtype":1,"cat":["IAB1","IAB2"],"cid":"camp 1"}' +
      "]}]}";
    expect(text(w)).toBe(want);
    expect(isValidJson(w)).toBe(true);
  });

  it("names the deal a bid is in (dealid, escaped), and none in the open auction", () => {
    const c = campaign("camp 1");
    const cr = creative("cr-1", 300, 250, "", ["adv.example"], []);
    const inDeal = bid(0x1f, 0xabcd, "1", 2003, c, cr);
    const deal = new Deal();
    deal.id.copyFrom(view('pmp "7"'));
    inDeal.deal = deal;
    const w = write("req-1", [inDeal, bid(0x20, 0x1234, "2", 1500, c, cr)]);
    const t = text(w);
    expect(t.includes(',"mtype":1,"cid":"camp 1","dealid":"pmp \\"7\\""},{"id":"20-00001234"')).toBe(true);
    expect(t.split('"dealid"').length).toBe(2);
    expect(isValidJson(w)).toBe(true);
  });

  it("keeps a creative's fields from its first bid and copies them into the next replies", () => {
    const c = campaign("camp 1");
    const cr = creative("cr-\"1\"", 300, 250, '<a href="x">\u0001é</a>', ["adv.example"], ["IAB1"]);
    expect(cr.replyFields).toBeNull();
    const first = text(write("req-1", [bid(0x1f, 0xabcd, "1", 2003, c, cr)]));
    expect(cr.replyFields).not.toBeNull();
    const kept = changetype<OwnedBytes>(cr.replyFields).toString();
    expect(kept).toBe(',"adm":"<a href=\\"x\\">\\u0001é</a>","adomain":["adv.example"],"crid":"cr-\\"1\\"","w":300,"h":250,"mtype":1');
    // The categories are kept apart (they depend on the request's taxonomy).
    const cats = changetype<CategorySet>(cr.categories[0]);
    expect(changetype<OwnedBytes>(cats.replyFields).toString()).toBe(',"cat":["IAB1"]');
    // The next bid with the creative (another request, price and impression) copies the same bytes.
    const second = write("req-2", [bid(0x20, 0x1234, "2", 1500, c, cr)]);
    expect(text(second).includes(kept + ',"cat":["IAB1"],"cid":"camp 1"}')).toBe(true);
    expect(isValidJson(second)).toBe(true);
    expect(first.includes(kept + ',"cat":["IAB1"],"cid":"camp 1"}')).toBe(true);
    // Kept bytes are what the writer gives without them.
    const fresh = creative("cr-\"1\"", 300, 250, '<a href="x">\u0001é</a>', ["adv.example"], ["IAB1"]);
    expect(text(write("req-2", [bid(0x20, 0x1234, "2", 1500, c, fresh)]))).toBe(text(second));
  });

  it("names the categories in the request's taxonomy (bid.cattax outside IAB 1.0), else the IAB 1.0 ones", () => {
    const cr = creative("cr-1", 300, 250, "", [], ["IAB3"]);
    cr.categories.push(categories(7, ["52", "49"]));
    const b = bid(0x1f, 0xabcd, "1", 2003, campaign("c"), cr);
    b.categories = cr.replyCategories(7);
    const in7 = text(write("r", [b]));
    expect(in7.includes('"mtype":1,"cat":["52","49"],"cattax":7,"cid":"c"}')).toBe(true);
    b.categories = cr.replyCategories(6); // none in 6: its IAB 1.0 ones, cattax left at its default
    const in6 = text(write("r", [b]));
    expect(in6.includes('"mtype":1,"cat":["IAB3"],"cid":"c"}')).toBe(true);
    expect(in6.includes("cattax")).toBe(false);
    // Only taxonomy 7: named in 7 whatever the request's taxonomy.
    const only7 = creative("cr-2", 300, 250, "", [], []);
    only7.categories.push(categories(7, ["52"]));
    const b2 = bid(0x20, 1, "1", 2003, campaign("c"), only7);
    expect(text(write("r", [b2])).includes('"mtype":1,"cat":["52"],"cattax":7,"cid":"c"}')).toBe(true);
    expect(isValidJson(write("r", [b, b2]))).toBe(true);
  });

  it("writes the app a creative advertises as bid.bundle, none when it advertises none", () => {
    const app = creative("cr-1", 300, 250, "", [], []);
    app.bundle = OwnedBytes.fromString("com.brand.game");
    const w = write("r", [bid(1, 2, "1", 1500, campaign("c"), app)]);
    expect(text(w).includes('"adomain":[],"bundle":"com.brand.game","crid":"cr-1"')).toBe(true);
    expect(isValidJson(w)).toBe(true);
    expect(text(write("r", [bid(1, 2, "1", 1500, campaign("c"), creative("cr-2", 300, 250, "", [], []))])).includes("bundle")).toBe(false);
  });

  it("writes the creative's language: an ISO 639-1 code as bid.language, any other tag as bid.langb", () => {
    const en = creative("cr-1", 300, 250, "", [], []);
    en.language = OwnedBytes.fromString("en");
    expect(text(write("r", [bid(1, 2, "1", 1500, campaign("c"), en)])).includes('"adomain":[],"language":"en","crid":"cr-1"')).toBe(true);
    const br = creative("cr-2", 300, 250, "", [], []);
    br.language = OwnedBytes.fromString("pt-BR");
    const t = text(write("r", [bid(1, 2, "1", 1500, campaign("c"), br)]));
    expect(t.includes('"adomain":[],"langb":"pt-BR","crid":"cr-2"')).toBe(true);
    expect(t.includes('"language"')).toBe(false);
    const none = creative("cr-3", 300, 250, "", [], []);
    const u = text(write("r", [bid(1, 2, "1", 1500, campaign("c"), none)]));
    expect(u.includes("lang")).toBe(false);
  });

  it("writes the campaign's DSA transparency as bid.ext.dsa, kept from its first bid", () => {
    const dsa = new CampaignDsa();
    dsa.behalf = OwnedBytes.fromString('Brand "B"');
    dsa.paid = OwnedBytes.fromString("Agency é");
    dsa.adrender = 1;
    const b = bid(1, 2, "1", 1500, campaign("c"), creative("cr", 300, 250, "", [], []));
    b.dsa = dsa;
    const t = text(write("r", [b]));
    expect(t.includes(',"cid":"c","ext":{"dsa":{"behalf":"Brand \\"B\\"","paid":"Agency é","adrender":1}}}')).toBe(true);
    expect(changetype<OwnedBytes>(dsa.replyPrefix).toString()).toBe(',"ext":{"dsa":{"behalf":"Brand \\"B\\"","paid":"Agency é","adrender":1');
    expect(isValidJson(write("r", [b]))).toBe(true);
    // With the operator's domain: the user parameters of each bid (2 basic; 1 profiling when segments were used).
    const withDomain = new CampaignDsa();
    withDomain.behalf = OwnedBytes.fromString("B");
    withDomain.paid = OwnedBytes.fromString("P");
    withDomain.domain = OwnedBytes.fromString("dsp.example");
    b.dsa = withDomain;
    const basic = text(write("r", [b]));
    expect(basic.includes('"ext":{"dsa":{"behalf":"B","paid":"P","adrender":0,"transparency":[{"domain":"dsp.example","dsaparams":[2]}]}}}')).toBe(true);
    b.profiled = true;
    const profiled = write("r", [b]); // the kept prefix, then this bid's parameters
    expect(text(profiled).includes('"transparency":[{"domain":"dsp.example","dsaparams":[1,2]}]}}}')).toBe(true);
    expect(isValidJson(profiled)).toBe(true);
    // No dsa: no ext.
    expect(text(write("r", [bid(1, 2, "1", 1500, campaign("c"), null)])).includes('"ext"')).toBe(false);
  });

  it("writes the creative's attributes as bid.attr and its API frameworks as bid.apis, the first as 2.5's bid.api (omitted when it declares none)", () => {
    const cr = creative("cr-1", 300, 250, "", ["adv.example"], []);
    cr.attr = StaticArray.fromArray<i32>([6, 14]);
    cr.api = StaticArray.fromArray<i32>([5, 7]);
    const w = write("req-1", [bid(0x1f, 0xabcd, "1", 2003, campaign("c"), cr)]);
    expect(text(w).includes('"adomain":["adv.example"],"attr":[6,14],"api":5,"apis":[5,7],"crid":"cr-1"')).toBe(true);
    expect(isValidJson(w)).toBe(true);
  });

  it("a frequency-capped bid's notice URLs carry its count key (fq=, 16 hex digits) before the pod tag", () => {
    const b = bid(0x10, 1, "i1", 1000, campaign("c1"), null);
    b.frequencyKey = 0x00a1b2c3d4e5f607;
    const w = write("r", [b]);
    const q = "?bid=10-00000001&imp=i1&cid=c1&fq=00a1b2c3d4e5f607";
    expect(text(w).includes('"nurl":"https://bidder.example/openrtb2/win' + q + '&price=${AUCTION_PRICE}"')).toBe(true);
    expect(text(w).includes('"burl":"https://bidder.example/openrtb2/win' + q + '&price=${AUCTION_PRICE}&event=billing"')).toBe(true);
    expect(text(w).includes('"lurl":"https://bidder.example/openrtb2/loss' + q + '&price=${AUCTION_PRICE}&reason=${AUCTION_LOSS}"')).toBe(true);
    expect(isValidJson(w)).toBe(true);
  });

  it("writes two bids; bidid is the first bid's id; adm escaped, empty cat omitted", () => {
    const c1 = campaign("c1");
    const c2 = campaign("c2");
    const cr1 = creative("a", 728, 90, "", [], []);
    const cr2 = creative("b", 300, 600, '<img src="https://x.example/i.png?p=${AUCTION_PRICE}">', ["b.example", "c.example"], []);
    const w = write("r", [bid(0x10, 1, "i1", 1000, c1, cr1), bid(0xabc, 0xffffffff, "i2", 5, c2, cr2)]);
    expect(w.overflowed).toBe(false);
    const want =
      '{"id":"r","bidid":"10-00000001","cur":"USD","seatbid":[{"seat":"nexus","bid":[' +
      '{"id":"10-00000001","impid":"i1","price":1,' +
      '"nurl":"https://bidder.example/openrtb2/win?bid=10-00000001&imp=i1&cid=c1&price=${AUCTION_PRICE}",' +
      '"burl":"https://bidder.example/openrtb2/win?bid=10-00000001&imp=i1&cid=c1&price=${AUCTION_PRICE}&event=billing",' +
      '"lurl":"https://bidder.example/openrtb2/loss?bid=10-00000001&imp=i1&cid=c1&price=${AUCTION_PRICE}&reason=${AUCTION_LOSS}",' +
      '"adomain":[],"crid":"a","w":728,"h":90,"mtype":1,"cid":"c1"},' +
      '{"id":"abc-ffffffff","impid":"i2","price":0.005,' +
      '"nurl":"https://bidder.example/openrtb2/win?bid=abc-ffffffff&imp=i2&cid=c2&price=${AUCTION_PRICE}",' +
      '"burl":"https://bidder.example/openrtb2/win?bid=abc-ffffffff&imp=i2&cid=c2&price=${AUCTION_PRICE}&event=billing",' +
      '"lurl":"https://bidder.example/openrtb2/loss?bid=abc-ffffffff&imp=i2&cid=c2&price=${AUCTION_PRICE}&reason=${AUCTION_LOSS}",' +
      '"adm":"<img src=\\"https://x.example/i.png?p=${AUCTION_PRICE}\\">",' +
      '"adomain":["b.example","c.example"],"crid":"b","w":300,"h":600,"mtype":1,"cid":"c2"}' +
      "]}]}";
    expect(text(w)).toBe(want);
    expect(isValidJson(w)).toBe(true);
  });

  it("escapes ids in JSON and percent-encodes them in notice URLs", () => {
    const c = campaign('c"1/é');
    const cr = creative('cr\\"x', 1, 1, "", ['adv"q'], ["I\nAB"]);
    const w = write('r"1\\', [bid(0, 0, 'a b&"é', 123456789, c, cr)]);
    expect(w.overflowed).toBe(false);
    const q = "?bid=0-00000000&imp=a%20b%26%22%C3%A9&cid=c%221%2F%C3%A9";
    const want =
      '{"id":"r\\"1\\\\","bidid":"0-00000000","cur":"USD","seatbid":[{"seat":"nexus","bid":[' +
      '{"id":"0-00000000","impid":"a b&\\"é","price":123456.789,' +
      '"nurl":"https://bidder.example/openrtb2/win' + q + '&price=${AUCTION_PRICE}",' +
      '"burl":"https://bidder.example/openrtb2/win' + q + '&price=${AUCTION_PRICE}&event=billing",' +
      '"lurl":"https://bidder.example/openrtb2/loss' + q + '&price=${AUCTION_PRICE}&reason=${AUCTION_LOSS}",' +
      '"adomain":["adv\\"q"],"crid":"cr\\\\\\"x","w":1,"h":1,"mtype":1,"cat":["I\\u000aAB"],"cid":"c\\"1/é"}' +
      "]}]}";
    expect(text(w)).toBe(want);
    expect(isValidJson(w)).toBe(true);
  });

  it("omits creative fields and cid when they are unknown", () => {
    const w = write("r", [bid(1, 2, "1", 1500, null, null)]);
    const want =
      '{"id":"r","bidid":"1-00000002","cur":"USD","seatbid":[{"seat":"nexus","bid":[' +
      '{"id":"1-00000002","impid":"1","price":1.5,' +
      '"nurl":"https://bidder.example/openrtb2/win?bid=1-00000002&imp=1&price=${AUCTION_PRICE}",' +
      '"burl":"https://bidder.example/openrtb2/win?bid=1-00000002&imp=1&price=${AUCTION_PRICE}&event=billing",' +
      '"lurl":"https://bidder.example/openrtb2/loss?bid=1-00000002&imp=1&price=${AUCTION_PRICE}&reason=${AUCTION_LOSS}"}' +
      "]}]}";
    expect(text(w)).toBe(want);
    expect(isValidJson(w)).toBe(true);
  });

  it("uses the given base and settings (seat, currency)", () => {
    const s = replySettings();
    s.seat = view("seat-9");
    s.currency = view("EUR");
    const arr = new StaticArray<ImpBid>(1);
    arr[0] = bid(2, 3, "1", 1, campaign("c"), null);
    const w = new ByteWriter(4096);
    writeBidResponse(w, s, view("http://10.0.0.1:8080"), view("x"), arr, 1);
    const t = text(w);
    expect(t.startsWith('{"id":"x","bidid":"2-00000003","cur":"EUR","seatbid":[{"seat":"seat-9","bid":[')).toBe(true);
    expect(t.includes('"nurl":"http://10.0.0.1:8080/openrtb2/win?bid=2-00000003&imp=1&cid=c&price=${AUCTION_PRICE}"')).toBe(true);
    expect(t.includes('"price":0.001,')).toBe(true);
    expect(isValidJson(w)).toBe(true);
  });

  it("puts the pod tag, when set, into nurl, burl and lurl (after cid)", () => {
    const s = replySettings();
    s.podTag = view("0a1b2c3d");
    const arr = new StaticArray<ImpBid>(1);
    arr[0] = bid(2, 3, "1", 1, campaign("c"), null);
    const w = new ByteWriter(4096);
    writeBidResponse(w, s, view("http://h"), view("x"), arr, 1);
    const t = text(w);
    expect(t.includes('"nurl":"http://h/openrtb2/win?bid=2-00000003&imp=1&cid=c&pod=0a1b2c3d&price=${AUCTION_PRICE}"')).toBe(true);
    expect(t.includes('"burl":"http://h/openrtb2/win?bid=2-00000003&imp=1&cid=c&pod=0a1b2c3d&price=${AUCTION_PRICE}&event=billing"')).toBe(true);
    expect(t.includes('"lurl":"http://h/openrtb2/loss?bid=2-00000003&imp=1&cid=c&pod=0a1b2c3d&price=${AUCTION_PRICE}&reason=${AUCTION_LOSS}"')).toBe(true);
    expect(isValidJson(w)).toBe(true);
  });

  it("writes an empty bid list for count 0", () => {
    const w = write("r", []);
    expect(text(w)).toBe('{"id":"r","bidid":"","cur":"USD","seatbid":[{"seat":"nexus","bid":[]}]}');
  });

  it("resets the writer, and writes no bid when not even the first fits", () => {
    const c = campaign("c");
    const cr = creative("cr", 300, 250, "", [], []);
    const s = replySettings();
    const arr = new StaticArray<ImpBid>(1);
    arr[0] = bid(1, 1, "1", 1000, c, cr);
    const w = new ByteWriter(200);
    w.ascii("garbage");
    expect(writeBidResponse(w, s, s.noticeBase, view("r"), arr, 1)).toBe(0);
    expect(w.len).toBeLessThanOrEqual(200);
    const big = new ByteWriter(4096);
    big.ascii("garbage");
    expect(writeBidResponse(big, s, s.noticeBase, view("r"), arr, 1)).toBe(1);
    expect(big.overflowed).toBe(false);
    expect(text(big).startsWith('{"id":"r"')).toBe(true);
  });

  it("leaves out a bid whose reply's closing ]}]} would not fit (1 to 4 bytes short)", () => {
    const c = campaign("c");
    const s = replySettings();
    const arr = new StaticArray<ImpBid>(2);
    for (let i = 0; i < 2; i++) arr[i] = bid(i + 1, 1, (i + 1).toString(), 1000, c, creative("cr" + i.toString(), 300, 250, "x".repeat(100), [], []));
    const full = new ByteWriter(1 << 16);
    expect(writeBidResponse(full, s, s.noticeBase, view("r"), arr, 2)).toBe(2);
    for (let short = 1; short <= 4; short++) {
      const w = new ByteWriter(full.len - short);
      expect(writeBidResponse(w, s, s.noticeBase, view("r"), arr, 2)).toBe(1);
      expect(w.overflowed).toBe(false);
      expect(isValidJson(w)).toBe(true);
    }
  });

  it("writes the bids that fit, in order, as a whole reply: the rest are left out whole", () => {
    const c = campaign("c");
    const s = replySettings();
    const arr = new StaticArray<ImpBid>(3);
    for (let i = 0; i < 3; i++) arr[i] = bid(i + 1, 1, (i + 1).toString(), 1000, c, creative("cr" + i.toString(), 300, 250, "x".repeat(600), [], []));
    const full = new ByteWriter(1 << 16);
    expect(writeBidResponse(full, s, s.noticeBase, view("r"), arr, 3)).toBe(3);
    // Room for two bids and the closing, not three.
    const perBid = (full.len - 70) / 3;
    const w = new ByteWriter(full.len - perBid / 2);
    expect(writeBidResponse(w, s, s.noticeBase, view("r"), arr, 3)).toBe(2);
    expect(w.overflowed).toBe(false);
    const t = text(w);
    expect(t.endsWith("}]}]}")).toBe(true);
    expect(t.includes('"impid":"1"')).toBe(true);
    expect(t.includes('"impid":"2"')).toBe(true);
    expect(t.includes('"impid":"3"')).toBe(false);
  });
});

describe("writeError", () => {
  it("writes {\"error\":...} with the message escaped", () => {
    const w = new ByteWriter(256);
    w.ascii("old");
    const m = String.UTF8.encode('imp[0].banner.w: expected integer');
    writeError(w, changetype<usize>(m), m.byteLength);
    expect(text(w)).toBe('{"error":"imp[0].banner.w: expected integer"}');
    const n = String.UTF8.encode('bad "x"\\\n');
    writeError(w, changetype<usize>(n), n.byteLength);
    expect(text(w)).toBe('{"error":"bad \\"x\\"\\\\\\u000a"}');
    expect(isValidJson(w)).toBe(true);
    writeError(w, 0, 0);
    expect(text(w)).toBe('{"error":""}');
  });
});
