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
