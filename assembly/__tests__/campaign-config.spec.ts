// The campaign set parser (assembly/core/bidding/campaign-config.ts): a full
// valid document, defaults, and the exact text of every error (with its path).
import { CampaignConfigParser } from "../core/bidding/campaign-config";
import { Creative, CampaignTable } from "../core/bidding/campaign";
import { Str } from "../core/bytes/str";

const parser = new CampaignConfigParser();
let doc: ArrayBuffer = new ArrayBuffer(0);

function parse(json: string): CampaignTable | null {
  doc = String.UTF8.encode(json);
  return parser.parse(changetype<usize>(doc), doc.byteLength);
}

/** "OK" or the error text. */
function errorOf(json: string): string {
  const t = parse(json);
  if (t !== null) return "OK";
  return parser.error;
}

/** A document with one campaign whose members are `members` (JSON text without braces). */
function one(members: string): string {
  return '{"campaigns":[{' + members + "}]}";
}

const CR = '"creatives":[{"crid":"cr","w":300,"h":250}]';

function withTargeting(t: string): string {
  return one('"id":"c",' + CR + ',"targeting":{' + t + "}");
}

function strView(s: string): Str {
  const b = String.UTF8.encode(s);
  keep.push(b);
  const v = new Str();
  v.set(changetype<usize>(b), b.byteLength);
  return v;
}
const keep = new Array<ArrayBuffer>();

const FULL =
  '{"version":7,"campaigns":[' +
  '{"id":"c1","name":"Spring","active":false,"value_per_conversion_micros":5000000,"alpha":0.8,' +
  '"max_bid_cpm_micros":2500000,"market_price_cpm_micros":900000,"roi_factor":1.25,' +
  '"targeting":{"sizes":["300x250","728x90"],"device_types":[2,4,31],"countries":["USA","CAN"],"regions":["CA"],"metros":["803","501"],"zips":["94107"],' +
  '"domains_allow":["news.example"],"domains_block":["bad.example","worse.example"]},' +
  '"creatives":[{"crid":"cr-1","w":300,"h":250,"adm":"<a href=\\"x\\">ad</a>","adomain":["adv.example"],"cat":["IAB1","IAB2"]},' +
  '{"crid":"cr-2","w":728,"h":90}],' +
  '"budget":{"total_micros":100000000,"daily_micros":10000000,"hourly_micros":1000000,"minute_micros":50000}},' +
  '{"id":"c2","creatives":[{"crid":"x","w":1,"h":1}]}' +
  "]}";

describe("campaign config: valid documents", () => {
  it("reads every field", () => {
    const t = parse(FULL);
    expect(t).not.toBeNull();
    const table = t!;
    expect(table.version).toBe(7);
    expect(table.size).toBe(2);
    const c = table.at(0);
    expect(c.index).toBe(0);
    expect(c.id.toString()).toBe("c1");
    expect(c.active).toBe(false);
    expect(c.valuePerConversionMicros).toBe(5000000);
    expect(c.alpha).toBe(0.8);
    expect(c.maxBidCpmMicros).toBe(2500000);
    expect(c.marketPriceCpmMicros).toBe(900000);
    expect(c.roiFactor).toBe(1.25);
    expect(c.sizes.length).toBe(2);
    expect(c.sizes[0]).toBe((<u32>300 << 16) | 250);
    expect(c.sizes[1]).toBe((<u32>728 << 16) | 90);
    expect(c.deviceTypes).toBe((<u32>1 << 2) | (<u32>1 << 4) | (<u32>1 << 31));
    expect(c.countries.size).toBe(2);
    expect(c.countries.has(strView("CAN"))).toBe(true);
    expect(c.regions.has(strView("CA"))).toBe(true);
    expect(c.metros.size).toBe(2);
    expect(c.metros.has(strView("501"))).toBe(true);
    expect(c.zips.has(strView("94107"))).toBe(true);
    expect(c.zips.has(strView("94108"))).toBe(false);
    expect(c.countries.has(strView("MEX"))).toBe(false);
    expect(c.domainAllow.size).toBe(1);
    expect(c.domainBlock.size).toBe(2);
    expect(c.domainBlock.items[1].toString()).toBe("worse.example");
    expect(c.creatives.length).toBe(2);
    const cr = c.creatives[0];
    expect(cr.crid.toString()).toBe("cr-1");
    expect(cr.w).toBe(300);
    expect(cr.h).toBe(250);
    expect(cr.adm.toString()).toBe('<a href="x">ad</a>');
    expect(cr.adomain.size).toBe(1);
    expect(cr.adomain.items[0].toString()).toBe("adv.example");
    expect(cr.categories.length).toBe(1);
    expect(cr.categoriesIn(1)!.codes.size).toBe(2);
    expect(cr.categoriesIn(1)!.codes.items[1].toString()).toBe("IAB2");
    expect(c.creatives[1].crid.toString()).toBe("cr-2");
    expect(c.creatives[1].adm.len).toBe(0);
    expect(c.totalBudgetMicros).toBe(100000000);
    expect(c.dailyBudgetMicros).toBe(10000000);
    expect(c.hourlyBudgetMicros).toBe(1000000);
    expect(c.minuteBudgetMicros).toBe(50000);
  });

  it("applies defaults for omitted fields", () => {
    const c = parse(FULL)!.at(1);
    expect(c.index).toBe(1);
    expect(c.id.toString()).toBe("c2");
    expect(c.active).toBe(true);
    expect(c.valuePerConversionMicros).toBe(0);
    expect(c.alpha).toBe(1.0);
    expect(c.maxBidCpmMicros).toBe(0);
    expect(c.marketPriceCpmMicros).toBe(0);
    expect(c.roiFactor).toBe(1.0);
    expect(c.sizes.length).toBe(0);
    expect(c.deviceTypes).toBe(0);
    expect(c.countries.size).toBe(0);
    expect(c.domainAllow.size).toBe(0);
    expect(c.domainBlock.size).toBe(0);
    expect(c.totalBudgetMicros).toBe(0);
    expect(c.dailyBudgetMicros).toBe(0);
    expect(c.allowsSize(1, 1)).toBe(true);
    expect(c.allowsDeviceType(0)).toBe(true);
  });

  it("accepts an empty campaign list and a missing version", () => {
    const t = parse('{"campaigns":[]}');
    expect(t).not.toBeNull();
    expect(t!.size).toBe(0);
    expect(t!.version).toBe(0);
    expect(errorOf('  {"version":0,"campaigns":[]}\n')).toBe("OK");
  });

  it("accepts the size limits and leading zeros", () => {
    const t = parse(withTargeting('"sizes":["1x1","65535x65535","0300x0250"]'));
    expect(t).not.toBeNull();
    const c = t!.at(0);
    expect(c.sizes[0]).toBe((<u32>1 << 16) | 1);
    expect(c.sizes[1]).toBe(0xffffffff);
    expect(c.sizes[2]).toBe((<u32>300 << 16) | 250);
    expect(c.allowsSize(300, 250)).toBe(true);
    expect(c.allowsSize(250, 300)).toBe(false);
    expect(c.allowsSize(65535, 65535)).toBe(true);
  });

  it("accepts the money limits", () => {
    expect(errorOf(one('"id":"c",' + CR + ',"value_per_conversion_micros":0'))).toBe("OK");
    expect(errorOf(one('"id":"c",' + CR + ',"value_per_conversion_micros":1000000000000000'))).toBe("OK");
    expect(errorOf(one('"id":"c",' + CR + ',"alpha":0,"roi_factor":100'))).toBe("OK");
  });

  it("accepts a 64-byte id", () => {
    let id = "";
    for (let i = 0; i < 64; i++) id += "a";
    const t = parse(one('"id":"' + id + '",' + CR));
    expect(t).not.toBeNull();
    expect(t!.at(0).id.len).toBe(64);
  });
});

