// The VM's environment variables (proxy-wasm ABI v0.2.1, "Environment variables":
// wasi_snapshot_preview1.environ_sizes_get / environ_get). Envoy fills them from
// the Wasm filter's vm_config.environment_variables (host_env_keys: variables of
// Envoy's own process; key_values: literals), so a secret can reach the filter
// from a Kubernetes Secret or a compose .env without being written into
// envoy.yaml. Cold path (on_configure): allocates freely.
// (Declared here, not in proxy-wasm/imports.ts, because only the plugin's
// configuration step uses them.)

@external("wasi_snapshot_preview1", "environ_sizes_get")
declare function environ_sizes_get(returnCount: usize, returnBufferSize: usize): u32;
@external("wasi_snapshot_preview1", "environ_get")
declare function environ_get(returnArray: usize, returnBuffer: usize): u32;

const WASI_SUCCESS: u32 = 0;

/** The value of the VM environment variable `name` (bytes), or null when it is not set. */
export function vmEnv(name: string): ArrayBuffer | null {
  const sizes = new ArrayBuffer(8);
  const sp = changetype<usize>(sizes);
  if (environ_sizes_get(sp, sp + 4) != WASI_SUCCESS) return null;
  const count = load<u32>(sp);
  const size = load<u32>(sp, 4);
  if (count == 0 || size == 0) return null;
  const array = new ArrayBuffer(<i32>count * 4);
  const buf = new ArrayBuffer(<i32>size);
  if (environ_get(changetype<usize>(array), changetype<usize>(buf)) != WASI_SUCCESS) return null;
  const key = String.UTF8.encode(name);
  const kp = changetype<usize>(key);
  const kl = <usize>key.byteLength;
  const base = changetype<usize>(buf);
  const end = base + <usize>size;
  for (let i: u32 = 0; i < count; i++) {
    // Each entry is "NAME=value\0"; the pointers the host wrote point into `buf`.
    const e = <usize>load<u32>(changetype<usize>(array) + <usize>(i * 4));
    if (e < base || e + kl + 1 > end) continue;
    if (memory.compare(e, kp, kl) != 0 || load<u8>(e + kl) != 0x3d) continue;
    const start = e + kl + 1;
    let stop = start;
    while (stop < end && load<u8>(stop) != 0) stop++;
    const out = new ArrayBuffer(<i32>(stop - start));
    memory.copy(changetype<usize>(out), start, stop - start);
    return out;
  }
  return null;
}
