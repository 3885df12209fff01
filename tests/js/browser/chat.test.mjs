// The chat example's page in a real browser: two people (two browser contexts) join the same room,
// see each other in the presence list, see each other typing and talking, and a reload brings the
// conversation back from the room's history. The page works under its Content-Security-Policy
// (nothing it does is refused), the policy stops injected inline script, and another origin
// cannot frame it.
//
//   NEXIOS_CHAT_BIN=build-ex/bin/chat node --test tests/js/browser/chat.test.mjs
//
// Chromium is Debian's /usr/bin/chromium driven by playwright-core. A failing step saves
// screenshots of both pages in $NEXIOS_ARTIFACTS_DIR (ctest: <build>/browser-artifacts).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';

import { exampleBinary, launchChromium, screenshotAll, startServer } from './harness.mjs';

const STEP_TIMEOUT_MS = 10000;

let server;
let browser;
const pages = {};
const room = `room-${randomBytes(4).toString('hex')}`;

/** Runs one step; on failure saves screenshots of both pages and adds their paths to the error. */
async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    const shots = await screenshotAll(pages, `chat-${name}`);
    if (shots.length) e.message += `\nscreenshots: ${shots.join(', ')}`;
    if (server) e.message += `\nserver stderr: ${server.stderr()}`;
    throw e;
  }
}

async function openPage(name) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // A resource or connection the policy refuses shows up as a console error (the browser's own
  // request for /favicon.ico, which the example does not serve, is not the page's doing).
  page.on('console', (m) => {
    if (m.type() === 'error' && !/\/favicon\.ico$/.test(m.location().url ?? '')) errors.push(m.text());
  });
  page.errors = errors;
  pages[name] = page;
  const response = await page.goto(server.httpUrl('/'));
  const headers = response.headers();
  assert.match(headers['content-security-policy'], /default-src 'none'/);
  assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
  assert.equal(headers['x-frame-options'], 'DENY');
  return page;
}

async function joinAs(page, name) {
  await page.fill('#name', name);
  await page.fill('#room', room);
  await page.click('#join');
  await page.locator('#status[data-state="connected"]').waitFor();
  // Our own join message is shown once (the live one and its history copy are de-duplicated).
  await page.locator(`#messages li[data-action="join"][data-username="${name}"]`).first().waitFor();
}

const messageItem = (page, text) => page.locator('#messages li[data-type="message"]', { hasText: text });