describe("campaign config: errors name the JSON path", () => {
  it("document shape", () => {
    expect(errorOf("[]")).toBe("$: expected object");
    expect(errorOf('{"version":1}')).toBe("$: campaigns: required");
    expect(errorOf('{"campaigns":{}}')).toBe("campaigns: expected array");
    expect(errorOf('{"campaigns":[1]}')).toBe("campaigns[0]: expected object");
    expect(errorOf('{"version":-1,"campaigns":[]}')).toBe("version: must be between 0 and 9223372036854775807");
    expect(errorOf('{"version":"1","campaigns":[]}')).toBe("version: expected integer");
  });

  it("unknown keys at every level", () => {
    expect(errorOf('{"campaigns":[],"extra":1}')).toBe("extra: unknown key");
    expect(errorOf(one('"id":"c",' + CR + ',"bid":1'))).toBe("campaigns[0].bid: unknown key");
    expect(errorOf(withTargeting('"geo":[]'))).toBe("campaigns[0].targeting.geo: unknown key");
    expect(errorOf(one('"id":"c","creatives":[{"crid":"cr","w":300,"h":250,"size":"300x250"}]'))).toBe(
      "campaigns[0].creatives[0].size: unknown key",
    );
    expect(errorOf(one('"id":"c",' + CR + ',"budget":{"weekly_micros":1}'))).toBe(
      "campaigns[0].budget.weekly_micros: unknown key",
    );
    // the path of the second campaign
    expect(errorOf('{"campaigns":[{"id":"a",' + CR + '},{"id":"b",' + CR + ',"Active":true}]}')).toBe(
      "campaigns[1].Active: unknown key",
    );
  });

  it("missing and duplicate ids", () => {
    expect(errorOf(one(CR))).toBe("campaigns[0]: id: required");
    expect(errorOf(one('"id":"",' + CR))).toBe("campaigns[0]: id: required");
    expect(errorOf('{"campaigns":[{"id":"a",' + CR + '},{"id":"b",' + CR + '},{"id":"a",' + CR + "}]}")).toBe(
      "campaigns[2]: duplicate campaign id",
    );
    let id = "";
    for (let i = 0; i < 65; i++) id += "a";
    expect(errorOf(one('"id":"' + id + '",' + CR))).toBe("campaigns[0].id: longer than 64 bytes");
    expect(errorOf(one('"id":7,' + CR))).toBe("campaigns[0].id: expected string");
  });

  it("creatives", () => {
    expect(errorOf(one('"id":"c"'))).toBe("campaigns[0]: creatives: at least one required");
    expect(errorOf(one('"id":"c","creatives":[]'))).toBe("campaigns[0]: creatives: at least one required");
    expect(errorOf(one('"id":"c","creatives":{}'))).toBe("campaigns[0].creatives: expected array");
    expect(errorOf(one('"id":"c","creatives":[{"w":300,"h":250}]'))).toBe(
      "campaigns[0].creatives[0]: crid, w and h are required",
    );
    expect(errorOf(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250},{"crid":"b","w":300}]'))).toBe(
      "campaigns[0].creatives[1]: crid, w and h are required",
    );
    expect(errorOf(one('"id":"c","creatives":[{"crid":"","w":300,"h":250}]'))).toBe(
      "campaigns[0].creatives[0]: crid, w and h are required",
    );
    expect(errorOf(one('"id":"c","creatives":[{"crid":"a","w":0,"h":250}]'))).toBe(
      "campaigns[0].creatives[0].w: must be between 1 and 65535",
    );
    expect(errorOf(one('"id":"c","creatives":[{"crid":"a","w":300,"h":65536}]'))).toBe(
      "campaigns[0].creatives[0].h: must be between 1 and 65535",
    );
    expect(errorOf(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250,"adomain":"x.example"}]'))).toBe(
      "campaigns[0].creatives[0].adomain: expected array",
    );
    expect(errorOf(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250,"cat":["IAB1",2]}]'))).toBe(
      "campaigns[0].creatives[0].cat[1]: expected string",
    );
  });

  it("creative bundle (the advertised app's store id) and targeting.rewarded", () => {
    const t = parse(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250,"bundle":"com.brand.game"}],"targeting":{"rewarded":true}'))!;
    expect(t.at(0).creatives[0].bundle.toString()).toBe("com.brand.game");
    expect(t.at(0).rewarded).toBe(1);
    expect(parse(withTargeting('"rewarded":false'))!.at(0).rewarded).toBe(0);
    expect(parse(withTargeting('"sizes":[]'))!.at(0).rewarded).toBe(-1);
    expect(parse(withTargeting('"interstitial":true'))!.at(0).interstitial).toBe(1);
    expect(parse(withTargeting('"sizes":[]'))!.at(0).interstitial).toBe(-1);
    expect(errorOf(withTargeting('"interstitial":"yes"'))).toBe("campaigns[0].targeting.interstitial: expected true or false");
    // Native app-install ads declare it too.
    expect(errorOf(one('"id":"c","creatives":[{"crid":"n","type":"native","bundle":"id1234567","title":"Play","link":"https://brand.example/"}]'))).toBe("OK");
    const bad = "campaigns[0].creatives[0].bundle: expected an app store id (\"com.brand.game\", \"1234567\"): printable ASCII, no spaces, quotes or backslashes";
    expect(errorOf(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250,"bundle":""}]'))).toBe(bad);
    expect(errorOf(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250,"bundle":"com brand"}]'))).toBe(bad);
    expect(errorOf(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250,"bundle":"a\\"b"}]'))).toBe(bad);
    expect(errorOf(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250,"bundle":7}]'))).toBe("campaigns[0].creatives[0].bundle: expected string");
    expect(errorOf(withTargeting('"rewarded":1'))).toBe("campaigns[0].targeting.rewarded: expected true or false");
  });

  it("creative categories: IAB 1.0 in cat, other taxonomies in cat_by_taxonomy", () => {
    const cr = (members: string): Creative => {
      const t = parse(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250' + members + "}]"));
      expect(t).not.toBeNull();
      return t!.at(0).creatives[0];
    };
    const both = cr(',"cat":["IAB3","IAB3-1"],"cat_by_taxonomy":{"7":["52","49"],"500":["x"]}');
    expect(both.categories.length).toBe(3);
    expect(both.categoriesIn(1)!.codes.size).toBe(2);
    expect(both.categoriesIn(7)!.codes.items[1].toString()).toBe("49");
    expect(both.categoriesIn(500)!.codes.size).toBe(1);
    expect(both.categoriesIn(6)).toBeNull();
    // An empty list declares no categories in that taxonomy (as if left out).
    const empty = cr(',"cat":[],"cat_by_taxonomy":{"7":[]}');
    expect(empty.categories.length).toBe(0);
    const errorFor = (members: string): string => errorOf(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250' + members + "}]"));
    expect(errorFor(',"cat_by_taxonomy":{"1":["IAB1"]}')).toBe(
      "campaigns[0].creatives[0].cat_by_taxonomy.1: IAB Content 1.0 categories go in cat",
    );
    for (let i = 0; i < 5; i++) {
      const key = ["0", "07", "x", "65536", ""][i];
      expect(errorFor(',"cat_by_taxonomy":{"' + key + '":["1"]}')).toBe(
        "campaigns[0].creatives[0].cat_by_taxonomy." + key + ": expected a taxonomy number 2-65535",
      );
    }
    expect(errorFor(',"cat_by_taxonomy":{"7":["1"],"7":["2"]}')).toBe("campaigns[0].creatives[0].cat_by_taxonomy.7: duplicate key");
    expect(errorFor(',"cat_by_taxonomy":{"7":"52"}')).toBe("campaigns[0].creatives[0].cat_by_taxonomy.7: expected array");
    expect(errorFor(',"cat_by_taxonomy":["52"]')).toBe("campaigns[0].creatives[0].cat_by_taxonomy: expected object");
    expect(errorFor(',"cat_by_taxonomy":{"7":["52","52"]}')).toBe("campaigns[0].creatives[0].cat_by_taxonomy.7[1]: duplicate category");
    expect(errorFor(',"cat":["IAB1",""]')).toBe("campaigns[0].creatives[0].cat[1]: empty category");
    // At most 64 per taxonomy (each is looked up in a request's bcat or acat); distinct ones past
    // 16 are checked for duplicates through the set's index.
    let cats = '"IAB1-1"';
    for (let i = 2; i <= 64; i++) cats += ',"IAB1-' + i.toString() + '"';
    expect(errorFor(',"cat":[' + cats + "]")).toBe("OK");
    expect(errorFor(',"cat":[' + cats + ',"IAB2"]')).toBe("campaigns[0].creatives[0].cat[64]: at most 64 categories per taxonomy");
    expect(errorFor(',"cat":[' + cats + ',"IAB1-40"]')).not.toBe("OK");
    expect(errorFor(',"cat_by_taxonomy":{"7":[' + cats + ',"IAB1-40"]}')).not.toBe("OK");
    let few = '"IAB1-1"';
    for (let i = 2; i <= 30; i++) few += ',"IAB1-' + i.toString() + '"';
    expect(errorFor(',"cat":[' + few + ',"IAB1-29"]')).toBe("campaigns[0].creatives[0].cat[30]: duplicate category");
  });

  it("supply-path rules: schain_complete (bool) and schain_max_nodes (1-100)", () => {
    const c = parse(one('"id":"c","targeting":{"schain_complete":true,"schain_max_nodes":3},"creatives":[{"crid":"a","w":300,"h":250}]'))!.at(0);
    expect(c.schainComplete).toBe(true);
    expect(c.schainMaxNodes).toBe(3);
    const plain = parse(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250}]'))!.at(0);
    expect(plain.schainComplete).toBe(false);
    expect(plain.schainMaxNodes).toBe(0);
    expect(errorOf(one('"id":"c","targeting":{"schain_max_nodes":0},"creatives":[{"crid":"a","w":300,"h":250}]'))).toBe(
      "campaigns[0].targeting.schain_max_nodes: must be between 1 and 100",
    );
    expect(errorOf(one('"id":"c","targeting":{"schain_complete":1},"creatives":[{"crid":"a","w":300,"h":250}]'))).toBe(
      "campaigns[0].targeting.schain_complete: expected true or false",
    );
  });

  it("supply-path seller rules: \"asi\" or \"asi:sid\" entries, asi lower-cased", () => {
    const c = parse(one('"id":"c","targeting":{"schain_sellers_allow":["SSP.example","ex.example:pub:7"],"schain_sellers_block":["bad.example"]},"creatives":[{"crid":"a","w":300,"h":250}]'))!.at(0);
    expect(c.sellersAllow.size).toBe(2);
    expect(c.sellersAllow.asi[0].toString()).toBe("ssp.example");
    expect(c.sellersAllow.sid[0]).toBeNull();
    expect(c.sellersAllow.asi[1].toString()).toBe("ex.example");
    expect(c.sellersAllow.sid[1]!.toString()).toBe("pub:7"); // split at the first ':'
    expect(c.sellersBlock.size).toBe(1);
    const rule = (list: string): string =>
      errorOf(one('"id":"c","targeting":{"schain_sellers_allow":' + list + '},"creatives":[{"crid":"a","w":300,"h":250}]'));
    expect(rule('[""]')).toBe('campaigns[0].targeting.schain_sellers_allow[0]: expected "asi" or "asi:sid" with a domain of 1-253 characters');
    expect(rule('["a.example",":7"]')).toBe('campaigns[0].targeting.schain_sellers_allow[1]: expected "asi" or "asi:sid" with a domain of 1-253 characters');
    expect(rule('["a.example:"]')).toBe("campaigns[0].targeting.schain_sellers_allow[0]: empty seller id after ':'");
    expect(rule('["a.example","A.example"]')).toBe("campaigns[0].targeting.schain_sellers_allow[1]: A.example is listed twice");
    expect(rule('["a.example:1","a.example:2","a.example"]')).toBe("OK");
    expect(rule('"a.example"')).toBe("campaigns[0].targeting.schain_sellers_allow: expected array");
    const many = new Array<string>();
    for (let i = 0; i < 257; i++) many.push('"s' + i.toString() + '.example"');
    expect(rule("[" + many.join(",") + "]")).toBe("campaigns[0].targeting.schain_sellers_allow[256]: more than 256 entries");
  });

  it("dayparting: targeting.hours 0-23 and weekdays 0-6, distinct, not empty", () => {
    const c = parse(one('"id":"c","targeting":{"hours":[0,9,23],"weekdays":[1,5]},"creatives":[{"crid":"a","w":300,"h":250}]'))!.at(0);
    expect(c.hours).toBe((1 << 0) | (1 << 9) | (1 << 23));
    expect(c.weekdays).toBe((1 << 1) | (1 << 5));
    expect(c.allowsTime(9, 5)).toBe(true);
    expect(c.allowsTime(10, 5)).toBe(false);
    expect(c.allowsTime(9, 0)).toBe(false);
    const any = parse(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250}]'))!.at(0);
    expect(any.allowsTime(13, 6)).toBe(true);
    const errorFor = (t: string): string => errorOf(one('"id":"c","targeting":{' + t + '},"creatives":[{"crid":"a","w":300,"h":250}]'));
    expect(errorFor('"hours":[24]')).toBe("campaigns[0].targeting.hours[0]: must be between 0 and 23");
    expect(errorFor('"weekdays":[7]')).toBe("campaigns[0].targeting.weekdays[0]: must be between 0 and 6");
    expect(errorFor('"hours":[3,3]')).toBe("campaigns[0].targeting.hours[1]: duplicate hour");
    expect(errorFor('"hours":[]')).toBe("campaigns[0].targeting.hours: empty: leave it out to bid at any hour");
    // The campaign's own clock for its dayparting: UTC-12 to UTC+14, only with hours or weekdays.
    const ny = parse(one('"id":"c","targeting":{"hours":[9],"daypart_utc_offset_minutes":-300},"creatives":[{"crid":"a","w":300,"h":250}]'))!.at(0);
    expect(ny.hasDaypartOffset).toBe(true);
    expect(ny.daypartOffsetMinutes).toBe(-300);
    expect(any.hasDaypartOffset).toBe(false);
    // Its hours on the budget's clock (pacing plans over them): 9 h in New York (UTC-5) is 14 h
    // UTC, 15 h at UTC+1, 23 h at UTC+9 and 4 h at UTC-10.
    expect(ny.budgetHoursMask(0)).toBe(1 << 14);
    expect(ny.budgetHoursMask(60)).toBe(1 << 15);
    expect(ny.budgetHoursMask(-300)).toBe(1 << 9);
    expect(ny.budgetHoursMask(540)).toBe(1 << 23);
    expect(ny.budgetHoursMask(-600)).toBe(1 << 4);
    expect(any.budgetHoursMask(0)).toBe(0xffffff);
    // No clock of its own: the users' clocks, taken as the budget's.
    const local = parse(one('"id":"c","targeting":{"hours":[0,23]},"creatives":[{"crid":"a","w":300,"h":250}]'))!.at(0);
    expect(local.budgetHoursMask(330)).toBe((1 << 0) | (1 << 23));
    expect(errorFor('"weekdays":[1],"daypart_utc_offset_minutes":840')).toBe("OK");
    expect(errorFor('"hours":[1],"daypart_utc_offset_minutes":-721')).toBe("campaigns[0].targeting.daypart_utc_offset_minutes: must be between -720 and 840");
    expect(errorFor('"daypart_utc_offset_minutes":60')).toBe("campaigns[0].targeting: daypart_utc_offset_minutes: needs hours or weekdays");
    // A zone (its offset set by the host) is named as the file wrote it.
    expect(errorFor('"daypart_time_zone":"Europe/Paris","daypart_utc_offset_minutes":60')).toBe("campaigns[0].targeting: daypart_time_zone: needs hours or weekdays");
    expect(errorFor('"weekdays":"1"')).toBe("campaigns[0].targeting.weekdays: expected array");
    // A time zone is the host's to resolve: the filter reads the offset the host sets beside it.
    expect(errorFor('"hours":[9],"daypart_time_zone":"America/New_York","daypart_utc_offset_minutes":-240')).toBe("OK");
    expect(errorFor('"hours":[9],"daypart_time_zone":"America/New_York"')).toBe(
      "campaigns[0].targeting: daypart_time_zone: needs the daypart_utc_offset_minutes the host sets from it (a set not published by the host?)",
    );
    expect(errorFor('"hours":[9],"daypart_time_zone":"","daypart_utc_offset_minutes":0')).toBe("campaigns[0].targeting.daypart_time_zone: empty");
    expect(errorFor('"hours":[9],"daypart_time_zone":5,"daypart_utc_offset_minutes":0')).toBe("campaigns[0].targeting.daypart_time_zone: expected string");
  });

  it("campaign dsa: behalf and paid (1-100 characters) required, adrender 0/1, an optional domain", () => {
    const c = parse(one('"id":"c","dsa":{"behalf":"Brand \\"B\\"","paid":"Agency","adrender":1,"domain":"dsp.example"},"creatives":[{"crid":"a","w":300,"h":250}]'))!.at(0);
    const dsa = c.dsa!;
    expect(dsa.behalf.toString()).toBe('Brand "B"');
    expect(dsa.paid.toString()).toBe("Agency");
    expect(dsa.adrender).toBe(1);
    expect(dsa.domain.toString()).toBe("dsp.example");
    const plain = parse(one('"id":"c","dsa":{"behalf":"B","paid":"P"},"creatives":[{"crid":"a","w":300,"h":250}]'))!.at(0).dsa!;
    expect(plain.adrender).toBe(0);
    expect(plain.domain.len).toBe(0);
    expect(parse(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250}]'))!.at(0).dsa).toBeNull();
    const errorFor = (dsa: string): string => errorOf(one('"id":"c","dsa":' + dsa + ',"creatives":[{"crid":"a","w":300,"h":250}]'));
    expect(errorFor('{"behalf":"B"}')).toBe("campaigns[0].dsa: behalf and paid are required");
    expect(errorFor('{"behalf":"","paid":"P"}')).toBe("campaigns[0].dsa.behalf: expected 1-100 characters");
    expect(errorFor('{"behalf":"' + "x".repeat(101) + '","paid":"P"}')).toBe("campaigns[0].dsa.behalf: expected 1-100 characters");
    expect(errorFor('{"behalf":"' + "x".repeat(100) + '","paid":"P"}')).toBe("OK");
    expect(errorFor('{"behalf":"B","paid":"P","adrender":2}')).toBe("campaigns[0].dsa.adrender: must be between 0 and 1");
    expect(errorFor('{"behalf":"B","paid":"P","domain":""}')).toBe("campaigns[0].dsa.domain: empty domain");
    expect(errorFor('{"behalf":"B","paid":"P","params":[1]}')).toBe("campaigns[0].dsa.params: unknown key");
    expect(errorFor('"B"')).toBe("campaigns[0].dsa: expected object");
  });

  it("frequency_caps: 1-4 caps, each its own window, all applied; not with frequency_cap", () => {
    const CR = ',"creatives":[{"crid":"a","w":300,"h":250}]';
    const t = parse(one('"id":"c","frequency_caps":[{"impressions":1,"seconds":3600},{"impressions":3,"seconds":86400}]' + CR))!;
    const c = t.at(0);
    expect(c.frequencyCaps).toBe(2);
    expect(c.capImpressions[0]).toBe(1);
    expect(c.capWindowMs[0]).toBe(3600000);
    expect(c.capImpressions[1]).toBe(3);
    expect(c.capWindowMs[1]).toBe(86400000);
    expect(t.frequencyCapped).toBe(true);
    const errorFor = (caps: string): string => errorOf(one('"id":"c",' + caps + CR));
    const cap = (n: i32, s: i32): string => '{"impressions":' + n.toString() + ',"seconds":' + s.toString() + "}";
    expect(errorFor('"frequency_caps":[' + cap(1, 60) + "," + cap(2, 120) + "," + cap(3, 180) + "," + cap(4, 240) + "]")).toBe("OK");
    expect(errorFor('"frequency_caps":[' + cap(1, 60) + "," + cap(2, 120) + "," + cap(3, 180) + "," + cap(4, 240) + "," + cap(5, 300) + "]")).toBe("campaigns[0].frequency_caps[4]: at most 4 caps");
    expect(errorFor('"frequency_caps":[]')).toBe("campaigns[0].frequency_caps: empty: leave it out for no cap");
    expect(errorFor('"frequency_caps":[' + cap(1, 60) + "," + cap(5, 60) + "]")).toBe("campaigns[0].frequency_caps[1]: a second cap of 60 seconds: one cap per window");
    expect(errorFor('"frequency_caps":[{"impressions":1}]')).toBe("campaigns[0].frequency_caps[0]: impressions and seconds are required");
    expect(errorFor('"frequency_cap":' + cap(1, 60) + ',"frequency_caps":[' + cap(2, 120) + "]")).toBe("campaigns[0].frequency_caps: give frequency_cap or frequency_caps, not both");
    expect(errorFor('"frequency_caps":[' + cap(2, 120) + '],"frequency_cap":' + cap(1, 60))).toBe("campaigns[0].frequency_cap: give frequency_cap or frequency_caps, not both");
    expect(errorFor('"frequency_caps":' + cap(1, 60))).toBe("campaigns[0].frequency_caps: expected array");
  });

  it("frequency_group: campaigns that count together, with the same caps; its own hash", () => {
    const CR = ',"creatives":[{"crid":"a","w":300,"h":250}]';
    const CAP = '"frequency_cap":{"impressions":2,"seconds":3600}';
    const grouped = (id: string, g: string, cap: string): string => '{"id":"' + id + '","frequency_group":"' + g + '",' + cap + CR + "}";
    const t = parse('{"version":1,"campaigns":[' + grouped("a", "brand", CAP) + "," + grouped("b", "brand", CAP) + "," + grouped("c", "other", CAP) + ',{"id":"brand",' + CAP + CR + "}]}")!;
    expect(t.at(0).frequencyGroup!.toString()).toBe("brand");
    expect(t.at(0).idHash).toBe(t.at(1).idHash);
    expect(t.at(0).idHash).not.toBe(t.at(2).idHash);
    // A group named like a campaign id still has counts of its own.
    expect(t.at(0).idHash).not.toBe(t.at(3).idHash);
    expect(t.at(3).frequencyGroup).toBeNull();
    const errorOfSet = (campaigns: string): string => errorOf('{"version":1,"campaigns":[' + campaigns + "]}");
    expect(errorOfSet(grouped("a", "brand", CAP) + "," + grouped("b", "brand", '"frequency_cap":{"impressions":3,"seconds":3600}'))).toBe(
      'campaigns[1]: frequency_group "brand": caps differ from campaign "a"\'s (a group\'s campaigns share their counts: give them the same caps)',
    );
    expect(errorOfSet(grouped("a", "brand", CAP) + "," + grouped("b", "other", '"frequency_cap":{"impressions":3,"seconds":60}'))).toBe("OK");
    expect(errorOf(one('"id":"a","frequency_group":"brand"' + CR))).toBe("campaigns[0]: frequency_group: needs frequency_cap or frequency_caps");
    expect(errorOf(one('"id":"a","frequency_group":"",' + CAP + CR))).toBe("campaigns[0]: frequency_group: empty");
  });

  it("frequency_cap: impressions (1-1,000,000) and seconds (1 s - 365 days) both required; the table knows it has caps", () => {
    const CR = ',"creatives":[{"crid":"a","w":300,"h":250}]';
    const t = parse(one('"id":"c","frequency_cap":{"impressions":3,"seconds":86400}' + CR))!;
    expect(t.at(0).frequencyCaps).toBe(1);
    expect(t.at(0).capImpressions[0]).toBe(3);
    expect(t.at(0).capWindowMs[0]).toBe(86400000);
    expect(t.frequencyCapped).toBe(true);
    const plain = parse(one('"id":"c"' + CR))!;
    expect(plain.at(0).frequencyCaps).toBe(0);
    expect(plain.frequencyCapped).toBe(false);
    // Every campaign gets an id hash (the count keys'), different ids different hashes.
    const two = parse('{"version":1,"campaigns":[{"id":"a"' + CR + '},{"id":"b"' + CR + "}]}")!;
    expect(two.at(0).idHash).not.toBe(0);
    expect(two.at(0).idHash).not.toBe(two.at(1).idHash);
    const errorFor = (cap: string): string => errorOf(one('"id":"c","frequency_cap":' + cap + CR));
    expect(errorFor('{"impressions":1,"seconds":31536000}')).toBe("OK");
    expect(errorFor('{"impressions":1000000,"seconds":1}')).toBe("OK");
    expect(errorFor('{"impressions":3}')).toBe("campaigns[0].frequency_cap: impressions and seconds are required");
    expect(errorFor('{"seconds":60}')).toBe("campaigns[0].frequency_cap: impressions and seconds are required");
    expect(errorFor('{"impressions":0,"seconds":60}')).toBe("campaigns[0].frequency_cap.impressions: must be between 1 and 1000000");
    expect(errorFor('{"impressions":2,"seconds":31536001}')).toBe("campaigns[0].frequency_cap.seconds: must be between 1 and 31536000");
    expect(errorFor('{"impressions":2.5,"seconds":60}')).toBe("campaigns[0].frequency_cap.impressions: expected integer");
    expect(errorFor('{"impressions":2,"seconds":60,"per":"user"}')).toBe("campaigns[0].frequency_cap.per: unknown key");
    expect(errorFor("3")).toBe("campaigns[0].frequency_cap: expected object");
  });

  it("creative api: distinct API framework codes, at most 8", () => {
    const t = parse(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250,"api":[5,7]}]'));
    expect(t!.at(0).creatives[0].api.length).toBe(2);
    expect(t!.at(0).creatives[0].api[1]).toBe(7);
    const errorFor = (api: string): string => errorOf(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250,"api":' + api + "}]"));
    expect(errorFor("[5,5]")).toBe("campaigns[0].creatives[0].api[1]: duplicate API 5");
    expect(errorFor("[1,2,3,4,5,6,7,8,9]")).toBe("campaigns[0].creatives[0].api[8]: at most 8 APIs");
    expect(errorFor("[0]")).toBe("campaigns[0].creatives[0].api[0]: must be between 1 and 65535");
    expect(errorFor("5")).toBe("campaigns[0].creatives[0].api: expected array");
  });

  it("creative language: a BCP 47 tag, or xx", () => {
    const cr = (members: string): Creative => {
      const t = parse(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250' + members + "}]"));
      expect(t).not.toBeNull();
      return t!.at(0).creatives[0];
    };
    expect(cr("").language.len).toBe(0);
    const br = cr(',"language":"pt-BR"');
    expect(br.language.toString()).toBe("pt-BR");
    expect(br.languagePrimaryLen).toBe(2);
    expect(cr(',"language":"yue-Hant-HK"').languagePrimaryLen).toBe(3);
    expect(cr(',"language":"sr-Latn-RS-1994ab"').languagePrimaryLen).toBe(2);
    expect(cr(',"language":"xx"').languageFree).toBe(true);
    expect(cr(',"language":"en"').languageFree).toBe(false);
    const bad = ["", "e", "english", "en-", "en--US", "-en", "en_US", "en-toolongsub", "e1", "en-US-", "1en"];
    for (let i = 0; i < bad.length; i++) {
      expect(errorOf(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250,"language":"' + bad[i] + '"}]'))).toBe(
        'campaigns[0].creatives[0].language: expected a BCP 47 language tag ("en", "pt-BR"; "xx": no linguistic content)',
      );
    }
    expect(errorOf(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250,"language":["en"]}]'))).toBe(
      "campaigns[0].creatives[0].language: expected string",
    );
  });

  it("creative attributes, banner type and secure: declared or read off the markup", () => {
    const cr = (members: string): Creative => {
      const t = parse(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250' + members + "}]"));
      expect(t).not.toBeNull();
      return t!.at(0).creatives[0];
    };
    const declared = cr(',"attr":[14,6],"banner_type":4,"secure":false,"adm":"<img src=\\"https://x.example/a\\">"');
    expect(declared.attr.length).toBe(2);
    expect(declared.hasAttr(6)).toBe(true);
    expect(declared.hasAttr(7)).toBe(false);
    expect(declared.bannerTypes).toBe(1 << 4);
    expect(declared.secure).toBe(false);
    const plain = cr("");
    expect(plain.attr.length).toBe(0);
    expect(plain.bannerTypes).toBe(0); // no markup: unknown
    expect(plain.secure).toBe(true);
    expect(cr(',"adm":"Buy now"').bannerTypes).toBe(1 << 1);
    expect(cr(',"adm":"<a href=\\"https://x\\"><img></a>"').bannerTypes).toBe(1 << 2);
    expect(cr(',"adm":"<Script>x()</Script>"').bannerTypes).toBe(1 << 3);
    expect(cr(',"adm":"<IFRAME src=\\"https://x\\">"').bannerTypes).toBe(1 << 4);
    expect(cr(',"adm":"<script>x()</script><iframe src=\\"https://x\\">"').bannerTypes).toBe((1 << 3) | (1 << 4));
    expect(cr(',"adm":"<img src=\\"Http://x.example/a\\">"').secure).toBe(false);
    expect(cr(',"adm":"<img src=\\"//x.example/a\\">"').secure).toBe(true);
    expect(cr(',"adm":"<img src=\\"http://x.example/a\\">","secure":true').secure).toBe(true);

    const err = (members: string): string => errorOf(one('"id":"c","creatives":[{"crid":"a","w":300,"h":250' + members + "}]"));
    expect(err(',"attr":[0]')).toBe("campaigns[0].creatives[0].attr[0]: must be between 1 and 65535");
    expect(err(',"attr":[1,1]')).toBe("campaigns[0].creatives[0].attr[1]: duplicate attribute 1");
    expect(err(',"attr":"6"')).toBe("campaigns[0].creatives[0].attr: expected array");
    let many = "1";
    for (let i = 2; i <= 33; i++) many += "," + i.toString();
    expect(err(',"attr":[' + many + "]")).toBe("campaigns[0].creatives[0].attr[32]: at most 32 attributes");
    expect(err(',"banner_type":5')).toBe("campaigns[0].creatives[0].banner_type: must be between 1 and 4");
    expect(err(',"secure":1')).toBe("campaigns[0].creatives[0].secure: expected true or false");
  });

  it("bad size strings", () => {
    const bad: string[] = ["300x", "x250", "300x250x", "0x1", "1x0", "70000x1", "1x70000", "300X250", "300", "", " 300x250", "+300x250", "3e2x250", "x"];
    for (let i = 0; i < bad.length; i++) {
      const err = errorOf(withTargeting('"sizes":["300x250","' + bad[i] + '"]'));
      if (err != 'campaigns[0].targeting.sizes[1]: expected "WxH"') trace("size: " + bad[i] + " -> " + err);
      expect(err).toBe('campaigns[0].targeting.sizes[1]: expected "WxH"');
    }
    expect(errorOf(withTargeting('"sizes":[300]'))).toBe("campaigns[0].targeting.sizes[0]: expected string");
    expect(errorOf(withTargeting('"sizes":"300x250"'))).toBe("campaigns[0].targeting.sizes: expected array");
  });

  it("device types out of range or not integers", () => {
    expect(errorOf(withTargeting('"device_types":[0]'))).toBe(
      "campaigns[0].targeting.device_types[0]: must be between 1 and 31",
    );
    expect(errorOf(withTargeting('"device_types":[1,32]'))).toBe(
      "campaigns[0].targeting.device_types[1]: must be between 1 and 31",
    );
    expect(errorOf(withTargeting('"device_types":[-1]'))).toBe(
      "campaigns[0].targeting.device_types[0]: must be between 1 and 31",
    );
    expect(errorOf(withTargeting('"device_types":[1.5]'))).toBe("campaigns[0].targeting.device_types[0]: expected integer");
    expect(errorOf(withTargeting('"device_types":["2"]'))).toBe("campaigns[0].targeting.device_types[0]: expected integer");
  });

  it("string lists", () => {
    expect(errorOf(withTargeting('"countries":"USA"'))).toBe("campaigns[0].targeting.countries: expected array");
    const noCountry = 'expected an ISO 3166-1 country code (alpha-3 as OpenRTB sends it, e.g. "USA"; or alpha-2)';
    expect(errorOf(withTargeting('"countries":["USA","United States"]'))).toBe("campaigns[0].targeting.countries[1]: " + noCountry);
    expect(errorOf(withTargeting('"countries":["ZZ"]'))).toBe("campaigns[0].targeting.countries[0]: " + noCountry);
    expect(errorOf(withTargeting('"countries":[""]'))).toBe("campaigns[0].targeting.countries[0]: " + noCountry);
    // Three letters that are no assigned code (sports codes for Germany and Switzerland; XXX).
    expect(errorOf(withTargeting('"countries":["DEU","GER"]'))).toBe("campaigns[0].targeting.countries[1]: " + noCountry);
    expect(errorOf(withTargeting('"countries":["SUI"]'))).toBe("campaigns[0].targeting.countries[0]: " + noCountry);
    expect(errorOf(withTargeting('"countries":["xxx"]'))).toBe("campaigns[0].targeting.countries[0]: " + noCountry);
    expect(errorOf(withTargeting('"countries":["deu","CHE","XKX","ZWE","AND"]'))).toBe("OK");
    expect(errorOf(withTargeting('"regions":[""]'))).toBe("campaigns[0].targeting.regions[0]: empty region");
    expect(errorOf(withTargeting('"domains_allow":["a",null]'))).toBe(
      "campaigns[0].targeting.domains_allow[1]: expected string",
    );
    expect(errorOf(withTargeting('"domains_block":[true]'))).toBe("campaigns[0].targeting.domains_block[0]: expected string");
    // Entries are plain host names, as the request's domains are compared: a URL, a port or a
    // trailing dot would never match, so the name to write is given.
    expect(errorOf(withTargeting('"domains_block":["https://Bad.example/x"]'))).toBe(
      'campaigns[0].targeting.domains_block[0]: "https://Bad.example/x" is not a domain name (write "Bad.example")',
    );
    expect(errorOf(withTargeting('"domains_block":[".bad.example"]'))).toBe(
      'campaigns[0].targeting.domains_block[0]: ".bad.example" is not a domain name (write "bad.example")',
    );
    const generic = " is not a domain name (ASCII letters, digits, '.', '-', '_' in labels that are not empty; xn-- for international names)";
    const refused = ["bad..example", "bad.example:abc", "[bad.example]", "roku:12345", "bücher.de"];
    for (let i = 0; i < refused.length; i++) {
      expect(errorOf(withTargeting('"domains_block":["' + refused[i] + '"]'))).toBe('campaigns[0].targeting.domains_block[0]: "' + refused[i] + '"' + generic, refused[i]);
    }
    expect(errorOf(withTargeting('"domains_allow":["news.example."]'))).toBe(
      'campaigns[0].targeting.domains_allow[0]: "news.example." is not a domain name (write "news.example")',
    );
    expect(errorOf(withTargeting('"domains_block":["*.bad.example"]'))).toBe('campaigns[0].targeting.domains_block[0]: "*.bad.example"' + generic);
    expect(errorOf(withTargeting('"domains_allow":["com.game","id123456","my_app.example","xn--bcher-kva.example"]'))).toBe("OK");
    expect(errorOf(withTargeting('"targeting":1'))).toBe("campaigns[0].targeting.targeting: unknown key");
    expect(errorOf(one('"id":"c",' + CR + ',"targeting":[]'))).toBe("campaigns[0].targeting: expected object");
  });

  it("negative or too large money", () => {
    const keys: string[] = ["value_per_conversion_micros", "max_bid_cpm_micros", "market_price_cpm_micros"];
    for (let i = 0; i < keys.length; i++) {
      expect(errorOf(one('"id":"c",' + CR + ',"' + keys[i] + '":-1'))).toBe(
        "campaigns[0]." + keys[i] + ": must be between 0 and 1000000000000000",
      );
      expect(errorOf(one('"id":"c",' + CR + ',"' + keys[i] + '":1000000000000001'))).toBe(
        "campaigns[0]." + keys[i] + ": must be between 0 and 1000000000000000",
      );
    }
    const budgets: string[] = ["total_micros", "daily_micros", "hourly_micros", "minute_micros"];
    for (let i = 0; i < budgets.length; i++) {
      expect(errorOf(one('"id":"c",' + CR + ',"budget":{"' + budgets[i] + '":-5}'))).toBe(
        "campaigns[0].budget." + budgets[i] + ": must be between 0 and 1000000000000000",
      );
    }
    expect(errorOf(one('"id":"c",' + CR + ',"value_per_conversion_micros":1.5'))).toBe(
      "campaigns[0].value_per_conversion_micros: expected integer",
    );
    expect(errorOf(one('"id":"c",' + CR + ',"budget":[]'))).toBe("campaigns[0].budget: expected object");
  });

  it("wrong types and ranges of numbers and flags", () => {
    expect(errorOf(one('"id":"c",' + CR + ',"alpha":-0.1'))).toBe("campaigns[0].alpha: must be between 0.0 and 100.0");
    expect(errorOf(one('"id":"c",' + CR + ',"alpha":100.5'))).toBe("campaigns[0].alpha: must be between 0.0 and 100.0");
    expect(errorOf(one('"id":"c",' + CR + ',"roi_factor":-1'))).toBe("campaigns[0].roi_factor: must be between 0.0 and 100.0");
    expect(errorOf(one('"id":"c",' + CR + ',"alpha":"1"'))).toBe("campaigns[0].alpha: expected number");
    expect(errorOf(one('"id":"c",' + CR + ',"active":1'))).toBe("campaigns[0].active: expected true or false");
    expect(errorOf(one('"id":"c",' + CR + ',"active":"true"'))).toBe("campaigns[0].active: expected true or false");
    expect(errorOf(one('"id":"c",' + CR + ',"name":5'))).toBe("campaigns[0].name: expected string");
    expect(errorOf(one('"id":"c",' + CR + ',"value_per_conversion_micros":"5"'))).toBe(
      "campaigns[0].value_per_conversion_micros: expected integer",
    );
  });

  it("JSON syntax errors carry the byte offset", () => {
    expect(errorOf('{"campaigns":[]} x')).toBe("$: trailing characters after JSON value at byte 17");
    const e = errorOf('{"campaigns":[');
    expect(e.startsWith("$: ")).toBe(true);
    expect(e.includes(" at byte ")).toBe(true);
    expect(errorOf("")).not.toBe("OK");
  });

  it("more than 256 campaigns", () => {
    let s = '{"campaigns":[';
    for (let i = 0; i < 257; i++) s += (i > 0 ? "," : "") + '{"id":"c' + i.toString() + '",' + CR + "}";
    s += "]}";
    expect(errorOf(s)).toBe("campaigns[256]: more than 256 campaigns");
    let ok = '{"campaigns":[';
    for (let i = 0; i < 256; i++) ok += (i > 0 ? "," : "") + '{"id":"c' + i.toString() + '",' + CR + "}";
    ok += "]}";
    const t = parse(ok);
    expect(t).not.toBeNull();
    expect(t!.size).toBe(256);
    expect(t!.at(255).index).toBe(255);
  });

  // Regression: a second "campaigns" array used to be appended with indexes
  // restarting at 0, so two campaigns shared a ledger. Repeated keys are errors.
  it("refuses a duplicate \"campaigns\" key (indexes would collide)", () => {
    const json = '{"campaigns":[{"id":"a",' + CR + '}],"campaigns":[{"id":"b",' + CR + "}]}";
    const t = parse(json);
    if (t !== null) {
      // what happens today: a#0 and b#0
      expect(t.at(1).index).not.toBe(t.at(0).index);
    }
    expect(t).toBeNull();
  });

  it("reads the set's currency: an upper-case ISO 4217 code, or nothing", () => {
    const body = '"campaigns":[{"id":"a",' + CR + "}]";
    expect(parse("{" + body + "}")!.currency.len).toBe(0);
    expect(parse('{"currency":"EUR",' + body + "}")!.currency.toString()).toBe("EUR");
    expect(errorOf('{"currency":"eur",' + body + "}")).toBe("currency: expected a 3-letter upper-case ISO 4217 code, e.g. \"USD\"");
    expect(parse('{"currency":"EURO",' + body + "}")).toBeNull();
    expect(parse('{"currency":978,' + body + "}")).toBeNull();
  });

  it("a set in another currency than the account's is refused by name; one in the same, or that does not say, is not", () => {
    const body = '"campaigns":[{"id":"a",' + CR + "}]";
    const usd = strView("USD");
    expect(parse('{"currency":"EUR",' + body + "}")!.currencyRefusal(usd.ptr, usd.len))
      .toBe("currency: the campaigns are in EUR, the filter's account currency (plugin currency) is USD");
    expect(parse('{"currency":"USD",' + body + "}")!.currencyRefusal(usd.ptr, usd.len)).toBe("");
    expect(parse("{" + body + "}")!.currencyRefusal(usd.ptr, usd.len)).toBe("");
    // Same letters, other case or length: not the same code.
    const usdx = strView("USDX");
    expect(parse('{"currency":"USD",' + body + "}")!.currencyRefusal(usdx.ptr, usdx.len)).not.toBe("");
  });

  it("a parser can be reused after an error", () => {
    expect(errorOf(one('"id":"c"'))).not.toBe("OK");
    expect(errorOf(one('"id":"c",' + CR))).toBe("OK");
    expect(parser.error).toBe("");
  });
});

