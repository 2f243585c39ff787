// Candles and volume with lightweight-charts 5 (canvas; axes, crosshair and its labels are
// built in). A legend above the chart shows the hovered bar's O/H/L/C at price precision.
import { CandlestickSeries, ColorType, createChart, CrosshairMode, HistogramSeries, type UTCTimestamp } from 'lightweight-charts'
import { useEffect, useRef, useState } from 'react'
import type { Candles } from '../../api/client'
import { formatNumber, formatPrice, formatTime, priceDigits } from '../../lib/format'

export function CandleChart({ candles }: { candles: Candles }) {
  const el = useRef<HTMLDivElement>(null)
  const n = candles.t.length
  const [hover, setHover] = useState<number | null>(null)
  const digits = priceDigits(n ? candles.c[n - 1] : 1)

  useEffect(() => {
    if (!el.current) return
    const chart = createChart(el.current, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: '#020617' }, textColor: '#cbd5e1', fontSize: 11 },
      grid: { vertLines: { color: '#1e293b' }, horzLines: { color: '#1e293b' } },
      crosshair: { mode: CrosshairMode.Normal },
      rightPriceScale: { borderColor: '#334155' },
      timeScale: { borderColor: '#334155', timeVisible: true, secondsVisible: false },
      localization: { priceFormatter: (p: number) => formatPrice(p, digits) },
    })
    const price = chart.addSeries(CandlestickSeries, {
      upColor: '#22c55e',
      downColor: '#ef4444',
      borderVisible: false,
      wickUpColor: '#22c55e',
      wickDownColor: '#ef4444',
    })
    const volume = chart.addSeries(HistogramSeries, { priceFormat: { type: 'volume' }, priceScaleId: 'vol', lastValueVisible: false, priceLineVisible: false })
    chart.priceScale('vol').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } })
    price.priceScale().applyOptions({ scaleMargins: { top: 0.05, bottom: 0.25 } })
    const time = (i: number) => Math.floor(candles.t[i] / 1000) as UTCTimestamp
    price.setData(candles.t.map((_, i) => ({ time: time(i), open: candles.o[i], high: candles.h[i], low: candles.l[i], close: candles.c[i] })))
    volume.setData(candles.t.map((_, i) => ({ time: time(i), value: candles.v[i], color: candles.c[i] >= candles.o[i] ? '#22c55e55' : '#ef444455' })))
    chart.timeScale().fitContent()
    const index = new Map(candles.t.map((t, i) => [Math.floor(t / 1000), i]))
    chart.subscribeCrosshairMove((p) => {
      const i = p.time === undefined ? undefined : index.get(p.time as number)
      setHover(i === undefined ? null : i)
    })
    return () => chart.remove()
  }, [candles, digits])

  const i = hover ?? n - 1
  const up = n > 0 && candles.c[i] >= candles.o[i]
  return (
    <div>
      <div className="mb-2 flex flex-wrap gap-x-4 gap-y-1 font-mono text-xs text-slate-300" data-testid="candle-legend" aria-live="off">
        {n > 0 ? (
          <>
            <span className="text-slate-400">{formatTime(candles.t[i])} UTC</span>
            <span>O {formatPrice(candles.o[i], digits)}</span>
            <span>H {formatPrice(candles.h[i], digits)}</span>
            <span>L {formatPrice(candles.l[i], digits)}</span>
            <span className={up ? 'text-emerald-400' : 'text-rose-400'}>C {formatPrice(candles.c[i], digits)}</span>
            <span className="text-slate-400">V {formatNumber(candles.v[i], 2)}</span>
          </>
        ) : (
          <span>No bars</span>
        )}
      </div>
      <div ref={el} className="h-[26rem] w-full" data-testid="candle-chart" role="img" aria-label={`Candle chart of ${candles.symbol} ${candles.timeframe}, ${n} bars`} />
    </div>
  )
}
