// The campaign example at the top of docs/CAMPAIGNS.md, comments stripped, is a set the host and
// the filter's parser accept: it is the first thing a campaign manager copies. (It was refused
// once: its video keys need a video creative, and the example had none.)
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CampaignCatalog } from "../../../host/src/control/campaigns.ts";
import { PACKAGE_ROOT } from "../../../host/src/paths.ts";

const tmp = mkdtempSync(join(tmpdir(), "nexus-docs-example-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** JSON with `//` comments (jsonc) without them: a `//` inside a string stays. */
function stripComments(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === "\\") out += text[++i] ?? "";
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else {
      out += c;
    }
  }
  return out;
}

describe("docs/CAMPAIGNS.md", () => {
  it("its first example is a campaign set the host and the filter accept", () => {
    const doc = readFileSync(join(PACKAGE_ROOT, "docs/CAMPAIGNS.md"), "utf8");
    const block = /```jsonc\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(block, "no jsonc example");
    const file = join(tmp, "example.json");
    writeFileSync(file, stripComments(block));
    const catalog = CampaignCatalog.fromFile(file);
    assert.deepEqual(catalog.campaigns.map((c) => c.id), ["demo-cpa"]);
  });
});
