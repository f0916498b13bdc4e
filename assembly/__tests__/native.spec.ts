// Native creatives: the native request document (openrtb/native.ts), the campaign file's native
// creatives (bidding/native-config.ts), whether a creative's assets answer a request
// (bidding/native-creative.ts), the decision around them, and the markup of the bid
// (reply/native-markup.ts).
import { imageMimeOfUrl } from "../core/bidding/native-creative";
import { ASSET_DATA, ASSET_IMG, ASSET_TITLE, ASSET_VIDEO, MAX_NATIVE_ASSETS, NativeRequest, NativeRequestParser } from "../core/openrtb/native";
import { DecisionHarness, bytesOf, campaign, jsonString } from "./support/decision-fixtures";

const h = new DecisionHarness();


// ---- the request document ------------------------------------------------------------

const nativeParser = new NativeRequestParser();
const doc = new NativeRequest();

function readDoc(text: string): bool {
  return nativeParser.parse(bytesOf(text), String.UTF8.byteLength(text), doc);
}

function docError(text: string): string {
  return readDoc(text) ? "OK" : nativeParser.errorMessage.toString();
}

const TITLE_90 = '{"id":1,"required":1,"title":{"len":90}}';
const MAIN_IMG = '{"id":2,"required":1,"img":{"type":3,"wmin":600,"hmin":300,"mimes":["image/jpeg","image/png"]}}';
const ICON = '{"id":3,"required":0,"img":{"type":1,"w":80,"h":80}}';
const SPONSORED = '{"id":4,"required":1,"data":{"type":1,"len":25}}';
const CTA = '{"id":5,"data":{"type":12,"len":15}}';

function doc12(assets: string, extra: string = ""): string {
  return '{"ver":"1.2","context":1,"plcmttype":1,"assets":[' + assets + "]" + extra + "}";
}

describe("native: the request document", () => {
  it("reads a 1.2 document: assets by kind, their limits, event trackers and privacy", () => {
    expect(readDoc(doc12(TITLE_90 + "," + MAIN_IMG + "," + ICON + "," + SPONSORED + ',{"id":6,"video":{"mimes":["video/mp4"]}}',
      ',"eventtrackers":[{"event":1,"methods":[1,2]}],"privacy":1'))).toBe(true);
    expect(doc.wrapped).toBe(false);
    expect(String.UTF8.decodeUnsafe(changetype<usize>(doc.ver), <usize>doc.verLen)).toBe("1.2");
    expect(doc.assetCount).toBe(5);
    const title = doc.asset(0);
    expect(title.kind).toBe(ASSET_TITLE);
    expect(title.id).toBe(1);
    expect(title.required).toBe(true);
    expect(title.len).toBe(90);
    const img = doc.asset(1);
    expect(img.kind).toBe(ASSET_IMG);
    expect(img.type).toBe(3);
    expect(img.wmin).toBe(600);
    expect(img.hmin).toBe(300);
    expect(img.mimes.count).toBe(2);
    expect(doc.asset(2).required).toBe(false);
    expect(doc.asset(2).w).toBe(80);
    expect(doc.asset(3).kind).toBe(ASSET_DATA);
    expect(doc.asset(3).type).toBe(1);
    expect(doc.asset(3).len).toBe(25);
    expect(doc.asset(4).kind).toBe(ASSET_VIDEO);
    expect(doc.hasEventTrackers).toBe(true);
    expect(doc.impressionPixel).toBe(true);
    expect(doc.privacy).toBe(true);
  });

  it("reads a 1.0/1.1 document under its \"native\" root; event trackers without image pixels are noted", () => {
    expect(readDoc('{"native":{"ver":"1.1","assets":[' + TITLE_90 + "]}}")).toBe(true);
    expect(doc.wrapped).toBe(true);
    expect(String.UTF8.decodeUnsafe(changetype<usize>(doc.ver), <usize>doc.verLen)).toBe("1.1");
    expect(doc.assetCount).toBe(1);
    expect(readDoc(doc12(TITLE_90, ',"eventtrackers":[{"event":1,"methods":[2]},{"event":2,"methods":[1]}]'))).toBe(true);
    expect(doc.hasEventTrackers).toBe(true);
    expect(doc.impressionPixel).toBe(false);
    // Type slips read as meant, as in the bid request.
    expect(readDoc(doc12('{"id":"7","required":"1","title":{"len":"20"}}'))).toBe(true);
    expect(doc.asset(0).id).toBe(7);
    expect(doc.asset(0).len).toBe(20);
  });

  it("keeps MAX_NATIVE_ASSETS assets and counts the rest", () => {
    let assets = "";
    for (let i = 0; i < MAX_NATIVE_ASSETS + 2; i++) assets += (i > 0 ? "," : "") + '{"id":' + i.toString() + ',"title":{"len":9}}';
    expect(readDoc(doc12(assets))).toBe(true);
    expect(doc.assetCount).toBe(MAX_NATIVE_ASSETS);
    expect(doc.assetTotal).toBe(MAX_NATIVE_ASSETS + 2);
  });

  it("says what is wrong with a document it cannot read", () => {
    expect(docError("")).toBe("$: empty document");
    expect(docError("{\"assets\":[")).toBe("$: unexpected end of input at byte 11");
    expect(docError('{"ver":"1.2"}')).toBe("$: assets: required");
    expect(docError(doc12('{"title":{"len":9}}'))).toBe("assets[0]: id: required");
    expect(docError(doc12('{"id":1}'))).toBe("assets[0]: no title, img, video or data");
    expect(docError(doc12('{"id":1,"title":{"len":9},"data":{"type":1}}'))).toBe("assets[0].data: more than one of title, img, video, data");
    expect(docError(doc12('{"id":1,"title":{"len":9}},{"id":1,"data":{"type":1}}'))).toBe("$: assets: an id repeats");
    expect(docError(doc12('{"id":1,"title":{"len":-1}}'))).toBe("assets[0].title.len: out of range");
    expect(docError('{"native":{"native":{"assets":[]}}}')).toBe("native.native: nested native object");
    expect(readDoc(doc12(TITLE_90))).toBe(true);
    expect(nativeParser.errorMessage.len).toBe(0);
  });
});

