// The search page of `cerebro serve`: plain DOM code, no build step, nothing
// loaded from outside the server. It uses the server's JSON API:
// /api/search, /api/similar/ID, /api/item/ID, /api/stats, and the files
// behind /api/thumb/ID and /api/image/ID.
'use strict';

// Long enough to skip the requests of a fast typist's intermediate words,
// short enough that results follow the text while one types.
const DEBOUNCE_MS = 80;
const PAGE_SIZE = 48;
const MAX_RESULTS = 200; // the most the server gives for one query
const THUMB_SIZE = 256;
const DETAIL_FALLBACK_SIZE = 1024;

const ui = {
  form: document.getElementById('search-form'),
  q: document.getElementById('q'),
  prefix: document.getElementById('prefix'),
  status: document.getElementById('status'),
  error: document.getElementById('error'),
  empty: document.getElementById('empty'),
  results: document.getElementById('results'),
  more: document.getElementById('more'),
  all: document.getElementById('all'),
  about: document.getElementById('about'),
  detail: document.getElementById('detail'),
  detailMedia: document.getElementById('detail-media'),
  detailTitle: document.getElementById('detail-title'),
  detailFacts: document.getElementById('detail-facts'),
  similar: document.getElementById('similar'),
  original: document.getElementById('original'),
};

const state = {
  stats: null,       // the last /api/stats answer
  // What the grid shows: {mode: 'search', text, prefix, all} or {mode: 'similar', item, all};
  // all: every hit, not only those the server's minimum relevance keeps (min=0).
  view: null,
  k: PAGE_SIZE,
  hits: [],
  shown: null,       // the view whose results the grid holds
  active: 0,         // index of the card that takes the keyboard focus
  opened: null,      // the hit shown in the detail view
  seq: 0,            // number of the latest request; answers to older ones are dropped
  controller: null,  // aborts the request in flight when a newer one starts
  timer: 0,
  news: '',          // the status line's second part
  focusAfter: null,  // after "Show more": the first new card, which takes the focus
};

// ---- formatting -----------------------------------------------------------

function clock(seconds) {
  const tenths = Math.max(0, Math.round(seconds * 10));
  const two = (n) => String(n).padStart(2, '0');
  const h = Math.floor(tenths / 36000);
  const m = Math.floor(tenths / 600) % 60;
  const s = Math.floor(tenths / 10) % 60;
  return `${two(h)}:${two(m)}:${two(s)}.${tenths % 10}`;
}

function isFrame(hit) {
  return hit.kind === 'frame' || typeof hit.timestamp === 'number';
}

function baseName(path) {
  const parts = String(path).split('/');
  return parts[parts.length - 1] || String(path);
}

// "clip.mp4 @ 00:01:23.4" for a video frame, the name alone for an image.
function label(hit, name = baseName(hit.path)) {
  return isFrame(hit) ? `${name} @ ${clock(hit.timestamp)}` : name;
}

function score(value) {
  return typeof value === 'number' ? value.toFixed(3) : '';
}

// The hit's relevance (standard deviations above the query's mean score over
// the index, adjusted for its size), or '' when the index is too small to
// have one (null).
function relevance(hit) {
  return typeof hit.relevance === 'number' ? hit.relevance.toFixed(1) : '';
}

function scoreLine(hit) {
  const rel = relevance(hit);
  return `score ${score(hit.score)}${rel ? `, relevance ${rel}` : ''}`;
}

function milliseconds(value) {
  if (typeof value !== 'number') return '';
  if (value < 0.1) return '<0.1';
  return value < 10 ? value.toFixed(1) : String(Math.round(value));
}

function plural(n, one, many) {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
}

// ---- talking to the server ------------------------------------------------

async function getJSON(url, signal) {
  const response = await fetch(url, { signal, headers: { Accept: 'application/json' } });
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    if (err.name === 'AbortError') throw err;
  }
  if (!response.ok) {
    const reason = body && typeof body.error === 'string' ? body.error : response.statusText;
    throw new Error(`${reason} (HTTP ${response.status})`);
  }
  if (body === null || typeof body !== 'object') throw new Error('the server did not answer with JSON');
  return body;
}

