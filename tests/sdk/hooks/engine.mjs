// Starts `engine-main.mjs` (LeanEngine with the test's cloud functions) as a child process
// and collects the calls it reports.

import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export const HOOK_KEY = 'sdk-test-hook-key';
const main = path.join(path.dirname(fileURLToPath(import.meta.url)), 'engine-main.mjs');

export async function startEngine(app) {
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, APP_ID: app.appId, APP_KEY: app.appKey, MASTER_KEY: app.masterKey, HOOK_KEY },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const calls = [];
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('LeanEngine did not start')), 15000);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      let event;
      try {
        event = JSON.parse(line);
      } catch {
        return;
      }
      if (event.port) {
        clearTimeout(timer);
        resolve(event.port);
      } else if (event.name) {
        calls.push(event);
      }
    });
    child.on('exit', (code) => reject(new Error(`LeanEngine exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    /** The first call to `name` whose params satisfy `pred`, waiting up to 10 s. */
    async waitFor(name, pred = () => true, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = calls.find((c) => c.name === name && pred(c.params));
        if (found) return found.params;
        if (Date.now() > deadline) throw new Error(`no matching ${name} call in ${JSON.stringify(calls)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: () => child.kill('SIGTERM'),
  };
}
