// The manager's screen. Plain JavaScript, no build step.
// Cards come over /ws (the token goes in the first message: browsers cannot
// set Authorization on a WebSocket); notes, names, the missed list and
// click-to-call go through /api with the same token as a bearer header.
"use strict";

const STORE = { token: "callbridge.token", extension: "callbridge.extension" };
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 15000;
const CLOSE_UNAUTHORIZED = 4401;

const PHASES = {
  ringing: { text: "Входящий звонок", outbound: "Исходящий звонок", cls: "ringing" },
  answered: { text: "Идёт разговор", cls: "answered" },
  ended: { text: "Разговор завершён", cls: "ended" },
  taken: { text: "Ответил коллега", cls: "taken" },
  missed: { text: "Пропущенный звонок", cls: "missed" },
  inquiry: { text: "Новое обращение", cls: "ringing" },
};
const CHANNELS = { web_form: "Заявка с сайта", chat: "Чат на сайте", telegram: "Telegram", vk: "ВКонтакте",
  email: "E-mail", api: "Заявка" };
const DIRECTIONS = { inbound: "Входящий", outbound: "Исходящий", internal: "Внутренний" };

const state = {
  token: null,
  extension: null,
  timezone: "Europe/Moscow",
  ws: null,
  retryMs: RECONNECT_MIN_MS,
  retryTimer: null,
  card: null,
  seen: new Set(),  // entry_ids of calls this page has shown
  noteSynced: "",   // the note as last saved or received; the box is "dirty" when it differs
  view: "call",
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

// -- formatting ---------------------------------------------------------------
function phoneForPeople(phone) {
  if (!phone) return "Номер скрыт";
  const m = /^\+7(\d{3})(\d{3})(\d{2})(\d{2})$/.exec(phone);
  return m ? `+7 ${m[1]} ${m[2]}-${m[3]}-${m[4]}` : phone;
}

function when(iso, withYear = false) {
  if (!iso) return "";
  const options = { timeZone: state.timezone, day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" };
  if (withYear) options.year = "numeric";
  return new Intl.DateTimeFormat("ru-RU", options).format(new Date(iso)).replace(",", "");
}

function clock(iso) {
  return new Intl.DateTimeFormat("ru-RU", { timeZone: state.timezone, hour: "2-digit", minute: "2-digit" })
    .format(new Date(iso));
}

function day(iso) {
  return new Intl.DateTimeFormat("ru-RU", { timeZone: state.timezone, day: "2-digit", month: "2-digit", year: "numeric" })
    .format(new Date(iso));
}

// The same words as the reports (daemon/domain/readable.py): 45 с, 3 мин, 2 ч 31 мин, 2 д 5 ч.
function duration(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  if (s < 60) return `${s} с`;
  if (s < 3600) return `${Math.floor(s / 60)} мин`;
  if (s < 86400) {
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return m ? `${h} ч ${m} мин` : `${h} ч`;
  }
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  return h ? `${d} д ${h} ч` : `${d} д`;
}

// 1 поездка, 3 поездки, 5 поездок.
function plural(n, one, few, many) {
  const t10 = n % 10, t100 = n % 100;
  const word = t10 === 1 && t100 !== 11 ? one : t10 >= 2 && t10 <= 4 && (t100 < 12 || t100 > 14) ? few : many;
  return `${n} ${word}`;
}

function isoDay(text) {
  return text ? text.split("-").reverse().join(".") : "";
}

// «3 поездки, оплачено 450 000,00 ₽; последняя 10.05.2026–20.05.2026, 150 000,00 ₽».
function tripsText(trips) {
  const parts = [`${plural(trips.paid, "поездка", "поездки", "поездок")}, оплачено ${money(trips.paid_total)}`];
  const last = trips.last;
  if (last) {
    const dates = [isoDay(last.starts_on), isoDay(last.ends_on)].filter(Boolean).join("–");
    const sum = last.amount !== null && last.amount !== undefined ? money(last.amount) : null;
    const pending = last.status === "pending" ? "не оплачена" : null;
    parts.push(`последняя ${[dates || "без дат", sum, pending].filter(Boolean).join(", ")}`);
  }
  return parts.join("; ");
}

// 1 234 567,50 ₽ (spaces between thousands, as the reports write it).
function money(amount) {
  const [whole, cents] = Math.abs(Number(amount || 0)).toFixed(2).split(".");
  return `${amount < 0 ? "−" : ""}${whole.replace(/\B(?=(\d{3})+(?!\d))/g, " ")},${cents} ₽`;
}

function person(p) {
  if (!p) return null;
  if (!p.extension) return p.name; // known by name only (an import), until sync-managers finds its extension
  return p.name ? `${p.name} (доб. ${p.extension})` : `доб. ${p.extension}`;
}

// -- /api -----------------------------------------------------------------------
async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await resp.json(); } catch (_) { /* not JSON: keep null */ }
  if (resp.status === 401) signOut("Токен не подходит. Войдите снова.");
  return { ok: resp.ok, status: resp.status, data };
}

