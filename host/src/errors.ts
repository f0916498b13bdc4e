// Errors of the host with stable codes (for logs, metrics and tests).
export class NexusError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "NexusError";
  }
}

export class ConfigError extends NexusError {
  constructor(message: string) {
    super("CONFIG_INVALID", message);
    this.name = "ConfigError";
  }
}

/**
 * "CODE: message" of an error that carries a string code (NexusError, and the models' ModelError,
 * whose message already starts with its code), or undefined for any other error (a bug: the
 * caller lets it surface with its stack).
 */
export function codedErrorLine(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== "string" || code.length === 0) return undefined;
  const message = err.message.startsWith(`${code}: `) ? err.message.slice(code.length + 2) : err.message;
  return `${code}: ${message}`;
}
