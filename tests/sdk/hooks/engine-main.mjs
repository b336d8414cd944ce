// The app's cloud functions for 14-hooks.test.mjs, run by the real LeanEngine Node runtime
// (`leanengine`, `AV.Cloud.define`) in its own process (it brings its own LeanStorage SDK,
// kept apart from the tests' one). LeanEngine checks X-LC-Id, the master X-LC-Sign and
// X-LC-Hook-Key itself, so a call reaching a function proves Tidings' wire format.
// Prints `{"port": N}` once listening, then one JSON line per call: `{"name", "params"}`.
//
//   APP_ID=... APP_KEY=... MASTER_KEY=... HOOK_KEY=... node engine-main.mjs

import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AV = require('leanengine');

AV.init({
  appId: process.env.APP_ID,
  appKey: process.env.APP_KEY,
  masterKey: process.env.MASTER_KEY,
  hookKey: process.env.HOOK_KEY,
  // Never used: the functions below do not call LeanStorage.
  serverURLs: 'http://127.0.0.1:1',
});

const functions = {
  _messageReceived: ({ content = '' }) => {
    if (content.includes('spam')) return { drop: true, code: 42, detail: 'no spam here' };
    if (content.includes('darn')) return { content: content.replace('darn', '****') };
    return {};
  },
  _conversationStart: ({ attr = {} }) =>
    attr.name === 'forbidden' ? { reject: true, code: 7, detail: 'not that name' } : {},
  _conversationUpdate: ({ attr }) =>
    attr && typeof attr.name === 'string' ? { attr: { ...attr, name: `${attr.name} (checked)` } } : {},
  _messageSent: () => ({}),
  _receiversOffline: () => ({}),
  _clientOnline: () => ({}),
  _clientOffline: () => ({}),
  _rtmClientSign: (user) => {
    if (user.username.startsWith('banned')) throw new AV.Cloud.Error('banned user', { code: 403 });
    return true;
  },
};

for (const [name, fn] of Object.entries(functions)) {
  AV.Cloud.define(name, async (request) => {
    process.stdout.write(`${JSON.stringify({ name, params: request.params })}\n`);
    return fn(request.params);
  });
}

const server = http.createServer(AV.express());
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
