// Video and audio creatives (assembly/core/bidding/media.ts and what the parser, the decision and
// the reply writer do with them): the VAST protocol read off adm, the campaign file's rules, the
// fit to an impression's video or audio object, the exchange's per-second floor, and the bid's
// fields.
import { vastProtocolOf } from "../core/bidding/media";
import { Creative, OwnedBytes } from "../core/bidding/campaign";
import { DecisionHarness, campaign, jsonString } from "./support/decision-fixtures";

const h = new DecisionHarness();

function protocolOf(adm: string): i32 {
  return vastProtocolOf(OwnedBytes.fromString(adm));
}

const VAST4 = '<VAST version="4.0"><Ad><InLine><AdSystem>x</AdSystem></InLine></Ad></VAST>';

describe("video: the VAST protocol of a document", () => {
  it("reads the root element's version, inline and wrapper, as AdCOM codes", () => {
    expect(protocolOf('<VAST version="1.0"><Ad/></VAST>')).toBe(1);
    expect(protocolOf('<VAST version="2.0"><Ad><InLine/></Ad></VAST>')).toBe(2);
    expect(protocolOf('<VAST version="3.0"><Ad><InLine/></Ad></VAST>')).toBe(3);
    expect(protocolOf('<VAST version="2.0"><Ad><Wrapper/></Ad></VAST>')).toBe(5);
    expect(protocolOf('<VAST version="3.0"><Ad><Wrapper/></Ad></VAST>')).toBe(6);
    expect(protocolOf(VAST4)).toBe(7);
    expect(protocolOf('<VAST version="4.0"><Ad><Wrapper/></Ad></VAST>')).toBe(8);
    expect(protocolOf('<VAST version="4.1"><Ad/></VAST>')).toBe(11);
    expect(protocolOf("<VAST version='4.1'><Ad><Wrapper/></Ad></VAST>")).toBe(12);
    expect(protocolOf('<?xml version="1.0" encoding="UTF-8"?>\n<VAST xmlns:xs="x" version="4.2"><Ad/></VAST>')).toBe(13);
    expect(protocolOf('<VAST version="4.2"><Ad><Wrapper followAdditionalWrappers="true"/></Ad></VAST>')).toBe(14);
    expect(protocolOf('<VAST version="4"><Ad/></VAST>')).toBe(7);
  });

  it("0 when it cannot tell: no VAST root, no version, a version without a code, a malformed one", () => {
    expect(protocolOf("")).toBe(0);
    expect(protocolOf('<a href="x">banner</a>')).toBe(0);
    expect(protocolOf("<VAST><Ad/></VAST>")).toBe(0);
    expect(protocolOf('<VAST version="4.3"><Ad/></VAST>')).toBe(0);
    expect(protocolOf('<VAST version="5.0"><Ad/></VAST>')).toBe(0);
    expect(protocolOf('<VAST version="4.10"><Ad/></VAST>')).toBe(0);
    expect(protocolOf('<VAST version=4.0><Ad/></VAST>')).toBe(0);
    expect(protocolOf('<VAST version="4.0')).toBe(0);
    // A version attribute of another element is not the document's.
    expect(protocolOf('<VAST><Ad><AdSystem version="4.0">x</AdSystem></Ad></VAST>')).toBe(0);
  });
});

// ---- campaign file ------------------------------------------------------------------


/** A video creative of `dur` seconds in mp4 with VAST 4.0 markup; `extra` more members (leading comma). */
function videoCreative(crid: string, dur: i32, extra: string = ""): string {
  return '{"crid":"' + crid + '","type":"video","duration":' + dur.toString() + ',"mimes":["video/mp4"],"adm":' + jsonString(VAST4) + extra + "}";
}

