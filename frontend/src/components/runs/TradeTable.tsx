// The closed trades of a report, sortable by any column, paged on the client.
import { useMemo, useState } from 'react'
import { formatMoney, formatNumber, formatPct, formatPrice, formatTime } from '../../lib/format'
import { Button, EmptyState } from '../ui'
import { nsToMs, num, pricePrecision, tradeReturnPct, type ReportTrade } from './report'
import { SortHeader, useSorted } from './sort'

type Key = 'entry' | 'exit' | 'side' | 'size' | 'entry_price' | 'exit_price' | 'pnl' | 'ret'

type Row = { i: number; t: ReportTrade; ret: number; pnl: number }

const PAGE = 50

function valueOf(r: Row, k: Key): number | string {
  switch (k) {
    case 'entry':
      return r.t.entry_ts
    case 'exit':
      return r.t.exit_ts
    case 'side':
      return r.t.side
    case 'size':
      return num(r.t.quantity)
    case 'entry_price':
      return num(r.t.entry_price)
    case 'exit_price':
      return num(r.t.exit_price)
    case 'pnl':
      return r.pnl
    case 'ret':
      return r.ret
  }
}

export function TradeTable({ trades, currency }: { trades: ReportTrade[]; currency: string }) {
  const rows = useMemo<Row[]>(() => trades.map((t, i) => ({ i, t, ret: tradeReturnPct(t), pnl: num(t.pnl) })), [trades])
  const digits = useMemo(() => pricePrecision(trades), [trades])
  const { sorted, sort, toggle } = useSorted<Row, Key>(rows, valueOf)
  const [page, setPage] = useState(0)
  const pages = Math.max(1, Math.ceil(sorted.length / PAGE))
  const shown = sorted.slice(page * PAGE, page * PAGE + PAGE)
  const onSort = (k: Key) => {
    toggle(k)
    setPage(0)
  }
  if (!trades.length) return <EmptyState title="No closed trades">The strategy never completed a trade on this data.</EmptyState>
  const h = { sort, onSort }
  return (
    <div>
      <div className="relative overflow-x-auto">
        <table className="w-full min-w-[760px] whitespace-nowrap text-sm" aria-label="Trades">
          <thead className="border-b border-slate-800 text-xs text-slate-400">
            <tr>
              <th scope="col" className="px-2 py-1.5 text-right font-medium">#</th>
              <SortHeader label="Entry time" k="entry" align="left" {...h} />
              <SortHeader label="Exit time" k="exit" align="left" {...h} />
              <SortHeader label="Side" k="side" align="left" {...h} />
              <SortHeader label="Size" k="size" {...h} />
              <SortHeader label="Entry price" k="entry_price" {...h} />
              <SortHeader label="Exit price" k="exit_price" {...h} />
              <SortHeader label="PnL" k="pnl" {...h} />
              <SortHeader label="Return" k="ret" {...h} />
            </tr>
          </thead>
          <tbody className="tabular-nums">
            {shown.map((r) => (
              <tr key={r.i} className="border-b border-slate-800/60 hover:bg-slate-800/40">
                <td className="px-2 py-1 text-right text-slate-500">{r.i + 1}</td>
                <td className="px-2 py-1 whitespace-nowrap">{formatTime(nsToMs(r.t.entry_ts))}</td>
                <td className="px-2 py-1 whitespace-nowrap">{formatTime(nsToMs(r.t.exit_ts))}</td>
                <td className="px-2 py-1">
                  <span className={r.t.side === 'buy' ? 'text-emerald-400' : 'text-rose-400'}>{r.t.side === 'buy' ? 'long' : 'short'}</span>
                </td>
                <td className="px-2 py-1 text-right">{formatNumber(num(r.t.quantity), 6)}</td>
                <td className="px-2 py-1 text-right">{formatPrice(num(r.t.entry_price), digits)}</td>
                <td className="px-2 py-1 text-right">{formatPrice(num(r.t.exit_price), digits)}</td>
                <td className={`px-2 py-1 text-right ${r.pnl > 0 ? 'text-emerald-400' : r.pnl < 0 ? 'text-rose-400' : ''}`} data-col="pnl">
                  {formatMoney(r.pnl, currency)}
                </td>
                <td className={`px-2 py-1 text-right ${r.ret > 0 ? 'text-emerald-400' : r.ret < 0 ? 'text-rose-400' : ''}`}>{formatPct(r.ret, 2, true)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {pages > 1 && (
        <div className="mt-2 flex items-center justify-end gap-2 text-sm text-slate-400">
          <Button variant="secondary" disabled={page === 0} onClick={() => setPage((p) => p - 1)}>
            Previous
          </Button>
          <span>
            Page {page + 1} of {pages} ({trades.length} trades)
          </span>
          <Button variant="secondary" disabled={page >= pages - 1} onClick={() => setPage((p) => p + 1)}>
            Next
          </Button>
        </div>
      )}
    </div>
  )
}
