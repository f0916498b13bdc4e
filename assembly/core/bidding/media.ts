// Video and audio creatives: a VAST (or DAAST) document in adm, bid on an impression's video or
// audio object. What the object asks of a creative is checked here (decision.ts asks for such a
// creative only when the impression has the object); the reply writer sends the bid with mtype
// 2 or 3, dur and protocol.
import { Deal, DurFloorsText, Imp, MediaSlot, Video } from "../openrtb/imp";
import { Str, bytesEqualIgnoreAsciiCase, containsIgnoreCase } from "../bytes/str";
import { IntList, StrList } from "../json/lists";
import { Creative } from "./creative";
import { Campaign } from "./campaign";
import { OwnedBytes } from "./owned-bytes";

/** OpenRTB video.linearity: 2 is an overlay (non-linear) slot, which a linear VAST ad cannot fill. */
const NON_LINEAR: i32 = 2;

/** Roll positions a campaign may buy (targeting.video_start), from video.startdelay. */
export const VIDEO_PRE_ROLL: u32 = 1;
export const VIDEO_MID_ROLL: u32 = 2;
export const VIDEO_POST_ROLL: u32 = 4;

/**
 * The campaign buys this video slot: its placement (video.plcmt, OpenRTB 2.6: 1 instream, 2
 * accompanying content, 3 interstitial, 4 no content/standalone) and its roll position
 * (video.startdelay: 0 pre-roll, > 0 or -1 mid-roll, -2 post-roll), when the campaign restricts
 * them. A request that does not say cannot be shown to be one the campaign buys.
 */
export function slotTargeted(v: Video, c: Campaign): bool {
  if (c.videoPlcmt != 0 && (v.plcmt < 1 || v.plcmt > 4 || (c.videoPlcmt & (<u32>1 << <u32>v.plcmt)) == 0)) return false;
  if (c.videoStart == 0) return true;
  if (!v.hasStartdelay) return false;
  const d = v.startdelay;
  const position = d == 0 ? VIDEO_PRE_ROLL : d == -2 ? VIDEO_POST_ROLL : VIDEO_MID_ROLL;
  return (c.videoStart & position) != 0;
}

/**
 * The AdCOM "Creative Subtypes - Audio/Video" code of a VAST or DAAST document, read off its root
 * element: VAST 1.0, 2.0, 3.0 (1, 2, 3; as wrappers 4, 5, 6), 4.0 (7; wrapper 8), 4.1 (11; 12),
 * 4.2 (13; 14), DAAST 1.0 (9; 10). A wrapper is a document with a `<Wrapper` element. 0 when
 * there is no such root element, no version attribute in it, or a version the list has no code
 * for (e.g. VAST 4.3): the campaign then declares `protocol` itself.
 */
export function vastProtocolOf(adm: OwnedBytes): i32 {
  let start = indexOfAscii(adm.ptr, adm.len, 0, "<VAST");
  const daast = start < 0;
  if (daast) start = indexOfAscii(adm.ptr, adm.len, 0, "<DAAST");
  if (start < 0) return 0;
  const tagEnd = indexOfAscii(adm.ptr, adm.len, start, ">");
  if (tagEnd < 0) return 0;
  const attr = indexOfAscii(adm.ptr, tagEnd, start, "version=");
  if (attr < 0) return 0;
  let p = attr + 8;
  if (p >= tagEnd) return 0;
  const quote = load<u8>(adm.ptr + <usize>p);
  if (quote != 0x22 && quote != 0x27) return 0;
  p++;
  // "M.m" (or "M" alone); anything else is not a version this list knows.
  const major = digitAt(adm, p, tagEnd);
  if (major < 0) return 0;
  p++;
  let minor = 0;
  if (p < tagEnd && load<u8>(adm.ptr + <usize>p) == 0x2e) {
    minor = digitAt(adm, p + 1, tagEnd);
    if (minor < 0) return 0;
    p += 2;
  }
  if (p >= tagEnd || load<u8>(adm.ptr + <usize>p) != quote) return 0;
  const wrapper = containsIgnoreCase(adm.ptr, adm.len, "<wrapper");
  if (daast) return major == 1 && minor == 0 ? (wrapper ? 10 : 9) : 0;
  if (major >= 1 && major <= 3 && minor == 0) return wrapper ? major + 3 : major;
  if (major == 4 && minor == 0) return wrapper ? 8 : 7;
  if (major == 4 && minor == 1) return wrapper ? 12 : 11;
  if (major == 4 && minor == 2) return wrapper ? 14 : 13;
  return 0;
}

function digitAt(s: OwnedBytes, i: i32, end: i32): i32 {
  if (i >= end) return -1;
  const c = <i32>load<u8>(s.ptr + <usize>i);
  return c >= 0x30 && c <= 0x39 ? c - 0x30 : -1;
}

/** First index >= from of `needle` (ASCII, exact case) in [ptr, ptr+len), or -1. */
function indexOfAscii(ptr: usize, len: i32, from: i32, needle: string): i32 {
  const n = needle.length;
  for (let i = from; i + n <= len; i++) {
    let j = 0;
    while (j < n && <i32>load<u8>(ptr + <usize>(i + j)) == needle.charCodeAt(j)) j++;
    if (j == n) return i;
  }
  return -1;
}

/**
 * The video creative fits the impression's player: mediaFits(), a linear ad, so not for an
 * overlay slot, and no longer than a dynamic pod lasts (video.poddur, OpenRTB 2.6).
 */
