// «Хотят» on the caller card: what the tourist wants (the open lead's wish, daemon/wishes)
// in one line, and a form to correct it. A manager's value is kept: a later inquiry never
// overwrites it (PUT /api/leads/{id}/wish). Uses screen.js's $, el, api() and problem();
// listens to its «callbridge:card» event. Its only hooks in index.html are #wish and #wish-form.
"use strict";

const wishBox = { leadId: null, wish: null, editing: false };

const WISH_INPUTS = [
  // [input id, label, type, attributes]
  ["wish-country", "Страна", "text", { maxlength: "100" }],
  ["wish-resort", "Курорт", "text", { maxlength: "100" }],
  ["wish-departure", "Город вылета", "text", { maxlength: "100" }],
  ["wish-date-from", "Даты с", "date", {}],
  ["wish-date-to", "по", "date", {}],
  ["wish-nights-from", "Ночей от", "number", { min: "1", max: "365" }],
  ["wish-nights-to", "до", "number", { min: "1", max: "365" }],
  ["wish-adults", "Взрослых", "number", { min: "1", max: "50" }],
  ["wish-children", "Дети, возраст через запятую (? — неизвестен)", "text", { maxlength: "60" }],
  ["wish-budget", "Бюджет до", "number", { min: "0" }],
  ["wish-currency", "Валюта", "select", { options: ["RUB", "USD", "EUR"] }],
  ["wish-stars", "Звёзд", "number", { min: "1", max: "5" }],
  ["wish-meal", "Питание", "select", { options: ["", "RO", "BB", "HB", "FB", "AI", "UAI"] }],
];

function wishField([id, label, type, attrs]) {
  let input;
  if (type === "select") {
    input = el("select", { id });
    input.replaceChildren(...attrs.options.map((o) => el("option", { value: o, text: o || "—" })));
  } else {
    input = el("input", { id, type });
    for (const [name, v] of Object.entries(attrs)) input.setAttribute(name, v);
  }
  return el("label", { class: "wish-field" }, label, input);
}

function buildWishForm() {
  const form = $("wish-form");
  const save = el("button", { type: "submit", class: "primary", text: "Сохранить" });
  const cancel = el("button", { type: "button", text: "Отмена" });
  cancel.addEventListener("click", () => { wishBox.editing = false; form.hidden = true; });
  form.replaceChildren(el("label", { text: "Что хотят (правка менеджера не перезаписывается новыми обращениями)" }),
    el("div", { class: "wish-grid" }, ...WISH_INPUTS.map(wishField)),
    el("div", { class: "row" }, save, cancel, el("span", { id: "wish-status", class: "status", role: "status" })));
  form.addEventListener("submit", (event) => { event.preventDefault(); saveWish(); });
}

const numberOrNull = (text) => (text === "" ? null : Number(text));

function childrenOf(text) {
  if (!text.trim()) return null;
  return text.split(/[,;\s]+/).filter(Boolean).map((a) => (a === "?" ? null : Number(a)));
}

function formWish() {
  const v = (id) => $(id).value.trim();
  const country = v("wish-country");
  const budget = numberOrNull(v("wish-budget"));
  return {
    destination: country ? { country, resort: v("wish-resort") || null } : null,
    departure_city: v("wish-departure") || null,
    date_from: v("wish-date-from") || null,
    date_to: v("wish-date-to") || null,
    nights_from: numberOrNull(v("wish-nights-from")),
    nights_to: numberOrNull(v("wish-nights-to")),
    adults: numberOrNull(v("wish-adults")),
    children: childrenOf(v("wish-children")),
    budget: budget === null ? null : { amount_from: (wishBox.wish && wishBox.wish.budget && wishBox.wish.budget.amount_from) || null, amount_to: budget, currency: v("wish-currency") },
    hotel_stars: numberOrNull(v("wish-stars")),
    meal: v("wish-meal") || null,
  };
}

function fillWishForm(w) {
  w = w || {};
  const d = w.destination || {};
  const set = (id, value) => { $(id).value = value === null || value === undefined ? "" : String(value); };
  set("wish-country", d.country); set("wish-resort", d.resort); set("wish-departure", w.departure_city);
  set("wish-date-from", w.date_from); set("wish-date-to", w.date_to);
  set("wish-nights-from", w.nights_from); set("wish-nights-to", w.nights_to); set("wish-adults", w.adults);
  set("wish-children", w.children ? w.children.map((a) => (a === null ? "?" : a)).join(", ") : "");
  set("wish-budget", w.budget ? (w.budget.amount_to || w.budget.amount_from) : "");
  set("wish-currency", (w.budget && w.budget.currency) || "RUB");
  set("wish-stars", w.hotel_stars); set("wish-meal", w.meal || "");
}

function changedFields(before, after) {
  before = before || {};
  const changed = {};
  for (const [key, value] of Object.entries(after)) {
    if (JSON.stringify(before[key] ?? null) !== JSON.stringify(value)) changed[key] = value;
  }
  return changed;
}

function showWish(wish) {
  wishBox.wish = wish;
  const line = $("wish");
  const edit = el("button", { type: "button", class: "link", text: wish ? "Изменить" : "Заполнить" });
  edit.addEventListener("click", () => {
    fillWishForm(wishBox.wish);
    $("wish-status").textContent = "";
    wishBox.editing = true;
    $("wish-form").hidden = false;
  });
  line.replaceChildren(el("span", { class: wish ? "" : "muted", text: wish ? wish.summary : "неизвестно" }), " ", edit);
}

async function loadWish(leadId) {
  const result = await api("GET", `/api/leads/${leadId}/wish`);
  if (leadId !== wishBox.leadId) return;  // another card took the screen meanwhile
  if (result.ok) showWish(result.data.wish);
  else $("wish").textContent = `не загружено: ${problem(result)}`;
}

async function saveWish() {
  const status = $("wish-status");
  const body = changedFields(wishBox.wish, formWish());
  if (!Object.keys(body).length) { status.className = "status"; status.textContent = "Нечего сохранять"; return; }
  const who = encodeURIComponent(`screen:${localStorage.getItem("callbridge.extension") || "?"}`);
  const result = await api("PUT", `/api/leads/${wishBox.leadId}/wish?by=${who}`, body);
  status.className = result.ok ? "status ok" : "status error";
  status.textContent = result.ok ? "Сохранено" : `Не сохранено: ${problem(result)}`;
  if (result.ok) { showWish(result.data.wish); wishBox.editing = false; $("wish-form").hidden = true; }
}

document.addEventListener("callbridge:card", (event) => {
  const lead = event.detail.card.open_lead;
  const row = [$("wish-row"), $("wish")];
  row.forEach((node) => { node.hidden = !lead; });
  const leadId = lead ? lead.id : null;
  if (leadId !== wishBox.leadId) {
    wishBox.editing = false;
    $("wish-form").hidden = true;
    // Another lead's card: never an empty line while its wish is on the way.
    if (leadId !== null) $("wish").replaceChildren(el("span", { class: "muted", text: "загружается…" }));
  }
  wishBox.leadId = leadId;
  if (leadId !== null && !wishBox.editing) loadWish(leadId);  // a saved note may have refined it
});

document.addEventListener("DOMContentLoaded", buildWishForm);
