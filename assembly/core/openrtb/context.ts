/** Who and where: site/app, device, geo, user, regs, source of the BidRequest. */
import { Str } from "../bytes/str";
import { IntList, StrList } from "../json/lists";
import { MAX_CATS, MAX_INT_LIST, MAX_KEYWORDS, MAX_SCHAIN_NODES, UNSET } from "./limits";

export class Publisher {
  present: bool = false;
  readonly id: Str = new Str();
  readonly name: Str = new Str();
  readonly domain: Str = new Str();

  reset(): void {
    this.present = false;
    this.id.clear();
    this.name.clear();
    this.domain.clear();
  }
}

export class Site {
  present: bool = false;
  readonly id: Str = new Str();
  readonly name: Str = new Str();
  readonly domain: Str = new Str();
  readonly page: Str = new Str();
  readonly ref: Str = new Str();
  readonly cat: StrList = new StrList(MAX_CATS);
  /** 0/1, UNSET when not given. */
  mobile: i32 = UNSET;
  readonly publisher: Publisher = new Publisher();

  reset(): void {
    this.present = false;
    this.id.clear();
    this.name.clear();
    this.domain.clear();
    this.page.clear();
    this.ref.clear();
    this.cat.reset();
    this.mobile = UNSET;
    this.publisher.reset();
  }
}

export class App {
  present: bool = false;
  readonly id: Str = new Str();
  readonly name: Str = new Str();
  readonly bundle: Str = new Str();
  readonly domain: Str = new Str();
  readonly storeurl: Str = new Str();
  readonly ver: Str = new Str();
  readonly cat: StrList = new StrList(MAX_CATS);
  readonly publisher: Publisher = new Publisher();

  reset(): void {
    this.present = false;
    this.id.clear();
    this.name.clear();
    this.bundle.clear();
    this.domain.clear();
    this.storeurl.clear();
    this.ver.clear();
    this.cat.reset();
    this.publisher.reset();
  }
}

export class Geo {
  present: bool = false;
  /** Only meaningful when hasLat / hasLon (0,0 is a real place). */
  lat: f64 = 0;
  lon: f64 = 0;
  hasLat: bool = false;
  hasLon: bool = false;
  /** Location source (1 GPS, 2 IP, 3 user), 0 = not given. */
  type: i32 = 0;
  /** ISO-3166-1 alpha-3 in OpenRTB ("USA"). */
  readonly country: Str = new Str();
  readonly region: Str = new Str();
  readonly city: Str = new Str();
  readonly zip: Str = new Str();
  readonly metro: Str = new Str();
  /** Minutes from UTC; only meaningful when hasUtcoffset. */
  utcoffset: i32 = 0;
  hasUtcoffset: bool = false;

  reset(): void {
    this.present = false;
    this.lat = 0;
    this.lon = 0;
    this.hasLat = false;
    this.hasLon = false;
    this.type = 0;
    this.country.clear();
    this.region.clear();
    this.city.clear();
    this.zip.clear();
    this.metro.clear();
    this.utcoffset = 0;
    this.hasUtcoffset = false;
  }
}

export class Device {
  present: bool = false;
  readonly ua: Str = new Str();
  readonly ip: Str = new Str();
  readonly ipv6: Str = new Str();
  readonly make: Str = new Str();
  readonly model: Str = new Str();
  readonly os: Str = new Str();
  readonly osv: Str = new Str();
  readonly language: Str = new Str();
  readonly ifa: Str = new Str();
  /** OpenRTB device type (1 mobile/tablet, 2 PC, 3 CTV, 4 phone, 5 tablet, 6 connected, 7 STB), 0 = not given. */
  devicetype: i32 = 0;
  /** 0/1, UNSET when not given. */
  js: i32 = UNSET;
  dnt: i32 = UNSET;
  lmt: i32 = UNSET;
  /**
   * device.ext.atts, iOS App Tracking Transparency status (0 not determined, 1 restricted, 2
   * denied, 3 authorized), UNSET when not given.
   */
  atts: i32 = UNSET;
  connectiontype: i32 = 0;
  w: i32 = 0;
  h: i32 = 0;
  readonly geo: Geo = new Geo();

