// Narrow types for the JSON inside `job.result`, which the OpenAPI schema leaves untyped.
// They describe only the fields the dashboard reads: the backtest report format of
// docs/backtesting.md (`skeet backtest -o`) and the optimisation output of
// docs/optimization.md (`skeet optimize -o`). Times inside reports are nanoseconds since
// the epoch; the rest of the API uses milliseconds.
import type { Job } from '../../api/client'
import { quoteOf } from '../../lib/format'

/** Report metrics (docs/backtesting.md). Percentages are already ×100; drawdown is negative. */
export type ReportMetrics = {
  total_return_pct: number
  cagr_pct: number
  sharpe: number
  sortino: number
  max_drawdown_pct: number
  win_rate_pct: number
  profit_factor: number | null
  trades: number
  exposure_pct: number
  final_equity: number
  initial_equity?: number
  net_profit?: number
  total_fees?: number
  buy_and_hold_return_pct?: number
}

/** A closed trade: prices, quantity and money are decimal strings; times in ns. */
export type ReportTrade = {
  entry_ts: number
  exit_ts: number
  entry_price: string
  exit_price: string
  quantity: string
  side: string
  pnl: string
  fees?: string
  exit_reason?: string
}

export type EquityPoint = { ts: number; equity: number; drawdown: number }

/** The backtest report (the fields read by the dashboard). */
export type BacktestReport = {
  metrics: ReportMetrics
  equity_curve: EquityPoint[]
  trades: ReportTrade[]
  final_equity?: string
  config?: { cash?: string; currency?: string; fill?: string }
  params?: Record<string, number>
  strategy?: string
  warnings?: string[]
}

/** One trial of an optimisation (docs/optimization.md). */
export type Trial = {
  params: Record<string, number>
  objective: number | null
  metrics?: {
    sharpe?: number
    return_pct?: number
    max_drawdown_pct?: number
    trades?: number
    [k: string]: number | undefined
  } | null
  infeasible?: string | null
  reason?: string | null
}

export type Heatmap = {
  x: number[]
  y: number[]
  x_param: string
  y_param: string
  /** `z[j][i]` is the best objective at `(x[i], y[j])`; null where nothing was feasible. */
  z: (number | null)[][]
}

export type Guards = {
  trials: number
  neighbours?: number
  neighbour_mean?: number | null
  neighbour_min?: number | null
  plateau_ratio?: number | null
  deflated_sharpe?: number | null
}

export type OptimizationReport = {
  best: number | null
  trials: Trial[]
  heatmap?: Heatmap | null
  guards?: Guards | null
  space?: { name: string; values: number[] }[]
  config?: { method?: string; objective?: unknown; trials?: number }
  seconds?: number
  skipped_by_constraints?: number
}

/** What a backtest job's payload records (resolved when it was queued). */
export type RunPayload = {
  dataset?: string
  params?: Record<string, number>
  spec?: { name?: string; parameters?: Record<string, ParamSpec> }
  strategy_id?: string
  strategy_version?: number
  symbol?: string
  timeframe?: string
  venue?: string
}

export type OptimizePayload = {
  run?: RunPayload
  ranges?: Record<string, string>
  method?: string
  objective?: string
  trials?: number
}

/** A spec parameter (docs/strategies.md: int/float range with step, or choice). */
export type ParamSpec = {
  int?: [number, number]
  float?: [number, number]
  choice?: number[]
  step?: number
  default?: number
}

export function nsToMs(ns: number): number {
  return Math.round(ns / 1e6)
}

/** The payload of a backtest job, or the `run` of an optimisation job. */
export function runOf(job: Job): RunPayload {
  const p = (job.payload ?? {}) as RunPayload & OptimizePayload
  return job.kind === 'optimize' ? (p.run ?? {}) : p
}

/** The currency equity is counted in: the quote of the symbol, else the report's. */
export function currencyOf(job: Job, report?: BacktestReport | null): string {
  const q = quoteOf(runOf(job).symbol ?? '')
  return q || report?.config?.currency || ''
}

export function num(s: string | number | null | undefined): number {
  if (s === null || s === undefined) return NaN
  return typeof s === 'number' ? s : Number(s)
}

/** Return of a trade in % of its entry notional. */
export function tradeReturnPct(t: ReportTrade): number {
  const notional = num(t.entry_price) * num(t.quantity)
  return notional ? (num(t.pnl) / notional) * 100 : NaN
}

/** Default value of a parameter spec. */
export function paramDefault(p: ParamSpec): number {
  if (p.default !== undefined) return p.default
  if (p.choice?.length) return p.choice[0]
  return (p.int ?? p.float ?? [0])[0]
}

/** The search range of a parameter as `"low..high:step"` or `"a,b,c"`. */
export function paramRange(p: ParamSpec): string {
  if (p.choice?.length) return p.choice.join(',')
  const r = p.int ?? p.float
  if (!r) return String(paramDefault(p))
  return p.step ? `${r[0]}..${r[1]}:${p.step}` : `${r[0]}..${r[1]}`
}

/** The parameters of a spec document, in name order. */
export function specParams(spec: unknown): [string, ParamSpec][] {
  const ps = (spec as { parameters?: Record<string, ParamSpec> } | null)?.parameters ?? {}
  return Object.entries(ps).sort(([a], [b]) => a.localeCompare(b))
}

export function paramsText(params: Record<string, number> | undefined): string {
  if (!params) return ''
  return Object.entries(params)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')
}

/** Decimal places written in a decimal string (`"49913.263"` → 3). */
export function decimalsOf(s: string | undefined): number {
  if (!s) return 0
  const i = s.indexOf('.')
  return i < 0 ? 0 : s.length - i - 1
}

/** The instrument's price precision as seen in the trades' prices (at most 8 places). */
export function pricePrecision(trades: ReportTrade[]): number | undefined {
  if (!trades.length) return undefined
  let d = 0
  for (const t of trades.slice(0, 200)) d = Math.max(d, decimalsOf(t.entry_price), decimalsOf(t.exit_price))
  return Math.min(d, 8)
}
