// Every flag a tool parses is in its --help and in its section of docs/TOOLS.md, and every flag
// its --help names is one it parses (a hidden --core was neither in the usage nor documented).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { LOADGEN_OPTIONS, LOADGEN_USAGE } from "../../host/src/tools/loadgen.ts";
import { REPLAY_OPTIONS, REPLAY_USAGE } from "../../host/src/tools/replay.ts";
import { TRAIN_OPTIONS, TRAIN_USAGE } from "../../host/src/tools/train.ts";
import { ROOT } from "./helpers.ts";

const TOOLS_MD = readFileSync(join(ROOT, "docs", "TOOLS.md"), "utf8");

/** The text of `## name` up to the next `## ` heading. */
function section(name: string): string {
  const start = TOOLS_MD.indexOf(`\n## ${name}\n`);
  assert.ok(start >= 0, `docs/TOOLS.md has a "## ${name}" section`);
  const end = TOOLS_MD.indexOf("\n## ", start + 1);
  return TOOLS_MD.slice(start, end < 0 ? undefined : end);
}

const mentions = (text: string, flag: string) => new RegExp(`--${flag}(?![a-z0-9-])`).test(text);
const flagsIn = (usage: string) => new Set([...usage.matchAll(/--([a-z0-9][a-z0-9-]*)/g)].map((m) => m[1]!));

describe("tool flags: parsed = --help = docs/TOOLS.md", () => {
  for (const [tool, options, usage] of [
    ["train", TRAIN_OPTIONS, TRAIN_USAGE],
    ["replay", REPLAY_OPTIONS, REPLAY_USAGE],
    ["loadgen", LOADGEN_OPTIONS, LOADGEN_USAGE],
  ] as const) {
    it(tool, () => {
      const parsed = Object.keys(options).filter((k) => k !== "help");
      const docs = section(tool);
      for (const flag of parsed) {
        assert.ok(mentions(usage, flag), `${tool}: --${flag} is parsed but not in --help`);
        assert.ok(mentions(docs, flag), `${tool}: --${flag} is parsed but not in docs/TOOLS.md`);
      }
      for (const flag of flagsIn(usage)) assert.ok(parsed.includes(flag), `${tool} --help names --${flag}, which it does not parse`);
    });
  }
});
