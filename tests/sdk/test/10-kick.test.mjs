// Kick over REST (POST /1.2/rtm/clients/{id}/kick): every session of that client is closed with
// session/closed code 4115 KICKED_BY_APP (JS event CLOSE {code, reason}); others stay online.

import assert from 'node:assert/strict';
import { useServer, forEachVersion } from '../scenario.mjs';
import { uniqueId, withTimeout, sleep } from '../sdk.mjs';

const holder = useServer();

forEachVersion(holder, (version, it) => {
  it('kicked client gets CLOSE with code 4115; the other client stays online', async (ctx) => {
    const server = holder.server;
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const aliceDevice = ctx.device({ label: 'alice' });
    const alice = await aliceDevice.login(aliceId);
    const alice2 = await ctx.device({ label: 'alice-tablet' }).login(aliceId);
    const bobDevice = ctx.device({ label: 'bob' });
    const bob = await bobDevice.login(bobId);
    assert.deepEqual(await withTimeout(bob.ping([aliceId]), 'bob pings alice'), [aliceId], 'alice is online before the kick');

    await server.restOk('POST', `/1.2/rtm/clients/${encodeURIComponent(aliceId)}/kick`, { reason: 'test kick' });

    for (const [label, client] of [['alice', alice], ['alice-tablet', alice2]]) {
      const [payload] = await client.inbox.waitFor('close', () => true, `CLOSE on ${label} (session/closed pushed by the server)`);
      assert.equal(payload.code, 4115, `${label}: CLOSE code (KICKED_BY_APP), payload ${JSON.stringify(payload)}`);
      assert.equal(client.inbox.all('conflict').length, 0, `${label}: a kick is not a CONFLICT`);
    }

    // the server no longer lists alice online; bob is untouched
    let online;
    for (let i = 0; i < 20; i += 1) {
      online = await withTimeout(bob.ping([aliceId, bobId]), 'bob pings alice and himself');
      if (!online.includes(aliceId)) break;
      await sleep(100);
    }
    assert.deepEqual(online, [bobId], 'after the kick only bob is online');
    assert.equal(bob.inbox.all('close').length, 0, 'bob was not kicked');

    // bob can still work
    const conv = await withTimeout(bob.createConversation({ members: [aliceId], unique: false }), 'bob creates a conversation');
    await withTimeout(conv.send(new bobDevice.IM.TextMessage('are you there?')), 'bob still can send');
  });

  it('kicking a client that is offline answers without error', async () => {
    const res = await holder.server.rest('POST', `/1.2/rtm/clients/${encodeURIComponent(uniqueId('ghost', version))}/kick`, {});
    assert.ok(res.status >= 200 && res.status < 300, `kick of an offline client: HTTP ${res.status} ${res.text}`);
  });
});
