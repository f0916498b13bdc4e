// Dependencies loaded on first use. The S3 SDK and ioredis add about 20 MiB of
// resident memory each to a Node process, and the standalone bidder (`npm
// start`: bundled model, in-memory budget) uses neither; loading them only when
// a deployment configures S3 or Redis keeps the bidder's RSS within its budget.
// Both packages ship CommonJS, so a synchronous require keeps their callers'
// constructors synchronous.
import { createRequire } from "node:module";

const requireDependency = createRequire(import.meta.url);

export function loadIoredis(): typeof import("ioredis") {
  return requireDependency("ioredis") as typeof import("ioredis");
}

export function loadS3Sdk(): typeof import("@aws-sdk/client-s3") {
  return requireDependency("@aws-sdk/client-s3") as typeof import("@aws-sdk/client-s3");
}
