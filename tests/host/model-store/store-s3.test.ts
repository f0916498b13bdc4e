// End to end on the S3 store: a real S3-compatible server (s3rver) in a child
// process on a loopback port, objects uploaded with @aws-sdk/client-s3, and a
// standalone bidder polling s3://bucket/prefix through the AWS SDK.
import { after, before } from "node:test";
import { startS3Server, S3_TEST_CREDENTIALS, type TestS3Server } from "../../helpers/s3-server.ts";
import { s3Publisher } from "./helpers.ts";
import { storeScenario } from "./scenario.ts";

// The bidder's store takes its credentials from the standard AWS environment variables.
process.env.AWS_ACCESS_KEY_ID = S3_TEST_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = S3_TEST_CREDENTIALS.secretAccessKey;
process.env.AWS_REGION = "us-east-1";
process.env.AWS_EC2_METADATA_DISABLED = "true";
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

let s3: TestS3Server;
let buckets = 0;
before(async () => {
  s3 = await startS3Server();
});
after(async () => {
  await s3?.close();
});

storeScenario("S3 store", async () => {
  const bucket = `nexus-models-${++buckets}`;
  await s3.createBucket(bucket);
  return { publisher: s3Publisher(s3, bucket, "bidder/prod"), cleanup: async () => {} };
}, 250);
