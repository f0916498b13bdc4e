// Redis for tests: a private redis-server on a free port (killed and restarted
// by fault tests), free ports, and cleanup of a test's keys on any Redis.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect } from "node:net";
import { Redis } from "ioredis";
import { after, before } from "node:test";
import assert from "node:assert/strict";

/** A port nobody listens on right now (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export class RedisServer {
  private child: ChildProcess | null = null;
  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts redis-server without persistence on a free port (or the given one). */
  static async start(port?: number): Promise<RedisServer> {
    const s = new RedisServer(port ?? (await freePort()));
    await s.restart();
    return s;
  }

  /** (Re)starts the server on its port: no persistence, so a restart has lost every key. */
  async restart(timeoutMs = 10_000): Promise<void> {
    if (this.running) throw new Error(`redis-server on ${this.port} is already running`);
    const child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.child = child;
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${stderr}`);
      if (await canConnect(this.port)) {
        const c = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
        try {
          await c.connect();
          if ((await c.ping()) === "PONG") return;
        } catch {
          // loading: try again
        } finally {
          c.disconnect();
        }
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`redis-server on ${this.port} did not answer within ${timeoutMs} ms`);
  }

  /** SIGKILL (a crash: nothing is saved) and waits for the process to end. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }

  /**
   * SIGSTOP: the server hangs (connections stay open, commands wait unanswered) until resume();
   * the commands sent meanwhile run then, clients that gave up on them or not.
   */
  freeze(): void {
    if (this.running) this.child!.kill("SIGSTOP");
  }

  resume(): void {
    if (this.running) this.child!.kill("SIGCONT");
  }

  async stop(): Promise<void> {
    this.resume();
    await this.kill();
    this.child = null;
  }
}

/** Deletes every key that starts with `keyStart` (taken literally: MATCH wildcards in it are escaped). */
export async function deleteKeysStartingWith(redis: Redis, keyStart: string): Promise<number> {
  let cursor = "0";
  let deleted = 0;
  const match = keyStart.replace(/[{}[\]*?\\]/g, "\\$&") + "*";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", match, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== "0");
  return deleted;
}

/** Deletes every key of a test's prefix ({nexus:<prefix>:…}). */
export function deletePrefix(redis: Redis, keyPrefix: string): Promise<number> {
  return deleteKeysStartingWith(redis, `{nexus:${keyPrefix}:`);
}

/** A key prefix no other test run uses. */
export function uniquePrefix(name: string): string {
  return `test-${name}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * For a describe block whose cases each take a fresh key prefix on the shared Redis
 * (NEXUS_TEST_REDIS_URL, else 127.0.0.1:6379): connects before them; after them deletes every
 * prefix handed out and checks nothing of it is left.
 */
export function sharedRedisPrefixes(name: string): { client(): Redis; fresh(): string } {
  let client: Redis;
  const prefixes: string[] = [];
  before(async () => {
    client = new Redis(process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
    await client.ping();
  });
  after(async () => {
    for (const p of prefixes) {
      await deletePrefix(client, p);
      assert.equal(await deletePrefix(client, p), 0);
    }
    client.disconnect();
  });
  return {
    client: () => client,
    fresh: () => {
      const p = uniquePrefix(name);
      prefixes.push(p);
      return p;
    },
  };
}
