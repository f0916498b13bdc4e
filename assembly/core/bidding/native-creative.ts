// Native creatives: the assets a campaign gives for a native ad (title, images, data such as
// "sponsored by" or a call to action, the click link and trackers), and whether they can fill
// what an impression's native request asks for. The markup (a Native Ads response document)
// depends on the request's asset ids, so it is written per bid (reply/native-markup.ts).
import { Imp } from "../openrtb/imp";
import {
  ASSET_DATA,
  ASSET_IMG,
  ASSET_TITLE,
  ASSET_VIDEO,
  IMG_MAIN,
  NativeAsset,
  NativeRequest,
} from "../openrtb/native";
import { bytesEqualIgnoreAsciiCase } from "../bytes/str";
import { Creative } from "./creative";
import { playerFits } from "./media";
import { OwnedBytes, StringSet } from "./owned-bytes";

/** Native data asset types (Native 1.2 §7.4) by the names a campaign file uses; index = type. */
export const NATIVE_DATA_NAMES: StaticArray<string> = [
  "", "sponsored", "desc", "rating", "likes", "downloads", "price", "saleprice",
  "phone", "address", "desc2", "displayurl", "ctatext",
];

/** Native image asset types by name; index = type (1 icon, 2 logo, 3 main). */
export const NATIVE_IMAGE_NAMES: StaticArray<string> = ["", "icon", "logo", "main"];

export class NativeImage {
  type: i32 = IMG_MAIN;
  url: OwnedBytes = OwnedBytes.fromString("");
  w: i32 = 0;
  h: i32 = 0;
  /** Its media type ("image/png"): declared, or read off the URL's extension; empty: unknown. */
  mime: OwnedBytes = OwnedBytes.fromString("");
}

export class NativeCreative {
  title: OwnedBytes = OwnedBytes.fromString("");
  titleChars: i32 = 0;
  readonly images: Array<NativeImage> = new Array<NativeImage>();
  /** Data values by type (NATIVE_DATA_NAMES), null when not given, and their lengths in characters. */
  readonly data: StaticArray<OwnedBytes | null> = new StaticArray<OwnedBytes | null>(NATIVE_DATA_NAMES.length);
  readonly dataChars: StaticArray<i32> = new StaticArray<i32>(NATIVE_DATA_NAMES.length);
  /** Where a click goes (the response's link.url; required). */
  link: OwnedBytes = OwnedBytes.fromString("");
  readonly clickTrackers: StringSet = new StringSet();
  /** Impression pixels (eventtrackers or imptrackers, as the request allows). */
  readonly impTrackers: StringSet = new StringSet();
  /** The buyer's privacy notice (1.2 `privacy`), sent where the publisher renders it; empty: none. */
  privacy: OwnedBytes = OwnedBytes.fromString("");
  /** A video asset's ad: a video creative of the same campaign, named by crid (`video`); null: none. */
  video: Creative | null = null;
  /** The crid `video` names, until the campaign's creatives are all read. */
  videoCrid: OwnedBytes = OwnedBytes.fromString("");

  image(type: i32): NativeImage | null {
    for (let i = 0; i < this.images.length; i++) {
      const img = unchecked(this.images[i]);
      if (img.type == type) return img;
    }
    return null;
  }

  dataValue(type: i32): OwnedBytes | null {
    return type > 0 && type < this.data.length ? unchecked(this.data[type]) : null;
  }

  /**
   * The creative has what `a` asks for: a title or data value no longer than its `len` (in
   * characters), an image of its type (main when not given) with its exact size (w, h) or at least
   * its minimum (wmin, hmin), in one of its media types; a video asset, with the video creative
   * it names, when that fits the asset's player as it would an imp.video (media.ts playerFits).
   */
  fills(a: NativeAsset): bool {
    if (a.kind == ASSET_TITLE) return this.title.len > 0 && (a.len == 0 || this.titleChars <= a.len);
    if (a.kind == ASSET_DATA) {
      const v = this.dataValue(a.type);
      return v !== null && (a.len == 0 || unchecked(this.dataChars[a.type]) <= a.len);
    }
    if (a.kind == ASSET_VIDEO) {
      const v = this.video;
      return v !== null && playerFits(a.mimes, a.protocols, a.minduration, a.maxduration, v);
    }
    if (a.kind != ASSET_IMG) return false;
    const img = this.image(a.type != 0 ? a.type : IMG_MAIN);
    if (img === null) return false;
    if (!sideFits(img.w, a.w, a.wmin) || !sideFits(img.h, a.h, a.hmin)) return false;
    if (a.mimes.truncated) return false;
    if (a.mimes.count == 0) return true;
    for (let j = 0; j < a.mimes.count; j++) {
      const m = a.mimes.get(j);
      if (bytesEqualIgnoreAsciiCase(img.mime.ptr, img.mime.len, m.ptr, m.len)) return true;
    }
    return false;
  }
}

