// «Ответить» on an inquiry's card: the conversation with each message's status, and a reply box
// (text, or a template) that sends through the outbox (POST /api/communications/{id}/reply).
// Uses screen.js's state, api(), el() and $(); listens to its "callbridge:card" event.
"use strict";

const replies = { communicationId: null, templates: null, poll: null, key: null };
const REPLY_STATUS = { received: "", queued: "отправляется…", sent: "отправлено", failed: "не доставлено" };
const REPLY_POLL_MS = 1000;

function replyBox() {
  let box = $("reply-box");
  if (box) return box;
  box = el("section", { id: "reply-box", class: "box reply-box", hidden: "" },
    el("h3", { text: "Переписка" }),
    el("ol", { id: "conversation", class: "conversation" }),
    el("form", { id: "reply-form" },
      el("label", { for: "reply-text", text: "Ответить клиенту" }),
      el("textarea", { id: "reply-text", rows: "3", maxlength: "100000", placeholder: "Текст ответа…" }),
      el("div", { class: "row" },
        el("select", { id: "reply-template" }, el("option", { value: "", text: "Шаблон…" })),
        el("button", { type: "submit", id: "reply-send", class: "primary", text: "Отправить" }),
        el("button", { type: "button", id: "reply-call", hidden: "", text: "Позвонить" })),
      el("span", { id: "reply-status", class: "status", role: "status" })));
  $("inquiry-text").after(box);
  $("reply-form").addEventListener("submit", (event) => { event.preventDefault(); sendReply(); });
  $("reply-template").addEventListener("change", useTemplate);
  $("reply-call").addEventListener("click", callInstead);
  $("reply-text").addEventListener("input", () => { replies.key = null; });
  return box;
}

async function loadTemplates() {
  if (replies.templates) return;
  const result = await api("GET", "/api/templates");
  if (!result.ok) return;
  replies.templates = result.data;
  $("reply-template").replaceChildren(el("option", { value: "", text: "Шаблон…" }),
    ...replies.templates.map((t) => el("option", { value: t.name, text: t.name })));
}

function useTemplate() {
  const chosen = (replies.templates || []).find((t) => t.name === $("reply-template").value);
  replies.key = null;
  if (chosen) $("reply-text").value = chosen.text;
}

function renderConversation(items) {
  $("conversation").replaceChildren(...items.map((m) => {
    const who = m.direction === "in" ? "Клиент" : (m.kind === "auto_reply" ? "Автоответ"
      : m.extension ? `доб. ${m.extension}` : "Агентство");
    const status = m.status in REPLY_STATUS ? REPLY_STATUS[m.status] : m.status;
    return el("li", { class: `message ${m.direction} ${m.status}`, "data-id": String(m.id) },
      el("div", { class: "message-head", text: [who, m.at ? when(m.at) : "", status].filter(Boolean).join(" · ") }),
      el("div", { class: "message-text", text: m.text }),
      m.status === "failed" && m.error ? el("div", { class: "message-error", text: m.error }) : null);
  }));
  return items;
}

async function loadConversation() {
  const id = replies.communicationId;
  const result = await api("GET", `/api/communications/${id}/messages`);
  if (!result.ok || id !== replies.communicationId) return [];
  return renderConversation(result.data);
}

function watchQueued(items) {
  clearTimeout(replies.poll);
  if (items.some((m) => m.status === "queued")) {
    replies.poll = setTimeout(async () => watchQueued(await loadConversation()), REPLY_POLL_MS);
  } else if ($("reply-status").classList.contains("ok")) {
    $("reply-status").textContent = "";  // what it said («отправляется») is now on the message itself
  }
}

async function sendReply() {
  const status = $("reply-status");
  const text = $("reply-text").value.trim();
  if (!text) { status.className = "status error"; status.textContent = "Напишите ответ"; return; }
  // One key per text: a second click (or a retry after a lost answer) sends the message once.
  replies.key = replies.key || `${state.extension}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const path = `/api/communications/${replies.communicationId}/reply`;
  const headers = { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json",
    "Idempotency-Key": replies.key };
  let result;
  try {
    const resp = await fetch(path, { method: "POST", headers, body: JSON.stringify({ text, extension: state.extension }) });
    result = { ok: resp.ok, status: resp.status, data: await resp.json().catch(() => null) };
  } catch (_) {
    status.className = "status error";
    status.textContent = "Нет связи: нажмите «Отправить» ещё раз (сообщение уйдёт один раз)";
    return;
  }
  if (result.status === 409) {
    status.className = "status error";
    status.textContent = "Ответить в этот канал нельзя: позвоните клиенту";
    $("reply-call").hidden = !(result.data && result.data.phone);
    $("reply-call").dataset.phone = (result.data && result.data.phone) || "";
    return;
  }
  status.className = result.ok ? "status ok" : "status error";
  status.textContent = result.ok ? "Ответ принят, отправляется" : `Не отправлено: ${problem(result)}`;
  if (!result.ok) return;
  $("reply-text").value = "";
  replies.key = null;
  watchQueued(await loadConversation());
}

async function callInstead() {
  const result = await api("POST", "/api/calls", { extension: state.extension, phone: $("reply-call").dataset.phone });
  const status = $("reply-status");
  status.className = result.ok ? "status ok" : "status error";
  status.textContent = result.ok ? "Звоним: возьмите трубку" : `Не удалось позвонить: ${problem(result)}`;
}

document.addEventListener("callbridge:card", async (event) => {
  const { card, isNewCall } = event.detail;
  const box = replyBox();
  const inquiry = card.channel && card.channel !== "call";
  box.hidden = !inquiry;
  if (!inquiry) { clearTimeout(replies.poll); replies.communicationId = null; return; }
  if (isNewCall || replies.communicationId !== card.communication_id) {
    replies.communicationId = card.communication_id;
    replies.key = null;
    $("reply-text").value = "";
    $("reply-status").textContent = "";
    $("reply-call").hidden = true;
  }
  loadTemplates();
  watchQueued(await loadConversation());
});
