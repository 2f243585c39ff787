// The headline numbers of a backtest report, formatted for traders.
import { formatMoney, formatNumber, formatPct } from '../../lib/format'
import type { ReportMetrics } from './report'

function tone(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n === 0) return 'text-slate-100'
  return n > 0 ? 'text-emerald-400' : 'text-rose-400'
}

export function MetricsCards({ metrics, currency }: { metrics: ReportMetrics; currency: string }) {
  const m = metrics
  const items: { label: string; value: string; className?: string; hint?: string }[] = [
    { label: 'Total return', value: formatPct(m.total_return_pct, 2, true), className: tone(m.total_return_pct) },
    { label: 'CAGR', value: formatPct(m.cagr_pct, 2, true), className: tone(m.cagr_pct) },
    { label: 'Sharpe', value: formatNumber(m.sharpe, 2), hint: 'annualised' },
    { label: 'Sortino', value: formatNumber(m.sortino, 2), hint: 'annualised' },
    { label: 'Max drawdown', value: formatPct(m.max_drawdown_pct, 2), className: m.max_drawdown_pct < 0 ? 'text-rose-400' : 'text-slate-100' },
    { label: 'Win rate', value: formatPct(m.win_rate_pct, 1) },
    { label: 'Profit factor', value: m.profit_factor === null || m.profit_factor === undefined ? '—' : formatNumber(m.profit_factor, 2) },
    { label: 'Trades', value: formatNumber(m.trades, 0) },
    { label: 'Exposure', value: formatPct(m.exposure_pct, 1), hint: 'time in the market' },
    { label: 'Final equity', value: formatMoney(m.final_equity, currency), className: tone((m.final_equity ?? 0) - (m.initial_equity ?? m.final_equity ?? 0)) },
  ]
  return (
    <dl className="grid grid-cols-2 gap-2 sm:grid-cols-3 lg:grid-cols-5" aria-label="Metrics">
      {items.map((it) => (
        <div key={it.label} className="rounded-lg border border-slate-800 bg-slate-900/70 px-3 py-2">
          <dt className="text-xs uppercase tracking-wide text-slate-400">{it.label}</dt>
          <dd className={`num mt-0.5 text-lg font-semibold tabular-nums ${it.className ?? 'text-slate-100'}`} data-metric={it.label}>
            {it.value}
          </dd>
          {it.hint && <dd className="text-xs text-slate-500">{it.hint}</dd>}
        </div>
      ))}
    </dl>
  )
}
