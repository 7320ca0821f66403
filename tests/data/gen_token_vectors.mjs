// Generates tests/data/token_vectors_extra.jsonl with the official AWS signer.
//
// Optional: the tests only read the committed .jsonl and never need node or npm. To
// regenerate (for example after adding a case below):
//
//   mkdir -p /tmp/signer && cd /tmp/signer && npm init -y && npm install @aws-sdk/dsql-signer
//   NODE_PATH=/tmp/signer/node_modules node tests/data/gen_token_vectors.mjs \
//       > tests/data/token_vectors_extra.jsonl
//
// The signer takes no signing time, so the global Date is pinned to each case's
// signing_time while its token is minted (what the SDK's own tests do with fake timers).
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH || process.cwd(), "x.js"));
const { DsqlSigner } = require("@aws-sdk/dsql-signer");

const RealDate = Date;
function pinDate(iso) {
  const fixed = new RealDate(iso).getTime();
  class FixedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(fixed);
      else super(...args);
    }
    static now() {
      return fixed;
    }
  }
  globalThis.Date = FixedDate;
}

const kib = (() => {
  // 1 KiB of every printable ASCII character, in a fixed order.
  let s = "";
  for (let i = 0; s.length < 1024; i++) s += String.fromCharCode(32 + (i * 7) % 95);
  return s;
})();

const base = {
  hostname: "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws",
  region: "us-east-1",
  action: "DbConnect",
  expires_in: 900,
  signing_time: "2026-11-25T17:00:00Z",
  access_key_id: "AKIAIOSFODNN7EXAMPLE",
  secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  session_token: null,
};

const cases = [
  {},
  { action: "DbConnectAdmin" },
  { session_token: "a/b/c" },
  { session_token: "a+b+c", action: "DbConnectAdmin" },
  { session_token: "ab==" },
  { session_token: "with some spaces  in it" },
  { session_token: "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+abc/def+ghi==" },
  { session_token: kib },
  { session_token: kib, action: "DbConnectAdmin", expires_in: 3600 },
  { session_token: "!'()*~-._%", },
  { session_token: "caf\u00e9-\u00fc-\u6771\u4eac" },
  { session_token: "tab\there&and=equals?query#hash" },
  { hostname: "abcdefghijklmnopqrstuvwxyz.dsql.eu-west-1.on.aws", region: "eu-west-1" },
  { hostname: "cluster0000000000000000001.dsql.ap-southeast-2.on.aws", region: "ap-southeast-2",
    action: "DbConnectAdmin" },
  { hostname: "cluster0000000000000000002.dsql.us-gov-west-1.on.aws", region: "us-gov-west-1" },
  { hostname: "cluster0000000000000000003.dsql.ca-central-1.on.aws", region: "ca-central-1",
    session_token: "FwoGZXIvYXdzEBYaDH/+=" },
  { hostname: "cluster0000000000000000004.dsql.cn-north-1.on.aws", region: "cn-north-1" },
  { hostname: "abcdefghijklmnopqrstuvwxyz.dsqlqa.us-east-1.on.aws" },
  { hostname: "abcdefghijklmnopqrstuvwxyz.dsqlbeta.us-west-2.on.aws", region: "us-west-2",
    action: "DbConnectAdmin" },
  { expires_in: 1 },
  { expires_in: 604800 },
  { expires_in: 604800, action: "DbConnectAdmin", session_token: "t" },
  { signing_time: "2024-02-29T23:59:59Z" },
  { signing_time: "1999-12-31T23:59:59Z" },
  { signing_time: "2038-01-19T03:14:08Z" },
  { signing_time: "2099-12-31T00:00:00Z", action: "DbConnectAdmin" },
  { signing_time: "2026-01-01T00:00:00Z", access_key_id: "ASIA/+= KEY" },
  { secret_access_key: "s" },
  { secret_access_key: "x".repeat(200) + "/+=" },
  // The region of the signature comes from the caller, not from the host name.
  { hostname: "abcdefghijklmnopqrstuvwxyz.dsql.eu-central-1.on.aws", region: "eu-central-1",
    expires_in: 43200 },
  { hostname: "my-db.example.com", region: "us-east-2" },
];

for (const c of cases) {
  const v = { ...base, ...c };
  pinDate(v.signing_time);
  const credentials = { accessKeyId: v.access_key_id, secretAccessKey: v.secret_access_key };
  if (v.session_token !== null) credentials.sessionToken = v.session_token;
  const signer = new DsqlSigner({
    hostname: v.hostname,
    region: v.region,
    expiresIn: v.expires_in,
    credentials,
  });
  const token = v.action === "DbConnectAdmin" ? await signer.getDbConnectAdminAuthToken()
                                              : await signer.getDbConnectAuthToken();
  globalThis.Date = RealDate;
  process.stdout.write(JSON.stringify({ ...v, token }) + "\n");
}
