// The official JS SDKs, pointed at a local Tidings server, plus what the tests need around them:
//
// * `VERSIONS`: the two SDK lines under test (npm aliases `lc4` = leancloud-realtime@4.3.1,
//   `lc5` = leancloud-realtime@5.0.0-rc.8). `TIDINGS_SDK_VERSIONS=v5` runs only one.
// * `Device`: one `Realtime` instance = one app install. Each device loads its OWN copy of the
//   SDK module: v5 allows a single `Realtime` per appId per process ("App [...] is already
//   initialized"), and several devices are needed for multi-device scenarios (tag conflict,
//   offline member). The SDK code is not modified, only evaluated once per device; message
//   classes therefore belong to a device (`device.IM.TextMessage`, `device.typed.ImageMessage`).
// * Offline guard: every DNS lookup is refused (nothing here may reach the internet); the
//   tests assert that none was attempted.
// * Frame tap: every WebSocket frame both ways is decoded (protobuf, lc4's message.proto plus
//   the v5-only GenericCommand fields) and kept, so that a failing test prints the wire
//   transcript next to its assertion.
// * `Inbox`: records an emitter's events from the moment it is created; `waitFor` resolves on a
//   past or future matching event, or fails after a timeout with a message saying what was
//   awaited and what arrived instead.

import { createRequire } from 'node:module';
import dns from 'node:dns';
import fs from 'node:fs';

const require = createRequire(import.meta.url);

export const DEFAULT_TIMEOUT = Number(process.env.TIDINGS_SDK_WAIT_MS || 10_000);

const ALL_VERSIONS = ['v4', 'v5'];
export const VERSIONS = process.env.TIDINGS_SDK_VERSIONS
  ? process.env.TIDINGS_SDK_VERSIONS.split(',').map((v) => v.trim()).filter((v) => ALL_VERSIONS.includes(v))
  : ALL_VERSIONS;

const PACKAGES = { v4: 'lc4', v5: 'lc5' };

// ---------------------------------------------------------------------------------------------
// Offline guard: refuse every DNS lookup (SDK defaults would ask app-router.com, *.lncld.net...).
// Loopback IPs (all our traffic) need no lookup. 'localhost' is allowed.

const externalLookups = [];
const LOCAL_NAMES = new Set(['localhost', '127.0.0.1', '::1']);
function blocked(hostname) {
  externalLookups.push({ hostname, at: new Date().toISOString(), stack: new Error().stack.split('\n').slice(2, 8).join('\n') });
  const err = new Error(`getaddrinfo ENOTFOUND ${hostname} (blocked by the SDK test suite: no internet access allowed)`);
  err.code = 'ENOTFOUND';
  err.hostname = hostname;
  return err;
}
const origLookup = dns.lookup;
dns.lookup = function guardedLookup(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  if (LOCAL_NAMES.has(hostname)) return origLookup.call(dns, hostname, options, callback);
  const err = blocked(hostname);
  process.nextTick(() => callback(err));
  return undefined;
};
const origPromisesLookup = dns.promises.lookup;
dns.promises.lookup = async function guardedPromisesLookup(hostname, options) {
  if (LOCAL_NAMES.has(hostname)) return origPromisesLookup.call(dns.promises, hostname, options);
  throw blocked(hostname);
};

/** Host names the SDKs tried to resolve (must stay empty). */
export function attemptedExternalLookups() {
  return externalLookups.slice();
}

// ---------------------------------------------------------------------------------------------
// Frame tap (the SDKs both use the single `ws@5` in node_modules).

const ProtoBuf = require('protobufjs');
const protoText = fs
  .readFileSync(require.resolve('lc4/proto/message.proto'), 'utf8')
  .replace(/(message GenericCommand \{[^}]*?optional int64 serverTs = 9;)/, '$1\n  optional int64 clientTs = 10;\n  optional int32 notificationType = 11;');
const proto = ProtoBuf.loadProto(protoText).build('push_server.messages2');

function prune(value) {
  if (Array.isArray(value)) {
    const arr = value.map(prune).filter((v) => v !== undefined);
    return arr.length ? arr : undefined;
  }
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      const p = prune(v);
      if (p !== undefined) out[k] = p;
    }
    return out;
  }
  return value === null ? undefined : value;
}

