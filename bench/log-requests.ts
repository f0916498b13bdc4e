// Bid requests built from the iPinYou raw logs with the project's mapping
// (host/src/data/openrtb-from-log.ts), for the benchmark's request mix.
export async function requestsFromLogs(_file: string, _max: number): Promise<Uint8Array[]> {
  throw new Error("log mapping not wired yet");
}
