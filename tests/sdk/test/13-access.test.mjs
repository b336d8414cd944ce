// Access control with the official SDKs (issue 10): a will message from a non-member is
// refused, a subscriber's message to a ServiceConversation never reaches other subscribers,
// and, once the app requires them, conversationSignatureFactory and signatureFactory are
// what let clients create, join and log in.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { useServer, forEachVersion } from '../scenario.mjs';
import { APP } from '../harness.mjs';
import { uniqueId, withTimeout, rejects, sleep } from '../sdk.mjs';

const holder = useServer();

const hmac = (fields) => crypto.createHmac('sha1', APP.masterKey).update(fields.join(':')).digest('hex');

function conversationSignatureFactory(conversationId, clientId, targetIds, action) {
  const timestamp = Date.now();
  const nonce = crypto.randomBytes(8).toString('hex');
  const members = [...targetIds].sort().join(':');
  const fields = conversationId
    ? [APP.appId, clientId, conversationId, members, timestamp, nonce, action]
    : [APP.appId, clientId, members, timestamp, nonce];
  return { signature: hmac(fields), timestamp, nonce };
}

function signatureFactory(clientId) {
  const timestamp = Date.now();
  const nonce = crypto.randomBytes(8).toString('hex');
  return { signature: hmac([APP.appId, clientId, '', timestamp, nonce]), timestamp, nonce };
}

/** `tidings app set` on the server's database, then a restart so the setting applies. */
async function appSet(server, settings) {
  for (const [key, value] of Object.entries(settings)) {
    execFileSync(server.binary, ['app', 'set', APP.appId, key, String(value)], {
      env: { ...process.env, TIDINGS_DATABASE_URL: server.db.url },
      stdio: 'ignore',
    });
  }
  await server.restart();
}

let signaturesOn = false;
async function requireSignatures(server, on) {
  if (signaturesOn === on) return;
  await appSet(server, { conversation_signature_required: on, login_signature_required: on });
  signaturesOn = on;
}

forEachVersion(holder, (version, it) => {
  it('a will message from a non-member is refused; a member’s will arrives after it drops', async (ctx) => {
    await requireSignatures(holder.server, false);
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const eveId = uniqueId('eve', version);
    const alice = await ctx.device({ label: 'alice' }).login(aliceId);
    const bobDevice = ctx.device({ label: 'bob' });
    const bob = await bobDevice.login(bobId);
    const conv = await withTimeout(alice.createConversation({ members: [bobId], name: 'pair' }), 'alice creates');
    const eveDevice = ctx.device({ label: 'eve' });
    const eve = await eveDevice.login(eveId);
    const stolen = await withTimeout(eve.getConversation(conv.id), 'eve finds the conversation by id');
    const error = await rejects(
      stolen.send(new eveDevice.IM.TextMessage('FAKE will'), { will: true }),
      'eve keeps a will message in a conversation she is not in',
    );
    assert.equal(error.code, 4401, `refused with 4401, got ${error.code} ${error.message}`);
    await eveDevice.dropConnection();
    const leaked = await alice.inbox.quietFor('message', 800);
    assert.equal(leaked.length, 0, 'nothing reaches the members');

    const bobConv = await withTimeout(bob.getConversation(conv.id), 'bob opens it');
    await withTimeout(bobConv.send(new bobDevice.IM.TextMessage('last words'), { will: true }), 'bob keeps a will');
    await bobDevice.dropConnection();
    const [will] = await alice.inbox.waitFor('message', (m) => m.cid === conv.id, 'bob’s will at alice');
    assert.equal(will.getText(), 'last words');
  });

  it('a subscriber’s message to a ServiceConversation reaches no other subscriber', async (ctx) => {
    await requireSignatures(holder.server, false);
    const server = holder.server;
    const { objectId: svcId } = await server.restOk('POST', '/1.2/rtm/service-conversations', { name: `desk-${version}` });
    const readerId = uniqueId('reader', version);
    const writerId = uniqueId('writer', version);
    const reader = await ctx.device({ label: 'reader' }).login(readerId);
    const writerDevice = ctx.device({ label: 'writer' });
    const writer = await writerDevice.login(writerId);
    for (const client of [reader, writer]) {
      const [svc] = await withTimeout(client.getServiceConversationQuery().equalTo('objectId', svcId).find(), 'find it');
      await withTimeout(svc.subscribe(), 'subscribe');
    }
    const [svc] = await withTimeout(writer.getServiceConversationQuery().equalTo('objectId', svcId).find(), 'find it');
    await withTimeout(svc.send(new writerDevice.IM.TextMessage('FAKE OFFICIAL NOTICE')), 'the writer sends to the service conversation');
    const leaked = await reader.inbox.quietFor('message', 800);
    assert.equal(leaked.filter(([m]) => m.cid === svcId).length, 0, 'the other subscriber gets nothing');
    const uplink = await server.restOk('GET', `/1.2/rtm/service-conversations/${svcId}/uplink-messages`);
    assert.equal(uplink.length, 1, `the admin sees the uplink message, got ${JSON.stringify(uplink)}`);
    assert.equal(uplink[0].from, writerId);
  });

  it('with signatures required: factories sign logins, creates and joins; without them, refused', async (ctx) => {
    await requireSignatures(holder.server, true);
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const eveId = uniqueId('eve', version);
    await rejects(
      ctx.device({ label: 'unsigned' }).login(aliceId),
      'a login without a signatureFactory is refused (4102)',
    );
    const alice = await ctx
      .device({ label: 'alice' })
      .login(aliceId, { signatureFactory, conversationSignatureFactory });
    const conv = await withTimeout(
      alice.createConversation({ members: [bobId], name: 'signed' }),
      'a signed conversation create',
    );
    const eve = await ctx.device({ label: 'eve' }).login(eveId, { signatureFactory });
    const found = await withTimeout(eve.getConversation(conv.id), 'eve finds it');
    const error = await rejects(found.join(), 'eve joins without a conversation signature');
    assert.equal(error.code, 4302, `refused with 4302, got ${error.code}`);
    const unsigned = await rejects(eve.createConversation({ members: [bobId] }), 'eve creates without a signature');
    assert.equal(unsigned.code, 4302);
    const members = await holder.server.restOk('GET', `/1.2/rtm/conversations/${conv.id}/members`);
    assert.deepEqual([...members.result].sort(), [aliceId, bobId].sort(), 'eve is not a member');
    const signedEve = await ctx
      .device({ label: 'eve signed' })
      .login(uniqueId('eve2', version), { signatureFactory, conversationSignatureFactory });
    const again = await withTimeout(signedEve.getConversation(conv.id), 'found');
    await withTimeout(again.join(), 'a signed join');
    await sleep(10);
  });
});
