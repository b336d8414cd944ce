// The server restarts (SIGTERM, start again on the same port and database): the SDKs reconnect
// by themselves (session open r=true with the session token), nothing is lost: a message sent
// while a client was still reconnecting reaches it (live or as unread), messages after the
// restart flow both ways, and history has every message in order.
//
// One test per SDK version, each restarting the server once.

import assert from 'node:assert/strict';
import { useServer, forEachVersion } from '../scenario.mjs';
import { uniqueId, withTimeout, sleep, describe as show, framesSince, frameMark } from '../sdk.mjs';

const holder = useServer();

forEachVersion(holder, (version, it) => {
  it('reconnect after a server restart with no message lost', async (ctx) => {
    const server = holder.server;
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const aliceDevice = ctx.device({ label: 'alice' });
    const alice = await aliceDevice.login(aliceId);
    const bobDevice = ctx.device({ label: 'bob' });
    const bob = await bobDevice.login(bobId);
    const conv = await withTimeout(alice.createConversation({ members: [bobId], name: 'survives restarts', unique: false }), 'alice creates a conversation');
    const m1 = await withTimeout(conv.send(new aliceDevice.IM.TextMessage('before restart')), 'alice sends m1');
    const [, bobConv] = await bob.inbox.waitFor('message', (m) => m.id === m1.id, 'm1 at bob');
    await bobConv.read();
    await sleep(1200); // let the throttled `read` reach the server

    const mark = frameMark();
    let m2;
    await server.restart({
      whileDown: async () => {
        await alice.inbox.waitFor('disconnect', () => true, 'DISCONNECT at alice when the server stopped');
        await bob.inbox.waitFor('disconnect', () => true, 'DISCONNECT at bob when the server stopped');
      },
    });
    // Right after the restart, before the SDKs' back-off ends: m2 is sent over REST on alice's
    // behalf; bob is most probably still disconnected.
    m2 = await server.restOk('POST', `/1.2/rtm/conversations/${conv.id}/messages`, {
      from_client: aliceId,
      message: JSON.stringify({ _lctype: -1, _lctext: 'during restart' }),
      no_sync: true,
    });

    await alice.inbox.waitFor('reconnect', () => true, 'RECONNECT at alice (session re-opened after the restart)', 20_000);
    await bob.inbox.waitFor('reconnect', () => true, 'RECONNECT at bob (session re-opened after the restart)', 20_000);
    const reopens = framesSince(mark).filter((f) => f.dir === '>' && f.cmd.cmd === 'session' && f.cmd.op === 'open');
    assert.ok(reopens.length >= 2, `both SDKs re-opened their sessions, saw ${reopens.length} session/open`);
    assert.ok(reopens.every((f) => f.cmd.sessionMessage?.r === true && f.cmd.sessionMessage?.st), 're-opens carry r=true and the session token st');
    assert.equal(alice.inbox.all('reconnecterror').length + bob.inbox.all('reconnecterror').length, 0, 'no RECONNECT_ERROR');

    // bob must see m2: live (if he was already back) or in an unread push after the re-open
    const deadline = Date.now() + 10_000;
    let seen = null;
    while (Date.now() < deadline && !seen) {
      const live = bob.inbox.all('message').find(([m]) => m.id === m2['msg-id']);
      if (live) seen = `live message ${show(live[0])}`;
      for (const [convs] of bob.inbox.all('unreadmessagescountupdate')) {
        const c = convs.find((x) => x.id === conv.id);
        if (c && c.lastMessage?.id === m2['msg-id'] && c.unreadMessagesCount >= 1) seen = `unread count ${c.unreadMessagesCount}, last message ${show(c.lastMessage)}`;
      }
      if (!seen) await sleep(100);
    }
    assert.ok(seen, `bob never saw m2 (${m2['msg-id']}) sent while he was reconnecting: neither a live message nor an unread notification`);

    // after the restart: messages flow both ways
    const m3 = await withTimeout(conv.send(new aliceDevice.IM.TextMessage('after restart')), 'alice sends m3 after the restart');
    const [got3] = await bob.inbox.waitFor('message', (m) => m.id === m3.id, 'm3 at bob after the restart');
    assert.equal(got3.getText(), 'after restart');
    const m4 = await withTimeout(bobConv.send(new bobDevice.IM.TextMessage('welcome back')), 'bob sends m4 after the restart');
    const [got4] = await alice.inbox.waitFor('message', (m) => m.id === m4.id, 'm4 at alice after the restart');
    assert.equal(got4.getText(), 'welcome back');

    // history has every message, in order, with the same ids
    const history = await withTimeout(bobConv.queryMessages({ limit: 20 }), 'bob queries history after the restart');
    assert.deepEqual(
      history.map((m) => [m.id, m.getText?.()]),
      [
        [m1.id, 'before restart'],
        [m2['msg-id'], 'during restart'],
        [m3.id, 'after restart'],
        [m4.id, 'welcome back'],
      ],
      'history after the restart',
    );
  });
});