// Starts a request that owns the grid: any request still in flight is
// aborted, and an answer that arrives after a newer request started, or that
// belongs to another query (`matches`), is never shown.
function request(url, matches, show) {
  state.seq += 1;
  const seq = state.seq;
  if (state.controller) state.controller.abort();
  const controller = new AbortController();
  state.controller = controller;
  ui.results.setAttribute('aria-busy', 'true');
  const started = performance.now();
  getJSON(url, controller.signal).then(
    (body) => {
      if (seq !== state.seq || !matches(body)) return;
      show(body, performance.now() - started);
    },
    (err) => {
      if (seq !== state.seq || err.name === 'AbortError') return;
      showError(err.message);
    },
  ).finally(() => {
    if (seq === state.seq) {
      ui.results.removeAttribute('aria-busy');
      state.controller = null;
    }
  });
}

// Forgets the request in flight, if any: its answer would be stale.
function cancel() {
  state.seq += 1;
  if (state.controller) state.controller.abort();
  state.controller = null;
  ui.results.removeAttribute('aria-busy');
}

// Resolves to whether the server answered.
function loadStats() {
  return getJSON('/api/stats').then((stats) => {
    state.stats = stats;
    const about = [stats.model_name || stats.model, stats.dim && `${stats.dim}-d`, stats.structure,
      stats.version && `cerebro ${stats.version}`];
    ui.about.textContent = about.filter(Boolean).join(' · ');
    if (!state.view && ui.error.hidden) showIdle(); else setStatus();
    return true;
  }, (err) => {
    if (!state.view) showError(`cannot reach the server: ${err.message}`);
    return false;
  });
}

// ---- what the page shows --------------------------------------------------

function collectionLine() {
  if (!state.stats) return '';
  const s = state.stats;
  const items = plural(s.items ?? 0, 'item', 'items');
  return typeof s.files === 'number' && s.files !== s.items
    ? `${items} from ${plural(s.files, 'file', 'files')} indexed`
    : `${items} indexed`;
}

// The status line: the collection's size, then what the grid shows (`news`).
function setStatus(news = state.news) {
  state.news = news;
  ui.status.textContent = [collectionLine(), news].filter(Boolean).join(' · ');
}

function clearMessages() {
  ui.error.hidden = true;
  ui.error.textContent = '';
  ui.empty.hidden = true;
  ui.empty.textContent = '';
  ui.all.hidden = true;
}

function showIdle() {
  clearMessages();
  state.view = null;
  state.hits = [];
  renderGrid();
  if (state.stats && state.stats.items === 0) {
    showEmpty('Nothing is indexed yet. Run “cerebro index FOLDER” and reload this page.');
  }
  setStatus(state.stats && state.stats.items !== 0 ? 'type to search' : '');
}

function showEmpty(text) {
  ui.empty.textContent = text;
  ui.empty.hidden = false;
}

function showError(message) {
  state.hits = [];
  renderGrid();
  ui.empty.hidden = true;
  ui.error.textContent = `Something went wrong: ${message}`;
  ui.error.hidden = false;
  setStatus('the last request failed');
}

function latency(body, roundTrip) {
  const took = milliseconds(body.took_ms);
  const parts = [took && `${took} ms`];
  if (typeof roundTrip === 'number') parts.push(`${milliseconds(roundTrip)} ms round trip`);
  if (body.cached) parts.push('cached');
  return parts.filter(Boolean).join(', ');
}