describe("video: the campaign file", () => {
  it("reads a video creative: markup type, duration, media types, protocol read off adm or declared", () => {
    const t = h.parseSet('{"id":"c","creatives":[' + videoCreative("v1", 15) + "," +
      '{"crid":"v2","type":"video","duration":30,"mimes":["video/mp4","video/webm"],"w":1920,"h":1080,"protocol":3,"adm":' + jsonString(VAST4) + "}]}");
    expect(t).not.toBeNull();
    const c = t!.at(0);
    expect(c.hasVideo).toBe(true);
    expect(t!.hasVideo).toBe(true);
    const v1 = c.creatives[0];
    expect(v1.isVideo).toBe(true);
    expect(v1.duration).toBe(15);
    expect(v1.protocol).toBe(7);
    expect(v1.w).toBe(0);
    expect(v1.mimes.size).toBe(1);
    const v2 = c.creatives[1];
    expect(v2.protocol).toBe(3); // declared wins over the markup's
    expect(v2.w).toBe(1920);
    expect(v2.mimes.size).toBe(2);
  });

  it("a set of banner creatives only has no video", () => {
    const t = h.parseSet('{"id":"c","creatives":[{"crid":"b","w":300,"h":250}]}');
    expect(t!.hasVideo).toBe(false);
    expect(t!.at(0).hasVideo).toBe(false);
    expect(t!.at(0).creatives[0].isVideo).toBe(false);
  });

  it("refuses what a video creative needs and does not have, naming the creative", () => {
    const base = '"crid":"v","type":"video"';
    const adm = ',"adm":' + jsonString(VAST4);
    expect(h.errorOf("{" + base + ',"mimes":["video/mp4"]' + adm + "}")).toBe("campaigns[0].creatives[0]: duration is required for a video creative (seconds, 1-3600)");
    expect(h.errorOf("{" + base + ',"duration":15' + adm + "}")).toBe('campaigns[0].creatives[0]: mimes is required for a video creative ("video/mp4", ...)');
    expect(h.errorOf("{" + base + ',"duration":15,"mimes":["video/mp4"]}')).toBe("campaigns[0].creatives[0]: adm is required for a video creative: its VAST document");
    expect(h.errorOf("{" + base + ',"w":640,"duration":15,"mimes":["video/mp4"]' + adm + "}")).toBe("campaigns[0].creatives[0]: w and h: give both or neither");
    expect(h.errorOf('{"type":"video","duration":15,"mimes":["video/mp4"]' + adm + "}")).toBe("campaigns[0].creatives[0]: crid is required");
    expect(h.errorOf("{" + base + ',"banner_type":2,"duration":15,"mimes":["video/mp4"]' + adm + "}")).toBe("campaigns[0].creatives[0]: banner_type is for banner creatives");
    expect(h.errorOf("{" + base + ',"duration":15,"mimes":["video/mp4"],"adm":"<VAST version=\\"4.3\\"></VAST>"}')).toBe(
      "campaigns[0].creatives[0]: protocol: adm is not a VAST 1.0-4.2 or DAAST 1.0 document with a version attribute; declare protocol (AdCOM creative subtype, e.g. 7 for VAST 4.0)",
    );
    // Declared, a VAST 4.3 document is fine.
    expect(h.errorOf("{" + base + ',"protocol":7,"duration":15,"mimes":["video/mp4"],"adm":"<VAST version=\\"4.3\\"></VAST>"}')).toBe("OK");
  });

  it("refuses bad values: type, duration, media types, protocol; and video keys on a banner", () => {
    expect(h.errorOf('{"crid":"v","type":"display","w":1,"h":1}')).toBe('campaigns[0].creatives[0].type: expected "banner", "video", "audio" or "native"');
    expect(h.errorOf(videoCreative("v", 0))).toBe("campaigns[0].creatives[0].duration: must be between 1 and 3600");
    expect(h.errorOf(videoCreative("v", 3601))).toBe("campaigns[0].creatives[0].duration: must be between 1 and 3600");
    const mimes = (m: string): string => '{"crid":"v","type":"video","duration":15,"adm":' + jsonString(VAST4) + ',"mimes":' + m + "}";
    expect(h.errorOf(mimes('["mp4"]'))).toBe('campaigns[0].creatives[0].mimes[0]: expected a media type ("video/mp4")');
    expect(h.errorOf(mimes('["video/"]'))).toBe('campaigns[0].creatives[0].mimes[0]: expected a media type ("video/mp4")');
    expect(h.errorOf(mimes('["video/mp4 "]'))).toBe('campaigns[0].creatives[0].mimes[0]: expected a media type ("video/mp4")');
    expect(h.errorOf(mimes('["video/mp4","VIDEO/MP4"]'))).toBe("campaigns[0].creatives[0].mimes[1]: duplicate media type");
    expect(h.errorOf(mimes("[]"))).toBe('campaigns[0].creatives[0]: mimes is required for a video creative ("video/mp4", ...)');
    expect(h.errorOf(videoCreative("v", 15, ',"protocol":0'))).toBe("campaigns[0].creatives[0].protocol: must be between 1 and 65535");
    expect(h.errorOf('{"crid":"b","w":300,"h":250,"duration":15}')).toBe('campaigns[0].creatives[0]: duration, mimes and protocol are for video and audio creatives ("type": "video" or "audio")');
    expect(h.errorOf('{"crid":"b","w":300,"h":250,"mimes":["video/mp4"]}')).toBe('campaigns[0].creatives[0]: duration, mimes and protocol are for video and audio creatives ("type": "video" or "audio")');
    expect(h.errorOf('{"crid":"b","type":"banner","w":300,"h":250,"protocol":2}')).toBe('campaigns[0].creatives[0]: duration, mimes and protocol are for video and audio creatives ("type": "video" or "audio")');
    expect(h.errorOf('{"crid":"b","type":"banner","h":250}')).toBe("campaigns[0].creatives[0]: crid, w and h are required");
  });
});

