// Callout tokens as keys. The filter remembers its in-flight proxy_http_calls
// (the leader's syncs, config and model fetches; every replay claim) in fields
// and tables where 0 means "none". A token is any u32, 0 included: hosts count
// them up (Envoy: 4, 8, 12, ...) and a counter may wrap to 0. So the filter
// keeps token + 1; only token 0xFFFFFFFF maps to 0, and hosts hand out
// multiples of 4.

/** The key of callout `token` (never 0 for a token a host hands out). */
@inline export function calloutKey(token: u32): u32 {
  return token + 1;
}