export function videoFits(v: Video, cr: Creative): bool {
  if (v.poddur > 0 && cr.duration > v.poddur) return false;
  return v.linearity != NON_LINEAR && mediaFits(v, cr);
}

/**
 * The creative would run in this slot as the campaign buys it (targeting.video_skippable): the
 * player lets viewers skip it when video.skip is 1 and the ad is longer than video.skipmin
 * (OpenRTB: "videos of total duration greater than this number of seconds can be skippable").
 * A request without `skip` cannot be shown to be either, so it does not match a campaign that
 * restricts it (as for video_plcmt).
 */
export function skipTargeted(v: Video, cr: Creative, c: Campaign): bool {
  if (c.videoSkippable < 0) return true;
  if (v.skip != 0 && v.skip != 1) return false;
  const skippable = v.skip == 1 && cr.duration > v.skipmin;
  return skippable == (c.videoSkippable == 1);
}

/**
 * The video or audio creative fits the impression's player (a mismatch is `no_match`, as a
 * banner of another size is): one of its media types is among `mimes`; its duration within
 * minduration–maxduration (0: no bound), and one of `rqddurs` when the exchange lists them; its
 * protocol among `protocols` when listed. A list longer than the parser keeps cannot be checked
 * in full and does not fit.
 */
export function mediaFits(v: MediaSlot, cr: Creative): bool {
  if (v.rqddurs.truncated || (v.rqddurs.count > 0 && !v.rqddurs.contains(cr.duration))) return false;
  return playerFits(v.mimes, v.protocols, v.minduration, v.maxduration, cr);
}

/**
 * What every player asks of a VAST ad (an imp.video or imp.audio, a native video asset): one of
 * its media types among `mimes`, its duration within minduration–maxduration (0: no bound), its
 * protocol among `protocols`; an empty list takes any, a list longer than the parser keeps none.
 */
export function playerFits(mimes: StrList, protocols: IntList, minduration: i32, maxduration: i32, cr: Creative): bool {
  if (mimes.truncated || protocols.truncated) return false;
  if (mimes.count > 0 && !anyMimeListed(cr, mimes)) return false;
  const dur = cr.duration;
  if (minduration > 0 && dur < minduration) return false;
  if (maxduration > 0 && dur > maxduration) return false;
  return protocols.count == 0 || protocols.contains(cr.protocol);
}

function anyMimeListed(cr: Creative, mimes: StrList): bool {
  const mine = cr.mimes.items;
  for (let i = 0; i < mine.length; i++) {
    const m = unchecked(mine[i]);
    for (let j = 0; j < mimes.count; j++) {
      const listed: Str = mimes.get(j);
      if (bytesEqualIgnoreAsciiCase(m.ptr, m.len, listed.ptr, listed.len)) return true;
    }
  }
  return false;
}

/**
 * The exchange's rules for this video or audio slot of the impression refuse the creative
 * (`blocked`): imp.secure needs secure markup, the slot's battr blocks its attributes, its api
 * must support every API framework the creative needs (no api listed: none).
 */
export function mediaRefused(imp: Imp, v: MediaSlot, cr: Creative): bool {
  if (imp.secure == 1 && !cr.secure) return true;
  if (v.battr.truncated) return true;
  if (!cr.apisSupported(v.api)) return true;
  for (let i = 0; i < v.battr.count; i++) {
    if (cr.hasAttr(v.battr.get(i))) return true;
  }
  return false;
}

/**
 * The floor a video or audio slot sets for this creative by its duration (OpenRTB 2.6): its
 * mincpmpersec × the ad's duration and its durfloors' entry for that duration, whichever is
 * higher; a CPM in the impression's floor currency (0: neither applies; -1: the durfloors text
 * cannot be read again, durfloors.ts).
 */
export function mediaFloorCpm(v: MediaSlot, cr: Creative): f64 {
  return durationFloorCpm(v.mincpmpersec, v, cr.duration);
}

/** The same for a deal's own mincpmpersec and durfloors (OpenRTB 2.6-202309), in its bidfloorcur. */
export function dealMediaFloorCpm(deal: Deal, cr: Creative): f64 {
  return durationFloorCpm(deal.mincpmpersec, deal, cr.duration);
}

function durationFloorCpm(perSecond: f64, floors: DurFloorsText, duration: i32): f64 {
  const byDuration = floors.durationFloor(duration);
  if (byDuration < 0) return -1;
  const bySeconds = perSecond > 0 ? perSecond * <f64>duration : 0;
  return bySeconds > byDuration ? bySeconds : byDuration;
}

/** The impression's video or audio object, the one a creative of this markup answers. */
export function slotFor(imp: Imp, cr: Creative): MediaSlot {
  return cr.isAudio ? <MediaSlot>imp.audio : <MediaSlot>imp.video;
}

/** The two creatives name an advertiser domain in common (adomain, any case). */
export function sameAdvertiser(a: Creative, b: Creative): bool {
  const x = a.adomain.items;
  const y = b.adomain.items;
  for (let i = 0; i < x.length; i++) {
    const d = unchecked(x[i]);
    for (let j = 0; j < y.length; j++) {
      const e = unchecked(y[j]);
      if (bytesEqualIgnoreAsciiCase(d.ptr, d.len, e.ptr, e.len)) return true;
    }
  }
  return false;
}
