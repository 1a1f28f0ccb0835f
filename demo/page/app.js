// The demo page: polls /api/state for what the chosen user would see, and sends what they do to
// /api/*, which posts it to hallpass signed as Slack would. All Slack content goes through render.js,
// which escapes it.
import { blocks, escapeHtml, mrkdwn } from './render.js';

const $ = (id) => document.getElementById(id);
let state;
let user = new URLSearchParams(location.search).get('user') ?? localStorage.getItem('hallpass-demo-user');
/** Messages by key, for the block_actions payload of a click (Slack echoes the message back). */
const messages = new Map();
const drawn = {};

const names = () => ({
  users: Object.fromEntries(state.users.map((u) => [u.id, u.name])),
  channels: Object.fromEntries(state.channels.map((c) => [c.id, c.name])),
  groups: Object.fromEntries(state.groups.map((g) => [g.id, g.handle])),
});

async function api(path, body) {
  const res = await fetch(`/api/${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user, ...body }),
  });
  const answer = await res.json();
  if (!res.ok) showError(answer.error ?? `HTTP ${res.status}`);
  else if (answer.status !== undefined && answer.status !== 200)
    showError(`hallpass answered HTTP ${answer.status}`);
  await refresh();
  return answer;
}

function showError(text) {
  const box = $('error');
  box.textContent = text;
  box.hidden = false;
  setTimeout(() => {
    box.hidden = true;
  }, 5000);
}

/** Replaces an element's content only when what it shows changed, so hover, focus and typing survive polls. */
function put(id, key, html) {
  if (drawn[id] === key) return;
  drawn[id] = key;
  const el = $(id);
  el.innerHTML = html;
  // Conversations show their newest message, as Slack does.
  if (el.classList.contains('messages')) el.scrollTop = el.scrollHeight;
}

const time = (iso) => (iso ? new Date(iso).toISOString().slice(11, 16) : '');

function message(m, where, n) {
  const key = `${where.channel ?? 'private'}:${m.ts || m.at}`;
  messages.set(key, m);
  const replies = (m.replies ?? []).map((r) => message(r, where, n)).join('');
  return `<div class="msg${m.ephemeral ? ' ephemeral' : ''}" data-key="${escapeHtml(key)}" data-channel="${escapeHtml(
    where.channel ?? '',
  )}" data-ts="${escapeHtml(m.ts)}" data-ephemeral="${m.ephemeral ? 'true' : 'false'}">
    <div class="meta"><b>hallpass</b> APP ${escapeHtml(time(m.at))}${m.ephemeral ? ' · only visible to you' : ''}</div>
    ${blocks(m.blocks, n, m.text)}
    ${replies === '' ? '' : `<div class="replies">${replies}</div>`}
  </div>`;
}

function draw() {
  const n = names();
  if (!state.users.some((u) => u.id === user)) user = state.users[0].id;
  put(
    'users',
    user,
    state.users
      .map(
        (u) =>
          `<button type="button" class="user" data-user="${escapeHtml(u.id)}" aria-pressed="${u.id === user}" title="${escapeHtml(
            u.title,
          )}">${escapeHtml(u.name)}</button>`,
      )
      .join(' '),
  );
  const ahead = Math.round(state.offsetMs / 60000);
  $('clock').textContent =
    `${state.now.slice(0, 10)} ${state.now.slice(11, 19)} UTC${ahead > 0 ? ` (skipped ${ahead} min ahead)` : ''}`;
  const channel = state.channels[0];
  $('channel-name').textContent = `#${channel.name}`;
  const channelMessages = channel.messages;
  put(
    'messages',
    JSON.stringify(channelMessages),
    channelMessages.length === 0
      ? '<p class="empty">Nothing yet. Type an /access command below.</p>'
      : channelMessages.map((m) => message(m, { channel: channel.id }, n)).join(''),
  );
  put(
    'private',
    JSON.stringify([user, state.private]),
    state.private.length === 0
      ? '<p class="empty">Nothing for you yet.</p>'
      : state.private.map((m) => message(m, { channel: m.ts ? `D${user.slice(1)}` : undefined }, n)).join(''),
  );
  put(
    'home',
    JSON.stringify([user, state.home]),
    state.home === null
      ? '<p class="empty">Opening…</p>'
      : `<div data-surface="home" data-view-id="${escapeHtml(state.home.id ?? '')}">${blocks(state.home.blocks, n)}</div>`,
  );
  put(
    'rules',
    JSON.stringify(state.rules),
    state.rules
      .map(
        (g) =>
          `<h3>${escapeHtml(g.groupId)}</h3>${
            g.rules.length === 0
              ? '<p class="empty">No ingress rules: closed.</p>'
              : `<table><tr><th>rule</th><th>protocol</th><th>ports</th><th>source</th><th>expires (tag)</th><th>description</th></tr>${g.rules
                  .map(
                    (r) =>
                      `<tr class="rule"><td>${escapeHtml(r.id)}</td><td>${escapeHtml(r.protocol)}</td><td>${escapeHtml(
                        r.ports,
                      )}</td><td>${escapeHtml(r.cidr)}</td><td>${escapeHtml(r.expiresAt)}</td><td>${escapeHtml(
                        r.description,
                      )}</td></tr>`,
                  )
                  .join('')}</table>`
          }`,
      )
      .join(''),
  );
  drawModal(n);
}

