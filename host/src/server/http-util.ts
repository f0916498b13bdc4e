// Small helpers shared by the bid and control servers.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createGunzip, createInflate } from "node:zlib";

export class BodyTooLarge extends Error {
  readonly code = "BODY_TOO_LARGE";
}

/** A body that cannot be decoded: 415 for an encoding not supported, 400 for a corrupt body of one that is. */
export class BadEncoding extends Error {
  readonly code = "BAD_ENCODING";
  constructor(
    message: string,
    readonly status: 400 | 415,
  ) {
    super(message);
  }
}

/**
 * Reads a request body as chunks, stopping at `limit` bytes (after
 * decompression for gzip/deflate, like Envoy's decompressor filter, so a
 * gzip bomb is cut off at the limit, never inflated into memory).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array[]> {
  const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase().trim();
  let source: NodeJS.ReadableStream = req;
  if (encoding === "gzip" || encoding === "x-gzip") source = req.pipe(createGunzip());
  else if (encoding === "deflate") source = req.pipe(createInflate());
  else if (encoding !== "identity" && encoding !== "") return Promise.reject(new BadEncoding(`unsupported content-encoding "${encoding}"`, 415));
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      if (err) {
        if (source !== req) (source as unknown as { destroy(): void }).destroy();
        req.resume(); // drain what the client still sends
        reject(err);
      } else {
        resolve(chunks);
      }
    };
    source.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) return finish(new BodyTooLarge(`body larger than ${limit} bytes`));
      chunks.push(chunk);
    });
    source.on("end", () => finish(null));
    source.on("error", (err: Error) => finish(source === req ? err : new BadEncoding(`invalid ${encoding} body: ${err.message}`, 400)));
    req.on("aborted", () => finish(new Error("client aborted")));
  });
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Reads a JSON body; invalid UTF-8 is a SyntaxError like invalid JSON (never silently replaced by U+FFFD). */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks = await readBody(req, limit);
  let text: string;
  try {
    text = strictUtf8.decode(Buffer.concat(chunks));
  } catch {
    throw new SyntaxError("request body is not valid UTF-8");
  }
  return text.length === 0 ? {} : JSON.parse(text);
}

export function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}

/** Closes the server and its keep-alive connections. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}
