// The sluice console: a small front end over the management API, and
// nothing else. Every page is built here from the API's JSON, with the
// caller's own credential, so a person sees in the console exactly what the
// API lets them see.
//
// Safety rules this file keeps:
// - text from the gateway or a package only ever becomes a Text node or an
//   attribute value (`h` below): no string is ever parsed as HTML, so HTML
//   in a package's description shows as text;
// - the credential travels in `Authorization` only, never in a cookie, so a
//   page of another site cannot make a request in the person's name (the
//   API's bearer rule is the console's CSRF protection);
// - the credential is kept in sessionStorage: it is gone when the tab is.

const SESSION_KEY = 'sluice.session';
const OIDC_KEY = 'sluice.oidc';
const PACKAGE_FILES = ['apiDefinition.swagger.json', 'apiProperties.json', 'script.wasm', 'sluice.toml', 'script.csx', 'icon.png'];
const SVG = 'http://www.w3.org/2000/svg';
const PALETTE = ['#0b4fb3', '#1d6b2f', '#8a3ffc', '#b45309', '#0f766e', '#be185d', '#4d5358', '#7c2d12'];

// ---------- DOM ----------

/** An element with attributes, event handlers (`on: {click: f}`) and children (strings become text). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  return fill(element, attributes, children);
}

/** An SVG element, as `h` makes HTML ones. */
function s(tag, attributes = {}, ...children) {
  return fill(document.createElementNS(SVG, tag), attributes, children);
}

function fill(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'on') {
      for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    } else if (name.startsWith('on')) {
      throw new Error(`event attributes are not used: ${name}`);
    } else if (name === 'value' && 'value' in element) {
      element.value = value;
    } else if (name === 'checked' || name === 'disabled' || name === 'selected') {
      element[name] = Boolean(value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A link to a console page. */
function link(path, text) {
  return h('a', { href: '#' + path }, text);
}

/** A path of the console's own, its segments encoded. */
function route(...segments) {
  return '/' + segments.map(encodeURIComponent).join('/');
}

function show(...content) {
  const main = document.getElementById('main');
  main.replaceChildren(...content.flat(Infinity));
  const heading = main.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
}

function alertBox(message) {
  const box = document.getElementById('alert');
  if (!message) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.replaceChildren(message);
  box.hidden = false;
}

function table(headers, rows, caption) {
  return h('table', {},
    caption ? h('caption', { class: 'note' }, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((header) => h('th', { scope: 'col' }, header)))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell) => h('td', {}, cell))))));
}

function field(id, label, control, { required = false, hint = null } = {}) {
  const hintId = hint ? `${id}-hint` : null;
  control.id = id;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  if (required) {
    control.required = true;
    control.setAttribute('aria-required', 'true');
  }
  return h('div', { class: 'field' },
    h('label', { for: id }, label, required ? h('span', { class: 'required', 'aria-hidden': 'true' }, ' *') : null),
    control,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
}

function status(value) {
  return h('span', { class: `status-${value}` }, value);
}

function bytes(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

// ---------- session and API ----------

function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
  } catch {
    return null;
  }
}

function base() {
  const environment = session()?.environment || 'default';
  return environment === 'default' ? '' : `/environments/${encodeURIComponent(environment)}`;
}

/** A failed API call, with the problem+json answer's title and detail. */
class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(method, path, { json, body, headers = {}, raw = false } = {}) {
  const current = session();
  const sent = { Accept: 'application/json, application/problem+json', ...headers };
  if (current?.token) sent.Authorization = `Bearer ${current.token}`;
  let payload = body;
  if (json !== undefined) {
    sent['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  }
  const response = await fetch(base() + path, { method, headers: sent, body: payload, credentials: 'same-origin', cache: 'no-store' });
  if (raw) return response;
  const type = response.headers.get('content-type') || '';
  const parsed = type.includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    if (response.status === 401 && current) {
      signOut('Your credential was refused: sign in again.');
    }
    throw new ApiError(response.status, parsed);
  }
  return { body: parsed, headers: response.headers, status: response.status };
}

function failure(error) {
  const problem = error.problem;
  const text = problem ? `${problem.title || 'Error'} (${problem.status}): ${problem.detail || ''}` : String(error.message || error);
  alertBox(text);
}

function signOut(message) {
  sessionStorage.removeItem(SESSION_KEY);
  location.hash = '#/signin';
  if (message) alertBox(message);
}

// ---------- navigation ----------

const pages = [];

function page(pattern, render) {
  pages.push({ pattern, render });
}

async function navigate() {
  alertBox(null);
  const path = location.hash.replace(/^#/, '') || '/connectors';
  if (!session() && !path.startsWith('/signin')) {
    location.hash = '#/signin';
    return;
  }
  await header(path);
  const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  // A literal segment wins over a parameter (`/connections/new/x` is not a connection `new`).
  const params = (pattern) => pattern.split(':').length;
  for (const { pattern, render } of [...pages].sort((a, b) => params(a.pattern) - params(b.pattern))) {
    const parts = pattern.split('/').filter(Boolean);
    if (parts.length !== segments.length) continue;
    const params = {};
    if (!parts.every((part, i) => (part.startsWith(':') ? ((params[part.slice(1)] = segments[i]), true) : part === segments[i]))) continue;
    try {
      await render(params);
    } catch (error) {
      failure(error);
    }
    return;
  }
  show(h('h1', {}, 'Not found'), h('p', {}, 'The console has no such page. ', link('/connectors', 'Go to the connectors.')));
}

let environmentInfo = null;

async function header(path) {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  const current = session();
  if (!current) {
    nav.replaceChildren();
    who.replaceChildren();
    environmentInfo = null;
    return;
  }
  if (!environmentInfo) {
    try {
      environmentInfo = (await api('GET', '/api/v1/environment')).body;
    } catch (error) {
      failure(error);
      return;
    }
  }
  const items = [['/connectors', 'Connectors'], ['/publish', 'Publish'], ['/connections', 'Connections'], ['/keys', 'API keys']];
  if (environmentInfo.role === 'admin') items.push(['/environment', 'Environment']);
  nav.replaceChildren(h('ul', {}, items.map(([target, text]) => h('li', {},
    h('a', { href: '#' + target, 'aria-current': path.startsWith(target) ? 'page' : null }, text)))));
  who.replaceChildren(
    `${environmentInfo.caller} (${current.name}) · ${environmentInfo.name}, ${environmentInfo.role} `,
    h('button', { type: 'button', class: 'secondary', on: { click: () => signOut() } }, 'Sign out'));
}

// ---------- sign-in ----------

page('/signin', async () => {
  const environment = h('input', { type: 'text', value: 'default', autocomplete: 'off', spellcheck: 'false' });
  const credential = h('input', { type: 'password', autocomplete: 'off' });
  const form = h('form', { class: 'stack', on: { submit: async (event) => {
    event.preventDefault();
    const given = credential.value.trim();
    await startSession(given, environment.value.trim() || 'default', given.startsWith('slk_') ? 'API key' : 'token');
  } } },
  field('signin-environment', 'Environment', environment, { required: true, hint: 'default, or the id of another environment you are a member of.' }),
  field('signin-credential', 'API key or bearer token', credential, { required: true, hint: 'An API key (slk_…) or a token of an identity provider the gateway trusts. It is kept in this tab only.' }),
  h('div', {}, h('button', { type: 'submit' }, 'Sign in')));
  const providers = h('div', {});
  show(h('h1', {}, 'Sign in'), form, providers);
  const config = await fetch('/console/config.json', { cache: 'no-store' }).then((r) => r.json()).catch(() => ({ issuers: [] }));
  if (config.issuers.length) {
    providers.append(h('h2', {}, 'Or sign in with'), h('div', { class: 'row' }, config.issuers.map((issuer) =>
      h('button', { type: 'button', class: 'secondary', on: { click: () => oidcStart(issuer, environment.value.trim() || 'default') } },
        `Sign in with ${issuer.display_name}`))));
  }
});

async function startSession(token, environment, name) {
  if (!token) {
    alertBox('Give an API key or a token.');
    return;
  }
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token, environment, name }));
  environmentInfo = null;
  try {
    environmentInfo = (await api('GET', '/api/v1/environment')).body;
  } catch (error) {
    sessionStorage.removeItem(SESSION_KEY);
    failure(error);
    return;
  }
  location.hash = '#/connectors';
}

