// The replay's HTML report: one self-contained file (inline CSS and SVG, no
// script, no network): the results table, clicks vs budget, and the spend
// curves (cumulative spend against the flat plan) for every budget.
import { signedPct } from "./args.ts";
import type { ReplaySummary, StrategyRun } from "./replay.ts";
import { CURVE_SLICES, type SimResult } from "./replay-sim.ts";
import { formatDifference } from "./replay-bootstrap.ts";

const COLORS: Record<string, string> = { CONST: "#7f7f7f", RAND: "#bcbd22", LIN: "#1f77b4", ORTB: "#d62728", ORACLE: "#2ca02c", PLAN: "#000000" };

interface Series {
  name: string;
  color: string;
  dashed: boolean;
  points: Array<[number, number]>;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function fmt(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(1) : x.toFixed(2);
}

/** A line chart as inline SVG. x ticks are given as [value, label]. */
function lineChart(opts: { title: string; xLabel: string; yLabel: string; series: Series[]; xTicks: Array<[number, string]>; xMin: number; xMax: number; yMax?: number; width?: number; height?: number }): string {
  const W = opts.width ?? 560;
  const H = opts.height ?? 320;
  const m = { l: 56, r: 150, t: 28, b: 44 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  let yMax = opts.yMax ?? 0;
  for (const s of opts.series) for (const [, y] of s.points) yMax = Math.max(yMax, y);
  if (!(yMax > 0)) yMax = 1;
  yMax *= 1.05;
  const X = (x: number): number => m.l + ((x - opts.xMin) / (opts.xMax - opts.xMin || 1)) * pw;
  const Y = (y: number): number => m.t + ph - (y / yMax) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(opts.title)}">`);
  parts.push(`<text x="${m.l}" y="16" font-size="13" font-weight="bold">${esc(opts.title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax / 1.05) * (i / 4);
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 6}" y="${(Y(v) + 4).toFixed(1)}" font-size="10" text-anchor="end">${fmt(v)}</text>`);
  }
  for (const [x, label] of opts.xTicks) {
    parts.push(`<line x1="${X(x).toFixed(1)}" x2="${X(x).toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#eee"/>`);
    parts.push(`<text x="${X(x).toFixed(1)}" y="${m.t + ph + 14}" font-size="10" text-anchor="middle">${esc(label)}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 8}" font-size="11" text-anchor="middle">${esc(opts.xLabel)}</text>`);
  parts.push(`<text x="14" y="${m.t + ph / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 14 ${m.t + ph / 2})">${esc(opts.yLabel)}</text>`);
  opts.series.forEach((s, i) => {
    const d = s.points.map(([x, y], j) => `${j === 0 ? "M" : "L"}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(" ");
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ""}/>`);
    const ly = m.t + 10 + i * 15;
    parts.push(`<line x1="${m.l + pw + 10}" x2="${m.l + pw + 34}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ""}/>`);
    parts.push(`<text x="${m.l + pw + 38}" y="${ly + 4}" font-size="10">${esc(s.name)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("");
}

function runName(r: StrategyRun): string {
  return `${r.strategy}${r.paced ? "+PID" : ""}`;
}

function curveSeries(name: string, color: string, dashed: boolean, r: SimResult): Series {
  const pts: Array<[number, number]> = [[0, 0]];
  r.curve.forEach((v, i) => pts.push([(i + 1) / CURVE_SLICES, v / r.budget]));
  return { name, color, dashed, points: pts };
}

function row(cells: string[], head = false): string {
  const tag = head ? "th" : "td";
  return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join("")}</tr>`;
}

function resultCells(name: string, r: SimResult, params: string): string[] {
  const spendCny = r.spend / 100_000;
  return [
    esc(name),
    String(r.clicks),
    r.expectedClicks.toFixed(1),
    String(r.impressions),
    spendCny.toFixed(2),
    r.clicks > 0 ? (spendCny / r.clicks).toFixed(2) : "-",
    r.impressions > 0 ? `${((100 * r.clicks) / r.impressions).toFixed(3)}%` : "-",
    r.bids > 0 ? `${((100 * r.impressions) / r.bids).toFixed(1)}%` : "-",
    `${((100 * r.spend) / r.budget).toFixed(1)}%`,
    r.pacingError.toFixed(2),
    r.spent95At === undefined ? "never" : `${(100 * r.spent95At).toFixed(0)}%`,
    esc(params),
  ];
}

export function renderReplayReport(s: ReplaySummary): string {
  const ks = s.budgets.map((b) => b.k);
  const xTicks: Array<[number, string]> = ks.map((k) => [-Math.log2(k), `1/${k}`]);
  const xMin = -Math.log2(Math.max(...ks));
  const xMax = -Math.log2(Math.min(...ks));

  const names = new Map<string, Series>();
  for (const b of s.budgets) {
    for (const r of b.runs) {
      const n = runName(r);
      const ser = names.get(n) ?? { name: n, color: COLORS[r.strategy] ?? "#333", dashed: r.paced, points: [] };
      ser.points.push([-Math.log2(b.k), r.test.clicks]);
      names.set(n, ser);
    }
    if (b.oracleLin) {
      const ser = names.get("LIN oracle") ?? { name: "LIN oracle", color: COLORS.ORACLE!, dashed: true, points: [] };
      ser.points.push([-Math.log2(b.k), b.oracleLin.test.clicks]);
      names.set("LIN oracle", ser);
    }
  }
  for (const ser of names.values()) ser.points.sort((a, b) => a[0] - b[0]);
  const clicksChart = lineChart({ title: "Clicks won on the test set vs budget", xLabel: "budget (fraction of the test set's market cost)", yLabel: "clicks", series: [...names.values()], xTicks, xMin, xMax });

  const spendCharts = s.budgets.map((b) => {
    const series: Series[] = [{ name: "plan (flat)", color: COLORS.PLAN!, dashed: true, points: [[0, 0], [1, 1]] }];
    for (const r of b.runs) series.push(curveSeries(runName(r), COLORS[r.strategy] ?? "#333", r.paced, r.test));
    return lineChart({
      title: `Spend over time, budget 1/${b.k}`,
      xLabel: "time (fraction of the test period)",
      yLabel: "cumulative spend / budget",
      series,
      xTicks: [0, 0.25, 0.5, 0.75, 1].map((x) => [x, `${x * 100}%`] as [number, string]),
      xMin: 0,
      xMax: 1,
      yMax: 1,
      width: 520,
      height: 300,
    });
  });

  const table: string[] = [];
  table.push(row(["budget / strategy", "clicks", "expected clicks", "imps", "spend CNY", "eCPC CNY", "CTR", "win rate", "budget used", "pacing error", "95% spent at", "parameters (tuned on train)"], true));
  for (const b of s.budgets) {
    table.push(`<tr class="k"><td colspan="12">budget 1/${b.k}: ${(b.testBudget / 100_000).toFixed(2)} CNY on test</td></tr>`);
    for (const r of b.runs) table.push(row(resultCells(runName(r), r.test, r.paramsText + (r.gains ? `; kp ${r.gains.kp} ki ${r.gains.ki}` : ""))));
    if (b.oracleLin) table.push(row(resultCells("LIN oracle", b.oracleLin.test, `${b.oracleLin.paramsText} (tuned on test)`)));
  }

  const f = s.findings;
  const findings: string[] = [];
  if (f.linOracleRatio16 !== undefined) findings.push(`LIN / LIN oracle clicks at 1/16: <b>${(100 * f.linOracleRatio16).toFixed(1)}%</b>`);
  for (const x of f.ortbVsLin) findings.push(`ORTB vs LIN at 1/${x.k}: ${x.ortb} vs ${x.lin} clicks`);
  for (const p of f.pacing) {
    findings.push(`${p.strategy} 1/${p.k}: clicks ${p.unpacedClicks} unpaced → ${p.pacedClicks} paced (${signedPct(-p.clickLoss)}), pacing error ${p.unpacedPacingError.toFixed(2)} → ${p.pacedPacingError.toFixed(2)}`);
  }
  const bs = f.bootstrap;
  if (bs) {
    findings.push(`Block bootstrap: ${bs.resamples} resamples of the test set (${bs.blocks} blocks of ${bs.blockAuctions} consecutive auctions, drawn with replacement; seed ${bs.seed}); clicks B − A observed [95% interval], share of resamples with B ≥ A:`);
    for (const x of bs.ortbVsLin) findings.push(`ORTB − LIN at 1/${x.k}${x.paced ? " paced" : ""}: ${esc(formatDifference(x.ortbMinusLin))}`);
    for (const x of bs.pacing) findings.push(`${x.strategy} paced − unpaced over all budgets (${x.unpacedClicks} clicks unpaced): ${esc(formatDifference(x.pacedMinusUnpaced))}`);
  }

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Nexus-RTB replay</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
td:first-child,th:first-child,td:last-child{text-align:left}tr.k td{background:#f3f3f3;font-weight:bold;text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:12px}
</style></head><body>
<h1>Auction replay</h1>
<p>Train (tuning): ${esc(s.train.path)}: ${s.train.rows} auctions, ${s.train.clicks} clicks.
Test: ${esc(s.test.path)}: ${s.test.rows} auctions, ${s.test.clicks} clicks, market cost ${(s.test.cost / 100_000).toFixed(2)} CNY.
A bid wins when it is above the market price and pays the market price; the budget is the test set's total market cost / k;
parameters are chosen on the train set at the same fraction (${s.tuneRule === "budget" ? "budget rule: each strategy's scale solved from the budget, ORTB's c fitted to the win rate, PID gains by pacing error" : "clicks rule: most clicks"}); +PID = paced by the filter's PID controller (${s.steps} control steps, flat plan).</p>
<ul>${findings.map((x) => `<li>${x}</li>`).join("")}</ul>
${clicksChart}
<div class="charts">${spendCharts.join("\n")}</div>
<h2>Results on the test set</h2>
<table>${table.join("\n")}</table>
</body></html>
`;
}
