// Supply-path seller rules end to end (docs/CAMPAIGNS.md, schain_sellers_allow / _block): a
// campaign file with seller lists, the compiled filter in the standalone host, real HTTP. The
// host checks a campaign set with the filter's own parser before it serves it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, README_REQUEST, post, startTestBidder } from "../helpers/bidder.ts";
import { filterParserCheck } from "../../host/src/control/campaign-check.ts";
import type { Standalone } from "../../host/src/standalone.ts";

let app: Standalone;
let bidUrl: string;
let n = 0;

const base = (): { campaigns: Array<Record<string, unknown>> } => JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));

/** The campaigns file with the same seller rules on every campaign. */
function withSellerRules(rules: Record<string, unknown>): { campaigns: Array<Record<string, unknown>> } {
  const doc = base();
  for (const c of doc.campaigns) c.targeting = { ...((c.targeting as object | undefined) ?? {}), ...rules };
  return doc;
}

function request(nodes: Array<{ asi?: string; sid?: string }> | null, where: "2.6" | "2.5" = "2.6"): string {
  const schain = { complete: 1, ver: "1.0", nodes: nodes?.map((x) => ({ ...x, hp: 1 })) ?? [] };
  const source = nodes === null ? {} : where === "2.6" ? { source: { schain } } : { source: { ext: { schain } } };
  return JSON.stringify({ ...JSON.parse(README_REQUEST), id: `spo-${process.pid}-${n++}`, ...source });
}

before(async () => {
  app = await startTestBidder({ vms: 1, campaigns: withSellerRules({ schain_sellers_allow: ["ssp.example", "exchange.example:r-9"], schain_sellers_block: ["ssp.example:banned"] }) });
  bidUrl = `${app.bidUrl}/openrtb2/bid`;
});
after(async () => {
  await app?.close();
});

describe("supply-path seller rules through the filter", () => {
  it("bids when every node's seller is allowed (asi in any case), in either schain location", async () => {
    for (const where of ["2.6", "2.5"] as const) {
      const r = await post(bidUrl, request([{ asi: "SSP.example", sid: "pub-1" }, { asi: "exchange.example", sid: "r-9" }], where));
      assert.equal(r.status, 200, `${where}: ${r.text}`);
    }
  });

  it("no bid (no_match) through a seller outside the allow list, a blocked account, or without a chain", async () => {
    const cases = [
      [{ asi: "ssp.example", sid: "pub-1" }, { asi: "resell.example", sid: "x" }, { asi: "exchange.example", sid: "r-9" }],
      [{ asi: "exchange.example", sid: "r-10" }],
      [{ asi: "ssp.example", sid: "banned" }],
      null,
    ];
    for (const nodes of cases) {
      const r = await post(bidUrl, request(nodes));
      assert.equal(r.status, 204, `${JSON.stringify(nodes)}: ${r.text}`);
      assert.equal(r.headers["x-nexus-nobid-reason"], "no_match");
    }
  });

  it("a node whose asi is not a string is a 400 naming it", async () => {
    const body = JSON.parse(request([{ asi: "ssp.example", sid: "1" }]));
    body.source.schain.nodes[0].asi = ["ssp.example"];
    const r = await post(bidUrl, JSON.stringify(body));
    assert.equal(r.status, 400);
    assert.equal(r.json().error, "source.schain.nodes[0].asi: expected string");
  });

  it("the host refuses a campaign set with a malformed seller entry, naming it", () => {
    assert.equal(filterParserCheck(JSON.stringify(withSellerRules({ schain_sellers_allow: ["ssp.example"] }))), undefined);
    assert.match(filterParserCheck(JSON.stringify(withSellerRules({ schain_sellers_block: ["ssp.example:"] }))) ?? "", /targeting\.schain_sellers_block\[0\]: empty seller id after ':'/);
    assert.match(filterParserCheck(JSON.stringify(withSellerRules({ schain_sellers_allow: "ssp.example" }))) ?? "", /targeting\.schain_sellers_allow: expected array/);
  });
});
