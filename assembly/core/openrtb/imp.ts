/** The impression side of the BidRequest: Imp and its media objects, Pmp and deals. */
import { Str } from "../bytes/str";
import { IntList, StrList } from "../json/lists";
import { durationFloorIn } from "./durfloors";
import {
  MAX_DEAL_SEATS,
  MAX_DEALS,
  MAX_FORMATS,
  MAX_INT_LIST,
  MAX_MIMES,
  setDefaultCurrency,
  UNSET,
} from "./limits";

export class Format {
  w: i32 = 0;
  h: i32 = 0;

  reset(): void {
    this.w = 0;
    this.h = 0;
  }
}

export class Banner {
  present: bool = false;
  w: i32 = 0;
  h: i32 = 0;
  readonly formats: StaticArray<Format>;
  formatCount: i32 = 0;
  formatTotal: i32 = 0;
  /** Ad position (0 = unknown). */
  pos: i32 = 0;
  readonly btype: IntList = new IntList(MAX_INT_LIST);
  readonly battr: IntList = new IntList(MAX_INT_LIST);
  readonly api: IntList = new IntList(MAX_INT_LIST);

  constructor() {
    const formats = new StaticArray<Format>(MAX_FORMATS);
    for (let i = 0; i < MAX_FORMATS; i++) unchecked((formats[i] = new Format()));
    this.formats = formats;
  }

  /** Format i (0 <= i < formatCount); a spare empty one otherwise (never traps). */
  format(i: i32): Format {
    if (i < 0 || i >= this.formatCount) return NO_FORMAT;
    return unchecked(this.formats[i]);
  }

  /**
   * True when w x h is a size the slot permits: one of its formats (OpenRTB 2.5/2.6 §3.2.6:
   * "the banner sizes permitted"), or its own w x h when it lists none.
   */
  hasSize(w: i32, h: i32): bool {
    if (this.w == w && this.h == h && this.ownSizePermitted()) return true;
    return this.inFormats(w, h);
  }

  /**
   * The banner's own w x h may be bid: it lists no format, or lists it among them (or more
   * formats than the parser keeps, or a flexible one by ratio, which this reader does not
   * evaluate: either may permit it). An exchange that enforces format would refuse a creative of
   * another size.
   */
  ownSizePermitted(): bool {
    if (this.formatTotal == 0 || this.formatTotal > this.formatCount) return true;
    for (let i = 0; i < this.formatCount; i++) {
      const f = unchecked(this.formats[i]);
      if ((f.w == this.w && f.h == this.h) || f.w == 0 || f.h == 0) return true;
    }
    return false;
  }

  private inFormats(w: i32, h: i32): bool {
    for (let i = 0; i < this.formatCount; i++) {
      const f = unchecked(this.formats[i]);
      if (f.w == w && f.h == h) return true;
    }
    return false;
  }

  reset(): void {
    this.present = false;
    this.w = 0;
    this.h = 0;
    for (let i = 0; i < this.formatCount; i++) unchecked(this.formats[i]).reset();
    this.formatCount = 0;
    this.formatTotal = 0;
    this.pos = 0;
    this.btype.reset();
    this.battr.reset();
    this.api.reset();
  }
}

/**
 * The durfloors of a video or audio slot, or of a deal (OpenRTB 2.6-202309): the array's text,
 * which the parser has validated, read again for a creative's duration (durfloors.ts). Kept as a
 * pointer and a length in the slot or deal itself: 16 imps × 16 deals each holding room for
 * entries, or even a view object, would cost the VM memory few requests use.
 */
export class DurFloorsText {
  durfloorsPtr: usize = 0;
  /** 0: none sent. */
  durfloorsLen: i32 = 0;

  /**
   * The floor (CPM, in the floor currency) for an ad of `dur` seconds: the highest bidfloor of
   * the entries whose mindur–maxdur (inclusive, a missing end unbounded) holds it; 0 when none
   * does (the other floors apply); -1 when the text cannot be read again (only a key with an
   * escape longer than the reader's scratch, durfloors.ts: the decision then makes no media bid).
   */
  durationFloor(dur: i32): f64 {
    return this.durfloorsLen == 0 ? 0 : durationFloorIn(this.durfloorsPtr, this.durfloorsLen, dur);
  }

