// Acceptance tests of the Kii-compatible auth facade (DESIGN section 6; kii-api.md sections 1.3-1.6, 5, 8)
// driven by the OFFICIAL Kii Cloud JavaScript SDK (npm kii-cloud-sdk 2.4.19) under Node's test runner.
//
// Configuration (environment):
//   VITALSYNC_KII_SITE    site root the SDK is initialised with (default http://127.0.0.1:8080/api)
//   VITALSYNC_KII_APP_ID  Kii application id (default vitalsync)
//   VITALSYNC_KII_APP_KEY Kii application key (default devkey)
//   VITALSYNC_KII_SOURCE_ADDRESS  local address the SDK's connections come from; default: a random
//                         127.x.y.z per run when the site is on 127.0.0.0/8, `none` to leave it to the OS
//
// Why a source address: the auth service throttles failed logins per client address as well as per
// account (30 failures an hour, then a lockout that re-arms at every further failure). Behind the local
// edge every tool on the machine is 127.0.0.1, so one run's deliberate wrong-password attempts would
// count against (and could lock out) everybody else, and earlier failures of other suites would lock
// these tests out with 429 TOO_MANY_REQUESTS. Like a phone in the field, each run gets an address of
// its own (the whole 127.0.0.0/8 block is loopback on Linux); the per-account throttle is unaffected.
//
// Every test works on its own fresh SDK instance (`create()` builds an independent copy with its own
// current-user state) and its own newly registered user, so the tests do not depend on each other.
// When a test fails, the HTTP exchanges the SDK made during that test are appended to the failure.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const kiiCloudSdk = require('kii-cloud-sdk');

const SITE = process.env.VITALSYNC_KII_SITE || 'http://127.0.0.1:8080/api';
const APP_ID = process.env.VITALSYNC_KII_APP_ID || 'vitalsync';
const APP_KEY = process.env.VITALSYNC_KII_APP_KEY || 'devkey';
const SDK_VERSION = '2.4.19';
const TEST_OPTIONS = { timeout: 20_000 };

function sourceAddress() {
  const configured = process.env.VITALSYNC_KII_SOURCE_ADDRESS;
  if (configured) {
    return configured.toLowerCase() === 'none' ? null : configured;
  }
  if (!/^127\./.test(new URL(SITE).hostname)) {
    return null;
  }
  const octet = () => 1 + Math.floor(Math.random() * 254);
  return `127.${octet()}.${octet()}.${octet()}`;
}

/** Whether this host can use `address` as a local address (not on macOS, whose lo0 has 127.0.0.1 only). */
function usable(address) {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, address, () => probe.close(() => resolve(true)));
  });
}

const wantedSource = sourceAddress();
const SOURCE_ADDRESS = wantedSource && (await usable(wantedSource)) ? wantedSource : null;

// ---------------------------------------------------------------------------------------------
// Wire trace: the SDK talks through the `xmlhttprequest` package, which calls http.request at send
// time, so wrapping http.request here sees every request and response the SDK makes (and sets the
// source address). Nothing else about the requests is changed.

const exchanges = [];
const originalRequest = http.request;

const TRACED_HEADERS = ['content-type', 'authorization', 'x-kii-appid', 'x-kii-sdk', 'location', 'etag', 'retry-after'];

function redact(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers || {})) {
    const lower = name.toLowerCase();
    if (!TRACED_HEADERS.includes(lower)) {
      continue;
    }
    out[lower] = lower === 'authorization' ? String(value).replace(/^(Bearer .{8}).*$/, '$1...') : value;
  }
  return out;
}

http.request = function tracedRequest(options, callback) {
  if (typeof options !== 'object' || options === null || options instanceof URL || typeof callback !== 'function') {
    return originalRequest.apply(this, arguments);
  }
  const exchange = {
    method: options.method || 'GET',
    path: options.path,
    requestHeaders: redact(options.headers),
    requestBody: '',
    status: null,
    responseHeaders: {},
    responseBody: '',
  };
  exchanges.push(exchange);
  const sent = SOURCE_ADDRESS ? { ...options, localAddress: SOURCE_ADDRESS } : options;
  const request = originalRequest.call(this, sent, (response) => {
    exchange.status = response.statusCode;
    exchange.responseHeaders = redact(response.headers);
    callback(response); // xmlhttprequest sets the encoding here, before any data event
    response.on('data', (chunk) => {
      exchange.responseBody += chunk;
    });
  });
  const write = request.write;
  request.write = function tracedWrite(chunk, ...rest) {
    exchange.requestBody += String(chunk);
    return write.call(this, chunk, ...rest);
  };
  return request;
};

