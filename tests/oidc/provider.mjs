// A real OpenID provider (npm `oidc-provider`) for AOC's sign-in tests, with a stand-in for the
// one Microsoft Graph call AOC makes (getMemberObjects, to resolve group overage).
//
// Environment: PORT (required), KEYS (comma-separated RSA PEM files; each key's id is the file's
// base name, first one signs), CLIENT_ID / CLIENT_SECRET (AOC's registration, default aoc /
// aoc-test-secret). Users sign in through the development login form with their account id
// (reader, analyst, admin, stranger, overage, overage403) and any password.
//
// Test-only helpers: GET /test/jwks-count says how often the key set was fetched.
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
if (!port) throw new Error('PORT is required');
const issuer = `http://127.0.0.1:${port}`;
const graphScope = `${issuer}/graph/.default`;
const clientId = process.env.CLIENT_ID ?? 'aoc';
const clientSecret = process.env.CLIENT_SECRET ?? 'aoc-test-secret';
const keyFiles = (process.env.KEYS ?? new URL('./keys/signing-1.pem', import.meta.url).pathname).split(',');
const keys = keyFiles.map((file) => ({
  ...createPrivateKey(readFileSync(file)).export({ format: 'jwk' }),
  kid: basename(file, '.pem'),
  use: 'sig',
  alg: 'RS256',
}));

// Entra puts group overage this way: no `groups`, a pointer to (retired) Azure AD Graph instead.
const overage = (oid) => ({
  _claim_names: { groups: 'src1' },
  _claim_sources: { src1: { endpoint: `https://graph.windows.net/tenant/users/${oid}/getMemberObjects` } },
});
const accounts = {
  reader: { name: 'Rita Reader', groups: ['grp-soc'] },
  analyst: { name: 'Andy Analyst', roles: ['AOC.Analyst'], groups: ['grp-soc'] },
  admin: { name: 'Ada Admin', roles: ['AOC.Admin'] },
  stranger: { name: 'Sam <b>Stranger</b>', groups: ['grp-other'] },
  overage: { name: 'Olga Overage', ...overage('oid-overage') },
  overage403: { name: 'Otto Overage', ...overage('oid-overage403') },
};
// What getMemberObjects answers per user object id (a 403 for the user whose lookup must fail).
const memberObjects = {
  'oid-overage': ['grp-other', 'grp-analysts', 'grp-soc'],
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['authorization_code', 'client_credentials'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/auth/callback'],
      post_logout_redirect_uris: ['http://127.0.0.1/'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    // Daemons calling AOC's REST API with app-only tokens (app roles in `roles`).
    { client_id: 'daemon-admin', client_secret: 'daemon-secret', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
    { client_id: 'daemon-none', client_secret: 'daemon-secret', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
  ],
  jwks: { keys },
  pkce: { required: () => true },
  conformIdTokenClaims: false,
  scopes: ['openid', 'profile', 'email', 'offline_access', graphScope],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'oid', 'roles', 'groups', '_claim_names', '_claim_sources'],
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => false,
      getResourceServerInfo: (ctx, resource) => {
        if (resource === `api://${clientId}`) {
          return { scope: 'AOC.Read', audience: `api://${clientId}`, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        }
        throw new Provider.errors.InvalidTarget();
      },
    },
  },
  extraTokenClaims: (ctx, token) => {
    if (token.kind === 'ClientCredentials' && token.clientId === 'daemon-admin') return { roles: ['AOC.Admin'] };
    return undefined;
  },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, oid: `oid-${id}`, preferred_username: `${id}@contoso.example`, ...account };
      },
    };
  },
  async loadExistingGrant(ctx) {
    // Every scope is granted at once: no consent screen in tests.
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email');
    await grant.save();
    return grant;
  },
});

// AOC listens on a random port: accept its callback and post-logout addresses on any port.
const loopbackPath = (value, path) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' && url.hostname === '127.0.0.1' && url.pathname === path;
  } catch {
    return false;
  }
};
provider.Client.prototype.redirectUriAllowed = function (value) { return loopbackPath(value, '/auth/callback'); };
provider.Client.prototype.postLogoutRedirectUriAllowed = function (value) { return loopbackPath(value, '/'); };

let jwksCount = 0;
provider.use(async (ctx, next) => {
  if (ctx.path === '/jwks') jwksCount += 1;
  if (ctx.path === '/test/jwks-count') {
    ctx.body = { count: jwksCount };
    return;
  }
  const graph = ctx.path.match(/^\/graph\/v1\.0\/users\/([^/]+)\/getMemberObjects$/);
  if (graph && ctx.method === 'POST') {
    const bearer = (ctx.get('authorization').match(/^Bearer (.+)$/) ?? [])[1];
    const token = bearer && (await provider.ClientCredentials.find(bearer));
    if (!token || !String(token.scope).split(' ').includes(graphScope)) {
      ctx.status = 401;
      ctx.body = { error: { code: 'InvalidAuthenticationToken', message: 'Access token is missing or invalid.' } };
      return;
    }
    const groups = memberObjects[decodeURIComponent(graph[1])];
    if (!groups) {
      ctx.status = 403;
      ctx.body = { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' } };
      return;
    }
    ctx.body = { value: groups };
    return;
  }
  await next();
});

provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
