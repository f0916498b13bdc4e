// JSON-lines logging (pino). Bid requests are never logged at info level; ids only.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string = process.env.NEXUS_LOG_LEVEL ?? "info", name = "nexus-host"): Logger {
  return pino({
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ["adminToken", "*.adminToken", "authorization", "*.authorization", "privateKey"], censor: "[redacted]" },
  });
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