/** Decodes one frame's payload (Buffer / ArrayBuffer / base64 text) into a plain object. */
export function decodeFrame(data) {
  let buf;
  let text = false;
  if (typeof data === 'string') {
    buf = Buffer.from(data, 'base64');
    text = true;
  } else if (data instanceof ArrayBuffer) {
    buf = Buffer.from(data);
  } else if (ArrayBuffer.isView(data)) {
    buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  } else if (Array.isArray(data)) {
    buf = Buffer.concat(data);
  } else {
    return { undecodable: String(data) };
  }
  try {
    const raw = proto.GenericCommand.decode(buf).toRaw(true, true);
    const cmd = prune(raw) || {};
    if (text) cmd._text = true;
    return cmd;
  } catch (e) {
    return { undecodable: `${e.message}; bytes=${buf.toString('hex').slice(0, 200)}` };
  }
}

const frames = [];
let socketSeq = 0;
const WS = require('ws');
const origSend = WS.prototype.send;
WS.prototype.send = function tappedSend(data, ...rest) {
  record(this, '>', data);
  return origSend.call(this, data, ...rest);
};
const origEmit = WS.prototype.emit;
WS.prototype.emit = function tappedEmit(event, ...args) {
  if (event === 'message') record(this, '<', args[0]);
  else if (event === 'open') note(this, `open (sub-protocol "${this.protocol}")`);
  else if (event === 'close') note(this, `close code=${args[0]} reason=${JSON.stringify(String(args[1] ?? ''))}`);
  else if (event === 'error') note(this, `error ${args[0]?.message}`);
  else if (event === 'unexpected-response') note(this, `unexpected HTTP response ${args[1]?.statusCode} to the upgrade`);
  return origEmit.call(this, event, ...args);
};
function sockId(ws) {
  if (!ws.__tapId) ws.__tapId = ++socketSeq;
  return ws.__tapId;
}
function record(ws, dir, data) {
  frames.push({ at: Date.now(), sock: sockId(ws), dir, cmd: decodeFrame(data) });
  if (frames.length > 20000) frames.splice(0, 5000);
}
function note(ws, text) {
  frames.push({ at: Date.now(), sock: sockId(ws), dir: '*', text: `${ws.url || ''} ${text}` });
}

/** Position in the frame log, for `transcript(since)`. */
export function frameMark() {
  return frames.length ? frames[frames.length - 1].at : 0;
}
/** All decoded frames recorded after `since` (ms timestamp from frameMark()). */
export function framesSince(since = 0) {
  return frames.filter((f) => f.at > since);
}

function short(cmd) {
  const { cmd: c, op, i, peerId, service, serverTs, appId, notificationType, ...rest } = cmd;
  const head = [`${c ?? '?'}${op ? `/${op}` : ''}`];
  if (i !== undefined) head.push(`i=${i}`);
  if (peerId !== undefined) head.push(`peerId=${peerId}`);
  if (service !== undefined) head.push(`service=${service}`);
  if (serverTs !== undefined) head.push(`serverTs=${serverTs}`);
  if (notificationType !== undefined) head.push(`notificationType=${notificationType}`);
  const body = JSON.stringify(rest);
  return `${head.join(' ')} ${body === '{}' ? '' : body.length > 600 ? `${body.slice(0, 600)}…` : body}`;
}

/** A readable wire transcript (last `max` frames since `since`). */
export function transcript(since = 0, max = 40) {
  const list = framesSince(since);
  const shown = list.slice(-max);
  const lines = shown.map((f) => {
    const t = new Date(f.at).toISOString().slice(17, 23);
    if (f.dir === '*') return `  ${t} ws#${f.sock} ** ${f.text}`;
    const arrow = f.dir === '>' ? 'C>S' : 'S>C';
    return `  ${t} ws#${f.sock} ${arrow} ${f.cmd.undecodable ? `UNDECODABLE ${f.cmd.undecodable}` : short(f.cmd)}`;
  });
  if (list.length > shown.length) lines.unshift(`  … ${list.length - shown.length} earlier frames omitted`);
  return lines.join('\n') || '  (no WebSocket frames)';
}

