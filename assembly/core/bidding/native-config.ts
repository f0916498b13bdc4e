// A native creative's keys in the campaign file (docs/CAMPAIGNS.md "Native creatives"): read
// into its NativeCreative by the campaign parser, then checked once the creative's type is known.
// Cold path.
import { ConfigDoc } from "../config/config-doc";
import { IMG_MAIN } from "../openrtb/native";
import { Creative } from "./creative";
import { NATIVE_DATA_NAMES, NATIVE_IMAGE_NAMES, NativeCreative, NativeImage, imageMimeOfUrl, utf8Chars } from "./native-creative";
import { OwnedBytes, StringSet } from "./owned-bytes";
import { bytesEqual } from "../bytes/str";

const MAX_URL: i32 = 2048;
const MAX_TRACKERS: i32 = 8;

/**
 * Reads the creative's current key when it is one of a native creative's (title, images, data,
 * link, clicktrackers, imptrackers, privacy, video) into `n`; false for any other key.
 */
export function readNativeKey(d: ConfigDoc, n: NativeCreative): bool {
  if (d.keyIs("title")) {
    n.title = d.owned(1024);
    if (!d.failed && n.title.len == 0) d.fail("empty title");
    n.titleChars = utf8Chars(n.title);
  } else if (d.keyIs("images")) readImages(d, n);
  else if (d.keyIs("data")) readData(d, n);
  else if (d.keyIs("link")) n.link = httpUrl(d);
  else if (d.keyIs("clicktrackers")) readUrls(d, n.clickTrackers);
  else if (d.keyIs("imptrackers")) readUrls(d, n.impTrackers);
  else if (d.keyIs("privacy")) n.privacy = httpUrl(d);
  else if (d.keyIs("video")) n.videoCrid = d.owned(128);
  else return false;
  return true;
}

/** After the creative's keys: a native one has a link and an asset, and none of the other kinds' keys. */
export function checkNative(d: ConfigDoc, cr: Creative, n: NativeCreative, otherKeys: bool): void {
  if (d.failed) return;
  if (cr.crid.len == 0) d.fail("crid is required");
  else if (otherKeys) d.fail("w, h, adm, duration, mimes, protocol and banner_type are not for native creatives (the markup is built from the assets)");
  else if (n.link.len == 0) d.fail("link is required for a native creative (where a click goes)");
  else if (n.title.len == 0 && n.images.length == 0 && !hasData(n) && n.videoCrid.len == 0) d.fail("a native creative needs a title, an image, a data value or a video");
}

/**
 * Once a campaign's creatives are all read: each native creative's `video` names a video creative
 * of the campaign (by crid), whose VAST document answers the native request's video assets. Its
 * markup must be secure for the native ad to be.
 */
export function resolveNativeVideos(d: ConfigDoc, creatives: Array<Creative>): void {
  for (let i = 0; i < creatives.length && !d.failed; i++) {
    const cr = unchecked(creatives[i]);
    const n = cr.native;
    if (n === null || n.videoCrid.len == 0) continue;
    for (let j = 0; j < creatives.length; j++) {
      const other = unchecked(creatives[j]);
      if (other.isVideo && bytesEqual(other.crid.ptr, other.crid.len, n.videoCrid.ptr, n.videoCrid.len)) n.video = other;
    }
    const v = n.video;
    if (v === null) d.fail("[" + i.toString() + "].video: no video creative \"" + n.videoCrid.toString() + "\" in this campaign");
    else cr.secure = cr.secure && v.secure;
  }
}

function hasData(n: NativeCreative): bool {
  for (let t = 1; t < n.data.length; t++) if (unchecked(n.data[t]) !== null) return true;
  return false;
}

