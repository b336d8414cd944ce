// Official SDK clients (leancloud-realtime 4.3.1 and 5.0.0-rc.8, from tests/sdk) spread over
// three clustered nodes started by tests/cluster.rs: a REST send on node A reaches SDK
// members on B and C; an SDK send on B reaches A. Exits non-zero on the first failure.
//
// Env: TIDINGS_CLUSTER_NODES (comma-separated http://127.0.0.1:PORT, in order A,B,C),
// TIDINGS_CLUSTER_APP_ID, _APP_KEY, _MASTER_KEY.

import assert from 'node:assert/strict';
import { Device, VERSIONS, closeAllDevices, uniqueId, withTimeout, textOf } from '../sdk/sdk.mjs';

const urls = (process.env.TIDINGS_CLUSTER_NODES || '').split(',').filter(Boolean);
assert.equal(urls.length, 3, 'TIDINGS_CLUSTER_NODES names three nodes');
const app = {
  appId: process.env.TIDINGS_CLUSTER_APP_ID,
  appKey: process.env.TIDINGS_CLUSTER_APP_KEY,
};
const masterKey = process.env.TIDINGS_CLUSTER_MASTER_KEY;

/** What `Device` needs of a server, for one node. */
function node(url) {
  const port = new URL(url).port;
  return {
    app,
    host: `127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/`,
  };
}
const [a, b, c] = urls.map(node);

async function rest(target, method, path, body) {
  const res = await fetch(`${target.httpUrl}${path}`, {
    method,
    headers: { 'X-LC-Id': app.appId, 'X-LC-Key': `${masterKey},master`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function online(target, ids) {
  const { results } = await rest(target, 'POST', '/1.2/rtm/clients/check-online', { client_ids: ids });
  return results.length === ids.length;
}

async function eventually(what, check) {
  const deadline = Date.now() + 12_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const version of VERSIONS) {
  const aliceId = uniqueId('alice', version);
  const bobId = uniqueId('bob', version);
  const carolId = uniqueId('carol', version);
  const alice = await new Device(a, version, { label: `alice@A ${version}` }).login(aliceId);
  const bobDevice = new Device(b, version, { label: `bob@B ${version}` });
  const bob = await bobDevice.login(bobId);
  const carol = await new Device(c, version, { label: `carol@C ${version}` }).login(carolId);
  await eventually('every node to see the SDK clients', async () => (await online(a, [bobId, carolId])) && (await online(c, [aliceId, bobId])));

  const conv = await rest(a, 'POST', '/1.2/rtm/conversations', { name: 'across nodes', m: [aliceId, bobId, carolId] });
  const text = `REST on A (${version})`;
  const sent = await rest(a, 'POST', `/1.2/rtm/conversations/${conv.objectId}/messages`, {
    from_client: aliceId,
    message: JSON.stringify({ _lctype: -1, _lctext: text }),
  });
  for (const [who, client] of [['bob on B', bob], ['carol on C', carol]]) {
    const [got] = await client.inbox.waitFor('message', (m) => m.id === sent['msg-id'], `REST message at ${who}`);
    assert.equal(textOf(got), text, `${who} got the text`);
    assert.equal(got.from, aliceId);
  }

  const bobConv = await withTimeout(bob.getConversation(conv.objectId), 'bob fetches the conversation');
  const reply = `SDK on B (${version})`;
  const replySent = await withTimeout(bobConv.send(new bobDevice.IM.TextMessage(reply)), 'bob sends');
  const [gotReply] = await alice.inbox.waitFor('message', (m) => m.id === replySent.id, 'the SDK send at alice on A');
  assert.equal(textOf(gotReply), reply);
  console.log(`ok ${version}: REST on A reached B and C; SDK send on B reached A`);
}
await closeAllDevices();
process.exit(0);
