// Worker for the shared-data stress test: CAS-increments a u64 counter `n` times.
import { parentPort, workerData } from "node:worker_threads";
import { SharedDataStore } from "../../../host/src/proxy-wasm/shared-data.ts";

const { sab, key, n } = workerData as { sab: SharedArrayBuffer; key: string; n: number };
const store = SharedDataStore.attach(sab);
let attempts = 0;
const out = new Uint8Array(8);
const dv = new DataView(out.buffer);
for (let i = 0; i < n; i++) {
  for (;;) {
    attempts++;
    const cur = store.get(key);
    const v = cur ? new DataView(cur.value.buffer).getBigUint64(0, true) : 0n;
    dv.setBigUint64(0, v + 1n, true);
    const st = store.set(key, out, cur?.cas ?? 0);
    if (st === 0) break;
    if (st !== 8) throw new Error(`unexpected status ${st}`);
  }
}
parentPort!.postMessage({ attempts });
