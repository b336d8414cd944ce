// Test harness: runs one Tidings server process for a test file.
//
// It builds nothing. The binary is `$TIDINGS_BIN`, else `$CARGO_TARGET_DIR/debug/tidings`,
// else `<repo>/target/debug/tidings`. Each server gets a free port on 127.0.0.1, a fresh
// database (SQLite in a temp dir, or a fresh Postgres database when
// `TIDINGS_TEST_DATABASE_URL=postgres://user@host[:port]/anything` is set) and fixed app
// credentials (`APP`). `restart()` stops it with SIGTERM and starts it again on the SAME port
// with the SAME database.
//
// Environment knobs:
//   TIDINGS_BIN                  path of the server binary
//   TIDINGS_TEST_DATABASE_URL    postgres://... to test against Postgres instead of SQLite
//   TIDINGS_TEST_RUST_LOG        RUST_LOG for the server (default "info")
//   TIDINGS_TEST_KEEP            keep temp dirs / databases after the run (for debugging)

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import crypto from 'node:crypto';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');

/** The app every test server is started with (TIDINGS_APP_ID / _APP_KEY / _MASTER_KEY). */
export const APP = Object.freeze({
  appId: 'tidingsSdkE2eApp00000001',
  appKey: 'tidingsSdkE2eAppKey00001',
  masterKey: 'tidingsSdkE2eMasterKey01',
});

export function serverBinary() {
  if (process.env.TIDINGS_BIN) return process.env.TIDINGS_BIN;
  const candidates = [];
  if (process.env.CARGO_TARGET_DIR) candidates.push(path.join(process.env.CARGO_TARGET_DIR, 'debug', 'tidings'));
  candidates.push(path.join(REPO_ROOT, 'target', 'debug', 'tidings'));
  for (const c of candidates) if (fs.existsSync(c)) return c;
  // Last resort: ask cargo where its target directory is (e.g. set in .cargo/config.toml).
  try {
    const meta = JSON.parse(
      execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 30_000,
      }).toString(),
    );
    const c = path.join(meta.target_directory, 'debug', 'tidings');
    candidates.push(c);
    if (fs.existsSync(c)) return c;
  } catch {
    /* no cargo: fall through */
  }
  throw new Error(
    `tidings binary not found (looked at ${candidates.join(', ')}); run \`cargo build\` first or set TIDINGS_BIN`,
  );
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function parsePgUrl(url) {
  const u = new URL(url);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port || '5432',
    user: decodeURIComponent(u.username || 'postgres'),
    password: decodeURIComponent(u.password || ''),
    url: u,
  };
}

function psql(pg, sql) {
  const env = { ...process.env };
  if (pg.password) env.PGPASSWORD = pg.password;
  return execFileSync('psql', ['-h', pg.host, '-p', pg.port, '-U', pg.user, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 20_000,
  });
}