// ---- campaign file ------------------------------------------------------------------


const MAIN_URL = "https://cdn.example/n/main-1200x627.jpg";
const ICON_URL = "https://cdn.example/n/icon.png";

/** A native creative: title, a main image 1200x627 and an 80x80 icon, sponsored and ctatext; `extra` more members. */
function nativeCreative(crid: string, extra: string = ""): string {
  return '{"crid":"' + crid + '","type":"native","title":"Summer sale: 40% off",' +
    '"images":[{"type":"main","url":"' + MAIN_URL + '","w":1200,"h":627},{"type":"icon","url":"' + ICON_URL + '","w":80,"h":80}],' +
    '"data":{"sponsored":"Acme","ctatext":"Shop now"},"link":"https://acme.example/sale",' +
    '"clicktrackers":["https://t.example/c"],"imptrackers":["https://t.example/i?x=1"],"adomain":["acme.example"]' + extra + "}";
}

describe("native: the campaign file", () => {
  it("reads a native creative's assets, trackers and media types (from the URL's extension or declared)", () => {
    const t = h.parseSet('{"id":"c","creatives":[' + nativeCreative("n1") + "]}");
    expect(t).not.toBeNull();
    const c = t!.at(0);
    expect(c.hasNative).toBe(true);
    expect(t!.hasNative).toBe(true);
    const cr = c.creatives[0];
    expect(cr.isNative).toBe(true);
    expect(cr.isMedia).toBe(false);
    expect(cr.secure).toBe(true);
    const n = cr.native!;
    expect(n.title.toString()).toBe("Summer sale: 40% off");
    expect(n.titleChars).toBe(20);
    expect(n.images.length).toBe(2);
    expect(n.image(3)!.mime.toString()).toBe("image/jpeg");
    expect(n.image(1)!.mime.toString()).toBe("image/png");
    expect(n.dataValue(1)!.toString()).toBe("Acme");
    expect(n.dataValue(12)!.toString()).toBe("Shop now");
    expect(n.dataValue(2)).toBeNull();
    expect(n.clickTrackers.size).toBe(1);
    expect(n.impTrackers.size).toBe(1);
    const declared = h.parseSet('{"id":"c","creatives":[{"crid":"n","type":"native","link":"http://a.example/",' +
      '"images":[{"url":"https://cdn.example/img?id=9","w":100,"h":100,"mime":"image/webp"}]}]}');
    expect(declared).not.toBeNull();
    expect(declared!.at(0).creatives[0].native!.image(3)!.mime.toString()).toBe("image/webp");
    // An http:// link makes its markup insecure (imp.secure = 1 refuses it).
    expect(declared!.at(0).creatives[0].secure).toBe(false);
  });

  it("counts characters, not bytes, for text limits", () => {
    const t = h.parseSet('{"id":"c","creatives":[{"crid":"n","type":"native","title":"Été à Zürich","link":"https://a.example/"}]}');
    expect(t!.at(0).creatives[0].native!.titleChars).toBe(12);
  });

  it("refuses what a native creative cannot be, naming the creative", () => {
    const at = "campaigns[0].creatives[0]";
    expect(h.errorOf('{"crid":"n","type":"native","title":"T"}')).toBe(at + ": link is required for a native creative (where a click goes)");
    expect(h.errorOf('{"crid":"n","type":"native","link":"https://a.example/"}')).toBe(at + ": a native creative needs a title, an image, a data value or a video");
    expect(h.errorOf('{"type":"native","title":"T","link":"https://a.example/"}')).toBe(at + ": crid is required");
    expect(h.errorOf('{"crid":"n","type":"native","title":"T","link":"https://a.example/","w":300,"h":250}')).toBe(at + ": w, h, adm, duration, mimes, protocol and banner_type are not for native creatives (the markup is built from the assets)");
    expect(h.errorOf('{"crid":"b","w":300,"h":250,"title":"T"}')).toBe(at + ': title, images, data, link, clicktrackers, imptrackers, privacy and video are for native creatives ("type": "native")');
    expect(h.errorOf('{"crid":"n","type":"native","link":"ftp://a.example/","title":"T"}')).toBe(at + ".link: expected an http(s) URL");
    expect(h.errorOf('{"crid":"n","type":"native","link":"https://a.example/x y","title":"T"}')).toBe(at + ".link: a URL may not contain spaces, quotes or control characters");
    expect(h.errorOf('{"crid":"n","type":"native","link":"https://a.example/","title":""}')).toBe(at + ".title: empty title");
    expect(h.errorOf('{"crid":"n","type":"native","link":"https://a.example/","data":{"slogan":"x"}}')).toBe(at + ".data.slogan: unknown data type (sponsored, desc, rating, likes, downloads, price, saleprice, phone, address, desc2, displayurl, ctatext)");
    expect(h.errorOf('{"crid":"n","type":"native","link":"https://a.example/","images":[{"type":"banner","url":"https://a.example/a.png","w":1,"h":1}]}')).toBe(at + '.images[0].type: expected "main", "icon" or "logo"');
    expect(h.errorOf('{"crid":"n","type":"native","link":"https://a.example/","images":[{"url":"https://a.example/a.png","w":1}]}')).toBe(at + ".images[0]: url, w and h are required");
    expect(h.errorOf('{"crid":"n","type":"native","link":"https://a.example/","images":[{"url":"https://a.example/img","w":1,"h":1}]}')).toBe(at + '.images[0]: mime: the url has no .jpg, .png, .gif, .webp or .svg extension; declare mime ("image/jpeg")');
    expect(h.errorOf('{"crid":"n","type":"native","link":"https://a.example/","images":[{"url":"https://a.example/a.png","w":1,"h":1},{"type":"main","url":"https://a.example/b.png","w":2,"h":2}]}')).toBe(at + ".images[1]: another image of type main");
    expect(h.errorOf('{"crid":"n","type":"natve"}')).toBe(at + '.type: expected "banner", "video", "audio" or "native"');
  });

  it("reads an image's media type off its URL's extension", () => {
    expect(imageMimeOfUrl("https://a.example/x/y.JPG?v=2#f")).toBe("image/jpeg");
    expect(imageMimeOfUrl("https://a.example/y.jpeg")).toBe("image/jpeg");
    expect(imageMimeOfUrl("https://a.example/y.gif")).toBe("image/gif");
    expect(imageMimeOfUrl("https://a.example/y.svg")).toBe("image/svg+xml");
    expect(imageMimeOfUrl("https://a.example.png/y")).toBe("");
    expect(imageMimeOfUrl("https://a.example/y.bmp")).toBe("");
  });
});

