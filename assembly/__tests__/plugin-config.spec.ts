// The privacy keys of the plugin configuration (filter/config.ts): defaults,
// values, and refusals that fail the plugin start.
import { PluginConfig, PluginConfigParser } from "../filter/config";

const parser = new PluginConfigParser();
let held: ArrayBuffer = new ArrayBuffer(0);

function parse(json: string): PluginConfig | null {
  held = String.UTF8.encode(json);
  return parser.parse(changetype<usize>(held), held.byteLength);
}

describe("plugin configuration: privacy keys", () => {
  it("defaults to no vendor id and contextual bids for COPPA", () => {
    const cfg = parse("{}")!;
    expect(cfg.gdprVendorId).toBe(0);
    expect(cfg.coppaNoBid).toBe(false);
  });

  it("reads gdpr_vendor_id (0-65535) and coppa_no_bid", () => {
    const cfg = parse('{"gdpr_vendor_id": 755, "coppa_no_bid": true}')!;
    expect(cfg.gdprVendorId).toBe(755);
    expect(cfg.coppaNoBid).toBe(true);
    expect(parse('{"gdpr_vendor_id": 65535}')!.gdprVendorId).toBe(65535);
  });

  it("refuses a vendor id out of range or not an integer, and a coppa_no_bid that is not a bool", () => {
    expect(parse('{"gdpr_vendor_id": 65536}')).toBeNull();
    expect(parser.error).toBe("gdpr_vendor_id: must be between 0 and 65535");
    expect(parse('{"gdpr_vendor_id": -1}')).toBeNull();
    expect(parse('{"gdpr_vendor_id": 1.5}')).toBeNull();
    expect(parse('{"gdpr_vendor_id": "755"}')).toBeNull();
    expect(parse('{"coppa_no_bid": 1}')).toBeNull();
    expect(parser.error).toBe("coppa_no_bid: expected true or false");
  });
});

describe("plugin configuration: reservation_exp_max_ms", () => {
  it("defaults to 0 (an imp's exp does not extend a reservation) and reads 0-86400000", () => {
    expect(parse("{}")!.reservationExpMaxMs).toBe(0);
    expect(parse('{"reservation_exp_max_ms": 600000}')!.reservationExpMaxMs).toBe(600000);
    expect(parse('{"reservation_exp_max_ms": 86400001}')).toBeNull();
    expect(parser.error).toBe("reservation_exp_max_ms: must be between 0 and 86400000");
    expect(parse('{"reservation_exp_max_ms": -1}')).toBeNull();
  });
});

describe("plugin configuration: notice_base_url", () => {
  it("keeps a base without a trailing slash as it is, and drops trailing slashes", () => {
    expect(parse("{}")!.noticeBaseUrl.toString()).toBe("");
    expect(parse('{"notice_base_url": "https://bidder.example.com"}')!.noticeBaseUrl.toString()).toBe("https://bidder.example.com");
    expect(parse('{"notice_base_url": "https://bidder.example.com/"}')!.noticeBaseUrl.toString()).toBe("https://bidder.example.com");
    expect(parse('{"notice_base_url": "HTTP://127.0.0.1:8080//"}')!.noticeBaseUrl.toString()).toBe("HTTP://127.0.0.1:8080");
    expect(parse('{"notice_base_url": "https://bidder.example.com/rtb/"}')!.noticeBaseUrl.toString()).toBe("https://bidder.example.com/rtb");
  });

  it("refuses a base that is not an http(s) URL with a host", () => {
    expect(parse('{"notice_base_url": "bidder.example.com"}')).toBeNull();
    expect(parser.error).toBe('notice_base_url: expected http://host[:port] or https://host[:port] (or "": the bid request\'s authority)');
    expect(parse('{"notice_base_url": "https://"}')).toBeNull();
    expect(parse('{"notice_base_url": "https:///"}')).toBeNull();
    expect(parse('{"notice_base_url": "ftp://bidder.example.com"}')).toBeNull();
  });
});