function formatExchanges() {
  if (exchanges.length === 0) {
    return '(no HTTP exchange)';
  }
  return exchanges
    .map(
      (e, i) =>
        `#${i + 1} ${e.method} ${e.path}\n` +
        `    request headers:  ${JSON.stringify(e.requestHeaders)}\n` +
        `    request body:     ${e.requestBody || '(none)'}\n` +
        `    response status:  ${e.status}\n` +
        `    response headers: ${JSON.stringify(e.responseHeaders)}\n` +
        `    response body:    ${e.responseBody || '(none)'}`,
    )
    .join('\n');
}

/** A node:test test whose failure message carries the HTTP exchanges the SDK made during it. */
function kiiTest(name, body, options = {}) {
  test(name, { ...TEST_OPTIONS, ...options }, async (t) => {
    exchanges.length = 0;
    try {
      await body(t);
    } catch (error) {
      const client = SOURCE_ADDRESS ?? 'chosen by the OS';
      const wrapped = new Error(
        `${error.message}\n\nHTTP exchanges of this test (client address ${client}):\n${formatExchanges()}`,
        { cause: error },
      );
      throw wrapped;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** A fresh, independent SDK instance initialised against the facade. */
function newSdk() {
  const sdk = kiiCloudSdk.create();
  sdk.Kii.initializeWithSite(APP_ID, APP_KEY, SITE);
  return sdk;
}

/** A login name unique across runs: Kii's username alphabet, 3-64 characters. */
function uniqueLoginName(prefix) {
  return `kjs-${prefix}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** A password the server policy accepts (>= 8 chars, not common, not containing the login name). */
function strongPassword() {
  return `Vs!${randomBytes(6).toString('hex')}#Q9`;
}

/** The rejection of `promise`; fails the test when it resolves instead. */
async function rejectionOf(promise, what) {
  let value;
  try {
    value = await promise;
  } catch (error) {
    return error;
  }
  const shown = value && typeof value.getID === 'function' ? `KiiUser ${value.getID()}` : JSON.stringify(value);
  assert.fail(`${what} should have failed but succeeded with ${shown}`);
}

/** Assert the SDK error carries `code`, both in its message and as parsed by the SDK's KiiErrorParser. */
function assertKiiError(sdk, error, code, status) {
  assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
  assert.ok(
    error.message === code || error.message.startsWith(`${code}: `),
    `expected the SDK error to start with "${code}: ", got ${JSON.stringify(error.message)}`,
  );
  const parsed = sdk.KiiErrorParser.parse(error);
  assert.equal(parsed.code, code, `KiiErrorParser code of ${JSON.stringify(error.message)}`);
  assert.equal(parsed.status, status, `KiiErrorParser status of ${JSON.stringify(error.message)}`);
}

/** Register a user with the SDK (which logs in right after) and return what the test needs. */
async function registerUser(sdk, { prefix, email = false, displayName = null } = {}) {
  const loginName = uniqueLoginName(prefix);
  const password = strongPassword();
  const emailAddress = email ? `${loginName}@vitalsync-compat.example.com` : null;
  const user = email
    ? sdk.KiiUser.userWithEmailAddressAndUsername(emailAddress, loginName, password)
    : sdk.KiiUser.userWithUsername(loginName, password);
  if (displayName !== null) {
    user.setDisplayName(displayName);
  }
  const registered = await user.register();
  assert.ok(registered, 'register() resolves with the logged-in user');
  const userId = registered.getID();
  assert.equal(typeof userId, 'string');
  assert.ok(userId.length > 0, 'the registered user has an id');
  const accessToken = registered.getAccessToken();
  assert.equal(typeof accessToken, 'string');
  assert.ok(accessToken.length > 0, 'register() logged in: the user has an access token');
  return { loginName, password, emailAddress, displayName, userId, accessToken, user: registered };
}

// ---------------------------------------------------------------------------------------------
// Tests

kiiTest('register logs in at once; log out and log in again with KiiUser.authenticate', async () => {
  const sdk = newSdk();
  const account = await registerUser(sdk, { prefix: 'login', displayName: 'Compat Login' });

  assert.equal(account.user.getUsername(), account.loginName);
  assert.equal(sdk.Kii.loggedIn(), true, 'the SDK has a session after register()');
  assert.equal(sdk.KiiUser.getCurrentUser().getID(), account.userId);
  assert.equal(sdk.KiiUser.getCurrentUser().getAccessToken(), account.accessToken);

  // the wire: registration then an immediate password-grant login without grant_type
  const registration = exchanges.find((e) => e.method === 'POST' && e.path.startsWith(`/api/apps/${APP_ID}/users?`));
  assert.ok(registration, 'the SDK POSTed the registration');
  assert.equal(registration.status, 201);
  assert.equal(JSON.parse(registration.responseBody).userID, account.userId);
  const firstLogin = exchanges.find((e) => e.method === 'POST' && e.path.startsWith('/api/oauth2/token?'));
  assert.ok(firstLogin, 'the SDK logged in right after registering');
  assert.deepEqual(Object.keys(JSON.parse(firstLogin.requestBody)).sort(), ['password', 'username']);
  assert.equal(firstLogin.status, 200);

  sdk.KiiUser.logOut();
  assert.equal(sdk.Kii.loggedIn(), false);
  assert.equal(sdk.KiiUser.getCurrentUser(), null);

  const again = await sdk.KiiUser.authenticate(account.loginName, account.password);
  assert.equal(again.getID(), account.userId, 'login returns the registered user id');
  assert.equal(again.getUsername(), account.loginName);
  const token = again.getAccessToken();
  assert.equal(typeof token, 'string');
  assert.ok(token.length > 0);
  assert.notEqual(token, account.accessToken, 'a new login issues a new access token');
  const tokenObject = again.getAccessTokenObject();
  assert.equal(tokenObject.access_token, token);
  assert.ok(tokenObject.expires_at instanceof Date, 'expires_in was turned into an expiry date');
  assert.ok(tokenObject.expires_at.getTime() > Date.now(), 'the token expires in the future');
  assert.equal(sdk.KiiUser.getCurrentUser().getID(), account.userId, 'the SDK session is the logged-in user');
});

kiiTest('authenticateWithToken validates an access token (GET users/me) and restores the session', async () => {
  const sdk = newSdk();
  const account = await registerUser(sdk, { prefix: 'token', displayName: 'Compat Token' });
  sdk.KiiUser.logOut();

  const fresh = newSdk(); // a different "app process" that only knows the stored token
  const user = await fresh.KiiUser.authenticateWithToken(account.accessToken);
  assert.equal(user.getID(), account.userId);
  assert.equal(user.getUsername(), account.loginName);
  assert.equal(user.getDisplayName(), 'Compat Token');
  assert.equal(user.getAccessToken(), account.accessToken);
  assert.equal(fresh.Kii.loggedIn(), true);
  assert.equal(fresh.KiiUser.getCurrentUser().getID(), account.userId);

  const me = exchanges.at(-1);
  assert.equal(me.method, 'GET');
  assert.match(me.path, new RegExp(`^/api/apps/${APP_ID}/users/me\\?`));
  assert.equal(me.status, 200);

  const bogus = newSdk();
  const error = await rejectionOf(
    bogus.KiiUser.authenticateWithToken(`${account.accessToken}x`),
    'authenticateWithToken with a tampered token',
  );
  assertKiiError(bogus, error, 'WRONG_TOKEN', 403);
  assert.equal(exchanges.at(-1).status, 403);
  assert.equal(bogus.Kii.loggedIn(), false, 'a rejected token leaves the SDK logged out');
});

kiiTest("refresh() reads the user's fields back from the server (GET users/{id})", async () => {
  const sdk = newSdk();
  const account = await registerUser(sdk, { prefix: 'refresh', email: true, displayName: 'Compat Refresh' });
  sdk.KiiUser.logOut();

  // A password login only knows the id and the login name; refresh() brings the rest.
  const fresh = newSdk();
  const user = await fresh.KiiUser.authenticate(account.loginName, account.password);
  assert.equal(user.getID(), account.userId);
  assert.equal(user.getDisplayName(), undefined, 'before refresh() a password login knows no display name');

  const refreshed = await user.refresh();
  assert.equal(refreshed.getID(), account.userId);
  assert.equal(refreshed.getUsername(), account.loginName);
  assert.equal(refreshed.getDisplayName(), 'Compat Refresh');
  assert.equal(refreshed.getEmailAddress(), account.emailAddress);
  assert.equal(refreshed.getEmailVerified(), false);
  assert.equal(refreshed.getPhoneVerified(), false);
  assert.equal(typeof refreshed.getCreated(), 'number', '_created is epoch milliseconds');
  assert.ok(refreshed.getCreated() > Date.now() - 10 * 60_000, 'the user was created just now');
  assert.ok(refreshed.getCreated() <= Date.now() + 60_000, 'the creation time is not in the future');

  const read = exchanges.at(-1);
  assert.equal(read.method, 'GET');
  assert.match(read.path, new RegExp(`^/api/apps/${APP_ID}/users/${account.userId}\\?`));
  assert.equal(read.status, 200);
  assert.match(read.requestHeaders.authorization || '', /^Bearer /, 'refresh() sends the session token');
});

kiiTest('registering a login name that is taken fails with USER_ALREADY_EXISTS', async () => {
  const sdk = newSdk();
  const account = await registerUser(sdk, { prefix: 'dup' });
  sdk.KiiUser.logOut();

  const other = newSdk();
  const duplicate = other.KiiUser.userWithUsername(account.loginName, strongPassword());
  const error = await rejectionOf(duplicate.register(), 'registering a duplicate login name');
  assertKiiError(other, error, 'USER_ALREADY_EXISTS', 409);
  assert.equal(error.target, duplicate, 'the error targets the user that failed to register');
  assert.equal(other.Kii.loggedIn(), false, 'a failed registration does not log in');
  const registration = exchanges.at(-1);
  assert.equal(registration.status, 409);
  assert.equal(
    exchanges.filter((e) => e.path.startsWith('/api/oauth2/token')).length,
    1,
    'only the first registration logged in',
  );

  // the existing account is untouched: its password still works
  const still = await other.KiiUser.authenticate(account.loginName, account.password);
  assert.equal(still.getID(), account.userId);
});

kiiTest('a wrong password fails with invalid_grant', async () => {
  const sdk = newSdk();
  const account = await registerUser(sdk, { prefix: 'wrongpw' });
  sdk.KiiUser.logOut();

  const error = await rejectionOf(
    sdk.KiiUser.authenticate(account.loginName, `${account.password}-wrong`),
    'login with a wrong password',
  );
  assertKiiError(sdk, error, 'invalid_grant', 400);
  assert.equal(error.target.getUsername(), account.loginName, 'the error targets the user that tried to log in');
  assert.equal(sdk.Kii.loggedIn(), false, 'a failed login leaves the SDK logged out');
  assert.equal(exchanges.at(-1).status, 400);
});

kiiTest('updatePassword: the new password logs in, the old one fails', async () => {
  const sdk = newSdk();
  const account = await registerUser(sdk, { prefix: 'chpw' });
  const newPassword = strongPassword();

  const updated = await account.user.updatePassword(account.password, newPassword);
  assert.equal(updated.getID(), account.userId, 'updatePassword() resolves with the user');
  const change = exchanges.at(-1);
  assert.equal(change.method, 'PUT');
  assert.match(change.path, new RegExp(`^/api/apps/${APP_ID}/users/${account.userId}/password\\?`));
  assert.equal(change.requestHeaders['content-type'], 'application/vnd.kii.ChangePasswordRequest+json');
  assert.equal(change.status, 204);

  sdk.KiiUser.logOut();
  const withNew = await sdk.KiiUser.authenticate(account.loginName, newPassword);
  assert.equal(withNew.getID(), account.userId, 'the new password logs the same user in');
  sdk.KiiUser.logOut();

  const error = await rejectionOf(
    sdk.KiiUser.authenticate(account.loginName, account.password),
    'login with the old password after updatePassword()',
  );
  assertKiiError(sdk, error, 'invalid_grant', 400);
  assert.equal(sdk.Kii.loggedIn(), false);
});

// kii-api.md 1.4 and 8: Kii invalidates the access tokens issued before a password change. The auth
// service refuses them at once (users.tokens_valid_after); sync and stats, which verify tokens without
// calling auth, honour the change within the access-token lifetime.
kiiTest(
  'a password change invalidates access tokens issued before it (WRONG_TOKEN)',
  async () => {
    const sdk = newSdk();
    const account = await registerUser(sdk, { prefix: 'revoke' });
    await account.user.updatePassword(account.password, strongPassword());
    assert.equal(exchanges.at(-1).status, 204);

    const stale = newSdk();
    const error = await rejectionOf(
      stale.KiiUser.authenticateWithToken(account.accessToken),
      'authenticateWithToken with an access token issued before the password change',
    );
    assertKiiError(stale, error, 'WRONG_TOKEN', 403);
    assert.equal(stale.Kii.loggedIn(), false);
  },
);

kiiTest('updatePassword with a wrong current password fails and keeps the password', async () => {
  const sdk = newSdk();
  const account = await registerUser(sdk, { prefix: 'chpwbad' });
  const error = await rejectionOf(
    account.user.updatePassword(`${account.password}-wrong`, strongPassword()),
    'updatePassword() with a wrong current password',
  );
  assert.equal(error.target.getID(), account.userId);
  const parsed = sdk.KiiErrorParser.parse(error);
  assert.ok(parsed.code, `the SDK error carries a Kii error code: ${JSON.stringify(error.message)}`);
  assert.ok(parsed.status >= 400 && parsed.status < 500, `a client error, got ${JSON.stringify(parsed)}`);
  const change = exchanges.at(-1);
  assert.equal(change.method, 'PUT');
  assert.equal(change.status, parsed.status, 'the HTTP status agrees with the SDK code table');

  sdk.KiiUser.logOut();
  const still = await sdk.KiiUser.authenticate(account.loginName, account.password);
  assert.equal(still.getID(), account.userId, 'the old password still works');
});

kiiTest("KiiUser.resetPassword(email) requests a reset for the user's email (204)", async (t) => {
  const sdk = newSdk();
  const account = await registerUser(sdk, { prefix: 'reset', email: true });
  sdk.KiiUser.logOut();

  const result = await sdk.KiiUser.resetPassword(account.emailAddress);
  assert.equal(result, undefined, 'resetPassword() resolves without a value');
  const reset = exchanges.at(-1);
  assert.equal(reset.method, 'POST');
  assert.equal(
    reset.path.split('?')[0],
    `/api/apps/${APP_ID}/users/EMAIL:${account.emailAddress}/password/request-reset`,
  );
  assert.equal(reset.requestHeaders.authorization, undefined, 'the reset request is anonymous');
  assert.equal(reset.status, 204);
  assert.equal(reset.responseBody, '');
  // The facade answers 204 for unknown addresses too; the pytest wrapper checks that a reset email
  // really went to this address (moto's SES), so it reports the address here.
  t.diagnostic(`reset-email-sent-to ${account.emailAddress}`);

  // a request does not change the password by itself
  const still = await sdk.KiiUser.authenticate(account.loginName, account.password);
  assert.equal(still.getID(), account.userId);
});

kiiTest('the SDK identifies itself and the app on every request', async () => {
  const sdk = newSdk();
  await registerUser(sdk, { prefix: 'hdrs' });
  assert.ok(exchanges.length >= 2);
  for (const e of exchanges) {
    assert.equal(e.requestHeaders['x-kii-appid'], APP_ID, `${e.method} ${e.path}`);
    assert.equal(e.requestHeaders['x-kii-sdk'], `sn=jss;sv=${SDK_VERSION}`, `${e.method} ${e.path}`);
    assert.match(e.path, /[?&]disable_cache=\d+/, 'the SDK appends its cache buster');
  }
});
