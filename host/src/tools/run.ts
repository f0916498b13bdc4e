// Runs one offline tool from a checkout, before (or besides) the nexus-rtb CLI:
//   node --import tsx host/src/tools/run.ts train|replay|loadgen [flags]
// Each tool is `main(argv): Promise<exit code>`; this file only dispatches.
import { main as loadgen } from "./loadgen.ts";
import { main as replay } from "./replay.ts";
import { main as train } from "./train.ts";

const tools: Record<string, (argv: string[]) => Promise<number>> = { train, replay, loadgen };
const [name, ...argv] = process.argv.slice(2);
const tool = name === undefined ? undefined : tools[name];
if (tool === undefined) {
  process.stderr.write(`usage: node --import tsx host/src/tools/run.ts ${Object.keys(tools).join("|")} [flags] (--help for each)\n`);
  process.exitCode = 2;
} else {
  process.exitCode = await tool(argv);
}
