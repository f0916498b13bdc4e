// JSON-lines logging (pino). Bid requests are never logged at info level; ids only.
import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

/**
 * Fields that must never reach a log line, wherever a caller puts them (top level or one level
 * down): the admin and sync tokens, authorization headers, keys and credentials.
 */
export const REDACTED_PATHS: readonly string[] = [
  "adminToken", "*.adminToken",
  "syncToken", "*.syncToken", "sync_token", "*.sync_token",
  "authorization", "*.authorization", "headers.authorization", "*.headers.authorization",
  "token", "*.token",
  "privateKey", "*.privateKey",
  "password", "*.password",
  "secretAccessKey", "*.secretAccessKey",
  "redisUrl", "*.redisUrl",
];

/**
 * JSON lines on stdout, or on `destination` (tests capture them). The process is named by
 * `service` only: pino's own `name` key would collide with callers' fields of that name.
 */
export function createLogger(level: string = process.env.NEXUS_LOG_LEVEL ?? "info", name = "nexus-host", destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACTED_PATHS], censor: "[redacted]" },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

/**
 * At most one line per `intervalMs` for a failure that recurs every sync (Redis down: a line per
 * campaign per second otherwise, 400 lines in 10 s for 40 campaigns); the lines held back are
 * counted in the next one written.
 */
export class LogThrottle {
  private last = -Infinity;
  private held = 0;

  constructor(
    private readonly intervalMs = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Undefined: hold this line back. Else write it, with this many lines held back since the last. */
  take(): number | undefined {
    const t = this.now();
    if (t - this.last < this.intervalMs) {
      this.held++;
      return undefined;
    }
    this.last = t;
    const held = this.held;
    this.held = 0;
    return held;
  }
}
