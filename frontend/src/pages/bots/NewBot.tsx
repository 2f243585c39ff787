// The new bot form: a name, where the bot trades (a replayed dataset, a venue's live candles
// with a paper account, or a venue with real orders through an exchange account), the
// strategy and its parameters, the mode's settings, the account and optional risk limits.
// "Create and start" creates the bot and asks it to run; "Create" leaves it stopped.
import { useMutation, useQuery } from '@tanstack/react-query'
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react'
import { Link, useNavigate } from 'react-router'
import { api, type Schemas } from '../../api/client'
import { paramDefault, specParams } from '../../components/runs/report'
import { RunSourceFields, useRunSource } from '../../components/runs/RunSource'
import { Button, Card, ErrorBox, Field, Input, PageTitle, Select } from '../../components/ui'
import type { Bot, BotBody } from '../../lib/bots'
import { useWorkspace, useWsBase } from '../../session'
import { ParamInput } from '../runs/NewBacktest'
import { LIVE_DATA_RISK, NUM, RISK_FIELDS, riskProblem, type RiskKey } from './risk'

// Kept here too for anything that imported them from the form.
export { RISK_FIELDS, riskProblem } from './risk'

type Credential = Schemas['Credential']
type MarketView = Schemas['MarketView']

/** Where the bot trades. */
export type BotWhere = 'replay' | 'paper' | 'live'

export const VENUES = ['binance', 'kraken', 'coinbase', 'alpaca'] as const
export const TIMEFRAMES = ['1m', '5m', '15m', '1h', '4h', '1d'] as const

/** What is wrong with the live settings, by field ('' = fine). */
export function liveProblems(s: { symbol: string; quote: string; warmup: string }) {
  const symbol = s.symbol.trim()
  const w = s.warmup.trim()
  return {
    symbol: !symbol ? 'Enter a symbol.' : /^[^/\s]+\/[^/\s]+$/.test(symbol) ? '' : 'BASE/QUOTE, e.g. BTC/USDT.',
    quote: !s.quote.trim() ? 'Enter an amount.' : NUM.test(s.quote) && Number(s.quote) > 0 ? '' : 'A number above 0.',
    warmup: !w ? '' : /^\d+$/.test(w) && Number(w) >= 10 && Number(w) <= 5000 ? '' : 'A whole number from 10 to 5000.',
  }
}

function Problem({ id, children }: { id: string; children: ReactNode }) {
  if (!children) return null
  return (
    <span id={id} className="text-xs text-rose-300">
      {children}
    </span>
  )
}

