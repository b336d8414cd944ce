// Creating conversations: a unique conversation is the same object every time (same id), the
// invited member is notified and can fetch it; a non-unique create makes a new one.

import assert from 'node:assert/strict';
import { useServer, forEachVersion } from '../scenario.mjs';
import { uniqueId, withTimeout } from '../sdk.mjs';

const holder = useServer();

forEachVersion(holder, (version, it) => {
  it('create a unique conversation twice (and from the other member): same conversation', async (ctx) => {
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const alice = await ctx.device({ label: 'alice' }).login(aliceId);
    const bob = await ctx.device({ label: 'bob' }).login(bobId);

    const first = await withTimeout(
      alice.createConversation({ members: [bobId], name: 'alice & bob', unique: true }),
      'alice.createConversation({members:[bob], unique:true}) (conv start → started)',
    );
    assert.equal(typeof first.id, 'string', 'conversation id');
    assert.ok(first.id.length > 0);
    assert.deepEqual([...first.members].sort(), [aliceId, bobId].sort(), 'members of the new conversation');

    // bob is told he was invited (conv joined push, JS event INVITED)
    const [invite, invitedConv] = await bob.inbox.waitFor('invited', (p, c) => c?.id === first.id, `INVITED for ${first.id}`);
    assert.equal(invite.invitedBy, aliceId, 'INVITED payload invitedBy');
    assert.equal(invitedConv.id, first.id);

    const second = await withTimeout(
      alice.createConversation({ members: [bobId], name: 'another name', unique: true }),
      'second unique createConversation by alice',
    );
    assert.equal(second.id, first.id, 'a second unique create with the same members returns the same conversation id');

    const fromBob = await withTimeout(
      bob.createConversation({ members: [aliceId], name: 'bob & alice', unique: true }),
      'unique createConversation by bob with alice',
    );
    assert.equal(fromBob.id, first.id, 'the other member creating a unique conversation with the same members gets the same id');

    // bob can fetch it from the server, with its attributes
    const fetched = await withTimeout(bob.getConversation(first.id, true), `bob.getConversation(${first.id}, noCache) (conv query)`);
    assert.ok(fetched, 'bob.getConversation returns the conversation');
    assert.equal(fetched.id, first.id);
    assert.deepEqual([...fetched.members].sort(), [aliceId, bobId].sort(), 'members seen by bob');
    assert.equal(fetched.creator, aliceId, 'creator seen by bob');
    assert.equal(fetched.name, 'alice & bob', 'name seen by bob (the unique create by others must not rename it)');
    assert.ok(fetched.createdAt instanceof Date && !Number.isNaN(fetched.createdAt.getTime()), 'createdAt is a valid date');
  });

  it('a non-unique create makes a new conversation; custom attributes round-trip', async (ctx) => {
    const aliceId = uniqueId('alice', version);
    const bobId = uniqueId('bob', version);
    const alice = await ctx.device({ label: 'alice' }).login(aliceId);
    const bob = await ctx.device({ label: 'bob' }).login(bobId);
    const a = await withTimeout(alice.createConversation({ members: [bobId], name: 'one', unique: false, color: 'red' }), 'create #1');
    const b = await withTimeout(alice.createConversation({ members: [bobId], name: 'two', unique: false }), 'create #2');
    assert.notEqual(a.id, b.id, 'two non-unique creates give two conversations');
    const fetched = await withTimeout(bob.getConversation(a.id, true), `bob.getConversation(${a.id})`);
    assert.equal(fetched.get('color'), 'red', 'custom attribute "color" as seen by bob');
    assert.equal(fetched.name, 'one');
    const found = await withTimeout(
      bob.getQuery().equalTo('name', 'two').containsMembers([bobId]).find(),
      'bob query {name: "two", m: bob}',
    );
    assert.deepEqual(
      found.map((c) => c.id),
      [b.id],
      'conversation query by name and member',
    );
  });
});
