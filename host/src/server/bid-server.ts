// The standalone bid server: node:http in front of the filter VMs, doing what
// Envoy's listener, decompressor and local-reply path do. Each request becomes
// request headers (with :method, :path, :authority, :scheme) and body
// callbacks; the filter's local reply becomes the HTTP response.
//
// Hot path (every bid request): one pass over the raw headers (node's lazily
// built req.headers object is never asked for), the body collected by two
// listeners without a promise, and the filter runs in batches: requests whose
// body is complete wait for the end of the current event-loop turn
// (setImmediate), then go through the filter one after the other, and their
// responses are written after the whole batch. Under load a turn carries
// several requests, so the filter's code and data stay in cache from one to
// the next instead of being evicted by node:http and the kernel in between.
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { AddressInfo, Socket } from "node:net";
import type { HttpOutcome, HttpRequest } from "../proxy-wasm/types.ts";
import type { Logger } from "../log.ts";
import { BadEncoding, BodyTooLarge, readBody, sendJson } from "./http-util.ts";
import { closeServer, listen } from "./http-util.ts";
import { acceptsGzip, gzipReplyBody } from "./reply-gzip.ts";

export interface FilterPool {
  handleHttpRequest(req: HttpRequest): Promise<HttpOutcome>;
}

export interface BidServerOptions {
  pool: FilterPool;
  log: Logger;
  /** Largest (decompressed) body accepted; the filter applies its own max_body_bytes below it. */
  maxBodyBytes: number;
  /** Each request the server answers itself (status, reason), not the filter: for a metric. */
  onRejected?: (status: number, reason: string) => void;
  /**
   * The filter's bid path (plugin bid_path; default /openrtb2/bid): once the drain began, a new
   * request for it is refused here (503), while the others (win and loss notices) still reach
   * the filter.
   */
  bidPath?: string;
}

/** A request whose body is complete, waiting for its turn in the filter. */
interface Job {
  request: HttpRequest;
  res: ServerResponse;
  /** The client's accept-encoding takes gzip (reply-gzip.ts). */
  gzip: boolean;
}

/** What one pass over req.rawHeaders finds. */
interface RequestHead {
  pairs: Array<[string, string]>;
  contentLength: string | undefined;
  contentEncoding: string | undefined;
  /** accept-encoding (also passed to the filter, as Envoy does). */
  acceptEncoding: string | undefined;
}

export class BidServer {
  readonly server: Server;
  vmFailures = 0;
  /** beginDrain() or drain() was called: new bids are refused, and answers close their connections. */
  draining = false;
  private readonly bidPath: string;
  private queue: Job[] = [];
  private flushScheduled = false;
  /** Open client connections (for the drain: those that never sent a byte are not requests in flight). */
  private readonly sockets = new Set<Socket>();
  private readonly flushQueue = (): void => this.flush();

