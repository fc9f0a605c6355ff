// A real, certified OpenID Provider for the SSO tests: panva's `oidc-provider`, in this
// process, on a free port. Users sign in on its development login page (any password);
// consent is pre-granted. The ID token and userinfo carry a `groups` claim.
//
// idp.tamper = null | 'signature' | 'audience' | 'expired' | 'nonce' | 'alg_none' makes
// the token endpoint hand out a bad ID token: 'signature' flips a byte of the signature;
// the others change a claim and re-sign with the provider's own key (what a compromised
// or misconfigured provider would send), so only the claim check can refuse them.
import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';
import { freePort } from './harness.mjs';

export const IDP_USERS = {
  alice: { groups: ['ops-admins', 'staff'], email: 'alice@example.test', name: 'Alice Admin' },
  bob: { groups: ['ops'], email: 'bob@example.test', name: 'Bob Operator' },
  carol: { groups: ['marketing'], email: 'carol@example.test', name: 'Carol Nogroup' },
  dave: { groups: ['staff'], email: 'Dave.Viewer+x@example.test', name: 'Dave' },
  // erin's groups come only from userinfo (not in her ID token): the userinfo merge
  erin: { groups: ['ops'], email: 'erin@example.test', name: 'Erin', userinfoOnly: true },
};

let keyGen = 0;
function makeKeys() {
  keyGen++;
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsaJwk = { ...rsa.privateKey.export({ format: 'jwk' }), kid: `rsa-${keyGen}`, alg: 'RS256', use: 'sig' };
  const ecJwk = { ...ec.privateKey.export({ format: 'jwk' }), kid: `ec-${keyGen}`, alg: 'ES256', use: 'sig' };
  return { rsa, ec, jwks: { keys: [rsaJwk, ecJwk] } };
}

const b64u = (b) => Buffer.from(b).toString('base64url');

// Re-signs a JWT (header and claims changed by fn) with the provider's key.
function resign(jwt, keys, fn) {
  const [h, p] = jwt.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  fn(header, claims);
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
  if (header.alg === 'none') return `${input}.`;
  const sig = header.alg === 'ES256'
    ? crypto.sign('sha256', Buffer.from(input), { key: keys.ec.privateKey, dsaEncoding: 'ieee-p1363' })
    : crypto.sign('sha256', Buffer.from(input), keys.rsa.privateKey);
  return `${input}.${b64u(sig)}`;
}

function tamperToken(idToken, mode, keys) {
  switch (mode) {
    case 'signature': {
      const [h, p, s] = idToken.split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[sig.length >> 1] ^= 0x5a;
      return `${h}.${p}.${b64u(sig)}`;
    }
    case 'audience': return resign(idToken, keys, (h, c) => { c.aud = 'someone-else'; });
    case 'expired': return resign(idToken, keys, (h, c) => { c.iat -= 7200; c.exp = c.iat + 600; });
    case 'nonce': return resign(idToken, keys, (h, c) => { c.nonce = 'not-the-nonce'; });
    case 'alg_none': return resign(idToken, keys, (h) => { h.alg = 'none'; });
    default: return idToken;
  }
}

// { issuer, clientId, esClientId, clientSecret, close(), idp.tamper, tokenRequests }
// { issuer, clientId, esClientId, clientSecret, tamper, tokenRequests, jwksRequests,
//   stallTokenMs (the token endpoint answers that much later), stalled,
//   rotateKeys(), close() }. rotateKeys() swaps in a provider with new signing keys (new
//   kids) on the same port: what a key rotation looks like to the relying party.
export async function startIdp({ redirectUri, postLogoutRedirectUri, idTokenAlg = 'RS256' }) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = 'restic-manager';
  const clientSecret = crypto.randomBytes(24).toString('base64url');
  // clientId signs ID tokens with RS256 (idTokenAlg), `${clientId}-es` with ES256
  const idp = { issuer, clientId, esClientId: `${clientId}-es`, clientSecret, tamper: null, tokenRequests: 0, jwksRequests: 0, stallTokenMs: 0, stalled: 0 };
  const client = (id, alg) => ({
    client_id: id,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [postLogoutRedirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: alg,
  });
  let handler;
  const build = () => {
    const keys = makeKeys();
    idp.keys = keys;
    const provider = new Provider(issuer, {
      clients: [client(clientId, idTokenAlg), client(idp.esClientId, 'ES256')],
      jwks: keys.jwks,
      cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
      claims: {
        openid: ['sub'],
        profile: ['preferred_username', 'name'],
        email: ['email'],
        groups: ['groups'],
      },
      scopes: ['openid', 'profile', 'email', 'groups'],
      conformIdTokenClaims: false, // groups etc. in the ID token too
      features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
      pkce: { required: () => true },
      async findAccount(ctx, sub) {
        const u = IDP_USERS[sub];
        if (!u) return undefined;
        return {
          accountId: sub,
          async claims(use) {
            const groups = u.userinfoOnly && use === 'id_token' ? undefined : u.groups;
            return { sub, preferred_username: sub === 'dave' ? undefined : sub, email: u.email, name: u.name, groups };
          },
        };
      },
      async loadExistingGrant(ctx) {
        const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
        if (grantId) return ctx.oidc.provider.Grant.find(grantId);
        const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
        grant.addOIDCScope('openid profile email groups');
        await grant.save();
        return grant;
      },
    });
    provider.use(async (ctx, next) => {
      if (idp.stallTokenMs && ctx.path === '/token') {
        idp.stalled++;
        await new Promise((resolve) => { setTimeout(resolve, idp.stallTokenMs); });
      }
      await next();
      if (ctx.oidc?.route === 'jwks') idp.jwksRequests++;
      if (ctx.oidc?.route === 'token') {
        idp.tokenRequests++;
        if (idp.tamper && ctx.body && ctx.body.id_token) {
          ctx.body = { ...ctx.body, id_token: tamperToken(ctx.body.id_token, idp.tamper, keys) };
        }
      }
    });
    handler = provider.callback();
  };
  build();
  idp.rotateKeys = build;
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  idp.close = () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); });
  return idp;
}