// ---- decision -----------------------------------------------------------------------


/** An impression whose native request is `document` (sent as a string, as OpenRTB 2.x has it). */
function nativeImp(document: string, extra: string = ""): string {
  return '{"id":"1","native":{"request":' + jsonString(document) + extra + '},"bidfloor":0.5}';
}

const N1 = nativeCreative("n1");
const BANNER = '{"crid":"b300","w":300,"h":250}';

describe("native: the decision", () => {
  it("bids when the creative fills every required asset; an optional one it cannot fill does not stop it", () => {
    expect(h.outcome(nativeImp(doc12(TITLE_90 + "," + MAIN_IMG + "," + ICON + "," + SPONSORED + "," + CTA)), campaign(N1))).toBe("n1");
    expect(h.outcome(nativeImp(doc12(TITLE_90 + ',{"id":9,"required":0,"data":{"type":2}}')), campaign(N1))).toBe("n1");
    expect(h.out.nativeInvalid).toBe(0);
  });

  it("no_match when a required asset cannot be filled: text too long, no such data or image, size or media type", () => {
    expect(h.outcome(nativeImp(doc12('{"id":1,"required":1,"title":{"len":19}}')), campaign(N1))).toBe("no_match");
    expect(h.outcome(nativeImp(doc12('{"id":1,"required":1,"title":{"len":20}}')), campaign(N1))).toBe("n1");
    expect(h.outcome(nativeImp(doc12('{"id":1,"required":1,"data":{"type":2}}')), campaign(N1))).toBe("no_match");
    expect(h.outcome(nativeImp(doc12('{"id":1,"required":1,"data":{"type":12,"len":7}}')), campaign(N1))).toBe("no_match");
    expect(h.outcome(nativeImp(doc12('{"id":1,"required":1,"img":{"type":2}}')), campaign(N1))).toBe("no_match");
    // w alone is exact, wmin a minimum.
    expect(h.outcome(nativeImp(doc12('{"id":1,"required":1,"img":{"type":3,"w":1200,"h":628}}')), campaign(N1))).toBe("no_match");
    expect(h.outcome(nativeImp(doc12('{"id":1,"required":1,"img":{"type":3,"w":1200,"h":627}}')), campaign(N1))).toBe("n1");
    expect(h.outcome(nativeImp(doc12('{"id":1,"required":1,"img":{"type":3,"wmin":1201,"hmin":300}}')), campaign(N1))).toBe("no_match");
    expect(h.outcome(nativeImp(doc12('{"id":1,"required":1,"img":{"type":3,"mimes":["image/png"]}}')), campaign(N1))).toBe("no_match");
    expect(h.outcome(nativeImp(doc12('{"id":1,"required":1,"img":{"mimes":["IMAGE/JPEG"]}}')), campaign(N1))).toBe("n1");
    // A video asset needs a video creative named by the native creative (below): N1 names none.
    expect(h.outcome(nativeImp(doc12(TITLE_90 + ',{"id":2,"required":1,"video":{"mimes":["video/mp4"]}}')), campaign(N1))).toBe("no_match");
    // Nothing at all to fill.
    expect(h.outcome(nativeImp(doc12('{"id":1,"data":{"type":2}}')), campaign(N1))).toBe("no_match");
  });

  it("a document it cannot read, or more assets than it keeps, fits nothing and is counted", () => {
    expect(h.outcome(nativeImp("{not json"), campaign(N1))).toBe("no_match");
    expect(h.out.nativeInvalid).toBe(1);
    expect(h.engine.nativeError.toString()).toBe("$: expected a string key at byte 1");
    let assets = "";
    for (let i = 0; i < MAX_NATIVE_ASSETS + 1; i++) assets += (i > 0 ? "," : "") + '{"id":' + i.toString() + ',"title":{"len":90}}';
    expect(h.outcome(nativeImp(doc12(assets)), campaign(N1))).toBe("no_match");
    expect(h.out.nativeInvalid).toBe(0);
    // Without a native campaign the document is not even read.
    expect(h.outcome(nativeImp("{not json"), campaign(BANNER))).toBe("no_match");
    expect(h.out.nativeInvalid).toBe(0);
  });

  it("the exchange's rules: native.battr, native.api, imp.secure, badv (blocked)", () => {
    const d = doc12(TITLE_90);
    expect(h.outcome(nativeImp(d, ',"battr":[3]'), campaign(nativeCreative("n", ',"attr":[3]')))).toBe("blocked");
    expect(h.outcome(nativeImp(d, ',"battr":[4]'), campaign(nativeCreative("n", ',"attr":[3]')))).toBe("n");
    expect(h.outcome(nativeImp(d), campaign(nativeCreative("n", ',"api":[7]')))).toBe("blocked");
    expect(h.outcome(nativeImp(d, ',"api":[7]'), campaign(nativeCreative("n", ',"api":[7]')))).toBe("n");
    const insecure = '{"crid":"h","type":"native","title":"T","link":"http://a.example/"}';
    expect(h.outcome('{"id":"1","native":{"request":' + jsonString(d) + '},"secure":1}', campaign(insecure))).toBe("blocked");
    expect(h.outcome(nativeImp(d), campaign(N1), ',"badv":["acme.example"]')).toBe("blocked");
  });

  it("a multi-format impression gets a banner when one fits, else the native ad", () => {
    const both = '{"id":"1","banner":{"w":300,"h":250},"native":{"request":' + jsonString(doc12(TITLE_90)) + "}}";
    expect(h.outcome(both, campaign(BANNER + "," + N1))).toBe("b300");
    const other = '{"id":"1","banner":{"w":728,"h":90},"native":{"request":' + jsonString(doc12(TITLE_90)) + "}}";
    expect(h.outcome(other, campaign(BANNER + "," + N1))).toBe("n1");
  });

  it("each impression's answer is the one decided, whatever the next impression's document held (escaped strings)", () => {
    // "image\/jpeg" (an escaped slash, as PHP writes JSON) is unescaped into the native parser's
    // scratch; the next impression's document reuses that scratch.
    const jpeg = '{"id":1,"required":1,"img":{"type":3,"mimes":["image\\/jpeg"]}}';
    const png = '{"id":1,"required":0,"img":{"type":3,"mimes":["image\\/png"]}}';
    const a = '{"id":"a","native":{"request":' + jsonString(doc12(jpeg)) + "}}";
    const b = '{"id":"b","native":{"request":' + jsonString(doc12(png + "," + TITLE_90.replace('"id":1', '"id":2'))) + "}}";
    const t = h.replyOf(a + "," + b, campaign(N1), 2);
    expect(t.includes('\\"assets\\":[{\\"id\\":1,\\"img\\":{\\"type\\":3,\\"url\\":\\"' + MAIN_URL + '\\",\\"w\\":1200,\\"h\\":627}}]')).toBe(true);
  });

  it("each impression answers its own document", () => {
    const a = '{"id":"a","native":{"request":' + jsonString(doc12('{"id":7,"required":1,"title":{"len":90}}')) + "}}";
    const b = '{"id":"b","native":{"request":' + jsonString(doc12('{"id":8,"required":1,"data":{"type":1}}')) + "}}";
    const t = h.replyOf(a + "," + b, campaign(N1), 2);
    expect(t.includes('\\"assets\\":[{\\"id\\":7,\\"title\\":{\\"text\\":\\"Summer sale: 40% off\\"}}]')).toBe(true);
    expect(t.includes('\\"assets\\":[{\\"id\\":8,\\"data\\":{\\"type\\":1,\\"value\\":\\"Acme\\"}}]')).toBe(true);
  });
});