  constructor(private readonly o: BidServerOptions) {
    this.bidPath = o.bidPath ?? "/openrtb2/bid";
    // A client that sends its headers (or its body) slowly holds a connection and a socket: an
    // exchange sends a whole bid request at once, so the headers get 5 s and the request 10 s, and
    // node:http checks every second (its default, 30 s, let a half-sent request live ~45 s).
    this.server = createServer({ keepAliveTimeout: 65_000, headersTimeout: 5_000, requestTimeout: 10_000, connectionsCheckingInterval: 1_000 }, (req, res) => this.onRequest(req, res));
    this.server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket));
    this.server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    // Expect: 100-continue: a body declared too large is refused before the client sends it
    // (node:http would answer 100 Continue first, then 413).
    this.server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
      if (declaredTooLarge(req.headers["content-length"], this.o.maxBodyBytes)) return this.refuse(res, 413, "body_too_large", `body larger than ${this.o.maxBodyBytes} bytes`, true);
      // A bid while stopping is refused before its body is asked for.
      if (this.draining && isPath(originForm(req.url).path, this.bidPath)) return this.refuseDraining(req, res);
      res.writeContinue();
      this.onRequest(req, res);
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    // Requests in flight on the connection (pipelined ones too): a refusal of bytes that follow
    // them waits for all of their answers (onClientError).
    const socket = req.socket;
    let open = this.inFlight.get(socket);
    if (open === undefined) this.inFlight.set(socket, (open = new Set()));
    open.add(req);
    res.once("close", () => this.answered(socket, req));
    try {
      this.accept(req, res);
    } catch (err) {
      this.fail(res, err as Error);
    }
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return listen(this.server, port, host);
  }

  /** Stops at once: every connection is closed, answered or not (tests, a failed start). */
  close(): Promise<void> {
    return closeServer(this.server);
  }

  /**
   * First step of a graceful stop (SIGTERM), the notice window: the listener stays open, but a
   * bid request that arrives from now on is refused at once (503 `draining`), while win and loss
   * notices still reach the filter: only this process's ledger holds the reservations of its
   * bids, and a notice refused here is a win never charged. Every answer closes its connection
   * (a load balancer moves on), and idle keep-alive connections close now. The requests already
   * in flight, bids included, are answered by the filter.
   */
  beginDrain(): void {
    this.draining = true;
    this.closeUnused();
  }

  /**
   * Open connections that may carry a request: one in flight, or bytes of one on their way. A
   * connection that never sent a byte (a load balancer's or a client's pre-opened one) is none.
   */
  connections(): Promise<number> {
    let n = 0;
    for (const s of this.sockets) if (!unused(s)) n++;
    return Promise.resolve(n);
  }

  /**
   * Idle keep-alive connections close (node:http), and so do connections that never sent a byte,
   * which node:http does not count as idle: left open, each would hold the stop to its deadline.
   */
  private closeUnused(): void {
    this.server.closeIdleConnections();
    for (const s of this.sockets) if (unused(s)) s.destroy();
  }

  /**
   * Last step of a graceful stop: no new connections; idle keep-alive connections close; the
   * requests in flight are answered, with `connection: close`, and so is any request already on
   * its way on an open connection (a bid refused, after beginDrain()). Resolves when the last
   * connection is gone, or after `timeoutMs`, when the stragglers are cut. The filter VMs must
   * stay up until then: bids in flight hold reservations that their answers settle (a cut bid's
   * reservation waits for its TTL), and so do notices.
   */
  drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.server.closeAllConnections(), timeoutMs);
      // A connection accepted just now may have its first bytes on the way: unused ones get a
      // moment before they are closed (the listener is closed, so no new ones come).
      const unusedTimer = setTimeout(() => this.closeUnused(), Math.min(UNUSED_GRACE_MS, timeoutMs));
      this.server.close(() => {
        clearTimeout(timer);
        clearTimeout(unusedTimer);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }

  /** An answer of the host's own instead of the filter's: counted (onRejected), then sent as {"error": ...}. */
  private refuse(res: ServerResponse, status: number, reason: string, error: string, close = false): void {
    this.o.onRejected?.(status, reason);
    sendJson(res, status, { error }, close ? { connection: "close" } : undefined);
  }

  /** Connections refused already (onClientError): node:http may report one bad request twice. */
  private readonly refusedSockets = new WeakSet<Duplex>();
  /** Requests in flight by connection (onRequest), and what to do once none is left. */
  private readonly inFlight = new WeakMap<object, Set<IncomingMessage>>();
  private readonly afterInFlight = new WeakMap<object, () => void>();

  /** A request of the connection is answered (or given up): the refusal waiting for them goes once none is left. */
  private answered(socket: object, req: IncomingMessage): void {
    const open = this.inFlight.get(socket);
    open?.delete(req);
    if (open !== undefined && open.size > 0) return;
    const next = this.afterInFlight.get(socket);
    if (next !== undefined) {
      this.afterInFlight.delete(socket);
      next();
    }
  }

  /**
   * A request node:http refuses before there is one (malformed HTTP, headers too large or too
   * slow): counted, then answered as node:http does by default (a listener replaces its default):
   * 408, 431 or 413 for their cases, else 400, with the connection closed, and with a JSON reason
   * as every refusal of this server; destroyed when nothing more can be written.
   *
   * Bytes that do not parse after a complete request on the same connection (garbage after a
   * body, a Content-Length shorter than the body sent) come while that request is still in the
   * filter: its answer is written first (it may be a bid, whose money the filter has reserved),
   * then the refusal, then the connection closes. A client that closes in the middle of a request
   * is not a refusal: nothing is counted, and there is no one to answer.
   */
  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    // A connection the client reset, or closed before its request was whole.
    if (err.code === "ECONNRESET" || err.code === "EPIPE" || err.code === "HPE_INVALID_EOF_STATE") {
      socket.destroy();
      return;
    }
    // node:http can report one bad request twice (headers too large: once as they overflow, again
    // on the bytes that follow): one refusal, counted once; the one already decided (maybe
    // waiting for the requests before it) goes on alone.
    if (this.refusedSockets.has(socket)) return;
    this.refusedSockets.add(socket);
    const [status, reason] = CLIENT_ERRORS.get(err.code ?? "") ?? [400, "malformed_http"];
    this.o.onRejected?.(status, reason);
    const refusal = (): void => {
      if (!socket.writable) return void socket.destroy();
      const body = JSON.stringify({ error: `${reason}: ${err.message || err.code || "unreadable request"}` });
      // Ended, then destroyed once written: what is still queued (an answer before it) goes first.
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, () => socket.destroy());
      setTimeout(() => socket.destroy(), CLIENT_ERROR_ANSWER_WAIT_MS).unref(); // a client that reads nothing
    };
    const answering = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
    if (answering === undefined || answering === null || answering.writableEnded) return refusal();
    if (answering.headersSent) {
      // As node:http's own handler: nothing can be written in the middle of a response.
      socket.destroy();
      return;
    }
    if (!answering.req?.complete) return refusal(); // the request itself did not parse: nothing was decided
    // Kept alive until then (a response that closes its connection would take the refusal's way
    // out): the refusal closes it. Until every request in flight on it is answered, pipelined
    // ones included: refusing after the first dropped the answers of the others (a notice being
    // forwarded, a bid waiting for its replay claim: money reserved for an answer never sent).
    const cut = setTimeout(() => socket.destroy(), CLIENT_ERROR_ANSWER_WAIT_MS);
    this.afterInFlight.set(socket, () => {
      clearTimeout(cut);
      refusal();
    });
    // A request whose own body is what did not parse can never end: not waited for.
    const open = this.inFlight.get(socket);
    for (const r of open ?? []) if (!r.complete) this.answered(socket, r);
  }

  /**
   * A new bid while stopping: refused before the filter sees it (it would reserve money this
   * process may never settle). The exchange's next request goes to another pod.
   */
  private refuseDraining(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    this.refuse(res, 503, "draining", "draining: the bidder is stopping", true);
  }

  private fail(res: ServerResponse, err: Error): void {
    this.o.log.error({ event: "bid_server_error", err: err.message }, "request failed");
    if (!res.headersSent) this.refuse(res, 500, "internal_error", "internal error");
    else res.destroy();
  }

  private accept(req: IncomingMessage, res: ServerResponse): void {
    // As Envoy (max_headers_count, 100 by default): more headers than that are refused whole,
    // rather than handed to the filter cut short.
    if (req.rawHeaders.length > 2 * MAX_REQUEST_HEADERS) {
      req.resume();
      return this.refuse(res, 431, "too_many_headers", `more than ${MAX_REQUEST_HEADERS} headers`, true);
    }
    const head = readHead(req);
    if (this.draining) {
      res.shouldKeepAlive = false; // answer, then close: the client goes elsewhere
      if (isPath(head.pairs[1]![1], this.bidPath)) return this.refuseDraining(req, res);
    }
    if (declaredTooLarge(head.contentLength, this.o.maxBodyBytes)) {
      req.resume();
      return this.refuse(res, 413, "body_too_large", `body larger than ${this.o.maxBodyBytes} bytes`, true);
    }
    const noBody = req.method === "GET" || req.method === "HEAD";
    const encoding = (head.contentEncoding ?? "").trim().toLowerCase();
    if (noBody) return this.enqueue(head, [], res, req.method);
    if (encoding === "" || encoding === "identity") return this.readPlain(req, res, head);
    // Compressed bodies (rare): the decompressing reader of http-util, which stops at the limit.
    readBody(req, this.o.maxBodyBytes).then(
      (body) => this.enqueue(head, body, res, req.method),
      (err: unknown) => {
        if (err instanceof BodyTooLarge) return this.refuse(res, 413, "body_too_large", err.message, true);
        if (err instanceof BadEncoding) return this.refuse(res, err.status, err.status === 415 ? "unsupported_encoding" : "bad_encoding", err.message);
        res.destroy();
      },
    );
  }

  /** Collects an uncompressed body, stopping at maxBodyBytes (413). */
  private readPlain(req: IncomingMessage, res: ServerResponse, head: RequestHead): void {
    const limit = this.o.maxBodyBytes;
    const chunks: Uint8Array[] = [];
    let size = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        req.resume(); // drain what the client still sends
        this.refuse(res, 413, "body_too_large", `body larger than ${limit} bytes`, true);
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (done) return;
      done = true;
      this.enqueue(head, chunks, res, req.method);
    });
    const abort = (): void => {
      if (done) return;
      done = true;
      res.destroy();
    };
    req.on("error", abort);
    req.on("aborted", abort);
  }

  private enqueue(head: RequestHead, body: Uint8Array[], res: ServerResponse, method: string | undefined): void {
    if (body.length === 0 && method !== "GET") head.pairs.push(["content-length", "0"]);
    this.queue.push({ request: { headers: head.pairs, body }, res, gzip: acceptsGzip(head.acceptEncoding) });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushQueue);
    }
  }

  /** Runs the queued requests through the filter; inline VMs answer at once, the writes follow the batch. */
  private flush(): void {
    this.flushScheduled = false;
    const jobs = this.queue;
    this.queue = [];
    for (const job of jobs) {
      let outcome: Promise<HttpOutcome>;
      try {
        outcome = this.o.pool.handleHttpRequest(job.request);
      } catch (err) {
        this.fail(job.res, err as Error);
        continue;
      }
      outcome.then(
        (o) => {
          try {
            this.respond(job, o);
          } catch (err) {
            this.fail(job.res, err as Error);
          }
        },
        (err: Error) => this.fail(job.res, err),
      );
    }
  }

  private respond(job: Job, outcome: HttpOutcome): void {
    const res = job.res;
    if (res.destroyed) return;
    if (this.draining) res.shouldKeepAlive = false; // a request that came before drain(): close after it
    switch (outcome.kind) {
      case "local": {
        // node:http takes a flat [name, value, ...] list as it is (no object to build).
        const flat: string[] = [];
        for (const [k, v] of outcome.headers) if (k.charCodeAt(0) !== 0x3a && k !== "content-length") flat.push(k, v);
        if (!mayHaveBody(outcome.status)) {
          // RFC 9110 §8.6, §15.4.5: no Content-Length and no body on a 1xx, 204 or 304.
          res.writeHead(outcome.status, flat);
          res.end();
          return;
        }
        const body = outcome.body;
        const gzipped = job.gzip ? gzipReplyBody(outcome.status, flat, body) : undefined;
        if (gzipped !== undefined) {
          flat.push("content-encoding", "gzip", "vary", "accept-encoding", "content-length", String(gzipped.byteLength));
          res.writeHead(outcome.status, flat);
          res.end(gzipped);
          return;
        }
        flat.push("content-length", String(body.byteLength));
        res.writeHead(outcome.status, flat);
        // As a latin1 string (one char per byte, so the bytes go out unchanged, UTF-8 included):
        // node:http then joins the status line, the headers and the body into one string, as for
        // the bare server's reply. Given bytes, it queues the header string and the bytes as two
        // chunks of a writev, which cost the bidder about 1 µs of CPU a request more (measured in
        // alternating saturation runs, bench/README.md).
        res.end(body.byteLength === 0 ? undefined : latin1(body), "latin1");
        return;
      }
      case "continue":
        return this.refuse(res, 404, "no_route", "no route");
      case "timeout":
        return this.refuse(res, 504, "filter_timeout", "filter timeout");
      case "vm_failed":
        this.vmFailures++;
        // Envoy with fail_open: false closes such streams; answer plainly instead of hanging.
        return this.refuse(res, 503, "filter_unavailable", "filter unavailable");
      default:
        res.destroy();
    }
  }
}

