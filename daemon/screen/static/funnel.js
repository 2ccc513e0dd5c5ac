// The sales funnel: on «Аналитика», GET /api/analytics/funnel drawn as bars per stage;
// on the caller card, the open lead's stage and a select to move it
// (PUT /api/leads/{id}/stage). Uses screen.js's state, api(), $, el() and problem().
"use strict";

const funnelState = { stages: null, leadId: null };

async function funnelStages() {
  if (funnelState.stages) return funnelState.stages;
  const result = await api("GET", "/api/funnel/stages");
  funnelState.stages = result.ok ? result.data.stages : [];
  return funnelState.stages;
}

function funnelBars(row) {
  return el("table", { class: "funnel" },
    el("thead", {}, el("tr", {}, el("th", { text: "Этап" }), el("th", { text: "Дошли" }),
      el("th", { text: "Доля" }), el("th", { text: "Медиана, ч" }))),
    el("tbody", {}, ...row.stages.map((s) => el("tr", {},
      el("th", { text: s.stage }),
      el("td", { text: String(s.reached) }),
      el("td", {}, el("span", { class: "funnel-bar", style: `display:inline-block;height:0.8em;background:#4a7;` +
        `width:${Math.round((s.share_of_first || 0) * 120)}px` }),
        ` ${s.share_of_first === null ? "—" : `${(s.share_of_first * 100).toFixed(0)} %`}`),
      el("td", { text: s.median_hours_from_previous === null ? "—" : String(s.median_hours_from_previous) })))));
}

async function loadFunnel() {
  const box = $("analytics-funnel");
  if (!box || !$("analytics-since").value) return;
  const until = new Date(`${$("analytics-until").value}T00:00:00Z`);
  until.setUTCDate(until.getUTCDate() + 1);
  const by = ["ad_source", "manager", "channel"].includes($("analytics-by").value) ? $("analytics-by").value : "ad_source";
  const query = new URLSearchParams({ since: $("analytics-since").value, until: until.toISOString().slice(0, 10), by });
  const result = await api("GET", `/api/analytics/funnel?${query}`);
  if (!result.ok) {
    box.replaceChildren(el("p", { class: "status error", text: `Воронка: ${problem(result)}` }));
    return;
  }
  box.replaceChildren(el("h2", { text: "Воронка продаж" }), el("h3", { text: "Все лиды" }),
    funnelBars(result.data.totals),
    ...result.data.rows.flatMap((row) => [el("h3", { text: row.key === null ? "(нет)" : String(row.key) }),
      funnelBars(row)]));
}

async function renderLeadStage(lead) {
  const form = $("lead-stage-form");
  funnelState.leadId = lead ? lead.id : null;
  form.hidden = !lead;
  if (!lead) return;
  const stages = await funnelStages();
  const select = $("lead-stage");
  select.replaceChildren(...stages.map((s) => el("option", { value: s, text: s })));
  select.value = lead.stage || stages[0];
}

async function moveLeadStage(event) {
  event.preventDefault();
  const status = $("lead-stage-status");
  const result = await api("PUT", `/api/leads/${funnelState.leadId}/stage`,
    { stage: $("lead-stage").value, extension: state.extension });
  status.className = result.ok ? "status ok" : "status error";
  status.textContent = result.ok ? `Этап: ${result.data.stage}` : `Не сохранено: ${problem(result)}`;
}

document.addEventListener("callbridge:card", (event) => {
  const { card, isNewCall } = event.detail;
  if (isNewCall) $("lead-stage-status").textContent = "";
  renderLeadStage(card.open_lead);
  const contact = card.contact;
  const score = $("contact-score");
  score.textContent = contact && contact.score !== null && contact.score !== undefined
    ? `${contact.score} — ${contact.score_reasons.map((r) => `${r.reason} (${r.points > 0 ? "+" : ""}${r.points})`).join("; ")}`
    : "—";
  const first = contact && contact.first_seen_at
    ? `${when(contact.first_seen_at, true)}, ${CHANNELS[contact.first_channel] || contact.first_channel || ""}` +
      (contact.first_ad_source ? `, ${contact.first_ad_source}` : "") : "—";
  $("contact-first").textContent = first;
  $("contact-channel").textContent = contact && contact.preferred_channel
    ? (CHANNELS[contact.preferred_channel] || (contact.preferred_channel === "call" ? "Звонок" : contact.preferred_channel))
    : "—";
});

document.addEventListener("callbridge:view", (event) => {
  if (event.detail === "analytics") loadFunnel();
});

document.addEventListener("DOMContentLoaded", () => {
  $("lead-stage-form").addEventListener("submit", moveLeadStage);
  $("analytics-form").addEventListener("submit", () => loadFunnel());
});
