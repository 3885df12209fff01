// Starts and stops the nexios examples for the Node tests (the echo example by default).
//
// The binary comes from $NEXIOS_ECHO_BIN (set by ctest), else build-it/bin/echo or build/bin/echo.
// startEchoServer() runs `echo --host 127.0.0.1 --port 0 --threads 2`, waits (with a timeout) for
// its "listening on" line and returns the port; stop() sends SIGINT and resolves with the exit code.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export const HOST = '127.0.0.1';

export function echoBinary() {
  if (process.env.NEXIOS_ECHO_BIN) return process.env.NEXIOS_ECHO_BIN;
  for (const dir of ['build-it', 'build']) {
    const candidate = resolve(here, '..', '..', dir, 'bin', 'echo');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('echo binary not found: set NEXIOS_ECHO_BIN');
}

/** Rejects with `what` timed out after `ms`, unless `promise` settles first. */
export function withTimeout(promise, ms, what = 'operation') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Starts the echo example: startServer(echoBinary()). */
export function startEchoServer(options = {}) {
  return startServer(echoBinary(), options);
}

/**
 * Runs `binary --host 127.0.0.1 --port 0 --threads 2` (any of the examples), waits for its
 * "listening on" line and returns { port, proc, url(path) (ws://), httpUrl(path), stderr(), stop() };
 * stop() sends SIGINT and resolves with the exit code.
 */
export async function startServer(binary, { startTimeoutMs = 15000 } = {}) {
  const proc = spawn(binary, ['--host', HOST, '--port', '0', '--threads', '2'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const exited = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));

  const port = await withTimeout(
    new Promise((res, reject) => {
      let out = '';
      proc.stdout.setEncoding('utf8');
      const onData = (d) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl < 0) return;
        proc.stdout.off('data', onData);
        proc.stdout.resume(); // keep draining
        const m = /listening on http:\/\/([0-9.]+):(\d+)/.exec(out.slice(0, nl));
        if (!m) reject(new Error(`unexpected first line: ${JSON.stringify(out.slice(0, nl))}`));
        else res(Number(m[2]));
      };
      proc.stdout.on('data', onData);
      proc.once('error', reject);
      exited.then(({ code, signal }) =>
        reject(new Error(`${binary} exited (${code ?? signal}) before listening; stderr: ${stderr}`)),
      );
    }),
    startTimeoutMs,
    'waiting for the listening line',
  ).catch((e) => {
    proc.kill('SIGKILL');
    throw e;
  });

  return {
    port,
    proc,
    url: (path = '/ws') => `ws://${HOST}:${port}${path}`,
    httpUrl: (path = '/') => `http://${HOST}:${port}${path}`,
    stderr: () => stderr,
    /** SIGINT, then the exit status (null if killed by a signal); kills it after the timeout. */
    async stop(timeoutMs = 15000) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGINT');
      try {
        const { code } = await withTimeout(exited, timeoutMs, 'waiting for the server to exit');
        return code;
      } catch (e) {
        proc.kill('SIGKILL');
        throw e;
      }
    },
  };
}
