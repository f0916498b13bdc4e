// Data-centre range files (host/src/control/ip-ranges.ts): each provider format and the text
// format give their blocks, repeats are dropped, what is not a block is refused naming the file
// and line; the standalone host hands them to its filter (NEXUS_IP_RANGES_FILES), whose screen
// then refuses bids from those addresses; `nexus-rtb ip-ranges` prints the plugin field.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IpRangesError, MAX_IP_RANGES, parseIpRanges, readIpRanges } from "../../../host/src/control/ip-ranges.ts";
import { README_REQUEST, post, startTestBidder } from "../../helpers/bidder.ts";
import { PACKAGE_ROOT } from "../../../host/src/paths.ts";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "nexus-ip-ranges-"));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const AWS = JSON.stringify({
  syncToken: "1",
  prefixes: [{ ip_prefix: "3.5.140.0/22", region: "ap-northeast-2", service: "AMAZON" }, { ip_prefix: "3.5.140.0/22", region: "ap-northeast-2", service: "S3" }],
  ipv6_prefixes: [{ ipv6_prefix: "2600:1f00::/24", region: "us-east-1", service: "AMAZON" }],
});
const GCP = JSON.stringify({ syncToken: "1", prefixes: [{ ipv4Prefix: "34.1.208.0/20", service: "Google Cloud" }, { ipv6Prefix: "2600:1900:4000::/44", service: "Google Cloud" }] });
const AZURE = JSON.stringify({ changeNumber: 1, values: [{ name: "AzureCloud", properties: { addressPrefixes: ["4.144.0.0/17", "2603:1000::/40"] } }, { name: "AzureCloud.eastus", properties: { addressPrefixes: ["4.144.0.0/17"] } }] });
const ORACLE = JSON.stringify({ last_updated_timestamp: "x", regions: [{ region: "us-ashburn-1", cidrs: [{ cidr: "129.213.0.0/16", tags: ["OCI"] }] }] });

