// Hashed features of one impression: "field=value" strings hashed with
// murmur3_32 (seed 0) into 2^hashBits buckets, without building any string:
// the hash state after each constant "field=" prefix is computed once and the
// value bytes are hashed straight from the request body. The trainer runs this
// same compiled function on requests built from logs, so both sides agree.
// Field list and mapping from iPinYou logs: docs/FEATURES.md.
import { Murmur3Stream } from "../hash/murmur3";
import { Str } from "../bytes/str";
import { BidRequest, Imp } from "../openrtb/request";
import { FeatureVector } from "./feature-vector";
import { classifyOs, classifyBrowser } from "./user-agent";
import { weekdayOf, hourOf } from "./time";
import {
  FLOOR_BUCKETS,
  decimalHashes,
  floorBucketIndex,
  hashDecimal,
  nameHashes,
  uaClassHashes,
  uaClassIndex,
} from "./constant-hashes";

export const FEATURE_SEED: u32 = 0;
/** Segment features kept per request (user.data[].segment[].id). */
export const MAX_SEGMENT_FEATURES: i32 = 48;

function prefixState(name: string): Murmur3Stream {
  const s = new Murmur3Stream();
  s.reset(FEATURE_SEED);
  s.updateAscii(name);
  s.updateByte(0x3d); // '='
  return s;
}

export class FeatureExtractor {
  readonly mask: u32;
  private readonly st: Murmur3Stream = new Murmur3Stream();
  private readonly pWeekday: Murmur3Stream = prefixState("weekday");
  private readonly pHour: Murmur3Stream = prefixState("hour");
  private readonly pUa: Murmur3Stream = prefixState("ua");
  private readonly pIp: Murmur3Stream = prefixState("ip");
  private readonly pRegion: Murmur3Stream = prefixState("region");
  private readonly pCity: Murmur3Stream = prefixState("city");
  private readonly pCountry: Murmur3Stream = prefixState("country");
  private readonly pPub: Murmur3Stream = prefixState("pub");
  private readonly pDomain: Murmur3Stream = prefixState("domain");
  private readonly pUrl: Murmur3Stream = prefixState("url");
  private readonly pSlot: Murmur3Stream = prefixState("slot");
  private readonly pSize: Murmur3Stream = prefixState("size");
  private readonly pPos: Murmur3Stream = prefixState("pos");
  private readonly pFloor: Murmur3Stream = prefixState("floor");
  private readonly pTag: Murmur3Stream = prefixState("tag");
  private readonly pDev: Murmur3Stream = prefixState("dev");
  // Finished hashes of the features with a fixed list of values (constant-hashes.ts).
  private readonly weekdayHashes: StaticArray<u32> = decimalHashes(this.pWeekday, 7);
  private readonly hourHashes: StaticArray<u32> = decimalHashes(this.pHour, 24);
  private readonly uaHashes: StaticArray<u32> = uaClassHashes(this.pUa);
  private readonly floorHashes: StaticArray<u32> = nameHashes(this.pFloor, FLOOR_BUCKETS);

  constructor(hashBits: i32) {
    this.mask = (<u32>1 << <u32>hashBits) - 1;
  }

  @inline private begin(prefix: Murmur3Stream): Murmur3Stream {
    this.st.copyFrom(prefix);
    return this.st;
  }

  @inline private emit(out: FeatureVector): void {
    out.push(this.st.finish() & this.mask);
  }

  private strFeature(prefix: Murmur3Stream, v: Str, out: FeatureVector): void {
    if (v.len == 0) return;
    this.begin(prefix).update(v.ptr, v.len);
    this.emit(out);
  }

  private intFeature(prefix: Murmur3Stream, v: i64, out: FeatureVector): void {
    hashDecimal(this.begin(prefix), v);
    this.emit(out);
  }

  /** intFeature() for a v whose hash is in `table` when 0 <= v < table.length. */
  @inline private smallIntFeature(prefix: Murmur3Stream, table: StaticArray<u32>, v: i32, out: FeatureVector): void {
    if (<u32>v < <u32>table.length) out.push(unchecked(table[v]) & this.mask);
    else this.intFeature(prefix, v, out);
  }

