// End to end on the directory store (the default): a standalone bidder whose
// model directory gets new versions and bad ones while it serves bids.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dirPublisher } from "./helpers.ts";
import { storeScenario } from "./scenario.ts";

storeScenario("directory store", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nexus-model-dir-"));
  return { publisher: dirPublisher(dir), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});
