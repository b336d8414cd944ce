// The /admin console in a real browser: Debian's headless Chromium driven by puppeteer-core,
// against the real binary (the SDK suite's harness), with real leancloud-realtime 5 clients.
// Sign in, find a conversation with the `where` language, read its history (newest first,
// paged, edits and recalls shown), kick a connected SDK client and see it disconnect, send a
// global broadcast and see an SDK client receive it. Every page gets a screenshot in
// tests/browser/output/<store>/ (the CI artifact); TIDINGS_SCREENSHOTS_TO_DOCS=1 also writes them to
// docs/screenshots/ for the README.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { startServer, REPO_ROOT } from '../sdk/harness.mjs';
import { Device, closeAllDevices, textOf, withTimeout } from '../sdk/sdk.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const STORE = process.env.TIDINGS_TEST_DATABASE_URL?.startsWith('postgres') ? 'postgres' : 'sqlite';
const OUTPUT = path.join(here, 'output', STORE);
const DOCS = path.join(REPO_ROOT, 'docs', 'screenshots');
const CHROMIUM = process.env.TIDINGS_CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 15_000;

let server;
let browser;
let page;

async function shot(name) {
  fs.mkdirSync(OUTPUT, { recursive: true });
  const file = path.join(OUTPUT, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (process.env.TIDINGS_SCREENSHOTS_TO_DOCS === '1') {
    fs.mkdirSync(DOCS, { recursive: true });
    fs.copyFileSync(file, path.join(DOCS, `${name}.png`));
  }
}

/** Clicks and waits for the navigation it causes. */
async function clickAndWait(selector) {
  await Promise.all([page.waitForNavigation({ timeout: STEP_MS }), page.click(selector)]);
}

async function text(selector) {
  return page.$eval(selector, (el) => el.textContent);
}

let convId;
let serviceId;

before(async () => {
  fs.rmSync(OUTPUT, { recursive: true, force: true });
  server = await startServer();
  const app = server.app;
  const conv = await server.restOk('POST', '/1.2/rtm/conversations', {
    name: 'Launch <plans> & "quotes"',
    m: ['alice', 'bob'],
  });
  convId = conv.objectId;
  await server.restOk('POST', '/1.2/rtm/conversations', { name: 'Elsewhere', m: ['zed'] });
  const sent = [];
  for (let i = 1; i <= 23; i += 1) {
    const body = { from_client: 'alice', message: JSON.stringify({ _lctype: -1, _lctext: `message ${i}` }) };
    sent.push(await server.restOk('POST', `/1.2/rtm/conversations/${convId}/messages`, body));
  }
  const edited = sent[21];
  await server.restOk('PUT', `/1.2/rtm/conversations/${convId}/messages/${edited['msg-id']}`, {
    from_client: 'alice',
    timestamp: edited.timestamp,
    message: JSON.stringify({ _lctype: -1, _lctext: 'message 22, edited <i>' }),
  });
  const recalled = sent[20];
  await server.restOk('PUT', `/1.2/rtm/conversations/${convId}/messages/${recalled['msg-id']}/recall`, {
    from_client: 'alice',
    timestamp: recalled.timestamp,
  });
  serviceId = (await server.restOk('POST', '/1.2/rtm/service-conversations', { name: 'News' })).objectId;
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 760 });
  page.setDefaultTimeout(STEP_MS);
  assert.ok(app.appId);
});

after(async () => {
  await browser?.close();
  await closeAllDevices();
  await server?.stop();
  setTimeout(() => process.exit(), 3000).unref();
});

test('without credentials every page leads to the sign-in form', async () => {
  const response = await page.goto(`${server.httpUrl}/admin/conversations/${convId}`);
  assert.equal(new URL(page.url()).pathname, '/admin/login');
  assert.equal(response.headers()['x-frame-options'], 'DENY');
  assert.match(response.headers()['content-security-policy'], /frame-ancestors 'none'/);
  await page.type('input[name=app_id]', server.app.appId);
  await page.type('input[name=key]', 'not-the-master-key');
  await clickAndWait('#login button');
  assert.match(await text('.error'), /wrong key/);
  await shot('01-sign-in-refused');
});