function randomText(bytes) {
  const data = crypto.getRandomValues(new Uint8Array(bytes));
  return base64url(data);
}

function base64url(data) {
  return btoa(String.fromCharCode(...new Uint8Array(data))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// OpenID Connect sign-in: the authorization code flow with PKCE, as a
// public client, entirely in the browser; the gateway checks the token it
// yields as it checks any other.
async function oidcStart(issuer, environment) {
  const verifier = randomText(32);
  const state = randomText(16);
  const nonce = randomText(16);
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(OIDC_KEY, JSON.stringify({ issuer: issuer.name, verifier, state, nonce, environment }));
  const url = new URL(issuer.authorization_endpoint);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', issuer.client_id);
  url.searchParams.set('redirect_uri', redirectUri());
  url.searchParams.set('scope', issuer.scopes.join(' '));
  url.searchParams.set('state', state);
  url.searchParams.set('nonce', nonce);
  url.searchParams.set('code_challenge', challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  leaveFor(url.toString());
}

function redirectUri() {
  return `${location.origin}/console/`;
}

async function oidcFinish() {
  const query = new URLSearchParams(location.search);
  if (!query.has('code') && !query.has('error')) return;
  history.replaceState(null, '', '/console/#/signin');
  const pending = JSON.parse(sessionStorage.getItem(OIDC_KEY) || 'null');
  sessionStorage.removeItem(OIDC_KEY);
  if (query.has('error')) {
    alertBox(`The identity provider refused the sign-in: ${query.get('error')} ${query.get('error_description') || ''}`);
    return;
  }
  if (!pending || query.get('state') !== pending.state) {
    alertBox('This sign-in was not started in this tab, or it was started twice: start it again.');
    return;
  }
  const config = await fetch('/console/config.json', { cache: 'no-store' }).then((r) => r.json());
  const issuer = config.issuers.find((i) => i.name === pending.issuer);
  if (!issuer) {
    alertBox('The gateway no longer offers this identity provider.');
    return;
  }
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: query.get('code'),
    redirect_uri: redirectUri(),
    client_id: issuer.client_id,
    code_verifier: pending.verifier,
  });
  const answer = await fetch(issuer.token_endpoint, { method: 'POST', body: form, credentials: 'omit' })
    .then(async (r) => ({ ok: r.ok, body: await r.json().catch(() => ({})) }))
    .catch((error) => ({ ok: false, body: { error: String(error) } }));
  if (!answer.ok) {
    alertBox(`The identity provider did not give a token: ${answer.body.error || 'no answer'} ${answer.body.error_description || ''}`);
    return;
  }
  const token = answer.body[issuer.token];
  if (!token) {
    alertBox(`The identity provider's answer has no ${issuer.token}.`);
    return;
  }
  if (issuer.token === 'id_token' && claims(token)?.nonce !== pending.nonce) {
    alertBox('The ID token is not the one this sign-in asked for (its nonce differs): start again.');
    return;
  }
  await startSession(token, pending.environment, issuer.display_name);
}

/** A JWT's claims, unverified: the gateway verifies the token; this only reads its nonce. */
function claims(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return null;
  }
}

// ---------- connectors ----------

