/**
 * The Native Ads request document (imp.native.request: IAB "OpenRTB Dynamic Native Ads" 1.0-1.2)
 * as the decision reads it: the assets a native ad must or may have, and how impressions may be
 * tracked. Read only when a campaign has native creatives (decision.ts), from the text the BidRequest
 * parser kept; a document it cannot read makes the impression unfit for native, never a 400 (the
 * rest of the request, e.g. a banner of the same impression, is still good).
 */
import { Str } from "../bytes/str";
import { FieldReader, FIELD_ERROR } from "../json/fields";
import { FieldTable } from "../json/field-table";
import { JsonError } from "../json/errors";
import { IntList, StrList } from "../json/lists";
import { MAX_INT_LIST, MAX_MIMES, MAX_NATIVE_REQUEST_BYTES, MAX_STRING_BYTES } from "./limits";

/** What a native request asset asks for (exactly one of title, img, video, data). */
export const ASSET_TITLE: i32 = 1;
export const ASSET_IMG: i32 = 2;
export const ASSET_VIDEO: i32 = 3;
export const ASSET_DATA: i32 = 4;

/** Native image asset types (Native 1.2 §7.5): 1 icon, 2 logo (1.0/1.1), 3 main image. */
export const IMG_ICON: i32 = 1;
export const IMG_LOGO: i32 = 2;
export const IMG_MAIN: i32 = 3;

/** The longest `ver` kept ("1.2"; a longer one is not a version this bidder knows). */
export const MAX_VER_BYTES: i32 = 16;

/** Assets kept per request; a longer list cannot be checked in full and fits no creative. */
export const MAX_NATIVE_ASSETS: i32 = 16;

const I32_MAX: i64 = 2147483647;

export class NativeAsset {
  id: i32 = 0;
  required: bool = false;
  /** ASSET_TITLE, ASSET_IMG, ASSET_VIDEO, ASSET_DATA; 0 while none was read. */
  kind: i32 = 0;
  /** Title, data: the longest text allowed (characters; 0: not limited). */
  len: i32 = 0;
  /** Image: IMG_* (0: not given); data: the data asset type (1 sponsored, 2 desc, ... 12 ctatext). */
  type: i32 = 0;
  /** Image: an exact size when only w/h are given, minimums when wmin/hmin are (0: not given). */
  w: i32 = 0;
  h: i32 = 0;
  wmin: i32 = 0;
  hmin: i32 = 0;
  /** Image, video: the media types the exchange takes (image: empty is any). */
  readonly mimes: StrList = new StrList(MAX_MIMES);
  /** Video: the player's durations (0: no bound) and VAST protocols, as an imp.video has them. */
  minduration: i32 = 0;
  maxduration: i32 = 0;
  readonly protocols: IntList = new IntList(MAX_INT_LIST);

  reset(): void {
    this.id = 0;
    this.required = false;
    this.kind = 0;
    this.len = 0;
    this.type = 0;
    this.w = 0;
    this.h = 0;
    this.wmin = 0;
    this.hmin = 0;
    this.mimes.reset();
    this.minduration = 0;
    this.maxduration = 0;
    this.protocols.reset();
  }
}

export class NativeRequest {
  /** The document was read without error (when false, nothing else is meaningful). */
  valid: bool = false;
  /**
   * Native 1.0/1.1 put the request under a root `"native"` key; the response then gets one too
   * (and `imptrackers`). 1.2 dropped the wrapper.
   */
  wrapped: bool = false;
  /**
   * `ver`, copied (at most MAX_VER_BYTES; longer: not kept): the markup is written after the next
   * impression's document was read, and a view of an escaped string would not last that long.
   */
  readonly ver: StaticArray<u8> = new StaticArray<u8>(MAX_VER_BYTES);
  verLen: i32 = 0;
  readonly assets: StaticArray<NativeAsset>;
  assetCount: i32 = 0;
  assetTotal: i32 = 0;
  /** 1.2 eventtrackers: impression events (1) may be tracked with an image pixel (method 1). */
  impressionPixel: bool = false;
  /** 1.2 eventtrackers were listed at all (else trackers go in imptrackers). */
  hasEventTrackers: bool = false;
  /** 1.2 `privacy`: the publisher renders the buyer's privacy notice link. */
  privacy: bool = false;

  constructor() {
    const a = new StaticArray<NativeAsset>(MAX_NATIVE_ASSETS);
    for (let i = 0; i < MAX_NATIVE_ASSETS; i++) unchecked((a[i] = new NativeAsset()));
    this.assets = a;
  }