// ---------------------------------------------------------------------------------------------
// leancloud-storage (AV) is only used to build AV.File / AV.GeoPoint objects for the typed
// messages plugin. Nothing is uploaded: a file that "exists" is made from a URL and an id.

let AVsingleton = null;
export function getAV(server) {
  if (!AVsingleton) {
    AVsingleton = require('leancloud-storage');
    // serverURL given => no app-router lookup. AV never talks to the network in these tests.
    AVsingleton.init({ appId: server.app.appId, appKey: server.app.appKey, serverURL: server.httpUrl });
  }
  return AVsingleton;
}

/** An AV.File that looks saved (has an id and URL) without any upload. */
export function existingFile(AV, { id, name, url, metaData = {} }) {
  const file = AV.File.withURL(name, url, metaData);
  file.id = id;
  return file;
}

const initTypedMessages = require('leancloud-realtime-plugin-typed-messages');

/** A fresh evaluation of the SDK module for `version` (see the header comment). */
export function loadIM(version) {
  const pkg = PACKAGES[version];
  if (!pkg) throw new Error(`unknown SDK version ${version}`);
  const entry = require.resolve(pkg);
  delete require.cache[entry];
  const IM = require(entry);
  delete require.cache[entry];
  return IM;
}

// ---------------------------------------------------------------------------------------------
// Timeouts and event recording.

export class TimeoutError extends Error {}

/** `promise`, or a rejection naming `what` after `ms`. */
export function withTimeout(promise, what, ms = DEFAULT_TIMEOUT) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([Promise.resolve(promise), timeout]).finally(() => clearTimeout(timer));
}

/** `promise` rejects; returns the error (fails if it resolves or hangs). */
export async function rejects(promise, what, ms = DEFAULT_TIMEOUT) {
  try {
    const v = await withTimeout(promise, what, ms);
    throw Object.assign(new Error(`expected ${what} to fail, but it succeeded with ${describe(v)}`), { _expectedFailure: true });
  } catch (e) {
    if (e._expectedFailure || e instanceof TimeoutError) throw e;
    return e;
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Short human text of an SDK value (message, conversation, event payload...). */
export function describe(value) {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  if (typeof value !== 'object') return JSON.stringify(value);
  const name = value.constructor?.name || 'Object';
  if ('cid' in value && 'from' in value && ('content' in value || typeof value.getPayload === 'function')) {
    let content;
    try {
      content = typeof value.getPayload === 'function' ? value.getPayload() : value.content;
    } catch {
      content = value.content;
    }
    return `${name}{id=${value.id}, from=${value.from}, cid=${value.cid}, content=${JSON.stringify(content)}}`;
  }
  if ('members' in value && 'id' in value) {
    return `${name}{id=${value.id}, name=${JSON.stringify(value.name)}, members=${JSON.stringify(value.members)}, unread=${value.unreadMessagesCount}}`;
  }
  try {
    return `${name}${JSON.stringify(value)}`.slice(0, 400);
  } catch {
    return name;
  }
}

/** Records `events` of `emitter` from now on. */
export class Inbox {
  constructor(emitter, events, label) {
    this.label = label;
    this.entries = [];
    this.waiters = [];
    for (const event of [].concat(events)) {
      emitter.on(event, (...args) => this._push(event, args));
    }
  }

  _push(event, args) {
    const entry = { event, args, at: Date.now() };
    this.entries.push(entry);
    for (const w of this.waiters.slice()) {
      if (w.match(entry)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(entry);
      }
    }
  }

  /** All args-arrays recorded for `event`. */
  all(event) {
    return this.entries.filter((e) => e.event === event).map((e) => e.args);
  }

  /**
   * Resolves with the args of the first recorded (past or future) `event` for which
   * `predicate(...args)` is true. `what` describes it for the timeout message.
   */
  waitFor(event, predicate = () => true, what = '', ms = DEFAULT_TIMEOUT) {
    const match = (entry) => {
      if (entry.event !== event || entry.consumed) return false;
      try {
        return predicate(...entry.args);
      } catch {
        return false;
      }
    };
    const found = this.entries.find(match);
    if (found) {
      found.consumed = true;
      return Promise.resolve(found.args);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (entry) => {
          clearTimeout(waiter.timer);
          entry.consumed = true;
          resolve(entry.args);
        },
      };
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        const seen = this.entries.filter((e) => e.event === event);
        const others = this.entries.filter((e) => e.event !== event).map((e) => e.event);
        reject(
          new TimeoutError(
            `timed out after ${ms} ms waiting for ${this.label} to get '${event}'${what ? ` (${what})` : ''}; ` +
              `it got ${seen.length} '${event}' event(s)${seen.length ? `: ${seen.slice(-5).map((e) => describe(e.args.length === 1 ? e.args[0] : e.args)).join('; ')}` : ''}` +
              `${others.length ? `; other events: ${[...new Set(others)].join(', ')}` : ''}`,
          ),
        );
      }, ms);
      this.waiters.push(waiter);
    });
  }

  /** Asserts that no `event` arrives within `ms` (returns what arrived, for the caller to check). */
  async quietFor(event, ms) {
    const before = this.all(event).length;
    await sleep(ms);
    return this.all(event).slice(before);
  }
}

