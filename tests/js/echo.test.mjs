// Interoperability of the nexios echo example with a second client implementation: the `ws` package.
//
//   NEXIOS_ECHO_BIN=build-it/bin/echo node --test tests/js/echo.test.mjs

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import WebSocket from 'ws';

import { startEchoServer, withTimeout } from './server.mjs';

const MiB = 1024 * 1024;
const OP_TIMEOUT = 20000;

let server;

before(async () => {
  server = await startEchoServer();
});

after(async () => {
  const code = await server.stop();
  assert.equal(code, 0, `echo exit status; stderr: ${server.stderr()}`);
});

/**
 * Opens a client and resolves once it is open. Messages are queued from the start (a server may
 * send right after its 101, before the caller gets to listen), and read with nextMessage().
 */
function open(path = '/ws', options = {}) {
  const ws = new WebSocket(server.url(path), { perMessageDeflate: false, ...options });
  const queue = [];
  const waiters = [];
  let closedWith = null;
  ws.on('message', (data, isBinary) => {
    const msg = { data, isBinary };
    if (waiters.length) waiters.shift().res(msg);
    else queue.push(msg);
  });
  ws.on('close', (code) => {
    closedWith = code;
    for (const w of waiters.splice(0)) w.reject(new Error(`closed with ${code} while waiting for a message`));
  });
  ws.nextMessage = () => {
    if (queue.length) return Promise.resolve(queue.shift());
    if (closedWith !== null) return Promise.reject(new Error(`closed with ${closedWith}`));
    return withTimeout(new Promise((res, reject) => waiters.push({ res, reject })), OP_TIMEOUT, 'waiting for a message');
  };
  return withTimeout(
    new Promise((res, reject) => {
      ws.once('open', () => res(ws));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, r) => reject(new Error(`unexpected response ${r.statusCode}`)));
    }),
    OP_TIMEOUT,
    `connecting to ${path}`,
  );
}

/** Resolves with the next message as { data, isBinary }. */
function nextMessage(ws) {
  return ws.nextMessage();
}

/** Closes with `code`/`reason`, resolves with the server's close { code, reason }. */
function closeWith(ws, code, reason) {
  const closed = new Promise((res) => ws.once('close', (c, r) => res({ code: c, reason: r.toString() })));
  ws.close(code, reason);
  return withTimeout(closed, OP_TIMEOUT, 'waiting for the close');
}

async function roundTrip(ws, payload, binary) {
  const reply = nextMessage(ws);
  ws.send(payload, { binary });
  return reply;
}

const SIZES = [0, 1, 125, 126, 127, 65535, 65536, 16 * MiB];

describe('echo', () => {
  for (const n of SIZES) {
    it(`text message of ${n} bytes`, async () => {
      const ws = await open();
      const text = 'héllo ✓ '.repeat(Math.ceil(n / 10) + 1);
      const payload = Buffer.from(text).subarray(0, n);
      // Cut on a character boundary, then pad with ASCII to exactly n bytes.
      let s = payload.toString('utf8').replace(/\uFFFD+$/, '');
      s += 'x'.repeat(n - Buffer.byteLength(s));
      assert.equal(Buffer.byteLength(s), n);
      const { data, isBinary } = await roundTrip(ws, s, false);
      assert.equal(isBinary, false);
      assert.equal(data.length, n);
      assert.ok(data.toString('utf8') === s, 'text echo differs');
      assert.equal((await closeWith(ws, 1000)).code, 1000);
    });

    it(`binary message of ${n} bytes`, async () => {
      const ws = await open();
      const payload = randomBytes(n);
      const { data, isBinary } = await roundTrip(ws, payload, true);
      assert.equal(isBinary, true);
      assert.equal(data.length, n);
      assert.ok(Buffer.compare(data, payload) === 0, 'binary echo differs');
      assert.equal((await closeWith(ws, 1000)).code, 1000);
    });
  }

  it('message over 16 MiB is closed with 1009', async () => {
    const ws = await open();
    const closed = new Promise((res) => ws.once('close', (code) => res(code)));
    ws.on('error', () => {}); // the server may stop reading the rest of the message
    ws.send(Buffer.alloc(16 * MiB + 1), { binary: true });
    assert.equal(await withTimeout(closed, OP_TIMEOUT, 'waiting for 1009'), 1009);
  });
});

