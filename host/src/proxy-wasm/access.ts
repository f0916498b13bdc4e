// Which buffer, header map or property the filter may reach from the current callback and
// effective context. Statuses follow Envoy's Context (getBuffer/getMap/getConstMap/getProperty):
//   buffers: a buffer that does not exist now -> NOT_FOUND. VM_CONFIGURATION only in
//     on_vm_start and PLUGIN_CONFIGURATION only in on_configure (the spec's rule; Envoy is looser
//     for the VM configuration); request/response body while it is buffered in that stream;
//     HTTP_CALL_RESPONSE_BODY while on_http_call_response runs. TCP, gRPC and foreign-function
//     buffers never exist here.
//   maps: see stream.ts; a map that is not available -> null (the ABI layer turns it into
//     BAD_ARGUMENT, or NOT_FOUND for reads in on_log, or an empty map for get_header_map_pairs).

import type { BufferRef } from "./abi.ts";
import type { CalloutResponse } from "./callouts.ts";
import { BufferType, MapType, Status } from "./constants.ts";
import { HeaderMap } from "./header-map.ts";
import { type AnyContext, StreamContext } from "./stream.ts";

const utf8 = new TextEncoder();

export interface Configs {
  vmConfig: Uint8Array;
  pluginConfig: Uint8Array;
}

function constBuffer(bytes: Uint8Array): BufferRef {
  return { bytes: () => bytes };
}

export function bufferFor(
  ctx: AnyContext | undefined,
  type: number,
  callback: string,
  configs: Configs,
  callout: CalloutResponse | null,
): BufferRef | null {
  switch (type) {
    case BufferType.VM_CONFIGURATION:
      return callback === "proxy_on_vm_start" ? constBuffer(configs.vmConfig) : null;
    case BufferType.PLUGIN_CONFIGURATION:
      return callback === "proxy_on_configure" ? constBuffer(configs.pluginConfig) : null;
    case BufferType.HTTP_CALL_RESPONSE_BODY:
      return callout ? constBuffer(callout.body) : null;
    case BufferType.HTTP_REQUEST_BODY:
      return ctx instanceof StreamContext ? ctx.reqBody : null;
    case BufferType.HTTP_RESPONSE_BODY:
      return ctx instanceof StreamContext ? ctx.respBody : null;
    default:
      return null;
  }
}

export function mapFor(ctx: AnyContext | undefined, type: number, mode: "read" | "write", callout: CalloutResponse | null): HeaderMap | null {
  if (type === MapType.HTTP_CALL_RESPONSE_HEADERS) return mode === "read" ? (callout?.headers ?? null) : null;
  if (type === MapType.HTTP_CALL_RESPONSE_TRAILERS) return mode === "read" ? (callout?.trailers ?? null) : null;
  if (!(ctx instanceof StreamContext)) return null;
  if (ctx.accessLog) {
    if (mode === "write") return null;
    if (type === MapType.HTTP_REQUEST_HEADERS) return ctx.reqHeaders;
    if (type === MapType.HTTP_RESPONSE_HEADERS) return ctx.logResponseHeaders();
    if (type === MapType.HTTP_RESPONSE_TRAILERS) return ctx.respTrailers;
    return null;
  }
  switch (type) {
    case MapType.HTTP_REQUEST_HEADERS:
      return ctx.reqHeadersOpen ? ctx.reqHeaders : null;
    case MapType.HTTP_RESPONSE_HEADERS:
      return ctx.respHeadersOpen ? ctx.responseHeaders() : null;
    case MapType.HTTP_REQUEST_TRAILERS:
      if (ctx.reqTrailersOpen) return ctx.reqTrailers;
      if (ctx.reqTrailersAddable && (mode === "write" || ctx.reqTrailers)) return (ctx.reqTrailers ??= new HeaderMap());
      return null;
    case MapType.HTTP_RESPONSE_TRAILERS:
      if (ctx.respTrailersOpen) return ctx.respTrailers;
      if (ctx.respTrailersAddable && (mode === "write" || ctx.respTrailers)) return (ctx.respTrailers ??= new HeaderMap());
      return null;
    default:
      return null;
  }
}

/**
 * Properties: path segments are separated by NUL. Supported: plugin_name, plugin_root_id,
 * plugin_vm_id (strings), and what the filter stored on its stream with proxy_set_property.
 * Anything else (or a path below a string) -> NOT_FOUND.
 */
export function getProperty(ctx: AnyContext | undefined, path: Uint8Array, props: Readonly<Record<string, string>>): { status: Status; value?: Uint8Array } {
  const key = new TextDecoder().decode(path);
  if (ctx instanceof StreamContext) {
    const v = ctx.properties?.get(key.replace(/\0$/, ""));
    if (v) return { status: Status.OK, value: v };
  }
  const parts = key.split("\0");
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  if (parts.length !== 1) return { status: Status.NOT_FOUND };
  const v = Object.hasOwn(props, parts[0]!) ? props[parts[0]!] : undefined;
  return v === undefined ? { status: Status.NOT_FOUND } : { status: Status.OK, value: utf8.encode(v) };
}

/** Envoy keeps set properties in the stream's filter state: only on a stream context. */
export function setProperty(ctx: AnyContext | undefined, path: Uint8Array, value: Uint8Array): Status {
  if (!(ctx instanceof StreamContext)) return Status.NOT_FOUND;
  (ctx.properties ??= new Map()).set(new TextDecoder().decode(path).replace(/\0$/, ""), value);
  return Status.OK;
}