/**
 * Envoy-style header list in one pass over the raw headers: pseudo-headers first, names
 * lower-cased; host becomes :authority; content-encoding and content-length are dropped (the body
 * is decompressed here, and its length is what arrives) but kept aside for the checks.
 */
function readHead(req: IncomingMessage): RequestHead {
  const raw = req.rawHeaders;
  const target = originForm(req.url);
  const pairs: Array<[string, string]> = [
    [":method", req.method ?? "GET"],
    [":path", target.path],
    [":authority", "localhost"],
    [":scheme", "http"],
  ];
  let host: string | undefined;
  let contentLength: string | undefined;
  let contentEncoding: string | undefined;
  let acceptEncoding: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name === "host") host ??= value;
    else if (name === "content-length") contentLength ??= value;
    else if (name === "content-encoding") contentEncoding = contentEncoding === undefined ? value : `${contentEncoding}, ${value}`;
    else {
      if (name === "accept-encoding") acceptEncoding = acceptEncoding === undefined ? value : `${acceptEncoding}, ${value}`;
      pairs.push([name, value]);
    }
  }
  // No Host (HTTP/1.0): the address the client connected to, so that the filter's notice URLs
  // (built from :authority unless notice_base_url is set) still reach this server and port.
  pairs[2]![1] = target.authority ?? host ?? localAuthority(req.socket.localAddress, req.socket.localPort);
  return { pairs, contentLength, contentEncoding, acceptEncoding };
}

