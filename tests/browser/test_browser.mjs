// The search page of `cerebro serve` in headless chromium, driven by
// playwright-core. Run by run_browser_test.py, which indexes the 8 sample
// images (the birds under birds/) and a clip (videos/clip.webm) with the
// bundled model and starts the server.
//
// usage: node test_browser.mjs SERVER_URL SCREENSHOT_DIR [TOKEN [RELEVANCE_URL]]
// With TOKEN (the server's access token), the page is first opened with
// /?token=TOKEN, as a person given the link would, and everything after runs
// on the cookie that sets. RELEVANCE_URL: a second server (same token) on an
// index of over 50 items, where hits have a relevance and its minimum
// (--min-relevance) leaves out the hits of a nonsense query.

import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const [base, shots, token, relevanceBase] = process.argv.slice(2);
if (!base || !shots) {
  console.error('usage: node test_browser.mjs SERVER_URL SCREENSHOT_DIR [TOKEN]');
  process.exit(2);
}
const origin = new URL(base).origin;
const relevanceOrigin = relevanceBase ? new URL(relevanceBase).origin : null;
rmSync(join(shots, 'failure.png'), { force: true }); // from an earlier run

// The bundled model is small: on the sample images it ranks these right, by a
// margin (models/default.pt 34db48d6: 0.765 against 0.709 for "an owl", 0.805
// against 0.715 for "a flamingo", scored on the eight pictures alone; the clip's
// frames join them here); it gets the lion and the tiger wrong.
const OWL = { query: 'an owl', path: 'birds/owl.png' };
const FLAMINGO = { query: 'a flamingo', path: 'birds/flamingo.png' };
const FILES = 9; // 8 images and videos/clip.webm: the giraffe for 4 s, then the elephant
const WAIT = { timeout: 60_000 }; // a loaded 2-core machine, not a time limit under test

let step = 0;
function ok(what) {
  step += 1;
  console.log(`ok ${step} - ${what}`);
}

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

function equal(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}

// The path the API gives, relative to the served root.
function relative(path) {
  return String(path).replace(/^.*\/photos\//, '');
}

const profile = mkdtempSync(join(tmpdir(), 'cerebro-browser-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CEREBRO_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking'],
  viewport: { width: 1100, height: 800 },
  colorScheme: 'light',
});
const page = context.pages()[0] ?? await context.newPage();

// Everything the page asks for, and everything that goes wrong.
const outside = [];
const searches = [];
const httpErrors = [];
const pageErrors = [];
const mediaStatus = []; // HTTP statuses of /api/image/ID answers
let expectHttpErrors = false;
context.on('request', (req) => {
  const url = new URL(req.url());
  if (url.protocol === 'data:') return;
  if (url.origin !== origin && url.origin !== relevanceOrigin) outside.push(req.url());
  if (url.pathname === '/api/search') searches.push(url.searchParams.get('q'));
});
context.on('response', (res) => {
  if (res.status() >= 400 && !expectHttpErrors) httpErrors.push(`${res.status()} ${res.url()}`);
  if (new URL(res.url()).pathname.startsWith('/api/image/')) mediaStatus.push(res.status());
});
page.on('pageerror', (err) => pageErrors.push(err.message));

// The API's own answer, for comparing the page with.
async function api(path, server = origin) {
  const res = await context.request.get(new URL(path, server).href);
  expect(res.ok(), `GET ${path}: HTTP ${res.status()}`);
  return res.json();
}

async function status() {
  return (await page.textContent('#status')).trim();
}

async function waitStatus(text) {
  try {
    await page.waitForFunction((t) => document.getElementById('status').textContent.includes(t), text, WAIT);
  } catch (err) {
    throw new Error(`the status line never showed "${text}"; it shows "${await status()}"`);
  }
}

async function cardIds() {
  return page.$$eval('#results .card', (cards) => cards.map((c) => Number(c.dataset.id)));
}

async function focusedCard() {
  return page.evaluate(() => {
    const el = document.activeElement;
    return el && el.classList.contains('card') ? Number(el.dataset.index) : null;
  });
}