/** Makes the database URL for a fresh server: SQLite file in `dir`, or a new Postgres database. */
function freshDatabase(dir) {
  const base = process.env.TIDINGS_TEST_DATABASE_URL;
  if (!base) {
    return { url: `sqlite://${path.join(dir, 't.db')}`, drop: () => {} };
  }
  if (!/^postgres(ql)?:\/\//.test(base)) throw new Error(`TIDINGS_TEST_DATABASE_URL must be postgres://..., got ${base}`);
  const pg = parsePgUrl(base);
  const name = `tidings_sdk_${Date.now().toString(36)}_${crypto.randomBytes(4).toString('hex')}`;
  try {
    psql(pg, `CREATE DATABASE ${name}`);
  } catch (e) {
    throw new Error(`could not create Postgres database ${name} via psql: ${e.stderr?.toString() || e.message}`);
  }
  const u = new URL(pg.url.toString());
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: () => {
      if (process.env.TIDINGS_TEST_KEEP) return;
      try {
        psql(pg, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } catch {
        /* best effort */
      }
    },
  };
}

const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

export class TidingsServer {
  constructor() {
    this.port = null;
    this.dir = null;
    this.db = null;
    this.child = null;
    this.log = [];
    this.generation = 0;
  }

  get host() {
    return `127.0.0.1:${this.port}`;
  }
  get httpUrl() {
    return `http://127.0.0.1:${this.port}`;
  }
  get wsUrl() {
    return `ws://127.0.0.1:${this.port}/`;
  }
  get app() {
    return APP;
  }

  /** Starts a brand-new server (new port, new database). */
  async start() {
    this.binary = serverBinary();
    this.port = await freePort();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidings-sdk-'));
    this.db = freshDatabase(this.dir);
    await this._spawn();
    return this;
  }

  async _spawn() {
    this.generation += 1;
    const gen = this.generation;
    const env = {
      ...process.env,
      TIDINGS_LISTEN: this.host,
      TIDINGS_DATABASE_URL: this.db.url,
      TIDINGS_FILES_URL: path.join(this.dir, 'files'),
      TIDINGS_APP_ID: APP.appId,
      TIDINGS_APP_KEY: APP.appKey,
      TIDINGS_MASTER_KEY: APP.masterKey,
      RUST_LOG: process.env.TIDINGS_TEST_RUST_LOG || 'info',
      NO_COLOR: '1',
    };
    const child = spawn(this.binary, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    liveChildren.add(child);
    const exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        liveChildren.delete(child);
        this._line(gen, `[process exited code=${code} signal=${signal}]`);
        resolve({ code, signal });
      });
    });
    child.exited = exited;
    for (const stream of [child.stdout, child.stderr]) {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          this._line(gen, buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
    }
    const deadline = Date.now() + 20_000;
    let lastError = null;
    while (Date.now() < deadline) {
      const early = await Promise.race([exited, sleep(100).then(() => null)]);
      if (early) {
        throw new Error(`tidings exited during start-up (${JSON.stringify(early)}); log:\n${this.logTail(40)}`);
      }
      try {
        const res = await fetch(`${this.httpUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
        lastError = new Error(`/healthz answered HTTP ${res.status}`);
      } catch (e) {
        lastError = e;
      }
    }
    throw new Error(`tidings did not answer /healthz within 20 s (${lastError?.message}); log:\n${this.logTail(40)}`);
  }

  _line(gen, line) {
    // eslint-disable-next-line no-control-regex
    this.log.push(`[srv#${gen}] ${line.replace(/\x1b\[[0-9;]*m/g, '')}`);
    if (this.log.length > 5000) this.log.splice(0, this.log.length - 5000);
  }

  logTail(n = 30) {
    return this.log.slice(-n).join('\n');
  }

  /**
   * What a failure report needs from the log since `sinceIndex`: the errors, warnings and panics
   * (backtrace frames dropped), then the last lines.
   */
  logExcerpt(sinceIndex = 0, { important = 12, last = 8 } = {}) {
    const lines = this.log.slice(sinceIndex).filter((l) => !/^\[srv#\d+\]\s+(\d+: |at \/|at \.\/)/.test(l));
    const notable = lines.filter((l) => /\b(ERROR|WARN)\b|panicked|stack backtrace/.test(l)).slice(-important);
    const parts = [];
    if (notable.length) parts.push(`errors/warnings:\n${notable.join('\n')}`);
    parts.push(`last lines:\n${lines.slice(-last).join('\n') || '(nothing logged)'}`);
    return parts.join('\n');
  }

  /** Index to pass to logExcerpt() later. */
  logMark() {
    return this.log.length;
  }

  /** SIGTERM, wait for exit (SIGKILL after 10 s). */
  async _terminate() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const done = await raceTimeout(child.exited, 10_000);
    if (!done) {
      this._line(this.generation, '[did not exit 10 s after SIGTERM: SIGKILL]');
      child.kill('SIGKILL');
      await child.exited;
    }
  }

  /**
   * Stops the server (SIGTERM) and starts it again on the same port and database.
   * `downMs`: how long to stay down between the two.
   */
  async restart({ downMs = 0, whileDown } = {}) {
    await this._terminate();
    if (whileDown) await whileDown();
    if (downMs) await sleep(downMs);
    // The port can take a moment to be bindable again.
    let lastError;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      try {
        await this._spawn();
        return;
      } catch (e) {
        lastError = e;
        if (!/Address already in use|AddrInUse/i.test(String(e.message))) throw e;
        await sleep(500);
      }
    }
    throw lastError;
  }

  async stop() {
    await this._terminate();
    this.db?.drop();
    if (this.dir && !process.env.TIDINGS_TEST_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * REST call. `key`: 'master' (default) or 'app'. Returns `{status, body, text}`; never throws
   * on HTTP errors (use `restOk` for that).
   */
  async rest(method, urlPath, body, { key = 'master', headers = {}, timeoutMs = 10_000 } = {}) {
    const h = {
      'X-LC-Id': APP.appId,
      'X-LC-Key': key === 'master' ? `${APP.masterKey},master` : APP.appKey,
      ...headers,
    };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(`${this.httpUrl}${urlPath}`, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new Error(`REST ${method} ${urlPath} failed: ${e.message}`);
    }
    const text = await res.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: res.status, body: parsed, text };
  }

  /** REST call that must answer 2xx; the error message names the call and the answer. */
  async restOk(method, urlPath, body, opts) {
    const res = await this.rest(method, urlPath, body, opts);
    if (res.status < 200 || res.status >= 300) {
      throw new Error(
        `REST ${method} ${urlPath} ${body === undefined ? '' : JSON.stringify(body)} answered HTTP ${res.status}: ${res.text.slice(0, 500)}`,
      );
    }
    return res.body;
  }
}

/** `promise`'s value, or null after `ms` (the timer does not keep the process alive). */
function raceTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Starts a fresh server. */
export async function startServer() {
  const server = new TidingsServer();
  await server.start();
  return server;
}