  /**
   * Features of `imp` in `req` at `timeMs` (epoch ms) seen in a UTC offset.
   * Appends to `out` (the caller resets it). Without `personal` (the user's
   * personal data may not be used: privacy/personal-data.ts) the user-level
   * features, ip and the user.data segments, are left out: a contextual bid.
   * `floorCpm`: the floor the `floor=` feature buckets (imp.bidfloor, or the decision's conversion
   * of it into the model's floor currency).
   */
  extract(req: BidRequest, imp: Imp, timeMs: i64, utcOffsetMinutes: i32, out: FeatureVector, personal: bool, floorCpm: f64): void {
    this.smallIntFeature(this.pWeekday, this.weekdayHashes, weekdayOf(timeMs, utcOffsetMinutes), out);
    this.smallIntFeature(this.pHour, this.hourHashes, hourOf(timeMs, utcOffsetMinutes), out);

    const dev = req.device;
    if (dev.present) {
      if (dev.ua.len > 0) {
        // "ua=<os>_<browser>"
        const ua = uaClassIndex(classifyOs(dev.ua.ptr, dev.ua.len), classifyBrowser(dev.ua.ptr, dev.ua.len));
        out.push(unchecked(this.uaHashes[ua]) & this.mask);
      }
      if (personal) this.ipFeature(dev.ip, dev.ipv6, out);
      if (dev.geo.present) {
        this.strFeature(this.pRegion, dev.geo.region, out);
        this.strFeature(this.pCity, dev.geo.city, out);
        this.strFeature(this.pCountry, dev.geo.country, out);
      }
      if (dev.devicetype > 0) this.intFeature(this.pDev, dev.devicetype, out);
    }

    if (req.site.present) {
      this.strFeature(this.pPub, req.site.publisher.id, out);
      this.strFeature(this.pDomain, req.site.domain, out);
      this.strFeature(this.pUrl, req.site.page, out);
    } else if (req.app.present) {
      this.strFeature(this.pPub, req.app.publisher.id, out);
      this.strFeature(this.pDomain, req.app.bundle, out);
    }

    this.strFeature(this.pSlot, imp.tagid, out);
    const b = imp.banner;
    if (b.present) {
      let w = b.w;
      let h = b.h;
      if ((w <= 0 || h <= 0) && b.formatCount > 0) {
        w = b.format(0).w;
        h = b.format(0).h;
      }
      if (w > 0 && h > 0) {
        const s = this.begin(this.pSize);
        hashDecimal(s, w);
        s.updateByte(0x78); // 'x'
        hashDecimal(s, h);
        this.emit(out);
      }
      if (b.pos > 0) this.intFeature(this.pPos, b.pos, out);
    }

    out.push(unchecked(this.floorHashes[floorBucketIndex(floorCpm)]) & this.mask);

    if (!personal) return;
    const n = req.segmentCount < MAX_SEGMENT_FEATURES ? req.segmentCount : MAX_SEGMENT_FEATURES;
    for (let i = 0; i < n; i++) this.strFeature(this.pTag, req.segment(i).id, out);
  }

  /** "ip=a.b.c.*" for IPv4 (the iPinYou logs mask the last octet); first four groups for IPv6. */
  private ipFeature(ip: Str, ipv6: Str, out: FeatureVector): void {
    if (ip.len > 0) {
      let dots = 0;
      let cut = -1;
      for (let i = 0; i < ip.len; i++) {
        if (ip.byteAt(i) == 0x2e) {
          dots++;
          if (dots == 3) {
            cut = i;
            break;
          }
        }
      }
      if (cut <= 0) return;
      const s = this.begin(this.pIp);
      s.update(ip.ptr, cut + 1);
      s.updateByte(0x2a); // '*'
      this.emit(out);
      return;
    }
    if (ipv6.len > 0) {
      let colons = 0;
      let cut = ipv6.len;
      for (let i = 0; i < ipv6.len; i++) {
        if (ipv6.byteAt(i) == 0x3a) {
          colons++;
          if (colons == 4) {
            cut = i;
            break;
          }
        }
      }
      const s = this.begin(this.pIp);
      s.update(ipv6.ptr, cut);
      s.updateAscii(":*");
      this.emit(out);
    }
  }
}