describe("Campaign targeting helpers", () => {
  it("StringSet.hasDomain matches the name and its subdomains only", () => {
    const c = parse(withTargeting('"domains_allow":["example.com"]'))!.at(0);
    expect(c.domainAllow.hasDomain(strView("example.com"))).toBe(true);
    expect(c.domainAllow.hasDomain(strView("news.example.com"))).toBe(true);
    expect(c.domainAllow.hasDomain(strView("a.b.example.com"))).toBe(true);
    expect(c.domainAllow.hasDomain(strView("badexample.com"))).toBe(false);
    expect(c.domainAllow.hasDomain(strView("example.com.evil"))).toBe(false);
    expect(c.domainAllow.hasDomain(strView(".example.com"))).toBe(true);
    expect(c.domainAllow.hasDomain(strView("com"))).toBe(false);
    expect(c.domainAllow.hasDomain(strView(""))).toBe(false);
  });

  it("allowsDeviceType", () => {
    const c = parse(FULL)!.at(0);
    expect(c.allowsDeviceType(2)).toBe(true);
    expect(c.allowsDeviceType(4)).toBe(true);
    expect(c.allowsDeviceType(31)).toBe(true);
    expect(c.allowsDeviceType(3)).toBe(false);
    expect(c.allowsDeviceType(0)).toBe(false);
    expect(c.allowsDeviceType(32)).toBe(false);
    expect(c.allowsDeviceType(-1)).toBe(false);
  });
});