function drawModal(n) {
  const backdrop = $('modal-backdrop');
  const view = state.modal?.view;
  if (view === null || view === undefined) {
    backdrop.hidden = true;
    drawn.modal = undefined;
    return;
  }
  backdrop.hidden = false;
  const submit = view.submit?.text;
  put(
    'modal',
    JSON.stringify([user, view]),
    `<h3>${escapeHtml(view.title?.text ?? '')}</h3>
    <div data-surface="modal">${blocks(view.blocks, n)}</div>
    <div class="buttons">
      <button type="button" class="btn" id="modal-close">${escapeHtml(view.close?.text ?? 'Cancel')}</button>
      ${submit === undefined ? '' : `<button type="submit" class="btn primary">${escapeHtml(submit)}</button>`}
    </div>`,
  );
}

/** Slack's `view.state.values` from the modal's inputs. */
function modalValues() {
  const values = {};
  for (const el of $('modal').querySelectorAll('[data-block-id][data-action-id][data-type]')) {
    const { blockId, actionId, type } = el.dataset;
    let v;
    if (type === 'plain_text_input') v = { type, value: el.value === '' ? null : el.value };
    else if (type === 'static_select') {
      const opt = el.selectedOptions[0];
      v = {
        type,
        selected_option:
          el.value === ''
            ? null
            : { text: { type: 'plain_text', text: opt.textContent, emoji: true }, value: el.value },
      };
    } else if (type === 'checkboxes') {
      v = {
        type,
        selected_options: [...el.querySelectorAll('input:checked')].map((c) => ({
          text: { type: 'plain_text', text: c.dataset.text, emoji: true },
          value: c.value,
        })),
      };
    } else continue;
    values[blockId] ??= {};
    values[blockId][actionId] = v;
  }
  return values;
}

async function refresh() {
  const res = await fetch(user === null ? '/api/state' : `/api/state?user=${encodeURIComponent(user)}`);
  // A user remembered from another demo's sample: start again from the first one.
  if (res.status === 400 && user !== null) {
    user = null;
    return refresh();
  }
  if (!res.ok) return;
  state = await res.json();
  draw();
}

async function choose(next) {
  user = next;
  localStorage.setItem('hallpass-demo-user', user);
  await refresh();
  // Opening the app's Home tab, as Slack tells the app (app_home_opened): hallpass publishes it.
  await api('home', {});
}

document.addEventListener('click', async (e) => {
  const target = e.target instanceof Element ? e.target.closest('button') : null;
  if (target === null) return;
  if (target.dataset.user) return choose(target.dataset.user);
  if (target.dataset.skip) {
    const s = target.dataset.skip;
    return api('skip', s === 'next' ? { to: 'next' } : { ms: Number(s) });
  }
  if (target.classList.contains('example')) {
    $('command-text').value = target.textContent;
    $('command-text').focus();
    return;
  }
  if (target.id === 'modal-close') return api('close', {});
  if (target.dataset.actionId === undefined) return;
  const { actionId, value, blockId, text } = target.dataset;
  const home = target.closest('[data-surface="home"]');
  if (home !== null)
    return api('click', { surface: 'home', viewId: home.dataset.viewId, actionId, value, blockId, text });
  const msg = target.closest('.msg');
  if (msg === null) return;
  const m = messages.get(msg.dataset.key);
  return api('click', {
    surface: 'message',
    channel: msg.dataset.channel || state.channels[0].id,
    ts: msg.dataset.ts,
    ephemeral: msg.dataset.ephemeral === 'true',
    messageText: m?.text ?? '',
    messageBlocks: m?.blocks ?? [],
    actionId,
    value,
    blockId,
    text,
  });
});

$('command').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('command-text');
  const text = input.value.trim();
  if (text === '') return;
  if (!/^\/access\b/.test(text)) return showError('Commands start with /access');
  input.value = '';
  await api('command', { text, channel: state.channels[0].id });
});

$('modal').addEventListener('submit', async (e) => {
  e.preventDefault();
  const answer = await api('submit', { values: modalValues() });
  const errors = answer.answer?.response_action === 'errors' ? answer.answer.errors : undefined;
  if (errors === undefined) return;
  for (const [blockId, text] of Object.entries(errors)) {
    const input = $('modal').querySelector(`[data-block-id="${CSS.escape(blockId)}"]`);
    input?.insertAdjacentHTML('afterend', `<div class="bk-error">${mrkdwn(String(text), names())}</div>`);
  }
});

await refresh();
await choose(user);
setInterval(refresh, 1000);