function showResults(body, roundTrip, describe) {
  clearMessages();
  if (!state.stats) loadStats(); // it failed before: the server is back
  const results = Array.isArray(body.results) ? body.results : [];
  state.hits = results;
  // "Show more" keeps the keyboard's place; a new query starts at the top.
  if (!sameView(state.shown, state.view)) state.active = 0;
  state.active = Math.max(0, Math.min(state.active, results.length - 1));
  state.shown = state.view;
  renderGrid();
  if (state.focusAfter !== null && results.length) focusCard(Math.min(state.focusAfter, results.length - 1));
  state.focusAfter = null;
  const count = plural(results.length, 'result', 'results');
  setStatus(`${count} ${describe} in ${latency(body, roundTrip)}`);
  // The server left out the hits below its minimum relevance (min > 0); with
  // none left, best_relevance says how relevant the best one was.
  const cut = typeof body.min === 'number' && body.min > 0;
  if (results.length === 0 && typeof body.best_relevance === 'number') {
    showNoCloseMatch(describe, body.best_relevance, body.min);
  } else if (results.length === 0) {
    showEmpty(state.stats && state.stats.items === 0
      ? 'Nothing is indexed yet. Run “cerebro index FOLDER” and reload this page.'
      : `No results ${describe}.`);
  }
  ui.more.hidden = !(results.length >= state.k && state.k < MAX_RESULTS);
  // Fewer than asked for, and ranked by relevance: the cutoff may have hidden some.
  ui.all.hidden = !(cut && results.length > 0 && results.length < state.k &&
    results.some((h) => typeof h.relevance === 'number'));
}

// Nothing relevant enough: says so, with a way to see the best hits anyway.
function showNoCloseMatch(describe, best, min) {
  const button = document.createElement('button');
  button.type = 'button';
  button.id = 'show-all';
  button.textContent = 'Show all results anyway';
  button.addEventListener('click', showAll);
  const text = document.createElement('p');
  text.textContent = `No close match ${describe}.`;
  const why = document.createElement('p');
  why.className = 'why';
  why.textContent = `The best result stands ${best.toFixed(1)} standard deviations above the ` +
    `average (adjusted for the collection's size); this page shows those above ${min}.`;
  ui.empty.replaceChildren(text, why, button);
  ui.empty.hidden = false;
}

// The same query again, without the minimum relevance.
function showAll() {
  const view = state.view;
  if (!view) return;
  if (view.mode === 'similar') similar(view.item, true, true); else searchNow(true, true);
}

function card(hit, index) {
  const item = document.createElement('li');
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'card';
  button.dataset.index = String(index);
  button.dataset.id = String(hit.id);
  button.tabIndex = index === state.active ? 0 : -1;
  button.title = `${label(hit, hit.path)}\n${scoreLine(hit)}`;
  button.setAttribute('aria-label', `${label(hit, hit.path)}, ${scoreLine(hit)}`);

  const img = document.createElement('img');
  img.className = 'thumb';
  img.alt = '';
  img.loading = 'lazy';
  img.decoding = 'async';
  img.src = `${hit.thumb}?size=${THUMB_SIZE}`;
  img.srcset = `${hit.thumb}?size=${THUMB_SIZE} 1x, ${hit.thumb}?size=${THUMB_SIZE * 2} 2x`;
  img.addEventListener('error', () => item.classList.add('broken'), { once: true });

  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = label(hit);

  const badge = document.createElement('span');
  badge.className = 'score';
  badge.textContent = score(hit.score);

  button.append(img, name, badge);
  if (isFrame(hit)) {
    const kind = document.createElement('span');
    kind.className = 'kind';
    kind.textContent = 'video';
    button.append(kind);
  }
  item.append(button);
  return item;
}

function renderGrid() {
  // Focus on a card that is about to be replaced moves to its successor.
  const hadFocus = ui.results.contains(document.activeElement);
  ui.results.replaceChildren(...state.hits.map(card));
  ui.more.hidden = true;
  if (state.hits.length === 0) state.shown = null;
  if (hadFocus && state.hits.length) focusCard(state.active);
}

function cards() {
  return ui.results.querySelectorAll('.card');
}

function focusCard(index) {
  const all = cards();
  if (all.length === 0) return;
  const next = Math.max(0, Math.min(all.length - 1, index));
  all[state.active]?.setAttribute('tabindex', '-1');
  all[next].setAttribute('tabindex', '0');
  state.active = next;
  all[next].focus();
}

function columns() {
  const template = getComputedStyle(ui.results).gridTemplateColumns;
  return Math.max(1, template.split(' ').filter(Boolean).length);
}

// ---- searching ------------------------------------------------------------

