// server.mjs - the S3-compatible store of tests/integration/s3.sh: s3rver
// (npm) on loopback, with one bucket, and AWS Signature Version 4 checked.
//
//   node server.mjs PORT DIRECTORY BUCKET
//
// s3rver parses V4 requests and enforces X-Amz-Expires, but does not check
// V4 signatures ("Signature version 4 calculation is unimplemented" in its
// authentication middleware).  A store that accepts any signature would
// prove nothing about ours, so every signed request is first re-signed here
// by an independent implementation, the AWS SDK's own signer
// (@smithy/signature-v4), and refused with 403 SignatureDoesNotMatch when
// the signatures differ; the same for presigned URLs.  For a PUT signed
// with a payload hash, the body's SHA-256 is checked too (S3 answers 400
// XAmzContentSHA256Mismatch).  Credentials: s3rver's built-in account,
// access key "S3RVER", secret "S3RVER".
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { Transform } from "node:stream";
import { SignatureV4 } from "@smithy/signature-v4";
import { Hash } from "@smithy/hash-node";

const require = createRequire(import.meta.url);
const S3rver = require("s3rver");

const [port, directory, bucket] = process.argv.slice(2);
if (!port || !directory || !bucket) {
  console.error("usage: node server.mjs PORT DIRECTORY BUCKET");
  process.exit(2);
}
const SECRETS = { S3RVER: "S3RVER" };

function deny(ctx, status, code, message) {
  ctx.status = status;
  ctx.type = "application/xml";
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
    `<Message>${message}</Message></Error>`;
}

// "20130524T000000Z" -> Date
function amzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s ?? "");
  return m ? new Date(Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : null;
}

// The request as the signer sees it: the path exactly as sent (already
// encoded once, S3 style), the query decoded, the named headers only.
function signable(ctx, headerNames, dropQuery) {
  const url = ctx.req.url;
  const q = url.indexOf("?");
  const query = {};
  for (const [k, v] of new URLSearchParams(q < 0 ? "" : url.slice(q + 1))) {
    if (!dropQuery(k)) query[k] = v;
  }
  const headers = {};
  for (const name of headerNames) {
    const v = ctx.req.headers[name];
    if (v === undefined) return null;
    headers[name] = Array.isArray(v) ? v.join(",") : v;
  }
  return {
    method: ctx.method, protocol: "http:", hostname: "127.0.0.1",
    path: q < 0 ? url : url.slice(0, q), query, headers,
  };
}

function signer(credential) {
  const [accessKeyId, , region, service] = credential.split("/");
  const secretAccessKey = SECRETS[accessKeyId];
  if (secretAccessKey === undefined || service !== "s3") return null;
  return new SignatureV4({
    service: "s3", region, credentials: { accessKeyId, secretAccessKey },
    sha256: Hash.bind(null, "sha256"), uriEscapePath: false, applyChecksum: false,
  });
}

async function checkHeader(ctx) {
  const m = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/
    .exec(ctx.get("authorization"));
  if (!m) return "malformed Authorization";
  const s = signer(m[1]);
  const date = amzDate(ctx.get("x-amz-date"));
  const names = m[2].split(";");
  const req = signable(ctx, names, () => false);
  if (!s || !date || !req || !names.includes("host") || !names.includes("x-amz-date"))
    return "unusable credential, date or signed headers";
  const signed = await s.sign(req, { signingDate: date });
  const want = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization)?.[1];
  return want === m[3] ? null : "signature mismatch";
}

async function checkQuery(ctx) {
  const q = ctx.query;
  const s = signer(q["X-Amz-Credential"] ?? "");
  const date = amzDate(q["X-Amz-Date"]);
  const names = (q["X-Amz-SignedHeaders"] ?? "").split(";");
  const req = signable(ctx, names, (k) => k.startsWith("X-Amz-"));
  if (!s || !date || !req || q["X-Amz-Algorithm"] !== "AWS4-HMAC-SHA256")
    return "unusable presigned URL";
  // What S3's presigner signs: UNSIGNED-PAYLOAD, neither hoisted nor signed.
  req.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
  const url = await s.presign(req, {
    signingDate: date, expiresIn: Number(q["X-Amz-Expires"]),
    unhoistableHeaders: new Set(["x-amz-content-sha256"]),
    unsignableHeaders: new Set(["x-amz-content-sha256"]),
  });
  return url.query["X-Amz-Signature"] === q["X-Amz-Signature"] ? null : "signature mismatch";
}

// Hash a PUT body on its way to s3rver; refuse the request when it ends
// with another hash than the signed one (the object is removed again).
function checkBody(ctx, want) {
  const sha = createHash("sha256");
  const tee = new Transform({
    transform(chunk, _enc, done) { sha.update(chunk); done(null, chunk); },
  });
  const got = { hex: null };
  tee.on("end", () => { got.hex = sha.digest("hex"); });
  Object.assign(tee, { headers: ctx.req.headers, method: ctx.req.method, url: ctx.req.url });
  ctx.req.pipe(tee);
  ctx.req = tee;
  return got;
}

const server = new S3rver({
  port: Number(port), address: "127.0.0.1", silent: false, directory,
  configureBuckets: [{ name: bucket }], vhostBuckets: false,
});

server.middleware.unshift(async (ctx, next) => {
  const header = ctx.get("authorization") !== "";
  const query = "X-Amz-Algorithm" in ctx.query;
  if (header || query) {
    const why = header ? await checkHeader(ctx) : await checkQuery(ctx);
    if (why !== null) {
      console.error(`refused ${ctx.method} ${ctx.url}: ${why}`);
      return deny(ctx, 403, "SignatureDoesNotMatch", why);
    }
  }
  const want = ctx.get("x-amz-content-sha256");
  const body = ctx.method === "PUT" && /^[0-9a-f]{64}$/.test(want) ? checkBody(ctx, want) : null;
  await next();
  if (body !== null && body.hex !== want) {
    console.error(`refused PUT ${ctx.url}: body sha256 ${body.hex}, signed ${want}`);
    await server.store.deleteObject(bucket, decodeURIComponent(ctx.path.split("/").slice(2).join("/")))
      .catch(() => {});
    deny(ctx, 400, "XAmzContentSHA256Mismatch", "the body does not match x-amz-content-sha256");
  }
});

const addr = await server.run();
console.log(`s3rver listening on ${addr.address}:${addr.port}, bucket ${bucket}`);
const stop = async () => { await server.close(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
