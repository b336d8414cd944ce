// Offline push (issue 16) with the official SDKs, through the webhook provider: a local
// receiver started by this file plays the app's push gateway. The JS SDK sends no
// `deviceToken`, so bob's device registers the LeanStorage way (`POST /1.1/installations`
// with the SDK's `deviceId` as `installationId`) and is bound at his next login. Bob then
// loses his connection (no logout): alice's messages reach the webhook once each, with the
// template or the message's `pushData`; carol, online, gets no push.

import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { before, after } from 'node:test';
import { useServer, forEachVersion } from '../scenario.mjs';
import { APP } from '../harness.mjs';
import { uniqueId, withTimeout, sleep, frameMark, framesSince } from '../sdk.mjs';

const holder = useServer();
const WEBHOOK_KEY = 'sdk-webhook-key';
let webhook;

async function startWebhook() {
  const calls = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      if (req.headers['x-tidings-push-key'] === WEBHOOK_KEY) calls.push(JSON.parse(body));
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/push`, calls, stop: () => server.close() };
}

/** `tidings app set` on the server's database, then a restart so the settings apply. */
async function appSet(settings) {
  await holder.ready;
  for (let i = 0; i < 400 && !holder.server; i += 1) await sleep(50);
  for (const [key, value] of Object.entries(settings)) {
    execFileSync(holder.server.binary, ['app', 'set', APP.appId, key, String(value)], {
      env: { ...process.env, TIDINGS_DATABASE_URL: holder.server.db.url },
      stdio: 'ignore',
    });
  }
  await holder.server.restart();
}

/** Waits for the webhook calls about `convId`; then checks no more arrive for a moment. */
async function pushesFor(convId, count) {
  const mine = () => webhook.calls.filter((c) => c.conv === convId);
  for (let i = 0; i < 200 && mine().length < count; i += 1) await sleep(50);
  await sleep(800);
  return mine();
}

before(async () => {
  webhook = await startWebhook();
  // The provider last: a provider without its settings is refused.
  await appSet({ push_webhook_url: webhook.url, push_webhook_key: WEBHOOK_KEY, push_provider: 'webhook' });
});

after(() => webhook?.stop());

forEachVersion(holder, (version, it) => {
  it('an offline member with an installation gets one webhook push per message; an online one none', async (ctx) => {
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const carolId = uniqueId('carol', version);
    const token = `tok${version}${Date.now()}`;

    const bobDevice = ctx.device({ label: 'bob' });
    const mark = frameMark();
    const first = await bobDevice.login(bobId);
    const open = framesSince(mark).find((f) => f.dir === '>' && f.cmd.peerId === bobId && f.cmd.sessionMessage?.deviceId);
    assert.ok(open, 'the SDK sent a deviceId at session open');
    const deviceId = open.cmd.sessionMessage.deviceId;
    const created = await holder.server.rest('POST', '/1.1/installations',
      { deviceType: 'ios', deviceToken: token, installationId: deviceId }, { key: 'app' });
    assert.equal(created.status, 201, created.text);
    await withTimeout(first.close(), 'bob logs out');
    await bobDevice.login(bobId, undefined, 'bob logs in again: the installation is bound');
    await sleep(300);
    bobDevice.realtime._close(); // the connection is lost; bob did not log out

    const aliceDevice = ctx.device({ label: 'alice' });
    const alice = await aliceDevice.login(aliceId);
    await ctx.device({ label: 'carol' }).login(carolId);
    const conv = await withTimeout(alice.createConversation({ members: [bobId, carolId], name: 'push', unique: false }), 'create');
    await sleep(300); // bob's server-side session is gone once the close is seen
    const sent = await withTimeout(conv.send(new aliceDevice.IM.TextMessage('hello bob')), 'alice sends');
    const pushData = { alert: 'custom alert', badge: 'Increment', sound: 'default' };
    const second = await withTimeout(conv.send(new aliceDevice.IM.TextMessage('with push data'), { pushData }), 'alice sends with pushData');

    const all = await pushesFor(conv.id, 2);
    assert.equal(all.length, 2, JSON.stringify(all));
    // Two queue rows are delivered concurrently: match them by message id, not order.
    const calls = [sent.id, second.id].map((id) => all.find((c) => c.msg === id));
    assert.ok(calls[0] && calls[1], `one push per message: ${JSON.stringify(all)}`);
    assert.equal(calls[0].from, aliceId);
    assert.equal(calls[0].kind, 'message');
    assert.equal(calls[0].payload.alert, `${aliceId}: hello bob`);
    assert.deepEqual(calls[0].devices.map((d) => [d.client, d.token, d.platform]), [[bobId, token, 'ios']]);
    assert.deepEqual(calls[1].payload, pushData);
    assert.deepEqual(calls[1].devices.map((d) => d.client), [bobId], 'carol is online: no push for her');
  });
});
