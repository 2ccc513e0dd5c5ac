// «Реактивация»: the manager's next contact of a reactivation campaign (daemon/leads/campaigns.py),
// a call through the PBX, the outcome, and the campaign's progress. Uses screen.js's
// state, api(), $, el(), problem() and phoneForPeople(); shows its section itself.
"use strict";

const reactivation = { campaigns: [], reasons: null, contact: null };
const REACTIVATION_OUTCOMES = [
  ["interested", "Интересно — предзаявка"], ["refused", "Отказ"], ["unreachable", "Не дозвонились"],
  ["do_not_call", "Не звонить"],
];

function reactivationSay(text, kind = "") {
  const status = $("reactivation-status");
  status.className = `status ${kind}`;
  status.textContent = text;
}

function reactivationCampaignId() {
  return $("reactivation-campaign").value;
}

async function loadReactivation() {
  const [list, reasons] = await Promise.all([
    api("GET", `/api/campaigns?${new URLSearchParams({ extension: state.extension })}`),
    reactivation.reasons ? Promise.resolve(null) : api("GET", "/api/campaigns/reasons"),
  ]);
  if (!list.ok) return reactivationSay(`Не удалось: ${problem(list)}`, "error");
  if (reasons && reasons.ok) reactivation.reasons = reasons.data.reasons;
  reactivation.campaigns = list.data;
  const select = $("reactivation-campaign");
  const chosen = select.value;
  select.replaceChildren(...list.data.map((c) => el("option", { value: String(c.id), text: c.name })));
  if (chosen) select.value = chosen;
  $("reactivation-empty").hidden = list.data.length > 0;
  $("reactivation-work").hidden = list.data.length === 0;
  $("reactivation-reason").replaceChildren(el("option", { value: "", text: "Причина отказа…" }),
    ...(reactivation.reasons || []).map((r) => el("option", { value: r, text: r })));
  if (list.data.length) loadProgress();
}

async function loadProgress() {
  const result = await api("GET", `/api/campaigns/${reactivationCampaignId()}`);
  if (!result.ok) return;
  const p = result.data;
  const refused = Object.values(p.refused).reduce((a, b) => a + b, 0);
  $("reactivation-progress").textContent =
    `Обзвонено ${p.claimed} из ${p.total}; дозвонились ${p.reached}; интерес ${p.interested}; ` +
    `отказ ${refused}; не дозвонились ${p.unreachable}; лидов ${p.leads_opened}, продаж ${p.leads_won}`;
}

function renderContact(card) {
  reactivation.contact = card;
  const box = $("reactivation-contact");
  box.hidden = !card;
  $("reactivation-outcome-form").hidden = !card;
  if (!card) return;
  const phones = card.phones.map((phone) => {
    const button = el("button", { type: "button", class: "primary", text: `Позвонить ${phoneForPeople(phone)}` });
    button.addEventListener("click", () => reactivationCall(phone, button));
    return button;
  });
  const trips = card.trips.map((t) => el("li", { text:
    `${t.starts_on || "—"} — ${t.ends_on || "—"}: заявка ${t.order_number}, ${t.status_text}` +
    (t.amount !== null ? `, ${t.amount.toLocaleString("ru-RU")} ₽` : "") }));
  const notes = card.notes.map((n) => el("li", { text: `${when(n.started_at, true)}: ${n.note}` }));
  box.replaceChildren(
    el("h2", { id: "reactivation-name", text: card.name || "Без имени" }),
    el("p", { class: "muted", text: `Оценка — ${card.score_text}` }),
    el("div", { class: "row" }, ...phones),
    el("h3", { text: "Поездки" }), trips.length ? el("ul", {}, ...trips) : el("p", { class: "muted", text: "Нет" }),
    el("h3", { text: "Последние примечания" }),
    notes.length ? el("ul", {}, ...notes) : el("p", { class: "muted", text: "Нет" }));
}

async function reactivationCall(phone, button) {
  button.disabled = true;
  const result = await api("POST", "/api/calls", { extension: state.extension, phone });
  reactivationSay(result.status === 202 ? `Сейчас зазвонит ваш телефон, затем АТС наберёт ${phoneForPeople(phone)}.`
    : `Не удалось позвонить: ${problem(result)}`, result.status === 202 ? "ok" : "error");
  button.disabled = false;
}

async function reactivationNext() {
  const result = await api("POST", `/api/campaigns/${reactivationCampaignId()}/next`, { extension: state.extension });
  if (result.status === 204) {
    renderContact(null);
    return reactivationSay("В этой кампании больше некому звонить.", "ok");
  }
  if (!result.ok) return reactivationSay(`Не удалось: ${problem(result)}`, "error");
  renderContact(result.data);
  reactivationSay("");
}

async function reactivationOutcome(event) {
  event.preventDefault();
  const outcome = $("reactivation-outcome").value;
  const reason = $("reactivation-reason").value || $("reactivation-reason-text").value.trim() || null;
  const body = { contact_id: reactivation.contact.contact_id, extension: state.extension, outcome, reason };
  const result = await api("POST", `/api/campaigns/${reactivationCampaignId()}/outcome`, body);
  if (!result.ok) return reactivationSay(`Не сохранено: ${problem(result)}`, "error");
  reactivationSay(outcome === "interested" ? `Сохранено: открыт лид № ${result.data.lead_id}` : "Сохранено", "ok");
  renderContact(null);
  loadProgress();
}

document.addEventListener("callbridge:view", (event) => {
  if (event.detail !== "reactivation") return;
  $("view-reactivation").hidden = false;
  loadReactivation();
});

document.addEventListener("DOMContentLoaded", () => {
  $("reactivation-next").addEventListener("click", reactivationNext);
  $("reactivation-campaign").addEventListener("change", () => { renderContact(null); loadProgress(); });
  $("reactivation-outcome-form").addEventListener("submit", reactivationOutcome);
  $("reactivation-outcome").replaceChildren(...REACTIVATION_OUTCOMES.map(([v, t]) => el("option", { value: v, text: t })));
});