export const CLIENT_EVENTS = [
  'message',
  'unreadmessagescountupdate',
  'messagerecall',
  'messageupdate',
  'conflict',
  'close',
  'disconnect',
  'reconnect',
  'reconnecterror',
  'invited',
  'kicked',
  'membersjoined',
  'membersleft',
  'conversationinfoupdated',
  'unhandledmessage',
];

// ---------------------------------------------------------------------------------------------
// Devices and clients.

let clientSeq = 0;
/** A client id unique to this run: `<prefix>-<version>-<n>-<random>`. */
export function uniqueId(prefix, version) {
  clientSeq += 1;
  return `${prefix}-${version}-${clientSeq}-${Math.random().toString(36).slice(2, 7)}`;
}

const liveDevices = new Set();

/**
 * One `Realtime` of SDK `version` configured for `server` (see protocol.md §1.3):
 *  - v5: `server: 'http://127.0.0.1:PORT'` (REST + router base; mandatory for v5 unless the appId
 *    ends in -MdYXbMMI) and `RTMServers: 'ws://127.0.0.1:PORT/'` (no router request at all).
 *  - v4: `RTMServers` only is enough to connect; `server: '127.0.0.1:PORT'` is set as well so that
 *    v4's REST calls (GET /1.1/rtm/notifications after a reconnect) stay on this machine instead of
 *    asking LeanCloud's app router. v4 forces https:// on it, so those calls fail fast locally
 *    (the SDK only logs "Syncing notifications failed").
 *  - `route: true` (v5 only): omit RTMServers, so the SDK asks `<server>/v1/route` for the
 *    WebSocket URL.
 */
export class Device {
  constructor(server, version, { route = false, noBinary = false, label } = {}) {
    this.server = server;
    this.version = version;
    this.label = label || `${version}-device`;
    this.IM = loadIM(version);
    this.AV = getAV(server);
    this.typed = initTypedMessages(this.AV, this.IM);
    const options = {
      appId: server.app.appId,
      appKey: server.app.appKey,
      plugins: [this.typed.TypedMessagesPlugin],
      noBinary,
    };
    if (version === 'v5') {
      options.server = server.httpUrl;
      if (!route) options.RTMServers = server.wsUrl;
    } else {
      if (route) throw new Error('v4 cannot use the router against a plain-HTTP server (it forces https://)');
      options.server = server.host;
      options.RTMServers = server.wsUrl;
    }
    this.realtime = new this.IM.Realtime(options);
    this.realtimeInbox = new Inbox(this.realtime, ['disconnect', 'reconnect', 'schedule', 'retry', 'error', 'offline', 'online'], `${this.label} realtime`);
    this.clients = [];
    liveDevices.add(this);
  }

