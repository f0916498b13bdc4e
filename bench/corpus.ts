// The benchmark's request mix: the OpenRTB test corpus, plus requests built
// from the iPinYou raw logs (../shared/data) when the data set is present.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../host/src/paths.ts";

export const CORE_WASM = join(PACKAGE_ROOT, "build", "nexus_core.wasm");

export interface BenchCorpus {
  bodies: Uint8Array[];
  fromLogs: number;
}

export async function loadBenchCorpus(maxLogRequests = 2000): Promise<BenchCorpus> {
  const dir = join(PACKAGE_ROOT, "tests/fixtures/openrtb/valid");
  const bodies: Uint8Array[] = readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => new Uint8Array(readFileSync(join(dir, f))));
  let fromLogs = 0;
  const logFile = join(PACKAGE_ROOT, "..", "shared", "data", "ipinyou-2259-logs", "train.log.txt");
  const mapping = join(PACKAGE_ROOT, "host/src/data/openrtb-from-log.ts");
  if (existsSync(logFile) && existsSync(mapping)) {
    try {
      const logs = await import("./log-requests.ts");
      for (const b of await logs.requestsFromLogs(logFile, maxLogRequests)) {
        bodies.push(b);
        fromLogs++;
      }
    } catch (err) {
      console.error(`bench: requests from logs unavailable (${(err as Error).message}); using the corpus only`);
    }
  }
  return { bodies, fromLogs };
}