describe("data-centre range files", () => {
  it("reads each provider's JSON and the text format, in order", () => {
    assert.deepEqual(parseIpRanges(AWS, "aws.json"), { format: "aws", blocks: ["3.5.140.0/22", "3.5.140.0/22", "2600:1f00::/24"] });
    assert.deepEqual(parseIpRanges(GCP, "cloud.json"), { format: "gcp", blocks: ["34.1.208.0/20", "2600:1900:4000::/44"] });
    assert.deepEqual(parseIpRanges(AZURE, "tags.json"), { format: "azure", blocks: ["4.144.0.0/17", "2603:1000::/40", "4.144.0.0/17"] });
    assert.deepEqual(parseIpRanges(ORACLE, "oci.json"), { format: "oracle", blocks: ["129.213.0.0/16"] });
    assert.deepEqual(parseIpRanges("# hosting\n198.51.100.0/24  # a host\n\n203.0.113.9\r\n2001:db8::/32\n", "mine.txt"), { format: "text", blocks: ["198.51.100.0/24", "203.0.113.9", "2001:db8::/32"] });
  });

  it("merges files without repeats", () => {
    const blocks = readIpRanges([file("aws.json", AWS), file("tags.json", AZURE), file("mine.txt", "3.5.140.0/22\n2600:1F00::/24\n")]);
    assert.deepEqual(blocks, ["3.5.140.0/22", "2600:1f00::/24", "4.144.0.0/17", "2603:1000::/40"]);
  });

  it("refuses what is not a block, a JSON of no known shape, an unreadable file, and more blocks than the filter takes", () => {
    const codeOf = (f: () => unknown): string => {
      try {
        f();
      } catch (err) {
        assert.ok(err instanceof IpRangesError, String(err));
        return `${err.code}: ${err.message}`;
      }
      return "no error";
    };
    assert.equal(codeOf(() => parseIpRanges("10.0.0.0/8\nexample.com\n", "mine.txt")), 'IP_RANGES_INVALID: mine.txt:2: "example.com" is not an address or a CIDR block');
    assert.match(codeOf(() => parseIpRanges('{"prefixes": [{"ip_prefix": "3.5.140.0/22 "}], "ipv6_prefixes": []}', "aws.json")), /IP_RANGES_INVALID: aws.json: "3.5.140.0\/22 " is not/);
    assert.match(codeOf(() => parseIpRanges('{"items": []}', "x.json")), /IP_RANGES_INVALID: x.json: a JSON document of no known shape/);
    assert.match(codeOf(() => parseIpRanges("{not json", "x.json")), /IP_RANGES_INVALID: x.json: not valid JSON/);
    assert.match(codeOf(() => readIpRanges([join(dir, "missing.txt")])), /IP_RANGES_UNREADABLE: .*missing.txt/);
    // Blocks the filter would refuse (it fails its start, or Envoy refuses the listener): refused
    // here naming the file and line. Before, the CLI printed them and exited 0 (audit).
    assert.equal(codeOf(() => parseIpRanges("10.0.0.0/8\n10.0.0.1/8\n", "mine.txt")), 'IP_RANGES_INVALID: mine.txt:2: "10.0.0.1/8": bits set below the prefix length (the network is 10.0.0.0/8)');
    assert.equal(codeOf(() => parseIpRanges("192.0.2.0/33\n", "mine.txt")), 'IP_RANGES_INVALID: mine.txt:1: "192.0.2.0/33": prefix length above 32');
    assert.equal(codeOf(() => parseIpRanges("2001:db8::1/32\n", "mine.txt")), 'IP_RANGES_INVALID: mine.txt:1: "2001:db8::1/32": bits set below the prefix length');
    assert.equal(codeOf(() => parseIpRanges("300.1.1.1\n", "mine.txt")), 'IP_RANGES_INVALID: mine.txt:1: "300.1.1.1": not an IPv4 or IPv6 address');
    assert.match(codeOf(() => parseIpRanges('{"prefixes": [{"ip_prefix": "3.5.140.1/22"}], "ipv6_prefixes": []}', "aws.json")), /IP_RANGES_INVALID: aws.json: "3.5.140.1\/22": bits set below/);
    const many = Array.from({ length: MAX_IP_RANGES + 1 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).join("\n");
    assert.match(codeOf(() => readIpRanges([file("many.txt", many)])), /IP_RANGES_TOO_MANY: 65537 distinct blocks/);
  });
});

describe("NEXUS_IP_RANGES_FILES: the standalone host hands the ranges to its filter", () => {
  it("a bid request from a listed range is a 204 datacenter_ip, beside the plugin's own ranges", async () => {
    const app = await startTestBidder({
      vms: 1,
      plugin: { invalid_traffic: { ip_ranges: ["192.0.2.0/24"] } },
      ipRangesFiles: [file("aws2.json", AWS)],
    });
    try {
      const ask = async (ip: string) => {
        const body = JSON.stringify({ ...JSON.parse(README_REQUEST), id: `ipr-${ip}`, device: { ua: "Mozilla/5.0 Chrome/120.0", ip } });
        const r = await post(`${app.bidUrl}/openrtb2/bid`, body);
        return r.status === 204 ? String(r.headers["x-nexus-nobid-reason"]) : String(r.status);
      };
      assert.equal(await ask("3.5.141.7"), "datacenter_ip");
      assert.equal(await ask("192.0.2.7"), "datacenter_ip");
      assert.equal(await ask("203.0.113.7"), "200");
    } finally {
      await app.close();
    }
  });
});

describe("nexus-rtb ip-ranges", () => {
  it("prints the plugin field built from the files (exit 0); a bad file is exit 1, no file exit 2", () => {
    const cli = (args: string[]) => spawnSync(process.execPath, [join(PACKAGE_ROOT, "dist/nexus-rtb.mjs"), "ip-ranges", ...args], { encoding: "utf8" });
    let r = cli(["--file", file("cloud.json", GCP), "--file", file("oci.json", ORACLE)]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { invalid_traffic: { ip_ranges: ["34.1.208.0/20", "2600:1900:4000::/44", "129.213.0.0/16"] } });
    assert.match(r.stderr, /cloud.json: 2 block\(s\), gcp/);
    assert.match(r.stderr, /3 distinct block\(s\)/);
    r = cli(["--file", file("bad.txt", "not-a-range\n")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /IP_RANGES_INVALID: .*bad.txt:1/);
    r = cli(["--file", file("bad-prefix.txt", "2001:db8::/32\n192.0.2.0/33\n")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /IP_RANGES_INVALID: .*bad-prefix.txt:2: "192.0.2.0\/33": prefix length above 32/);
    assert.equal(r.stdout, "");
    assert.equal(cli([]).status, 2);
  });
});
