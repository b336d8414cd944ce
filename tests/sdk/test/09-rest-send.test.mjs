// A message sent over REST (POST /1.2/rtm/conversations/{id}/messages) takes the same path as an
// SDK send: members online get it live, with the sender, id and timestamp of the REST answer;
// the sender's own online clients get it too unless no_sync; a REST-made conversation works in the SDK.

import assert from 'node:assert/strict';
import { useServer, forEachVersion } from '../scenario.mjs';
import { uniqueId, withTimeout, describe as show } from '../sdk.mjs';

const holder = useServer();

forEachVersion(holder, (version, it) => {
  it('REST send is received live by SDK clients', async (ctx) => {
    const server = holder.server;
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const aliceDevice = ctx.device({ label: 'alice' });
    const alice = await aliceDevice.login(aliceId);
    const bobDevice = ctx.device({ label: 'bob' });
    const bob = await bobDevice.login(bobId);
    const conv = await server.restOk('POST', '/1.2/rtm/conversations', { name: 'made over REST', m: [aliceId, bobId] });
    const cid = conv.objectId;

    // typed JSON payload → TextMessage
    const text = `hello from REST (${version})`;
    const sent = await server.restOk('POST', `/1.2/rtm/conversations/${cid}/messages`, {
      from_client: bobId,
      message: JSON.stringify({ _lctype: -1, _lctext: text, _lcattrs: { via: 'rest' } }),
    });
    assert.equal(typeof sent['msg-id'], 'string', `REST answer has msg-id: ${JSON.stringify(sent)}`);
    const [got, gotConv] = await alice.inbox.waitFor('message', (m) => m.id === sent['msg-id'], `REST message ${sent['msg-id']} at alice`);
    assert.ok(got instanceof aliceDevice.IM.TextMessage, `a typed REST payload is a TextMessage, got ${show(got)}`);
    assert.equal(got.getText(), text, 'text');
    assert.deepEqual(got.getAttributes(), { via: 'rest' }, 'attributes');
    assert.equal(got.from, bobId, 'sender = from_client');
    assert.equal(got.cid, cid);
    assert.equal(got.timestamp.getTime(), sent.timestamp, 'timestamp = REST answer timestamp');
    assert.equal(gotConv.id, cid);
    assert.equal(gotConv.name, 'made over REST', 'the SDK fetched the REST-made conversation');

    // the sender's own online client gets a copy (sync), unless no_sync
    const [mine] = await bob.inbox.waitFor('message', (m) => m.id === sent['msg-id'], "the copy on the sender's (bob's) own online client");
    assert.equal(mine.from, bobId);

    // plain (non-JSON) text payload → a plain Message whose content is the string
    const plain = await server.restOk('POST', `/1.2/rtm/conversations/${cid}/messages`, { from_client: bobId, message: 'just a string', no_sync: true });
    const [gotPlain] = await alice.inbox.waitFor('message', (m) => m.id === plain['msg-id'], 'the plain-text REST message at alice');
    assert.equal(gotPlain.content, 'just a string', `plain payload is delivered verbatim, got ${show(gotPlain)}`);
    const synced = await bob.inbox.quietFor('message', 500);
    assert.equal(synced.filter(([m]) => m.id === plain['msg-id']).length, 0, 'no_sync: the sender must not get its own copy');

    // the SDK sees both in history, in order
    const history = await withTimeout(gotConv.queryMessages({ limit: 10 }), 'alice queries history');
    assert.deepEqual(history.map((m) => m.id), [sent['msg-id'], plain['msg-id']]);

    // and an SDK message in the REST-made conversation reaches bob
    const reply = await withTimeout(gotConv.send(new aliceDevice.IM.TextMessage('got it')), 'alice replies in the REST-made conversation');
    const [atBob] = await bob.inbox.waitFor('message', (m) => m.id === reply.id, "alice's reply at bob");
    assert.equal(atBob.getText(), 'got it');
  });

  it('REST send to a member that is offline: unread after login', async (ctx) => {
    const server = holder.server;
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const { objectId: cid } = await server.restOk('POST', '/1.2/rtm/conversations', { name: 'rest offline', m: [aliceId, bobId] });
    for (const n of [1, 2]) {
      await server.restOk('POST', `/1.2/rtm/conversations/${cid}/messages`, {
        from_client: bobId,
        message: JSON.stringify({ _lctype: -1, _lctext: `rest ${n}` }),
      });
    }
    const alice = await ctx.device({ label: 'alice' }).login(aliceId);
    const [convs] = await alice.inbox.waitFor('unreadmessagescountupdate', (cs) => cs.some((c) => c.id === cid), `unread update for ${cid}`);
    const c = convs.find((x) => x.id === cid);
    assert.equal(c.unreadMessagesCount, 2, 'two unread REST messages');
    assert.equal(c.lastMessage?.getText?.(), 'rest 2');
  });
});