// ---- decision -----------------------------------------------------------------------


function videoImp(video: string, top: string = '"bidfloor":0.5'): string {
  return '{"id":"1","video":{' + video + "}," + top + "}";
}

const MP4_15 = '"mimes":["video/mp4"],"minduration":5,"maxduration":30';
const V15 = videoCreative("v15", 15);
const BANNER = '{"crid":"b300","w":300,"h":250}';

describe("video: the decision", () => {
  it("bids a video creative on a video impression, and only a video creative", () => {
    expect(h.outcome(videoImp(MP4_15), campaign(V15))).toBe("v15");
    expect(h.decide(videoImp(MP4_15), campaign(V15)).bid(0).priceMicros).toBe(2000);
    expect(h.outcome(videoImp(MP4_15), campaign(BANNER))).toBe("no_match");
    // A banner impression does not get a video creative, whatever its size.
    expect(h.outcome('{"id":"1","banner":{"w":300,"h":250},"bidfloor":0.5}', campaign(videoCreative("v", 15, ',"w":300,"h":250')))).toBe("no_match");
  });

  it("fits the player: media type (any case), duration bounds, required durations, protocols, linearity", () => {
    expect(h.outcome(videoImp('"mimes":["video/webm","VIDEO/MP4"]'), campaign(V15))).toBe("v15");
    expect(h.outcome(videoImp('"mimes":["video/webm"]'), campaign(V15))).toBe("no_match");
    expect(h.outcome(videoImp('"mimes":["video/mp4"],"minduration":16'), campaign(V15))).toBe("no_match");
    expect(h.outcome(videoImp('"mimes":["video/mp4"],"maxduration":14'), campaign(V15))).toBe("no_match");
    expect(h.outcome(videoImp('"mimes":["video/mp4"],"minduration":15,"maxduration":15'), campaign(V15))).toBe("v15");
    expect(h.outcome(videoImp('"mimes":["video/mp4"],"rqddurs":[6,30]'), campaign(V15))).toBe("no_match");
    expect(h.outcome(videoImp('"mimes":["video/mp4"],"rqddurs":[6,15]'), campaign(V15))).toBe("v15");
    expect(h.outcome(videoImp('"mimes":["video/mp4"],"protocols":[2,3]'), campaign(V15))).toBe("no_match");
    expect(h.outcome(videoImp('"mimes":["video/mp4"],"protocols":[3,7]'), campaign(V15))).toBe("v15");
    // 2.5's single protocol counts as one more listed protocol.
    expect(h.outcome(videoImp('"mimes":["video/mp4"],"protocols":[2],"protocol":7'), campaign(V15))).toBe("v15");
    expect(h.outcome(videoImp('"mimes":["video/mp4"],"protocol":3'), campaign(V15))).toBe("no_match");
    expect(h.outcome(videoImp('"mimes":["video/mp4"],"linearity":2'), campaign(V15))).toBe("no_match");
    expect(h.outcome(videoImp('"mimes":["video/mp4"],"linearity":1'), campaign(V15))).toBe("v15");
  });

  it("a dynamic pod (video.poddur) takes no ad longer than the whole pod", () => {
    const both = campaign(videoCreative("v30", 30) + "," + V15);
    expect(h.outcome(videoImp(MP4_15 + ',"poddur":60'), both)).toBe("v30");
    expect(h.outcome(videoImp(MP4_15 + ',"poddur":30'), both)).toBe("v30");
    expect(h.outcome(videoImp(MP4_15 + ',"poddur":20'), both)).toBe("v15");
    expect(h.outcome(videoImp(MP4_15 + ',"poddur":10'), both)).toBe("no_match");
  });

  it("takes the first creative that fits, and targeting.sizes does not restrict video", () => {
    const both = campaign(videoCreative("v30", 30) + "," + V15, '"targeting":{"sizes":["728x90"]},');
    expect(h.outcome(videoImp(MP4_15), both)).toBe("v30");
    expect(h.outcome(videoImp('"mimes":["video/mp4"],"maxduration":20'), both)).toBe("v15");
  });

  it("a multi-format impression gets the banner when one fits, else the video", () => {
    const mixed = campaign(BANNER + "," + V15);
    expect(h.outcome('{"id":"1","banner":{"w":300,"h":250},"video":{' + MP4_15 + '},"bidfloor":0.5}', mixed)).toBe("b300");
    expect(h.outcome('{"id":"1","banner":{"w":728,"h":90},"video":{' + MP4_15 + '},"bidfloor":0.5}', mixed)).toBe("v15");
  });

  it("the exchange's rules refuse a fitting creative (blocked): battr, api, secure, badv", () => {
    const attr = campaign(videoCreative("v", 15, ',"attr":[6]'));
    expect(h.outcome(videoImp(MP4_15 + ',"battr":[6,7]'), attr)).toBe("blocked");
    expect(h.outcome(videoImp(MP4_15 + ',"battr":[7]'), attr)).toBe("v");
    const omid = campaign(videoCreative("v", 15, ',"api":[7]'));
    expect(h.outcome(videoImp(MP4_15), omid)).toBe("blocked");
    expect(h.outcome(videoImp(MP4_15 + ',"api":[2,7]'), omid)).toBe("v");
    const insecure = campaign('{"crid":"v","type":"video","duration":15,"mimes":["video/mp4"],"adm":' + jsonString('<VAST version="3.0"><Impression>http://t.example/i</Impression></VAST>') + "}");
    expect(h.outcome(videoImp(MP4_15, '"bidfloor":0.5,"secure":1'), insecure)).toBe("blocked");
    expect(h.outcome(videoImp(MP4_15, '"bidfloor":0.5'), insecure)).toBe("v");
  });

  it("video.mincpmpersec: a floor of price per second × the ad's duration, in the floor currency", () => {
    // EV 2.0 CPM: 0.13/s × 15 s = 1.95 clears it, 0.14/s × 15 s = 2.1 does not.
    expect(h.outcome(videoImp(MP4_15 + ',"mincpmpersec":0.13', '"bidfloor":0.1'), campaign(V15))).toBe("v15");
    expect(h.outcome(videoImp(MP4_15 + ',"mincpmpersec":0.14', '"bidfloor":0.1'), campaign(V15))).toBe("below_floor");
    // A 6-second ad clears the same per-second price.
    const six = campaign(videoCreative("v6", 6));
    expect(h.outcome(videoImp(MP4_15 + ',"mincpmpersec":0.14', '"bidfloor":0.1'), six)).toBe("v6");
    // In EUR at 1.1: 0.12 × 15 × 1.1 = 1.98 clears 2.0, 0.13 × 15 × 1.1 = 2.145 does not.
    expect(h.outcome(videoImp(MP4_15 + ',"mincpmpersec":0.12', '"bidfloor":0.1,"bidfloorcur":"EUR"'), campaign(V15))).toBe("v15");
    expect(h.outcome(videoImp(MP4_15 + ',"mincpmpersec":0.13', '"bidfloor":0.1,"bidfloorcur":"EUR"'), campaign(V15))).toBe("below_floor");
    // A currency without a rate cannot be compared, even with no bidfloor.
    expect(h.outcome(videoImp(MP4_15 + ',"mincpmpersec":0.01', '"bidfloorcur":"JPY"'), campaign(V15))).toBe("currency");
    // The higher of the two floors holds.
    expect(h.outcome(videoImp(MP4_15 + ',"mincpmpersec":0.01', '"bidfloor":2.5'), campaign(V15))).toBe("below_floor");
  });

  it("video.durfloors (2.6-202309): the floor of the range holding the ad's duration, the highest of several", () => {
    const floors = (list: string): string => videoImp(MP4_15 + ',"durfloors":[' + list + "]", '"bidfloor":0.1');
    // EV 2.0 CPM against a 15 s ad.
    expect(h.outcome(floors('{"mindur":1,"maxdur":15,"bidfloor":2.5}'), campaign(V15))).toBe("below_floor");
    expect(h.outcome(floors('{"mindur":1,"maxdur":15,"bidfloor":1.5}'), campaign(V15))).toBe("v15");
    // Ranges that do not hold 15 s leave the impression's floor.
    expect(h.outcome(floors('{"mindur":16,"bidfloor":9},{"maxdur":14,"bidfloor":9}'), campaign(V15))).toBe("v15");
    // Open ends, inclusive bounds; the highest matching entry holds.
    expect(h.outcome(floors('{"mindur":15,"bidfloor":2.5}'), campaign(V15))).toBe("below_floor");
    expect(h.outcome(floors('{"maxdur":15,"bidfloor":1},{"mindur":10,"maxdur":20,"bidfloor":2.01}'), campaign(V15))).toBe("below_floor");
    // By the ad's duration: a 6 s one is outside the 10-30 s range's floor.
    expect(h.outcome(floors('{"mindur":10,"maxdur":30,"bidfloor":5}'), campaign(videoCreative("v6", 6)))).toBe("v6");
    // In the floor currency (EUR at 1.1: 1.9 × 1.1 = 2.09 > 2.0).
    expect(h.outcome(videoImp(MP4_15 + ',"durfloors":[{"maxdur":30,"bidfloor":1.9}]', '"bidfloorcur":"EUR"'), campaign(V15))).toBe("below_floor");
    // However many entries come, each is read: the twentieth holds the floor.
    let many = "";
    for (let i = 0; i < 19; i++) many += '{"mindur":' + (100 + i).toString() + ',"bidfloor":9},';
    expect(h.outcome(floors(many + '{"mindur":15,"maxdur":15,"bidfloor":1}'), campaign(V15))).toBe("v15");
    expect(h.outcome(floors(many + '{"mindur":15,"maxdur":15,"bidfloor":3}'), campaign(V15))).toBe("below_floor");
  });

  it("a floor by duration the first fitting creative does not clear goes to a shorter one of the campaign", () => {
    // EV 2.0 CPM. 0.1/s: the 30 s ad needs 3.0 (no), the 15 s one 1.5 (yes).
    const long = campaign(videoCreative("v30", 30) + "," + V15);
    expect(h.outcome(videoImp(MP4_15 + ',"mincpmpersec":0.1', '"bidfloor":0.1'), long)).toBe("v15");
    // durfloors: 21-30 s at 5, up to 20 s at 1.
    expect(h.outcome(videoImp(MP4_15 + ',"durfloors":[{"mindur":21,"bidfloor":5},{"maxdur":20,"bidfloor":1}]'), long)).toBe("v15");
    // The first one still wins when it clears; none that clears: below_floor.
    expect(h.outcome(videoImp(MP4_15 + ',"mincpmpersec":0.05', '"bidfloor":0.1'), long)).toBe("v30");
    expect(h.outcome(videoImp(MP4_15 + ',"mincpmpersec":0.2', '"bidfloor":0.1'), long)).toBe("below_floor");
    // The impression's own floor is above the bid: no shorter ad helps.
    expect(h.outcome(videoImp(MP4_15 + ',"mincpmpersec":0.1', '"bidfloor":2.5'), long)).toBe("below_floor");
  });

  it("a deal's own mincpmpersec and durfloors (2.6-202309) are floors of that deal", () => {
    const inDeal = (deal: string): string =>
      videoImp(MP4_15, '"bidfloor":0.1,"pmp":{"private_auction":1,"deals":[{"id":"D1","bidfloor":0.5' + deal + "}]}");
    const buyer = campaign(V15, '"deals":["D1"],');
    expect(h.outcome(inDeal(""), buyer)).toBe("v15");
    expect(h.outcome(inDeal(',"mincpmpersec":0.14'), buyer)).toBe("below_floor"); // 2.1 for 15 s
    expect(h.outcome(inDeal(',"mincpmpersec":0.13'), buyer)).toBe("v15");
    expect(h.outcome(inDeal(',"durfloors":[{"mindur":1,"maxdur":30,"bidfloor":50}]'), buyer)).toBe("below_floor");
    expect(h.outcome(inDeal(',"durfloors":[{"mindur":20,"bidfloor":50}]'), buyer)).toBe("v15");
  });
});

