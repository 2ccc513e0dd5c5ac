// «База»: duplicate candidates side by side (filtered by reason, score and «мои», paged
// with the total), merge after a preview of what will move, "not a duplicate", and the
// journal of recent merges with one-click undo. Its own file: it talks only to /api
// (with the token screen.js keeps in localStorage) and shows itself when its tab is
// the active one. Phones are written as on the card (screen.js's phoneForPeople).
"use strict";

(() => {
  const TOKEN_KEY = "callbridge.token";
  const el = (id) => document.getElementById(id);
  const CANDIDATES = 30;
  const JOURNAL = 20;

  async function call(method, path, body) {
    const headers = { Authorization: `Bearer ${localStorage.getItem(TOKEN_KEY) || ""}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await resp.json(); } catch (_) { /* not JSON */ }
    return { ok: resp.ok, status: resp.status, data };
  }

  const problem = (r) => (r.data && r.data.error) || `ошибка ${r.status}`;

  function node(tag, props = {}, ...children) {
    const n = document.createElement(tag);
    Object.assign(n, props);
    n.append(...children.filter((c) => c !== null && c !== undefined));
    return n;
  }

  function say(text, kind = "") {
    const status = el("base-status");
    status.textContent = text;
    status.className = `status ${kind}`;
  }

  // Office time, 06.12.2026 08:30, as everywhere else on the screen.
  const when = (iso) => (iso ? new Date(iso).toLocaleString("ru-RU", { timeZone: state.timezone, day: "2-digit",
    month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit" }).replace(",", "") : "—");

  // -- a contact's card ------------------------------------------------------------
  function fact(label, value) {
    return [node("dt", { textContent: label }), node("dd", { textContent: value || "—" })];
  }

  function cardView(card, pairKey, checked) {
    const radio = node("input", { type: "radio", name: `survivor-${pairKey}`, value: String(card.id), checked });
    const who = card.responsible;  // a manager known by name only (an import) has no extension yet
    const responsible = !who ? "" : who.extension ? `${who.name || ""} (доб. ${who.extension})` : who.name;
    const dnc = card.do_not_call ? node("p", { className: "dnc", textContent: `Не звонить: ${card.do_not_call.reason}` }) : null;
    return node("article", { className: "base-card" },
      node("label", { className: "keep" }, radio, ` Оставить #${card.id}`),
      node("h3", { className: "base-name", textContent: card.name || "Без имени" }),
      dnc,
      node("dl", { className: "facts" },
        ...fact("Телефоны", card.phones.map(phoneForPeople).join(", ")),
        ...fact("E-mail", card.emails.join(", ")),
        ...fact("Ответственный", responsible),
        ...fact("Теги", card.tags.join(", ")),
        ...fact("День рождения", card.birthday && card.birthday.split("-").reverse().join(".")),
        ...fact("Комментарий", card.note),
        ...fact("Обращений", String(card.communications)),
        ...fact("Последнее", when(card.last_communication_at)),
        ...fact("Лидов", String(card.leads))));
  }

  const REASONS = { identifier: "один человек (телефон и e-mail в одном обращении)", name: "то же имя" };

  function evidenceText(c) {
    const parts = [];
    if (c.evidence.similar_phone) parts.push("похожий телефон");
    return parts.length ? ` · ${parts.join(", ")}` : "";
  }

  async function candidateView(c) {
    const cards = await Promise.all(c.contact_ids.map((id) => call("GET", `/api/contacts/${id}`)));
    if (cards.some((r) => !r.ok)) return null;  // merged or removed since the list was made
    const [a, b] = cards.map((r) => r.data);
    const key = c.contact_ids.join("-");
    // The card with more history is the likelier survivor.
    const keepA = a.communications + a.leads >= b.communications + b.leads;
    const item = node("li", { className: "candidate" });
    item.dataset.pair = key;
    const merge = node("button", { type: "button", className: "primary merge", textContent: "Объединить" });
    const notDup = node("button", { type: "button", className: "not-dup", textContent: "Не дубликат" });
    merge.addEventListener("click", () => mergePair(item, c.contact_ids));
    notDup.addEventListener("click", () => notDuplicate(item, c.contact_ids));
    item.append(
      node("div", { className: "candidate-head" },
        node("span", { className: `reason ${c.reason}`, textContent: REASONS[c.reason] || c.reason }),
        node("span", { className: "muted", textContent: ` оценка ${c.score.toFixed(2)}${evidenceText(c)}` })),
      node("div", { className: "pair" }, cardView(a, key, keepA), cardView(b, key, !keepA)),
      node("div", { className: "row" }, merge, notDup));
    return item;
  }

  // The list is a page of {total, items}; "Показать ещё" appends the next page.
  let shownUpTo = 0;

  async function loadCandidates(more = false) {
    const list = el("dup-list");
    const offset = more ? shownUpTo : 0;
    const query = new URLSearchParams({ limit: CANDIDATES, offset, ...filters() });
    const r = await call("GET", `/api/contacts/duplicates?${query}`);
    if (!r.ok) { say(problem(r), "bad"); return; }
    const items = (await Promise.all(r.data.items.map(candidateView))).filter(Boolean);
    if (more) list.append(...items); else list.replaceChildren(...items);
    shownUpTo = offset + r.data.items.length;
    const shown = shownUpTo < r.data.total ? `, показаны 1–${shownUpTo}` : "";
    el("dup-total").textContent = r.data.total ? `Кандидатов: ${r.data.total}${shown}` : "";
    el("dup-empty").hidden = list.children.length > 0;
    el("dup-more").hidden = shownUpTo >= r.data.total;
  }

  // The page's filters as the API's query: reason, least score, «мои» (this screen's extension).
  function filters() {
    const out = {};
    if (el("dup-reason").value) out.reason = el("dup-reason").value;
    if (el("dup-score").value) out.min_score = el("dup-score").value;
    if (el("dup-mine").checked) out.responsible = localStorage.getItem("callbridge.extension") || "";
    return out;
  }

  const MOVED = { communications: "обращений", leads: "лидов", identifiers: "телефонов, e-mail и мессенджеров",
    invalid_identifiers: "ошибочных номеров", trips: "поездок" };

  function movedText(moved) {
    const parts = Object.entries(moved).filter(([, n]) => n).map(([k, n]) => `${MOVED[k] || k}: ${n}`);
    return parts.length ? parts.join(", ") : "ничего, кроме самой карточки";
  }

  function mergeBody(item, ids) {
    const chosen = item.querySelector(`input[name="survivor-${ids.join("-")}"]:checked`);
    const survivor = Number(chosen.value);
    return { survivor_id: survivor, merged_ids: ids.filter((id) => id !== survivor), actor: actor(),
      reason: "«База»: кандидат в дубликаты" };
  }

  // First what will move (the same merge, rolled back), then the manager confirms.
  async function mergePair(item, ids) {
    const body = mergeBody(item, ids);
    const r = await call("POST", "/api/contacts/merge?dry_run=true", body);
    if (!r.ok) { say(`Не объединить: ${problem(r)}`, "bad"); return; }
    item.querySelector(".merge-preview")?.remove();
    const confirm = node("button", { type: "button", className: "primary merge-confirm", textContent: "Объединить" });
    const cancel = node("button", { type: "button", className: "merge-cancel", textContent: "Отмена" });
    const preview = node("div", { className: "merge-preview" },
      node("p", { textContent: `В #${body.survivor_id} перейдёт из ${body.merged_ids.map((i) => `#${i}`).join(", ")}: ${movedText(r.data.moved)}.` }),
      node("div", { className: "row" }, confirm, cancel));
    confirm.addEventListener("click", () => doMerge(body));
    cancel.addEventListener("click", () => preview.remove());
    item.append(preview);
  }

  async function doMerge(body) {
    const r = await call("POST", "/api/contacts/merge", body);
    if (!r.ok) { say(`Не объединено: ${problem(r)}`, "bad"); return; }
    say(`Объединено в #${r.data.survivor_id}: ${movedText(r.data.moved)}`, "ok");
    await refresh();
  }

  async function notDuplicate(item, ids) {
    const r = await call("POST", "/api/contacts/not-duplicates", { contact_ids: ids, actor: actor() });
    if (!r.ok) { say(problem(r), "bad"); return; }
    item.remove();
    say(`#${ids[0]} и #${ids[1]} больше не будут предлагаться`, "ok");
  }

  const actor = () => `screen:${localStorage.getItem("callbridge.extension") || "?"}`;

  // -- the journal -----------------------------------------------------------------------
  function journalRow(m) {
    const who = `${m.merged_names.map((n, i) => `${n || "Без имени"} (#${m.merged_ids[i]})`).join(", ")} → ${m.survivor_name || "Без имени"} (#${m.survivor_id})`;
    const state = m.undone_at ? node("span", { className: "muted", textContent: `отменено ${when(m.undone_at)}` }) : null;
    const row = node("li", { className: "merge-row" },
      node("span", { className: "muted", textContent: `#${m.id} ${when(m.created_at)} · ${m.actor}` }),
      node("span", { className: "who", textContent: who }), state);
    row.dataset.merge = String(m.id);
    if (!m.undone_at) {
      const undo = node("button", { type: "button", className: "undo", textContent: "Отменить" });
      undo.addEventListener("click", () => undoMerge(row, m.id, false));
      row.append(undo);
    }
    return row;
  }

  async function undoMerge(row, id, force) {
    const r = await call("POST", `/api/merges/${id}/undo${force ? "?force=true" : ""}`, {});
    if (r.ok) { say(`Объединение #${id} отменено`, "ok"); await refresh(); return; }
    say(`Не отменено: ${problem(r)}`, "bad");
    if (r.status === 409 && r.data.rows && !row.querySelector(".force")) {
      const force = node("button", { type: "button", className: "force", textContent: "Отменить всё равно" });
      force.addEventListener("click", () => undoMerge(row, id, true));
      row.append(force);
    }
  }

  async function loadJournal() {
    const r = await call("GET", `/api/merges?limit=${JOURNAL}`);
    if (!r.ok) { say(problem(r), "bad"); return; }
    el("merge-journal").replaceChildren(...r.data.map(journalRow));
    el("journal-empty").hidden = r.data.length > 0;
  }

  async function refresh() {
    await Promise.all([loadCandidates(), loadJournal()]);
  }

  // -- showing the view ------------------------------------------------------------------
  function init() {
    const tab = document.querySelector('.tab[data-view="base"]');
    const view = el("view-base");
    if (!tab || !view) return;
    // screen.js marks the active tab (also when a call switches views by itself); follow it.
    const follow = () => {
      const shown = tab.classList.contains("active") && !el("tabs").hidden;
      if (shown && view.hidden) { view.hidden = false; say(""); refresh(); }
      if (!shown) view.hidden = true;
    };
    new MutationObserver(follow).observe(tab, { attributes: true, attributeFilter: ["class"] });
    new MutationObserver(follow).observe(el("tabs"), { attributes: true, attributeFilter: ["hidden"] });
    el("base-refresh").addEventListener("click", () => { say(""); refresh(); });
    el("dup-more").addEventListener("click", () => loadCandidates(true));
    el("dup-filters").addEventListener("change", () => { say(""); loadCandidates(); });
    el("dup-filters").addEventListener("submit", (event) => event.preventDefault());
  }

  document.addEventListener("DOMContentLoaded", init);
})();
