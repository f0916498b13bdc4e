// How much this machine interrupts a running process: a loop that does nothing
// but read the clock, and the gaps (> 0.2 ms) between two consecutive reads.
// On an idle machine a gap is time the process was not running (the kernel or
// the hypervisor took the core). A latency percentile cannot be better than the
// gaps the server's own process suffers at that rate, so the bench prints this
// next to the p99 it measures. `procs` loops run at once, one per process, to
// see what happens when every core is busy (as during the HTTP bench: server
// and load generator).
import { fork } from "node:child_process";

export interface JitterResult {
  seconds: number;
  procs: number;
  /** Gaps longer than 0.2 ms, summed over the processes (ms). */
  stalledMs: number;
  /** Largest gap (ms). */
  maxGapMs: number;
  /** Gaps longer than 1 ms. */
  gapsOver1Ms: number;
}

/** The loop: performance.now() allocates nothing, so the loop's own garbage collection adds no gap. */
function spin(ms: number): { gaps: number[] } {
  const end = performance.now() + ms;
  let last = performance.now();
  const gaps: number[] = [];
  for (;;) {
    const t = performance.now();
    if (t >= end) break;
    if (t - last > 0.2) gaps.push(t - last);
    last = t;
  }
  return { gaps };
}

export async function measureJitter(seconds: number, procs: number): Promise<JitterResult> {
  const runs = await Promise.all(
    Array.from({ length: procs }, () => new Promise<number[]>((resolve, reject) => {
      const child = fork(new URL(import.meta.url).pathname, ["--child", String(seconds * 1000)], { execArgv: ["--import", "tsx"] });
      child.on("message", (m) => resolve((m as { gaps: number[] }).gaps));
      child.on("error", reject);
    })),
  );
  const gaps = runs.flat();
  return {
    seconds,
    procs,
    stalledMs: gaps.reduce((a, b) => a + b, 0),
    maxGapMs: gaps.reduce((a, b) => Math.max(a, b), 0),
    gapsOver1Ms: gaps.filter((g) => g > 1).length,
  };
}

if (process.argv[2] === "--child") {
  process.send!(spin(Number(process.argv[3])));
  process.disconnect();
}