// ---- reply ---------------------------------------------------------------------------


describe("video: the bid", () => {
  it("sends the VAST document as adm, mtype 2, dur and protocol; no size when the creative has none", () => {
    const t = h.replyOf(videoImp(MP4_15), campaign(V15));
    expect(t.includes(',"adm":"<VAST version=\\"4.0\\"><Ad><InLine><AdSystem>x</AdSystem></InLine></Ad></VAST>"')).toBe(true);
    expect(t.includes(',"crid":"v15","mtype":2,"dur":15,"protocol":7,')).toBe(true);
    expect(t.includes('"w":')).toBe(false);
  });

  it("with its size when declared; a banner's bid is unchanged (mtype 1, no dur)", () => {
    const sized = h.replyOf(videoImp(MP4_15), campaign(videoCreative("v", 15, ',"w":1920,"h":1080')));
    expect(sized.includes(',"crid":"v","w":1920,"h":1080,"mtype":2,"dur":15,"protocol":7')).toBe(true);
    const banner = h.replyOf('{"id":"1","banner":{"w":300,"h":250},"bidfloor":0.5}', campaign(BANNER));
    expect(banner.includes(',"crid":"b300","w":300,"h":250,"mtype":1,')).toBe(true);
    expect(banner.includes('"dur"')).toBe(false);
  });
});

