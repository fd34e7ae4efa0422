// presign.mjs - the independent side of the SigV4 cross-check (see run.sh).
//
//   node presign.mjs < cases.json       one presigned URL per case, or "ERROR"
//   node presign.mjs --tsv < cases.json the cases as TSV lines for presign_c
//   node presign.mjs --normalize < urls each URL as its origin and encoded
//                                       path, then its query parameters
//                                       decoded and sorted, for diff(1)
//
// A case: {"method": "GET|PUT|HEAD|DELETE", "endpoint": "https://...",
//   "region": "...", "bucket": "...", "pathStyle": true, "accessKeyId": "...",
//   "secretAccessKey": "...", "expires": 900, "now": <unix seconds>,
//   "key": "...", "error": true (only when both sides must refuse it),
//   "responseContentDisposition": "...", "responseContentType": "..."
//   (GET only, optional: S3's response-* overrides, signed in the query)}.
//
// The SDK is told to sign what src/lib/sigv4.c signs, the form of AWS's own
// presigned-URL example: no "x-id" parameter, no checksum parameters, and
// X-Amz-Content-Sha256 neither hoisted into the query nor signed (it is
// UNSIGNED-PAYLOAD either way).  Everything else is the SDK's own doing.
import { readFileSync } from "node:fs";
import {
  S3Client,
  GetObjectCommand,
  PutObjectCommand,
  HeadObjectCommand,
  DeleteObjectCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

const COMMANDS = {
  GET: GetObjectCommand,
  PUT: PutObjectCommand,
  HEAD: HeadObjectCommand,
  DELETE: DeleteObjectCommand,
};

const input = readFileSync(0, "utf8");
const mode = process.argv[2] ?? "";

async function presign(c) {
  const client = new S3Client({
    region: c.region,
    endpoint: c.endpoint,
    forcePathStyle: c.pathStyle,
    credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  client.middlewareStack.add(
    (next) => async (args) => {
      delete args.request.query["x-id"];
      return next(args);
    },
    { step: "build", name: "eccrDropXId" },
  );
  const Command = COMMANDS[c.method];
  if (Command === undefined) throw new Error(`no command for ${c.method}`);
  const input = { Bucket: c.bucket, Key: c.key };
  if (c.responseContentDisposition !== undefined)
    input.ResponseContentDisposition = c.responseContentDisposition;
  if (c.responseContentType !== undefined) input.ResponseContentType = c.responseContentType;
  return getSignedUrl(client, new Command(input), {
    expiresIn: c.expires,
    signingDate: new Date(c.now * 1000),
    unhoistableHeaders: new Set(["x-amz-content-sha256"]),
    unsignableHeaders: new Set(["x-amz-content-sha256"]),
  });
}

function tsvField(s, what) {
  s = String(s);
  if (/[\t\n\r]/.test(s)) throw new Error(`${what} has a tab or newline: ${JSON.stringify(s)}`);
  return s;
}

function normalize(line, i) {
  if (line.startsWith("ERROR")) return [`#${i} ERROR`];
  const m = /^([a-z]+):\/\/([^/?#]+)([^?#]*)(?:\?([^#]*))?$/.exec(line);
  if (m === null) return [`#${i} UNPARSABLE ${line}`];
  const [, scheme, host, path, query = ""] = m;
  const params = query === "" ? [] : query.split("&").map((kv) => {
    const eq = kv.indexOf("=");
    const name = eq < 0 ? kv : kv.slice(0, eq);
    const value = eq < 0 ? "" : kv.slice(eq + 1);
    return `    ${decodeURIComponent(name)} = ${decodeURIComponent(value)}`;
  });
  params.sort();
  return [`#${i} ${scheme}://${host}${path === "" ? "/" : path}`, ...params];
}

if (mode === "--normalize") {
  const lines = input.split("\n").filter((l) => l !== "");
  for (const [i, l] of lines.entries()) console.log(normalize(l, i + 1).join("\n"));
} else if (mode === "--tsv") {
  for (const c of JSON.parse(input)) {
    const fields = [c.method, c.endpoint, c.region, c.bucket, c.pathStyle ? 1 : 0,
      c.accessKeyId, c.secretAccessKey, c.expires, c.now]
      .map((f, j) => tsvField(f, `field ${j + 1}`));
    fields.push(Buffer.from(c.key, "utf8").toString("hex"));
    // The overrides, hex as well; empty when absent.
    fields.push(Buffer.from(c.responseContentDisposition ?? "", "utf8").toString("hex"));
    fields.push(Buffer.from(c.responseContentType ?? "", "utf8").toString("hex"));
    console.log(fields.join("\t"));
  }
} else if (mode === "") {
  let unexpected = 0;
  for (const [i, c] of JSON.parse(input).entries()) {
    try {
      const url = await presign(c);
      if (c.error) {
        console.error(`case ${i + 1}: the SDK accepted a case marked "error"`);
        unexpected++;
      }
      console.log(url);
    } catch (e) {
      if (!c.error) {
        console.error(`case ${i + 1}: ${e.message}`);
        unexpected++;
      }
      console.log("ERROR");
    }
  }
  process.exit(unexpected ? 3 : 0);
} else {
  console.error("usage: node presign.mjs [--tsv|--normalize] < input");
  process.exit(2);
}