  clearDurfloors(): void {
    this.durfloorsPtr = 0;
    this.durfloorsLen = 0;
  }
}

/**
 * What a video and an audio object share: the player's media types, durations, protocols, the
 * exchange's rules for a creative, a price per second and the ad pod (OpenRTB 2.6).
 */
export class MediaSlot extends DurFloorsText {
  present: bool = false;
  readonly mimes: StrList = new StrList(MAX_MIMES);
  minduration: i32 = 0;
  maxduration: i32 = 0;
  readonly protocols: IntList = new IntList(MAX_INT_LIST);
  /** Blocked creative attributes (OpenRTB "Creative Attributes"). */
  readonly battr: IntList = new IntList(MAX_INT_LIST);
  /** Supported API frameworks (AdCOM "API Frameworks"). */
  readonly api: IntList = new IntList(MAX_INT_LIST);
  /** 2.6: the only durations (seconds) an ad may have; empty: minduration-maxduration decide. */
  readonly rqddurs: IntList = new IntList(MAX_INT_LIST);
  /** 2.6: the lowest price per second of the ad, CPM in bidfloorcur (0 = not given). */
  mincpmpersec: f64 = 0;
  /** 2.6: the ad pod (commercial break) this slot is in; empty: not in a pod. */
  readonly podid: Str = new Str();

  reset(): void {
    this.present = false;
    this.clearDurfloors();
    this.mimes.reset();
    this.minduration = 0;
    this.maxduration = 0;
    this.protocols.reset();
    this.battr.reset();
    this.api.reset();
    this.rqddurs.reset();
    this.mincpmpersec = 0;
    this.podid.clear();
  }
}

export class Video extends MediaSlot {
  w: i32 = 0;
  h: i32 = 0;
  placement: i32 = 0;
  /** 2.6 plcmt (0 = not given). */
  plcmt: i32 = 0;
  linearity: i32 = 0;
  /** Only meaningful when hasStartdelay: 0 is pre-roll, -1/-2 generic mid/post-roll. */
  startdelay: i32 = 0;
  hasStartdelay: bool = false;
  /** 0/1, UNSET when not given. */
  skip: i32 = UNSET;
  /** With skip 1: only ads longer than this many seconds may be skipped (0: any). */
  skipmin: i32 = 0;
  /** 2.6 dynamic pod: the seconds the whole pod lasts (0: not given); no ad of it can be longer. */
  poddur: i32 = 0;
  /** video.ext.rewarded = 1 (how some SDK exchanges mark rewarded video before 2.6's imp.rwdd). */
  extRewarded: bool = false;

  reset(): void {
    super.reset();
    this.extRewarded = false;
    this.w = 0;
    this.h = 0;
    this.placement = 0;
    this.plcmt = 0;
    this.linearity = 0;
    this.startdelay = 0;
    this.hasStartdelay = false;
    this.skip = UNSET;
    this.skipmin = 0;
    this.poddur = 0;
  }
}

export class Native {
  present: bool = false;
  /** The native request document, kept as text (not parsed): the string, or the object's raw JSON. */
  readonly request: Str = new Str();
  readonly ver: Str = new Str();
  readonly api: IntList = new IntList(MAX_INT_LIST);
  readonly battr: IntList = new IntList(MAX_INT_LIST);

  reset(): void {
    this.present = false;
    this.request.clear();
    this.ver.clear();
    this.api.reset();
    this.battr.reset();
  }
}

export class Audio extends MediaSlot {}