async function typeSlowly(selector, text) {
  await page.click(selector);
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Backspace');
  // Slower than the page's debounce, so each letter can start a request.
  await page.keyboard.type(text, { delay: 200 });
}

// The access token: refused without it; /?token= sets a cookie no script
// can read, and leaves an address without the token.
async function login() {
  const refused = await context.request.get(new URL('/api/stats', origin).href);
  equal(refused.status(), 401, 'the API without the token');
  await page.goto(new URL(`/?token=${encodeURIComponent(token)}`, origin).href);
  equal(new URL(page.url()).href, new URL('/', origin).href, 'the address after login');
  const cookies = await context.cookies(origin);
  const cookie = cookies.find((c) => c.name === `cerebro_token_${new URL(origin).port}`);
  expect(cookie, `no login cookie among ${JSON.stringify(cookies.map((c) => c.name))}`);
  expect(cookie.httpOnly && cookie.sameSite === 'Strict' && cookie.path === '/',
    `the login cookie is ${JSON.stringify(cookie)}`);
  equal(await page.evaluate(() => document.cookie), '', 'document.cookie');
  ok('logged in with /?token=: an HttpOnly, SameSite=Strict cookie');
}

async function run() {
  if (token) await login();
  const stats = await api('/api/stats');
  equal(stats.files, FILES, '/api/stats files');
  expect(stats.items > FILES, `${stats.items} items: no video frames`);
  const collection = `${stats.items} items from ${FILES} files indexed`;

  // ---- loading --------------------------------------------------------------
  await page.goto(base);
  await waitStatus(collection);
  equal(await page.evaluate(() => document.activeElement?.id), 'q', 'the element focused on load');
  equal(await cardIds(), [], 'cards before any query');
  expect((await status()).includes('type to search'), `idle status: ${await status()}`);
  ok('the page loads, focuses the search box and shows the collection size');

  // ---- typing, with the first answer held back until the last one is shown --
  const owl = await api(`/api/search?q=${encodeURIComponent(OWL.query)}&k=48`);
  equal(relative(owl.results[0].path), OWL.path, `the API's top result for "${OWL.query}"`);
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  let answered;
  const heldAnswered = new Promise((resolve) => { answered = resolve; });
  let held = null;
  await page.route('**/api/search?*', async (route) => {
    if (held !== null) return route.continue();
    held = new URL(route.request().url()).searchParams.get('q');
    const response = await route.fetch();
    await released;
    try {
      await route.fulfill({ response });
    } catch {
      // The page aborted it when the newer query started: also correct.
    } finally {
      answered();
    }
  });
  // Each answer the page's code has taken in (its body read, or its fetch
  // failed, e.g. aborted): the page drops a stale one in the same run of
  // microtasks, so once it is listed here the page has made its choice.
  await page.evaluate(() => {
    window.cerebroTestSettled = [];
    const fetchOriginal = window.fetch;
    window.fetch = (input, init) => {
      const q = new URL(String(input), window.location.href).searchParams.get('q');
      const settled = (outcome) => window.cerebroTestSettled.push({ q, outcome });
      return fetchOriginal(input, init).then((response) => {
        const json = response.json.bind(response);
        response.json = () => json().then((v) => { settled('body'); return v; },
          (err) => { settled(err.name); throw err; });
        return response;
      }, (err) => { settled(err.name); throw err; });
    };
  });
  await typeSlowly('#q', OWL.query);
  await waitStatus(`for “${OWL.query}”`);
  expect(held !== null && held !== OWL.query && OWL.query.startsWith(held),
    `the first search request was for "${held}", expected a prefix of "${OWL.query}"`);
  release();
  // Once the page's code has taken in the held answer (or its abort), it has
  // decided whether to show it.
  await heldAnswered;
  await page.waitForFunction((q) => window.cerebroTestSettled.some((a) => a.q === q), held, WAIT);
  await page.unroute('**/api/search?*');
  expect(searches.length >= 2, `typing letter by letter sent ${searches.length} search request(s)`);
  expect((await status()).includes(`for “${OWL.query}”`), `after the stale answer: ${await status()}`);
  equal(await cardIds(), owl.results.map((h) => h.id), `cards for "${OWL.query}"`);
  equal(await page.inputValue('#q'), OWL.query, 'the search box');
  ok(`typing "${OWL.query}" letter by letter shows the API's results, top ${OWL.path}; ` +
     `the answer for "${held}", held back until then, is not shown`);

  const line = await status();
  expect(new RegExp(`^${collection} · ${owl.results.length} results for “${OWL.query}” in <?[0-9.]+ ms`)
    .test(line), `status line: ${line}`);
  equal(new URL(page.url()).searchParams.get('q'), OWL.query, 'the address keeps the query');
  ok(`the status line: ${line}`);

  // ---- hover: the score --------------------------------------------------------
  const first = page.locator('#results .card').first();
  await first.hover();
  await page.waitForFunction(() => getComputedStyle(document.querySelector('#results .card .score')).opacity === '1',
    null, WAIT);
  equal(await first.locator('.score').textContent(), owl.results[0].score.toFixed(3), 'the score shown on hover');
  equal(await first.locator('.name').textContent(), 'owl.png', 'the first card\'s name');
  await page.waitForFunction(() => [...document.querySelectorAll('#results img')]
    .every((img) => img.complete && img.naturalWidth > 0), null, WAIT);
  await page.screenshot({ path: join(shots, 'search.png') });
  ok(`hovering shows the score ${owl.results[0].score.toFixed(3)}; every thumbnail loads; search.png saved`);

  // ---- the detail view --------------------------------------------------------
  await first.click();
  await page.waitForSelector('#detail[open]', WAIT);
  equal(relative(await page.textContent('#detail-title')), OWL.path, 'the detail view\'s path');
  await page.waitForFunction(() => {
    const img = document.querySelector('#detail-media img');
    return img && img.complete && img.naturalWidth > 0;
  }, null, WAIT);
  const shown = await page.$eval('#detail-media img', (img) => ({
    src: new URL(img.src).pathname, width: img.naturalWidth, height: img.naturalHeight,
  }));
  equal(shown, { src: owl.results[0].image, width: owl.results[0].width, height: owl.results[0].height },
    'the full image');
  await page.screenshot({ path: join(shots, 'detail.png') });
  ok(`clicking the top card opens ${OWL.path} at full size (${shown.width}x${shown.height}); detail.png saved`);

  // ---- more like this ---------------------------------------------------------
  const owlId = owl.results[0].id;
  const like = await api(`/api/similar/${owlId}?k=48`);
  expect(!like.results.some((h) => h.id === owlId), '/api/similar lists the item itself');
  await page.click('#similar');
  await waitStatus(`like ${OWL.path}`);
  expect(!(await page.evaluate(() => document.getElementById('detail').open)), 'the detail view stays open');
  equal(await cardIds(), like.results.map((h) => h.id), 'cards for "more like this"');
  equal(new URL(page.url()).searchParams.get('like'), String(owlId), 'the address of "more like this"');
  await page.waitForFunction(() => document.activeElement?.dataset?.index === '0', null, WAIT);
  ok(`"more like this" shows the ${like.results.length} images the API finds like ${OWL.path}, focus on the first`);

  // ---- keyboard ---------------------------------------------------------------
  const cols = await page.evaluate(() =>
    getComputedStyle(document.getElementById('results')).gridTemplateColumns.split(' ').length);
  expect(cols >= 2 && cols < like.results.length, `${cols} columns for ${like.results.length} cards`);
  await page.keyboard.press('ArrowRight');
  equal(await focusedCard(), 1, 'ArrowRight');
  await page.keyboard.press('ArrowDown');
  equal(await focusedCard(), 1 + cols, 'ArrowDown');
  await page.keyboard.press('ArrowLeft');
  equal(await focusedCard(), cols, 'ArrowLeft');
  await page.keyboard.press('ArrowUp');
  equal(await focusedCard(), 0, 'ArrowUp');
  await page.keyboard.press('End');
  equal(await focusedCard(), like.results.length - 1, 'End');
  await page.keyboard.press('Home');
  equal(await focusedCard(), 0, 'Home');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#detail[open]', WAIT);
  equal(await page.textContent('#detail-title'), (await page.locator('#results .card').nth(1).getAttribute('title'))
    .split('\n')[0], 'Enter opens the card');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.getElementById('detail').open, null, WAIT);
  await page.waitForFunction(() => document.activeElement?.dataset?.index === '1', null, WAIT);
  await page.keyboard.press('/');
  equal(await page.evaluate(() => document.activeElement?.id), 'q', '"/" focuses the search box');
  await page.keyboard.press('ArrowDown');
  equal(await focusedCard(), 1, 'ArrowDown from the search box returns to the last card');
  await page.keyboard.press('Home');
  await page.keyboard.press('ArrowUp');
  equal(await page.evaluate(() => document.activeElement?.id), 'q', 'ArrowUp from the top row');
  ok(`arrows move through ${cols} columns, Home/End, Enter opens, Escape closes and returns, "/" searches`);

  // ---- history: Back returns to the text query ---------------------------------
  await page.goBack();
  await waitStatus(`for “${OWL.query}”`);
  equal(await cardIds(), owl.results.map((h) => h.id), 'cards after Back');
  ok('Back returns from "more like this" to the text query');

  // ---- the folder filter and the empty state ---------------------------------
  await typeSlowly('#prefix', 'birds/');
  await waitStatus('under “birds/”');
  const birds = await page.$$eval('#results .card', (cards) => cards.map((c) => c.title.split('\n')[0]));
  equal(birds.map(relative).sort(), ['birds/flamingo.png', 'birds/owl.png', 'birds/penguin.png'],
    'cards under birds/');
  await typeSlowly('#prefix', 'no-such-folder/');
  await waitStatus('0 results for “an owl” under “no-such-folder/”');
  equal(await cardIds(), [], 'cards under a folder that does not exist');
  expect(await page.isVisible('#empty'), 'the empty state is hidden');
  expect((await page.textContent('#empty')).includes('No results'), 'the empty state\'s text');
  await page.screenshot({ path: join(shots, 'empty.png') });
  await typeSlowly('#prefix', '');
  ok('the folder filter keeps the 3 birds; a folder with nothing shows the empty state');

  // ---- video frames: the timestamp on the card, the clip played from there ---
  await typeSlowly('#prefix', 'videos/');
  await waitStatus('under “videos/”');
  const frames = await api(`/api/search?q=${encodeURIComponent(OWL.query)}&k=48&prefix=videos/`);
  expect(frames.results.length >= 2 && frames.results.every((h) => h.kind === 'frame' &&
    typeof h.timestamp === 'number' && relative(h.path) === 'videos/clip.webm'), `frames: ${JSON.stringify(frames)}`);
  equal(await cardIds(), frames.results.map((h) => h.id), 'cards under videos/');
  const at = frames.results.findIndex((h) => h.timestamp >= 1);
  expect(at >= 0, `no frame past the first second: ${JSON.stringify(frames.results)}`);
  const frame = frames.results[at];
  const frameCard = page.locator('#results .card').nth(at);
  const stamp = (await frameCard.locator('.name').textContent()).trim();
  const m = /^clip\.webm @ (\d\d):(\d\d):(\d\d\.\d)$/.exec(stamp);
  expect(m && Math.abs(m[1] * 3600 + m[2] * 60 + Number(m[3]) - frame.timestamp) < 0.051,
    `the card of the frame at ${frame.timestamp} s says "${stamp}"`);
  expect(await frameCard.locator('.kind').isVisible(), 'the card of a frame has no video badge');
  await page.waitForFunction(() => [...document.querySelectorAll('#results img')]
    .every((img) => img.complete && img.naturalWidth > 0), null, WAIT);
  // Not reset here: when an earlier step opened a frame of the same clip, the
  // browser plays it from its media cache and fetches nothing now.
  await frameCard.click();
  await page.waitForSelector('#detail[open]', WAIT);
  equal(relative(await page.textContent('#detail-title')), `videos/${stamp}`, 'the detail view of a frame');
  equal(await page.$eval('#detail-media video', (v) => v.getAttribute('src')), `${frame.image}#t=${frame.timestamp}`,
    'the video\'s source');
  await page.waitForFunction((t) => {
    const v = document.querySelector('#detail-media video');
    return v && v.played.length > 0 && v.currentTime > t;
  }, frame.timestamp, WAIT);
  const played = await page.$eval('#detail-media video', (v) => v.played.start(0));
  expect(Math.abs(played - frame.timestamp) < 0.3, `the clip played from ${played} s, not ${frame.timestamp} s`);
  expect(mediaStatus.includes(206), `the video was fetched without a range: HTTP ${mediaStatus.join(', ')}`);
  await page.screenshot({ path: join(shots, 'video.png') });
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.getElementById('detail').open, null, WAIT);
  await typeSlowly('#prefix', '');
  ok(`a video frame's card reads "${stamp}"; its detail view plays the clip from ${played.toFixed(1)} s ` +
     `(HTTP ${[...new Set(mediaStatus)].join(', ')}); video.png saved`);

  // ---- the error state: a query the server refuses, then an unreachable server
  expectHttpErrors = true;
  await page.fill('#q', 'é'.repeat(600)); // 1200 bytes: over the 1000-byte limit
  await page.waitForSelector('#error:not([hidden])', WAIT);
  const refused = (await page.textContent('#error')).trim();
  expect(/HTTP 4\d\d/.test(refused), `the error state: ${refused}`);
  equal(await cardIds(), [], 'cards in the error state');
  await page.screenshot({ path: join(shots, 'error.png') });
  await page.route('**/api/search?*', (route) => route.abort('connectionrefused'));
  await page.fill('#q', 'a frog');
  await page.waitForFunction(() => !document.getElementById('error').hidden &&
    !document.getElementById('error').textContent.includes('HTTP'), null, WAIT);
  await page.unroute('**/api/search?*');
  await page.route('**/api/stats', (route) => route.abort('connectionrefused'));
  await page.goto(base);
  await page.waitForSelector('#error:not([hidden])', WAIT);
  const unreachable = (await page.textContent('#error')).trim();
  expect(unreachable.includes('cannot reach the server'), `the error state on load: ${unreachable}`);
  await page.unroute('**/api/stats');
  expectHttpErrors = false;
  ok(`a refused query shows "${refused}"; a failed connection shows the error state, on load too`);

  // ---- recovery, and a second known answer --------------------------------
  await page.fill('#q', FLAMINGO.query);
  await waitStatus(`${collection} · `); // the page asks for the collection's size again
  await waitStatus(`for “${FLAMINGO.query}”`);
  expect(await page.isHidden('#error'), 'the error state outlives a good answer');
  const flamingo = await api(`/api/search?q=${encodeURIComponent(FLAMINGO.query)}&k=48`);
  equal(relative(flamingo.results[0].path), FLAMINGO.path, `the API's top result for "${FLAMINGO.query}"`);
  equal(await cardIds(), flamingo.results.map((h) => h.id), `cards for "${FLAMINGO.query}"`);
  await page.fill('#q', '');
  await waitStatus('type to search');
  equal(await cardIds(), [], 'cards after clearing the query');
  ok(`"${FLAMINGO.query}" finds ${FLAMINGO.path} after an error; clearing the box empties the grid`);

  // ---- responsive layout and dark colours ----------------------------------------
  await page.fill('#q', OWL.query);
  await waitStatus(`for “${OWL.query}”`);
  await page.setViewportSize({ width: 380, height: 800 });
  const narrow = await page.evaluate(() =>
    getComputedStyle(document.getElementById('results')).gridTemplateColumns.split(' ').length);
  equal(narrow, 2, 'columns on a 380 px wide screen');
  const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMedia({ colorScheme: 'dark' });
  const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(light !== dark, `the same background in light and dark: ${light}`);
  await page.screenshot({ path: join(shots, 'search-dark-narrow.png') });
  ok(`2 columns at 380 px (${cols} at 1100 px); dark colours follow the system (${light} -> ${dark})`);

  if (relevanceOrigin) await noCloseMatch();

  // ---- nothing from outside, nothing broken -------------------------------------
  equal(outside, [], 'requests outside the server');
  equal(httpErrors, [], 'unexpected HTTP errors');
  equal(pageErrors, [], 'uncaught errors in the page');
  ok(`all ${searches.length} search requests and every other one went to ${origin}; no HTTP or script errors`);
}

