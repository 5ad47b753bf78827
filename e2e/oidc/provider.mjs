// A real OAuth 2 / OpenID Connect provider (panva's oidc-provider) for the
// tokencache tests: client_credentials only, resource indicators with no
// default resource (a JWT access token only when `resource` is sent, an opaque
// one otherwise), one client_secret_basic client and one private_key_jwt
// client whose public JWK the test passes in.
//
// Environment:
//   OIDC_BASIC_CLIENT_ID, OIDC_BASIC_CLIENT_SECRET  the client_secret_basic client
//   OIDC_JWT_CLIENT_ID, OIDC_JWT_CLIENT_JWK         the private_key_jwt client and its public JWK (JSON)
//   OIDC_PORT                                       port on 127.0.0.1; 0 (default) lets the kernel choose
//
// It prints "issuer http://127.0.0.1:PORT" once listening. POST /-/rotate
// (test control, not part of the provider) signs with a new key from then on
// and keeps the previous one in the JWKS, as providers do during a rotation;
// it answers {"kid": NEW_KID}. The process exits when stdin closes, so it
// never outlives the test that started it.
import http from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') {
    console.error(`provider.mjs: ${name} is not set`);
    process.exit(2);
  }
  return v;
};

const basicID = env('OIDC_BASIC_CLIENT_ID');
const basicSecret = env('OIDC_BASIC_CLIENT_SECRET');
const jwtID = env('OIDC_JWT_CLIENT_ID');
const jwtJWK = JSON.parse(env('OIDC_JWT_CLIENT_JWK'));
const port = Number(env('OIDC_PORT', '0'));

function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

let keys = [newSigningKey()];
let issuer = '';
let provider;

function newProvider() {
  const p = new Provider(issuer, {
    clients: [
      {
        client_id: basicID,
        client_secret: basicSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: jwtID,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: jwtJWK.alg || (jwtJWK.kty === 'EC' ? 'ES256' : 'RS256'),
        jwks: { keys: [jwtJWK] },
      },
    ],
    jwks: { keys },
    scopes: ['mcp:tools'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // No default: without `resource` the token is opaque.
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (ctx, resourceIndicator) => ({
          scope: 'mcp:tools',
          audience: resourceIndicator,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    ttl: { ClientCredentials: 300 },
  });
  p.proxy = false;
  return p;
}

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/-/rotate') {
    keys = [newSigningKey(), keys[0]];
    provider = newProvider();
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ kid: keys[0].kid }));
    return;
  }
  provider.callback()(req, res);
});

server.listen(port, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  provider = newProvider();
  console.log(`issuer ${issuer}`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
