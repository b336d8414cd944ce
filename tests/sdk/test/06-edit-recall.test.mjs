// Edit and recall (patch modify): seen live by the other member, replayed to a member whose
// connection was down at the time (lastPatchTime), and visible in history after a new login.

import assert from 'node:assert/strict';
import { useServer, forEachVersion } from '../scenario.mjs';
import { uniqueId, withTimeout, describe as show } from '../sdk.mjs';

const holder = useServer();

forEachVersion(holder, (version, it) => {
  it('edit and recall are seen live, and in history after re-login', async (ctx) => {
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const aliceDevice = ctx.device({ label: 'alice' });
    const alice = await aliceDevice.login(aliceId);
    const bobDevice = ctx.device({ label: 'bob' });
    const bob = await bobDevice.login(bobId);
    const conv = await withTimeout(alice.createConversation({ members: [bobId], unique: false }), 'alice creates a conversation');

    const original = await withTimeout(conv.send(new aliceDevice.IM.TextMessage('tpyo here')), 'alice sends the message to edit');
    const doomed = await withTimeout(conv.send(new aliceDevice.IM.TextMessage('oops, secret')), 'alice sends the message to recall');
    await bob.inbox.waitFor('message', (m) => m.id === original.id, 'the message to edit');
    await bob.inbox.waitFor('message', (m) => m.id === doomed.id, 'the message to recall');

    // edit
    const edited = await withTimeout(conv.update(original, new aliceDevice.IM.TextMessage('typo here')), 'alice edits (patch modify → modified)');
    assert.equal(edited.id, original.id, 'the edited message keeps its id');
    const [upd, updConv] = await bob.inbox.waitFor('messageupdate', (m) => m.id === original.id, 'MESSAGE_UPDATE for the edited message');
    assert.ok(upd instanceof bobDevice.IM.TextMessage, `edited message is a TextMessage, got ${show(upd)}`);
    assert.equal(upd.getText(), 'typo here', 'edited text seen live by bob');
    assert.equal(upd.from, aliceId, 'patch from = original sender');
    assert.equal(updConv.id, conv.id);
    assert.equal(upd.timestamp?.getTime?.() ?? Number(upd.timestamp), original.timestamp.getTime(), 'the patch keeps the original timestamp');
    assert.ok(upd.updatedAt instanceof Date && upd.updatedAt.getTime() > original.timestamp.getTime(), `updatedAt (patchTimestamp) is after the original time, got ${upd.updatedAt}`);

    // recall
    const recalled = await withTimeout(conv.recall(doomed), 'alice recalls (patch modify recall=true)');
    assert.ok(recalled instanceof aliceDevice.IM.RecalledMessage, `recall() resolves to a RecalledMessage, got ${show(recalled)}`);
    const [rec] = await bob.inbox.waitFor('messagerecall', (m) => m.id === doomed.id, 'MESSAGE_RECALL for the recalled message');
    assert.ok(rec instanceof bobDevice.IM.RecalledMessage, `bob sees a RecalledMessage (content {"_lctype":-127}), got ${show(rec)}`);
    assert.equal(rec.from, aliceId);
    assert.equal(bob.inbox.all('messageupdate').filter(([m]) => m.id === doomed.id).length, 0, 'a recall is not reported as an update');

    // re-login on a new device: history shows the edit and the recall
    await bobDevice.close();
    const bob2Device = ctx.device({ label: 'bob-again' });
    const bob2 = await bob2Device.login(bobId);
    const bobConv = await withTimeout(bob2.getConversation(conv.id), 'bob (again) getConversation');
    const history = await withTimeout(bobConv.queryMessages({ limit: 10 }), 'bob (again) queries history');
    assert.deepEqual(history.map((m) => m.id), [original.id, doomed.id], 'history ids');
    assert.equal(history[0].getText?.(), 'typo here', `history has the edited text, got ${show(history[0])}`);
    assert.ok(history[0].updatedAt instanceof Date && history[0].updatedAt.getTime() > history[0].timestamp.getTime(), 'history: edited message has updatedAt (LogItem.patchTimestamp) after its timestamp');
    assert.ok(history[1] instanceof bob2Device.IM.RecalledMessage, `history has the recalled message as RecalledMessage, got ${show(history[1])}`);

    // the sender's own history agrees
    const aliceHistory = await withTimeout(conv.queryMessages({ limit: 10 }), 'alice queries history');
    assert.equal(aliceHistory[0].getText?.(), 'typo here');
    assert.ok(aliceHistory[1] instanceof aliceDevice.IM.RecalledMessage, `alice's history: RecalledMessage, got ${show(aliceHistory[1])}`);
  });

  it('edit and recall made while a member is disconnected are replayed when it reconnects', async (ctx) => {
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const aliceDevice = ctx.device({ label: 'alice' });
    const alice = await aliceDevice.login(aliceId);
    const bobDevice = ctx.device({ label: 'bob' });
    const bob = await bobDevice.login(bobId);
    const conv = await withTimeout(alice.createConversation({ members: [bobId], unique: false }), 'alice creates a conversation');
    const m1 = await withTimeout(conv.send(new aliceDevice.IM.TextMessage('before edit')), 'send m1');
    const m2 = await withTimeout(conv.send(new aliceDevice.IM.TextMessage('before recall')), 'send m2');
    await bob.inbox.waitFor('message', (m) => m.id === m2.id, 'm2');

    // bob's network drops; alice edits and recalls meanwhile
    await bobDevice.dropConnection();
    await bob.inbox.waitFor('disconnect', () => true, 'DISCONNECT after the socket was cut');
    await withTimeout(conv.update(m1, new aliceDevice.IM.TextMessage('after edit')), 'alice edits while bob is away');
    await withTimeout(conv.recall(m2), 'alice recalls while bob is away');

    // bob's SDK reconnects by itself (session open r=true with st and lastPatchTime)
    await bob.inbox.waitFor('reconnect', () => true, 'RECONNECT (session re-opened with the session token)', 15_000);
    const [upd] = await bob.inbox.waitFor('messageupdate', (m) => m.id === m1.id, 'the edit replayed after reconnect (patch modify with patchTimestamp > lastPatchTime)');
    assert.equal(upd.getText?.(), 'after edit');
    const [rec] = await bob.inbox.waitFor('messagerecall', (m) => m.id === m2.id, 'the recall replayed after reconnect');
    assert.ok(rec instanceof bobDevice.IM.RecalledMessage, `replayed recall is a RecalledMessage, got ${show(rec)}`);
  });
});
