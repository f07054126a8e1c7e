// Starts the real bin/whisperserver on a free 127.0.0.1 port over a folder.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WHISPERSERVER = process.env.WHISPERSERVER || path.join(ROOT, 'bin', 'whisperserver');
export const SCREENSHOTS = process.env.SCREENSHOTS || path.join(ROOT, '.build', 'screenshots');

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor(what, fn, timeoutMs = 20000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

// startServer runs whisperserver over dir (args: more flags, such as
// ['-dashboards', folder]); stop() ends it with SIGTERM.
export async function startServer(dir, port, { args = [] } = {}) {
  if (!fs.existsSync(WHISPERSERVER)) {
    throw new Error(`${WHISPERSERVER} does not exist: run \`make\` (or go build -o bin/ ./cmd/whisperserver) first`);
  }
  port = port || await freePort();
  const listen = `127.0.0.1:${port}`;
  const child = spawn(WHISPERSERVER, ['-whisper-dir', dir, '-listen', listen, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (b) => { output = (output + b.toString()).slice(-20000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const done = new Promise((resolve) => child.on('exit', (code, sig) => { exited = { code, sig }; resolve(); }));
  const url = `http://${listen}/`;
  try {
    await waitFor(`${WHISPERSERVER} on ${listen}`, async () => {
      if (exited) throw new Error(`exited (${JSON.stringify(exited)}): ${output}`);
      const res = await fetch(`${url}healthz`, { signal: AbortSignal.timeout(2000) });
      return res.ok;
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    port,
    dir,
    output: () => output,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    },
  };
}
