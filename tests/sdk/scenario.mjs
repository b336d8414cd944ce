// Shared scaffolding of the test files: one server per file, one `describe` per SDK version,
// every test wrapped with diagnostics and a hard timeout, every device closed afterwards.

import { describe, test, before, after } from 'node:test';
import { startServer } from './harness.mjs';
import { VERSIONS, closeAllDevices, diagnose, Device } from './sdk.mjs';

export const TEST_TIMEOUT = Number(process.env.TIDINGS_SDK_TEST_TIMEOUT_MS || 60_000);

/**
 * Starts one Tidings server for the whole file and stops it at the end. Returns a holder whose
 * `.server` is set once the server is up.
 */
export function useServer() {
  const holder = { server: null };
  // A file's own `before` (app settings, then a restart) awaits this: node's root hooks do
  // not always wait for one another, and the server must be up before it is configured.
  let started;
  holder.ready = new Promise((resolve, reject) => {
    started = { resolve, reject };
  });
  holder.ready.catch(() => {});
  before(async () => {
    try {
      holder.server = await startServer();
      started.resolve(holder.server);
    } catch (err) {
      started.reject(err);
      throw err;
    }
  });
  after(async () => {
    await closeAllDevices();
    await holder.server?.stop();
    // The SDKs keep reconnect timers; never let them keep this test file's process alive.
    setTimeout(() => process.exit(), 3000).unref();
  });
  return holder;
}

/**
 * `forEachVersion(holder, (version, it) => { it('name', async (ctx) => {...}) })`:
 * declares the tests once per SDK version. `ctx.server` is the running server, `ctx.device(opts)`
 * makes a device that is closed when the test ends, `ctx.version` is 'v4' or 'v5'.
 */
export function forEachVersion(holder, declare) {
  for (const version of VERSIONS) {
    describe(`leancloud-realtime ${version === 'v4' ? '4.3.1' : '5.0.0-rc.8'} (${version})`, () => {
      const it = (name, fn, { timeout = TEST_TIMEOUT, skip } = {}) =>
        test(`[${version}] ${name}`, { timeout, skip }, async () => {
          const devices = [];
          const ctx = {
            version,
            server: holder.server,
            device: (opts = {}) => {
              const d = new Device(holder.server, version, opts);
              devices.push(d);
              return d;
            },
          };
          try {
            await diagnose(holder.server, () => fn(ctx));
          } finally {
            await Promise.all(devices.map((d) => d.close()));
          }
        });
      declare(version, it);
    });
  }
}
