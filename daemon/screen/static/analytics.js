// «Аналитика» tab: the table of GET /api/analytics and the two server-rendered
// SVG charts of GET /api/analytics/charts. Uses screen.js's api(), $ and el().
"use strict";

const ANALYTICS_COLUMNS = [
  ["inquiries", "Обращений"], ["contacts", "Контактов"], ["new_contacts", "Новых"],
  ["leads_opened", "Лидов открыто"], ["leads_joined", "Продолжено"], ["calls", "Звонков"],
  ["missed", "Пропущено"], ["missed_share", "Доля пропущ."], ["called_back_15m", "Перезвон ≤15 мин"],
  ["called_back_same_day", "Перезвон в тот же день"], ["first_answer_p50_s", "Ответ, медиана"],
  ["first_answer_p90_s", "Ответ, 90%"], ["answered_in_sla_share", "Отвечено в срок"], ["won", "Продажи"], ["lost", "Отказы"], ["open", "В работе"],
  ["revenue", "Выручка"],
];

function analyticsCell(name, value) {
  if (value === null || value === undefined) return "—";
  if (name === "missed_share" || name === "answered_in_sla_share") return `${(value * 100).toFixed(1)} %`;
  if (name.startsWith("first_answer")) {
    const s = Math.round(value);
    return s >= 3600 ? `${Math.floor(s / 3600)} ч ${Math.floor((s % 3600) / 60)} мин` : duration(s);
  }
  if (name === "revenue") return value.toLocaleString("ru-RU", { maximumFractionDigits: 2 });
  return String(value);
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
  const head = el("tr", {}, el("th", { text: "" }), ...ANALYTICS_COLUMNS.map(([, title]) => el("th", { text: title })));
  const line = (key, row, cls) => el("tr", cls ? { class: cls } : {},
    el("th", { text: key }),
    ...ANALYTICS_COLUMNS.map(([name]) => el("td", {
      text: analyticsCell(name, row[name]),
      title: name === "lost" && Object.keys(row.lost_reasons).length
        ? Object.entries(row.lost_reasons).map(([r, n]) => `${r}: ${n}`).join(", ") : "",
    })));
  const body = doc.rows.map((row) => line(row.key === null ? "(нет)" : String(row.key), row));
  body.push(line("Итого", doc.totals, "total"));
  $("analytics-table").replaceChildren(el("table", { class: "analytics" },
    el("thead", {}, head), el("tbody", {}, ...body)));
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
  // The SVGs are ours (server-rendered, every text escaped there).
  $("analytics-charts").innerHTML = charts.data.ad_source + charts.data.daily;
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
