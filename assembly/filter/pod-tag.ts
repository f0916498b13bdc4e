// This Envoy process's tag, sent in notice URLs as "&pod=<8 hex digits>" (bid-response.ts). A
// bid's reservation lives in this process's shared data, so the tag names the pod a notice
// belongs to: a pod that gets another's notice has its host forward it to that pod alone
// (notice-forward.ts; the host learns each pod's tag from its filter's sync report), not to
// every pod. One random u32 per process in shared data: the first VM to configure creates it,
// and every VM adopts the stored one at each tick, so VMs that raced at start (SECURITY.md G9)
// agree within a tick. A notice with a tag no pod lists is still sent to every pod.
import { Status, getSharedData, setSharedData } from "../proxy-wasm";
import { writeHex8 } from "../core/bidding/imp-bid";
import { Str } from "../core/bytes/str";
import { KEY_POD_TAG } from "./keys";
import { shared } from "./shared";

export class PodTag {
  /** The tag's 8 hex digits; empty until one is read. */
  readonly text: Str = new Str();
  private readonly digits: usize = heap.alloc(8);
  private readonly buf: usize = heap.alloc(4);

  /** Adopts the stored tag, creating it from `entropy` when there is none (the first VM). */
  configure(entropy: u32): void {
    if (this.read()) return;
    store<u32>(this.buf, entropy);
    setSharedData(KEY_POD_TAG.ptr, KEY_POD_TAG.len, this.buf, 4, 0);
    this.read(); // another VM may have created it first: use the stored one
  }

  /** Adopts the stored tag (each tick); false when there is none. */
  read(): bool {
    if (getSharedData(KEY_POD_TAG.ptr, KEY_POD_TAG.len, shared) != Status.OK || shared.len != 4) return false;
    writeHex8(this.digits, 0, load<u32>(shared.ptr));
    shared.release();
    this.text.set(this.digits, 8);
    return true;
  }
}