  /** createIMClient(id, options) with a timeout; returns the client with an `inbox` attached. */
  async login(id, options, what) {
    const client = await withTimeout(
      this.realtime.createIMClient(id, options),
      what || `${this.label}: createIMClient(${JSON.stringify(id)}${options ? `, ${JSON.stringify(options)}` : ''}) (session open → opened)`,
    );
    if (!client.inbox) client.inbox = new Inbox(client, CLIENT_EVENTS, `${this.label} client ${client.id}`);
    this.clients.push(client);
    return client;
  }

  /** The device's current `ws` socket (SDK internals: Realtime._openPromise → Connection._ws). */
  async socket() {
    const connection = await withTimeout(this.realtime._openPromise, `${this.label}: connection`);
    return connection?._ws || null;
  }

  /** Cuts the device's socket without a close handshake, as a network loss would. */
  async dropConnection() {
    const ws = await this.socket();
    if (!ws) throw new Error(`${this.label} has no open socket to drop`);
    if (typeof ws.terminate === 'function') ws.terminate();
    else ws.close();
  }

  async close() {
    liveDevices.delete(this);
    await Promise.all(
      this.clients.map((c) => withTimeout(c.close(), `${this.label}: close ${c.id}`, 3000).catch(() => {})),
    );
    // Realtime._close() chains on the connection promise: only call it when that promise
    // resolved, or a failed connection would surface as an unhandled rejection.
    const opening = this.realtime._openPromise;
    if (!opening) return;
    const connected = await withTimeout(
      opening.then(
        () => true,
        () => false,
      ),
      'connection state',
      3000,
    ).catch(() => false);
    if (!connected) return;
    try {
      this.realtime._close();
    } catch {
      /* already closed */
    }
  }
}

/** Closes every device still open (use in after hooks). */
export async function closeAllDevices() {
  await Promise.all([...liveDevices].map((d) => d.close()));
}

/** Logs `id` in on a new device of `version` (one device per client, like separate phones). */
export async function loginOnNewDevice(server, version, id, options) {
  const device = new Device(server, version, { label: `${version}/${id}` });
  const client = await device.login(id, options);
  return { device, client };
}

/** Text of a received message, whatever its class. */
export function textOf(message) {
  if (!message) return undefined;
  if (typeof message.getText === 'function') return message.getText();
  if (typeof message.text === 'string') return message.text;
  return message.content;
}

// ---------------------------------------------------------------------------------------------
// Running a scenario with diagnostics.

/**
 * Runs `fn`, and when it fails rethrows an error whose message carries the original failure,
 * the wire transcript of this scenario and the tail of the server log.
 */
export async function diagnose(server, fn) {
  const mark = frameMark();
  const logMark = server?.logMark?.() ?? 0;
  const lookupsBefore = externalLookups.length;
  try {
    await fn();
  } catch (e) {
    // The failure and where it was raised (a few frames: SDK internals are rarely the point).
    const stack = String(e?.stack || e).split('\n');
    const firstFrame = stack.findIndex((l) => /^\s+at /.test(l));
    const head = firstFrame < 0 ? stack : [...stack.slice(0, firstFrame), ...stack.slice(firstFrame, firstFrame + 4)];
    const parts = [head.join('\n')];
    if (e && typeof e === 'object' && e.code !== undefined) parts[0] += `\n    (error code ${e.code})`;
    const lookups = externalLookups.slice(lookupsBefore);
    if (lookups.length) parts.push(`External DNS lookups attempted (blocked): ${lookups.map((l) => l.hostname).join(', ')}`);
    parts.push(`WebSocket transcript of this test (C>S = SDK to server, S>C = server to SDK):\n${transcript(mark)}`);
    if (server) parts.push(`Server log during this test, ${server.logExcerpt(logMark)}`);
    const err = new Error(parts.join('\n\n'));
    // keep the assertion fields so the reporter can still show expected/actual
    if (e && typeof e === 'object') {
      for (const k of ['actual', 'expected', 'operator', 'generatedMessage', 'code']) if (k in e) err[k] = e[k];
    }
    err.stack = err.message;
    throw err;
  }
  const lookups = externalLookups.slice(lookupsBefore);
  if (lookups.length) {
    throw new Error(
      `the SDK tried to reach the internet (blocked DNS lookups: ${lookups.map((l) => l.hostname).join(', ')}):\n${lookups[0].stack}`,
    );
  }
}
