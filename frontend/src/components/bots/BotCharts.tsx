// The bot page's charts: candles that grow bar by bar with buy/sell markers at the fills
// (lightweight-charts 5, canvas; appended bars go through series.update, not a redraw), and
// the equity curve from the bot's equity events (Recharts).
import {
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  type IChartApi,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts'
import { useEffect, useMemo, useRef } from 'react'
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts'
import type { EquityPoint, Fill, LiveCandle } from '../../lib/bots'
import { formatMoney, formatTime } from '../../lib/format'

const sec = (ms: number) => Math.floor(ms / 1000) as UTCTimestamp

/** The candle a time falls in (the latest that opened at or before it), or -1. */
export function candleAt(candles: LiveCandle[], ms: number): number {
  let lo = 0
  let hi = candles.length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (candles[mid].t <= ms) {
      found = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  return found
}

/** A marker per fill on the candle it happened in: green arrow up for buys, red down for sells. */
export function fillMarkers(candles: LiveCandle[], fills: Fill[]): SeriesMarker<UTCTimestamp>[] {
  if (!candles.length) return []
  const out: SeriesMarker<UTCTimestamp>[] = []
  for (const f of fills) {
    const i = candleAt(candles, f.ts)
    if (i < 0) continue
    const buy = f.side === 'buy'
    out.push({
      time: sec(candles[i].t),
      position: buy ? 'belowBar' : 'aboveBar',
      shape: buy ? 'arrowUp' : 'arrowDown',
      color: buy ? '#22c55e' : '#f43f5e',
      text: buy ? 'Buy' : 'Sell',
    })
  }
  return out.sort((a, b) => a.time - b.time)
}

type Chart = { chart: IChartApi; series: ISeriesApi<'Candlestick'>; markers: ISeriesMarkersPluginApi<Time>; count: number; lastT: number }

const bar = (k: LiveCandle) => ({ time: sec(k.t), open: k.o, high: k.h, low: k.l, close: k.c })

export function BotCandleChart({ candles, fills, digits, label }: { candles: LiveCandle[]; fills: Fill[]; digits?: number; label: string }) {
  const box = useRef<HTMLDivElement>(null)
  const ref = useRef<Chart | null>(null)
  useEffect(() => {
    if (!box.current) return
    const chart = createChart(box.current, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: '#0f172a' }, textColor: '#cbd5e1' },
      grid: { vertLines: { color: '#1e293b' }, horzLines: { color: '#1e293b' } },
      timeScale: { timeVisible: true, borderColor: '#334155', rightOffset: 5 },
      rightPriceScale: { borderColor: '#334155' },
    })
    const series = chart.addSeries(CandlestickSeries, {
      upColor: '#22c55e',
      downColor: '#ef4444',
      wickUpColor: '#22c55e',
      wickDownColor: '#ef4444',
      borderVisible: false,
    })
    ref.current = { chart, series, markers: createSeriesMarkers(series, []), count: 0, lastT: 0 }
    return () => {
      ref.current = null
      chart.remove()
    }
  }, [])
  useEffect(() => {
    if (digits !== undefined) ref.current?.series.applyOptions({ priceFormat: { type: 'price', precision: digits, minMove: 10 ** -digits } })
  }, [digits])
  useEffect(() => {
    const c = ref.current
    if (!c) return
    const n = candles.length
    // New bars after the ones drawn (the last may have changed): update; anything else: redraw.
    if (c.count > 0 && n >= c.count && candles[c.count - 1].t === c.lastT) {
      for (let i = c.count - 1; i < n; i++) c.series.update(bar(candles[i]))
    } else {
      c.series.setData(candles.map(bar))
      if (n > 150) c.chart.timeScale().setVisibleLogicalRange({ from: n - 150, to: n + 5 })
      else c.chart.timeScale().fitContent()
    }
    c.count = n
    c.lastT = n ? candles[n - 1].t : 0
  }, [candles])
  const markers = useMemo(() => fillMarkers(candles, fills), [candles.length ? candles[0].t : 0, candles.length, fills])
  useEffect(() => {
    ref.current?.markers.setMarkers(markers)
  }, [markers])
  return (
    <div>
      <div ref={box} className="h-80 w-full" data-testid="bot-candle-chart" role="img" aria-label={label} />
      <p className="mt-1 text-xs text-slate-500">Green arrows: buys · red arrows: sells. New bars arrive live; drag to scroll, wheel to zoom.</p>
    </div>
  )
}

const axis = { stroke: '#64748b', fontSize: 11 }
const tooltipStyle = { backgroundColor: '#0f172a', border: '1px solid #334155', borderRadius: 6, color: '#e2e8f0' }

/** Every n-th point so the curve stays under `max` points (the last one always kept). */
export function thin<T>(points: T[], max = 1500): T[] {
  if (points.length <= max) return points
  const step = Math.ceil(points.length / max)
  const out = points.filter((_, i) => i % step === 0)
  if (out[out.length - 1] !== points[points.length - 1]) out.push(points[points.length - 1])
  return out
}

export function BotEquityChart({ points, currency, initial }: { points: EquityPoint[]; currency: string; initial?: number }) {
  const data = useMemo(() => thin(points), [points])
  if (!data.length) return <p className="text-sm text-slate-400">The equity curve starts with the first paced bar.</p>
  const up = initial === undefined || data[data.length - 1].equity >= initial
  return (
    <div className="h-64 w-full" data-testid="bot-equity-chart">
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={data} margin={{ top: 5, right: 10, bottom: 0, left: 0 }}>
          <CartesianGrid stroke="#1e293b" />
          <XAxis dataKey="t" type="number" scale="time" domain={['dataMin', 'dataMax']} tickFormatter={(v) => formatTime(Number(v)).slice(5)} tick={axis} minTickGap={50} />
          <YAxis domain={['auto', 'auto']} tickFormatter={(v) => Number(v).toLocaleString('en-US', { maximumFractionDigits: 0 })} tick={axis} width={56} />
          <Tooltip contentStyle={tooltipStyle} labelFormatter={(v) => `${formatTime(Number(v))} UTC`} formatter={(v) => [formatMoney(Number(v), currency), 'Equity']} />
          <Line dataKey="equity" stroke={up ? '#34d399' : '#fb7185'} dot={false} isAnimationActive={false} strokeWidth={1.5} />
        </LineChart>
      </ResponsiveContainer>
    </div>
  )
}
