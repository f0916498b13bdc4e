// General invalid traffic through the compiled filter in the standalone host, real HTTP: with the
// default plugin configuration a crawler's request that would get a bid is a 204
// bot_user_agent and reserves nothing; with `invalid_traffic.ip_ranges` a data-centre address is
// a 204 datacenter_ip; a bad list refuses the plugin start.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST, metricValue, post, startTestBidder } from "../helpers/bidder.ts";
import { assertSimRefused } from "../helpers/sim-bidder.ts";
import type { Standalone } from "../../host/src/standalone.ts";

let n = 0;
function request(device: Record<string, unknown>): string {
  return JSON.stringify({ ...JSON.parse(README_REQUEST), id: `ivt-${process.pid}-${n++}`, device });
}

const BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";


describe("invalid traffic, default plugin configuration", () => {
  let app: Standalone;
  before(async () => {
    app = await startTestBidder({ vms: 1 });
  });
  after(async () => {
    await app?.close();
  });

  it("a crawler's request is a 204 bot_user_agent and reserves nothing; a browser's gets its bid", async () => {
    const reservations = await metricValue(app, "nexus_reservations_total");
    for (const ua of [GOOGLEBOT, "curl/8.4.0", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36"]) {
      const r = await post(`${app.bidUrl}/openrtb2/bid`, request({ ua, ip: "203.0.113.7" }));
      assert.equal(r.status, 204, `${ua}: ${r.text}`);
      assert.equal(r.headers["x-nexus-nobid-reason"], "bot_user_agent", ua);
    }
    assert.equal(await metricValue(app, "nexus_nobids_bot_user_agent_total"), 3);
    assert.equal(await metricValue(app, "nexus_reservations_total"), reservations, "a screened request reserves nothing");
    const ok = await post(`${app.bidUrl}/openrtb2/bid`, request({ ua: BROWSER, ip: "203.0.113.7" }));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(await metricValue(app, "nexus_reservations_total"), reservations + 1);
  });
});

describe("invalid traffic, configured data-centre ranges", () => {
  let app: Standalone;
  before(async () => {
    app = await startTestBidder({ vms: 1, plugin: { invalid_traffic: { ip_ranges: ["198.51.100.0/24", "2600:1f00::/24"] } } });
  });
  after(async () => {
    await app?.close();
  });

  it("an address in a range is a 204 datacenter_ip (IPv4 and IPv6); others bid", async () => {
    for (const device of [{ ua: BROWSER, ip: "198.51.100.20" }, { ua: BROWSER, ipv6: "2600:1f18:abcd::1" }]) {
      const r = await post(`${app.bidUrl}/openrtb2/bid`, request(device));
      assert.equal(r.status, 204, `${JSON.stringify(device)}: ${r.text}`);
      assert.equal(r.headers["x-nexus-nobid-reason"], "datacenter_ip");
    }
    assert.equal(await metricValue(app, "nexus_nobids_datacenter_ip_total"), 2);
    const ok = await post(`${app.bidUrl}/openrtb2/bid`, request({ ua: BROWSER, ip: "203.0.113.7" }));
    assert.equal(ok.status, 200, ok.text);
    // The built-in UA tokens still apply beside the ranges.
    const bot = await post(`${app.bidUrl}/openrtb2/bid`, request({ ua: GOOGLEBOT, ip: "203.0.113.7" }));
    assert.equal(bot.headers["x-nexus-nobid-reason"], "bot_user_agent");
  });

  it("a malformed list refuses the plugin start", async () => {
    await assertSimRefused({ plugin: { invalid_traffic: { ip_ranges: ["10.0.0.1/8"] } } });
    await assertSimRefused({ plugin: { invalid_traffic: { user_agents: ["ab"] } } });
    await assertSimRefused({ plugin: { invalid_traffic: { bots: [] } } });
  });
});

describe("invalid traffic: the memory of large range lists", () => {
  async function vmMemory(ranges: string[]): Promise<number> {
    const app = await startTestBidder({ vms: 1, plugin: { invalid_traffic: { ip_ranges: ranges } } });
    try {
      const text = await (await fetch(`${app.controlUrl}/metrics`)).text();
      return Number(/^nexus_host_vm_memory_bytes\{vm="0"\} (\d+)$/m.exec(text)![1]);
    } finally {
      await app.close();
    }
  }

  it("20,000 IPv4 blocks fit a VM's memory as it is; 65,536 IPv6 blocks at most double it", async () => {
    // Nothing per block is left behind by parsing (the configuration is read in one callback,
    // before any collection): the blocks' words, sorted and merged, are what stays.
    const base = await vmMemory([]);
    const v4 = Array.from({ length: 20_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    assert.equal(await vmMemory(v4), base);
    const v6 = Array.from({ length: 65_536 }, (_, i) => `2600:${(i >> 8).toString(16)}:${(i & 255).toString(16)}::/48`);
    assert.ok((await vmMemory(v6)) <= 2 * base, "65,536 IPv6 blocks");
  });
});
