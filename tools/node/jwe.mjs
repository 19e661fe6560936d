// Interop helper: the npm `jose` package (an independent JOSE implementation) encrypts or
// decrypts a Credential Store payload, so our Rust JWE code is checked against it.
//
//   node jwe.mjs encrypt <spki-base64-der> <iat>   plaintext on stdin  -> compact JWE on stdout
//   node jwe.mjs decrypt <pkcs8-base64-der>        compact JWE on stdin -> JSON {header, plaintext}
import * as jose from 'jose';

const [mode, key, iat] = process.argv.slice(2);
const input = await new Promise((resolve) => {
  let data = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (c) => (data += c));
  process.stdin.on('end', () => resolve(data));
});
const pem = (label, b64) => `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g).join('\n')}\n-----END ${label}-----\n`;

if (mode === 'encrypt') {
  const pub = await jose.importSPKI(pem('PUBLIC KEY', key), 'RSA-OAEP-256');
  const jwe = await new jose.CompactEncrypt(new TextEncoder().encode(input))
    .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', iat: Number(iat) })
    .encrypt(pub);
  process.stdout.write(jwe);
} else if (mode === 'decrypt') {
  const priv = await jose.importPKCS8(pem('PRIVATE KEY', key), 'RSA-OAEP-256');
  const { plaintext, protectedHeader } = await jose.compactDecrypt(input.trim(), priv, {
    keyManagementAlgorithms: ['RSA-OAEP-256'],
    contentEncryptionAlgorithms: ['A256GCM'],
  });
  process.stdout.write(JSON.stringify({ header: protectedHeader, plaintext: new TextDecoder().decode(plaintext) }));
} else {
  process.stderr.write('usage: jwe.mjs encrypt|decrypt <key> [iat]\n');
  process.exit(2);
}
