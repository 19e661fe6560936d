// Interop helper: the AWS SDK for JavaScript v3 (an S3 client nobody here wrote) against the
// local S3, with credentials from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN) and the dev CA in NODE_EXTRA_CA_CERTS.
//
//   node aws_s3.mjs <endpoint> <region> <bucket> <key> <size_bytes>
//     ListBuckets, then a streaming PutObject of <size_bytes> pseudo-random bytes (a Readable
//     with a known ContentLength), then GetObject; prints JSON {buckets, put, get_bytes_equal}
//     or {error: {name, code, status}} on an S3 error.
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { S3Client, ListBucketsCommand, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';

const [endpoint, region, bucket, key, sizeText] = process.argv.slice(2);
const size = Number(sizeText);
const client = new S3Client({
  endpoint,
  region,
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});

function body() {
  let sent = 0;
  let counter = 0;
  return new Readable({
    read() {
      if (sent >= size) return this.push(null);
      const n = Math.min(64 * 1024, size - sent);
      const chunk = Buffer.alloc(n);
      for (let i = 0; i < n; i++) chunk[i] = (counter = (counter * 1103515245 + 12345) & 0x7fffffff) & 0xff;
      sent += n;
      this.push(chunk);
    },
  });
}

function digest(stream) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    stream.on('data', (c) => h.update(c));
    stream.on('end', () => resolve(h.digest('hex')));
    stream.on('error', reject);
  });
}

try {
  const buckets = (await client.send(new ListBucketsCommand({}))).Buckets.map((b) => b.Name);
  const expected = await digest(body());
  const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body(), ContentLength: size }));
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const actual = await digest(got.Body);
  process.stdout.write(JSON.stringify({ buckets, put: { etag: put.ETag }, get_bytes_equal: actual === expected }));
} catch (e) {
  process.stdout.write(JSON.stringify({ error: { name: e.name, code: e.Code ?? e.name, status: e.$metadata?.httpStatusCode } }));
}
