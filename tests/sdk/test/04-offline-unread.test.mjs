// An offline member logs in: the server pushes the unread count (lc.protobuf2.3 `unread`), with
// the last message and the "mentioned" flag; the member then reads the history, marks the
// conversation read, and a later login no longer reports unread messages.

import assert from 'node:assert/strict';
import { useServer, forEachVersion } from '../scenario.mjs';
import { uniqueId, withTimeout, sleep, describe as show } from '../sdk.mjs';

const holder = useServer();

forEachVersion(holder, (version, it) => {
  it('offline member logs in, sees the unread count and last message, reads history, marks read', async (ctx) => {
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const aliceDevice = ctx.device({ label: 'alice' });
    const alice = await aliceDevice.login(aliceId);
    // bob has never logged in: he is offline the whole time alice writes
    const conv = await withTimeout(alice.createConversation({ members: [bobId], name: 'offline', unique: false }), 'alice creates a conversation with offline bob');
    const texts = ['first while you were out', 'second, @bob', 'third and last'];
    const sent = [];
    for (const [i, text] of texts.entries()) {
      const msg = new aliceDevice.IM.TextMessage(text);
      if (i === 1) msg.setMentionList([bobId]);
      sent.push(await withTimeout(conv.send(msg), `alice sends "${text}"`));
    }

    const bobDevice = ctx.device({ label: 'bob' });
    const bob = await bobDevice.login(bobId);
    const [updated] = await bob.inbox.waitFor(
      'unreadmessagescountupdate',
      (convs) => convs.some((c) => c.id === conv.id),
      `an unread update for ${conv.id} right after login`,
    );
    const bobConv = updated.find((c) => c.id === conv.id);
    assert.equal(bobConv.unreadMessagesCount, 3, 'unread count bob sees after login');
    assert.equal(bobConv.unreadMessagesMentioned, true, 'bob was mentioned in an unread message (UnreadTuple.mentioned)');
    assert.ok(bobConv.lastMessage, 'the unread notification carries the last message');
    assert.equal(bobConv.lastMessage.id, sent[2].id, 'last message id (UnreadTuple.mid)');
    assert.equal(bobConv.lastMessage.getText?.(), 'third and last', `last message text (UnreadTuple.data), got ${show(bobConv.lastMessage)}`);
    assert.equal(bobConv.lastMessage.from, aliceId, 'last message sender (UnreadTuple.from)');
    assert.equal(bobConv.lastMessageAt?.getTime(), sent[2].timestamp.getTime(), 'lastMessageAt (UnreadTuple.timestamp)');

    // history
    const history = await withTimeout(bobConv.queryMessages({ limit: 10 }), 'bob queries the history (logs, l=10)');
    assert.deepEqual(history.map((m) => m.id), sent.map((m) => m.id), 'history has the three messages, oldest first');
    assert.deepEqual(history.map((m) => m.getText()), texts, 'history texts');
    assert.ok(history.every((m) => m.from === aliceId), 'history senders');
    assert.deepEqual(history.map((m) => m.timestamp.getTime()), sent.map((m) => m.timestamp.getTime()), 'history timestamps equal the ack timestamps');
    assert.deepEqual(history[1].mentionList, [bobId], 'mention list kept in history');

    // paging: the newest two, then the one before
    const page1 = await withTimeout(bobConv.queryMessages({ limit: 2 }), 'history page 1 (limit 2)');
    assert.deepEqual(page1.map((m) => m.id), [sent[1].id, sent[2].id], 'newest two, oldest first');
    const page2 = await withTimeout(
      bobConv.queryMessages({ limit: 2, startTime: page1[0].timestamp, startMessageId: page1[0].id }),
      'history page 2 (before the oldest of page 1)',
    );
    assert.deepEqual(page2.map((m) => m.id), [sent[0].id], 'the page before holds the first message only');

    // mark read: counts drop to 0 locally and on the server
    await bobConv.read();
    assert.equal(bobConv.unreadMessagesCount, 0);
    await sleep(1500); // the SDK throttles `read` by 1 s
    const rest = await holder.server.rest('GET', `/1.2/rtm/clients/${encodeURIComponent(bobId)}/unread-count?conv_id=${conv.id}`);
    if (rest.status === 200) assert.equal(rest.body?.count, 0, `REST unread-count after read: ${rest.text}`);

    // a later login on another device: no unread messages for this conversation any more
    await bobDevice.close();
    const bob2Device = ctx.device({ label: 'bob-again' });
    const bob2 = await bob2Device.login(bobId);
    await sleep(1000);
    const again = bob2.inbox.all('unreadmessagescountupdate').flatMap(([convs]) => convs).filter((c) => c.id === conv.id);
    assert.ok(
      again.every((c) => c.unreadMessagesCount === 0),
      `after read, a new login must not report unread messages, got counts ${again.map((c) => c.unreadMessagesCount)}`,
    );
  });

  it('unread counts for several conversations, and messages sent after login arrive live', async (ctx) => {
    const aliceId = uniqueId('alice', version);
    const carolId = uniqueId('carol', version);
    const bobId = uniqueId('bob', version);
    const aliceDevice = ctx.device({ label: 'alice' });
    const alice = await aliceDevice.login(aliceId);
    const carolDevice = ctx.device({ label: 'carol' });
    const carol = await carolDevice.login(carolId);
    const c1 = await withTimeout(alice.createConversation({ members: [bobId], unique: false }), 'alice+bob conversation');
    const c2 = await withTimeout(carol.createConversation({ members: [bobId, aliceId], unique: false }), 'carol+bob+alice conversation');
    await withTimeout(c1.send(new aliceDevice.IM.TextMessage('one')), 'send 1');
    await withTimeout(c2.send(new carolDevice.IM.TextMessage('two')), 'send 2');
    await withTimeout(c2.send(new carolDevice.IM.TextMessage('three')), 'send 3');

    const bobDevice = ctx.device({ label: 'bob' });
    const bob = await bobDevice.login(bobId);
    const counts = {};
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(counts[c1.id] === 1 && counts[c2.id] === 2)) {
      for (const [convs] of bob.inbox.all('unreadmessagescountupdate')) for (const c of convs) counts[c.id] = c.unreadMessagesCount;
      await sleep(100);
    }
    assert.deepEqual({ c1: counts[c1.id], c2: counts[c2.id] }, { c1: 1, c2: 2 }, 'unread counts per conversation after login');

    // now online: a new message arrives live and bumps the local unread count
    const live = await withTimeout(c1.send(new aliceDevice.IM.TextMessage('you are back')), 'alice sends while bob is online');
    const [msg, inConv] = await bob.inbox.waitFor('message', (m) => m.id === live.id, 'the live message');
    assert.equal(msg.getText(), 'you are back');
    assert.equal(inConv.unreadMessagesCount, 2, 'local unread count after one more live message');
  });
});
