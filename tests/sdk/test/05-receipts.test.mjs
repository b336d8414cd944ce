// Receipts: a message sent with `receipt: true` is marked delivered when the receiver acks it;
// the receiver's read() gives the sender a read receipt (lastReadAt); reading on one device
// clears the unread count on the reader's other device.

import assert from 'node:assert/strict';
import { useServer, forEachVersion } from '../scenario.mjs';
import { uniqueId, withTimeout, Inbox } from '../sdk.mjs';

const holder = useServer();

forEachVersion(holder, (version, it) => {
  it('delivery receipt, then read receipt after the receiver marks the conversation read', async (ctx) => {
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const aliceDevice = ctx.device({ label: 'alice' });
    const alice = await aliceDevice.login(aliceId);
    const bob = await ctx.device({ label: 'bob' }).login(bobId);
    const conv = await withTimeout(alice.createConversation({ members: [bobId], unique: false }), 'alice creates a 1:1 conversation');
    const convEvents = new Inbox(conv, ['lastdeliveredatupdate', 'lastreadatupdate'], "alice's conversation");

    const sent = await withTimeout(conv.send(new aliceDevice.IM.TextMessage('did you get this?'), { receipt: true }), 'alice sends with receipt:true');
    const [received, bobConv] = await bob.inbox.waitFor('message', (m) => m.id === sent.id, 'the message');

    // bob's SDK acks it (ack {cid, fromts, tots}) → server pushes rcp (without read) to alice
    await convEvents.waitFor('lastdeliveredatupdate', () => true, 'a delivery receipt (rcp without read) after bob acked');
    assert.ok(conv.lastDeliveredAt instanceof Date, 'lastDeliveredAt is set');
    assert.ok(conv.lastDeliveredAt.getTime() >= sent.timestamp.getTime() - 1000, 'lastDeliveredAt is not before the message');
    assert.equal(sent.status, aliceDevice.IM.MessageStatus.DELIVERED, 'the sent message is marked DELIVERED (rcp.id = message id)');
    assert.ok(sent.deliveredAt instanceof Date, 'message.deliveredAt');
    assert.equal(conv.lastReadAt ?? null, null, 'nothing read yet');

    // bob reads
    assert.equal(received.getText(), 'did you get this?');
    await bobConv.read();
    await convEvents.waitFor('lastreadatupdate', () => true, 'a read receipt (rcp read=true) after bob read()');
    assert.ok(conv.lastReadAt instanceof Date, 'lastReadAt is set');
    assert.ok(conv.lastReadAt.getTime() >= sent.timestamp.getTime(), `lastReadAt ${conv.lastReadAt?.toISOString()} >= message time ${sent.timestamp.toISOString()}`);

    // the receipt times can also be fetched (conv max_read)
    const aliceAgain = await withTimeout(alice.getConversation(conv.id), 'alice.getConversation');
    await withTimeout(aliceAgain.fetchReceiptTimestamps(), 'alice.fetchReceiptTimestamps() (conv max_read)');
    assert.ok(aliceAgain.lastReadAt instanceof Date && aliceAgain.lastReadAt.getTime() >= sent.timestamp.getTime(), 'max_read maxReadTimestamp');
    assert.ok(aliceAgain.lastDeliveredAt instanceof Date && aliceAgain.lastDeliveredAt.getTime() >= sent.timestamp.getTime() - 1000, 'max_read maxAckTimestamp');
  });

  it('read on one device clears the unread count on the other device of the same client', async (ctx) => {
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const aliceDevice = ctx.device({ label: 'alice' });
    const alice = await aliceDevice.login(aliceId);
    const bobPhone = await ctx.device({ label: 'bob-phone' }).login(bobId);
    const bobLaptop = await ctx.device({ label: 'bob-laptop' }).login(bobId);
    const conv = await withTimeout(alice.createConversation({ members: [bobId], unique: false }), 'alice creates a conversation');
    const sent = await withTimeout(conv.send(new aliceDevice.IM.TextMessage('to both devices')), 'alice sends');
    const [, onPhone] = await bobPhone.inbox.waitFor('message', (m) => m.id === sent.id, 'the message on bob-phone');
    const [, onLaptop] = await bobLaptop.inbox.waitFor('message', (m) => m.id === sent.id, 'the message on bob-laptop (every online session of a member gets it)');
    assert.equal(onPhone.unreadMessagesCount, 1);
    assert.equal(onLaptop.unreadMessagesCount, 1);

    await onLaptop.read();
    const [convs] = await bobPhone.inbox.waitFor(
      'unreadmessagescountupdate',
      (cs) => cs.some((c) => c.id === conv.id && c.unreadMessagesCount === 0),
      'an unread push with count 0 after the other device read',
    );
    const c = convs.find((x) => x.id === conv.id);
    assert.equal(c.unreadMessagesCount, 0);
    assert.equal(c.unreadMessagesMentioned, false);
  });
});