describe("video: placement and roll-position targeting", () => {
  it("video_plcmt: only the listed placements (video.plcmt); a request without plcmt does not match", () => {
    const instream = campaign(V15, '"targeting":{"video_plcmt":[1]},');
    expect(h.outcome(videoImp(MP4_15 + ',"plcmt":1'), instream)).toBe("v15");
    expect(h.outcome(videoImp(MP4_15 + ',"plcmt":4'), instream)).toBe("no_match");
    expect(h.outcome(videoImp(MP4_15 + ',"plcmt":7'), instream)).toBe("no_match");
    expect(h.outcome(videoImp(MP4_15), instream)).toBe("no_match");
    // 2.5's placement is not plcmt (its categories differ): it does not stand in for it.
    expect(h.outcome(videoImp(MP4_15 + ',"placement":1'), instream)).toBe("no_match");
    expect(h.outcome(videoImp(MP4_15 + ',"plcmt":2'), campaign(V15, '"targeting":{"video_plcmt":[1,2]},'))).toBe("v15");
  });

  it("video_start: pre-roll (startdelay 0), mid-roll (> 0 or -1), post-roll (-2); no startdelay does not match", () => {
    const pre = campaign(V15, '"targeting":{"video_start":["pre"]},');
    expect(h.outcome(videoImp(MP4_15 + ',"startdelay":0'), pre)).toBe("v15");
    expect(h.outcome(videoImp(MP4_15 + ',"startdelay":30'), pre)).toBe("no_match");
    expect(h.outcome(videoImp(MP4_15), pre)).toBe("no_match");
    const midPost = campaign(V15, '"targeting":{"video_start":["mid","post"]},');
    expect(h.outcome(videoImp(MP4_15 + ',"startdelay":30'), midPost)).toBe("v15");
    expect(h.outcome(videoImp(MP4_15 + ',"startdelay":-1'), midPost)).toBe("v15");
    expect(h.outcome(videoImp(MP4_15 + ',"startdelay":-2'), midPost)).toBe("v15");
    expect(h.outcome(videoImp(MP4_15 + ',"startdelay":0'), midPost)).toBe("no_match");
  });

  it("targeting.rewarded on video: imp.rwdd, or video.ext.rewarded as SDK exchanges send it before 2.6", () => {
    const rewardedOnly = campaign(V15, '"targeting":{"rewarded":true},');
    expect(h.outcome(videoImp(MP4_15 + ',"ext":{"rewarded":1}'), rewardedOnly)).toBe("v15");
    expect(h.outcome(videoImp(MP4_15, '"bidfloor":0.5,"rwdd":1'), rewardedOnly)).toBe("v15");
    expect(h.outcome(videoImp(MP4_15), rewardedOnly)).toBe("no_match");
    expect(h.outcome(videoImp(MP4_15 + ',"ext":{"rewarded":0,"unknown":[1]}'), rewardedOnly)).toBe("no_match");
  });

  it("video_skippable: skip 1 and an ad longer than skipmin is skippable; skip 0 is not; no skip does not match", () => {
    const skippable = campaign(V15, '"targeting":{"video_skippable":true},');
    const notSkippable = campaign(V15, '"targeting":{"video_skippable":false},');
    expect(h.outcome(videoImp(MP4_15 + ',"skip":1'), skippable)).toBe("v15");
    expect(h.outcome(videoImp(MP4_15 + ',"skip":1'), notSkippable)).toBe("no_match");
    expect(h.outcome(videoImp(MP4_15 + ',"skip":0'), skippable)).toBe("no_match");
    expect(h.outcome(videoImp(MP4_15 + ',"skip":0'), notSkippable)).toBe("v15");
    // Only ads longer than skipmin may be skipped: a 15 s ad under skipmin 15 plays in full.
    expect(h.outcome(videoImp(MP4_15 + ',"skip":1,"skipmin":15'), skippable)).toBe("no_match");
    expect(h.outcome(videoImp(MP4_15 + ',"skip":1,"skipmin":15'), notSkippable)).toBe("v15");
    expect(h.outcome(videoImp(MP4_15 + ',"skip":1,"skipmin":14'), skippable)).toBe("v15");
    expect(h.outcome(videoImp(MP4_15), skippable)).toBe("no_match");
    expect(h.outcome(videoImp(MP4_15), notSkippable)).toBe("no_match");
    // Unrestricted, skip changes nothing.
    expect(h.outcome(videoImp(MP4_15 + ',"skip":1'), campaign(V15))).toBe("v15");
    // Decided per creative: the 30 s one is skippable past skipmin 20, the 15 s one is not.
    const both = campaign(V15 + "," + videoCreative("v30", 30), '"targeting":{"video_skippable":true},');
    expect(h.outcome(videoImp(MP4_15 + ',"skip":1,"skipmin":20'), both)).toBe("v30");
  });

  it("refuses bad lists, and video targeting on a campaign without a video creative", () => {
    const withT = (t: string, creatives: string = V15): string => {
      const tab = h.parseSet('{"id":"c","targeting":{' + t + '},"creatives":[' + creatives + "]}");
      return tab !== null ? "OK" : h.config.error;
    };
    expect(withT('"video_plcmt":[0]')).toBe("campaigns[0].targeting.video_plcmt[0]: must be between 1 and 4");
    expect(withT('"video_plcmt":[1,1]')).toBe("campaigns[0].targeting.video_plcmt[1]: duplicate placement");
    expect(withT('"video_plcmt":[]')).toBe("campaigns[0].targeting.video_plcmt: empty: leave it out to bid at any placement");
    expect(withT('"video_start":["preroll"]')).toBe('campaigns[0].targeting.video_start[0]: expected "pre", "mid" or "post"');
    expect(withT('"video_start":["pre","pre"]')).toBe("campaigns[0].targeting.video_start[1]: duplicate position");
    expect(withT('"video_start":[]')).toBe("campaigns[0].targeting.video_start: empty: leave it out to bid at any position");
    const needsVideo = "campaigns[0]: targeting.video_plcmt, video_start, video_skippable: need a video creative";
    expect(withT('"video_plcmt":[1]', BANNER)).toBe(needsVideo);
    expect(withT('"video_start":["pre"]', BANNER)).toBe(needsVideo);
    expect(withT('"video_skippable":false', BANNER)).toBe(needsVideo);
    expect(withT('"video_skippable":1')).toBe("campaigns[0].targeting.video_skippable: expected true or false");
    expect(withT('"video_plcmt":[1,2,3,4],"video_start":["pre","mid","post"],"video_skippable":true')).toBe("OK");
  });
});