page('/connectors', async () => {
  const { body: connectors } = await api('GET', '/api/v1/connectors');
  const search = h('input', { type: 'search', placeholder: 'id, title or owner' });
  const body = h('tbody', {});
  const count = h('p', { class: 'note', role: 'status' });
  const render = () => {
    const term = search.value.trim().toLowerCase();
    const shown = connectors.filter((c) => !term || [c.id, c.title, c.owner].some((v) => (v || '').toLowerCase().includes(term)));
    body.replaceChildren(...shown.map((c) => h('tr', {},
      h('td', {}, link(route('connectors', c.id), c.id)),
      h('td', {}, c.title || ''),
      h('td', {}, c.owner || 'environment admins'),
      h('td', {}, c.right),
      h('td', {}, c.shares === null || c.shares === undefined ? '—' : c.shares === 0 ? 'not shared' : `shared with ${c.shares}`),
      h('td', {}, status(c.status), c.failure ? h('div', { class: 'hint' }, c.failure) : null),
      h('td', {}, validationSummary(c)),
      h('td', {}, String(c.operations)))));
    count.textContent = `${shown.length} of ${connectors.length} connectors`;
  };
  search.addEventListener('input', render);
  render();
  show(h('h1', {}, 'Connectors'),
    h('div', { class: 'row' }, field('connector-search', 'Search', search), link('/publish', 'Publish a connector')),
    count,
    h('table', {}, h('thead', {}, h('tr', {}, ['Connector', 'Title', 'Owner', 'Your right', 'Sharing', 'Status', 'Last validation', 'Operations'].map((t) => h('th', { scope: 'col' }, t)))), body));
});

function validationSummary(connector) {
  const v = connector.validation;
  if (!v) return connector.read_only ? 'packages folder' : '—';
  if (!v.errors && !v.warnings) return h('span', { class: 'sev-info' }, 'clean');
  return h('span', { class: v.errors ? 'sev-error' : 'sev-warning' }, `${v.errors} errors, ${v.warnings} warnings`);
}

page('/connectors/:id', async ({ id }) => {
  const { body: c, headers } = await api('GET', `/api/v1/connectors/${encodeURIComponent(id)}`);
  const etag = headers.get('etag');
  const canEdit = c.right === 'can-edit';
  const content = [
    h('h1', {}, c.title || c.id),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Id'), h('dd', {}, h('code', {}, c.id)),
      h('dt', {}, 'Owner'), h('dd', {}, c.owner || 'environment admins'),
      h('dt', {}, 'Your right'), h('dd', {}, c.right),
      h('dt', {}, 'Status'), h('dd', {}, status(c.status), c.failure ? ` — ${c.failure}` : ''),
      h('dt', {}, 'Source'), h('dd', {}, c.read_only ? 'the packages folder (read-only here)' : 'published through the API')),
    h('div', { class: 'row' },
      link(route('connections', 'new', c.id), 'New connection'),
      canEdit && !c.read_only ? link(route('connectors', c.id, 'update'), 'Update the package') : null),
  ];
  content.push(h('h2', {}, 'Operations'), operations(c));
  content.push(h('h2', {}, 'Policies'), c.policies.length
    ? h('ol', {}, c.policies.map((p) => h('li', {}, h('code', {}, p.template), ` ${p.title} (${p.section}${p.operations.length ? `; ${p.operations.join(', ')}` : '; every operation'})`)))
    : h('p', { class: 'note' }, 'No policies.'));
  content.push(h('h2', {}, 'Code'), c.code
    ? h('dl', { class: 'facts' },
      h('dt', {}, 'Size'), h('dd', {}, bytes(c.code.size_bytes)),
      h('dt', {}, 'Fuel per call'), h('dd', {}, c.code.fuel.toLocaleString('en')),
      h('dt', {}, 'Memory per call'), h('dd', {}, bytes(c.code.memory_bytes)),
      h('dt', {}, 'Deadline'), h('dd', {}, `${c.code.deadline_ms} ms`),
      h('dt', {}, 'Backend calls per call'), h('dd', {}, String(c.code.backend_calls)),
      h('dt', {}, 'Sees credentials'), h('dd', {}, c.code.sees_credentials ? 'yes' : 'no'))
    : h('p', { class: 'note' }, 'No custom code: operations go to the backend as declared.'));
  if (c.oauth) {
    content.push(h('h2', {}, 'OAuth'), h('dl', { class: 'facts' },
      h('dt', {}, 'Redirect mode'), h('dd', {}, c.oauth.redirect_mode),
      h('dt', {}, 'Redirect URI'), h('dd', {}, h('code', {}, c.oauth.redirect_uri || '—'))),
    c.oauth.warning ? h('p', { class: 'warning' }, c.oauth.warning) : null);
  }
  if ((c.parameter_sets || []).length) {
    // Several ways to connect: each set, its parameters and how it signs in.
    content.push(h('h2', {}, c.parameter_sets_label || 'Ways to connect'), table(['Set', 'Name', 'Parameters', 'Redirect mode', 'Redirect URI'],
      c.parameter_sets.map((set) => [h('code', {}, set.name), set.display_name || '', set.parameters.map((p) => p.name).join(', ') || '—',
        set.oauth ? set.oauth.redirect_mode : 'no sign-in', set.oauth ? h('code', {}, set.oauth.redirect_uri || '—') : '—'])));
    for (const set of c.parameter_sets) {
      if (set.oauth?.warning) content.push(h('p', { class: 'warning' }, `${set.name}: ${set.oauth.warning}`));
    }
  }
  content.push(h('h2', {}, 'Validation'), findings(c.validation?.findings, c.validation ? `Version ${c.validation.version}, validated ${c.validation.at}` : null, c.read_only));
  const activity = h('section', { 'aria-labelledby': 'activity-heading' }, h('h2', { id: 'activity-heading' }, 'Activity, last hour'));
  content.push(activity);
  if (canEdit) content.push(await sharing(`/api/v1/connectors/${encodeURIComponent(c.id)}/shares`, true));
  if (canEdit && !c.read_only) {
    content.push(h('h2', {}, 'Delete'), h('button', { type: 'button', class: 'danger', on: { click: async () => {
      if (!confirm(`Delete connector ${c.id}? Its connections stop working.`)) return;
      try {
        await api('DELETE', `/api/v1/connectors/${encodeURIComponent(c.id)}`, { headers: etag ? { 'If-Match': etag } : {} });
        location.hash = '#/connectors';
      } catch (error) {
        failure(error);
      }
    } } }, `Delete ${c.id}`));
  }
  show(content);
  api('GET', `/api/v1/connectors/${encodeURIComponent(c.id)}/activity`)
    .then(({ body }) => activity.append(...chart(body)))
    .catch((error) => activity.append(h('p', { class: 'note' }, `No activity to show: ${error.message}`)));
});