  reset(): void {
    this.present = false;
    this.ua.clear();
    this.ip.clear();
    this.ipv6.clear();
    this.make.clear();
    this.model.clear();
    this.os.clear();
    this.osv.clear();
    this.language.clear();
    this.ifa.clear();
    this.devicetype = 0;
    this.js = UNSET;
    this.dnt = UNSET;
    this.lmt = UNSET;
    this.atts = UNSET;
    this.connectiontype = 0;
    this.w = 0;
    this.h = 0;
    this.geo.reset();
  }
}

/** One user.data[].segment[] entry, flattened onto the request with its data provider. */
export class Segment {
  readonly id: Str = new Str();
  readonly name: Str = new Str();
  readonly value: Str = new Str();
  /** id of the user.data object the segment came from. */
  readonly dataId: Str = new Str();
  /** Index of that user.data object. */
  dataIndex: i32 = 0;

  reset(): void {
    this.id.clear();
    this.name.clear();
    this.value.clear();
    this.dataId.clear();
    this.dataIndex = 0;
  }
}

export class User {
  present: bool = false;
  readonly id: Str = new Str();
  readonly buyeruid: Str = new Str();
  readonly gender: Str = new Str();
  readonly keywords: Str = new Str();
  /**
   * 2.6 user.kwarray (keywords as a list); also where user.keywords goes when an exchange sends
   * it as an array (a type slip, FieldReader.tolerant).
   */
  readonly kwarray: StrList = new StrList(MAX_KEYWORDS);
  /** Year of birth, 0 = not given. */
  yob: i32 = 0;
  readonly geo: Geo = new Geo();
  /** 2.6 user.consent (TCF string). */
  readonly consent: Str = new Str();
  /** 2.5 user.ext.consent. */
  readonly extConsent: Str = new Str();
  /** Number of user.data objects (their segments are on BidRequest.segments). */
  dataTotal: i32 = 0;

  /** The TCF consent string: 2.6 user.consent, else 2.5 user.ext.consent. */
  get effectiveConsent(): Str {
    return this.consent.len > 0 ? this.consent : this.extConsent;
  }

  reset(): void {
    this.present = false;
    this.id.clear();
    this.buyeruid.clear();
    this.gender.clear();
    this.keywords.clear();
    this.kwarray.reset();
    this.yob = 0;
    this.geo.reset();
    this.consent.clear();
    this.extConsent.clear();
    this.dataTotal = 0;
  }
}

export class Regs {
  present: bool = false;
  /** 0/1, UNSET when not given. */
  coppa: i32 = UNSET;
  /** 2.6 regs.gdpr: 0/1, UNSET when not given. */
  gdpr: i32 = UNSET;
  /** 2.5 regs.ext.gdpr: 0/1, UNSET when not given. */
  extGdpr: i32 = UNSET;
  /** 2.6 regs.us_privacy (CCPA string). */
  readonly usPrivacy: Str = new Str();
  /** 2.5 regs.ext.us_privacy. */
  readonly extUsPrivacy: Str = new Str();
  /** 2.6 regs.gpp: the Global Privacy Platform string. */
  readonly gpp: Str = new Str();
  /** 2.6 regs.gpp_sid: the sections of it that apply (-1: none). */
  readonly gppSid: IntList = new IntList(MAX_INT_LIST);
  /** 2.5 regs.ext.gpp and regs.ext.gpp_sid (the IAB's interim extension, as Prebid sends them). */
  readonly extGpp: Str = new Str();
  readonly extGppSid: IntList = new IntList(MAX_INT_LIST);
  /**
   * regs.ext.dsa.dsarequired (IAB DSA Transparency extension): 0 not required, 1 supported, 2
   * required (bids without bid.ext.dsa are refused), 3 required, the publisher is an online
   * platform; UNSET when not given.
   */
  dsaRequired: i32 = UNSET;
  /** regs.ext.dsa.pubrender: 0 the publisher cannot render the DSA notice, 1 could, 2 will; UNSET when not given. */
  dsaPubRender: i32 = UNSET;

