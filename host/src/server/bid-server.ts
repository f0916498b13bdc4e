// The standalone bid server: node:http in front of the filter VMs, doing what
// Envoy's listener, decompressor and local-reply path do. Each request becomes
// request headers (with :method, :path, :authority, :scheme) and body
// callbacks; the filter's local reply becomes the HTTP response.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { HttpOutcome, HttpRequest } from "../proxy-wasm/types.ts";
import type { Logger } from "../log.ts";
import { BadEncoding, BodyTooLarge, readBody, sendJson } from "./http-util.ts";
import { closeServer, listen } from "./http-util.ts";

export interface FilterPool {
  handleHttpRequest(req: HttpRequest): Promise<HttpOutcome>;
}

export interface BidServerOptions {
  pool: FilterPool;
  log: Logger;
  /** Largest (decompressed) body accepted; the filter applies its own max_body_bytes below it. */
  maxBodyBytes: number;
}

export class BidServer {
  readonly server: Server;
  vmFailures = 0;

  constructor(private readonly o: BidServerOptions) {
    this.server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 30_000 }, (req, res) => {
      this.handle(req, res).catch((err: Error) => {
        o.log.error({ event: "bid_server_error", err: err.message }, "request failed");
        if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
        else res.destroy();
      });
    });
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return listen(this.server, port, host);
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (Number.isFinite(declared) && declared > this.o.maxBodyBytes) {
      req.resume();
      return sendJson(res, 413, { error: `body larger than ${this.o.maxBodyBytes} bytes` }, { connection: "close" });
    }
    let body: Uint8Array[];
    try {
      body = req.method === "GET" || req.method === "HEAD" ? [] : await readBody(req, this.o.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLarge) return sendJson(res, 413, { error: err.message }, { connection: "close" });
      if (err instanceof BadEncoding) return sendJson(res, 415, { error: err.message });
      res.destroy();
      return;
    }
    const outcome = await this.o.pool.handleHttpRequest({ headers: toHeaderPairs(req, body.length > 0), body });
    switch (outcome.kind) {
      case "local": {
        const headers: Record<string, string> = {};
        for (const [k, v] of outcome.headers) if (!k.startsWith(":")) headers[k] = v;
        headers["content-length"] = String(outcome.body.byteLength);
        res.writeHead(outcome.status, headers);
        res.end(outcome.body);
        return;
      }
      case "continue":
        return sendJson(res, 404, { error: "no route" });
      case "timeout":
        return sendJson(res, 504, { error: "filter timeout" });
      case "vm_failed":
        this.vmFailures++;
        // Envoy with fail_open: false closes such streams; answer plainly instead of hanging.
        return sendJson(res, 503, { error: "filter unavailable" });
      default:
        res.destroy();
    }
  }
}

/** Envoy-style header list: pseudo-headers first, names lower-cased; content-encoding removed (decompressed here). */
function toHeaderPairs(req: IncomingMessage, hasBody: boolean): Array<[string, string]> {
  const pairs: Array<[string, string]> = [
    [":method", req.method ?? "GET"],
    [":path", req.url ?? "/"],
    [":authority", req.headers.host ?? "localhost"],
    [":scheme", "http"],
  ];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === "host" || name === "content-encoding" || name === "content-length") continue;
    pairs.push([name, raw[i + 1]!]);
  }
  if (!hasBody && req.method !== "GET") pairs.push(["content-length", "0"]);
  return pairs;
}