function operations(c) {
  if (!c.operation_list.length) return h('p', { class: 'note' }, 'No operations.');
  const groups = new Map();
  for (const operation of c.operation_list) {
    const tags = operation.tags && operation.tags.length ? operation.tags : ['(no tag)'];
    for (const tag of tags) {
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push(operation);
    }
  }
  return [...groups].map(([tag, list]) => h('section', {},
    h('h3', {}, tag),
    table(['Method', 'Path', 'Operation', 'Summary', 'Code', ''], list.map((o) => [
      h('span', { class: 'method' }, o.method),
      h('code', {}, o.path),
      h('code', {}, o.id),
      o.summary || '',
      o.runs_code ? 'runs code' : '—',
      link(route('connectors', c.id, 'test', o.id), `Test ${o.id}`),
    ]))));
}

function findings(list, caption, readOnly) {
  if (!list) return h('p', { class: 'note' }, readOnly ? 'A packages-folder connector: `sluice validate` checks it.' : 'No validation recorded.');
  if (!list.length) return h('p', { class: 'sev-info' }, caption ? `${caption}: no findings.` : 'No findings.');
  return table(['Severity', 'Rule', 'File', 'JSON path', 'Message'], list.map((f) => [
    h('span', { class: `sev-${f.severity}` }, f.severity), h('code', {}, f.rule), f.file || '', h('code', {}, f.path || ''), f.message,
  ]), caption);
}

// ---------- activity ----------

function chart(activity) {
  const minutes = activity.minutes || [];
  const operations = [...new Set(minutes.flatMap((m) => Object.keys(m.calls)))].sort();
  const kinds = [...new Set(minutes.flatMap((m) => Object.keys(m.errors)))].sort();
  const total = (m, key) => Object.values(m[key]).reduce((a, b) => a + b, 0);
  const peak = Math.max(1, ...minutes.map((m) => total(m, 'calls')), ...minutes.map((m) => total(m, 'errors')));
  const width = 600;
  const height = 160;
  const slot = width / Math.max(minutes.length, 1);
  const half = height / 2 - 10;
  const color = (list, key) => PALETTE[list.indexOf(key) % PALETTE.length];
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-labelledby': 'activity-title' },
    s('title', { id: 'activity-title' }, `Calls per minute above the line, errors below, over the last ${minutes.length} minutes`),
    s('line', { x1: 0, x2: width, y1: height / 2, y2: height / 2, stroke: '#4a5260', 'stroke-width': 1 }),
    s('text', { x: 4, y: 12, 'font-size': 10, fill: '#4a5260' }, `calls (peak ${peak}/min)`),
    s('text', { x: 4, y: height - 4, 'font-size': 10, fill: '#4a5260' }, `errors · ${minutes.length} min ago`),
    s('text', { x: width - 4, y: height - 4, 'font-size': 10, fill: '#4a5260', 'text-anchor': 'end' }, 'now'));
  minutes.forEach((minute, i) => {
    let y = height / 2;
    for (const operation of operations) {
      const n = minute.calls[operation] || 0;
      if (!n) continue;
      const bar = (n / peak) * half;
      y -= bar;
      svg.append(s('rect', { x: i * slot + 1, y, width: slot - 2, height: bar, fill: color(operations, operation) },
        s('title', {}, `${minute.start}: ${n} calls of ${operation}`)));
    }
    let down = height / 2;
    for (const kind of kinds) {
      const n = minute.errors[kind] || 0;
      if (!n) continue;
      const bar = (n / peak) * half;
      svg.append(s('rect', { x: i * slot + 1, y: down, width: slot - 2, height: bar, fill: '#a3161a', opacity: 0.55 + 0.45 * (kinds.indexOf(kind) / Math.max(kinds.length, 1)) },
        s('title', {}, `${minute.start}: ${n} × ${kind}`)));
      down += bar;
    }
  });
  const sum = (key, name) => minutes.reduce((a, m) => a + (m[key][name] || 0), 0);
  const legend = h('ul', { class: 'legend' }, operations.map((o) => {
    const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    swatch.style.background = color(operations, o);
    return h('li', {}, swatch, o);
  }));
  const rows = [...operations.map((o) => ['calls', o, String(sum('calls', o))]), ...kinds.map((k) => ['error', k, String(sum('errors', k))])];
  return [
    svg,
    legend,
    rows.length ? table(['What', 'Operation or kind', 'Last hour'], rows) : h('p', { class: 'note' }, 'No calls in the last hour.'),
  ];
}

// ---------- sharing ----------

async function sharing(path, withRights) {
  const section = h('section', { 'aria-labelledby': 'sharing-heading' }, h('h2', { id: 'sharing-heading' }, 'Sharing'));
  const list = h('div', {});
  const reload = async () => {
    const { body: shares } = await api('GET', path);
    list.replaceChildren(shares.length
      ? table(['Principal', 'Name', withRights ? 'Right' : null, ''].filter((x) => x !== null), shares.map((share) => [
        h('code', {}, share.principal), share.display_name || '', withRights ? share.right : null,
        h('button', { type: 'button', class: 'secondary', on: { click: async () => {
          try {
            await api('DELETE', `${path}/${encodeURIComponent(share.principal)}`);
            await reload();
          } catch (error) {
            failure(error);
          }
        } } }, `Remove ${share.principal}`),
      ].filter((x) => x !== null)))
      : h('p', { class: 'note' }, 'Not shared with anyone.'));
  };
  const principal = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const right = h('select', {}, h('option', { value: 'can-use' }, 'can-use'), h('option', { value: 'can-edit' }, 'can-edit'));
  const form = h('form', { class: 'row', on: { submit: async (event) => {
    event.preventDefault();
    try {
      await api('PUT', `${path}/${encodeURIComponent(principal.value.trim())}`, withRights ? { json: { right: right.value } } : {});
      principal.value = '';
      await reload();
    } catch (error) {
      failure(error);
    }
  } } },
  field('share-principal', 'User or group', principal, { required: true, hint: 'A principal id: a user (bob), a group (sales), or an issuer’s user or group (entra:3f6c…).' }),
  withRights ? field('share-right', 'Right', right) : null,
  h('button', { type: 'submit' }, 'Share'));
  await reload();
  section.append(list, form);
  return section;
}

