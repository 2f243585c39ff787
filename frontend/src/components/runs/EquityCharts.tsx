// Equity curve and drawdown of a report (Recharts, SVG).
import { useMemo } from 'react'
import { Area, AreaChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts'
import { formatDate, formatMoney, formatPct, formatTime } from '../../lib/format'
import { nsToMs, type EquityPoint } from './report'

const axis = { stroke: '#64748b', fontSize: 11 }
const tooltipStyle = { backgroundColor: '#0f172a', border: '1px solid #334155', borderRadius: 6, color: '#e2e8f0' }

function compact(n: number): string {
  return Math.abs(n) >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : Math.abs(n) >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0)
}

export function EquityCharts({ curve, currency }: { curve: EquityPoint[]; currency: string }) {
  const data = useMemo(
    () => curve.map((p) => ({ time: nsToMs(p.ts), equity: p.equity, drawdown: p.drawdown > 0 ? -p.drawdown * 100 : p.drawdown * 100 })),
    [curve],
  )
  const labelFmt = (v: unknown) => formatTime(Number(v))
  return (
    <div className="flex flex-col gap-4">
      <div className="h-64 w-full" data-testid="equity-chart">
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={data} margin={{ top: 5, right: 10, bottom: 0, left: 0 }}>
            <CartesianGrid stroke="#1e293b" />
            <XAxis dataKey="time" type="number" scale="time" domain={['dataMin', 'dataMax']} tickFormatter={(v) => formatDate(v)} tick={axis} minTickGap={40} />
            <YAxis domain={['auto', 'auto']} tickFormatter={compact} tick={axis} width={48} />
            <Tooltip contentStyle={tooltipStyle} labelFormatter={labelFmt} formatter={(v) => [formatMoney(Number(v), currency), 'Equity']} />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            <Line name={`Equity${currency ? ` (${currency})` : ''}`} dataKey="equity" stroke="#38bdf8" dot={false} isAnimationActive={false} strokeWidth={1.5} />
          </LineChart>
        </ResponsiveContainer>
      </div>
      <div className="h-40 w-full" data-testid="drawdown-chart">
        <ResponsiveContainer width="100%" height="100%">
          <AreaChart data={data} margin={{ top: 5, right: 10, bottom: 0, left: 0 }}>
            <CartesianGrid stroke="#1e293b" />
            <XAxis dataKey="time" type="number" scale="time" domain={['dataMin', 'dataMax']} tickFormatter={(v) => formatDate(v)} tick={axis} minTickGap={40} />
            <YAxis tickFormatter={(v) => `${Number(v).toFixed(0)} %`} tick={axis} width={48} />
            <Tooltip contentStyle={tooltipStyle} labelFormatter={labelFmt} formatter={(v) => [formatPct(Number(v), 2), 'Drawdown']} />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            <Area name="Drawdown (%)" dataKey="drawdown" stroke="#f43f5e" fill="#f43f5e" fillOpacity={0.25} dot={false} isAnimationActive={false} />
          </AreaChart>
        </ResponsiveContainer>
      </div>
    </div>
  )
}