  /** Asset i (0 <= i < assetCount); a spare empty one otherwise (never traps). */
  asset(i: i32): NativeAsset {
    if (i < 0 || i >= this.assetCount) return NO_ASSET;
    return unchecked(this.assets[i]);
  }

  reset(): void {
    this.valid = false;
    this.wrapped = false;
    this.verLen = 0;
    for (let i = 0; i < this.assetCount; i++) unchecked(this.assets[i]).reset();
    this.assetCount = 0;
    this.assetTotal = 0;
    this.impressionPixel = false;
    this.hasEventTrackers = false;
    this.privacy = false;
  }
}

const ROOT_FIELDS = new FieldTable(["native", "ver", "assets", "eventtrackers", "privacy"]);
const ASSET_FIELDS = new FieldTable(["id", "required", "title", "img", "video", "data"]);
const TITLE_FIELDS = new FieldTable(["len"]);
const IMG_FIELDS = new FieldTable(["type", "w", "h", "wmin", "hmin", "mimes"]);
const DATA_FIELDS = new FieldTable(["type", "len"]);
const VIDEO_FIELDS = new FieldTable(["mimes", "minduration", "maxduration", "protocols"]);
const TRACKER_FIELDS = new FieldTable(["event", "methods"]);

/** Native 1.2 §7.6 event type 1: impression; §7.7 method 1: image pixel. */
const EVENT_IMPRESSION: i32 = 1;
const METHOD_IMG: i32 = 1;

const SPARE_ASSET = new NativeAsset();
const NO_ASSET = new NativeAsset();

/**
 * Reads native request documents into a NativeRequest: no allocation, no trap on any input.
 * `errorMessage` says what was wrong with the last document that failed (JSON path and reason).
 */
export class NativeRequestParser {
  private readonly f: FieldReader = new FieldReader(MAX_NATIVE_REQUEST_BYTES, 16);
  private readonly methods: IntList = new IntList(MAX_INT_LIST);
  readonly errorMessage: Str = new Str();

  constructor() {
    // Exchanges make the same type slips here as in the bid request ("required": "1").
    this.f.tolerant = true;
  }

  /** Parses the document [ptr, ptr+len) into `out` (reset first); returns out.valid. */
  parse(ptr: usize, len: i32, out: NativeRequest): bool {
    out.reset();
    const f = this.f;
    f.reset(ptr, len);
    if (f.reader.atEnd()) f.fail(JsonError.EMPTY, "empty document");
    else if (readRoot(f, out, this.methods, true) && f.finish()) checkAssets(f, out);
    if (f.error != 0) {
      f.errorMessageInto(this.errorMessage);
      return false;
    }
    this.errorMessage.clear();
    out.valid = true;
    return true;
  }
}

function readRoot(f: FieldReader, out: NativeRequest, methods: IntList, top: bool): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(ROOT_FIELDS)) >= 0) {
    let ok = false;
    switch (k) {
      case 0: {
        // Native 1.0/1.1: {"native": {...the request...}}.
        if (!top) return f.fail(JsonError.INVALID_VALUE, "nested native object");
        out.wrapped = true;
        ok = readRoot(f, out, methods, false);
        break;
      }
      case 1: ok = readVersion(f, out); break;
      case 2: ok = readAssets(f, out); break;
      case 3: ok = readEventTrackers(f, out, methods); break;
      case 4: ok = f.readInt(0, 1); out.privacy = f.intValue == 1; break;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

const VER_READ = new Str();

/** `ver` copied into out.ver; one longer than MAX_VER_BYTES is read (validated) and not kept. */
function readVersion(f: FieldReader, out: NativeRequest): bool {
  if (!f.readString(VER_READ, MAX_STRING_BYTES)) return false;
  const n = VER_READ.len;
  out.verLen = n <= MAX_VER_BYTES ? n : 0;
  if (out.verLen > 0) memory.copy(changetype<usize>(out.ver), VER_READ.ptr, <usize>n);
  return true;
}

function readAssets(f: FieldReader, out: NativeRequest): bool {
  if (!f.beginArray()) return false;
  let i = 0;
  while (f.nextElement(i)) {
    let a = SPARE_ASSET;
    if (i < MAX_NATIVE_ASSETS) {
      a = unchecked(out.assets[i]);
      out.assetCount = i + 1;
    } else {
      SPARE_ASSET.reset();
    }
    if (!readAsset(f, a)) return false;
    f.endElement();
    i++;
  }
  if (f.failed) return false;
  out.assetTotal = i;
  return true;
}

function readAsset(f: FieldReader, a: NativeAsset): bool {
  if (!f.beginObject()) return false;
  let hasId = false;
  let k: i32;
  while ((k = f.nextField(ASSET_FIELDS)) >= 0) {
    let ok = false;
    if (k == 0) {
      ok = f.readInt(0, I32_MAX);
      a.id = <i32>f.intValue;
      hasId = true;
    } else if (k == 1) {
      ok = f.readInt(0, 1);
      a.required = f.intValue == 1;
    } else {
      // "An asset object may contain only one of title, img, data or video."
      if (a.kind != 0) return f.fail(JsonError.INVALID_VALUE, "more than one of title, img, video, data");
      a.kind = k == 2 ? ASSET_TITLE : k == 3 ? ASSET_IMG : k == 4 ? ASSET_VIDEO : ASSET_DATA;
      if (k == 2) ok = readTitle(f, a);
      else if (k == 3) ok = readImg(f, a);
      else if (k == 4) ok = readVideo(f, a);
      else ok = readData(f, a);
    }
    if (!ok) return false;
    f.endField();
  }
  if (k == FIELD_ERROR) return false;
  if (!hasId) return f.fail(JsonError.REQUIRED, "id: required");
  if (a.kind == 0) return f.fail(JsonError.REQUIRED, "no title, img, video or data");
  return true;
}

function readTitle(f: FieldReader, a: NativeAsset): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(TITLE_FIELDS)) >= 0) {
    if (!f.readInt(0, I32_MAX)) return false;
    a.len = <i32>f.intValue;
    f.endField();
  }
  return k != FIELD_ERROR;
}