// ---------- publish and update ----------

page('/publish', async () => publishPage(null));
page('/connectors/:id/update', async ({ id }) => publishPage(id));

async function publishPage(id) {
  // An update replaces the version this page was opened on, or fails (412).
  const etag = id ? (await api('GET', `/api/v1/connectors/${encodeURIComponent(id)}`)).headers.get('etag') : null;
  let upload = null;
  let blocked = true;
  const report = h('div', { 'aria-live': 'polite' });
  const chosen = h('p', { class: 'note' }, 'Nothing chosen yet.');
  const idInput = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const publish = h('button', { type: 'button', id: 'publish-button', disabled: true, on: { click: async () => {
    if (!upload || blocked) return;
    try {
      const answer = id
        ? await api('PUT', `/api/v1/connectors/${encodeURIComponent(id)}`, { body: upload, headers: etag ? { 'If-Match': etag } : {} })
        : await api('POST', `/api/v1/connectors${idInput.value.trim() ? `?id=${encodeURIComponent(idInput.value.trim())}` : ''}`, { body: upload });
      location.hash = '#' + route('connectors', answer.body.connector);
    } catch (error) {
      failure(error);
    }
  } } }, id ? `Publish the new version of ${id}` : 'Publish');

  const choose = async (files, description) => {
    alertBox(null);
    upload = null;
    blocked = true;
    publish.disabled = true;
    report.replaceChildren();
    try {
      upload = await packageBody(files);
    } catch (error) {
      alertBox(error.message);
      return;
    }
    chosen.textContent = description;
    try {
      const { body: checked } = await api('POST', '/api/v1/validate', { body: upload });
      blocked = checked.errors > 0;
      publish.disabled = blocked;
      report.replaceChildren(
        h('h2', {}, 'Validation'),
        h('p', { class: blocked ? 'sev-error' : 'sev-info' },
          blocked ? `${checked.errors} errors block publishing; fix them and choose the package again.` : `Ready to publish (${checked.warnings} warnings).`),
        findings(checked.findings, null, false));
    } catch (error) {
      failure(error);
    }
  };

  const folderInput = h('input', { type: 'file', webkitdirectory: true, multiple: true });
  folderInput.addEventListener('change', () => choose([...folderInput.files], `Folder: ${[...folderInput.files].map((f) => f.name).join(', ')}`));
  const zipInput = h('input', { type: 'file', accept: '.zip,application/zip' });
  zipInput.addEventListener('change', () => zipInput.files[0] && choose([zipInput.files[0]], `Archive: ${zipInput.files[0].name}`));
  const drop = h('div', { class: 'drop', id: 'drop', on: {
    dragover: (event) => { event.preventDefault(); drop.classList.add('over'); },
    dragleave: () => drop.classList.remove('over'),
    drop: async (event) => {
      event.preventDefault();
      drop.classList.remove('over');
      const files = await droppedFiles(event.dataTransfer);
      choose(files, `Dropped: ${files.map((f) => f.name).join(', ')}`);
    },
  } }, h('p', {}, 'Drop a package folder or a .zip archive here, or choose one below.'));
  show(
    h('h1', {}, id ? `Update ${id}` : 'Publish a connector'),
    h('p', {}, 'A package holds apiDefinition.swagger.json and apiProperties.json, and may hold script.wasm, sluice.toml, script.csx and icon.png. The findings show before anything is published; errors block it.'),
    drop,
    h('div', { class: 'row' }, field('package-folder', 'Package folder', folderInput), field('package-zip', 'Package archive (.zip)', zipInput)),
    chosen,
    id ? null : field('publish-id', 'Connector id (optional)', idInput, { hint: 'Default: made from the definition’s title.' }),
    report,
    h('div', {}, publish));
}

/** The request body for a package: a zip archive as it is, or the folder's package files as multipart parts. */
async function packageBody(files) {
  if (files.length === 1 && /\.zip$/i.test(files[0].name)) {
    return new Blob([await files[0].arrayBuffer()], { type: 'application/zip' });
  }
  const form = new FormData();
  const taken = files.filter((f) => PACKAGE_FILES.includes(f.name));
  if (!taken.some((f) => f.name === 'apiDefinition.swagger.json')) {
    throw new Error('The folder has no apiDefinition.swagger.json.');
  }
  for (const file of taken) form.append(file.name, file, file.name);
  return form;
}

async function droppedFiles(transfer) {
  const entries = [...transfer.items].map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
  if (!entries.length) return [...transfer.files];
  const files = [];
  const walk = async (entry, depth) => {
    if (entry.isFile) {
      files.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
    } else if (entry.isDirectory && depth < 2) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child, depth + 1);
      }
    }
  };
  for (const entry of entries) await walk(entry, 0);
  return files;
}

// ---------- connections ----------

page('/connections', async () => {
  const { body: connections } = await api('GET', '/api/v1/connections');
  show(h('h1', {}, 'Connections'),
    h('p', {}, 'A connection is made from a connector’s page: ', link('/connectors', 'choose a connector'), '.'),
    connections.length ? table(['Connector', 'Connection', 'Owner', 'Status', 'Values', ''], connections.map((c) => [
      link(route('connectors', c.connector), c.connector),
      link(route('connections', c.connector, c.id), c.id),
      c.owner || 'environment admins',
      [status(c.status), c.reason ? h('div', { class: 'hint' }, c.reason) : null],
      Object.entries(c.parameters).map(([k, v]) => h('div', {}, h('code', {}, k), ` = ${v}`)),
      connectionActions(c),
    ])) : h('p', { class: 'note' }, 'No connections you may use.'));
});