function sameView(a, b) {
  if (!a || !b || a.mode !== b.mode || a.all !== b.all) return false;
  return a.mode === 'search' ? a.text === b.text && a.prefix === b.prefix : a.item.id === b.item.id;
}

function syncURL(view, push) {
  const params = new URLSearchParams();
  if (view && view.mode === 'search') {
    params.set('q', view.text);
    if (view.prefix) params.set('prefix', view.prefix);
  } else if (view && view.mode === 'similar') {
    params.set('like', String(view.item.id));
  }
  if (view && view.all) params.set('all', '1');
  const query = params.toString();
  const url = query ? `?${query}` : location.pathname;
  if (url === location.search || (!query && !location.search)) return;
  if (push) history.pushState(null, '', url); else history.replaceState(null, '', url);
}

// A new query or item: the first page of results, the focus where it is.
function newView() {
  state.k = PAGE_SIZE;
  state.focusAfter = null;
}

// all: every hit (min=0); left out, kept from the view shown while the text
// and folder stay the same, else off (a new query gets the server's cutoff).
function searchNow(force = false, all = undefined) {
  clearTimeout(state.timer);
  const text = ui.q.value.trim();
  const prefix = ui.prefix.value.trim();
  if (!text) {
    cancel();
    syncURL(null, false);
    showIdle();
    return;
  }
  const shown = state.view;
  const same = shown && shown.mode === 'search' && shown.text === text && shown.prefix === prefix;
  const view = { mode: 'search', text, prefix, all: all ?? Boolean(same && shown.all) };
  if (!force && sameView(view, state.view)) return;
  if (!sameView(view, state.view)) newView();
  state.view = view;
  syncURL(view, all === true && !(same && shown.all));
  const params = new URLSearchParams({ q: text, k: String(state.k) });
  if (prefix) params.set('prefix', prefix);
  if (view.all) params.set('min', '0');
  const where = prefix ? ` under “${prefix}”` : '';
  request(`/api/search?${params}`, (body) => body.query === text,
    (body, roundTrip) => showResults(body, roundTrip, `for “${text}”${where}`));
}

function scheduleSearch() {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => searchNow(), DEBOUNCE_MS);
}

function similar(item, push = true, all = false) {
  clearTimeout(state.timer);
  const view = { mode: 'similar', item, all };
  if (!sameView(view, state.view)) newView();
  state.view = view;
  syncURL(view, push);
  const min = all ? '&min=0' : '';
  request(`/api/similar/${encodeURIComponent(item.id)}?k=${state.k}${min}`, (body) => body.id === item.id,
    (body, roundTrip) => showResults(body, roundTrip, `like ${label(item, item.path)}`));
}

function showMore() {
  state.k = Math.min(MAX_RESULTS, state.k * 2);
  const view = state.view;
  if (!view) return;
  state.focusAfter = state.hits.length;
  if (view.mode === 'similar') similar(view.item, false, view.all); else searchNow(true);
}

// Restores what the address names: ?q=TEXT[&prefix=P] or ?like=ID, and &all=1.
function fromURL() {
  const params = new URLSearchParams(location.search);
  const like = params.get('like');
  const all = params.get('all') === '1';
  if (like !== null && /^\d+$/.test(like)) {
    cancel();
    const seq = state.seq; // typing while the item loads wins
    getJSON(`/api/item/${like}`).then((item) => {
      if (seq === state.seq) similar(item, false, all);
    }, (err) => {
      if (seq === state.seq) showError(err.message);
    });
    return;
  }
  ui.q.value = params.get('q') ?? '';
  ui.prefix.value = params.get('prefix') ?? '';
  state.view = null;
  searchNow(true, all);
}

// ---- the detail view ------------------------------------------------------

function fact(term, value) {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = value;
  return [dt, dd];
}