describe("video: ad pods", () => {
  it("a campaign bids in one slot of a pod (video.podid) per request; slots of other pods or of none each get a bid", () => {
    const slot = (id: string, pod: string): string => '{"id":"' + id + '","video":{' + MP4_15 + (pod.length > 0 ? ',"podid":"' + pod + '"' : "") + '},"bidfloor":0.5}';
    let d = h.decide(slot("1", "p1") + "," + slot("2", "p1") + "," + slot("3", "p2"), campaign(V15));
    expect(d.count).toBe(2);
    expect(d.bid(0).impId.toString()).toBe("1");
    expect(d.bid(1).impId.toString()).toBe("3");
    d = h.decide(slot("1", "") + "," + slot("2", ""), campaign(V15));
    expect(d.count).toBe(2);
    // Another campaign takes the pod's second slot.
    d = h.decide(slot("1", "p1") + "," + slot("2", "p1"), campaign(V15) + "," + campaign(V15).replace('"id":"c1"', '"id":"c2"'));
    expect(d.count).toBe(2);
    expect(d.bid(0).campaign!.id.toString()).not.toBe(d.bid(1).campaign!.id.toString());
    // ...unless it is the same advertiser's (a shared adomain, any case): one ad of it per break.
    const brand = (id: string, domain: string): string => campaign(videoCreative("v-" + id, 15, ',"adomain":["' + domain + '"]')).replace('"id":"c1"', '"id":"' + id + '"');
    d = h.decide(slot("1", "p1") + "," + slot("2", "p1"), brand("b1", "brand.example") + "," + brand("b2", "Brand.Example"));
    expect(d.count).toBe(1);
    d = h.decide(slot("1", "p1") + "," + slot("2", "p2"), brand("b1", "brand.example") + "," + brand("b2", "Brand.Example"));
    expect(d.count).toBe(2);
    d = h.decide(slot("1", "p1") + "," + slot("2", "p1"), brand("b1", "brand.example") + "," + brand("b2", "other.example"));
    expect(d.count).toBe(2);
  });
});