function connectionActions(c) {
  if (c.read_only) return h('span', { class: 'note' }, 'settings file');
  const path = `/api/v1/connections/${encodeURIComponent(c.connector)}/${encodeURIComponent(c.id)}`;
  return h('div', { class: 'row' },
    c.status === 'signin-required' ? h('button', { type: 'button', on: { click: () => signInConnection(c.connector, c.id) } }, `Sign in ${c.id}`) : null,
    h('button', { type: 'button', class: 'danger', on: { click: async () => {
      if (!confirm(`Delete connection ${c.id}?`)) return;
      try {
        await api('DELETE', path);
        if (location.hash === '#/connections') navigate();
        else location.hash = '#/connections';
      } catch (error) {
        failure(error);
      }
    } } }, `Delete ${c.id}`));
}

/** Sends the browser to a provider's page: an http(s) address only, never a `javascript:` one a package could name. */
function leaveFor(address) {
  const url = new URL(address, location.href);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`Refusing to open ${url.protocol} address.`);
  location.assign(url.toString());
}

async function signInConnection(connector, id) {
  try {
    const { body } = await api('POST', `/api/v1/connections/${encodeURIComponent(connector)}/${encodeURIComponent(id)}/signin`);
    leaveFor(body.authorization_url);
  } catch (error) {
    failure(error);
  }
}

page('/connections/:connector/:id', async ({ connector, id }) => {
  const path = `/api/v1/connections/${encodeURIComponent(connector)}/${encodeURIComponent(id)}`;
  const { body: c } = await api('GET', path);
  const mine = c.owner === environmentInfo?.caller || (!c.owner && environmentInfo?.role === 'admin');
  show(h('h1', {}, `Connection ${c.id}`),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Connector'), h('dd', {}, link(route('connectors', c.connector), c.connector)),
      h('dt', {}, 'Owner'), h('dd', {}, c.owner || 'environment admins'),
      c.parameter_set ? [h('dt', {}, 'Way to connect'), h('dd', {}, h('code', {}, c.parameter_set))] : null,
      h('dt', {}, 'Status'), h('dd', {}, status(c.status), c.reason ? ` — ${c.reason}` : ''),
      h('dt', {}, 'Values'), h('dd', {}, Object.keys(c.parameters).length
        ? Object.entries(c.parameters).map(([k, v]) => h('div', {}, h('code', {}, k), ` = ${v}`))
        : 'none that are not secret')),
    connectionActions(c),
    mine && !c.read_only ? await sharing(`${path}/shares`, false) : null);
});

/** The form fields of some connection parameters (not the OAuth sign-in,
 * which is made after); each control is pushed on `controls` with its
 * parameter. */
function parameterFields(declared, controls) {
  return declared.filter((p) => p.type !== 'oauthSetting').map((p, i) => {
    let control;
    if (p.allowed_values.length) {
      control = h('select', {}, p.required ? null : h('option', { value: '' }, '(none)'), p.allowed_values.map((v) => h('option', { value: v }, v)));
    } else if (p.type === 'bool') {
      control = h('select', {}, h('option', { value: 'false' }, 'false'), h('option', { value: 'true' }, 'true'));
    } else if (p.type === 'int') {
      control = h('input', { type: 'number', step: '1' });
    } else {
      control = h('input', { type: p.secret ? 'password' : 'text', autocomplete: p.secret ? 'new-password' : 'off', spellcheck: 'false' });
    }
    controls.push([p, control]);
    return field(`conn-param-${i}`, p.display_name || p.name, control, { required: p.required, hint: [p.description, p.tooltip].filter(Boolean).join(' ') || null });
  });
}

page('/connections/new/:connector', async ({ connector }) => {
  const { body: c } = await api('GET', `/api/v1/connectors/${encodeURIComponent(connector)}`);
  const idInput = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', pattern: '[A-Za-z0-9._~-]{1,128}' });
  // A connector with parameter sets (several ways to connect): the
  // connection chooses one, and gives that set's parameters.
  const sets = c.parameter_sets || [];
  let controls = [];
  const fieldsBox = h('div', { class: 'stack' });
  const note = h('div', {});
  const setSelect = sets.length
    ? h('select', { on: { change: () => showParameters() } },
      sets.map((set) => h('option', { value: set.name }, set.display_name ? `${set.display_name} (${set.name})` : set.name)))
    : null;
  const chosenSet = () => (setSelect ? sets.find((set) => set.name === setSelect.value) : null);
  function showParameters() {
    const set = chosenSet();
    const declared = set ? set.parameters : (c.connection_parameters || []);
    controls = [];
    fieldsBox.replaceChildren(...parameterFields(declared, controls));
    const oauth = declared.some((p) => p.type === 'oauthSetting');
    note.replaceChildren(...(oauth ? [h('p', { class: 'note' }, set
      ? 'This way of connecting signs in with OAuth: sign the connection in once it is made.'
      : 'This connector signs in with OAuth: sign the connection in once it is made.')] : []),
    ...(set && set.description ? [h('p', { class: 'hint' }, set.description)] : []));
  }
  showParameters();
  const result = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'stack', on: { submit: async (event) => {
    event.preventDefault();
    const parameters = {};
    for (const [p, control] of controls) {
      if (control.value !== '') parameters[p.name] = control.value;
    }
    const json = { connector: c.id, id: idInput.value.trim(), parameters };
    const set = chosenSet();
    if (set) json.parameter_set = set.name;
    try {
      const { body: made } = await api('POST', '/api/v1/connections', { json });
      for (const [p, control] of controls) if (p.secret) control.value = '';
      result.replaceChildren(h('p', {}, `Connection ${made.id}: `, status(made.status), made.reason ? ` — ${made.reason}` : ''),
        made.status === 'signin-required' ? h('button', { type: 'button', on: { click: () => signInConnection(made.connector, made.id) } }, `Sign in ${made.id}`) : null,
        h('p', {}, link('/connections', 'All connections'), ' · ', link(route('connectors', c.id), `Back to ${c.id}`)));
    } catch (error) {
      failure(error);
    }
  } } },
  field('conn-id', 'Connection id', idInput, { required: true, hint: '1 to 128 letters, digits, ., _, - or ~; it appears in the connection’s URLs.' }),
  setSelect ? field('conn-set', c.parameter_sets_label || 'Way to connect', setSelect, { required: true }) : null,
  fieldsBox,
  note,
  h('div', {}, h('button', { type: 'submit' }, 'Create the connection')));
  show(h('h1', {}, `New connection to ${c.title || c.id}`), form, result);
});

