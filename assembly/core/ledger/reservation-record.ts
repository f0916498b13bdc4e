// One reservation in the shared-data ring: which campaign, how much, until
// when, and how it ended. A record's state only moves forward:
//   RESERVED → WON | LOST | REFUNDED (floor, timeout) | EXPIRED (TTL) | WON_PENDING
//   WON_PENDING → WON (a notice with a usable price, or the TTL: charged at the bid)
//   EXPIRED | LOST → LATE_WON (a win after all: charged and counted)
// so a repeated or late notice can always tell what already happened.

export namespace SlotState {
  export const FREE: u8 = 0;
  export const RESERVED: u8 = 1;
  export const WON: u8 = 2;
  export const LOST: u8 = 3;
  export const REFUNDED: u8 = 4;
  export const EXPIRED: u8 = 5;
  export const LATE_WON: u8 = 6;
  /**
   * Won, but the notice's price was unusable (missing, unreadable, above the bid): the money
   * stays reserved until a notice with a price settles it (an exchange may price only its burl),
   * or until the TTL, when it is charged at the bid. Live, as RESERVED is, for the ring.
   */
  export const WON_PENDING: u8 = 7;
}

/** The slot holds money: a live reservation, or a win waiting for its price (only an expiry or a notice ends it). */
@inline export function isHeld(state: u8): bool {
  return state == SlotState.RESERVED || state == SlotState.WON_PENDING;
}

export const MAX_CAMPAIGN_ID: i32 = 64;
const HEADER: i32 = 48;
// The magic byte also says which clock `expiresMs` is on: records written before reservation
// TTLs moved to the monotonic clock are on the wall clock, and still expire by it.
const MAGIC_WALL: u8 = 0x52; // 'R'
const MAGIC_MONOTONIC: u8 = 0x4d; // 'M'

export class ReservationRecord {
  state: u8 = SlotState.FREE;
  nonce: u32 = 0;
  seq: u64 = 0;
  amountMicros: i64 = 0;
  createdMs: i64 = 0;
  expiresMs: i64 = 0;
  priceMicros: i64 = 0;
  /** `expiresMs` is on the host's monotonic clock (else on the wall clock). */
  monotonicExpiry: bool = false;
  readonly campaignId: usize = heap.alloc(<usize>MAX_CAMPAIGN_ID);
  campaignIdLen: i32 = 0;

  get size(): i32 {
    return HEADER + this.campaignIdLen;
  }

  clear(): void {
    this.state = SlotState.FREE;
    this.nonce = 0;
    this.seq = 0;
    this.amountMicros = 0;
    this.createdMs = 0;
    this.expiresMs = 0;
    this.priceMicros = 0;
    this.monotonicExpiry = false;
    this.campaignIdLen = 0;
  }

  setCampaignId(ptr: usize, len: i32): void {
    const n = len < MAX_CAMPAIGN_ID ? len : MAX_CAMPAIGN_ID;
    memory.copy(this.campaignId, ptr, <usize>n);
    this.campaignIdLen = n;
  }

  /** Decodes; a missing or malformed value reads as FREE. */
  read(ptr: usize, len: i32): bool {
    const magic = len < HEADER ? 0 : load<u8>(ptr);
    if (magic != MAGIC_WALL && magic != MAGIC_MONOTONIC) {
      this.clear();
      return false;
    }
    const idLen = <i32>load<u16>(ptr, 2);
    if (idLen > MAX_CAMPAIGN_ID || len != HEADER + idLen) {
      this.clear();
      return false;
    }
    this.monotonicExpiry = magic == MAGIC_MONOTONIC;
    this.state = load<u8>(ptr, 1);
    this.nonce = load<u32>(ptr, 4);
    this.seq = load<u64>(ptr, 8);
    this.amountMicros = load<i64>(ptr, 16);
    this.createdMs = load<i64>(ptr, 24);
    this.expiresMs = load<i64>(ptr, 32);
    this.priceMicros = load<i64>(ptr, 40);
    memory.copy(this.campaignId, ptr + <usize>HEADER, <usize>idLen);
    this.campaignIdLen = idLen;
    return true;
  }

  write(ptr: usize): i32 {
    store<u8>(ptr, this.monotonicExpiry ? MAGIC_MONOTONIC : MAGIC_WALL);
    store<u8>(ptr, this.state, 1);
    store<u16>(ptr, <u16>this.campaignIdLen, 2);
    store<u32>(ptr, this.nonce, 4);
    store<u64>(ptr, this.seq, 8);
    store<i64>(ptr, this.amountMicros, 16);
    store<i64>(ptr, this.createdMs, 24);
    store<i64>(ptr, this.expiresMs, 32);
    store<i64>(ptr, this.priceMicros, 40);
    memory.copy(ptr + <usize>HEADER, this.campaignId, <usize>this.campaignIdLen);
    return HEADER + this.campaignIdLen;
  }

  /** True if the slot may be taken by a new reservation. */
  isReusable(nowMs: i64): bool {
    // A slot that holds money is reusable only after the sweeper ended it; others are final.
    return !isHeld(this.state);
  }
}