/**
 * A request target as :path and, for the absolute form ("http://host:port/path?q", RFC 9112
 * §3.2.2, which proxies send and a server must accept), the authority that replaces Host, as
 * Envoy normalises it. The origin form ("/path?q") is the path as it is.
 */
function originForm(url: string | undefined): { path: string; authority?: string } {
  if (url === undefined || url === "") return { path: "/" };
  if (url.charCodeAt(0) === 0x2f) return { path: url };
  const scheme = /^https?:\/\//i.exec(url);
  if (scheme === null) return { path: url };
  const rest = url.slice(scheme[0].length);
  let end = rest.length;
  for (const c of ["/", "?", "#"]) {
    const at = rest.indexOf(c);
    if (at >= 0 && at < end) end = at;
  }
  const path = rest.slice(end);
  return { path: path === "" ? "/" : path.charCodeAt(0) === 0x3f ? `/${path}` : path, authority: rest.slice(0, end) };
}

/** A connection that has sent nothing yet and has no request in flight. */
function unused(s: Socket): boolean {
  return s.bytesRead === 0 && (s as Socket & { _httpMessage?: unknown })._httpMessage == null;
}

/** "host:port" of a local socket address (IPv6 in brackets, IPv4-mapped IPv6 as IPv4). */
export function localAuthority(address: string | undefined, port: number | undefined): string {
  if (address === undefined || port === undefined) return "localhost";
  const a = address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
  return a.includes(":") ? `[${a}]:${port}` : `${a}:${port}`;
}