// ---------- test an operation ----------

page('/connectors/:id/test/:operation', async ({ id, operation }) => {
  const { body: c } = await api('GET', `/api/v1/connectors/${encodeURIComponent(id)}`);
  const op = c.operation_list.find((o) => o.id === operation);
  if (!op) throw new Error(`${id} has no operation ${operation}.`);
  const { body: connections } = await api('GET', '/api/v1/connections');
  const mine = connections.filter((x) => x.connector === c.id);
  const connection = h('select', {}, mine.map((x) => h('option', { value: x.id }, `${x.id} (${x.status})`)));
  const inputs = [];
  let bodyInput = null;
  const fields = op.parameters.map((p, i) => {
    if (p.in === 'body') {
      bodyInput = h('textarea', { spellcheck: 'false' }, JSON.stringify(skeleton(p.schema), null, 2));
      return field(`param-${i}`, `${p.summary || p.name} (JSON body)`, bodyInput, { required: p.required, hint: p.description });
    }
    const control = p.enum.length
      ? h('select', {}, p.required ? null : h('option', { value: '' }, '(none)'), p.enum.map((v) => h('option', { value: String(v), selected: v === p.default }, String(v))))
      : h('input', { type: p.type === 'integer' || p.type === 'number' ? 'number' : 'text', value: p.default ?? '', spellcheck: 'false', step: p.type === 'number' ? 'any' : null });
    inputs.push([p, control]);
    return field(`param-${i}`, `${p.summary || p.name} (${p.in})`, control, { required: p.required, hint: p.description });
  });
  const result = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'stack', on: { submit: async (event) => {
    event.preventDefault();
    const parameters = {};
    for (const [p, control] of inputs) {
      if (control.value === '') continue;
      parameters[p.name] = p.type === 'integer' || p.type === 'number' ? Number(control.value) : p.type === 'boolean' ? control.value === 'true' : control.value;
    }
    const request = { connection: connection.value, parameters };
    if (bodyInput && bodyInput.value.trim()) {
      try {
        request.body = JSON.parse(bodyInput.value);
      } catch (error) {
        alertBox(`The body is not JSON: ${error.message}`);
        return;
      }
    }
    result.replaceChildren(h('p', { class: 'note' }, 'Calling…'));
    try {
      const { body: tested } = await api('POST', `/api/v1/connectors/${encodeURIComponent(c.id)}/operations/${encodeURIComponent(op.id)}/test`, { json: request });
      result.replaceChildren(...testResult(tested, c.code));
    } catch (error) {
      result.replaceChildren();
      failure(error);
    }
  } } },
  field('test-connection', 'Connection', connection, { required: true, hint: mine.length ? null : 'No connection of this connector yet: make one first.' }),
  fields,
  h('div', {}, h('button', { type: 'submit', disabled: !mine.length }, 'Test')));
  show(h('h1', {}, `Test ${op.id}`),
    h('p', {}, h('span', { class: 'method' }, op.method), ' ', h('code', {}, op.path), op.summary ? ` — ${op.summary}` : ''),
    op.description ? h('p', { class: 'note' }, op.description) : null,
    h('p', {}, link(route('connectors', c.id), `Back to ${c.title || c.id}`), ' · ', link(route('connections', 'new', c.id), 'New connection')),
    form, result);
});

/** A starting body for a schema: its example, else an object of its properties' types. */
function skeleton(schema, depth = 0) {
  if (!schema || depth > 4) return {};
  if (schema.example !== undefined) return schema.example;
  if (schema.default !== undefined) return schema.default;
  switch (schema.type) {
    case 'array': return [skeleton(schema.items, depth + 1)];
    case 'string': return schema.enum ? schema.enum[0] : '';
    case 'integer': case 'number': return 0;
    case 'boolean': return false;
    default: {
      const out = {};
      for (const [name, property] of Object.entries(schema.properties || {})) out[name] = skeleton(property, depth + 1);
      return out;
    }
  }
}

function testResult(tested, code) {
  const response = tested.response;
  const body = typeof response.body === 'string' ? response.body : JSON.stringify(response.body, null, 2);
  const out = [
    h('h2', {}, 'Response'),
    h('p', {}, 'Status ', h('strong', { id: 'response-status', class: response.status < 400 ? 'sev-info' : 'sev-error' }, String(response.status))),
    table(['Header', 'Value'], Object.entries(response.headers).map(([k, v]) => [h('code', {}, k), v])),
    h('pre', { id: 'response-body' }, body),
    h('h2', {}, 'Backend requests'),
    tested.backend_requests.length ? table(['Method', 'URL', 'Status', 'Time', 'Headers'], tested.backend_requests.map((r) => [
      h('span', { class: 'method' }, r.method), h('code', {}, r.url), r.status ?? (r.error || '—'), `${r.duration_ms} ms`,
      Object.entries(r.headers).map(([k, v]) => h('div', {}, h('code', {}, k), `: ${v}`)),
    ])) : h('p', { class: 'note' }, 'No backend request was sent.'),
    h('h2', {}, 'Log lines of the code'),
    tested.logs.length ? h('pre', {}, tested.logs.map((l) => `${l.level.padEnd(5)} ${l.source}: ${l.message}\n`).join('')) : h('p', { class: 'note' }, code ? 'The code wrote no lines.' : 'No code ran.'),
  ];
  if (tested.report) {
    const r = tested.report;
    const bar = (label, used, limit, text) => [
      h('span', {}, label),
      h('meter', { min: 0, max: limit, value: used, high: limit * 0.8, optimum: 0, 'aria-label': `${label}: ${text}` }),
      h('span', {}, text),
    ];
    const percent = (a, b) => {
      if (!b) return '—';
      const share = (100 * a) / b;
      return `${share >= 1 || share === 0 ? share.toFixed(1) : share.toPrecision(2)}%`;
    };
    out.push(h('h2', {}, 'Call report'), h('div', { class: 'bars', id: 'call-report' },
      r.fuel_consumed === null || r.fuel_consumed === undefined
        ? [h('span', {}, 'Fuel'), h('span', {}, 'not metered'), h('span', {}, '')]
        : bar('Fuel', r.fuel_consumed, r.fuel_limit, `${r.fuel_consumed.toLocaleString('en')} of ${r.fuel_limit.toLocaleString('en')} (${percent(r.fuel_consumed, r.fuel_limit)})`),
      bar('Peak memory', r.peak_memory_bytes, r.memory_limit_bytes, `${bytes(r.peak_memory_bytes)} of ${bytes(r.memory_limit_bytes)} (${percent(r.peak_memory_bytes, r.memory_limit_bytes)})`),
      bar('Time', r.wall_time_ms, r.deadline_ms, `${r.wall_time_ms} ms of ${r.deadline_ms} ms (${percent(r.wall_time_ms, r.deadline_ms)})`)));
  }
  return out;
}

