// Token minting with the official JS signer (@aws-sdk/dsql-signer): DbConnect tokens for
// a fixed host, region and fixed temporary-style credentials (with a 1 KiB session token,
// about the size STS hands out), one after another for about a second.
//
//   node token_bench.js [--seconds S]
//
// Prints "bench=js-signer tokens_per_sec=<n> tokens=<count> ms=<elapsed>". The inputs are
// byte for byte the ones bench/token_bench.c (libdsql) uses, so the two are comparable.
'use strict';

const { DsqlSigner } = require('@aws-sdk/dsql-signer');

const HOST = 'abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws';
const REGION = 'us-east-1';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const CREDENTIALS = {
  accessKeyId: 'ASIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: Array.from({ length: 1024 }, (_, i) => B64[(i * 7) % 64]).join(''),
};

async function main() {
  let seconds = 1;
  const argv = process.argv.slice(2);
  if (argv.length === 2 && argv[0] === '--seconds' && Number(argv[1]) > 0) {
    seconds = Number(argv[1]);
  } else if (argv.length !== 0) {
    process.stderr.write('usage: node token_bench.js [--seconds S]\n');
    process.exit(2);
  }
  const signer = new DsqlSigner({ hostname: HOST, region: REGION, credentials: CREDENTIALS });
  const prefix = `${HOST}/?Action=DbConnect&X-Amz-Algorithm=AWS4-HMAC-SHA256&`;
  const check = (token) => {
    if (!token.startsWith(prefix) || !/&X-Amz-Signature=[0-9a-f]{64}(&|$)/.test(token) ||
        !token.includes('&X-Amz-Security-Token=')) {
      process.stderr.write('bench=js-signer FAILED: unexpected token shape\n');
      process.exit(1);
    }
  };
  // Warm-up (module loading, JIT) is not measured.
  const warm = Date.now() + 200;
  while (Date.now() < warm) check(await signer.getDbConnectAuthToken());

  const limit = BigInt(Math.round(seconds * 1e9));
  const t0 = process.hrtime.bigint();
  let count = 0;
  let elapsed = 0n;
  do {
    check(await signer.getDbConnectAuthToken());
    count++;
    elapsed = process.hrtime.bigint() - t0;
  } while (elapsed < limit);
  const ms = Number(elapsed) / 1e6;
  process.stdout.write(`bench=js-signer tokens_per_sec=${Math.round(count / (ms / 1000))} ` +
    `tokens=${count} ms=${ms.toFixed(1)}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench=js-signer FAILED: ${err.message}\n`);
  process.exit(1);
});
