// Interop helper: @sap/xssec 4 (SAP's own validator) judges tokens, so our validator's verdicts
// can be compared with it, and its speed measured on the same tokens.
//
//   node xssec.mjs verdicts   stdin {credentials, scope, tokens:[{name, jwt}]}
//        -> stdout [{name, ok, error, status}] where status is what an xssec app answers:
//           error.statusCode (401 for validation errors, 500 otherwise), 403 if the token lacks
//           `<xsappname>.<scope>` (checkLocalScope), else 200.
//   node xssec.mjs bench      stdin {credentials, jwt, iterations}
//        -> stdout {uncached_per_s, cached_per_s}
//
// The JWKS is fetched from https://<uaadomain>/token_keys: set NODE_EXTRA_CA_CERTS to the dev CA.
import xssec from '@sap/xssec';

const { createSecurityContext, XsuaaService } = xssec;
const mode = process.argv[2];
const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (c) => (data += c));
  process.stdin.on('end', () => resolve(data));
}));

function service(signatureCache) {
  return new XsuaaService(input.credentials, { validation: { signatureCache: { enabled: signatureCache } } });
}

async function judge(svc, jwt, scope) {
  try {
    const ctx = await createSecurityContext(svc, { jwt });
    const allowed = ctx.checkLocalScope(scope);
    return { ok: true, error: null, status: allowed ? 200 : 403 };
  } catch (e) {
    return { ok: false, error: e?.constructor?.name ?? String(e), status: e?.statusCode ?? 500 };
  }
}

if (mode === 'verdicts') {
  const svc = service(false);
  const out = [];
  for (const t of input.tokens) {
    out.push({ name: t.name, ...(await judge(svc, t.jwt, input.scope)) });
  }
  process.stdout.write(JSON.stringify(out));
} else if (mode === 'bench') {
  const n = input.iterations ?? 2000;
  const result = {};
  for (const [label, cached] of [['uncached_per_s', false], ['cached_per_s', true]]) {
    const svc = service(cached);
    await createSecurityContext(svc, { jwt: input.jwt }); // warm the JWKS cache
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      await createSecurityContext(svc, { jwt: input.jwt });
    }
    const secs = Number(process.hrtime.bigint() - start) / 1e9;
    result[label] = n / secs;
  }
  process.stdout.write(JSON.stringify(result));
} else {
  process.stderr.write('usage: xssec.mjs verdicts|bench\n');
  process.exit(2);
}
