// The objective over the first two searched parameters (result.heatmap): a table of coloured
// cells, each with its value in a title and an accessible label, a colour-scale legend, and
// the best cell marked.
import { formatNumber } from '../../lib/format'
import type { Heatmap as HeatmapData } from './report'

// A dark-theme friendly sequential scale (low: deep blue → high: yellow).
const STOPS: [number, number, number][] = [
  [30, 27, 75],
  [37, 99, 235],
  [20, 184, 166],
  [132, 204, 22],
  [250, 204, 21],
]

export function scaleColor(t: number): string {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (STOPS.length - 1)
  const i = Math.min(STOPS.length - 2, Math.floor(x))
  const f = x - i
  const c = STOPS[i].map((v, k) => Math.round(v + (STOPS[i + 1][k] - v) * f))
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`
}

function fmtValue(v: number): string {
  return Number.isInteger(v) ? String(v) : formatNumber(v, 4)
}

export function Heatmap({
  data,
  objective,
  best,
}: {
  data: HeatmapData
  objective: string
  /** The best trial's parameters, to mark its cell. */
  best?: Record<string, number> | null
}) {
  const values = data.z.flat().filter((v): v is number => v !== null && Number.isFinite(v))
  if (!values.length) return <p className="text-sm text-slate-400">No feasible trial to draw.</p>
  const min = Math.min(...values)
  const max = Math.max(...values)
  const span = max - min || 1
  const bestX = best ? best[data.x_param] : undefined
  const bestY = best ? best[data.y_param] : undefined
  return (
    <div>
      <div className="relative overflow-x-auto">
        <table className="border-separate border-spacing-0.5 text-xs" aria-label={`Heat map of ${objective} by ${data.x_param} and ${data.y_param}`}>
          <caption className="caption-top pb-1 text-left text-slate-400">
            Columns: <strong className="text-slate-200">{data.x_param}</strong> · rows: <strong className="text-slate-200">{data.y_param}</strong> · cell: best {objective}
          </caption>
          <thead>
            <tr>
              <th scope="col" className="px-1 text-right font-normal text-slate-500">
                {data.y_param} \ {data.x_param}
              </th>
              {data.x.map((x) => (
                <th key={x} scope="col" className="min-w-12 px-1 text-center font-medium text-slate-300 tabular-nums">
                  {fmtValue(x)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {data.y.map((y, j) => (
              <tr key={y}>
                <th scope="row" className="px-1 text-right font-medium text-slate-300 tabular-nums">
                  {fmtValue(y)}
                </th>
                {data.x.map((x, i) => {
                  const v = data.z[j]?.[i] ?? null
                  const isBest = bestX === x && bestY === y
                  const label = `${data.x_param} ${fmtValue(x)}, ${data.y_param} ${fmtValue(y)}: ${v === null ? 'no feasible trial' : `${objective} ${formatNumber(v, 4)}`}${isBest ? ' (best)' : ''}`
                  const t = v === null ? 0 : (v - min) / span
                  return (
                    <td
                      key={x}
                      title={label}
                      aria-label={label}
                      data-testid="heatmap-cell"
                      data-best={isBest ? 'true' : undefined}
                      className={`h-10 min-w-14 rounded-sm px-1 text-center tabular-nums ${isBest ? 'outline-2 outline-offset-[-2px] outline-white font-bold' : ''} ${v === null ? 'bg-slate-800 text-slate-500' : t > 0.6 ? 'text-slate-950' : 'text-white'}`}
                      style={v === null ? undefined : { backgroundColor: scaleColor(t) }}
                    >
                      {v === null ? '–' : v.toFixed(2)}
                      {isBest && <span aria-hidden="true"> ★</span>}
                    </td>
                  )
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="mt-3 flex max-w-md items-center gap-2 text-xs text-slate-400" aria-label="Colour scale">
        <span className="tabular-nums">{formatNumber(min, 2)}</span>
        <div
          className="h-3 flex-1 rounded"
          style={{ background: `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map(scaleColor).join(', ')})` }}
          aria-hidden="true"
        />
        <span className="tabular-nums">{formatNumber(max, 2)}</span>
        <span className="ml-2">★ best · – no feasible trial</span>
      </div>
    </div>
  )
}