describe('chat page in chromium', () => {
  before(async () => {
    server = await startServer(exampleBinary('chat', 'NEXIOS_CHAT_BIN'));
    browser = await launchChromium();
  });

  after(async () => {
    try {
      if (browser) await browser.close();
    } finally {
      if (server) {
        const code = await server.stop();
        assert.equal(code, 0, `chat exit status; stderr: ${server.stderr()}`);
      }
    }
  });

  it('two people join the same room and see each other', async () => {
    await step('join', async () => {
      const alice = await openPage('alice');
      const bob = await openPage('bob');
      assert.equal(await alice.title(), 'nexios chat');
      await joinAs(alice, 'alice');
      await joinAs(bob, 'bob');
      // alice sees bob arrive, and both presence lists show both names.
      await alice.locator('#messages li[data-action="join"][data-username="bob"]').waitFor();
      for (const page of [alice, bob]) {
        await page.locator('#users li[data-username="alice"]').waitFor();
        await page.locator('#users li[data-username="bob"]').waitFor();
        assert.equal(await page.locator('#users li').count(), 2);
        assert.equal(await page.textContent('#user-count'), '2');
        assert.equal(await page.textContent('#room-title'), room);
      }
      // bob's page replayed the history: alice's join before his own.
      const joins = await bob.locator('#messages li[data-action="join"]').evaluateAll((els) =>
        els.map((el) => el.dataset.username));
      assert.deepEqual(joins, ['alice', 'bob']);
    });
  });

  it('typing shows an indicator on the other page, and messages arrive live', async () => {
    await step('typing', async () => {
      const { alice, bob } = pages;
      await bob.locator('#message').pressSequentially('hello from b', { delay: 20 });
      await alice.locator('#typing', { hasText: 'bob is typing' }).waitFor();
      assert.equal(await alice.getAttribute('#typing', 'data-users'), 'bob');
      assert.equal(await bob.textContent('#typing'), '', 'nobody sees their own typing indicator');
      await bob.locator('#message').pressSequentially('ob');
      await bob.click('#send');
      await messageItem(alice, 'hello from bob').waitFor();
      await messageItem(bob, 'hello from bob').waitFor();
      assert.equal(await bob.inputValue('#message'), '', 'the box is cleared after sending');
      // Sending ends the typing indicator.
      await alice.waitForFunction(() => document.getElementById('typing').textContent === '');
      const item = messageItem(alice, 'hello from bob');
      assert.equal(await item.getAttribute('data-username'), 'bob');
      assert.equal(await item.locator('.content').textContent(), 'hello from bob');

      await alice.fill('#message', 'hi bob <b>not bold</b>');
      await alice.press('#message', 'Enter');
      await messageItem(bob, 'hi bob').waitFor();
      // Content is text, never markup.
      assert.equal(await messageItem(bob, 'hi bob').locator('.content b').count(), 0);
      assert.equal(await messageItem(bob, 'hi bob').locator('.content').textContent(), 'hi bob <b>not bold</b>');
      assert.equal(await alice.locator('#messages li[data-type="message"]').count(), 2);
    });
  });

  it('a reload rejoins the room and shows the earlier messages from history', async () => {
    await step('reload', async () => {
      const { alice, bob } = pages;
      await bob.reload();
      await bob.locator('#status[data-state="connected"]').waitFor();
      // The history brings both messages back, in order, once each.
      await messageItem(bob, 'hi bob').waitFor();
      const texts = await bob.locator('#messages li[data-type="message"] .content').allTextContents();
      assert.deepEqual(texts, ['hello from bob', 'hi bob <b>not bold</b>']);
      // alice saw bob leave and come back; the presence list still has both.
      await alice.locator('#messages li[data-action="leave"][data-username="bob"]').waitFor();
      await alice.locator('#messages li[data-action="join"][data-username="bob"]').nth(1).waitFor();
      for (const page of [alice, bob]) {
        await page.locator('#users li[data-username="alice"]').waitFor();
        await page.locator('#users li[data-username="bob"]').waitFor();
      }
      // And the conversation goes on.
      await bob.fill('#message', 'back again');
      await bob.click('#send');
      await messageItem(alice, 'back again').waitFor();
      for (const page of [alice, bob]) assert.deepEqual(page.errors, [], 'no errors in the page');
    });
  });

  it('the policy refuses injected inline script', async () => {
    await step('csp-inline', async () => {
      const { alice } = pages;
      // What an injection would do: add a <script> with inline code to the page.
      const outcome = await alice.evaluate(() => new Promise((resolve) => {
        document.addEventListener('securitypolicyviolation', (e) => resolve(`refused ${e.violatedDirective}`),
                                  { once: true });
        const s = document.createElement('script');
        s.textContent = 'window.injected = true;';
        document.body.append(s);
        setTimeout(() => resolve(window.injected ? 'ran' : 'no event'), 2000);
      }));
      assert.match(outcome, /^refused script-src/);
      assert.equal(await alice.evaluate(() => window.injected), undefined);
      // That refusal was the one console error; nothing the page itself does is refused.
      assert.ok(alice.errors.every((e) => /Content Security Policy/.test(e)), alice.errors.join('\n'));
      alice.errors.length = 0;
    });
  });

  it('another origin cannot frame the page (clickjacking)', async () => {
    await step('frame', async () => {
      const framer = createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html><title>framer</title><iframe id="f" src="${server.httpUrl('/')}"></iframe>
          <script>window.loaded = new Promise((r) => { document.getElementById('f').onload = () => r(true); });</script>`);
      });
      await new Promise((resolve) => framer.listen(0, '127.0.0.1', resolve));
      try {
        const context = await browser.newContext();
        const page = await context.newPage();
        pages.framer = page;
        await page.goto(`http://127.0.0.1:${framer.address().port}/`);
        await page.evaluate(() => window.loaded);
        const frame = page.frames().find((f) => f !== page.mainFrame());
        assert.ok(frame, 'the iframe exists');
        // Blocked by frame-ancestors 'none' (and X-Frame-Options): the chat page never loads in it.
        const hasJoinForm = await frame.evaluate(() => !!document.getElementById('join-form')).catch(() => false);
        assert.equal(hasJoinForm, false, `the chat page loaded in a frame (${frame.url()})`);
        await context.close();
        delete pages.framer;
      } finally {
        framer.close();
      }
    });
  });

  it('a page from another origin cannot open the chat WebSocket (cross-site WebSocket hijacking)', async () => {
    await step('cross-origin', async () => {
      const { alice } = pages;
      const target = server.httpUrl('/').replace(/^http/, 'ws').replace(/\/$/, '') +
        `/ws/chat/${room}?username=mallory`;
      // A page on another origin (another port of 127.0.0.1) that tries to join alice's room.
      const evil = createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html><title>evil</title><script>
          window.outcome = new Promise((resolve) => {
            const ws = new WebSocket(${JSON.stringify(target)});
            ws.onopen = () => resolve('open');
            ws.onclose = (ev) => resolve('closed ' + ev.code);
          });
        </script>`);
      });
      await new Promise((resolve) => evil.listen(0, '127.0.0.1', resolve));
      try {
        const context = await browser.newContext();
        const page = await context.newPage();
        pages.evil = page;
        await page.goto(`http://127.0.0.1:${evil.address().port}/`);
        // Refused with 403 before the upgrade: the browser reports an abnormal closure.
        assert.equal(await page.evaluate(() => window.outcome), 'closed 1006');
        await context.close();
        delete pages.evil;
      } finally {
        evil.close();
      }
      // mallory never joined: alice's presence list is unchanged, and the same-origin page still works.
      assert.equal(await alice.locator('#users li[data-username="mallory"]').count(), 0);
      await alice.fill('#message', 'still here');
      await alice.click('#send');
      await messageItem(pages.bob, 'still here').waitFor();
    });
  });
});