function problem(result) {
  return (result.data && result.data.error) || `ошибка ${result.status}`;
}

// -- signing in and the socket ---------------------------------------------------
function signIn(token, extension) {
  state.token = token;
  state.extension = extension;
  localStorage.setItem(STORE.token, token);
  localStorage.setItem(STORE.extension, extension);
  $("sign-in").hidden = true;
  $("tabs").hidden = false;
  $("who").hidden = false;
  $("me").textContent = `доб. ${extension}`;
  showView("call");
  connect();
}

function signOut(message) {
  localStorage.removeItem(STORE.token);
  state.token = null;
  clearTimeout(state.retryTimer);
  if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
  for (const section of document.querySelectorAll("main > section[id^='view-']")) section.hidden = true;
  $("tabs").hidden = true;
  $("who").hidden = true;
  $("sign-in").hidden = false;
  $("token").value = "";
  $("extension").value = state.extension || "";
  const error = $("sign-in-error");
  error.hidden = !message;
  error.textContent = message || "";
}

function setConnection(kind, text) {
  const conn = $("conn");
  conn.className = `conn ${kind}`;
  conn.textContent = text;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws?extension=${encodeURIComponent(state.extension)}`);
  state.ws = ws;
  setConnection("wait", "Подключаемся…");
  ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: state.token }));
  ws.onmessage = (event) => onMessage(JSON.parse(event.data));
  ws.onclose = (event) => {
    state.ws = null;
    if (event.code === CLOSE_UNAUTHORIZED) { signOut("Токен не подходит. Проверьте его и войдите снова."); return; }
    setConnection("down", "Нет связи, переподключаемся…");
    state.retryTimer = setTimeout(connect, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, RECONNECT_MAX_MS);
  };
}

function onMessage(message) {
  if (message.type === "hello") {
    state.retryMs = RECONNECT_MIN_MS;
    state.timezone = message.timezone || state.timezone;
    const name = message.manager && message.manager.name;
    $("me").textContent = name ? `${name}, доб. ${message.extension}` : `доб. ${message.extension}`;
    showLive(message.live);
  } else if (message.type === "status") {
    showLive(message.live);
  } else if (message.type === "card") {
    showCard(message.card);
  } else {
    // «Обращения» (inbox.js) and any other add-on take the rest.
    document.dispatchEvent(new CustomEvent("callbridge:message", { detail: message }));
  }
}

function showLive(live) {
  if (live) setConnection("up", "На связи");
  else setConnection("down", "Звонки не приходят: нет связи с базой");
}

// -- the card ---------------------------------------------------------------------
const LIVE = ["ringing", "answered"];

function showCard(card) {
  const shown = state.card;
  const isNewCall = !shown || shown.entry_id !== card.entry_id;
  // Another call takes the screen only when it rings or nothing is in progress:
  // an update of some other call (a note saved on it) never hides the call at hand.
  // A card kept off the screen so is not dropped: it waits in «Обращения» (inbox.js).
  const waits = () => document.dispatchEvent(new CustomEvent("callbridge:card-waiting", { detail: card }));
  if (isNewCall && shown && LIVE.includes(shown.phase) && card.phase !== "ringing") { waits(); return; }
  // Nor does a late update (a note) of a call shown before and since left.
  if (isNewCall && shown && !LIVE.includes(card.phase) && state.seen.has(card.entry_id)) return;
  state.seen.add(card.entry_id);
  if (isNewCall && shown) keepUnsavedNote(shown);
  const previousNote = state.noteSynced;
  state.card = card;
  if (state.view !== "call" && ["ringing", "answered"].includes(card.phase)) showView("call");
  $("idle").hidden = true;
  const box = $("card");
  box.hidden = false;
  if (isNewCall) {
    box.classList.remove("pop");
    void box.offsetWidth; // restart the animation
    box.classList.add("pop");
    $("note-status").textContent = "";
    $("name-status").textContent = "";
  }

  const phase = PHASES[card.phase] || { text: card.phase, cls: "" };
  const badge = $("phase");
  badge.className = `phase ${phase.cls}`;
  badge.textContent = card.phase === "ringing" && card.direction === "outbound" ? phase.outbound : phase.text;
  if (card.phase === "taken" && card.answered_by) badge.textContent += `: ${person(card.answered_by)}`;
  $("call-time").textContent = card.talk_seconds && card.phase !== "answered"
    ? `${when(card.started_at)} · ${duration(card.talk_seconds)}` : when(card.started_at);

  const contact = card.contact;
  $("caller-name").textContent = contact && contact.name ? contact.name : (card.phone_e164 ? "Новый абонент" : "Номер скрыт");
  $("caller-name").classList.toggle("unknown", !(contact && contact.name));
  const inquiry = card.channel && card.channel !== "call";
  if (inquiry && !(contact && contact.name)) $("caller-name").textContent = "Новое обращение";
  $("caller-phone").textContent = card.phone || (inquiry ? (card.email || "") : "Номер скрыт");
  if (inquiry) badge.textContent = `${phase.text}: ${CHANNELS[card.channel] || card.channel}`;
  $("inquiry-text").hidden = !(inquiry && card.text);
  $("inquiry-text").textContent = inquiry && card.text ? card.text : "";
  $("responsible").textContent = person(card.responsible) || "не назначен";
  const tags = $("tags");
  tags.replaceChildren(...(contact && contact.tags.length ? contact.tags.map((t) => el("span", { class: "tag", text: t })) : [el("span", { class: "muted", text: "нет" })]));
  $("birthday-row").hidden = $("birthday").hidden = !(contact && contact.birthday);
  $("birthday").textContent = contact && contact.birthday ? isoDay(contact.birthday) : "";
  const trips = contact && contact.trips;
  $("trips-row").hidden = $("trips").hidden = !trips;
  $("trips").textContent = trips ? tripsText(trips) : "";
  $("contact-note-row").hidden = $("contact-note").hidden = !(contact && contact.note);
  $("contact-note").textContent = contact && contact.note ? contact.note : "";
  const lead = card.open_lead;
  $("lead").textContent = lead ? `№ ${lead.id} от ${day(lead.opened_at)}` : "нет";
  const source = [card.ad_source, card.line ? `линия ${card.line}` : null].filter(Boolean).join(" · ");
  $("source").textContent = source || "неизвестно";

  // An inquiry is «обращение», not a call; any card with a phone can be called back from here.
  $("note-label").textContent = inquiry ? "Примечание к обращению" : "Примечание к звонку";
  const callButton = $("call-contact");
  callButton.hidden = !(card.phone_e164 && card.phone_e164.startsWith("+"));
  callButton.dataset.phone = card.phone_e164 || "";
  if (isNewCall) $("call-contact-status").textContent = "";

  const nameForm = $("name-form");
  const wasHidden = nameForm.hidden;
  nameForm.hidden = !(contact && contact.is_new);
  if (isNewCall || wasHidden) $("name-input").value = "";

  const note = $("note-input");
  const received = card.note || "";
  // Never overwrite what the manager is typing; take the new note when the box is untouched.
  if (isNewCall || note.value === previousNote) note.value = received;
  state.noteSynced = received;

  renderHistory(card.history);
  document.dispatchEvent(new CustomEvent("callbridge:card", { detail: { card, isNewCall } }));
  document.title = card.phase === "ringing"
    ? `☎ ${$("caller-name").textContent} · callbridge` : "Экран менеджера · callbridge";
}

function renderHistory(items) {
  const list = $("history");
  list.replaceChildren(...items.map((item) => {
    const talk = item.status === "answered" ? `разговор ${duration(item.talk_seconds)}`
      : item.status === "missed" ? "пропущен" : "идёт";
    const who = item.manager ? (item.manager.name || `доб. ${item.manager.extension}`) : null;
    const line = [when(item.started_at, true), DIRECTIONS[item.direction] || "", talk, who].filter(Boolean).join(" · ");
    return el("li", { class: item.status === "missed" ? "missed" : "" },
      el("div", { class: "history-line", text: line }),
      item.note ? el("div", { class: "history-note", text: item.note }) : el("div", { class: "history-note none", text: "без примечания" }));
  }));
  $("history-empty").hidden = items.length > 0;
}

function keepUnsavedNote(card) {
  // A new call replaces the card: a note typed but not saved is saved for the manager.
  const text = $("note-input").value;
  if (text === state.noteSynced) return;
  api("PUT", `/api/communications/${card.communication_id}/note`, { note: text });
}

async function saveNote(event) {
  event.preventDefault();
  if (!state.card) return;
  const status = $("note-status");
  const text = $("note-input").value;
  status.className = "status";
  status.textContent = "Сохраняем…";
  const result = await api("PUT", `/api/communications/${state.card.communication_id}/note`, { note: text });
  if (result.ok) {
    state.noteSynced = result.data.note || "";
    $("note-input").value = state.noteSynced;
    status.className = "status ok";
    status.textContent = "Сохранено";
  } else {
    status.className = "status error";
    status.textContent = `Не сохранено: ${problem(result)}`;
  }
}

async function saveName(event) {
  event.preventDefault();
  const card = state.card;
  if (!card || !card.contact) return;
  const status = $("name-status");
  const result = await api("PUT", `/api/contacts/${card.contact.id}/name`, { name: $("name-input").value });
  if (result.ok) {
    card.contact.name = result.data.name;
    card.contact.is_new = false;
    $("caller-name").textContent = result.data.name;
    $("caller-name").classList.remove("unknown");
    $("name-form").hidden = true;
    $("note-status").className = "status ok";
    $("note-status").textContent = `Имя «${result.data.name}» сохранено`;
  } else {
    status.className = "status error";
    status.textContent = `Не сохранено: ${problem(result)}`;
  }
}

// -- the missed list ----------------------------------------------------------------
async function loadMissed() {
  const status = $("missed-status");
  status.className = "status";
  status.textContent = "Загружаем…";
  // The report's default window: every caller missed in the last report_lookback_days
  // and not reached back since, the night's first. Called-back callers are kept
  // only for the night (today's context); older ones are done.
  const result = await api("GET", "/api/reports/missed?all=true");
  if (!result.ok) {
    status.className = "status error";
    status.textContent = `Список не загрузился: ${problem(result)}`;
    return;
  }
  const rows = (result.data.rows || []).filter((r) => !r.called_back || r.since_close).sort(missedOrder);
  const waiting = rows.filter((r) => !r.called_back && r.phone).length;
  $("missed-summary").textContent = rows.length
    ? `Абонентов: ${rows.length}, ждут звонка: ${waiting}. Время офиса (${state.timezone}).`
    : "Пропущенных звонков, которым не перезвонили, нет.";
  $("missed-table").hidden = rows.length === 0;
  $("missed-table").tBodies[0].replaceChildren(...rows.map(missedRow));
  status.textContent = "";
}

// The signed-in manager's callers first, those still waiting before those called back,
// and among them the longest-waiting first.
function missedOrder(a, b) {
  const mine = (r) => (r.responsible_extension && r.responsible_extension === state.extension ? 0 : 1);
  const done = (r) => (r.called_back ? 1 : 0);
  const since = (r) => Date.parse(r.waiting_since || r.first_missed_at);
  return mine(a) - mine(b) || done(a) - done(b) || since(a) - since(b);
}

function missedRow(row) {
  const callable = row.phone && row.phone.startsWith("+");
  const who = el("td", { class: "caller" },
    el("div", { class: row.contact_name ? "strong" : "strong unknown", text: row.contact_name || (row.phone ? "Новый абонент" : "Номер скрыт") }),
    row.phone ? el("div", { class: "muted", text: phoneForPeople(row.phone) }) : null);
  const responsible = row.responsible_extension
    ? (row.responsible_name ? `${row.responsible_name} (доб. ${row.responsible_extension})` : `доб. ${row.responsible_extension}`)
    : "—";
  const action = el("td", { class: "action" });
  if (row.called_back) {
    action.append(el("span", { class: "done", text: "Перезвонили" }));
  } else if (callable) {
    const button = el("button", { type: "button", class: "primary call-back", "data-phone": row.phone, text: "Перезвонить" });
    button.addEventListener("click", () => callBack(row.phone, button));
    action.append(button);
  } else {
    action.append(el("span", { class: "muted", title: "Номер не определился: перезвонить нельзя", text: "—" }));
  }
  const mine = row.responsible_extension && row.responsible_extension === state.extension;
  return el("tr", { class: [row.called_back ? "called-back" : "", mine ? "mine" : ""].join(" ").trim() },
    who,
    el("td", { "data-label": "Ответственный", text: responsible }),
    el("td", { class: "num", "data-label": "Звонков", text: String(row.missed_calls) }),
    missedWhen(row),
    el("td", { "data-label": "Реклама", text: row.ad_source || "—" }),
    action);
}

function missedWhen(row) {
  // Today's calls by the clock, older ones with their date; below, how long the caller waits.
  const today = day(row.last_missed_at) === day(new Date().toISOString());
  const cell = el("td", { "data-label": "Последний" },
    el("span", { text: today ? clock(row.last_missed_at) : when(row.last_missed_at) }));
  if (row.waiting_since && !row.called_back) {
    const waited = (Date.now() - Date.parse(row.waiting_since)) / 1000;
    cell.append(el("div", { class: "muted waiting", text: `ждёт ${duration(waited)}` }));
  }
  return cell;
}

async function callBack(phone, button, status = $("missed-status")) {
  button.disabled = true;
  status.className = "status";
  status.textContent = `Звоним ${phoneForPeople(phone)}…`;
  const result = await api("POST", "/api/calls", { extension: state.extension, phone });
  if (result.status === 202) {
    status.className = "status ok";
    status.textContent = `Сейчас зазвонит ваш телефон, затем АТС наберёт ${phoneForPeople(phone)}.`;
  } else {
    status.className = "status error";
    status.textContent = `Не удалось позвонить ${phoneForPeople(phone)}: ${problem(result)}`;
  }
  button.disabled = false;
}

// -- views ------------------------------------------------------------------------------
function showView(view) {
  state.view = view;
  // Other views hide; an add-on tab (base.js, analytics.js) shows its own section itself.
  for (const section of document.querySelectorAll("main > section[id^='view-']")) {
    if (section.id !== `view-${view}`) section.hidden = true;
  }
  if (view === "call" || view === "missed") $(`view-${view}`).hidden = false;
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.view === view);
  if (view === "missed") loadMissed();
  document.dispatchEvent(new CustomEvent("callbridge:view", { detail: view }));
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("token").value.trim(), $("extension").value.trim());
  });
  $("sign-out").addEventListener("click", () => signOut(""));
  $("note-form").addEventListener("submit", saveNote);
  $("name-form").addEventListener("submit", saveName);
  $("missed-refresh").addEventListener("click", loadMissed);
  $("call-contact").addEventListener("click", (event) =>
    callBack(event.currentTarget.dataset.phone, event.currentTarget, $("call-contact-status")));
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showView(tab.dataset.view));
  state.extension = localStorage.getItem(STORE.extension);
  const token = localStorage.getItem(STORE.token);
  if (token && state.extension) signIn(token, state.extension);
  else signOut("");
});