// ---- audio ------------------------------------------------------------------------------------

const DAAST = '<DAAST version="1.0"><Ad><InLine><AdSystem>x</AdSystem></InLine></Ad></DAAST>';

function audioCreative(crid: string, dur: i32, extra: string = ""): string {
  return '{"crid":"' + crid + '","type":"audio","duration":' + dur.toString() + ',"mimes":["audio/mpeg"],"adm":' + jsonString(VAST4) + extra + "}";
}

function audioImp(audio: string, top: string = '"bidfloor":0.5'): string {
  return '{"id":"1","audio":{' + audio + "}," + top + "}";
}

const MP3_30 = '"mimes":["audio/mpeg","audio/mp4"],"minduration":5,"maxduration":30';
const A15 = audioCreative("a15", 15);

describe("audio", () => {
  it("DAAST 1.0 documents have their own codes (9, wrapper 10)", () => {
    expect(protocolOf(DAAST)).toBe(9);
    expect(protocolOf('<DAAST version="1.0"><Ad><Wrapper/></Ad></DAAST>')).toBe(10);
    expect(protocolOf('<DAAST version="2.0"><Ad/></DAAST>')).toBe(0);
  });

  it("the campaign file: type audio with duration, mimes, adm; no size", () => {
    const t = h.parseSet('{"id":"c","creatives":[' + A15 + "," + audioCreative("a30", 30, "").replace(jsonString(VAST4), jsonString(DAAST)) + "]}");
    expect(t).not.toBeNull();
    expect(t!.hasAudio).toBe(true);
    expect(t!.hasVideo).toBe(false);
    expect(t!.at(0).creatives[0].isAudio).toBe(true);
    expect(t!.at(0).creatives[0].protocol).toBe(7);
    expect(t!.at(0).creatives[1].protocol).toBe(9);
    expect(h.errorOf(audioCreative("a", 15, ',"w":300,"h":250'))).toBe("campaigns[0].creatives[0]: w and h are for banner and video creatives");
    expect(h.errorOf('{"crid":"a","type":"audio","duration":15,"adm":' + jsonString(VAST4) + "}")).toBe('campaigns[0].creatives[0]: mimes is required for an audio creative ("audio/mpeg", ...)');
    expect(h.errorOf('{"crid":"a","type":"audio","mimes":["audio/mpeg"],"adm":' + jsonString(VAST4) + "}")).toBe("campaigns[0].creatives[0]: duration is required for an audio creative (seconds, 1-3600)");
  });

  it("an audio impression gets an audio creative that fits its player, with mtype 3; never a video or a banner", () => {
    expect(h.outcome(audioImp(MP3_30), campaign(A15))).toBe("a15");
    expect(h.outcome(audioImp(MP3_30), campaign(V15 + "," + BANNER))).toBe("no_match");
    expect(h.outcome(videoImp(MP4_15), campaign(A15))).toBe("no_match");
    expect(h.outcome(audioImp('"mimes":["audio/ogg"]'), campaign(A15))).toBe("no_match");
    expect(h.outcome(audioImp(MP3_30 + ',"rqddurs":[30]'), campaign(A15))).toBe("no_match");
    expect(h.outcome(audioImp(MP3_30 + ',"protocols":[9,10]'), campaign(A15))).toBe("no_match");
    expect(h.outcome(audioImp(MP3_30 + ',"protocols":[7]'), campaign(A15))).toBe("a15");
    expect(h.outcome(audioImp(MP3_30 + ',"battr":[3]'), campaign(audioCreative("a", 15, ',"attr":[3]')))).toBe("blocked");
    expect(h.outcome(audioImp(MP3_30 + ',"mincpmpersec":0.14', '"bidfloor":0.1'), campaign(A15))).toBe("below_floor");
    expect(h.outcome(audioImp(MP3_30 + ',"mincpmpersec":0.13', '"bidfloor":0.1'), campaign(A15))).toBe("a15");
    const reply = h.replyOf(audioImp(MP3_30), campaign(A15));
    expect(reply.includes(',"crid":"a15","mtype":3,"dur":15,"protocol":7,')).toBe(true);
    expect(reply.includes('"w":')).toBe(false);
  });

  it("a multi-format impression: banner, then video, then audio; one audio ad of a campaign per pod", () => {
    const all = campaign(A15 + "," + V15 + "," + BANNER);
    expect(h.outcome('{"id":"1","banner":{"w":300,"h":250},"video":{' + MP4_15 + '},"audio":{' + MP3_30 + '},"bidfloor":0.5}', all)).toBe("b300");
    expect(h.outcome('{"id":"1","banner":{"w":1,"h":1},"video":{' + MP4_15 + '},"audio":{' + MP3_30 + '},"bidfloor":0.5}', all)).toBe("v15");
    expect(h.outcome('{"id":"1","banner":{"w":1,"h":1},"video":{"mimes":["video/ogg"]},"audio":{' + MP3_30 + '},"bidfloor":0.5}', all)).toBe("a15");
    const slot = (id: string): string => '{"id":"' + id + '","audio":{' + MP3_30 + ',"podid":"break-1"},"bidfloor":0.5}';
    expect(h.decide(slot("1") + "," + slot("2"), campaign(A15)).count).toBe(1);
  });
});
