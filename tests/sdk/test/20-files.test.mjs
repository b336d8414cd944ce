// Files (issue 14) with the official leancloud-storage SDK: AV.File saved from a Buffer goes
// through Tidings' /1.1/fileTokens, upload URL and /1.1/fileCallback; an ImageMessage and a
// FileMessage carry it; the receiver's _lcfile.url serves the same bytes, ranges included;
// AV.File.withURL(...).save(), fetch and destroy work.

import assert from 'node:assert/strict';
import { useServer, forEachVersion } from '../scenario.mjs';
import { uniqueId, withTimeout, describe as show } from '../sdk.mjs';

const holder = useServer();

function sampleBytes(length) {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) bytes[i] = (i * 7) % 251;
  return bytes;
}

async function fetchBytes(url, headers = {}) {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

forEachVersion(holder, (version, it) => {
  it('a file saved from a Buffer travels in ImageMessage and FileMessage; its URL serves the bytes', async (ctx) => {
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const aliceDevice = ctx.device({ label: 'alice' });
    const bobDevice = ctx.device({ label: 'bob' });
    const alice = await aliceDevice.login(aliceId);
    const bob = await bobDevice.login(bobId);
    const conv = await withTimeout(alice.createConversation({ members: [bobId], name: 'files', unique: false }), 'alice creates a conversation');
    const { AV } = aliceDevice;
    const { ImageMessage, FileMessage } = aliceDevice.typed;

    const imageBytes = sampleBytes(50_000);
    const image = new AV.File('cat.png', imageBytes);
    await withTimeout(image.save(), 'AV.File#save of a Buffer (fileTokens → PUT upload_url → fileCallback)');
    assert.equal(typeof image.id, 'string', 'the saved file has an id');
    assert.ok(image.url().startsWith(ctx.server.httpUrl), `the file URL is served by Tidings: ${image.url()}`);

    const docBytes = Buffer.from('%PDF-1.4 a tiny report');
    const doc = new AV.File('report.pdf', docBytes);
    await withTimeout(doc.save(), 'AV.File#save of a PDF');

    const sentImage = await withTimeout(conv.send(new ImageMessage(image)), 'alice sends the ImageMessage');
    const sentDoc = await withTimeout(conv.send(new FileMessage(doc)), 'alice sends the FileMessage');

    const [gotImage] = await bob.inbox.waitFor('message', (m) => m.id === sentImage.id, 'the image message');
    assert.ok(gotImage instanceof bobDevice.typed.ImageMessage, `bob gets an ImageMessage, got ${show(gotImage)}`);
    assert.equal(gotImage.getFile().id, image.id, '_lcfile.objId');
    assert.equal(gotImage.getFile().url(), image.url(), '_lcfile.url');
    assert.equal(gotImage.getFile().metaData().size, 50_000, '_lcfile.metaData.size');
    const [gotDoc] = await bob.inbox.waitFor('message', (m) => m.id === sentDoc.id, 'the file message');
    assert.ok(gotDoc instanceof bobDevice.typed.FileMessage, `bob gets a FileMessage, got ${show(gotDoc)}`);

    const whole = await fetchBytes(gotImage.getFile().url());
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('content-type'), 'image/png');
    assert.ok(whole.bytes.equals(imageBytes), 'fetching _lcfile.url returns the same bytes');
    const part = await fetchBytes(gotImage.getFile().url(), { Range: 'bytes=100-199' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), 'bytes 100-199/50000');
    assert.ok(part.bytes.equals(imageBytes.subarray(100, 200)), 'a ranged request returns the slice');
    const pdf = await fetchBytes(gotDoc.getFile().url());
    assert.ok(pdf.bytes.equals(docBytes), 'the PDF bytes');
    assert.match(pdf.headers.get('content-disposition') || '', /^attachment;/);

    // AV.File#fetch reads the metadata back.
    const fetched = await withTimeout(AV.File.createWithoutData(image.id).fetch(), 'AV.File#fetch');
    assert.equal(fetched.name(), 'cat.png');
    assert.equal(fetched.url(), image.url());
    assert.equal(fetched.metaData().size, 50_000);
  });

  it('AV.File.withURL(...).save() stores an external file; destroy needs the master key', async () => {
    const AV = (await import('../sdk.mjs')).getAV(holder.server);
    const external = AV.File.withURL('remote.jpg', 'https://cdn.example.com/remote.jpg', { width: 10 });
    await withTimeout(external.save(), 'AV.File.withURL(...).save() (POST /1.1/files)');
    assert.equal(typeof external.id, 'string');
    const fetched = await withTimeout(AV.File.createWithoutData(external.id).fetch(), 'fetch the external file');
    assert.equal(fetched.url(), 'https://cdn.example.com/remote.jpg');
    assert.equal(fetched.metaData().width, 10);
    await assert.rejects(external.destroy(), 'the app key cannot delete a file');
    // The shared AV instance holds only the app key: delete with the master key over REST.
    const deleted = await fetch(`${holder.server.httpUrl}/1.1/files/${external.id}`, {
      method: 'DELETE',
      headers: { 'X-LC-Id': holder.server.app.appId, 'X-LC-Key': `${holder.server.app.masterKey},master` },
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(deleted.status, 200, 'DELETE /1.1/files/{id} with the master key');
    await assert.rejects(AV.File.createWithoutData(external.id).fetch(), 'the deleted file is gone');
  });
});
