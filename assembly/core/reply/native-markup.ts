// The markup of a native bid: a Native Ads response document (IAB Native 1.2 §5; 1.0/1.1 under a
// "native" root) answering the request's assets by their ids, sent as a string in bid.adm. It
// depends on the request, so it is written per bid, into a reused buffer, then escaped into the reply.
import { ByteWriter } from "../bytes/writer";
import { ASSET_DATA, ASSET_IMG, ASSET_TITLE, ASSET_VIDEO, IMG_MAIN, NativeRequest } from "../openrtb/native";
import { NativeCreative } from "../bidding/native-creative";
import { writeJsonString, writeStringArray } from "./bid-response";

/**
 * The document before it is escaped into adm (a creative's assets are a few KiB at most), made at
 * the first native bid: a bidder without native campaigns does not carry it.
 */
let nativeMarkup: ByteWriter | null = null;

/** `,"adm":"<the native response, JSON-escaped>"`; sets w.overflowed when it does not fit. */
export function writeNativeAdm(w: ByteWriter, req: NativeRequest, filled: u32, n: NativeCreative): void {
  let markup = nativeMarkup;
  if (markup === null) nativeMarkup = markup = new ByteWriter(64 * 1024);
  writeNativeResponse(markup, req, filled, n);
  if (markup.overflowed) {
    w.overflowed = true;
    return;
  }
  w.ascii(",\"adm\":\"");
  w.jsonEscaped(markup.base, markup.len);
  w.byte(0x22);
}

/**
 * The response document: the request's assets in `filled` (bit i: asset i; nativeFill(), which
 * checked the required ones), the link, impression trackers as 1.2 `eventtrackers` (image
 * pixels) where the request lists event trackers that take them, else as `imptrackers`, and the
 * privacy link where the publisher renders one.
 */
export function writeNativeResponse(w: ByteWriter, req: NativeRequest, filled: u32, n: NativeCreative): void {
  w.reset();
  // Answered in the version asked (the request's ver), else 1.2, or 1.1 under a "native" root.
  const v12 = !req.wrapped;
  w.ascii(v12 ? "{\"ver\":\"" : "{\"native\":{\"ver\":\"");
  if (req.verLen > 0) w.jsonEscaped(changetype<usize>(req.ver), req.verLen);
  else w.ascii(v12 ? "1.2" : "1.1");
  w.byte(0x22);
  w.ascii(",\"assets\":[");
  let written = 0;
  for (let i = 0; i < req.assetCount; i++) {
    if ((filled & ((<u32>1) << <u32>i)) == 0) continue;
    const a = req.asset(i);
    if (written++ > 0) w.byte(0x2c);
    w.ascii("{\"id\":");
    w.i64(a.id);
    if (a.kind == ASSET_TITLE) {
      w.ascii(",\"title\":{\"text\":");
      writeJsonString(w, n.title);
      w.byte(0x7d);
    } else if (a.kind == ASSET_IMG) {
      const img = n.image(a.type != 0 ? a.type : IMG_MAIN)!;
      w.ascii(",\"img\":{");
      if (v12) writeTypeMember(w, img.type);
      w.ascii("\"url\":");
      writeJsonString(w, img.url);
      w.ascii(",\"w\":");
      w.i64(img.w);
      w.ascii(",\"h\":");
      w.i64(img.h);
      w.byte(0x7d);
    } else if (a.kind == ASSET_VIDEO) {
      // Native 1.2 §5.6: the VAST document itself, as a string.
      w.ascii(",\"video\":{\"vasttag\":");
      writeJsonString(w, n.video!.adm);
      w.byte(0x7d);
    } else if (a.kind == ASSET_DATA) {
      w.ascii(",\"data\":{");
      if (v12) writeTypeMember(w, a.type);
      w.ascii("\"value\":");
      writeJsonString(w, n.dataValue(a.type)!);
      w.byte(0x7d);
    }
    w.byte(0x7d);
  }
  w.ascii("],\"link\":{\"url\":");
  writeJsonString(w, n.link);
  if (n.clickTrackers.size > 0) {
    w.ascii(",\"clicktrackers\":");
    writeStringArray(w, n.clickTrackers);
  }
  w.byte(0x7d);
  if (n.impTrackers.size > 0) {
    if (v12 && req.hasEventTrackers && req.impressionPixel) {
      w.ascii(",\"eventtrackers\":[");
      const items = n.impTrackers.items;
      for (let i = 0; i < items.length; i++) {
        if (i > 0) w.byte(0x2c);
        w.ascii("{\"event\":1,\"method\":1,\"url\":");
        writeJsonString(w, unchecked(items[i]));
        w.byte(0x7d);
      }
      w.byte(0x5d);
    } else {
      w.ascii(",\"imptrackers\":");
      writeStringArray(w, n.impTrackers);
    }
  }
  if (v12 && req.privacy && n.privacy.len > 0) {
    w.ascii(",\"privacy\":");
    writeJsonString(w, n.privacy);
  }
  w.ascii(v12 ? "}" : "}}");
}

/** `"type":N,`: 1.2 repeats an image's or a data value's type in the response. */
function writeTypeMember(w: ByteWriter, type: i32): void {
  w.ascii("\"type\":");
  w.i64(type);
  w.byte(0x2c);
}
