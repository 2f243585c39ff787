// The market browser: a venue's markets with their trading rules, and a live ticker for the
// chosen symbol over the websocket (the server polls the venue once per second for everyone
// watching it, through the shared rate limiter).
import { useQuery } from '@tanstack/react-query'
import { useMemo, useState } from 'react'
import { api, type Schemas } from '../../api/client'
import { Badge, Card, EmptyState, ErrorBox, Field, Input, PageTitle, Select, Spinner } from '../../components/ui'
import { useChannel } from '../../lib/channel'
import { formatTime } from '../../lib/format'

type Market = Schemas['MarketView']
type Ticker = Schemas['TickerView']
type VenueInfo = Schemas['VenueInfo']

function LiveTicker({ venue, symbol }: { venue: string; symbol: string }) {
  const [ticker, setTicker] = useState<Ticker | null>(null)
  const [venueError, setVenueError] = useState<string | null>(null)
  const [updates, setUpdates] = useState(0)
  const { connected, error } = useChannel(`ticker:${venue}:${symbol}`, (event, data) => {
    if (event === 'ticker') {
      setTicker(data as Ticker)
      setVenueError(null)
      setUpdates((n) => n + 1)
    } else if (event === 'ticker_error') {
      setVenueError(String((data as { message?: string }).message ?? 'the venue did not answer'))
    }
  })
  return (
    <Card
      title={`${symbol} on ${venue}`}
      actions={<Badge tone={connected ? 'green' : 'amber'}>{connected ? 'live' : 'connecting'}</Badge>}
    >
      <ErrorBox error={error ?? venueError} />
      {ticker ? (
        <dl className="grid grid-cols-2 gap-3 sm:grid-cols-4" aria-label="Live ticker">
          {(
            [
              ['Bid', ticker.bid],
              ['Ask', ticker.ask],
              ['Last', ticker.last],
              ['24 h volume', ticker.volume_24h],
            ] as const
          ).map(([k, v]) => (
            <div key={k}>
              <dt className="text-xs uppercase tracking-wide text-slate-400">{k}</dt>
              <dd className="num text-lg text-slate-100" data-testid={`ticker-${k.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`}>
                {v ?? '–'}
              </dd>
            </div>
          ))}
          <p className="col-span-full text-xs text-slate-500" data-testid="ticker-updates">
            {updates} updates{ticker.ts_ms > 0 ? ` · venue time ${formatTime(ticker.ts_ms)}` : ''}
          </p>
        </dl>
      ) : (
        !venueError && <Spinner label="Waiting for the first tick" />
      )}
    </Card>
  )
}

export function MarketsPage() {
  const venues = useQuery({ queryKey: ['venues'], queryFn: () => api.get<VenueInfo[]>('/api/venues') })
  const [venue, setVenue] = useState('binance')
  const [filter, setFilter] = useState('')
  const [symbol, setSymbol] = useState<string | null>(null)
  const markets = useQuery({
    queryKey: ['markets', venue],
    queryFn: () => api.get<Market[]>(`/api/venues/${venue}/markets`),
    staleTime: 60_000,
    retry: false,
  })
  const shown = useMemo(() => {
    const f = filter.trim().toUpperCase()
    return (markets.data ?? []).filter((m) => !f || m.symbol.includes(f)).slice(0, 200)
  }, [markets.data, filter])
  return (
    <div>
      <PageTitle>Markets</PageTitle>
      <p className="mb-4 max-w-3xl text-sm text-slate-400">
        Browse a venue&apos;s markets and their trading rules (price tick, quantity step, minimum order value: orders that break
        them are refused before they are sent). Pick a market to watch its ticker live.
      </p>
      <div className="mb-4 grid max-w-xl gap-3 sm:grid-cols-2">
        <Field label="Venue">
          <Select
            value={venue}
            onChange={(e) => {
              setVenue(e.target.value)
              setSymbol(null)
            }}
          >
            {(venues.data ?? [{ name: 'binance', custom_endpoint: false }]).map((v) => (
              <option key={v.name} value={v.name}>
                {v.name}
                {v.custom_endpoint ? ' (custom endpoint)' : ''}
              </option>
            ))}
          </Select>
        </Field>
        <Field label="Filter">
          <Input value={filter} placeholder="e.g. USDT" onChange={(e) => setFilter(e.target.value)} />
        </Field>
      </div>
      {symbol && (
        <div className="mb-4 max-w-3xl">
          <LiveTicker key={`${venue}:${symbol}`} venue={venue} symbol={symbol} />
        </div>
      )}
      {markets.isPending ? (
        <Spinner label="Loading markets" />
      ) : markets.error ? (
        <ErrorBox error={markets.error} />
      ) : shown.length === 0 ? (
        <EmptyState title="No markets match" />
      ) : (
        <div className="relative overflow-x-auto rounded-lg border border-slate-800">
          <table className="min-w-full text-sm" aria-label="Markets">
            <thead className="bg-slate-900 text-left text-xs uppercase tracking-wide text-slate-400">
              <tr>
                <th className="px-3 py-2">Symbol</th>
                <th className="px-3 py-2">Venue name</th>
                <th className="px-3 py-2">Status</th>
                <th className="px-3 py-2 text-right">Tick</th>
                <th className="px-3 py-2 text-right">Step</th>
                <th className="px-3 py-2 text-right">Min qty</th>
                <th className="px-3 py-2 text-right">Min value</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((m) => (
                <tr key={m.symbol} className={`border-t border-slate-800 ${m.symbol === symbol ? 'bg-slate-800/60' : ''}`}>
                  <td className="px-3 py-2">
                    <button type="button" className="font-medium text-sky-400 hover:underline" onClick={() => setSymbol(m.symbol)}>
                      {m.symbol}
                    </button>
                  </td>
                  <td className="px-3 py-2 font-mono text-slate-300">{m.venue_symbol}</td>
                  <td className="px-3 py-2">
                    <Badge tone={m.status === 'trading' ? 'green' : 'amber'}>{m.status}</Badge>
                  </td>
                  <td className="num px-3 py-2 text-right">{m.tick_size}</td>
                  <td className="num px-3 py-2 text-right">{m.step_size}</td>
                  <td className="num px-3 py-2 text-right">{m.min_qty}</td>
                  <td className="num px-3 py-2 text-right">
                    {m.min_notional} {m.quote}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}
