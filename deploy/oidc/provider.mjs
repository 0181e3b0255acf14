// The local OpenID Connect provider: oidc-provider (OpenID Certified) configured from the directory.
//
//   node deploy/oidc/provider.mjs <config.json>
//   OIDC_PROVIDER_CONFIG_JSON='{...}' node deploy/oidc/provider.mjs      (compose: the config in the environment)
//
// The config (written by scripts/devstack.py, or deploy/compose.yaml's; see deploy/oidc/README.md) names the issuer,
// the port (and the address to listen on, loopback unless `host` says otherwise), the directory file, the keys file,
// the cookie keys and the clients with their secrets. People sign in on this provider's own
// login page with their e-mail or NAV ident and the password `demo`; its tokens carry claims shaped like Entra ID's
// (NAVident, oid, groups). Signing keys live in the keys file; the admin listener (loopback only) rotates them
// while the provider runs, and SIGHUP re-reads the file.
import { createHash, generateKeyPairSync, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_PROVIDER_CONFIG_JSON
  || readFileSync(process.argv[2] || process.env.OIDC_PROVIDER_CONFIG, 'utf8'));
const DEMO_PASSWORD = 'demo';
const ACCESS_TOKEN_SECONDS = 600;
const SERVICE_TOKEN_SECONDS = 300;

function log(message, fields = {}) {
  // Never a token, a password or a secret: only what happened and to whom.
  process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), service: 'oidc', msg: message, ...fields })}\n`);
}

// ------------------------------------------------------------------ the directory's people
function stableUuid(text) {
  // An Entra-like object id: fixed per user, not guessable from the NAV ident alone without the directory.
  const hex = createHash('sha256').update(`hybrid-oid:${text}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function loadPeople() {
  const directory = JSON.parse(readFileSync(config.directory_file, 'utf8'));
  const people = new Map();
  for (const user of directory.users) {
    if (!user.nav_ident) continue;
    people.set(user.nav_ident, {
      navIdent: user.nav_ident, oid: stableUuid(user.nav_ident), name: user.name, email: user.email,
      groups: [`hybrid-${user.role}`],
    });
  }
  return people;
}

let people = loadPeople();

function findPerson(login) {
  const wanted = String(login || '').trim().toLowerCase();
  for (const person of people.values()) {
    if (person.navIdent.toLowerCase() === wanted || person.email.toLowerCase() === wanted) return person;
  }
  return undefined;
}

function personClaims(person) {
  return { NAVident: person.navIdent, oid: person.oid, name: person.name, preferred_username: person.email,
           groups: person.groups };
}

// ------------------------------------------------------------------ signing keys
function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

function readKeys() {
  try {
    return JSON.parse(readFileSync(config.keys_file, 'utf8')).keys;
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    const keys = [newSigningKey()];
    writeKeys(keys);
    return keys;
  }
}

function writeKeys(keys) {
  const temporary = `${config.keys_file}.tmp`;
  writeFileSync(temporary, JSON.stringify({ keys }), { mode: 0o600 });
  renameSync(temporary, config.keys_file);
}

// ------------------------------------------------------------------ the provider
const clients = config.clients.map((client) => ({ ...client }));
const audience = config.audience;

function buildProvider(keys) {
  const provider = new Provider(config.issuer, {
    clients,
    jwks: { keys },
    cookies: { keys: config.cookie_keys },
    extraClientMetadata: { properties: ['navident'] },
    findAccount: async (_ctx, id) => {
      const person = people.get(id);
      if (!person) return undefined;
      return { accountId: id, claims: async () => ({ sub: person.oid, ...personClaims(person) }) };
    },
    scopes: ['openid', 'profile', 'api', 'employer-contact:read'],
    claims: { openid: ['sub'], profile: ['name', 'NAVident', 'oid', 'groups', 'preferred_username'] },
    conformIdTokenClaims: false,
    pairwiseIdentifier: undefined,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator, client) => {
          if (indicator !== audience) throw new Provider.errors.InvalidTarget();
          return { scope: client.scope, audience, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } },
                   accessTokenTTL: client.grantTypes.includes('client_credentials') ? SERVICE_TOKEN_SECONDS
                     : ACCESS_TOKEN_SECONDS };
        },
      },
    },
    pkce: { required: () => true, methods: ['S256'] },
    ttl: { AccessToken: ACCESS_TOKEN_SECONDS, ClientCredentials: SERVICE_TOKEN_SECONDS, IdToken: 3600,
           Interaction: 600, Session: 8 * 3600, Grant: 8 * 3600 },
    // The provider's own sign-in is the only consent the platform's first-party clients need.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId,
                                                  accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(ctx.oidc.client.scope);
      grant.addResourceScope(audience, ctx.oidc.client.scope);
      await grant.save();
      return grant;
    },
    extraTokenClaims: async (_ctx, token) => {
      if (token.kind === 'ClientCredentials') {
        const client = clients.find((c) => c.client_id === token.clientId);
        const person = client?.navident ? people.get(client.navident) : undefined;
        return person ? personClaims(person) : undefined;
      }
      const person = token.accountId ? people.get(token.accountId) : undefined;
      return person ? personClaims(person) : undefined;
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Innlogging feilet', `<p>${escapeHtml(out.error)}: ${escapeHtml(out.error_description || '')}</p>`);
    },
  });
  provider.proxy = true;
  provider.on('server_error', (_ctx, error) => log('server error', { error: error.message }));
  provider.on('backchannel.error', (client, error) => log('back-channel logout failed',
    { client: client.clientId, error: error.message }));
  provider.on('backchannel.success', (client) => log('back-channel logout sent', { client: client.clientId }));
  return provider;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function page(title, body) {
  return `<!doctype html><html lang="nb"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

async function logoutSource(ctx, form) {
  ctx.body = page('Logg ut', `${form}<p>Du logges ut av NAV-innloggingen.</p>
<button type="submit" form="op.logoutForm" name="logout" value="yes" id="logout">Logg ut</button>
<script>document.getElementById('logout').click()</script>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = page('Logget ut', '<p>Du er logget ut.</p>');
}