/** "If only w is included, it should be considered an exact requirement"; wmin is a minimum (Native 1.2 §4.4). */
function sideFits(have: i32, exact: i32, min: i32): bool {
  if (min > 0) return have >= min;
  return exact == 0 || have == exact;
}

/**
 * The assets of the request the native creative fills, bit i for asset i, when it can answer
 * the request: it was read, it lists every asset (a longer list cannot be checked in full), the
 * creative fills every required asset, and at least one asset. 0 when it cannot. The decision
 * keeps the mask of its bid (ImpBid.nativeAssets): the request's strings are views that the next
 * impression's document may overwrite (escaped strings live in the parser's scratch).
 */
export function nativeFill(req: NativeRequest, n: NativeCreative): u32 {
  if (!req.valid || req.assetTotal > req.assetCount) return 0;
  let mask: u32 = 0;
  for (let i = 0; i < req.assetCount; i++) {
    const a = req.asset(i);
    if (n.fills(a)) mask |= (<u32>1) << <u32>i;
    else if (a.required) return 0;
  }
  return mask;
}

/** One of the assets in `filled` (nativeFill()) is a video asset. */
export function fillsVideo(req: NativeRequest, filled: u32): bool {
  for (let i = 0; i < req.assetCount; i++) {
    if ((filled & ((<u32>1) << <u32>i)) != 0 && req.asset(i).kind == ASSET_VIDEO) return true;
  }
  return false;
}

/**
 * The exchange's rules for the impression's native object refuse the creative (`blocked`):
 * imp.secure needs secure markup, native.battr blocks its attributes, native.api must support
 * every API framework it needs.
 */
export function nativeRefused(imp: Imp, cr: Creative): bool {
  if (imp.secure == 1 && !cr.secure) return true;
  const n = imp.native;
  if (n.battr.truncated || !cr.apisSupported(n.api)) return true;
  for (let i = 0; i < n.battr.count; i++) {
    if (cr.hasAttr(n.battr.get(i))) return true;
  }
  return false;
}

/** Every URL of the native ad (images, link, trackers, privacy notice) is https:// (imp.secure). */
export function nativeIsSecure(n: NativeCreative): bool {
  for (let i = 0; i < n.images.length; i++) if (!isHttps(unchecked(n.images[i]).url)) return false;
  if (!isHttps(n.link) || (n.privacy.len > 0 && !isHttps(n.privacy))) return false;
  for (let i = 0; i < n.clickTrackers.items.length; i++) if (!isHttps(unchecked(n.clickTrackers.items[i]))) return false;
  for (let i = 0; i < n.impTrackers.items.length; i++) if (!isHttps(unchecked(n.impTrackers.items[i]))) return false;
  return true;
}

const HTTPS: StaticArray<u8> = [0x68, 0x74, 0x74, 0x70, 0x73, 0x3a, 0x2f, 0x2f];

function isHttps(u: OwnedBytes): bool {
  return u.len > 8 && bytesEqualIgnoreAsciiCase(u.ptr, 8, changetype<usize>(HTTPS), 8);
}

/** Characters of UTF-8 text (bytes that do not continue a character). */
export function utf8Chars(b: OwnedBytes): i32 {
  let n = 0;
  for (let i = 0; i < b.len; i++) if ((load<u8>(b.ptr + <usize>i) & 0xc0) != 0x80) n++;
  return n;
}

/** The image media type a URL's path names by its extension (jpg, jpeg, png, gif, webp, svg), or "". */
export function imageMimeOfUrl(url: string): string {
  let path = url;
  const q = path.indexOf("?");
  if (q >= 0) path = path.substring(0, q);
  const h = path.indexOf("#");
  if (h >= 0) path = path.substring(0, h);
  const dot = path.lastIndexOf(".");
  if (dot < 0 || path.lastIndexOf("/") > dot) return "";
  const ext = path.substring(dot + 1).toLowerCase();
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "png") return "image/png";
  if (ext == "gif") return "image/gif";
  if (ext == "webp") return "image/webp";
  if (ext == "svg") return "image/svg+xml";
  return "";
}