describe("Campaign deals", () => {
  it("parses deals and deals_only; a set with deals says so", () => {
    const t = parse(one('"id":"c",' + CR + ',"deals":["d-1","D-1","deal \\"x\\""],"deals_only":true'))!;
    const c = t.at(0);
    expect(c.deals.size).toBe(3);
    expect(c.deals.has(strView("d-1"))).toBe(true);
    expect(c.deals.has(strView("D-1"))).toBe(true);
    expect(c.deals.has(strView('deal "x"'))).toBe(true);
    expect(c.deals.has(strView("d-2"))).toBe(false);
    expect(c.dealsOnly).toBe(true);
    expect(t.buysDeals).toBe(true);
    const plain = parse(one('"id":"c",' + CR))!;
    expect(plain.buysDeals).toBe(false);
    expect(plain.at(0).dealsOnly).toBe(false);
  });

  it("refuses deal lists it could not use", () => {
    const base = '"id":"c",' + CR + ",";
    expect(errorOf(one(base + '"deals":[""]'))).toBe("campaigns[0].deals[0]: empty deal id");
    expect(errorOf(one(base + '"deals":["a","a"]'))).toBe("campaigns[0].deals[1]: duplicate deal id");
    let deals = '"d0"';
    for (let i = 1; i < 40; i++) deals += ',"d' + i.toString() + '"';
    expect(errorOf(one(base + '"deals":[' + deals + "]"))).toBe("OK");
    expect(errorOf(one(base + '"deals":[' + deals + ',"d33"]'))).toBe("campaigns[0].deals[40]: duplicate deal id");
    expect(errorOf(one(base + '"deals":[1]'))).toBe("campaigns[0].deals[0]: expected string");
    expect(errorOf(one(base + '"deals":"d"'))).toBe("campaigns[0].deals: expected array");
    expect(errorOf(one(base + '"deals_only":true'))).toBe("campaigns[0]: deals_only: needs deals");
    expect(errorOf(one(base + '"deals":["' + "x".repeat(257) + '"]'))).toBe("campaigns[0].deals[0]: longer than 256 bytes");
    let many = "";
    for (let i = 0; i < 65; i++) many += (i > 0 ? "," : "") + '"d' + i.toString() + '"';
    expect(errorOf(one(base + '"deals":[' + many + "]"))).toBe("campaigns[0].deals[64]: at most 64 deals");
  });
});
