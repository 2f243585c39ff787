// The parts of a walk-forward report: the verdict from the efficiency ratio, the stitched
// out-of-sample equity curve, and the windows (table and in/out-of-sample objective chart).
import { useMemo } from 'react'
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts'
import { formatDate, formatMoney, formatNumber, formatPct, formatTime } from '../../lib/format'
import { paramsText, nsToMs } from './report'
import { thin, verdictOf, type WalkForwardReport, type WalkForwardWindow } from './WalkForwardReport'

const axis = { stroke: '#64748b', fontSize: 11 }
const tooltipStyle = { backgroundColor: '#0f172a', border: '1px solid #334155', borderRadius: 6, color: '#e2e8f0' }

const VERDICT_TONES = {
  green: 'border-emerald-700 bg-emerald-950/40 text-emerald-300',
  amber: 'border-amber-700 bg-amber-950/40 text-amber-300',
  red: 'border-rose-800 bg-rose-950/40 text-rose-300',
} as const

export function WalkForwardVerdict({ report }: { report: Pick<WalkForwardReport, 'efficiency' | 'mean_in_sample_objective' | 'mean_out_of_sample_objective' | 'windows'>; objective?: string }) {
  const v = verdictOf(report.efficiency)
  return (
    <section aria-label="Verdict" data-verdict={v.tone} className={`rounded-lg border px-4 py-3 ${VERDICT_TONES[v.tone]}`}>
      <h2 className="text-lg font-semibold">{v.headline}</h2>
      <p className="mt-1 text-sm text-slate-200">{v.detail}</p>
      <dl className="mt-2 flex flex-wrap gap-x-6 gap-y-1 text-sm">
        <div>
          <dt className="text-xs text-slate-400">Walk-forward efficiency</dt>
          <dd className="font-semibold tabular-nums text-slate-100" data-testid="wf-efficiency">
            {formatNumber(report.efficiency, 2)}
          </dd>
        </div>
        <div>
          <dt className="text-xs text-slate-400">Mean objective in sample</dt>
          <dd className="tabular-nums text-slate-100">{formatNumber(report.mean_in_sample_objective, 3)}</dd>
        </div>
        <div>
          <dt className="text-xs text-slate-400">Mean objective out of sample</dt>
          <dd className="tabular-nums text-slate-100">{formatNumber(report.mean_out_of_sample_objective, 3)}</dd>
        </div>
        <div>
          <dt className="text-xs text-slate-400">Windows</dt>
          <dd className="tabular-nums text-slate-100">{report.windows.length}</dd>
        </div>
      </dl>
      <p className="mt-2 text-xs text-slate-400">
        A heuristic (Pardo's rule of thumb), not a proof: efficiency is out-of-sample annual return divided by in-sample annual return, averaged over
        windows that made money in sample. Few windows or few trades make it noisy.
      </p>
    </section>
  )
}

/** The stitched out-of-sample equity curve (`[ts_ns, equity]` pairs). */
export function WalkForwardEquity({ equity, currency }: { equity: [number, number][]; currency: string }) {
  const data = useMemo(() => thin(equity).map(([ts, e]) => ({ time: nsToMs(ts), equity: e })), [equity])
  return (
    <div className="h-64 w-full" data-testid="equity-chart">
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={data} margin={{ top: 5, right: 10, bottom: 0, left: 0 }}>
          <CartesianGrid stroke="#1e293b" />
          <XAxis dataKey="time" type="number" scale="time" domain={['dataMin', 'dataMax']} tickFormatter={(v) => formatDate(v)} tick={axis} minTickGap={40} />
          <YAxis domain={['auto', 'auto']} tickFormatter={(v) => formatNumber(Number(v), 0)} tick={axis} width={56} />
          <Tooltip contentStyle={tooltipStyle} labelFormatter={(v) => formatTime(Number(v))} formatter={(v) => [formatMoney(Number(v), currency), 'Equity']} />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          <Line name={`Out-of-sample equity${currency ? ` (${currency})` : ''}`} dataKey="equity" stroke="#38bdf8" dot={false} isAnimationActive={false} strokeWidth={1.5} />
        </LineChart>
      </ResponsiveContainer>
    </div>
  )
}

function oosDates(w: WalkForwardWindow): string {
  if (!w.out_of_sample_time) return '—'
  return `${formatDate(nsToMs(w.out_of_sample_time[0]))} – ${formatDate(nsToMs(w.out_of_sample_time[1]))}`
}

function tone(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n === 0) return ''
  return n > 0 ? 'text-emerald-400' : 'text-rose-400'
}

