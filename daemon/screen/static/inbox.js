// «Обращения» tab: everything unanswered (GET /api/inbox's items), live over /ws.
// The daemon pushes {"type": "inbox", total, items} on every change of the queue and
// {"type": "overdue", item} when an item of this manager passes its due time.
// screen.js hands both over as "callbridge:message"; a card it keeps off the screen
// during a call comes as "callbridge:card-waiting" and waits here. Uses screen.js's
// state, $, el, api, problem, phoneForPeople and when.
"use strict";

(() => {
  const KINDS = { call: "Пропущенный звонок", inquiry: "Обращение", task: "Задача" };
  const CHANNEL_NAMES = { call: "Звонок", web_form: "Заявка с сайта", chat: "Чат на сайте", telegram: "Telegram",
    vk: "ВКонтакте", email: "E-mail", api: "Заявка" };
  const REASONS = { responsible: "ответственный", balanced: "по очереди", queued: "ждёт свободного менеджера",
    escalated: "передано: срок вышел" };
  const inbox = { items: [], total: 0, overdue: new Set() };

  function waited(seconds) {
    const m = Math.floor(seconds / 60);
    if (m < 60) return `${m} мин`;
    const h = Math.floor(m / 60);
    return h < 48 ? `${h} ч ${m % 60} мин` : `${Math.floor(h / 24)} дн`;
  }

  function say(text, cls = "") {
    const status = $("inbox-status");
    status.className = `status ${cls}`;
    status.textContent = text;
  }

  function row(item) {
    const overdue = item.overdue || inbox.overdue.has(item.id);
    const who = item.name || phoneForPeople(item.phone) || "Без контакта";
    const head = el("div", { class: "inbox-head" },
      el("span", { class: `inbox-kind ${item.kind}`, text: item.kind === "call" ? KINDS.call : CHANNEL_NAMES[item.channel] || item.channel }),
      el("strong", { text: who }),
      item.phone && item.name ? el("span", { class: "muted", text: phoneForPeople(item.phone) }) : null);
    const due = item.due_at ? (overdue ? `просрочено (срок ${when(item.due_at)})` : `ответить до ${when(item.due_at)}`) : "";
    const facts = el("div", { class: "inbox-facts muted" },
      `${when(item.received_at)} · ждёт ${waited(item.waiting_s)}${due ? " · " + due : ""}` +
      ` · ${item.assigned_extension ? "доб. " + item.assigned_extension : "никому"}` +
      (item.assign_reason ? ` (${REASONS[item.assign_reason] || item.assign_reason})` : ""));
    const actions = el("div", { class: "row" });
    if (item.phone && item.phone.startsWith("+")) {
      const call = el("button", { type: "button", text: "Позвонить" });
      call.addEventListener("click", () => dial(item, call));
      actions.append(call);
    }
    const done = el("button", { type: "button", class: "inbox-done", text: "Готово" });
    done.addEventListener("click", () => close(item, done));
    actions.append(done);
    return el("li", { class: `inbox-item${overdue ? " overdue" : ""}`, "data-id": String(item.id) },
      head, item.last_text ? el("p", { class: "inbox-text", text: item.last_text }) : null, facts, actions);
  }

  function render() {
    $("inbox-list").replaceChildren(...inbox.items.map(row));
    const more = inbox.total - inbox.items.length;
    $("inbox-summary").textContent = inbox.total
      ? `Ждут ответа: ${inbox.total}${more > 0 ? ` (показаны первые ${inbox.items.length})` : ""}. Просроченные сверху.`
      : "Все обращения отвечены.";
    const count = $("inbox-count");
    count.textContent = String(inbox.total);
    count.hidden = inbox.total === 0;
    count.classList.toggle("overdue", inbox.items.some((i) => i.overdue || inbox.overdue.has(i.id)));
  }

  async function dial(item, button) {
    button.disabled = true;
    say(`Звоним ${phoneForPeople(item.phone)}…`);
    const result = await api("POST", "/api/calls", { extension: state.extension, phone: item.phone });
    if (result.status === 202) say(`Сейчас зазвонит ваш телефон, затем АТС наберёт ${phoneForPeople(item.phone)}.`, "ok");
    else say(`Не удалось позвонить: ${problem(result)}`, "error");
    button.disabled = false;
  }

  async function close(item, button) {
    button.disabled = true;
    const result = await api("POST", `/api/inbox/${item.id}/done`, { extension: state.extension, reason: "готово" });
    if (result.ok || result.status === 409) {
      inbox.items = inbox.items.filter((i) => i.id !== item.id);
      inbox.total = Math.max(0, inbox.total - 1);
      render();
      say("");
    } else {
      say(`Не закрылось: ${problem(result)}`, "error");
      button.disabled = false;
    }
  }

  function alert(message) {
    const item = message.item;
    inbox.overdue.add(item.id);
    const who = item.name || phoneForPeople(item.phone) || `#${item.id}`;
    const box = $("inbox-alert");
    box.textContent = message.escalated
      ? `Передано вам: ${who} ждёт ответа дольше срока.`
      : `Срок ответа вышел: ${who} (${CHANNEL_NAMES[item.channel] || item.channel}).`;
    box.hidden = false;
    render();
  }

  document.addEventListener("callbridge:message", (event) => {
    const message = event.detail;
    if (message.type === "inbox") {
      inbox.items = message.items || [];
      inbox.total = message.total || 0;
      render();
    } else if (message.type === "overdue" && message.item) {
      alert(message);
    }
  });

  // A card that arrived during a live call: not shown over it, and not lost either.
  document.addEventListener("callbridge:card-waiting", () => {
    const tab = document.querySelector('.tab[data-view="inbox"]');
    if (tab) tab.classList.add("attention");
  });

  function init() {
    const tab = document.querySelector('.tab[data-view="inbox"]');
    const view = $("view-inbox");
    if (!tab || !view) return;
    // screen.js marks the active tab; follow it, as base.js does.
    const follow = () => {
      const shown = tab.classList.contains("active") && !$("tabs").hidden;
      view.hidden = !shown;
      // Only when there is something to change: any write of the class is a mutation, seen here again.
      if (shown && tab.classList.contains("attention")) tab.classList.remove("attention");
    };
    new MutationObserver(follow).observe(tab, { attributes: true, attributeFilter: ["class"] });
    new MutationObserver(follow).observe($("tabs"), { attributes: true, attributeFilter: ["hidden"] });
    tab.addEventListener("click", () => { $("inbox-alert").hidden = true; });
    render();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
