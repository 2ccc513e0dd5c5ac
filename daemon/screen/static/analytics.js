// «Аналитика» tab: the table of GET /api/analytics and the server-rendered SVG charts of
// GET /api/analytics/charts. Uses screen.js's api(), $, el(), duration() and money().
"use strict";

const ANALYTICS_COLUMNS = [
  ["inquiries", "Обращений"], ["contacts", "Контактов"], ["new_contacts", "Новых"],
  ["leads_opened", "Лидов открыто"], ["leads_joined", "Продолжено"], ["calls", "Звонков"],
  ["missed", "Пропущено"], ["missed_share", "Доля пропущ."], ["called_back_15m", "Перезвон ≤15 мин"],
  ["called_back_same_day", "Перезвон в тот же день"], ["first_answer_p50_s", "Ответ, медиана"],
  ["first_answer_p90_s", "Ответ, 90%"], ["answered_in_sla_share", "Отвечено в срок"], ["won", "Продажи"], ["lost", "Отказы"], ["open", "В работе"],
  ["revenue", "Выручка"],
];

const ANALYTICS_GROUPS = { ad_source: "Реклама", channel: "Канал", line: "Линия", manager: "Менеджер", day: "День" };
const ANALYTICS_NONE = { ad_source: "без рекламы", manager: "без менеджера", line: "без линии" };
const ANALYTICS_CHANNELS = { call: "звонок", ...CHANNELS };
const ANALYTICS_WEEKDAYS = ["вс", "пн", "вт", "ср", "чт", "пт", "сб"];
const ANALYTICS_REVENUE = "Выручка: сумма оплаченных поездок, которыми выиграны лиды, открытые этими обращениями.";

function analyticsCell(name, value) {
  if (value === null || value === undefined) return "—";
  if (name === "missed_share" || name === "answered_in_sla_share") return `${(value * 100).toFixed(1).replace(".", ",")} %`;
  if (name.startsWith("first_answer")) return duration(value);
  if (name === "revenue") return money(value);
  return String(value);
}

// A group's name as the reports write it: «ср 05.03», a channel in Russian, «без рекламы».
function analyticsKey(key, by) {
  if (key === null || key === undefined) return ANALYTICS_NONE[by] || "(нет)";
  if (by === "day") {
    const [y, m, d] = key.split("-");
    return `${ANALYTICS_WEEKDAYS[new Date(Date.UTC(+y, +m - 1, +d)).getUTCDay()]} ${d}.${m}`;
  }
  if (by === "channel") return ANALYTICS_CHANNELS[key] || key;
  return String(key);
}

function analyticsToday() {
  // en-CA formats a date as YYYY-MM-DD; the office's day, not the browser's.
  return new Intl.DateTimeFormat("en-CA", { timeZone: state.timezone, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date());
}

function analyticsDefaults() {
  if ($("analytics-until").value) return;
  const today = analyticsToday();
  const start = new Date(`${today}T00:00:00Z`);
  start.setUTCDate(start.getUTCDate() - 29);
  $("analytics-since").value = start.toISOString().slice(0, 10);
  $("analytics-until").value = today;
}

function analyticsWindow() {
  const until = new Date(`${$("analytics-until").value}T00:00:00Z`);
  until.setUTCDate(until.getUTCDate() + 1);  // the whole last day
  return { since: $("analytics-since").value, until: until.toISOString().slice(0, 10) };
}

function renderAnalyticsTable(doc) {
  const head = el("tr", {}, el("th", { text: ANALYTICS_GROUPS[doc.by] || "" }),
    ...ANALYTICS_COLUMNS.map(([, title]) => el("th", { text: title })));
  const line = (key, row, cls) => el("tr", cls ? { class: cls } : {},
    el("th", { text: key }),
    ...ANALYTICS_COLUMNS.map(([name]) => el("td", {
      text: analyticsCell(name, row[name]),
      title: name === "lost" && Object.keys(row.lost_reasons).length
        ? Object.entries(row.lost_reasons).map(([r, n]) => `${r}: ${n}`).join(", ") : "",
    })));
  const body = doc.rows.map((row) => line(analyticsKey(row.key, doc.by), row));
  body.push(line("Итого", doc.totals, "total"));
  $("analytics-table").replaceChildren(el("table", { class: "analytics" },
    el("thead", {}, head), el("tbody", {}, ...body)));
  $("analytics-note").textContent = doc.by === "manager"
    ? `${ANALYTICS_REVENUE} По менеджерам пропущенный звонок считается у каждого, кому он звонил.`
    : ANALYTICS_REVENUE;
}

async function loadAnalytics() {
  analyticsDefaults();
  const span = analyticsWindow();
  const query = new URLSearchParams({ ...span, by: $("analytics-by").value });
  const status = $("analytics-status");
  status.className = "status";
  status.textContent = "Загрузка…";
  const [table, charts] = await Promise.all([
    api("GET", `/api/analytics?${query}`),
    api("GET", `/api/analytics/charts?${new URLSearchParams(span)}`),
  ]);
  if (!table.ok || !charts.ok) {
    status.className = "status error";
    status.textContent = `Не удалось: ${problem(table.ok ? charts : table)}`;
    return;
  }
  // The SVGs are ours (server-rendered, every text escaped there); each in a frame that
  // scrolls sideways on a phone rather than shrinking its labels under 12 px.
  $("analytics-charts").innerHTML = ["sales", "ad_source", "daily"].filter((name) => charts.data[name])
    .map((name) => `<div class="chart" data-chart="${name}">${charts.data[name]}</div>`).join("");
  renderAnalyticsTable(table.data);
  status.textContent = `Обращений: ${table.data.totals.inquiries}`;
}

document.addEventListener("callbridge:view", (event) => {
  if (event.detail !== "analytics") return;
  $("view-analytics").hidden = false;
  loadAnalytics();
});

document.addEventListener("DOMContentLoaded", () => {
  $("analytics-form").addEventListener("submit", (event) => { event.preventDefault(); loadAnalytics(); });
});
