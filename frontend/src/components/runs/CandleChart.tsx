// Candles of the backtest's dataset (lightweight-charts 5, canvas) with trade entry and exit
// markers. The API gives times in ms and reports in ns; the chart wants UTC seconds.
import { useQuery } from '@tanstack/react-query'
import {
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  type SeriesMarker,
  type UTCTimestamp,
} from 'lightweight-charts'
import { useEffect, useRef } from 'react'
import { api, qs, type Candles } from '../../api/client'
import { ErrorBox, Spinner } from '../ui'
import { nsToMs, type ReportTrade } from './report'

/** Trade markers: an arrow at each entry (below for long, above for short), a circle at each exit. */
export function tradeMarkers(trades: ReportTrade[], firstMs: number, lastMs: number): SeriesMarker<UTCTimestamp>[] {
  const out: SeriesMarker<UTCTimestamp>[] = []
  for (const t of trades) {
    const long = t.side === 'buy'
    const en = nsToMs(t.entry_ts)
    const ex = nsToMs(t.exit_ts)
    if (en >= firstMs && en <= lastMs)
      out.push({
        time: Math.floor(en / 1000) as UTCTimestamp,
        position: long ? 'belowBar' : 'aboveBar',
        shape: long ? 'arrowUp' : 'arrowDown',
        color: long ? '#22c55e' : '#f43f5e',
        text: long ? 'Long' : 'Short',
      })
    if (ex >= firstMs && ex <= lastMs)
      out.push({
        time: Math.floor(ex / 1000) as UTCTimestamp,
        position: long ? 'aboveBar' : 'belowBar',
        shape: 'circle',
        color: '#facc15',
        text: 'Exit',
      })
  }
  return out.sort((a, b) => a.time - b.time)
}

export function CandleChart({ wsBase, dataset, trades, digits }: { wsBase: string; dataset: string; trades: ReportTrade[]; digits?: number }) {
  const box = useRef<HTMLDivElement>(null)
  const candles = useQuery({
    queryKey: ['candles', wsBase, dataset],
    queryFn: () => api.get<Candles>(`${wsBase}/datasets/${dataset}/candles${qs({ limit: 20000 })}`),
    staleTime: 5 * 60_000,
  })
  const data = candles.data
  useEffect(() => {
    if (!box.current || !data || !data.t.length) return
    const chart = createChart(box.current, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: '#0f172a' }, textColor: '#cbd5e1' },
      grid: { vertLines: { color: '#1e293b' }, horzLines: { color: '#1e293b' } },
      timeScale: { timeVisible: true, borderColor: '#334155' },
      rightPriceScale: { borderColor: '#334155' },
    })
    const series = chart.addSeries(CandlestickSeries, {
      upColor: '#22c55e',
      downColor: '#ef4444',
      wickUpColor: '#22c55e',
      wickDownColor: '#ef4444',
      borderVisible: false,
      ...(digits !== undefined ? { priceFormat: { type: 'price' as const, precision: digits, minMove: 10 ** -digits } } : {}),
    })
    series.setData(
      data.t.map((t, i) => ({ time: Math.floor(t / 1000) as UTCTimestamp, open: data.o[i], high: data.h[i], low: data.l[i], close: data.c[i] })),
    )
    createSeriesMarkers(series, tradeMarkers(trades, data.t[0], data.t[data.t.length - 1]))
    // Start zoomed on the last ~300 bars so the markers are readable; scroll/zoom for the rest.
    const n = data.t.length
    if (n > 300) chart.timeScale().setVisibleLogicalRange({ from: n - 300, to: n })
    else chart.timeScale().fitContent()
    return () => chart.remove()
  }, [data, trades, digits])
  if (candles.isPending) return <Spinner label="Loading candles" />
  if (candles.error) return <ErrorBox error={candles.error} />
  if (!data?.t.length) return <p className="text-sm text-slate-400">This dataset has no candles any more.</p>
  return (
    <div>
      <div ref={box} className="h-80 w-full" data-testid="candle-chart" role="img" aria-label={`Candle chart of ${data.symbol} ${data.timeframe} with trade markers`} />
      <p className="mt-1 text-xs text-slate-500">
        Green arrows: long entries · red arrows: short entries · yellow dots: exits. Drag to scroll, wheel to zoom.
        {data.t.length >= 20000 && ' Only the latest 20,000 candles are shown.'}
      </p>
    </div>
  )
}
