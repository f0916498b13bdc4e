// What the bid server costs over bare node:http, without the filter: the bare server
// (bare-server.ts) and the bid server with a stub pool (stub-server.ts), each in its own
// process, under the HTTP section's closed-loop load, rounds alternating; server CPU per request.
// Not part of `npm run bench`. Run: node --import tsx bench/server-overhead.ts [--rounds 3]
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { load, startBare, startProcess, writeBodiesFile } from "./http-bench.ts";
import { loadBenchCorpus } from "./corpus.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" } } });
const bodies = writeBodiesFile(await loadBenchCorpus(), mkdtempSync(join(tmpdir(), "nexus-overhead-")));
const startStub = () => startProcess(["--import", "tsx", new URL("./stub-server.ts", import.meta.url).pathname], {}, "stub bid server");
const cpu: Record<string, number[]> = { bare: [], stub: [] };
for (let r = 0; r < Number(values.rounds); r++) {
  for (const [name, start] of [["bare", startBare], ["stub", startStub]] as const) {
    const s = await start();
    try {
      const url = `${s.url}/openrtb2/bid`;
      await load(url, bodies, s.pid, ["--concurrency", "32", "--seconds", "2", "--warmup", "0"]);
      const res = await load(url, bodies, s.pid, ["--concurrency", "32", "--seconds", "5", "--warmup", "1"]);
      cpu[name]!.push(res.serverCpuUsPerRequest);
      console.log(`${name}  ${Math.round(res.rps)} req/s  server CPU ${res.serverCpuUsPerRequest.toFixed(1)} µs/req`);
    } finally {
      await s.kill();
    }
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`median server CPU: bare ${med(cpu.bare!).toFixed(1)} µs, bid server with a stub filter ${med(cpu.stub!).toFixed(1)} µs per request`);
