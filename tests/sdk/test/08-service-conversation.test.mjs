// Service conversations (official accounts): created over REST, found and subscribed by SDK
// clients (or subscribed over REST), REST broadcasts are delivered live to subscribers only.

import assert from 'node:assert/strict';
import { useServer, forEachVersion } from '../scenario.mjs';
import { uniqueId, withTimeout, describe as show } from '../sdk.mjs';

const holder = useServer();

forEachVersion(holder, (version, it) => {
  it('subscribe from the SDK and over REST, receive a REST broadcast live', async (ctx) => {
    const server = holder.server;
    const { objectId: svcId } = await server.restOk('POST', '/1.2/rtm/service-conversations', { name: `news-${version}` });
    const bobId = uniqueId('bob', version);
    const carolId = uniqueId('carol', version);
    const daveId = uniqueId('dave', version);
    const bobDevice = ctx.device({ label: 'bob' });
    const bob = await bobDevice.login(bobId);
    const carolDevice = ctx.device({ label: 'carol' });
    const carol = await carolDevice.login(carolId);
    const dave = await ctx.device({ label: 'dave (not subscribed)' }).login(daveId);

    // bob: finds it with the service conversation query, subscribes from the SDK
    const found = await withTimeout(
      bob.getServiceConversationQuery().equalTo('objectId', svcId).find(),
      'bob.getServiceConversationQuery() (conv query where {sys:true, objectId})',
    );
    assert.equal(found.length, 1, `the service conversation query finds it, got ${show(found)}`);
    const bobSvc = found[0];
    assert.ok(bobSvc instanceof bobDevice.IM.ServiceConversation, `query result is a ServiceConversation (sys:true), got ${show(bobSvc)}`);
    assert.equal(bobSvc.name, `news-${version}`);
    await withTimeout(bobSvc.subscribe(), 'bob subscribes (conv add m=[bob])');

    // carol: subscribed over REST (E31)
    await server.restOk('POST', `/1.2/rtm/service-conversations/${svcId}/subscribers`, { client_id: carolId });

    // a broadcast (E35) reaches both subscribers, not dave
    const text = `breaking news for ${version}`;
    const payload = JSON.stringify({ _lctype: -1, _lctext: text });
    const sent = await server.restOk('POST', `/1.2/rtm/service-conversations/${svcId}/broadcasts`, { from_client: 'newsroom', message: payload });
    const [atBob, bobConv] = await bob.inbox.waitFor('message', (m) => m.cid === svcId, 'the broadcast at bob (subscribed from the SDK)');
    assert.ok(atBob instanceof bobDevice.IM.TextMessage, `broadcast parsed as TextMessage, got ${show(atBob)}`);
    assert.equal(atBob.getText(), text, 'broadcast text');
    assert.equal(atBob.from, 'newsroom', 'broadcast sender = from_client');
    if (sent && sent['msg-id']) assert.equal(atBob.id, sent['msg-id'], 'message id = msg-id of the REST answer');
    assert.ok(bobConv instanceof bobDevice.IM.ServiceConversation, `the conversation of a broadcast is a ServiceConversation, got ${show(bobConv)}`);

    const [atCarol, carolConv] = await carol.inbox.waitFor('message', (m) => m.cid === svcId, 'the broadcast at carol (subscribed over REST)');
    assert.equal(atCarol.getText(), text);
    assert.ok(carolConv instanceof carolDevice.IM.ServiceConversation);

    const leaked = await dave.inbox.quietFor('message', 500);
    assert.equal(leaked.filter(([m]) => m.cid === svcId).length, 0, 'dave (not subscribed) must not receive the broadcast');

    // bob unsubscribes: the next broadcast does not reach him
    await withTimeout(bobSvc.unsubscribe(), 'bob unsubscribes (conv remove m=[bob])');
    await server.restOk('POST', `/1.2/rtm/service-conversations/${svcId}/broadcasts`, {
      from_client: 'newsroom',
      message: JSON.stringify({ _lctype: -1, _lctext: 'second edition' }),
    });
    await carol.inbox.waitFor('message', (m) => m.cid === svcId && m.getText?.() === 'second edition', 'the second broadcast at carol');
    const late = bob.inbox.all('message').filter(([m]) => m.cid === svcId && m.getText?.() === 'second edition');
    assert.equal(late.length, 0, 'bob (unsubscribed) must not receive the second broadcast');
  });

  it('a subscriber that was offline gets the broadcast as unread after login', async (ctx) => {
    const server = holder.server;
    const { objectId: svcId } = await server.restOk('POST', '/1.2/rtm/service-conversations', { name: `offline-news-${version}` });
    const erinId = uniqueId('erin', version);
    await server.restOk('POST', `/1.2/rtm/service-conversations/${svcId}/subscribers`, { client_id: erinId });
    await server.restOk('POST', `/1.2/rtm/service-conversations/${svcId}/broadcasts`, {
      from_client: 'newsroom',
      message: JSON.stringify({ _lctype: -1, _lctext: 'while you slept' }),
    });
    const erinDevice = ctx.device({ label: 'erin' });
    const erin = await erinDevice.login(erinId);
    const [convs] = await erin.inbox.waitFor('unreadmessagescountupdate', (cs) => cs.some((c) => c.id === svcId), 'unread update for the service conversation');
    const svc = convs.find((c) => c.id === svcId);
    assert.equal(svc.unreadMessagesCount, 1, 'one unread broadcast');
    assert.equal(svc.lastMessage?.getText?.(), 'while you slept', `last message of the unread tuple, got ${show(svc.lastMessage)}`);
    const history = await withTimeout(svc.queryMessages({ limit: 5 }), 'erin queries the service conversation history');
    assert.deepEqual(history.map((m) => m.getText?.()), ['while you slept'], 'service conversation history of a subscriber');
  });
});