// ---- video assets ---------------------------------------------------------------------

const VAST4 = '<VAST version="4.0"><Ad><InLine><AdSystem>x</AdSystem></InLine></Ad></VAST>';
const V15 = '{"crid":"v15","type":"video","duration":15,"mimes":["video/mp4"],"adm":' + jsonString(VAST4) + "}";
const N_VIDEO = nativeCreative("nv", ',"video":"v15"');
const VIDEO_ASSET = '{"id":7,"required":1,"video":{"mimes":["video/mp4"],"minduration":5,"maxduration":30,"protocols":[2,3,7]}}';

describe("native: video assets", () => {
  it("reads a video asset's player: media types, durations, protocols", () => {
    expect(readDoc(doc12(VIDEO_ASSET))).toBe(true);
    const v = doc.asset(0);
    expect(v.kind).toBe(ASSET_VIDEO);
    expect(v.mimes.count).toBe(1);
    expect(v.minduration).toBe(5);
    expect(v.maxduration).toBe(30);
    expect(v.protocols.count).toBe(3);
  });

  it("a native creative names a video creative of its campaign for video assets; another crid is refused", () => {
    const t = h.parseSet('{"id":"c","creatives":[' + N_VIDEO + "," + V15 + "]}");
    expect(t).not.toBeNull();
    expect(t!.at(0).creatives[0].native!.video!.crid.toString()).toBe("v15");
    expect(h.parseSet('{"id":"c","creatives":[' + N_VIDEO + "]}")).toBeNull();
    expect(h.config.error).toBe('campaigns[0].creatives: [0].video: no video creative "v15" in this campaign');
    expect(h.parseSet('{"id":"c","creatives":[' + nativeCreative("nv", ',"video":"b300"') + ',{"crid":"b300","w":300,"h":250}]}')).toBeNull();
    expect(h.config.error).toBe('campaigns[0].creatives: [0].video: no video creative "b300" in this campaign');
    expect(h.errorOf('{"crid":"v","type":"native","link":"https://a.example/","video":"v15"}')).toBe('campaigns[0].creatives: [0].video: no video creative "v15" in this campaign');
  });

  it("fills a video asset when the video creative fits its player, as it would fit an imp.video", () => {
    expect(h.outcome(nativeImp(doc12(TITLE_90 + "," + VIDEO_ASSET)), campaign(N_VIDEO + "," + V15))).toBe("nv");
    const longOnly = VIDEO_ASSET.replace('"minduration":5', '"minduration":20');
    expect(h.outcome(nativeImp(doc12(TITLE_90 + "," + longOnly)), campaign(N_VIDEO + "," + V15))).toBe("no_match");
    const webm = VIDEO_ASSET.replace("video/mp4", "video/webm");
    expect(h.outcome(nativeImp(doc12(TITLE_90 + "," + webm)), campaign(N_VIDEO + "," + V15))).toBe("no_match");
    // Without a video named, a required video asset cannot be filled.
    expect(h.outcome(nativeImp(doc12(TITLE_90 + "," + VIDEO_ASSET)), campaign(N1 + "," + V15))).toBe("no_match");
  });

  it("the exchange's rules apply to the video creative too when it answers a video asset", () => {
    const other = '{"crid":"v15","type":"video","duration":15,"mimes":["video/mp4"],"adomain":["other.example"],"adm":' + jsonString(VAST4) + "}";
    const badv = ',"badv":["other.example"]';
    expect(h.outcome(nativeImp(doc12(TITLE_90 + "," + VIDEO_ASSET)), campaign(N_VIDEO + "," + other), badv)).toBe("blocked");
    // Not asked for a video asset: the video creative plays no part.
    expect(h.outcome(nativeImp(doc12(TITLE_90)), campaign(N_VIDEO + "," + other), badv)).toBe("nv");
    expect(h.outcome(nativeImp(doc12(TITLE_90 + "," + VIDEO_ASSET)), campaign(N_VIDEO + "," + other))).toBe("nv");
  });

  it("answers a video asset with the VAST document as its vasttag", () => {
    const t = h.replyOf(nativeImp(doc12(VIDEO_ASSET)), campaign(N_VIDEO + "," + V15));
    expect(admOf(t).includes('"assets":[{"id":7,"video":{"vasttag":' + jsonString(VAST4) + "}}]")).toBe(true);
    expect(t.includes('"mtype":4')).toBe(true);
  });
});

