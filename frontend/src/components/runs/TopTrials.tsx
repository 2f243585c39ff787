// The best trials of an optimisation, sortable.
import { useMemo } from 'react'
import { formatNumber, formatPct } from '../../lib/format'
import { EmptyState } from '../ui'
import type { Trial } from './report'
import { SortHeader, useSorted } from './sort'

type Key = 'rank' | 'objective' | 'sharpe' | 'ret' | 'dd' | 'trades' | `p:${string}`

type Row = { rank: number; index: number; trial: Trial }

function valueOf(r: Row, k: Key): number | null | undefined {
  const m = r.trial.metrics ?? {}
  if (k.startsWith('p:')) return r.trial.params[k.slice(2)]
  switch (k) {
    case 'rank':
      return r.rank
    case 'objective':
      return r.trial.objective
    case 'sharpe':
      return m.sharpe
    case 'ret':
      return m.return_pct
    case 'dd':
      return m.max_drawdown_pct
    case 'trades':
      return m.trades
  }
  return null
}

/** Feasible trials ranked by objective (best first), at most `top` of them. */
export function rankTrials(trials: Trial[], top: number): Row[] {
  return trials
    .map((trial, index) => ({ trial, index, rank: 0 }))
    .filter((r) => r.trial.objective !== null && r.trial.objective !== undefined && Number.isFinite(r.trial.objective))
    .sort((a, b) => (b.trial.objective as number) - (a.trial.objective as number))
    .slice(0, top)
    .map((r, i) => ({ ...r, rank: i + 1 }))
}

export function TopTrials({ trials, params, best, top = 20 }: { trials: Trial[]; params: string[]; best: number | null; top?: number }) {
  const rows = useMemo(() => rankTrials(trials, top), [trials, top])
  const { sorted, sort, toggle } = useSorted<Row, Key>(rows, valueOf, { key: 'rank', dir: 'asc' })
  if (!rows.length) return <EmptyState title="No feasible trial">Every trial had too few trades or an undefined objective.</EmptyState>
  const h = { sort, onSort: toggle }
  return (
    <div className="relative overflow-x-auto">
      <table className="w-full min-w-[640px] whitespace-nowrap text-sm" aria-label="Top results">
        <thead className="border-b border-slate-800 text-xs text-slate-400">
          <tr>
            <SortHeader label="Rank" k="rank" {...h} />
            {params.map((p) => (
              <SortHeader key={p} label={p} k={`p:${p}`} {...h} />
            ))}
            <SortHeader label="Objective" k="objective" {...h} />
            <SortHeader label="Sharpe" k="sharpe" {...h} />
            <SortHeader label="Return" k="ret" {...h} />
            <SortHeader label="Max DD" k="dd" {...h} />
            <SortHeader label="Trades" k="trades" {...h} />
          </tr>
        </thead>
        <tbody className="tabular-nums">
          {sorted.map((r) => {
            const m = r.trial.metrics ?? {}
            return (
              <tr key={r.index} className={`border-b border-slate-800/60 ${r.index === best ? 'bg-sky-950/50' : ''}`}>
                <td className="px-2 py-1 text-right">{r.rank}{r.index === best && <span className="sr-only"> (best)</span>}</td>
                {params.map((p) => (
                  <td key={p} className="px-2 py-1 text-right">{formatNumber(r.trial.params[p], 4)}</td>
                ))}
                <td className="px-2 py-1 text-right font-semibold">{formatNumber(r.trial.objective, 4)}</td>
                <td className="px-2 py-1 text-right">{formatNumber(m.sharpe, 2)}</td>
                <td className={`px-2 py-1 text-right ${(m.return_pct ?? 0) >= 0 ? 'text-emerald-400' : 'text-rose-400'}`}>{formatPct(m.return_pct, 2, true)}</td>
                <td className="px-2 py-1 text-right text-rose-300">{formatPct(m.max_drawdown_pct, 2)}</td>
                <td className="px-2 py-1 text-right">{formatNumber(m.trades, 0)}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