/** At the last step of a stop, how long a connection that has sent nothing yet may still start a request. */
const UNUSED_GRACE_MS = 500;

/** Request headers above this are refused (431), as by Envoy's default max_headers_count. */
export const MAX_REQUEST_HEADERS = 100;

/** How long a refused connection waits for the answer of the complete request before it (the filter answers in ms). */
const CLIENT_ERROR_ANSWER_WAIT_MS = 5_000;

/** node:http's client errors answered with a status of their own (status, metric reason); any other: 400 malformed_http. */
const CLIENT_ERRORS = new Map<string, [number, string]>([
  ["ERR_HTTP_REQUEST_TIMEOUT", [408, "request_timeout"]],
  ["HPE_HEADER_OVERFLOW", [431, "headers_too_large"]],
  ["HPE_CHUNK_EXTENSIONS_OVERFLOW", [413, "chunk_extensions_too_large"]],
]);

/** Whether a request target's path (before any `?`) is `path`, as the filter matches its routes. */
function isPath(url: string | undefined, path: string): boolean {
  if (url === undefined || !url.startsWith(path)) return false;
  return url.length === path.length || url.charCodeAt(path.length) === 0x3f;
}

/** Whether a request's Content-Length is above `max` (node:http has refused malformed ones). */
function declaredTooLarge(contentLength: string | undefined, max: number): boolean {
  const declared = Number(contentLength ?? "0");
  return Number.isFinite(declared) && declared > max;
}

/** Whether a response with this status carries a body and its Content-Length (RFC 9110 §6.4.1). */
function mayHaveBody(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 304;
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}
