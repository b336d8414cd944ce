// Login: session open → opened, with one client per device and with two clients sharing one
// socket; online status (session query); alternative transports (router, base64 frames).

import assert from 'node:assert/strict';
import { useServer, forEachVersion } from '../scenario.mjs';
import { uniqueId, withTimeout, framesSince, frameMark } from '../sdk.mjs';

const holder = useServer();

forEachVersion(holder, (version, it) => {
  it('two clients log in on two devices and see each other online', async (ctx) => {
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const mark = frameMark();
    const alice = await ctx.device({ label: 'alice-phone' }).login(aliceId);
    const bob = await ctx.device({ label: 'bob-phone' }).login(bobId);
    assert.equal(alice.id, aliceId, 'alice.id after login');
    assert.equal(bob.id, bobId, 'bob.id after login');

    // The sub-protocol the SDK offered must have been echoed (else `ws` aborts the handshake).
    const opened = framesSince(mark).filter((f) => f.dir === '<' && f.cmd.cmd === 'session' && f.cmd.op === 'opened');
    assert.ok(opened.length >= 2, `expected two session/opened replies, got ${opened.length}`);
    for (const f of opened) {
      assert.ok(f.cmd.sessionMessage?.st, `session/opened for ${f.cmd.peerId} carries no session token st (needed to reconnect)`);
    }

    const online = await withTimeout(alice.ping([bobId, 'nobody-is-called-this']), `${aliceId}.ping([bob, nobody]) (session query)`);
    assert.deepEqual(online, [bobId], 'online clients seen by alice');
  });

  it('two clients share one Realtime (one socket) and both get a session', async (ctx) => {
    const device = ctx.device({ label: 'shared' });
    const a = await device.login(uniqueId('first', version));
    const b = await device.login(uniqueId('second', version));
    assert.notEqual(a.id, b.id);
    const online = await withTimeout(b.ping([a.id]), `${b.id}.ping([${a.id}])`);
    assert.deepEqual(online, [a.id], 'the first client is online, seen by the second on the same socket');
    // A command of the first client after the second logged in now carries its peerId.
    const onlineFromA = await withTimeout(a.ping([b.id]), `${a.id}.ping([${b.id}])`);
    assert.deepEqual(onlineFromA, [b.id]);

    // Pushes on a shared socket are routed by peerId: b gets a's message, a does not.
    const conv = await withTimeout(a.createConversation({ members: [b.id], unique: false }), 'first client creates a conversation with the second');
    const sent = await withTimeout(conv.send(new device.IM.TextMessage('same socket')), 'first client sends');
    const [got] = await b.inbox.waitFor('message', (m) => m.id === sent.id, 'the message at the second client (push with peerId = second)');
    assert.equal(got.getText(), 'same socket');
    assert.equal(got.from, a.id);
    const reply = await withTimeout((await withTimeout(b.getConversation(conv.id), 'second getConversation')).send(new device.IM.TextMessage('back')), 'second client replies');
    const [back] = await a.inbox.waitFor('message', (m) => m.id === reply.id, 'the reply at the first client');
    assert.equal(back.from, b.id);
    assert.equal(a.inbox.all('message').filter(([m]) => m.id === sent.id).length, 0, 'the first client must not get its own message back');
    assert.equal(b.inbox.all('message').filter(([m]) => m.id === reply.id).length, 0, 'the second client must not get its own message back');
  });

  it('login without a client id: the server generates one', async (ctx) => {
    const client = await ctx.device({ label: 'anonymous' }).login(undefined);
    assert.equal(typeof client.id, 'string', 'client.id is a string');
    assert.ok(client.id.length > 0 && client.id.length <= 64, `generated client id ${JSON.stringify(client.id)} has 1..64 chars`);
  });

  it('login with noBinary (lc.proto2base64.3, base64 text frames)', async (ctx) => {
    const mark = frameMark();
    const alice = await ctx.device({ label: 'alice-base64', noBinary: true }).login(uniqueId('alice-b64', version));
    const frames = framesSince(mark).filter((f) => f.dir === '<' && f.cmd.cmd === 'session');
    assert.ok(frames.length > 0, 'got a session reply');
    assert.ok(frames.every((f) => f.cmd._text), 'replies on a proto2base64 socket are base64 text frames');
    assert.ok(alice.id);
  });

  // v4 forces https:// on its `server` option, so it cannot use the router of a plain-HTTP
  // server; only v5 can be tested with the router (GET /v1/route).
  it(
    'login through the RTM router (server option only, GET /v1/route)',
    async (ctx) => {
      const alice = await ctx.device({ label: 'alice-router', route: true }).login(uniqueId('alice-router', version));
      assert.ok(alice.id);
    },
    { skip: version === 'v4' ? 'v4 forces https:// for the router URL' : false },
  );
});
