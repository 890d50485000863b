// The reports page: per site (or one agent), summary numbers, a chart over time drawn as inline SVG,
// the per-agent table, and the CSV export (a plain download link: the cookie rides along).

import { api, query } from "./api";
import { h, mount, svg } from "./dom";
import { type Desk } from "./desk";
import { dateTime, duration, lang, t } from "./i18n";
import { mt } from "./moderation";

interface Stats {
  conversations: number;
  first_response_median_s: number | null;
  first_response_p90_s: number | null;
  wait_median_s: number | null;
  resolution_median_s: number | null;
  ratings: number;
  rating_avg: number | null;
  csat_pct: number | null;
  missed: number;
  nps_responses: number;
  nps_promoters: number;
  nps_detractors: number;
  nps_score: number | null;
}

interface ReportData {
  from: number;
  to: number;
  bucket: "hour" | "day";
  summary: Stats;
  series: (Stats & { start: number })[];
  agents: (Stats & { agent: string | null; name: string })[];
  nps_comments: { conversation: string; score: number; comment: string; at: number }[];
}

const RANGES: Record<string, number> = { last24h: 86_400_000, last7: 7 * 86_400_000, last30: 30 * 86_400_000 };

let state = { site: "", agent: "", range: "last7" };

export async function renderReports(main: HTMLElement, desk: Desk): Promise<void> {
  if (!state.site || !desk.sites.some((s) => s.key === state.site)) state.site = desk.sites[0]?.key ?? "";
  const body = h("div", { class: "report-body" });
  const redraw = (): void => void renderReports(main, desk);
  const siteSelect = h(
    "select",
    { attrs: { "aria-label": t("site") }, on: { change: () => ((state = { ...state, site: siteSelect.value, agent: "" }), redraw()) } },
    desk.sites.map((s) => h("option", { attrs: { value: s.key }, props: { selected: s.key === state.site } }, s.name)),
  );
  const agents = desk.agentsOfSite(desk.sites.find((s) => s.key === state.site)?.id);
  const agentSelect = h(
    "select",
    { attrs: { "aria-label": t("agent") }, on: { change: () => ((state = { ...state, agent: agentSelect.value }), redraw()) } },
    h("option", { attrs: { value: "" } }, t("allAgents")),
    agents.map((a) => h("option", { attrs: { value: a.id }, props: { selected: a.id === state.agent } }, a.name || a.id)),
  );
  const rangeSelect = h(
    "select",
    { attrs: { "aria-label": t("range") }, on: { change: () => ((state = { ...state, range: rangeSelect.value }), redraw()) } },
    Object.keys(RANGES).map((r) => h("option", { attrs: { value: r }, props: { selected: r === state.range } }, t(r as "last7"))),
  );
  const now = Date.now();
  const params = {
    from: now - RANGES[state.range],
    to: now + 60_000,
    agent: state.agent || null,
    tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
  const base = `/api/sites/${encodeURIComponent(state.site)}/reports`;
  const csv = h("a", { class: "button", attrs: { href: base + "/csv" + query(params), download: "" } }, t("downloadCsv"));
  // The insight export (conversations with their labels) is for owners and admins.
  const manager = desk.sites.some((x) => x.key === state.site && x.role !== "agent");
  const period = query({ from: params.from, to: params.to });
  const exported = `/api/sites/${encodeURIComponent(state.site)}/export/conversations`;
  const exports = manager
    ? h("span", { class: "row" }, h("a", { class: "button export", attrs: { href: exported + period, download: "" } }, mt("exportCsv")), h("a", { attrs: { href: exported + "/json" + period, download: "" } }, mt("exportJson")))
    : null;
  mount(main, h("div", { class: "reports" }, h("h1", null, t("reports")), h("div", { class: "row report-filters" }, siteSelect, agentSelect, rangeSelect, csv, exports), body));
  if (!state.site) return;
  let data: ReportData;
  try {
    data = await api<ReportData>("GET", base + query(params));
  } catch (err) {
    mount(body, h("p", { class: "form-error" }, t("error", { message: String((err as Error).message) })));
    return;
  }
  const s = data.summary;
  const names = new Map(desk.agentsOfSite(undefined).map((a) => [a.id, a.name]));
  mount(
    body,
    h(
      "div",
      { class: "cards" },
      card(t("conversations"), String(s.conversations), "conversations"),
      card(t("firstResponse"), duration(s.first_response_median_s), "first-response"),
      card(t("firstResponseP90"), duration(s.first_response_p90_s), "first-response-p90"),
      card(t("waitTime"), duration(s.wait_median_s), "wait"),
      card(t("resolution"), duration(s.resolution_median_s), "resolution"),
      card(
        t("satisfaction"),
        s.rating_avg === null ? t("noData") : `${s.rating_avg.toLocaleString(lang)}/5 · ${s.csat_pct ?? 0}%`,
        "satisfaction",
        t("ratingsCount", { n: s.ratings }),
      ),
      card(t("missed"), String(s.missed), "missed"),
      card(
        mt("nps"),
        s.nps_score === null ? t("noData") : s.nps_score.toLocaleString(lang),
        "nps",
        mt("npsAnswers", { n: String(s.nps_responses), p: String(s.nps_promoters), d: String(s.nps_detractors) }),
      ),
    ),
    chart(data),
    npsSection(data),
    h("h2", null, t("byAgent")),
    h(
      "table",
      { class: "table agents-report" },
      h("thead", null, h("tr", null, [t("agent"), t("conversations"), t("firstResponse"), t("resolution"), t("satisfaction"), t("missed")].map((c) => h("th", null, c)))),
      h(
        "tbody",
        null,
        data.agents.map((a) =>
          h(
            "tr",
            null,
            h("td", null, a.agent ? a.name || names.get(a.agent) || a.agent : t("unassignedAgent")),
            h("td", null, String(a.conversations)),
            h("td", null, duration(a.first_response_median_s)),
            h("td", null, duration(a.resolution_median_s)),
            h("td", null, a.rating_avg === null ? t("noData") : `${a.rating_avg}/5`),
            h("td", null, String(a.missed)),
          ),
        ),
      ),
    ),
  );
}

/** The NPS trend (buckets with answers) and the latest comments. */
function npsSection(data: ReportData): HTMLElement | null {
  if (!data.summary.nps_responses) return null;
  const fmt = new Intl.DateTimeFormat(lang, data.bucket === "hour" ? { day: "numeric", month: "short", hour: "2-digit" } : { day: "numeric", month: "short" });
  return h(
    "section",
    { class: "nps-report", attrs: { "aria-label": mt("nps") } },
    h("h2", null, mt("npsTrend")),
    h(
      "table",
      { class: "table nps-trend" },
      h("thead", null, h("tr", null, [mt("period"), mt("answers"), mt("score")].map((c) => h("th", null, c)))),
      h(
        "tbody",
        null,
        data.series
          .filter((p) => p.nps_responses > 0)
          .map((p) => h("tr", null, h("td", null, fmt.format(p.start)), h("td", null, String(p.nps_responses)), h("td", null, String(p.nps_score ?? "")))),
      ),
    ),
    data.nps_comments.length
      ? h(
          "div",
          null,
          h("h2", null, mt("npsComments")),
          h(
            "ul",
            { class: "nps-comments" },
            data.nps_comments.map((c) => h("li", null, h("strong", null, `${c.score}/10`), ` — ${c.comment} `, h("span", { class: "muted small" }, dateTime(c.at)))),
          ),
        )
      : null,
  );
}

function card(label: string, value: string, id: string, sub = ""): HTMLElement {
  return h("div", { class: "stat", attrs: { "data-stat": id } }, h("div", { class: "muted small" }, label), h("div", { class: "stat-value" }, value), sub ? h("div", { class: "muted small" }, sub) : null);
}

/** Bars: conversations per bucket; line: median first response. No chart library, no canvas. */
function chart(data: ReportData): Element {
  const W = 720;
  const H = 200;
  const pad = 28;
  const n = Math.max(1, data.series.length);
  const maxCount = Math.max(1, ...data.series.map((p) => p.conversations));
  const frts = data.series.map((p) => p.first_response_median_s ?? 0);
  const maxFrt = Math.max(1, ...frts);
  const bw = (W - 2 * pad) / n;
  const fmt = new Intl.DateTimeFormat(lang, data.bucket === "hour" ? { hour: "2-digit" } : { day: "numeric", month: "short" });
  const bars: SVGElement[] = [];
  const points: string[] = [];
  const labelEvery = Math.ceil(n / 10);
  data.series.forEach((p, i) => {
    const x = pad + i * bw;
    const bh = ((H - 2 * pad) * p.conversations) / maxCount;
    bars.push(svg("rect", { x: x + 1, y: H - pad - bh, width: Math.max(1, bw - 2), height: bh, class: "bar" }, svg("title", {}, `${fmt.format(p.start)}: ${p.conversations}`)));
    if (i % labelEvery === 0) bars.push(svg("text", { x: x + bw / 2, y: H - 8, "text-anchor": "middle", class: "axis" }, fmt.format(p.start)));
    if (p.first_response_median_s !== null) points.push(`${x + bw / 2},${H - pad - ((H - 2 * pad) * p.first_response_median_s) / maxFrt}`);
  });
  const figure = svg(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `${t("conversations")} / ${t("firstResponse")}` },
    svg("line", { x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, class: "axis-line" }),
    svg("text", { x: pad, y: 14, class: "axis" }, `${t("conversations")} (max ${maxCount})`),
    svg("text", { x: W - pad, y: 14, "text-anchor": "end", class: "axis frt" }, `${t("firstResponse")} (max ${duration(maxFrt)})`),
    ...bars,
  );
  if (points.length > 1) figure.append(svg("polyline", { points: points.join(" "), class: "frt-line" }));
  return h("figure", { class: "chart-box" }, figure);
}