// On the second server: a real query shows its relevant hits, a nonsense
// query "no close match", and "Show all results anyway" its best hits.
async function noCloseMatch() {
  const baseName = (path) => path.split('/').pop(); // that index has no birds/
  const REAL = FLAMINGO;
  const NONSENSE = 'asdf qwerty';
  const at = (path) => api(path, relevanceOrigin);
  const q = (text, extra = '') => `/api/search?q=${encodeURIComponent(text)}&k=48${extra}`;
  await page.goto(new URL(`/?token=${encodeURIComponent(token)}`, relevanceOrigin).href);
  const stats = await at('/api/stats');
  expect(stats.items >= 50, `${stats.items} items: too few for a relevance`);
  const real = await at(q(REAL.query));
  const realAll = await at(q(REAL.query, '&min=0'));
  const junkAll = await at(q(NONSENSE, '&min=0'));
  const min = real.min;
  expect(min > 0 && junkAll.results[0].relevance < min && min <= realAll.results[0].relevance,
    `the model no longer puts the cutoff ${min} between "${NONSENSE}" (best relevance ` +
    `${junkAll.results[0].relevance}) and "${REAL.query}" (${realAll.results[0].relevance}): ` +
    'measure again and set RELEVANCE_MIN in run_browser_test.py');
  equal(real.results[0].path, baseName(REAL.path), `the top relevant hit for "${REAL.query}"`);
  expect(real.results.every((h) => h.relevance >= min), `hits below ${min}: ${JSON.stringify(real.results)}`);

  await typeSlowly('#q', REAL.query);
  await waitStatus(`${real.results.length} result${real.results.length === 1 ? '' : 's'} for “${REAL.query}”`);
  equal(await cardIds(), real.results.map((h) => h.id), `cards for "${REAL.query}" above relevance ${min}`);
  const title = await page.locator('#results .card').first().getAttribute('title');
  expect(title.includes(`relevance ${real.results[0].relevance.toFixed(1)}`), `the card's title: ${title}`);
  expect(await page.isHidden('#empty'), 'the empty state shows beside relevant hits');
  ok(`"${REAL.query}" typed on an index of ${stats.items} items shows the ${real.results.length} hit(s) ` +
     `at least ${min} relevant (of ${realAll.results.length})`);

  await typeSlowly('#q', NONSENSE);
  await waitStatus(`0 results for “${NONSENSE}”`);
  equal(await cardIds(), [], `cards for "${NONSENSE}"`);
  const empty = (await page.textContent('#empty')).trim();
  expect(await page.isVisible('#empty') && empty.startsWith(`No close match for “${NONSENSE}”`),
    `the empty state: ${empty}`);
  await page.screenshot({ path: join(shots, 'no-close-match.png') });
  await page.click('#show-all');
  await waitStatus(`${junkAll.results.length} results for “${NONSENSE}”`);
  equal(await cardIds(), junkAll.results.map((h) => h.id), `cards for "${NONSENSE}" shown anyway`);
  equal(new URL(page.url()).searchParams.get('all'), '1', 'the address of "show all"');
  await page.goBack();
  await waitStatus(`0 results for “${NONSENSE}”`);
  expect((await page.textContent('#empty')).includes('No close match'), 'Back to the cutoff');
  ok(`"${NONSENSE}" shows "No close match" (best relevance ${junkAll.results[0].relevance} < ${min}); ` +
     `"Show all results anyway" shows its ${junkAll.results.length} best, Back returns; no-close-match.png saved`);
}

let failed = false;
try {
  await run();
  console.log(`1..${step}`);
} catch (err) {
  failed = true;
  console.error(`not ok ${step + 1} - ${err.message}`);
  console.error(err.stack);
  await page.screenshot({ path: join(shots, 'failure.png') }).catch(() => {});
  console.error(`the page at the failure: ${join(shots, 'failure.png')}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