// ---- the bid ------------------------------------------------------------------------


/** The adm of a reply with one bid, unescaped. */
function admOf(reply: string): string {
  const start = reply.indexOf(',"adm":"') + 8;
  let end = start;
  while (!(reply.charCodeAt(end) == 0x22 && reply.charCodeAt(end - 1) != 0x5c)) end++;
  return reply.substring(start, end).replaceAll('\\"', '"').replaceAll("\\\\", "\\");
}

describe("native: the bid", () => {
  it("1.2: the assets asked for by their ids, the link, image-pixel event trackers, the privacy link; mtype 4", () => {
    const document = doc12(TITLE_90 + "," + MAIN_IMG + "," + ICON + "," + SPONSORED + "," + CTA + ',{"id":6,"data":{"type":2}}',
      ',"eventtrackers":[{"event":1,"methods":[1]}],"privacy":1');
    const t = h.replyOf(nativeImp(document), campaign(nativeCreative("n1", ',"privacy":"https://acme.example/privacy"')));
    expect(admOf(t)).toBe('{"ver":"1.2","assets":[' +
      '{"id":1,"title":{"text":"Summer sale: 40% off"}},' +
      '{"id":2,"img":{"type":3,"url":"' + MAIN_URL + '","w":1200,"h":627}},' +
      '{"id":3,"img":{"type":1,"url":"' + ICON_URL + '","w":80,"h":80}},' +
      '{"id":4,"data":{"type":1,"value":"Acme"}},' +
      '{"id":5,"data":{"type":12,"value":"Shop now"}}],' +
      '"link":{"url":"https://acme.example/sale","clicktrackers":["https://t.example/c"]},' +
      '"eventtrackers":[{"event":1,"method":1,"url":"https://t.example/i?x=1"}],' +
      '"privacy":"https://acme.example/privacy"}');
    expect(t.includes(',"crid":"n1","mtype":4')).toBe(true);
    expect(t.includes('"w":')).toBe(false);
  });

  it("1.0/1.1: under a \"native\" root with the request's version and imptrackers; no privacy link unless asked", () => {
    const t = h.replyOf(nativeImp('{"native":{"ver":"1.1","assets":[' + TITLE_90 + "]}}"), campaign(nativeCreative("n1", ',"privacy":"https://acme.example/privacy"')));
    expect(admOf(t)).toBe('{"native":{"ver":"1.1","assets":[{"id":1,"title":{"text":"Summer sale: 40% off"}}],' +
      '"link":{"url":"https://acme.example/sale","clicktrackers":["https://t.example/c"]},"imptrackers":["https://t.example/i?x=1"]}}');
    // 1.2 without image-pixel event trackers: imptrackers.
    const v12 = h.replyOf(nativeImp(doc12(TITLE_90, ',"eventtrackers":[{"event":1,"methods":[2]}]')), campaign(N1));
    expect(admOf(v12).includes(',"imptrackers":["https://t.example/i?x=1"]}')).toBe(true);
    // The version asked is the version answered; none given: 1.2.
    expect(admOf(h.replyOf(nativeImp('{"ver":"1.1","assets":[' + TITLE_90 + "]}"), campaign(N1))).startsWith('{"ver":"1.1","assets":')).toBe(true);
    expect(admOf(h.replyOf(nativeImp('{"assets":[' + TITLE_90 + "]}"), campaign(N1))).startsWith('{"ver":"1.2","assets":')).toBe(true);
    expect(admOf(h.replyOf(nativeImp('{"native":{"assets":[' + TITLE_90 + "]}}"), campaign(N1))).startsWith('{"native":{"ver":"1.1","assets":')).toBe(true);
  });

  it("escapes the assets' text twice: once in the native document, once in adm", () => {
    const quoted = '{"crid":"q","type":"native","title":"Say \\"hi\\" \\\\o/","link":"https://a.example/"}';
    const t = h.replyOf(nativeImp(doc12(TITLE_90)), campaign(quoted));
    expect(t.includes('{\\"id\\":1,\\"title\\":{\\"text\\":\\"Say \\\\\\"hi\\\\\\" \\\\\\\\o/\\"}}')).toBe(true);
    expect(admOf(t).includes('"text":"Say \\"hi\\" \\\\o/"')).toBe(true);
  });
});