function media(hit) {
  if (isFrame(hit)) {
    // The server answers Range requests, so the browser seeks straight to the
    // frame. Muted: browsers only start a video by themselves when it is.
    const video = document.createElement('video');
    video.src = `${hit.image}#t=${hit.timestamp}`;
    video.controls = true;
    video.muted = true;
    video.autoplay = !matchMedia('(prefers-reduced-motion: reduce)').matches;
    video.playsInline = true;
    video.setAttribute('aria-label', label(hit, hit.path));
    return video;
  }
  const img = document.createElement('img');
  img.src = hit.image;
  img.alt = hit.path;
  // A format the browser cannot show (a 16-bit PNG it rejects, say) still has a thumbnail.
  img.addEventListener('error', () => {
    img.src = `${hit.thumb}?size=${DETAIL_FALLBACK_SIZE}`;
  }, { once: true });
  return img;
}

function openDetail(index) {
  const hit = state.hits[index];
  if (!hit) return;
  state.active = index;
  state.opened = hit;
  ui.detailMedia.replaceChildren(media(hit));
  ui.detailTitle.textContent = label(hit, hit.path);
  const facts = [fact('Score', score(hit.score))];
  if (relevance(hit)) facts.push(fact('Relevance', relevance(hit)));
  if (hit.width && hit.height) facts.push(fact('Size', `${hit.width} × ${hit.height}`));
  facts.push(fact('Kind', isFrame(hit) ? 'video frame' : 'image'));
  if (isFrame(hit)) facts.push(fact('Time', clock(hit.timestamp)));
  facts.push(fact('ID', String(hit.id)));
  ui.detailFacts.replaceChildren(...facts.flat());
  ui.original.href = hit.image;
  ui.detail.showModal();
  ui.similar.focus();
}

function closeDetail() {
  if (ui.detail.open) ui.detail.close();
}

ui.detail.addEventListener('close', () => {
  // A playing video keeps downloading and playing when its dialog is hidden.
  ui.detailMedia.replaceChildren();
  state.opened = null;
  // This event comes a task after the dialog closed: by then "/" may have
  // focused the search box, or the browser put the focus back on the card.
  const lost = !document.activeElement || document.activeElement === document.body ||
    ui.detail.contains(document.activeElement);
  if (lost && state.hits.length) focusCard(state.active);
});

// A click on the backdrop (the dialog element itself, outside its content) closes it.
ui.detail.addEventListener('click', (event) => {
  if (event.target === ui.detail) closeDetail();
});

ui.similar.addEventListener('click', () => {
  const item = state.opened;
  if (!item) return;
  closeDetail();
  similar(item);
});

// ---- input ----------------------------------------------------------------

ui.q.addEventListener('input', scheduleSearch);
ui.prefix.addEventListener('input', scheduleSearch);
ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  searchNow(true);
});
ui.more.addEventListener('click', showMore);
ui.all.addEventListener('click', showAll);

ui.results.addEventListener('click', (event) => {
  const button = event.target.closest('.card');
  if (button) openDetail(Number(button.dataset.index));
});

ui.results.addEventListener('keydown', (event) => {
  const button = event.target.closest('.card');
  if (!button || event.altKey || event.ctrlKey || event.metaKey) return;
  const index = Number(button.dataset.index);
  const step = {
    ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns(), ArrowDown: columns(),
    Home: -Infinity, End: Infinity,
  }[event.key];
  if (step === undefined) return;
  event.preventDefault();
  if (event.key === 'ArrowUp' && index < columns()) {
    ui.q.focus();
    return;
  }
  const target = Number.isFinite(step) ? index + step : (step < 0 ? 0 : state.hits.length - 1);
  focusCard(target);
});

ui.results.addEventListener('focusin', (event) => {
  const button = event.target.closest('.card');
  if (button) state.active = Number(button.dataset.index);
});

// From a search field, the down arrow enters the grid.
for (const field of [ui.q, ui.prefix]) {
  field.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' && state.hits.length) {
      event.preventDefault();
      focusCard(state.active);
    }
  });
}

// "/" focuses the search box from anywhere but a text field.
document.addEventListener('keydown', (event) => {
  if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target.isContentEditable) return;
  event.preventDefault();
  closeDetail();
  ui.q.focus();
  ui.q.select();
});

window.addEventListener('popstate', fromURL);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') loadStats();
});

// Without the server, an address with no query keeps the error in view.
loadStats().then((answered) => {
  if (answered || location.search) fromURL();
});
ui.q.focus();
