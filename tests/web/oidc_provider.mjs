// A real OpenID Connect provider for the sign-in tests: the npm package oidc-provider (v8),
// with its development login and consent pages (any login name, any password).
//
// node oidc_provider.mjs MODULE_DIR   with CLIENT_ID, CLIENT_SECRET and REDIRECT_URI set.
// It listens on a free port of 127.0.0.1 and prints one line of JSON, {"issuer": ...}, when
// it is ready. The login name typed is the account: its e-mail address. A local part that
// starts with "approver" is in the group comms-approvers, "admin" in comms-admins, and one
// that starts with "unverified" has an e-mail address that is not verified.
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const moduleDir = process.argv[2];
const entry = path.join(moduleDir, 'node_modules', 'oidc-provider', 'lib', 'index.js');
const { default: Provider } = await import(pathToFileURL(entry).href);

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

function claimsOf(login) {
  const email = login.trim().toLowerCase();
  const local = email.split('@')[0];
  const groups = [];
  if (local.startsWith('approver')) groups.push('comms-approvers');
  if (local.startsWith('admin')) groups.push('comms-admins');
  return {
    sub: email,
    email,
    email_verified: !local.startsWith('unverified'),
    name: local,
    groups,
  };
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      redirect_uris: [process.env.REDIRECT_URI],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  // the claims go into the ID token itself, as Google's and Entra ID's do
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
  },
  scopes: ['openid', 'email', 'profile'],
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true, methods: ['S256'] },
  // plain http on 127.0.0.1: no cookie may need `Secure` (SameSite=None would)
  cookies: {
    keys: ['crosspost-test-provider-cookie-key'],
    long: { signed: true, sameSite: 'lax' },
    short: { signed: true, sameSite: 'lax' },
  },
  clientBasedCORS: () => false,
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return claimsOf(id);
      },
    };
  },
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
