// The size of the reservation ring is fixed for the life of the shared data. A bid's slot is its
// sequence number modulo the ring size, and shared data outlives a configuration reload (same
// vm_id): VMs of a new configuration with another reservation_slots would look for the bids
// already out at other slots (their wins answered 404, never charged), and the records beyond a
// smaller ring would never be swept (their money reserved for good). The first VM records the
// size; later ones use the recorded size whatever their configuration says.
import { Status, log, LogLevel } from "../proxy-wasm";
import { OwnedBytes } from "../core/bidding/campaign";
import { readShared, writeShared, shared } from "./shared";

const KEY_RING_SLOTS = OwnedBytes.fromString("nexus/v1/resv/slots");
const buf = memory.data(8);

/** The ring size to use: the one recorded in shared data, else `configured` (then recorded). */
export function reservationRingSlots(configured: u32): u32 {
  if (readShared(KEY_RING_SLOTS) == Status.OK && shared.len == 4) {
    const recorded = load<u32>(shared.ptr);
    if (recorded >= 64) {
      if (recorded != configured) {
        log(LogLevel.WARN, "nexus: reservation_slots " + configured.toString() + " ignored: this Envoy's reservation ring has " +
          recorded.toString() + " slots (a new size takes effect when Envoy restarts)");
      }
      return recorded;
    }
  }
  store<u32>(buf, configured);
  writeShared(KEY_RING_SLOTS, buf, 4, 0);
  return configured;
}