export function NewBot() {
  const ws = useWorkspace()
  const base = useWsBase()
  const navigate = useNavigate()
  const uid = useId()
  const src = useRunSource()
  const params = specParams(src.spec)
  const canTrade = ws.role === 'owner' || ws.role === 'trader'
  const [where, setWhere] = useState<BotWhere>('replay')
  const [name, setName] = useState('')
  const [values, setValues] = useState<Record<string, string>>({})
  const [speed, setSpeed] = useState('20')
  const [paced, setPaced] = useState('300')
  const [cash, setCash] = useState('10000')
  const [commission, setCommission] = useState('0.001')
  const [venue, setVenue] = useState<string>('binance')
  const [symbol, setSymbol] = useState('BTC/USDT')
  const [timeframe, setTimeframe] = useState<string>('1h')
  const [quote, setQuote] = useState('250')
  const [warmup, setWarmup] = useState('300')
  const [credential, setCredential] = useState('')
  const [risk, setRisk] = useState<Partial<Record<RiskKey, string>>>({})
  const [tried, setTried] = useState(false)
  const [riskOpen, setRiskOpen] = useState(false)
  const startAfter = useRef(true)
  const specKey = src.spec ? src.specKey : ''
  useEffect(() => {
    if (specKey) setValues(Object.fromEntries(specParams(src.spec).map(([k, p]) => [k, String(paramDefault(p))])))
  }, [specKey])
  const onLive = where !== 'replay'
  const markets = useQuery({
    queryKey: ['venue-markets', venue],
    queryFn: () => api.get<MarketView[]>(`/api/venues/${venue}/markets`),
    enabled: onLive,
    retry: false,
    staleTime: 10 * 60_000,
  })
  const credentials = useQuery({
    queryKey: ['credentials', ws.id],
    queryFn: () => api.get<Credential[]>(`${base}/credentials`),
    enabled: where === 'live' && canTrade,
  })
  const venueCreds = (credentials.data ?? []).filter((c) => c.venue === venue)
  // Keep the chosen account one of the venue's (the first, when there is one).
  useEffect(() => {
    if (where !== 'live') return
    if (!venueCreds.some((c) => c.id === credential)) setCredential(venueCreds[0]?.id ?? '')
  }, [where, venue, credentials.data])

  const create = useMutation({
    mutationFn: async ({ body, start }: { body: BotBody; start: boolean }) => {
      const bot = await api.post<Bot>(`${base}/bots`, body)
      if (start) {
        try {
          await api.post<Bot>(`${base}/bots/${bot.id}/start`)
        } catch {
          /* created: its page offers Start again */
        }
      }
      return bot
    },
    onSuccess: (bot) => navigate(`/w/${ws.id}/bots/${bot.id}`),
  })

  const liveErr = liveProblems({ symbol, quote, warmup })
  // Daily loss, price band and total exposure need a venue's live prices: not offered for a replay.
  const riskFields = RISK_FIELDS.filter(([k]) => where !== 'replay' || !LIVE_DATA_RISK.includes(k))
  const riskErr = Object.fromEntries(riskFields.map(([k]) => [k, riskProblem(k, risk[k] ?? '')])) as Record<RiskKey, string>
  const credErr = where === 'live' && !credential ? 'Choose an exchange account of this venue.' : ''
  const invalid =
    Object.values(riskErr).some(Boolean) || (onLive && (Object.values(liveErr).some(Boolean) || !!credErr)) || (where === 'live' && !canTrade)
  const show = (problem: string) => (tried ? problem : '')

  const onSubmit = (e: FormEvent) => {
    e.preventDefault()
    setTried(true)
    if (Object.values(riskErr).some(Boolean)) setRiskOpen(true)
    if (invalid) return
    const p: Record<string, number> = {}
    for (const [k] of params) if (values[k] !== undefined && values[k] !== '') p[k] = Number(values[k])
    const limits: Record<string, number> = {}
    for (const [k] of riskFields) if (risk[k]?.trim()) limits[k] = Number(risk[k])
    const riskBody = Object.keys(limits).length ? { risk: limits as unknown as BotBody['risk'] } : {}
    let body: BotBody
    if (!onLive) {
      body = {
        name: name.trim(),
        run: { ...src.body, params: p, cash: cash.trim() || undefined, commission: commission.trim() || undefined },
        speed: Number(speed),
        paced_bars: Number(paced),
        ...riskBody,
      }
    } else {
      const { dataset: _dataset, ...strategy } = src.body
      const live: Record<string, unknown> = { quote_per_trade: quote.trim() }
      if (warmup.trim()) live.warmup_bars = Number(warmup)
      if (where === 'live') live.credential_id = credential
      body = {
        name: name.trim(),
        mode: where === 'live' ? 'live' : 'paper',
        venue,
        run: {
          ...strategy,
          params: p,
          symbol: symbol.trim(),
          timeframe,
          ...(where === 'paper' && cash.trim() ? { cash: cash.trim() } : {}),
        },
        live: live as unknown as BotBody['live'],
        ...riskBody,
      }
    }
    create.mutate({ start: startAfter.current, body })
  }

  if (!ws.canWrite)
    return (
      <div>
        <PageTitle>New bot</PageTitle>
        <ErrorBox error={new Error('Your role in this workspace (viewer) cannot create bots.')} />
      </div>
    )
  const ds = src.selectedDataset
  const pacedN = Number(paced)
  const seconds = Number(speed) > 0 && pacedN > 0 ? pacedN / Number(speed) : 0
  const ready = onLive ? !!src.strategy && !!src.spec : src.ready
  const quoteAsset = onLive ? symbol.split('/')[1]?.trim() || 'quote currency' : (ds?.symbol.split('/')[1] ?? 'quote currency')
  const symbols = (markets.data ?? []).filter((m) => m.status === 'trading').map((m) => m.symbol)
  const listId = `${uid}-symbols`
  const filledRisk = riskFields.filter(([k]) => risk[k]?.trim()).length
  return (
    <div className="max-w-3xl">
      <PageTitle>New bot</PageTitle>
      <p className="mb-4 text-sm text-slate-400">
        A paper bot trades a dataset&apos;s bars replayed at a chosen speed, or a venue&apos;s live candles, with simulated orders: nothing
        reaches an exchange. A live bot trades a venue through one of the workspace&apos;s exchange accounts with real orders.
      </p>
      <form onSubmit={onSubmit} className="flex flex-col gap-4" aria-label="New bot">
        <Card title="Bot">
          <div className="grid gap-3 sm:grid-cols-2">
            <Field label="Name" hint="unique in this workspace">
              <Input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} placeholder="e.g. SMA BTC paper" />
            </Field>
            {/* Not wrapped in its label: the options' text would join the label's ("dataset"). */}
            <div className="flex min-w-0 flex-col gap-1 text-sm">
              <label htmlFor={`${uid}-where`} className="text-slate-300">
                Where it trades
              </label>
              <Select id={`${uid}-where`} value={where} onChange={(e) => setWhere(e.target.value as BotWhere)}>
                <option value="replay">Replay a dataset (paper)</option>
                <option value="paper">Live market data (paper)</option>
                {canTrade && <option value="live">Live trading (real orders)</option>}
              </Select>
            </div>
          </div>
          {where === 'live' ? (
            <p role="note" className="mt-3 rounded-md border border-amber-700 bg-amber-950/50 px-3 py-2 text-sm text-amber-200">
              Live trading places real orders with the selected exchange account.
            </p>
          ) : !canTrade ? (
            <p className="mt-2 text-xs text-slate-500">Live trading (real orders) is for owners and traders; you are {ws.role === 'analyst' ? 'an' : 'a'} {ws.role} here.</p>
          ) : null}
        </Card>
        <Card title={onLive ? 'Strategy' : 'Strategy and data'}>
          <RunSourceFields src={src} dataset={!onLive} />
        </Card>
        <Card title="Parameters">
          {!src.spec ? (
            <p className="text-sm text-slate-400">Choose a strategy to see its parameters.</p>
          ) : params.length ? (
            <div className="grid gap-3 sm:grid-cols-2 md:grid-cols-3">
              {params.map(([k, p]) => (
                <ParamInput key={`${specKey}:${k}`} name={k} spec={p} value={values[k] ?? ''} onChange={(v) => setValues((o) => ({ ...o, [k]: v }))} />
              ))}
            </div>
          ) : (
            <p className="text-sm text-slate-400">This strategy has no parameters.</p>
          )}
        </Card>
        {onLive ? (
          <Card title="Market">
            <div className="grid gap-3 sm:grid-cols-2 md:grid-cols-3">
              <Field label="Venue">
                <Select value={venue} onChange={(e) => setVenue(e.target.value)}>
                  {VENUES.map((v) => (
                    <option key={v} value={v}>
                      {v}
                    </option>
                  ))}
                </Select>
              </Field>
              <Field
                label="Symbol"
                hint={
                  markets.isError
                    ? "the venue's markets could not be read: type the symbol"
                    : markets.isPending
                      ? "loading the venue's markets…"
                      : `${symbols.length.toLocaleString('en-US')} markets trading`
                }
              >
                <Input
                  value={symbol}
                  onChange={(e) => setSymbol(e.target.value)}
                  list={symbols.length ? listId : undefined}
                  placeholder="BTC/USDT"
                  autoComplete="off"
                  aria-invalid={!!show(liveErr.symbol)}
                  aria-describedby={show(liveErr.symbol) ? `${uid}-symbol` : undefined}
                />
                {symbols.length ? (
                  <datalist id={listId}>
                    {symbols.map((s) => (
                      <option key={s} value={s} />
                    ))}
                  </datalist>
                ) : null}
                <Problem id={`${uid}-symbol`}>{show(liveErr.symbol)}</Problem>
              </Field>
              <Field label="Timeframe">
                <Select value={timeframe} onChange={(e) => setTimeframe(e.target.value)}>
                  {TIMEFRAMES.map((t) => (
                    <option key={t} value={t}>
                      {t}
                    </option>
                  ))}
                </Select>
              </Field>
              <Field label="Quote per trade" hint={`${quoteAsset} spent by each entry`}>
                <Input
                  inputMode="decimal"
                  value={quote}
                  onChange={(e) => setQuote(e.target.value)}
                  aria-invalid={!!show(liveErr.quote)}
                  aria-describedby={show(liveErr.quote) ? `${uid}-quote` : undefined}
                />
                <Problem id={`${uid}-quote`}>{show(liveErr.quote)}</Problem>
              </Field>
              <Field label="Warm-up bars" hint="recent candles loaded at start (10 to 5000)">
                <Input
                  inputMode="numeric"
                  value={warmup}
                  onChange={(e) => setWarmup(e.target.value)}
                  aria-invalid={!!show(liveErr.warmup)}
                  aria-describedby={show(liveErr.warmup) ? `${uid}-warmup` : undefined}
                />
                <Problem id={`${uid}-warmup`}>{show(liveErr.warmup)}</Problem>
              </Field>
              {where === 'live' && (
                <Field label="Exchange account">
                  {credentials.isPending ? (
                    <span className="text-sm text-slate-400">Loading exchange accounts…</span>
                  ) : credentials.error ? (
                    <ErrorBox error={credentials.error} />
                  ) : venueCreds.length ? (
                    <Select
                      value={credential}
                      onChange={(e) => setCredential(e.target.value)}
                      aria-invalid={!!show(credErr)}
                    >
                      {venueCreds.map((c) => (
                        <option key={c.id} value={c.id}>
                          {c.label} ({c.api_key_masked})
                        </option>
                      ))}
                    </Select>
                  ) : (
                    <span className="text-sm text-slate-400">
                      No {venue} account yet.{' '}
                      <Link className="text-sky-400 underline" to={`/w/${ws.id}/credentials`}>
                        Exchange accounts
                      </Link>
                    </span>
                  )}
                  <Problem id={`${uid}-cred`}>{show(credErr)}</Problem>
                </Field>
              )}
            </div>
          </Card>
        ) : (
          <Card title="Replay">
            <div className="grid gap-3 sm:grid-cols-2">
              <Field label="Speed (bars per second)" hint="0.1 to 1000">
                <Input type="number" inputMode="decimal" min={0.1} max={1000} step="any" value={speed} onChange={(e) => setSpeed(e.target.value)} required />
              </Field>
              <Field
                label="Paced bars"
                hint={`the last bars, one at a time${ds ? ` (of ${ds.bars.toLocaleString('en-US')})` : ''}${seconds ? `: about ${seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`}` : ''}`}
              >
                <Input type="number" inputMode="numeric" min={1} step={1} value={paced} onChange={(e) => setPaced(e.target.value)} required />
              </Field>
            </div>
          </Card>
        )}
        {where === 'replay' ? (
          <Card title="Account">
            <div className="grid gap-3 sm:grid-cols-2">
              <Field label="Starting cash" hint={ds ? `in ${ds.symbol.split('/')[1] ?? 'quote currency'}` : undefined}>
                <Input inputMode="decimal" value={cash} onChange={(e) => setCash(e.target.value)} pattern="[0-9]*\.?[0-9]*" required />
              </Field>
              <Field label="Commission per fill" hint="fraction: 0.001 = 0.1 %">
                <Input inputMode="decimal" value={commission} onChange={(e) => setCommission(e.target.value)} pattern="[0-9]*\.?[0-9]*" />
              </Field>
            </div>
          </Card>
        ) : where === 'paper' ? (
          <Card title="Paper account">
            <div className="grid gap-3 sm:grid-cols-2">
              <Field label="Starting cash" hint={`in ${quoteAsset}; fills at the next bar's open with a 0.1 % taker fee`}>
                <Input inputMode="decimal" value={cash} onChange={(e) => setCash(e.target.value)} placeholder="10000" />
              </Field>
            </div>
          </Card>
        ) : null}
        <details className="rounded-lg border border-slate-800 bg-slate-900/70 p-4" open={riskOpen} onToggle={(e) => setRiskOpen(e.currentTarget.open)}>
          <summary className="cursor-pointer text-sm font-semibold uppercase tracking-wide text-slate-400">
            Risk limits <span className="font-normal normal-case tracking-normal text-slate-500">(optional{filledRisk ? `, ${filledRisk} set` : ''})</span>
          </summary>
          <p className="mb-3 mt-2 text-xs text-slate-500">Leave a field empty for no limit.</p>
          <div className="grid gap-3 sm:grid-cols-2 md:grid-cols-3">
            {riskFields.map(([k, label, hint, whole]) => (
              <Field key={k} label={label} hint={hint}>
                <Input
                  inputMode={whole ? 'numeric' : 'decimal'}
                  value={risk[k] ?? ''}
                  onChange={(e) => setRisk((o) => ({ ...o, [k]: e.target.value }))}
                  placeholder="no limit"
                  aria-invalid={!!show(riskErr[k])}
                  aria-describedby={show(riskErr[k]) ? `${uid}-${k}` : undefined}
                />
                <Problem id={`${uid}-${k}`}>{show(riskErr[k]) && `Must be ${riskErr[k]}.`}</Problem>
              </Field>
            ))}
          </div>
        </details>
        <ErrorBox error={create.error} />
        <div className="flex flex-wrap gap-2">
          <Button type="submit" disabled={!ready || create.isPending} onClick={() => (startAfter.current = true)}>
            {create.isPending && startAfter.current ? 'Creating…' : 'Create and start'}
          </Button>
          <Button type="submit" variant="secondary" disabled={!ready || create.isPending} onClick={() => (startAfter.current = false)}>
            Create
          </Button>
          <Link to={`/w/${ws.id}/bots`} className="rounded-md px-3 py-1.5 text-sm text-slate-300 hover:bg-slate-800">
            Cancel
          </Link>
        </div>
      </form>
    </div>
  )
}
