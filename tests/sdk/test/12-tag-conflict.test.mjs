// Single-device login (`tag`): a second login of the same client with the same tag pushes
// session/closed 4111 to the first one (JS event CONFLICT); a login without a tag (or with another
// tag) does not conflict; messages then reach only the sessions still open.

import assert from 'node:assert/strict';
import { useServer, forEachVersion } from '../scenario.mjs';
import { uniqueId, withTimeout, sleep } from '../sdk.mjs';

const holder = useServer();

forEachVersion(holder, (version, it) => {
  it('same tag on a second device: the first gets CONFLICT; other tags are unaffected', async (ctx) => {
    const bobId = uniqueId('bob', version);
    const aliceId = uniqueId('alice', version);
    const phoneA = await ctx.device({ label: 'bob-phone-A' }).login(bobId, { tag: 'Mobile' });
    const web = await ctx.device({ label: 'bob-web (no tag)' }).login(bobId);
    const pad = await ctx.device({ label: 'bob-pad (tag Pad)' }).login(bobId, { tag: 'Pad' });
    await sleep(500);
    assert.equal(phoneA.inbox.all('conflict').length, 0, 'logins without a tag or with another tag must not conflict with tag Mobile');

    const phoneBDevice = ctx.device({ label: 'bob-phone-B' });
    const phoneB = await phoneBDevice.login(bobId, { tag: 'Mobile' });
    const [payload] = await phoneA.inbox.waitFor('conflict', () => true, 'CONFLICT on the first Mobile device (session/closed code 4111)');
    assert.equal(typeof payload.reason === 'string' || payload.reason === undefined || payload.reason === null, true, 'CONFLICT payload {reason}');
    await sleep(300);
    for (const [label, c] of [
      ['bob-phone-B', phoneB],
      ['bob-web', web],
      ['bob-pad', pad],
    ]) {
      assert.equal(c.inbox.all('conflict').length, 0, `${label} must not get CONFLICT`);
      assert.equal(c.inbox.all('close').length, 0, `${label} must not be closed`);
    }

    // messages now reach B, web and pad, not A
    const aliceDevice = ctx.device({ label: 'alice' });
    const alice = await aliceDevice.login(aliceId);
    const conv = await withTimeout(alice.createConversation({ members: [bobId], unique: false }), 'alice creates a conversation with bob');
    const sent = await withTimeout(conv.send(new aliceDevice.IM.TextMessage('which device?')), 'alice sends');
    for (const [label, c] of [
      ['bob-phone-B', phoneB],
      ['bob-web', web],
      ['bob-pad', pad],
    ]) {
      const [m] = await c.inbox.waitFor('message', (x) => x.id === sent.id, `the message on ${label}`);
      assert.equal(m.getText(), 'which device?');
    }
    await sleep(300);
    assert.equal(phoneA.inbox.all('message').filter(([m]) => m.id === sent.id).length, 0, 'the conflicted device must not receive messages');

    // the new Mobile session works
    const phoneBConv = await withTimeout(phoneB.getConversation(conv.id), 'phone B getConversation');
    const reply = await withTimeout(phoneBConv.send(new phoneBDevice.IM.TextMessage('this one')), 'phone B replies');
    const [back] = await alice.inbox.waitFor('message', (m) => m.id === reply.id, 'the reply from phone B');
    assert.equal(back.from, bobId);
  });

  it('a device whose tag was taken while it was disconnected is refused when it reconnects (4111)', async (ctx) => {
    const bobId = uniqueId('bob', version);
    const phoneADevice = ctx.device({ label: 'bob-phone-A' });
    const phoneA = await phoneADevice.login(bobId, { tag: 'Mobile' });
    // A loses its network; B logs in with the same tag meanwhile (nothing to kick: A is gone).
    await phoneADevice.dropConnection();
    await phoneA.inbox.waitFor('disconnect', () => true, 'DISCONNECT on phone A after its socket was cut');
    const phoneB = await ctx.device({ label: 'bob-phone-B' }).login(bobId, { tag: 'Mobile' });

    // A's SDK re-opens by itself (session open r=true + st): the server must refuse it with 4111,
    // which JS reports as RECONNECT_ERROR (code 4111) or CONFLICT.
    const outcome = await Promise.race([
      phoneA.inbox.waitFor('reconnecterror', () => true, 'RECONNECT_ERROR on phone A', 15_000).then(([err]) => ({ kind: 'reconnecterror', code: err?.code, message: err?.message })),
      phoneA.inbox.waitFor('conflict', () => true, 'CONFLICT on phone A', 15_000).then(() => ({ kind: 'conflict', code: 4111 })),
      phoneA.inbox.waitFor('reconnect', () => true, 'RECONNECT on phone A', 15_000).then(() => ({ kind: 'reconnect' })),
    ]);
    assert.notEqual(outcome.kind, 'reconnect', 'phone A must not get its session back: phone B holds the tag Mobile now (expected session/closed 4111 to the r=true open)');
    assert.equal(outcome.code, 4111, `phone A is refused with SESSION_CONFLICT, got ${JSON.stringify(outcome)}`);
    assert.equal(phoneB.inbox.all('conflict').length + phoneB.inbox.all('close').length, 0, 'phone B keeps its session');
  });
});