function readImg(f: FieldReader, a: NativeAsset): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(IMG_FIELDS)) >= 0) {
    let ok: bool;
    if (k == 5) ok = f.readStringList(a.mimes, MAX_STRING_BYTES);
    else {
      ok = f.readInt(0, I32_MAX);
      const v = <i32>f.intValue;
      if (k == 0) a.type = v;
      else if (k == 1) a.w = v;
      else if (k == 2) a.h = v;
      else if (k == 3) a.wmin = v;
      else a.hmin = v;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

/** A video asset: the fields of a Video object a VAST ad is checked against (Native 1.2 §4.5). */
function readVideo(f: FieldReader, v: NativeAsset): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(VIDEO_FIELDS)) >= 0) {
    let ok: bool;
    if (k == 0) ok = f.readStringList(v.mimes, MAX_STRING_BYTES);
    else if (k == 3) ok = f.readIntList(v.protocols, 0, I32_MAX);
    else {
      ok = f.readInt(0, I32_MAX);
      if (k == 1) v.minduration = <i32>f.intValue;
      else v.maxduration = <i32>f.intValue;
    }
    if (!ok) return false;
    f.endField();
  }
  return k != FIELD_ERROR;
}

function readData(f: FieldReader, a: NativeAsset): bool {
  if (!f.beginObject()) return false;
  let k: i32;
  while ((k = f.nextField(DATA_FIELDS)) >= 0) {
    if (!f.readInt(0, I32_MAX)) return false;
    if (k == 0) a.type = <i32>f.intValue;
    else a.len = <i32>f.intValue;
    f.endField();
  }
  return k != FIELD_ERROR;
}

/** eventtrackers: [{"event": 1, "methods": [1, 2]}, ...]: whether impressions may be tracked by an image pixel. */
function readEventTrackers(f: FieldReader, out: NativeRequest, methods: IntList): bool {
  if (!f.beginArray()) return false;
  out.hasEventTrackers = true;
  let i = 0;
  while (f.nextElement(i)) {
    if (!f.beginObject()) return false;
    let event = 0;
    methods.reset();
    let k: i32;
    while ((k = f.nextField(TRACKER_FIELDS)) >= 0) {
      let ok: bool;
      if (k == 0) {
        ok = f.readInt(0, I32_MAX);
        event = <i32>f.intValue;
      } else ok = f.readIntList(methods, 0, I32_MAX);
      if (!ok) return false;
      f.endField();
    }
    if (k == FIELD_ERROR) return false;
    if (event == EVENT_IMPRESSION && methods.contains(METHOD_IMG)) out.impressionPixel = true;
    f.endElement();
    i++;
  }
  return !f.failed;
}

/** Every asset has its own id: the response names the asset it fills by it. */
function checkAssets(f: FieldReader, out: NativeRequest): void {
  if (out.assetTotal == 0) {
    f.fail(JsonError.REQUIRED, "assets: required");
    return;
  }
  for (let i = 1; i < out.assetCount; i++) {
    const id = out.asset(i).id;
    for (let j = 0; j < i; j++) {
      if (out.asset(j).id == id) {
        f.fail(JsonError.DUPLICATE_VALUE, "assets: an id repeats");
        return;
      }
    }
  }
}