/** One row per window: what was trained on, what was chosen, how it did on the next window. */
export function WalkForwardWindows({ windows, objective }: { windows: WalkForwardWindow[]; objective: string }) {
  return (
    <div className="relative overflow-x-auto">
      <table className="w-full min-w-[820px] whitespace-nowrap text-sm" aria-label="Windows">
        <thead className="border-b border-slate-800 text-xs text-slate-400">
          <tr>
            <th scope="col" className="px-2 py-1.5 text-right font-medium">#</th>
            <th scope="col" className="px-2 py-1.5 text-left font-medium">In-sample bars</th>
            <th scope="col" className="px-2 py-1.5 text-left font-medium">Out-of-sample dates (UTC)</th>
            <th scope="col" className="px-2 py-1.5 text-left font-medium">Chosen parameters</th>
            <th scope="col" className="px-2 py-1.5 text-right font-medium">IS {objective}</th>
            <th scope="col" className="px-2 py-1.5 text-right font-medium">OOS {objective}</th>
            <th scope="col" className="px-2 py-1.5 text-right font-medium">OOS return</th>
            <th scope="col" className="px-2 py-1.5 text-right font-medium">Trades</th>
          </tr>
        </thead>
        <tbody>
          {windows.map((w, i) => (
            <tr key={i} className="border-b border-slate-800/60">
              <td className="px-2 py-1.5 text-right tabular-nums" data-col="window">{i + 1}</td>
              <td className="px-2 py-1.5 tabular-nums text-slate-300" data-col="in-sample" title={`${w.in_sample[1] - w.in_sample[0]} bars; test bars ${w.out_of_sample[0]}..${w.out_of_sample[1]}`}>
                {w.in_sample[0]}..{w.in_sample[1]}
              </td>
              <td className="px-2 py-1.5 tabular-nums text-slate-300" data-col="oos-dates">{oosDates(w)}</td>
              <td className="px-2 py-1.5" data-col="params">{paramsText(w.params)}</td>
              <td className="px-2 py-1.5 text-right tabular-nums" data-col="is-objective">{formatNumber(w.in_sample_objective, 3)}</td>
              <td className={`px-2 py-1.5 text-right tabular-nums ${tone(w.out_of_sample_objective)}`} data-col="oos-objective">
                {formatNumber(w.out_of_sample_objective, 3)}
              </td>
              <td className={`px-2 py-1.5 text-right tabular-nums ${tone(w.out_of_sample_metrics?.total_return_pct)}`} data-col="oos-return">
                {formatPct(w.out_of_sample_metrics?.total_return_pct, 2, true)}
              </td>
              <td className="px-2 py-1.5 text-right tabular-nums" data-col="trades">{formatNumber(w.out_of_sample_metrics?.trades, 0)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

/** In-sample against out-of-sample objective, per window. */
export function WalkForwardObjectiveChart({ windows, objective }: { windows: WalkForwardWindow[]; objective: string }) {
  const data = windows.map((w, i) => ({ window: `#${i + 1}`, is: w.in_sample_objective, oos: w.out_of_sample_objective }))
  return (
    <div className="h-56 w-full" data-testid="wf-objective-chart">
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data} margin={{ top: 5, right: 10, bottom: 0, left: 0 }}>
          <CartesianGrid stroke="#1e293b" vertical={false} />
          <XAxis dataKey="window" tick={axis} />
          <YAxis tick={axis} width={48} tickFormatter={(v) => formatNumber(Number(v), 2)} />
          <ReferenceLine y={0} stroke="#475569" />
          <Tooltip
            contentStyle={tooltipStyle}
            cursor={{ fill: '#1e293b' }}
            labelFormatter={(v) => `Window ${String(v).slice(1)}`}
            formatter={(v, name) => [formatNumber(v === null || v === undefined ? null : Number(v), 3), name]}
          />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          <Bar name={`In-sample ${objective}`} dataKey="is" fill="#64748b" isAnimationActive={false} />
          <Bar name={`Out-of-sample ${objective}`} dataKey="oos" fill="#38bdf8" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  )
}