  /** GDPR applies (1), does not (0), or UNSET: 2.6 regs.gdpr, else 2.5 regs.ext.gdpr. */
  get effectiveGdpr(): i32 {
    return this.gdpr != UNSET ? this.gdpr : this.extGdpr;
  }

  /** CCPA string: 2.6 regs.us_privacy, else 2.5 regs.ext.us_privacy. */
  get effectiveUsPrivacy(): Str {
    return this.usPrivacy.len > 0 ? this.usPrivacy : this.extUsPrivacy;
  }

  /** The GPP string: 2.6 regs.gpp, else 2.5 regs.ext.gpp. */
  get effectiveGpp(): Str {
    return this.gpp.len > 0 ? this.gpp : this.extGpp;
  }

  /**
   * Its applicable sections: those sent with the string that is used. With no string at all,
   * whichever list was sent (2.6 first): ids that name an applicable section without its string
   * are a signal that cannot be read, not the absence of one, wherever the exchange put them.
   */
  get effectiveGppSid(): IntList {
    if (this.gpp.len > 0) return this.gppSid;
    if (this.extGpp.len > 0) return this.extGppSid;
    return this.gppSid.count > 0 || this.gppSid.truncated ? this.gppSid : this.extGppSid;
  }

  reset(): void {
    this.present = false;
    this.coppa = UNSET;
    this.gdpr = UNSET;
    this.extGdpr = UNSET;
    this.usPrivacy.clear();
    this.extUsPrivacy.clear();
    this.gpp.clear();
    this.gppSid.reset();
    this.extGpp.clear();
    this.extGppSid.reset();
    this.dsaRequired = UNSET;
    this.dsaPubRender = UNSET;
  }
}

/** A supply chain (source.schain in 2.6, source.ext.schain in 2.5): validated and counted, not stored. */
export class SupplyChain {
  present: bool = false;
  /** 0/1, UNSET when not given. */
  complete: i32 = UNSET;
  nodeCount: i32 = 0;
  readonly ver: Str = new Str();
  /**
   * nodes[i].asi (the advertising system's canonical domain) and nodes[i].sid (the seller's id
   * there) of the first MAX_SCHAIN_NODES nodes, index for index; empty when a node lacks one.
   */
  readonly asi: StrList = new StrList(MAX_SCHAIN_NODES);
  readonly sid: StrList = new StrList(MAX_SCHAIN_NODES);

  reset(): void {
    this.present = false;
    this.complete = UNSET;
    this.nodeCount = 0;
    this.ver.clear();
    this.asi.reset();
    this.sid.reset();
  }
}

export class Source {
  present: bool = false;
  readonly tid: Str = new Str();
  /** 0/1, UNSET when not given. */
  fd: i32 = UNSET;
  /** 2.6 source.schain. */
  readonly schain: SupplyChain = new SupplyChain();
  /** 2.5 source.ext.schain. */
  readonly extSchain: SupplyChain = new SupplyChain();

  /**
   * The supply chain: 2.6 source.schain, else 2.5 source.ext.schain (present = false if neither).
   * A 2.6 chain without nodes (`"schain":{}`) does not hide a 2.5 chain that has some.
   */
  get effectiveSchain(): SupplyChain {
    const s = this.schain;
    return s.present && (s.nodeCount > 0 || !this.extSchain.present) ? s : this.extSchain;
  }

  reset(): void {
    this.present = false;
    this.tid.clear();
    this.fd = UNSET;
    this.schain.reset();
    this.extSchain.reset();
  }
}
