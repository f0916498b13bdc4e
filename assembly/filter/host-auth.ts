// The bearer token of every call the filter makes to the host (/nexus/v1/*:
// sync, config, model, replay claims). It comes from the plugin configuration:
// `sync_token` inline, or `sync_token_env`, the name of a VM environment
// variable (Envoy: vm_config.environment_variables). Without a token the calls
// go out without one and the host answers 401: nothing is loaded or granted, and
// the filter fails closed (no model, no budget). Resolved once in on_configure;
// adding the header allocates nothing.
import { HeaderMapWriter, LogLevel, log } from "../proxy-wasm";
import { PluginConfig, isToken68 } from "./config";
import { vmEnv } from "./vm-env";

export class HostAuth {
  /** "Bearer <token>", or empty when there is none. */
  private value: ArrayBuffer = new ArrayBuffer(0);

  get configured(): bool {
    return this.value.byteLength > 0;
  }

  configure(cfg: PluginConfig): void {
    let token = cfg.syncToken.buf;
    if (cfg.syncTokenEnv.len > 0) {
      const name = cfg.syncTokenEnv.toString();
      const fromEnv = vmEnv(name);
      if (fromEnv === null || !isToken68(changetype<usize>(fromEnv), fromEnv.byteLength)) {
        log(LogLevel.ERROR, "nexus: sync_token_env: the VM environment variable " + name + " is " + (fromEnv === null ? "not set" : "not a valid token (16-512 token68 characters)") + "; the host will refuse this filter's calls (401)");
        token = new ArrayBuffer(0);
      } else {
        token = fromEnv;
      }
    } else if (token.byteLength == 0) {
      log(LogLevel.WARN, "nexus: no sync_token or sync_token_env: the host will refuse this filter's calls (401)");
    }
    if (token.byteLength == 0) {
      this.value = new ArrayBuffer(0);
      return;
    }
    const prefix = String.UTF8.encode("Bearer ");
    const v = new ArrayBuffer(prefix.byteLength + token.byteLength);
    memory.copy(changetype<usize>(v), changetype<usize>(prefix), <usize>prefix.byteLength);
    memory.copy(changetype<usize>(v) + <usize>prefix.byteLength, changetype<usize>(token), <usize>token.byteLength);
    this.value = v;
  }

  /**
   * The request headers of a call to the host (sync, config, model, replay claim, notice
   * forward): method, path, host_authority, content type and the token.
   */
  writeCallHeaders(h: HeaderMapWriter, cfg: PluginConfig, method: string, pathPtr: usize, pathLen: i32, contentType: string): void {
    h.reset();
    h.addAscii(":method", method);
    h.addAsciiKey(":path", pathPtr, pathLen);
    h.addAsciiKey(":authority", cfg.hostAuthority.ptr, cfg.hostAuthority.len);
    h.addAscii("content-type", contentType);
    this.addTo(h);
  }

  /** Adds "authorization: Bearer <token>" (nothing without a token). */
  addTo(h: HeaderMapWriter): void {
    if (this.value.byteLength > 0) h.addAsciiKey("authorization", changetype<usize>(this.value), this.value.byteLength);
  }
}