describe('control frames', () => {
  it('ping gets a pong with the same payload', async () => {
    const ws = await open();
    for (const payload of [Buffer.alloc(0), Buffer.from('hello'), randomBytes(125)]) {
      const pong = withTimeout(new Promise((res) => ws.once('pong', res)), OP_TIMEOUT, 'waiting for the pong');
      ws.ping(payload);
      assert.deepEqual(await pong, payload);
    }
    assert.equal((await closeWith(ws, 1000)).code, 1000);
  });

  it('close 4000 "bye" is echoed with 4000', async () => {
    const ws = await open();
    const { data } = await roundTrip(ws, 'last', false);
    assert.equal(data.toString(), 'last');
    const { code } = await closeWith(ws, 4000, 'bye');
    assert.equal(code, 4000);
  });
});

describe('load', () => {
  it('50 concurrent clients, 100 round trips each', { timeout: 60000 }, async () => {
    const clients = await Promise.all(Array.from({ length: 50 }, () => open()));
    await Promise.all(
      clients.map(async (ws, k) => {
        for (let i = 0; i < 100; i++) {
          const binary = (i + k) % 2 === 1;
          const payload = binary ? Buffer.from([k, i, (k * i) & 0xff]) : `client ${k} message ${i}`;
          const { data, isBinary } = await roundTrip(ws, payload, binary);
          assert.equal(isBinary, binary);
          if (binary) assert.deepEqual(data, payload);
          else assert.equal(data.toString(), payload);
        }
      }),
    );
    const codes = await Promise.all(clients.map((ws) => closeWith(ws, 1000)));
    assert.deepEqual(
      codes.map((c) => c.code),
      Array(50).fill(1000),
    );
  });
});

describe('routes', () => {
  it('/demo/json wraps the JSON it receives', async () => {
    const ws = await open('/demo/json');
    const sent = { user: 'zoë', emoji: '😀', list: [1, 2, 3], nested: { ok: true } };
    const { data, isBinary } = await roundTrip(ws, JSON.stringify(sent), false);
    assert.equal(isBinary, false);
    const text = data.toString('utf8');
    assert.equal(text, JSON.stringify({ status: 'success', data: sent }));
    assert.deepEqual(JSON.parse(text), { status: 'success', data: sent });
    await closeWith(ws, 1000);
  });

  it('/demo/rooms/{room}/{n:int} sends its parameters, then echoes', async () => {
    const ws = await open('/demo/rooms/abc/42?x=1');
    const { data } = await nextMessage(ws);
    assert.deepEqual(JSON.parse(data.toString()), {
      path: '/demo/rooms/abc/42',
      room: 'abc',
      n: 42,
      params: { room: 'abc', n: '42' },
      query: { x: '1' },
    });
    const echo = await roundTrip(ws, 'again', false);
    assert.equal(echo.data.toString(), 'again');
    await closeWith(ws, 1000);
  });

  it('an unknown path fails with unexpected-response 404', async () => {
    const ws = new WebSocket(server.url('/no/such/path'));
    const status = await withTimeout(
      new Promise((res, reject) => {
        ws.once('unexpected-response', (req, response) => {
          res(response.statusCode);
          req.destroy();
        });
        ws.once('open', () => reject(new Error('connected to an unknown path')));
      }),
      OP_TIMEOUT,
      'waiting for the 404',
    );
    ws.on('error', () => {}); // destroying the request aborts the handshake
    assert.equal(status, 404);
  });
});
