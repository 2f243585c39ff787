// PnL of each bot as horizontal bars (Recharts, SVG): green for a gain, red for a loss. The
// numbers are also listed for screen readers (a chart alone tells them nothing).
import { Bar, BarChart, CartesianGrid, Rectangle, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis, type BarShapeProps, type YAxisTickContentProps } from 'recharts'
import { formatMoney } from '../../lib/format'
import type { BotPnl } from '../../lib/portfolio'

const axis = { fill: '#94a3b8', fontSize: 11 }
const tooltipStyle = { backgroundColor: '#0f172a', border: '1px solid #334155', borderRadius: 6, color: '#e2e8f0' }
const GAIN = '#34d399'
const LOSS = '#fb7185'
const NAME_CHARS = 18

function compact(n: number): string {
  return Math.abs(n) >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : Math.abs(n) >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0)
}

const shortName = (s: string) => (s.length > NAME_CHARS ? `${s.slice(0, NAME_CHARS - 1)}…` : s)
const signed = (n: number, currency = '') => `${n > 0 ? '+' : ''}${formatMoney(n, currency)}`

export function PnlChart({ data }: { data: BotPnl[] }) {
  const height = Math.max(120, data.length * 28 + 40)
  const longest = Math.max(0, ...data.map((d) => shortName(d.name).length))
  return (
    <figure data-testid="pnl-chart" className="w-full" style={{ height }}>
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data} layout="vertical" margin={{ top: 5, right: 16, bottom: 0, left: 0 }}>
          <CartesianGrid stroke="#1e293b" horizontal={false} />
          <XAxis type="number" tickFormatter={compact} tick={axis} />
          <YAxis
            type="category"
            dataKey="name"
            width={Math.min(130, 16 + longest * 6.5)}
            interval={0}
            // One line per name (the default tick wraps long names).
            tick={({ x, y, payload }: YAxisTickContentProps) => (
              <text x={x} y={y} dy={4} textAnchor="end" {...axis}>
                {shortName(String(payload.value))}
              </text>
            )}
          />
          <ReferenceLine x={0} stroke="#475569" />
          <Tooltip
            contentStyle={tooltipStyle}
            cursor={{ fill: '#1e293b' }}
            labelFormatter={(name) => {
              const d = data.find((x) => x.name === name)
              return d ? `${d.name} (${d.mode})` : String(name)
            }}
            formatter={(v, _n, item) => [signed(Number(v), (item.payload as BotPnl).currency), 'PnL']}
          />
          <Bar
            dataKey="pnl"
            isAnimationActive={false}
            maxBarSize={18}
            shape={(p: BarShapeProps) => <Rectangle {...p} fill={(p.payload as BotPnl).pnl >= 0 ? GAIN : LOSS} />}
          />
        </BarChart>
      </ResponsiveContainer>
      <figcaption className="sr-only">
        <ul>
          {data.map((d) => (
            <li key={d.id}>
              {d.name} ({d.mode}): {signed(d.pnl, d.currency)}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  )
}