/** An absolute http(s) URL without spaces or quotes (it goes into the markup as it is). */
function httpUrl(d: ConfigDoc): OwnedBytes {
  const u = d.owned(MAX_URL);
  if (d.failed) return u;
  const s = String.UTF8.decodeUnsafe(u.ptr, <usize>u.len);
  const scheme = s.startsWith("https://") ? 8 : s.startsWith("http://") ? 7 : 0;
  if (scheme == 0 || s.length == scheme) d.fail("expected an http(s) URL");
  else {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c <= 0x20 || c == 0x22 || c == 0x7f) {
        d.fail("a URL may not contain spaces, quotes or control characters");
        break;
      }
    }
  }
  return u;
}

function readUrls(d: ConfigDoc, set: StringSet): void {
  if (!d.beginArray()) return;
  let i = 0;
  while (d.nextElement(i)) {
    const u = httpUrl(d);
    if (!d.failed && set.items.length >= MAX_TRACKERS) d.fail("at most " + MAX_TRACKERS.toString() + " trackers");
    set.push(u);
    d.endMember();
    i++;
  }
}

/** `"images": [{"type": "main", "url": …, "w": …, "h": …, "mime"?: …}, …]`: one image per type. */
function readImages(d: ConfigDoc, n: NativeCreative): void {
  if (!d.beginArray()) return;
  let i = 0;
  while (d.nextElement(i)) {
    const img = readImage(d);
    if (!d.failed && n.image(img.type) !== null) d.fail("another image of type " + NATIVE_IMAGE_NAMES[img.type]);
    n.images.push(img);
    d.endMember();
    i++;
  }
}

function readImage(d: ConfigDoc): NativeImage {
  const img = new NativeImage();
  if (!d.beginObject()) return img;
  let typed = false;
  let mimeGiven = false;
  while (d.nextKey()) {
    if (d.keyIs("type")) {
      img.type = nameIndex(d, NATIVE_IMAGE_NAMES, "\"main\", \"icon\" or \"logo\"");
      typed = true;
    } else if (d.keyIs("url")) img.url = httpUrl(d);
    else if (d.keyIs("w")) img.w = <i32>d.int(1, 65535);
    else if (d.keyIs("h")) img.h = <i32>d.int(1, 65535);
    else if (d.keyIs("mime")) {
      img.mime = d.owned(128);
      mimeGiven = true;
    } else d.unknownKey();
    d.endMember();
  }
  if (d.failed) return img;
  if (!typed) img.type = IMG_MAIN;
  if (img.url.len == 0 || img.w == 0 || img.h == 0) d.fail("url, w and h are required");
  else if (!mimeGiven) {
    // Exchanges list the image types they take (img.mimes): the URL's extension says which it is.
    const m = imageMimeOfUrl(String.UTF8.decodeUnsafe(img.url.ptr, <usize>img.url.len));
    if (m.length == 0) d.fail("mime: the url has no .jpg, .png, .gif, .webp or .svg extension; declare mime (\"image/jpeg\")");
    img.mime = OwnedBytes.fromString(m);
  }
  return img;
}

/** `"data": {"sponsored": "Acme", "ctatext": "Shop now", …}`: values by native data type name. */
function readData(d: ConfigDoc, n: NativeCreative): void {
  if (!d.beginObject()) return;
  while (d.nextKey()) {
    let type = 0;
    for (let t = 1; t < NATIVE_DATA_NAMES.length; t++) {
      if (d.keyIs(NATIVE_DATA_NAMES[t])) type = t;
    }
    if (type == 0) d.fail("unknown data type (sponsored, desc, rating, likes, downloads, price, saleprice, phone, address, desc2, displayurl, ctatext)");
    else {
      const v = d.owned(4096);
      if (!d.failed && v.len == 0) d.fail("empty value");
      unchecked((n.data[type] = v));
      unchecked((n.dataChars[type] = utf8Chars(v)));
    }
    d.endMember();
  }
}

function nameIndex(d: ConfigDoc, names: StaticArray<string>, expected: string): i32 {
  const s = d.string();
  if (d.failed) return 0;
  for (let i = 1; i < names.length; i++) if (s == names[i]) return i;
  d.fail("expected " + expected);
  return 0;
}
