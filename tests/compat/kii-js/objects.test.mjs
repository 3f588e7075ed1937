// Acceptance tests of the Kii-compatible bucket/object facade (DESIGN section 6; kii-api.md sections 2, 5
// and 8; issue 4 item 7) driven by the OFFICIAL Kii Cloud JavaScript SDK (npm kii-cloud-sdk 2.4.19)
// under Node's test runner, through the local edge (nginx routes .../buckets/... to the sync service).
//
// Configuration (environment), as for auth.test.mjs:
//   VITALSYNC_KII_SITE    site root the SDK is initialised with (default http://127.0.0.1:8080/api)
//   VITALSYNC_KII_APP_ID  Kii application id (default vitalsync)
//   VITALSYNC_KII_APP_KEY Kii application key (default devkey)
//
// Every test works on its own SDK instance (`create()`) and its own newly registered users, so tests
// do not depend on each other. A failing test reports the HTTP exchanges the SDK made during it.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const kiiCloudSdk = require('kii-cloud-sdk');

const SITE = process.env.VITALSYNC_KII_SITE || 'http://127.0.0.1:8080/api';
const APP_ID = process.env.VITALSYNC_KII_APP_ID || 'vitalsync';
const APP_KEY = process.env.VITALSYNC_KII_APP_KEY || 'devkey';
const TEST_OPTIONS = { timeout: 30_000 };

// ---------------------------------------------------------------------------------------------
// Wire trace (see auth.test.mjs): the SDK's `xmlhttprequest` calls http.request at send time.

const exchanges = [];
const originalRequest = http.request;
const TRACED_HEADERS = [
  'content-type',
  'authorization',
  'x-kii-appid',
  'x-kii-sdk',
  'x-http-method-override',
  'if-match',
  'if-none-match',
  'location',
  'etag',
];