export class Deal extends DurFloorsText {
  readonly id: Str = new Str();
  /** foldedHash of the id, once asked for this request (deals.ts: looked up in every campaign's deals). */
  idHash: u32 = 0;
  idHashed: bool = false;
  bidfloor: f64 = 0;
  /** "USD" unless given (see hasBidfloorcur). */
  readonly bidfloorcur: Str = new Str();
  hasBidfloorcur: bool = false;
  /** Auction type override, 0 = not given (inherit the request's). */
  at: i32 = 0;
  readonly wseat: StrList = new StrList(MAX_DEAL_SEATS);
  readonly wadomain: StrList = new StrList(MAX_DEAL_SEATS);
  /** 2.6 (202309): the deal's lowest price per second of a video or audio ad, CPM in bidfloorcur (0: not given). */
  mincpmpersec: f64 = 0;
  constructor() {
    super();
    setDefaultCurrency(this.bidfloorcur);
  }

  reset(): void {
    this.id.clear();
    this.idHashed = false;
    this.bidfloor = 0;
    setDefaultCurrency(this.bidfloorcur);
    this.hasBidfloorcur = false;
    this.at = 0;
    this.wseat.reset();
    this.wadomain.reset();
    this.mincpmpersec = 0;
    this.clearDurfloors();
  }
}

export class Pmp {
  present: bool = false;
  privateAuction: i32 = 0;
  readonly deals: StaticArray<Deal>;
  dealCount: i32 = 0;
  dealTotal: i32 = 0;

  constructor() {
    const deals = new StaticArray<Deal>(MAX_DEALS);
    for (let i = 0; i < MAX_DEALS; i++) unchecked((deals[i] = new Deal()));
    this.deals = deals;
  }

  /** Deal i (0 <= i < dealCount); a spare empty one otherwise (never traps). */
  deal(i: i32): Deal {
    if (i < 0 || i >= this.dealCount) return NO_DEAL;
    return unchecked(this.deals[i]);
  }

  reset(): void {
    this.present = false;
    this.privateAuction = 0;
    for (let i = 0; i < this.dealCount; i++) unchecked(this.deals[i]).reset();
    this.dealCount = 0;
    this.dealTotal = 0;
  }
}

export class Imp {
  readonly id: Str = new Str();
  readonly banner: Banner = new Banner();
  readonly video: Video = new Video();
  readonly native: Native = new Native();
  readonly audio: Audio = new Audio();
  bidfloor: f64 = 0;
  /** "USD" unless given (see hasBidfloorcur). */
  readonly bidfloorcur: Str = new Str();
  hasBidfloorcur: bool = false;
  readonly tagid: Str = new Str();
  /** 0/1, UNSET when not given. */
  secure: i32 = UNSET;
  instl: i32 = 0;
  readonly pmp: Pmp = new Pmp();
  /** 2.6 rewarded flag. */
  rwdd: i32 = 0;
  /** imp.ext.is_rewarded_inventory or imp.ext.rewarded = 1 (2.5 exchanges' rewarded flags). */
  extRewarded: bool = false;
  /** 2.6 advisory seconds between auction and impression, 0 = not given. */
  exp: i32 = 0;

  constructor() {
    setDefaultCurrency(this.bidfloorcur);
  }

  reset(): void {
    this.id.clear();
    this.banner.reset();
    this.video.reset();
    this.native.reset();
    this.audio.reset();
    this.bidfloor = 0;
    setDefaultCurrency(this.bidfloorcur);
    this.hasBidfloorcur = false;
    this.tagid.clear();
    this.secure = UNSET;
    this.instl = 0;
    this.pmp.reset();
    this.rwdd = 0;
    this.extRewarded = false;
    this.exp = 0;
  }

  /**
   * The user is rewarded for viewing the ad: 2.6 imp.rwdd, or the flags 2.5 exchanges and SDK
   * mediation send instead (imp.ext.is_rewarded_inventory, imp.ext.rewarded, video.ext.rewarded).
   */
  get rewarded(): bool {
    return this.rwdd == 1 || this.extRewarded || (this.video.present && this.video.extRewarded);
  }
}

/** Only returned by out-of-range accessors; never filled. */
const NO_FORMAT = new Format();
const NO_DEAL = new Deal();
