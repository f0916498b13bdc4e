// Bid requests built from the iPinYou raw logs with the project's own mapping
// (host/src/data/openrtb-from-log.ts, shared with the trainer and loadgen).
import { readRawLog } from "../host/src/data/ipinyou-raw.ts";
import { bidRequestFromLog } from "../host/src/data/openrtb-from-log.ts";

export async function requestsFromLogs(file: string, max: number): Promise<Uint8Array[]> {
  const enc = new TextEncoder();
  const out: Uint8Array[] = [];
  for await (const rec of readRawLog(file)) {
    out.push(enc.encode(bidRequestFromLog(rec).json));
    if (out.length >= max) break;
  }
  return out;
}
