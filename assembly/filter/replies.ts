// Local replies: headers and body built in reused buffers, one host call.
import { sendLocalResponse, HeaderMapWriter } from "../proxy-wasm";
import { ByteWriter } from "../core/bytes/writer";
import { writeError } from "../core/reply/bid-response";
import { noBidName } from "../core/bidding/reasons";

export const headers = new HeaderMapWriter(16, 2048);
export const body = new ByteWriter(256 * 1024);
const scratch = new ByteWriter(1024);

/** `body` as JSON; `allow`: the allow header of a 405 (RFC 9110 §15.5.6), none when empty. */
export function replyJson(status: u32, details: string, allow: string = ""): void {
  headers.reset();
  headers.addAscii("content-type", "application/json");
  if (allow.length > 0) headers.addAscii("allow", allow);
  headers.addAscii("x-openrtb-version", "2.6");
  sendWithDetails(status, details, body.base, body.len);
}

export function replyNoBid(reason: i32): void {
  headers.reset();
  const name = noBidName(reason);
  headers.addAscii("x-nexus-nobid-reason", name);
  headers.addAscii("x-openrtb-version", "2.6");
  sendWithDetails(204, "nexus_nobid", 0, 0);
}

/**
 * A notice's answer: `body` as JSON, marked "x-nexus-notice: 1" so that a host forwarding the
 * notice for another pod (notice-forward.ts) can tell the filter's answer from Envoy's own (an
 * overload 503, a timeout 408) or anything else listening at a pod's address.
 */
export function replyNoticeJson(status: u32, details: string): void {
  headers.reset();
  headers.addAscii("content-type", "application/json");
  headers.addAscii("x-openrtb-version", "2.6");
  headers.addAscii("x-nexus-notice", "1");
  sendWithDetails(status, details, body.base, body.len);
}

/** A notice's error answer: {"error": message}, marked as replyNoticeJson. */
export function replyNoticeError(status: u32, message: string, details: string): void {
  scratch.reset();
  scratch.ascii(message);
  writeError(body, scratch.base, scratch.len);
  replyNoticeJson(status, details);
}

/** {"error": message} with the status (400, 404, 405, 413, 415, …). */
export function replyError(status: u32, messagePtr: usize, messageLen: i32, details: string): void {
  writeError(body, messagePtr, messageLen);
  replyJson(status, details);
}

/** 405 {"error": message} with the `allow` header RFC 9110 §15.5.6 asks for (e.g. "POST"). */
export function replyMethodNotAllowed(allow: string, message: string): void {
  scratch.reset();
  scratch.ascii(message);
  writeError(body, scratch.base, scratch.len);
  replyJson(405, "nexus_method", allow);
}

/** replyError with an ASCII literal message. */
export function replyErrorText(status: u32, message: string, details: string): void {
  scratch.reset();
  scratch.ascii(message);
  replyError(status, scratch.base, scratch.len, details);
}

function sendWithDetails(status: u32, details: string, bodyPtr: usize, bodyLen: i32): void {
  scratch.reset();
  scratch.ascii(details);
  sendLocalResponse(status, scratch.base, scratch.len, bodyPtr, bodyLen, headers.ptr, headers.len);
}