let keys = readKeys();
let current = buildProvider(keys);

function reload(reason) {
  keys = readKeys();
  people = loadPeople();
  current = buildProvider(keys);
  log('keys and directory loaded', { reason, kids: keys.map((key) => key.kid) });
}

// ------------------------------------------------------------------ the login page
function loginForm(uid, error = '') {
  return page('Logg inn', `${error ? `<p role="alert" class="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
  <label for="login">E-post eller NAV-ident</label> <input id="login" name="login" required autofocus>
  <label for="password">Passord</label> <input id="password" name="password" type="password" required>
  <button type="submit">Logg inn</button>
</form>`);
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 10000) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

function sameSecret(given, expected) {
  const a = Buffer.from(String(given));
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function send(res, status, html) {
  // No form-action in the policy: the login form's redirects end at the client's redirect URI, another origin.
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store',
                          'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'" });
  res.end(html);
}

async function interaction(req, res, provider) {
  const [, , uid, action] = new URL(req.url, config.issuer).pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name !== 'login') {
    // Consent is granted by loadExistingGrant: nothing to ask. The result names it, as a native client (a loopback
    // redirect on any port: the tests' apps) is otherwise asked again on every sign-in.
    return provider.interactionFinished(req, res, { consent: {} }, { mergeWithLastSubmission: true });
  }
  if (req.method === 'GET' && !action) return send(res, 200, loginForm(uid));
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const person = findPerson(form.get('login'));
    if (!person || !sameSecret(form.get('password') || '', DEMO_PASSWORD)) {
      log('sign-in refused', { reason: person ? 'wrong password' : 'unknown user' });
      return send(res, 401, loginForm(uid, 'Feil brukernavn eller passord.'));
    }
    log('signed in', { nav_ident: person.navIdent });
    return provider.interactionFinished(req, res, { login: { accountId: person.navIdent } },
                                        { mergeWithLastSubmission: false });
  }
  return send(res, 405, page('Ikke tillatt', ''));
}

const server = createServer(async (req, res) => {
  const provider = current;
  try {
    if (req.url.startsWith('/interaction/')) return await interaction(req, res, provider);
    return provider.callback()(req, res);
  } catch (error) {
    log('request failed', { error: error.name, path: req.url.split('?')[0] });
    if (!res.headersSent) send(res, 400, page('Innlogging feilet', '<p>Start innloggingen på nytt.</p>'));
  }
});

// ------------------------------------------------------------------ admin: key rotation, loopback only
const admin = createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  const path = new URL(req.url, 'http://admin').pathname;
  if (path === '/keys/rotate') {
    writeKeys([newSigningKey(), ...keys]);  // the new key signs; the old ones stay in the JWKS
  } else if (path === '/keys/retire') {
    writeKeys(keys.slice(0, 1));  // only the newest key stays: tokens signed with the others are refused
  } else if (path !== '/reload') {
    res.writeHead(404).end();
    return;
  }
  reload(path);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ kids: keys.map((key) => key.kid) }));
});

process.on('SIGHUP', () => reload('SIGHUP'));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    admin.close();
    process.exit(0);
  });
}
server.listen(config.port, config.host || '127.0.0.1', () => log('listening', { issuer: config.issuer, port: config.port }));
admin.listen(config.admin_port, '127.0.0.1', () => log('admin listening', { port: config.admin_port }));