// ---------- API keys ----------

page('/keys', async () => {
  const { body: keys } = await api('GET', '/api/v1/keys');
  const label = h('input', { type: 'text', autocomplete: 'off', maxlength: 200 });
  const days = h('input', { type: 'number', min: 1, max: 3650, step: 1 });
  const issued = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'stack', on: { submit: async (event) => {
    event.preventDefault();
    const request = { label: label.value.trim() };
    if (days.value) request.expires_in_days = Number(days.value);
    try {
      const { body: key } = await api('POST', '/api/v1/keys', { json: request });
      await navigate();
      // The whole key is shown this once, and kept nowhere by the console.
      document.getElementById('issued-key').replaceChildren(
        h('p', { class: 'warning' }, 'Copy the key now: it is not shown again.'),
        h('pre', { id: 'new-key' }, key.key));
    } catch (error) {
      failure(error);
    }
  } } },
  field('key-label', 'What the key is for', label, { required: true, hint: 'For example: the CLI on my laptop.' }),
  field('key-days', 'Days until it stops working (optional)', days, { hint: 'Empty: it works until it is revoked.' }),
  h('div', {}, h('button', { type: 'submit' }, 'Issue a key')));
  issued.id = 'issued-key';
  show(h('h1', {}, 'API keys'),
    h('p', {}, 'Keys for the CLI and scripts (SLUICE_API_KEY); each acts as you.'),
    form, issued,
    keys.length ? table(['Key', 'For', 'Issued', 'Expires', 'State', ''], keys.map((k) => [
      h('code', {}, k.id), k.label, k.created_at, k.expires_at || 'never', k.revoked ? 'revoked' : 'active',
      k.revoked ? '' : h('button', { type: 'button', class: 'danger', on: { click: async () => {
        if (!confirm(`Revoke key ${k.id}? Whatever uses it stops working.`)) return;
        try {
          await api('DELETE', `/api/v1/keys/${encodeURIComponent(k.id)}`);
          await navigate();
        } catch (error) {
          failure(error);
        }
      } } }, `Revoke ${k.id}`),
    ])) : h('p', { class: 'note' }, 'No keys yet.'));
});

// ---------- environment ----------

page('/environment', async () => {
  const [{ body: network }, { body: redirects }, { body: audit }] = await Promise.all([
    api('GET', '/api/v1/network'), api('GET', '/admin/redirect-audit'), api('GET', '/api/v1/audit?limit=100'),
  ]);
  const subnets = h('textarea', { spellcheck: 'false' }, network.subnets.join('\n'));
  const open = h('input', { type: 'checkbox', checked: network.public });
  const saved = h('p', { class: 'note', role: 'status' }, `Set from the ${network.source === 'api' ? 'API' : 'settings file'}; ${network.private_roots} private root certificates.`);
  const form = h('form', { class: 'stack', on: { submit: async (event) => {
    event.preventDefault();
    try {
      const list = subnets.value.split(/\s+/).map((x) => x.trim()).filter(Boolean);
      const { body: now } = await api('PUT', '/api/v1/network', { json: { subnets: list, public: open.checked } });
      saved.textContent = `Saved: ${now.subnets.length} linked subnets, public egress ${now.public ? 'on' : 'off'}.`;
    } catch (error) {
      failure(error);
    }
  } } },
  field('net-subnets', 'Linked subnets', subnets, { hint: 'One CIDR per line, e.g. 10.20.0.0/16. Calls may reach these private addresses.' }),
  h('div', { class: 'row' }, open, h('label', { for: 'net-public' }, 'Allow public egress')),
  h('div', {}, h('button', { type: 'submit' }, 'Save the network settings')));
  open.id = 'net-public';
  show(h('h1', {}, `Environment ${environmentInfo?.name || ''}`),
    h('h2', {}, 'Network'), form, saved,
    h('h2', {}, 'Redirect audit'),
    redirects.cutoff ? h('p', { class: 'warning' }, `The global redirect URI stops working on ${redirects.cutoff}.`) : null,
    redirects.connectors.length ? table(['Connector', 'Parameter set', 'Name', 'Publisher', 'Redirect mode', 'Redirect URI', 'What to do'], redirects.connectors.map((e) => [
      link(route('connectors', e.connector), e.connector), e.parameter_set || '—', e.name, e.publisher || '', e.redirect_mode, e.redirect_uri || '—', e.action,
    ])) : h('p', { class: 'note' }, 'No connector signs in with OAuth.'),
    h('h2', {}, 'Audit log'),
    audit.length ? table(['When', 'Who', 'What', 'Target', 'Before', 'After'], audit.map((e) => [e.at, e.actor, e.action, e.target, e.before || '', e.after || '']))
      : h('p', { class: 'note' }, 'Nothing published, updated or deleted yet.'));
});

// ---------- start ----------

window.addEventListener('hashchange', navigate);
oidcFinish().finally(navigate);
