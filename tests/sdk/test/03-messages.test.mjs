// Sending and receiving: text both ways, typed messages of the official typed-messages plugin
// (image, file, location; AV.File objects made from URLs, nothing uploaded), a custom typed
// message class, and the same messages in history.

import assert from 'node:assert/strict';
import { useServer, forEachVersion } from '../scenario.mjs';
import { uniqueId, withTimeout, existingFile, describe as show } from '../sdk.mjs';

const holder = useServer();

async function pair(ctx, version) {
  const aliceId = uniqueId('alice', version);
  const bobId = uniqueId('bob', version);
  const aliceDevice = ctx.device({ label: 'alice' });
  const bobDevice = ctx.device({ label: 'bob' });
  const alice = await aliceDevice.login(aliceId);
  const bob = await bobDevice.login(bobId);
  const conv = await withTimeout(alice.createConversation({ members: [bobId], name: 'chat', unique: false }), 'alice creates a conversation with bob');
  return { aliceId, bobId, aliceDevice, bobDevice, alice, bob, conv };
}

forEachVersion(holder, (version, it) => {
  it('text messages both ways: content, sender, ids and timestamps match', async (ctx) => {
    const { aliceId, bobId, aliceDevice, bobDevice, alice, bob, conv } = await pair(ctx, version);

    const sent = await withTimeout(conv.send(new aliceDevice.IM.TextMessage('hello bob')), 'alice sends "hello bob" (direct → ack)');
    assert.equal(typeof sent.id, 'string', 'sent message has the server id from the ack');
    assert.ok(sent.id.length > 0);
    assert.ok(sent.timestamp instanceof Date && sent.timestamp.getTime() > 0, 'sent message has the server timestamp from the ack');

    const [received, receivedIn] = await bob.inbox.waitFor('message', (m) => m.id === sent.id, `message ${sent.id}`);
    assert.ok(received instanceof bobDevice.IM.TextMessage, `bob gets a TextMessage, got ${show(received)}`);
    assert.equal(received.getText(), 'hello bob', 'text seen by bob');
    assert.equal(received.from, aliceId, 'sender seen by bob');
    assert.equal(received.cid, conv.id, 'conversation id of the message seen by bob');
    assert.equal(receivedIn.id, conv.id, 'conversation passed with the MESSAGE event');
    assert.equal(received.timestamp.getTime(), sent.timestamp.getTime(), 'timestamp seen by bob equals the ack timestamp');
    assert.equal(
      received.updatedAt?.getTime?.() ?? received.timestamp.getTime(),
      received.timestamp.getTime(),
      'a fresh message must not carry patchTimestamp (updatedAt == timestamp)',
    );
    assert.deepEqual([...receivedIn.members].sort(), [aliceId, bobId].sort(), 'members of the conversation bob fetched for the message');

    const reply = await withTimeout(receivedIn.send(new bobDevice.IM.TextMessage('hi alice')), 'bob replies "hi alice"');
    const [back] = await alice.inbox.waitFor('message', (m) => m.id === reply.id, `reply ${reply.id}`);
    assert.equal(back.getText(), 'hi alice');
    assert.equal(back.from, bobId);
    assert.ok(back.timestamp.getTime() >= sent.timestamp.getTime(), 'the reply is not older than the first message');

    // the sender does not get its own message back on the sending session
    assert.equal(alice.inbox.all('message').filter(([m]) => m.id === sent.id).length, 0, 'alice must not receive her own message back');
  });

  it('typed messages: image, file and location (typed-messages plugin) arrive typed', async (ctx) => {
    const { aliceId, aliceDevice, bobDevice, alice, bob, conv } = await pair(ctx, version);
    const { AV } = aliceDevice;
    const { ImageMessage, FileMessage, LocationMessage } = aliceDevice.typed;

    const imageFile = existingFile(AV, {
      id: '5e0000000000000000000001',
      name: 'cat.png',
      url: 'http://127.0.0.1:1/files/cat.png',
      metaData: { width: 640, height: 480, format: 'png', size: 12345 },
    });
    const image = new ImageMessage(imageFile);
    image.setText('look at this cat');
    image.setAttributes({ album: 'pets' });
    const sentImage = await withTimeout(conv.send(image), 'alice sends an ImageMessage');

    const docFile = existingFile(AV, { id: '5e0000000000000000000002', name: 'report.pdf', url: 'http://127.0.0.1:1/files/report.pdf', metaData: { size: 999 } });
    const sentFile = await withTimeout(conv.send(new FileMessage(docFile)), 'alice sends a FileMessage');

    const location = new LocationMessage(new AV.GeoPoint({ latitude: 31.2304, longitude: 121.4737 }));
    location.setText('meet here');
    const sentLocation = await withTimeout(conv.send(location), 'alice sends a LocationMessage');

    const [img] = await bob.inbox.waitFor('message', (m) => m.id === sentImage.id, 'the image message');
    assert.ok(img instanceof bobDevice.typed.ImageMessage, `bob gets an ImageMessage (_lctype -2), got ${show(img)}`);
    assert.equal(img.getFile().url(), 'http://127.0.0.1:1/files/cat.png', 'image URL');
    assert.equal(img.getFile().name(), 'cat.png', 'image file name');
    assert.equal(img.getFile().metaData().width, 640, 'image width');
    assert.equal(img.getFile().metaData().height, 480, 'image height');
    assert.equal(img.getText(), 'look at this cat', 'image caption (_lctext)');
    assert.deepEqual(img.getAttributes(), { album: 'pets' }, 'image attributes (_lcattrs)');
    assert.equal(img.from, aliceId);

    const [file] = await bob.inbox.waitFor('message', (m) => m.id === sentFile.id, 'the file message');
    assert.ok(file instanceof bobDevice.typed.FileMessage && !(file instanceof bobDevice.typed.ImageMessage), `bob gets a FileMessage (_lctype -6), got ${show(file)}`);
    assert.equal(file.getFile().url(), 'http://127.0.0.1:1/files/report.pdf');
    assert.equal(file.getFile().name(), 'report.pdf');

    const [loc] = await bob.inbox.waitFor('message', (m) => m.id === sentLocation.id, 'the location message');
    assert.ok(loc instanceof bobDevice.typed.LocationMessage, `bob gets a LocationMessage (_lctype -5), got ${show(loc)}`);
    assert.equal(loc.getLocation().latitude, 31.2304, 'latitude');
    assert.equal(loc.getLocation().longitude, 121.4737, 'longitude');
    assert.equal(loc.getText(), 'meet here');

    // the same, read back from history by bob
    const bobConv = await withTimeout(bob.getConversation(conv.id), 'bob.getConversation');
    const history = await withTimeout(bobConv.queryMessages({ limit: 10 }), 'bob queries history (logs)');
    assert.deepEqual(
      history.map((m) => m.id),
      [sentImage.id, sentFile.id, sentLocation.id],
      'history ids, oldest first',
    );
    assert.ok(history[0] instanceof bobDevice.typed.ImageMessage, `history[0] is an ImageMessage, got ${show(history[0])}`);
    assert.ok(history[1] instanceof bobDevice.typed.FileMessage, `history[1] is a FileMessage, got ${show(history[1])}`);
    assert.ok(history[2] instanceof bobDevice.typed.LocationMessage, `history[2] is a LocationMessage, got ${show(history[2])}`);
    assert.equal(history[0].getFile().url(), 'http://127.0.0.1:1/files/cat.png');
    assert.equal(history[2].getLocation().longitude, 121.4737);
    assert.ok(history.every((m) => m.from === aliceId), 'history senders');

    // filtered by type (logs lctype)
    const images = await withTimeout(bobConv.queryMessages({ type: bobDevice.typed.ImageMessage.TYPE, limit: 10 }), 'history of images only (lctype -2)');
    assert.deepEqual(images.map((m) => m.id), [sentImage.id], 'history filtered by _lctype -2');
  });

  it('concurrent sends by three members: every send acked, delivered once, history complete and ordered', async (ctx) => {
    const ids = ['alice', 'bob', 'carol'].map((n) => uniqueId(n, version));
    const devices = ids.map((id) => ctx.device({ label: id.split('-')[0] }));
    const clients = [];
    for (const [i, id] of ids.entries()) clients.push(await devices[i].login(id));
    const conv = await withTimeout(clients[0].createConversation({ members: ids.slice(1), name: 'busy group', unique: false }), 'alice creates a group');
    const convs = [conv];
    for (const c of clients.slice(1)) convs.push(await withTimeout(c.getConversation(conv.id), `${c.id} getConversation`));

    const PER_CLIENT = 8;
    const sends = [];
    for (let n = 0; n < PER_CLIENT; n += 1) {
      for (const [i, c] of convs.entries()) {
        sends.push(withTimeout(c.send(new devices[i].IM.TextMessage(`${ids[i]} #${n}`)), `${ids[i]} sends #${n} (concurrently with the others)`));
      }
    }
    const results = await Promise.allSettled(sends);
    const failed = results.filter((r) => r.status === 'rejected').map((r) => `${r.reason?.code ?? ''} ${r.reason?.message}`);
    assert.deepEqual(failed, [], `every concurrent send is acked (${failed.length} of ${sends.length} failed)`);
    const sent = results.map((r) => r.value);
    assert.equal(new Set(sent.map((m) => m.id)).size, sent.length, 'message ids are unique');

    for (const [i, c] of clients.entries()) {
      const expected = sent.filter((m) => m.from === ids[i] ? false : true).map((m) => m.id);
      for (const id of expected) await c.inbox.waitFor('message', (m) => m.id === id, `message ${id} at ${ids[i]}`);
      const got = c.inbox.all('message').map(([m]) => m.id).filter((id) => expected.includes(id));
      assert.equal(got.length, expected.length, `${ids[i]} received each message of the others exactly once`);
    }

    const history = await withTimeout(convs[1].queryMessages({ limit: 100 }), 'bob queries the whole history');
    assert.deepEqual(new Set(history.map((m) => m.id)), new Set(sent.map((m) => m.id)), 'history holds every acked message');
    assert.equal(history.length, sent.length, 'no duplicates in history');
    const times = history.map((m) => m.timestamp.getTime());
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'history is in ascending time order');
  });

  it('custom typed message class and a binary message', async (ctx) => {
    const { aliceDevice, bobDevice, bob, conv } = await pair(ctx, version);
    // An app-defined type, registered the documented way on both devices.
    function defineCustom(IM) {
      class OperationMessage extends IM.TypedMessage {}
      IM.messageType(7)(OperationMessage);
      IM.messageField(['op', 'amount'])(OperationMessage);
      return OperationMessage;
    }
    const AliceOp = defineCustom(aliceDevice.IM);
    aliceDevice.realtime.register(AliceOp);
    const BobOp = defineCustom(bobDevice.IM);
    bobDevice.realtime.register(BobOp);

    const op = new AliceOp();
    op.op = 'transfer';
    op.amount = 42;
    op.setText('transfer 42');
    const sentOp = await withTimeout(conv.send(op), 'alice sends a custom typed message (_lctype 7)');
    const [gotOp] = await bob.inbox.waitFor('message', (m) => m.id === sentOp.id, 'the custom typed message');
    assert.ok(gotOp instanceof BobOp, `bob parses the custom type, got ${show(gotOp)}`);
    assert.equal(gotOp.op, 'transfer');
    assert.equal(gotOp.amount, 42);
    assert.equal(gotOp.getText(), 'transfer 42');

    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const sentBin = await withTimeout(conv.send(new aliceDevice.IM.BinaryMessage(bytes.buffer)), 'alice sends a BinaryMessage (binaryMsg)');
    const [gotBin] = await bob.inbox.waitFor('message', (m) => m.id === sentBin.id, 'the binary message');
    assert.ok(gotBin instanceof bobDevice.IM.BinaryMessage, `bob gets a BinaryMessage, got ${show(gotBin)}`);
    assert.deepEqual([...new Uint8Array(gotBin.buffer)], [...bytes], 'binary payload bytes');

    const bobConv = await withTimeout(bob.getConversation(conv.id), 'bob.getConversation');
    const history = await withTimeout(bobConv.queryMessages({ limit: 10 }), 'bob queries history');
    assert.deepEqual(history.map((m) => m.id), [sentOp.id, sentBin.id]);
    assert.ok(history[1] instanceof bobDevice.IM.BinaryMessage, `binary message from history (LogItem bin=true, base64 data), got ${show(history[1])}`);
    assert.deepEqual([...new Uint8Array(history[1].buffer)], [...bytes], 'binary payload bytes from history');
  });
});
