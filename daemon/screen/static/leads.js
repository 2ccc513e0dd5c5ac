// «Закрыть лид» on the caller card (daemon/leads): won, or lost with one of the
// configured reasons. Uses screen.js's state and api(); listens to its events.
"use strict";

const leadClose = { reasons: null, leadId: null };

async function loadLeadReasons() {
  if (leadClose.reasons) return;
  const result = await api("GET", "/api/leads/reasons");
  if (!result.ok) return;
  leadClose.reasons = result.data.reasons;
  const select = $("lead-reason");
  select.replaceChildren(el("option", { value: "", text: "Причина отказа…" }),
    ...leadClose.reasons.map((r) => el("option", { value: r, text: r })));
}

async function closeLead(outcome) {
  const status = $("lead-close-status");
  const reason = $("lead-reason").value;
  if (outcome === "lost" && !reason) {
    status.className = "status error";
    status.textContent = "Выберите причину отказа";
    return;
  }
  const result = await api("PUT", `/api/leads/${leadClose.leadId}/close`,
    outcome === "lost" ? { outcome, reason } : { outcome });
  status.className = result.ok ? "status ok" : "status error";
  status.textContent = result.ok
    ? (outcome === "won" ? "Лид закрыт: продажа" : `Лид закрыт: отказ (${result.data.reason})`)
    : `Не закрыт: ${problem(result)}`;
  if (result.ok) $("lead").textContent = `№ ${leadClose.leadId}: закрыт`;
}

document.addEventListener("callbridge:card", (event) => {
  const { card, isNewCall } = event.detail;
  const lead = card.open_lead;
  const form = $("lead-close-form");
  if (isNewCall || !lead || lead.id !== leadClose.leadId) $("lead-close-status").textContent = "";
  leadClose.leadId = lead ? lead.id : null;
  form.hidden = !lead;
  if (lead) loadLeadReasons();
});

document.addEventListener("DOMContentLoaded", () => {
  $("lead-close-form").addEventListener("submit", (event) => { event.preventDefault(); closeLead("lost"); });
  $("lead-won").addEventListener("click", () => closeLead("won"));
});
