/**
 * The OpenRTB 2.5/2.6 BidRequest as the bidder sees it: only the fields it
 * reads, in preallocated objects refilled for every request (reset() between
 * requests; the parser calls it).
 *
 * Conventions (details in README.md):
 * - strings are `Str` views (into the body or the parser's scratch arena),
 *   valid until the next parse; an empty Str means absent;
 * - optional objects have a `present` flag;
 * - integers default to 0 unless noted; flags for which 0 means something
 *   (secure, dnt, lmt, gdpr, coppa, ...) default to UNSET (-1);
 * - arrays have a fixed capacity: `count` elements kept, `total` seen.
 */
import { Str } from "../bytes/str";
import { StrList } from "../json/lists";
import { App, Device, Regs, Segment, Site, Source, User } from "./context";
import { Imp } from "./imp";
import { MAX_BLOCKED, MAX_CUR, MAX_IMPS, MAX_LANGS, MAX_SEATS, MAX_SEGMENTS } from "./limits";

export * from "./limits";
export { IntList, StrList } from "../json/lists";
export { Audio, Banner, Deal, Format, Imp, Native, Pmp, Video } from "./imp";
export { App, Device, Geo, Publisher, Regs, Segment, Site, Source, SupplyChain, User } from "./context";

export class BidRequest {
  readonly id: Str = new Str();
  readonly imps: StaticArray<Imp>;
  /** Imps kept (at most MAX_IMPS). */
  impCount: i32 = 0;
  /** Imps in the request; more than impCount means some were validated but ignored. */
  impCountTotal: i32 = 0;
  /** Both may be present (recorded as sent); normally exactly one is. */
  readonly site: Site = new Site();
  readonly app: App = new App();
  readonly device: Device = new Device();
  readonly user: User = new User();
  /** 0/1 (default 0). */
  test: i32 = 0;
  /** Auction type (default 2, second price). */
  at: i32 = 2;
  /** Time limit in ms, 0 = not given. */
  tmax: i32 = 0;
  /** The taxonomy of bcat and acat (AdCOM "Category Taxonomies"; default 1: IAB Content Category Taxonomy 1.0). */
  cattax: i32 = 1;
  /** Allowed advertiser categories (2.6; normally a request has bcat or acat, not both). */
  readonly acat: StrList = new StrList(MAX_BLOCKED);
  /** Languages a creative may be in (2.6): ISO 639-1 codes (wlang) or BCP 47 tags (wlangb). */
  readonly wlang: StrList = new StrList(MAX_LANGS);
  readonly wlangb: StrList = new StrList(MAX_LANGS);
  readonly cur: StrList = new StrList(MAX_CUR);
  readonly bcat: StrList = new StrList(MAX_BLOCKED);
  readonly badv: StrList = new StrList(MAX_BLOCKED);
  readonly bapp: StrList = new StrList(MAX_BLOCKED);
  readonly wseat: StrList = new StrList(MAX_SEATS);
  readonly bseat: StrList = new StrList(MAX_SEATS);
  readonly regs: Regs = new Regs();
  readonly source: Source = new Source();
  /** user.data[].segment[] flattened, in document order. */
  readonly segments: StaticArray<Segment>;
  segmentCount: i32 = 0;
  segmentTotal: i32 = 0;
  /** Strings cut to their byte limit during the parse. */
  truncatedStrings: i32 = 0;
  /** Arrays (imp, format, deals, segments, string and int lists) that had more elements than their capacity. */
  truncatedArrays: i32 = 0;
  /** Values of a type exchanges send in place of the right one, read as meant (FieldReader.tolerant). */
  coercedValues: i32 = 0;

  constructor() {
    const imps = new StaticArray<Imp>(MAX_IMPS);
    for (let i = 0; i < MAX_IMPS; i++) unchecked((imps[i] = new Imp()));
    this.imps = imps;
    const segments = new StaticArray<Segment>(MAX_SEGMENTS);
    for (let i = 0; i < MAX_SEGMENTS; i++) unchecked((segments[i] = new Segment()));
    this.segments = segments;
  }

  /** Imp i (0 <= i < impCount); a spare empty one otherwise (never traps). */
  imp(i: i32): Imp {
    if (i < 0 || i >= this.impCount) return NO_IMP;
    return unchecked(this.imps[i]);
  }

  /** Segment i (0 <= i < segmentCount); a spare empty one otherwise (never traps). */
  segment(i: i32): Segment {
    if (i < 0 || i >= this.segmentCount) return NO_SEGMENT;
    return unchecked(this.segments[i]);
  }

  /** Back to the state of a fresh object; cost proportional to what the last request used. */
  reset(): void {
    this.id.clear();
    for (let i = 0; i < this.impCount; i++) unchecked(this.imps[i]).reset();
    this.impCount = 0;
    this.impCountTotal = 0;
    this.site.reset();
    this.app.reset();
    this.device.reset();
    this.user.reset();
    this.test = 0;
    this.at = 2;
    this.tmax = 0;
    this.cattax = 1;
    this.acat.reset();
    this.wlang.reset();
    this.wlangb.reset();
    this.cur.reset();
    this.bcat.reset();
    this.badv.reset();
    this.bapp.reset();
    this.wseat.reset();
    this.bseat.reset();
    this.regs.reset();
    this.source.reset();
    for (let i = 0; i < this.segmentCount; i++) unchecked(this.segments[i]).reset();
    this.segmentCount = 0;
    this.segmentTotal = 0;
    this.truncatedStrings = 0;
    this.truncatedArrays = 0;
    this.coercedValues = 0;
  }
}

/** Only returned by out-of-range accessors; never filled. */
const NO_IMP = new Imp();
const NO_SEGMENT = new Segment();