function redact(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers || {})) {
    const lower = name.toLowerCase();
    if (TRACED_HEADERS.includes(lower)) {
      out[lower] = lower === 'authorization' ? String(value).replace(/^(Bearer .{8}).*$/, '$1...') : value;
    }
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
  const request = originalRequest.call(this, options, (response) => {
    exchange.status = response.statusCode;
    exchange.responseHeaders = redact(response.headers);
    callback(response);
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
        `    request body:     ${(e.requestBody || '(none)').slice(0, 500)}\n` +
        `    response status:  ${e.status}\n` +
        `    response headers: ${JSON.stringify(e.responseHeaders)}\n` +
        `    response body:    ${(e.responseBody || '(none)').slice(0, 500)}`,
    )
    .join('\n');
}

function kiiTest(name, body, options = {}) {
  test(name, { ...TEST_OPTIONS, ...options }, async (t) => {
    exchanges.length = 0;
    try {
      await body(t);
    } catch (error) {
      throw new Error(`${error.message}\n\nHTTP exchanges of this test:\n${formatExchanges()}`, { cause: error });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers

function newSdk() {
  const sdk = kiiCloudSdk.create();
  sdk.Kii.initializeWithSite(APP_ID, APP_KEY, SITE);
  return sdk;
}

function unique(prefix) {
  return `${prefix}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** A fresh SDK whose current user is a newly registered (and logged-in) user. */
async function userSdk(prefix) {
  const sdk = newSdk();
  const password = `Vs!${randomBytes(6).toString('hex')}#Q9`;
  const user = await sdk.KiiUser.userWithUsername(unique(`kjo-${prefix}`), password).register();
  assert.ok(user.getAccessToken(), 'register() logged the user in');
  return { sdk, user, userId: user.getID() };
}

async function rejectionOf(promise, what) {
  let value;
  try {
    value = await promise;
  } catch (error) {
    return error;
  }
  assert.fail(`${what} should have failed but succeeded with ${String(value)}`);
}

/** The SDK error carries `code`; the SDK's own table gives the status it reports. */
function assertKiiError(sdk, error, code, status) {
  assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
  assert.ok(error.message.startsWith(`${code}: `), `expected "${code}: ...", got ${JSON.stringify(error.message)}`);
  const parsed = sdk.KiiErrorParser.parse(error);
  assert.equal(parsed.code, code);
  assert.equal(parsed.status, status);
}

function lastExchange(method, pathPart) {
  const found = exchanges.filter((e) => e.method === method && e.path.includes(pathPart)).at(-1);
  assert.ok(found, `no ${method} exchange to a path containing ${pathPart}`);
  return found;
}

async function createObject(bucket, fields) {
  const object = bucket.createObject();
  for (const [key, value] of Object.entries(fields)) {
    object.set(key, value);
  }
  return object.save();
}

/** Every result of `query`, following nextQuery to the end; [results, pages]. */
async function queryAll(bucket, query) {
  const results = [];
  let pages = 0;
  let next = query;
  while (next) {
    const [, page, nextQuery] = await bucket.executeQuery(next);
    results.push(...page);
    pages += 1;
    assert.ok(pages < 50, 'pagination ends');
    next = nextQuery;
  }
  return [results, pages];
}

// ---------------------------------------------------------------------------------------------
// Tests

kiiTest('user scope: create, read, update with save() and saveAllFields(), delete', async () => {
  const { sdk, user, userId } = await userSdk('crud');
  const bucket = user.bucketWithName('compat_notes');

  const created = await createObject(bucket, { title: 'first', score: 1, tags: ['a'] });
  const objectId = created.getUUID();
  assert.match(objectId, /^[A-Za-z0-9_.-]{2,100}$/);
  assert.equal(typeof created.getCreated(), 'number');
  const create = lastExchange('POST', '/objects');
  assert.equal(create.path.split('?')[0], `/api/apps/${APP_ID}/users/${userId}/buckets/compat_notes/objects`);
  assert.match(create.path, /[?&]disable_cache=\d+/);
  assert.equal(create.status, 201);
  assert.equal(create.responseHeaders.etag, '"1"');

  // read it back as another copy, by its URI
  const copy = sdk.KiiObject.objectWithURI(created.objectURI());
  await copy.refresh();
  assert.equal(copy.get('title'), 'first');
  assert.deepEqual(copy.get('tags'), ['a']);
  assert.equal(copy.getCreated(), created.getCreated());
  assert.equal(JSON.parse(lastExchange('GET', `/objects/${objectId}`).responseBody)._owner, userId);

  // save(): a partial update (POST + X-HTTP-Method-Override: PATCH) guarded by If-Match
  copy.set('score', 2);
  await copy.save(null, false);
  const patch = lastExchange('POST', `/objects/${objectId}`);
  assert.equal(patch.requestHeaders['x-http-method-override'], 'PATCH');
  assert.equal(patch.requestHeaders['if-match'], '1', 'after refresh() the SDK sends the bare _version');
  assert.deepEqual(JSON.parse(patch.requestBody), { score: 2 });
  assert.equal(patch.status, 200);
  assert.equal(patch.responseHeaders.etag, '"2"');
  assert.equal(copy.get('title'), 'first', 'the merged object came back whole');
  assert.ok(copy.getModified() >= copy.getCreated());

  // saveAllFields(): a full replace (PUT) guarded by If-Match
  copy.set('title', 'second');
  await copy.saveAllFields(null, false);
  const put = lastExchange('PUT', `/objects/${objectId}`);
  assert.equal(put.status, 200);
  assert.equal(put.responseHeaders.etag, '"3"');
  const reply = JSON.parse(put.responseBody);
  assert.equal(reply.createdAt, created.getCreated());
  assert.equal(typeof reply.modifiedAt, 'number');

  await created.refresh();
  assert.equal(created.get('title'), 'second');
  assert.equal(created.get('score'), 2);

  // save() with the default overwrite=true sends no precondition
  created.set('score', 3);
  await created.save();
  assert.equal(lastExchange('POST', `/objects/${objectId}`).requestHeaders['if-match'], undefined);

  await copy.delete();
  assert.equal(lastExchange('DELETE', `/objects/${objectId}`).status, 204);
  const gone = await rejectionOf(created.refresh(), 'refresh() of a deleted object');
  assertKiiError(sdk, gone, 'OBJECT_NOT_FOUND', 404);
});

kiiTest('create with an id (If-None-Match: *) and the create-only conflict', async () => {
  const { sdk, user } = await userSdk('withid');
  const bucket = user.bucketWithName('compat_fixed');
  const first = bucket.createObjectWithID('fixed-id.1');
  first.set('v', 1);
  await first.saveAllFields(null, false);
  const put = lastExchange('PUT', '/objects/fixed-id.1');
  assert.equal(put.requestHeaders['if-none-match'], '*');
  assert.equal(put.status, 201);

  const second = bucket.createObjectWithID('fixed-id.1');
  second.set('v', 2);
  const error = await rejectionOf(second.saveAllFields(null, false), 'a second create-only PUT');
  assertKiiError(sdk, error, 'OBJECT_ALREADY_EXISTS', 409);

  const read = bucket.createObjectWithID('fixed-id.1');
  await read.refresh();
  assert.equal(read.get('v'), 1);
});

kiiTest('a stale version conflicts (OBJECT_VERSION_IS_STALE) on saveAllFields() and save()', async () => {
  const { sdk, user } = await userSdk('stale');
  const bucket = user.bucketWithName('compat_stale');
  const original = await createObject(bucket, { v: 1 });
  const older = sdk.KiiObject.objectWithURI(original.objectURI());
  await older.refresh();

  original.set('v', 2);
  await original.saveAllFields(null, false); // If-Match: "1" (the quoted ETag of the create)
  assert.equal(lastExchange('PUT', '/objects/').requestHeaders['if-match'], '"1"');

  older.set('v', 99);
  const full = await rejectionOf(older.saveAllFields(null, false), 'saveAllFields() with a stale version');
  assertKiiError(sdk, full, 'OBJECT_VERSION_IS_STALE', 409);
  assert.equal(lastExchange('PUT', '/objects/').status, 409);

  const partial = await rejectionOf(older.save(null, false), 'save() with a stale version');
  assertKiiError(sdk, partial, 'OBJECT_VERSION_IS_STALE', 409);

  await older.refresh();
  assert.equal(older.get('v'), 2, 'the refused writes changed nothing');
  older.set('v', 3);
  await older.saveAllFields(null, false);
  await original.refresh();
  assert.equal(original.get('v'), 3);
});

kiiTest('app scope: every user reads, only the owner writes', async () => {
  const owner = await userSdk('appowner');
  const reader = await userSdk('appreader');
  const bucketName = unique('compat_app').replace(/-/g, '_');
  const object = await createObject(owner.sdk.Kii.bucketWithName(bucketName), { score: 10 });
  assert.equal(lastExchange('POST', '/objects').path.split('?')[0], `/api/apps/${APP_ID}/buckets/${bucketName}/objects`);

  const seen = reader.sdk.KiiObject.objectWithURI(object.objectURI());
  await seen.refresh();
  assert.equal(seen.get('score'), 10);
  assert.equal(JSON.parse(lastExchange('GET', '/objects/').responseBody)._owner, owner.userId);

  seen.set('score', 11);
  const denied = await rejectionOf(seen.saveAllFields(), "another user's saveAllFields() in the app scope");
  assertKiiError(reader.sdk, denied, 'UNAUTHORIZED', 401);
  assert.equal(lastExchange('PUT', '/objects/').status, 403, 'an ACL refusal is HTTP 403 on the wire');
  const deleteDenied = await rejectionOf(seen.delete(), "another user's delete() in the app scope");
  assertKiiError(reader.sdk, deleteDenied, 'UNAUTHORIZED', 401);

  const own = await createObject(reader.sdk.Kii.bucketWithName(bucketName), { score: 20 });
  const [, results] = await reader.sdk.Kii.bucketWithName(bucketName).executeQuery(
    reader.sdk.KiiQuery.queryWithClause(null),
  );
  assert.deepEqual(results.map((o) => o.get('score')).sort(), [10, 20]);

  object.set('score', 12);
  await object.saveAllFields();
  await object.delete();
  await own.delete();
});

kiiTest('queries: sorting, clauses and pagination to the end; count', async () => {
  const { sdk, user } = await userSdk('query');
  const bucket = user.bucketWithName('compat_scores');
  for (let i = 0; i < 12; i += 1) {
    await createObject(bucket, { score: i, name: `player-${String(i).padStart(2, '0')}`, even: i % 2 === 0 });
  }

  const descending = sdk.KiiQuery.queryWithClause(null);
  descending.sortByDesc('score');
  descending.setLimit(5);
  const [all, pages] = await queryAll(bucket, descending);
  assert.deepEqual(all.map((o) => o.get('score')), [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  assert.equal(pages, 3);
  const query = lastExchange('POST', '/query');
  assert.equal(query.requestHeaders['content-type'], 'application/vnd.kii.QueryRequest+json');
  assert.ok(JSON.parse(query.requestBody).paginationKey, 'the last page was fetched with the pagination key');

  const ascending = sdk.KiiQuery.queryWithClause(
    sdk.KiiClause.and(sdk.KiiClause.greaterThan('score', 3), sdk.KiiClause.equals('even', true)),
  );
  ascending.sortByAsc('score');
  ascending.setLimit(2);
  const [evens] = await queryAll(bucket, ascending);
  assert.deepEqual(evens.map((o) => o.get('score')), [4, 6, 8, 10]);

  const clauses = [
    ['inClause', sdk.KiiClause.inClause('score', [1, 5, 50]), [1, 5]],
    ['startsWith', sdk.KiiClause.startsWith('name', 'player-1'), [10, 11]],
    [
      'or',
      sdk.KiiClause.or(sdk.KiiClause.lessThan('score', 1), sdk.KiiClause.greaterThanOrEqual('score', 11)),
      [0, 11],
    ],
    [
      'notEquals',
      sdk.KiiClause.and(sdk.KiiClause.notEquals('even', true), sdk.KiiClause.lessThanOrEqual('score', 3)),
      [1, 3],
    ],
    ['hasField', sdk.KiiClause.hasField('even', 'BOOLEAN'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
  ];
  for (const [name, clause, expected] of clauses) {
    const q = sdk.KiiQuery.queryWithClause(clause);
    q.sortByAsc('score');
    const [found] = await queryAll(bucket, q);
    assert.deepEqual(
      found.map((o) => o.get('score')),
      expected,
      name,
    );
  }

  const [, , count] = await bucket.countWithQuery(sdk.KiiQuery.queryWithClause(sdk.KiiClause.equals('even', false)));
  assert.equal(count, 6);
  const [, , total] = await bucket.count();
  assert.equal(total, 12);
});

kiiTest("another user's bucket is denied and reveals nothing", async () => {
  const owner = await userSdk('private');
  const intruder = await userSdk('intruder');
  const secret = `secret-${randomBytes(6).toString('hex')}`;
  const object = await createObject(owner.user.bucketWithName('compat_private'), { secret });

  const theirBucket = intruder.sdk.KiiUser.userWithID(owner.userId).bucketWithName('compat_private');
  const attempts = [
    ['executeQuery', () => theirBucket.executeQuery(intruder.sdk.KiiQuery.queryWithClause(null))],
    ['countWithQuery', () => theirBucket.countWithQuery(intruder.sdk.KiiQuery.queryWithClause(null))],
    ['create', () => createObject(theirBucket, { secret: 'overwritten' })],
    ['refresh', () => intruder.sdk.KiiObject.objectWithURI(object.objectURI()).refresh()],
    ['delete', () => intruder.sdk.KiiObject.objectWithURI(object.objectURI()).delete()],
    ['drop', () => theirBucket.delete()],
  ];
  for (const [what, attempt] of attempts) {
    const error = await rejectionOf(attempt(), `${what} in another user's bucket`);
    assertKiiError(intruder.sdk, error, 'UNAUTHORIZED', 401);
  }
  // the owner's create came first; every call after it was the intruder's
  const bucketCalls = exchanges.filter((e) => e.path.includes(`/users/${owner.userId}/buckets/compat_private`));
  const intruderCalls = bucketCalls.slice(1);
  assert.equal(intruderCalls.length, attempts.length);
  for (const call of intruderCalls) {
    assert.equal(call.status, 403, `${call.method} ${call.path}`);
    assert.ok(!call.responseBody.includes(secret), 'a refusal carries none of the data');
  }

  await object.refresh();
  assert.equal(object.get('secret'), secret, "the owner's object is untouched");
});

kiiTest('anonymous calls are refused with UNAUTHORIZED', async () => {
  const sdk = newSdk();
  assert.equal(sdk.Kii.loggedIn(), false);
  const error = await rejectionOf(
    sdk.Kii.bucketWithName('compat_public').executeQuery(sdk.KiiQuery.queryWithClause(null)),
    'an anonymous query',
  );
  assertKiiError(sdk, error, 'UNAUTHORIZED', 401);
  const call = lastExchange('POST', '/query');
  assert.equal(call.requestHeaders.authorization, undefined);
  assert.equal(call.status, 401);
});
