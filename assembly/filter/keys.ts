// Shared-data keys. Versioned ("nexus/v1/") so that a new filter version with a
// new encoding never misreads an old one's values. Fixed keys are static
// bytes; per-slot keys are written into one reusable buffer.
import { OwnedBytes } from "../core/bidding/campaign";

export const KEY_VM_SEQ = OwnedBytes.fromString("nexus/v1/vm-seq");
export const KEY_LEADER = OwnedBytes.fromString("nexus/v1/leader");
export const KEY_CONFIG_VERSION = OwnedBytes.fromString("nexus/v1/config/version");
export const KEY_CONFIG = OwnedBytes.fromString("nexus/v1/config/campaigns");
export const KEY_MODEL_META = OwnedBytes.fromString("nexus/v1/model/meta");
export const KEY_MODEL_BLOB = OwnedBytes.fromString("nexus/v1/model/blob");
export const KEY_RESV_CURSOR = OwnedBytes.fromString("nexus/v1/resv/cursor");
export const KEY_STATUS = OwnedBytes.fromString("nexus/v1/status");
/**
 * u32, never 0: the identity of this shared-data store's ledger (random, made by the first leader
 * that reports). Shared data lives as long as the Envoy process (per vm_id), so a new epoch in a
 * sync report tells the host that the ledger it knew is gone, whatever its numbers say.
 */
export const KEY_LEDGER_EPOCH = OwnedBytes.fromString("nexus/v1/ledger-epoch");
/** Counted wins waiting for the leader's sync to send them to the other pods (frequency-fleet.ts). */
export const KEY_FREQUENCY_OUTBOX = OwnedBytes.fromString("nexus/v1/fq-outbox");
/**
 * Where this pod is in the fleet's stream of counted wins: the id of the last stream entry whose
 * counts its filter took (frequency-fleet.ts FrequencyCursor). In shared data, so that it outlives
 * the host process and the leader VM: a restarted host resumes there, a new pod starts empty.
 */
export const KEY_FREQUENCY_CURSOR = OwnedBytes.fromString("nexus/v1/fq-cursor");

export const LEDGER_PREFIX = "nexus/v1/ledger/";
const PACE_PREFIX = "nexus/v1/pace/";
const PACE_STATE_PREFIX = "nexus/v1/pace-state/";

export function ledgerKey(campaignId: string): OwnedBytes {
  return OwnedBytes.fromString(LEDGER_PREFIX + campaignId);
}

export function paceKey(campaignId: string): OwnedBytes {
  return OwnedBytes.fromString(PACE_PREFIX + campaignId);
}

export function paceStateKey(campaignId: string): OwnedBytes {
  return OwnedBytes.fromString(PACE_STATE_PREFIX + campaignId);
}

export const RESERVATION_SLOT_PREFIX = "nexus/v1/resv/";
export const FREQUENCY_BUCKET_PREFIX = "nexus/v1/fq/";

/** Builds "<prefix><n>" (default: a reservation slot, "nexus/v1/resv/<n>") into a reused buffer without allocating. */
export class SlotKey {
  readonly buf: usize = heap.alloc(64);
  len: i32 = 0;

  constructor(private readonly prefix: string = RESERVATION_SLOT_PREFIX) {}

  build(slot: u32): void {
    const prefix = this.prefix;
    let n = 0;
    for (let i = 0; i < prefix.length; i++) store<u8>(this.buf + <usize>(n++), <u8>prefix.charCodeAt(i));
    let div: u32 = 1;
    while (slot / div >= 10) div *= 10;
    while (div > 0) {
      store<u8>(this.buf + <usize>(n++), <u8>(0x30 + (slot / div) % 10));
      div /= 10;
    }
    this.len = n;
  }
}

/** Builds LEDGER_PREFIX + campaign id bytes into a reused buffer. */
export class LedgerKeyBuilder {
  readonly buf: usize = heap.alloc(128);
  len: i32 = 0;

  build(idPtr: usize, idLen: i32): void {
    let n = 0;
    for (let i = 0; i < LEDGER_PREFIX.length; i++) store<u8>(this.buf + <usize>(n++), <u8>LEDGER_PREFIX.charCodeAt(i));
    const m = idLen < 100 ? idLen : 100;
    memory.copy(this.buf + <usize>n, idPtr, <usize>m);
    this.len = n + m;
  }
}

/** "nexus/v1/vm/<seq>": a VM's status (i64 time ms, i64 config version, u8 model loaded). */
export class VmStatusKey {
  key: OwnedBytes = OwnedBytes.fromString("nexus/v1/vm/0");
  private seq: u32 = 0;

  build(seq: u32): void {
    if (seq == this.seq && this.key.len > 0) return;
    this.seq = seq;
    this.key = OwnedBytes.fromString("nexus/v1/vm/" + seq.toString());
  }
}
/** u32: this Envoy process's tag in notice URLs (pod-tag.ts). */
export const KEY_POD_TAG = OwnedBytes.fromString("nexus/v1/pod-tag");
