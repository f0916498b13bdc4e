// AssemblyScript's runtime calls abort() on failed assertions, out-of-bounds
// array access and out-of-memory. The default imports env.abort, which Envoy
// does not provide, so the build routes it here (`--use abort=...`): the
// message goes to proxy_log at CRITICAL level, then the VM traps. A trap is a
// defect and ends the VM in Envoy, so the bid path is written not to abort;
// this handler only makes sure the reason is logged when it does.
import { proxy_log } from "./imports";
import { LogLevel } from "./types";

const ABORT_BUF_SIZE: i32 = 512;
const abortBuf = memory.data(ABORT_BUF_SIZE);

function appendAscii(at: i32, s: string): i32 {
  // Writes UTF-16 code units as bytes (non-ASCII becomes '?') without allocating:
  // the runtime may be out of memory when we get here.
  const n = s.length;
  for (let i = 0; i < n && at < ABORT_BUF_SIZE; i++) {
    const c = s.charCodeAt(i);
    store<u8>(abortBuf + <usize>at, c < 0x20 || c > 0x7e ? 0x3f : <u8>c);
    at++;
  }
  return at;
}

function appendNumber(at: i32, v: u32): i32 {
  let div: u32 = 1000000000;
  let started = false;
  while (div > 0) {
    const d = (v / div) % 10;
    if (d != 0 || started || div == 1) {
      started = true;
      if (at < ABORT_BUF_SIZE) store<u8>(abortBuf + <usize>(at++), <u8>(0x30 + d));
    }
    div /= 10;
  }
  return at;
}

export function abortHandler(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let n = appendAscii(0, "nexus filter abort: ");
  n = appendAscii(n, message !== null ? message : "(no message)");
  n = appendAscii(n, " at ");
  n = appendAscii(n, fileName !== null ? fileName : "(unknown)");
  n = appendAscii(n, ":");
  n = appendNumber(n, line);
  n = appendAscii(n, ":");
  n = appendNumber(n, column);
  proxy_log(LogLevel.CRITICAL, abortBuf, <usize>n);
  unreachable();
}
