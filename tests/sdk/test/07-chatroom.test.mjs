// Chat rooms (transient conversations): create, find, join, online count, send/receive among
// joined members only, leave; a chat room created over REST is joinable by SDK clients.

import assert from 'node:assert/strict';
import { useServer, forEachVersion } from '../scenario.mjs';
import { uniqueId, withTimeout, describe as show } from '../sdk.mjs';

const holder = useServer();

forEachVersion(holder, (version, it) => {
  it('create a chat room, others join, online count, messages reach joined members only', async (ctx) => {
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const carolId = uniqueId('carol', version);
    const daveId = uniqueId('dave', version);
    const aliceDevice = ctx.device({ label: 'alice' });
    const alice = await aliceDevice.login(aliceId);
    const bobDevice = ctx.device({ label: 'bob' });
    const bob = await bobDevice.login(bobId);
    const carol = await ctx.device({ label: 'carol' }).login(carolId);
    const dave = await ctx.device({ label: 'dave (never joins)' }).login(daveId);

    const room = await withTimeout(alice.createChatRoom({ name: `room-${version}` }), 'alice.createChatRoom (conv start transient=true)');
    assert.ok(room instanceof aliceDevice.IM.ChatRoom, `createChatRoom gives a ChatRoom, got ${show(room)}`);
    assert.equal(room.transient, true);

    // bob finds it by query, carol by id
    const found = await withTimeout(
      bob.getChatRoomQuery().equalTo('objectId', room.id).find(),
      'bob finds the room with getChatRoomQuery() (conv query where {tr:true, objectId})',
    );
    assert.equal(found.length, 1, `the chat room query finds the room, got ${show(found)}`);
    const bobRoom = found[0];
    assert.ok(bobRoom instanceof bobDevice.IM.ChatRoom, `bob's query result is a ChatRoom (tr:true), got ${show(bobRoom)}`);
    assert.equal(bobRoom.name, `room-${version}`);
    await withTimeout(bobRoom.join(), 'bob joins (conv add m=[bob])');
    const carolRoom = await withTimeout(carol.getConversation(room.id), 'carol.getConversation(room)');
    await withTimeout(carolRoom.join(), 'carol joins');

    const count = await withTimeout(room.count(), 'alice: room.count() (conv count → result)');
    assert.equal(count, 3, 'online members of the chat room: alice (creator) + bob + carol');

    const hello = await withTimeout(room.send(new aliceDevice.IM.TextMessage('hello room')), 'alice sends to the room');
    const [atBob] = await bob.inbox.waitFor('message', (m) => m.id === hello.id, 'the room message at bob');
    assert.equal(atBob.getText(), 'hello room');
    assert.equal(atBob.from, aliceId);
    assert.equal(atBob.cid, room.id);
    const [atCarol] = await carol.inbox.waitFor('message', (m) => m.id === hello.id, 'the room message at carol');
    assert.equal(atCarol.getText(), 'hello room');

    const fromBob = await withTimeout(bobRoom.send(new bobDevice.IM.TextMessage('hi all')), 'bob sends to the room');
    const [atAlice] = await alice.inbox.waitFor('message', (m) => m.id === fromBob.id, "bob's room message at alice");
    assert.equal(atAlice.from, bobId);

    // carol leaves: the count drops, she no longer receives
    await withTimeout(carolRoom.quit(), 'carol quits (conv remove m=[carol])');
    const count2 = await withTimeout(bobRoom.count(), 'bob: room.count() after carol left');
    assert.equal(count2, 2, 'online members after carol left');
    const after = await withTimeout(room.send(new aliceDevice.IM.TextMessage('carol is gone')), 'alice sends after carol left');
    await bob.inbox.waitFor('message', (m) => m.id === after.id, 'the later room message at bob');
    const leaked = await carol.inbox.quietFor('message', 500);
    assert.deepEqual(leaked.map(([m]) => m.id).filter((id) => id === after.id), [], 'carol (left) must not receive room messages');
    assert.equal(
      dave.inbox.all('message').filter(([m]) => m.cid === room.id).length,
      0,
      'dave (online, never joined) must not receive room messages',
    );

    // room history
    const history = await withTimeout(bobRoom.queryMessages({ limit: 10 }), 'bob queries the room history');
    assert.deepEqual(history.map((m) => m.id), [hello.id, fromBob.id, after.id], 'chat room history');
  });

  it('a chat room created over REST can be joined; members count online sessions', async (ctx) => {
    const { objectId: roomId } = await holder.server.restOk('POST', '/1.2/rtm/chatrooms', { name: `rest-room-${version}` });
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const aliceDevice = ctx.device({ label: 'alice' });
    const alice = await aliceDevice.login(aliceId);
    const bobDevice = ctx.device({ label: 'bob' });
    const bob = await bobDevice.login(bobId);
    const aRoom = await withTimeout(alice.getConversation(roomId), 'alice.getConversation(REST room)');
    assert.ok(aRoom instanceof aliceDevice.IM.ChatRoom, `a REST chat room is a ChatRoom for the SDK, got ${show(aRoom)}`);
    await withTimeout(aRoom.join(), 'alice joins');
    const bRoom = await withTimeout(bob.getConversation(roomId), 'bob.getConversation(REST room)');
    await withTimeout(bRoom.join(), 'bob joins');
    assert.equal(await withTimeout(aRoom.count(), 'count'), 2, 'online count after two joins');

    const msg = await withTimeout(aRoom.send(new aliceDevice.IM.TextMessage('in the REST room')), 'alice sends');
    const [got] = await bob.inbox.waitFor('message', (m) => m.id === msg.id, 'the message at bob');
    assert.equal(got.getText(), 'in the REST room');

    // bob goes offline: the online count drops
    await bobDevice.close();
    const deadline = Date.now() + 5000;
    let count = null;
    while (Date.now() < deadline) {
      count = await withTimeout(aRoom.count(), 'count after bob closed');
      if (count === 1) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(count, 1, 'online count after bob closed his client');
  });
});