test('sign in with the master key: the overview shows the app with its secrets masked', async () => {
  await page.goto(`${server.httpUrl}/admin/login`);
  await page.type('input[name=app_id]', server.app.appId);
  await page.type('input[name=key]', server.app.masterKey);
  await clickAndWait('#login button');
  assert.equal(new URL(page.url()).pathname, '/admin');
  const body = await text('main');
  assert.ok(body.includes(server.app.appId), 'app id shown');
  assert.ok(!body.includes(server.app.masterKey), 'master key not shown');
  assert.ok(!body.includes(server.app.appKey), 'app key not shown');
  assert.match(body, /message_rate_per_minute/);
  await shot('02-overview');
});

test('find a conversation with where, read its history newest first, page to older', async () => {
  await page.goto(`${server.httpUrl}/admin/conversations`);
  await page.type('input[name=where]', '{"m": "alice"}');
  await clickAndWait('#search button');
  const rows = await page.$$eval('#conversations tbody tr', (trs) => trs.map((tr) => tr.textContent));
  assert.equal(rows.length, 1, `one match: ${rows}`);
  assert.ok(rows[0].includes('Launch <plans> & "quotes"'), 'the name is shown as text, escaped');
  await shot('03-conversations');

  await clickAndWait(`#conversations a`);
  assert.equal(await text('h1'), 'Launch <plans> & "quotes"');
  const members = await page.$$eval('#members li', (lis) => lis.map((li) => li.textContent));
  assert.deepEqual(members.sort(), ['alice', 'bob']);
  const history = await page.$$eval('#history tbody tr', (trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
  );
  assert.equal(history.length, 20, 'a page is 20 messages');
  assert.equal(history[0][2], 'message 23', 'newest first');
  assert.equal(history[1][2], 'message 22, edited <i>');
  assert.match(history[1][3], /^edited /);
  assert.equal(history[2][3], 'recalled');
  assert.equal(await page.$('#history i'), null, 'message text is not markup');
  await shot('04-conversation-history');

  await clickAndWait('a[rel=next]');
  const older = await page.$$eval('#history tbody tr td.content', (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(older, ['message 3', 'message 2', 'message 1']);
});

test('kick a connected SDK client: it is disconnected with 4115', async () => {
  const device = new Device(server, 'v5', { label: 'carol' });
  const carol = await device.login('carol');
  await page.goto(`${server.httpUrl}/admin`);
  await page.waitForFunction(() => document.querySelector('[data-counter=online_clients]').textContent === '1');
  await page.goto(`${server.httpUrl}/admin/actions`);
  await page.type('#kick input[name=client_id]', 'carol');
  await clickAndWait('#kick button');
  assert.match(await text('.notice'), /sessions were closed/);
  const [closed] = await carol.inbox.waitFor('close', () => true, 'carol is kicked');
  assert.equal(closed.code, 4115);
  await shot('05-kick');
});

test('send a global broadcast: an online SDK client receives it', async () => {
  const device = new Device(server, 'v5', { label: 'dave' });
  const dave = await device.login('dave');
  await page.goto(`${server.httpUrl}/admin/actions`);
  await page.type('#broadcast input[name=conv_id]', serviceId);
  await page.type('#broadcast input[name=from_client]', 'newsroom');
  await page.type('#broadcast input[name=text]', 'Maintenance at 22:00 <UTC>');
  await clickAndWait('#broadcast button');
  assert.match(await text('.notice'), /Broadcast sent/);
  const [message] = await dave.inbox.waitFor('message', (m) => m.cid === serviceId, 'the broadcast at dave');
  assert.equal(textOf(message), 'Maintenance at 22:00 <UTC>');
  assert.equal(message.from, 'newsroom');
  await shot('06-broadcast');
  await withTimeout(dave.close(), 'dave closes');
});
