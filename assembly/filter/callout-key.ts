// Callout tokens as keys. The filter remembers its in-flight proxy_http_calls
// (the leader's syncs, config and model fetches; every replay claim) in fields
// and tables where 0 means "none". A token is any u32, 0 included: hosts count
// them up (Envoy: 4, 8, 12, ...) and a counter may wrap to 0. So the filter
// keeps token + 1; only token 0xFFFFFFFF maps to 0, and hosts hand out
// multiples of 4.
import { HostBytes, MapType, Status, getHeaderMapValue } from "../proxy-wasm";

/** The key of callout `token` (never 0 for a token a host hands out). */
@inline export function calloutKey(token: u32): u32 {
  return token + 1;
}

const STATUS_KEY = memory.data<u8>([0x3a, 0x73, 0x74, 0x61, 0x74, 0x75, 0x73]); // ":status"

/**
 * :status of the callout being answered (in on_http_call_response; 0 if absent or not a number),
 * read from map 6: under Envoy proxy_get_status is not the HTTP status. `scratch` holds the copy.
 */
export function calloutStatus(scratch: HostBytes): i32 {
  if (getHeaderMapValue(MapType.HTTP_CALL_RESPONSE_HEADERS, STATUS_KEY, 7, scratch) != Status.OK || scratch.len <= 0 || scratch.len > 3) return 0;
  let v = 0;
  for (let i = 0; i < scratch.len; i++) {
    const c = <i32>load<u8>(scratch.ptr + <usize>i) - 0x30;
    if (c < 0 || c > 9) return 0;
    v = v * 10 + c;
  }
  return v;
}
