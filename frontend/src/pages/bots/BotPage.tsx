// One bot, live: its state and controls, the account numbers, candles with the fills, the
// equity curve, fills, orders and the event log. The history is read over HTTP (the
// dataset's candles before the paced part, the bot's event log); the websocket's bot events
// go on top as they happen, and a state event re-reads the bot. The risk limits can be
// edited here, running or not (`PATCH .../bots/{id}`; the runner logs a `settings` event).
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useEffect, useId, useMemo, useState, type FormEvent } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { api, qs, type Candles } from '../../api/client'
import { BotCandleChart, BotEquityChart } from '../../components/bots/BotCharts'
import { BotControls, BotStateBadge } from '../../components/bots/BotControls'
import { Badge, Button, Card, EmptyState, ErrorBox, Field, Input, PageTitle, ProgressBar, Spinner } from '../../components/ui'
import { botKey, botsKey, cacheBot, configOf, DEFAULT_PACED, isActive, liveSummary, pendingText, type Bot, type BotEvent, type BotSettingsBody, type BotView, type Fill, type LiveCandle, type Order } from '../../lib/bots'
import { formatMoney, formatNumber, formatPct, formatPrice, formatTime, priceDigits, quoteOf } from '../../lib/format'
import { useBotFeed } from '../../lib/useBotFeed'
import { useWorkspace, useWsBase } from '../../session'
import { useBotStrategyName } from './names'
import { describeLimits, formatLimit, limitOf, riskFieldsFor, riskProblem, type RiskKey } from './risk'

/** Candles of the dataset before the bot's paced part (at most this many). */
const HISTORY = 1000

export function BotPage() {
  const { id } = useParams()
  const ws = useWorkspace()
  const base = useWsBase()
  const qc = useQueryClient()
  const navigate = useNavigate()
  const bot = useQuery({
    queryKey: botKey(base, id),
    queryFn: () => api.get<Bot>(`${base}/bots/${id}`),
    enabled: !!id,
    // A slow fallback for the stored summary (the events carry the live numbers).
    refetchInterval: (q) => (q.state.data && isActive(q.state.data) ? 2000 : false),
  })
  const feed = useBotFeed(base, id)
  // A state event (pushed, or read with the log): the stored bot has changed too.
  const stateSeq = feed.view.stateSeq
  useEffect(() => {
    if (!stateSeq) return
    void qc.invalidateQueries({ queryKey: botKey(base, id) })
    void qc.invalidateQueries({ queryKey: botsKey(base) })
  }, [stateSeq])
  if (bot.isPending) return <Spinner label="Loading the bot" />
  if (bot.error) return <ErrorBox error={bot.error} />
  return <BotDetail bot={bot.data} view={feed.view} connected={feed.connected} feedError={feed.error} loaded={feed.loaded} onDeleted={() => navigate(`/w/${ws.id}/bots`)} />
}

function BotDetail({
  bot,
  view,
  connected,
  feedError,
  loaded,
  onDeleted,
}: {
  bot: Bot
  view: BotView
  connected: boolean
  feedError: unknown
  loaded: boolean
  onDeleted: () => void
}) {
  const ws = useWorkspace()
  const base = useWsBase()
  const strategyName = useBotStrategyName()
  const cfg = configOf(bot)
  const s = liveSummary(bot, view)
  const symbol = s.symbol ?? cfg.run?.symbol ?? ''
  const timeframe = s.timeframe ?? cfg.run?.timeframe ?? ''
  const quote = quoteOf(symbol)
  const initial = Number(s.initial_cash ?? cfg.run?.cash ?? '10000')
  const ran = s.started_at !== undefined || view.equity.length > 0
  const dataset = cfg.run?.dataset
  const paced = cfg.paced_bars ?? DEFAULT_PACED
  const history = useQuery({
    queryKey: ['bot-candles', base, dataset, paced],
    queryFn: () => api.get<Candles>(`${base}/datasets/${dataset}/candles${qs({ limit: Math.min(20000, paced + HISTORY) })}`),
    enabled: !!dataset,
    staleTime: 10 * 60_000,
  })
  // The dataset's candles before the paced part, then the bars the bot published.
  const candles = useMemo<LiveCandle[]>(() => {
    const h = history.data
    const live = view.candles
    const out: LiveCandle[] = []
    if (h) {
      const cut = live.length ? live[0].t : h.t.length > paced ? h.t[h.t.length - paced] : h.t[0]
      for (let i = 0; i < h.t.length && h.t[i] < cut; i++) out.push({ t: h.t[i], o: h.o[i], h: h.h[i], l: h.l[i], c: h.c[i], v: h.v[i] })
    }
    return out.length ? out.concat(live) : live
  }, [history.data, view.candles, paced])
  const last = candles[candles.length - 1]
  const digits = last ? priceDigits(last.c) : undefined
  const pnl = s.pnl ?? 0
  const pnlTone = !ran || pnl === 0 ? 'text-slate-100' : pnl > 0 ? 'text-emerald-400' : 'text-rose-400'
  const pending = pendingText(bot)
  const cards: { label: string; value: string; sub?: string; className?: string; testId?: string }[] = [
    { label: 'Equity', value: ran ? formatMoney(s.equity, quote) : '—', sub: `started with ${formatMoney(initial, quote)}` },
    {
      label: 'PnL',
      value: ran ? `${pnl > 0 ? '+' : ''}${formatMoney(pnl)}` : '0.00',
      sub: ran ? `${formatPct(s.pnl_pct, 2, true)}${quote ? ` · ${quote}` : ''}` : 'not started yet',
      className: pnlTone,
      testId: 'bot-pnl',
    },
    { label: 'Cash', value: s.cash !== undefined ? formatMoney(s.cash, quote) : '—' },
    { label: 'Position', value: s.position !== undefined ? short(s.position) : '—', sub: symbol ? symbol.split('/')[0] : undefined },
    { label: 'Fees', value: s.fees !== undefined ? formatMoney(s.fees, quote) : '—' },
    { label: 'Orders', value: String(s.orders ?? 0) },
    { label: 'Fills', value: String(s.fills ?? 0), testId: 'bot-fills' },
  ]
  const progress = s.bars ? (s.bar ?? 0) / s.bars : 0
  return (
    <div className="flex min-w-0 flex-col gap-4">
      <PageTitle
        actions={
          <Link to={`/w/${ws.id}/bots`} className="rounded-md px-3 py-1.5 text-sm text-slate-300 hover:bg-slate-800">
            All bots
          </Link>
        }
      >
        {bot.name}
      </PageTitle>
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="flex flex-wrap items-center gap-x-4 gap-y-1 text-sm text-slate-400">
          <span aria-live="polite" className="flex items-center gap-1">
            State: <BotStateBadge state={bot.state} testId="bot-state" />
            {pending && (
              <span className="text-xs text-slate-500" data-testid="bot-pending">
                → {pending}
              </span>
            )}
          </span>
          <span>
            {bot.mode} · {bot.venue}
          </span>
          <span>
            {strategyName(bot)} on {symbol} {timeframe}
          </span>
          <span>
            {formatNumber(cfg.speed ?? 5, 1)} bars/s · last {paced.toLocaleString('en-US')} bars paced
          </span>
          <Badge tone={connected ? 'green' : 'amber'}>{connected ? 'live' : 'connecting'}</Badge>
        </div>
        <BotControls bot={bot} onDeleted={onDeleted} />
      </div>
      {bot.error && (
        <div>
          <h2 className="mb-1 font-medium text-rose-300">{bot.state === 'killed' ? 'Stopped by its risk limit' : 'The bot stopped on an error'}</h2>
          <ErrorBox error={new Error(bot.error)} />
        </div>
      )}
      <ErrorBox error={feedError} />
      <dl className="grid grid-cols-2 gap-2 sm:grid-cols-4" aria-label="Bot summary">
        {cards.map((c) => (
          <div key={c.label} className="min-w-0 rounded-lg border border-slate-800 bg-slate-900/70 px-3 py-2">
            <dt className="text-xs uppercase tracking-wide text-slate-400">{c.label}</dt>
            <dd className={`num mt-0.5 truncate text-base font-semibold sm:text-lg tabular-nums ${c.className ?? 'text-slate-100'}`} data-testid={c.testId} title={c.value}>
              {c.value}
            </dd>
            {c.sub && <dd className="truncate text-xs text-slate-500">{c.sub}</dd>}
          </div>
        ))}
        <div className="min-w-0 rounded-lg border border-slate-800 bg-slate-900/70 px-3 py-2">
          <dt className="text-xs uppercase tracking-wide text-slate-400">Progress</dt>
          <dd className="num mt-0.5 text-lg font-semibold tabular-nums text-slate-100" data-testid="bot-progress">
            {s.bars ? `${(s.bar ?? 0).toLocaleString('en-US')} / ${s.bars.toLocaleString('en-US')}` : '—'}
          </dd>
          {s.bars ? (
            <dd>
              <ProgressBar value={progress} label="Replay progress" />
            </dd>
          ) : null}
        </div>
      </dl>
      <RiskCard bot={bot} />
      <Card title={`Price and fills${symbol ? ` · ${symbol} ${timeframe}` : ''}`}>
        {!dataset ? (
          <p className="text-sm text-slate-400">This bot does not use a stored dataset.</p>
        ) : history.error ? (
          <ErrorBox error={history.error} />
        ) : history.isPending ? (
          <Spinner label="Loading candles" />
        ) : (
          <BotCandleChart candles={candles} fills={view.fills} digits={digits} label={`Candle chart of ${symbol} ${timeframe} with the bot's fills`} />
        )}
      </Card>
      <Card title="Equity">
        <BotEquityChart points={view.equity} currency={quote} initial={initial} />
      </Card>
      <div className="grid min-w-0 gap-4 2xl:grid-cols-2">
        <Card title={`Fills (${view.fills.length})`} className="min-w-0">
          <FillsTable fills={view.fills} loaded={loaded} />
        </Card>
        <Card title={`Orders (${view.orders.length})`} className="min-w-0">
          <OrdersTable orders={view.orders} loaded={loaded} />
        </Card>
      </div>
      <Card title="Event log" className="min-w-0">
        <EventLog events={view.log} />
      </Card>
    </div>
  )
}

/** Who may edit a bot's limits: as for its controls (not viewers), live bots only owners and traders. */
export function canEditRisk(bot: Pick<Bot, 'mode'>, role: string): boolean {
  if (role === 'viewer') return false
  return bot.mode !== 'live' || role === 'owner' || role === 'trader'
}

/** The bot's risk limits, and (for those allowed) an editor that saves them while it runs. */
function RiskCard({ bot }: { bot: Bot }) {
  const ws = useWorkspace()
  const base = useWsBase()
  const qc = useQueryClient()
  const uid = useId()
  const risk = configOf(bot).risk
  const fields = riskFieldsFor(bot.venue, risk)
  const canEdit = canEditRisk(bot, ws.role)
  const [draft, setDraft] = useState<Partial<Record<RiskKey, string>> | null>(null)
  const [tried, setTried] = useState(false)
  const save = useMutation({
    mutationFn: (body: BotSettingsBody) => api.patch<Bot>(`${base}/bots/${bot.id}`, body),
    onSuccess: (b) => {
      cacheBot(qc, base, b)
      setDraft(null)
    },
  })
  const edit = () => {
    save.reset()
    setTried(false)
    setDraft(Object.fromEntries(fields.map(([k]) => [k, limitOf(risk, k) === undefined ? '' : String(limitOf(risk, k))])))
  }
  const cancel = () => {
    save.reset()
    setDraft(null)
  }
  const problems = draft ? (Object.fromEntries(fields.map(([k]) => [k, riskProblem(k, draft[k] ?? '')])) as Record<RiskKey, string>) : null
  const onSubmit = (e: FormEvent) => {
    e.preventDefault()
    if (!draft || !problems) return
    setTried(true)
    if (Object.values(problems).some(Boolean)) return
    const limits: Record<string, number> = {}
    for (const [k] of fields) if (draft[k]?.trim()) limits[k] = Number(draft[k])
    save.mutate({ risk: limits as unknown as BotSettingsBody['risk'] })
  }
  const set = fields.filter(([k]) => limitOf(risk, k) !== undefined).length
  return (
    <Card
      title={
        <>
          Risk limits <span className="font-normal normal-case tracking-normal text-slate-500">({set ? `${set} set` : 'none set'})</span>
        </>
      }
      actions={
        canEdit && !draft ? (
          <Button variant="secondary" onClick={edit} aria-label="Edit risk limits">
            Edit
          </Button>
        ) : undefined
      }
    >
      {draft && problems ? (
        <form onSubmit={onSubmit} aria-label="Risk limits" noValidate>
          <p className="mb-3 text-xs text-slate-500">
            Leave a field empty for no limit.{isActive(bot) ? ' The running bot applies the new limits within about a second.' : ''}
          </p>
          <div className="grid gap-3 sm:grid-cols-2 md:grid-cols-3">
            {fields.map(([k, label, hint, whole]) => {
              const problem = tried ? problems[k] : ''
              return (
                <Field key={k} label={label} hint={hint}>
                  <Input
                    inputMode={whole ? 'numeric' : 'decimal'}
                    value={draft[k] ?? ''}
                    onChange={(e) => setDraft((o) => ({ ...o, [k]: e.target.value }))}
                    placeholder="no limit"
                    aria-invalid={!!problem}
                    aria-describedby={problem ? `${uid}-${k}` : undefined}
                  />
                  {problem && (
                    <span id={`${uid}-${k}`} className="text-xs text-rose-300">
                      Must be {problem}.
                    </span>
                  )}
                </Field>
              )
            })}
          </div>
          <div className="mt-3">
            <ErrorBox error={save.error} />
          </div>
          <div className="mt-3 flex flex-wrap gap-2">
            <Button type="submit" disabled={save.isPending}>
              {save.isPending ? 'Saving…' : 'Save'}
            </Button>
            <Button variant="secondary" disabled={save.isPending} onClick={cancel}>
              Cancel
            </Button>
          </div>
        </form>
      ) : (
        <dl className="grid grid-cols-2 gap-x-4 gap-y-2 text-sm sm:grid-cols-3" aria-label="Risk limits">
          {fields.map(([k, label, hint]) => {
            const v = limitOf(risk, k)
            return (
              <div key={k} className="min-w-0" title={hint}>
                <dt className="text-xs text-slate-400">{label}</dt>
                <dd className={`tabular-nums ${v === undefined ? 'text-slate-500' : 'font-medium text-slate-100'}`} data-testid={`risk-${k}`}>
                  {v === undefined ? 'no limit' : formatLimit(v)}
                </dd>
              </div>
            )
          })}
        </dl>
      )}
    </Card>
  )
}

const PAGE = 100

/** A decimal string for reading: at most `digits` decimals (the exact value in a title). */
export function short(v: string, digits = 6): string {
  const n = Number(v)
  return v === '' || !Number.isFinite(n) ? v : n.toLocaleString('en-US', { maximumFractionDigits: digits })
}

function FillsTable({ fills, loaded }: { fills: Fill[]; loaded: boolean }) {
  const [all, setAll] = useState(false)
  const newest = useMemo(() => fills.slice().reverse(), [fills])
  if (!fills.length) return loaded ? <p className="text-sm text-slate-400">No fills yet.</p> : <Spinner label="Loading fills" />
  const shown = all ? newest : newest.slice(0, PAGE)
  return (
    <div>
      <div className="relative max-h-96 overflow-auto">
        <table className="w-full min-w-[480px] whitespace-nowrap text-sm" aria-label="Fills" data-testid="fills-table">
          <thead className="sticky top-0 border-b border-slate-800 bg-slate-900 text-left text-xs text-slate-400">
            <tr>
              <th scope="col" className="px-2 py-1.5 font-medium">Time (UTC)</th>
              <th scope="col" className="px-2 py-1.5 font-medium">Side</th>
              <th scope="col" className="px-2 py-1.5 text-right font-medium">Quantity</th>
              <th scope="col" className="px-2 py-1.5 text-right font-medium">Price</th>
              <th scope="col" className="px-2 py-1.5 text-right font-medium">Fee</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((f) => (
              <tr key={f.seq} className="border-b border-slate-800/60">
                <td className="px-2 py-1 text-slate-300">{formatTime(f.ts)}</td>
                <td className={`px-2 py-1 font-medium ${f.side === 'buy' ? 'text-emerald-400' : 'text-rose-400'}`}>{f.side}</td>
                <td className="px-2 py-1 text-right tabular-nums" title={f.quantity}>{short(f.quantity)}</td>
                <td className="px-2 py-1 text-right tabular-nums" title={f.price}>{formatPrice(Number(f.price))}</td>
                <td className="px-2 py-1 text-right tabular-nums text-slate-400" title={f.fee}>{short(f.fee, 4)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {newest.length > PAGE && (
        <button type="button" className="mt-2 text-xs text-sky-400 hover:underline" onClick={() => setAll((a) => !a)}>
          {all ? `Show the latest ${PAGE}` : `Show all ${newest.length}`}
        </button>
      )}
    </div>
  )
}

const STATUS_TONE: Record<string, 'slate' | 'green' | 'red' | 'amber' | 'sky'> = { open: 'sky', filled: 'green', cancelled: 'slate', rejected: 'red', expired: 'amber' }

function OrdersTable({ orders, loaded }: { orders: Order[]; loaded: boolean }) {
  const newest = useMemo(() => orders.slice().reverse().slice(0, PAGE), [orders])
  if (!orders.length) return loaded ? <p className="text-sm text-slate-400">No orders yet.</p> : <Spinner label="Loading orders" />
  return (
    <div className="relative max-h-96 overflow-auto">
      <table className="w-full min-w-[520px] whitespace-nowrap text-sm" aria-label="Orders" data-testid="orders-table">
        <thead className="sticky top-0 border-b border-slate-800 bg-slate-900 text-left text-xs text-slate-400">
          <tr>
            <th scope="col" className="px-2 py-1.5 font-medium">Time (UTC)</th>
            <th scope="col" className="px-2 py-1.5 font-medium">Order</th>
            <th scope="col" className="px-2 py-1.5 font-medium">Side</th>
            <th scope="col" className="px-2 py-1.5 font-medium">Type</th>
            <th scope="col" className="px-2 py-1.5 font-medium">Purpose</th>
            <th scope="col" className="px-2 py-1.5 font-medium">Status</th>
          </tr>
        </thead>
        <tbody>
          {newest.map((o) => (
            <tr key={o.seq} className="border-b border-slate-800/60">
              <td className="px-2 py-1 text-slate-300">{formatTime(o.ts)}</td>
              <td className="px-2 py-1 text-slate-400">{o.order}</td>
              <td className={`px-2 py-1 font-medium ${o.side === 'buy' ? 'text-emerald-400' : 'text-rose-400'}`}>{o.side}</td>
              <td className="px-2 py-1 text-slate-300">{o.trigger}</td>
              <td className="px-2 py-1 text-slate-400">{o.purpose}</td>
              <td className="px-2 py-1" title={o.reason}>
                <Badge tone={STATUS_TONE[o.status] ?? 'slate'}>{o.status}</Badge>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {orders.length > PAGE && <p className="mt-1 text-xs text-slate-500">The latest {PAGE} of {orders.length}.</p>}
    </div>
  )
}

/** One line about an event, for people. */
export function describeEvent(e: BotEvent): string {
  const d = (e.data ?? {}) as Record<string, unknown>
  const s = (v: unknown) => (v === undefined || v === null ? '' : String(v))
  switch (e.kind) {
    case 'fill':
      return `${s(d.side)} ${short(s(d.quantity))} at ${formatPrice(Number(d.price))} (fee ${short(s(d.fee), 4)})`
    case 'order':
      if (d.client_order_id !== undefined) {
        // A venue order of a bot on live data: its state as the venue reports it, and why it was placed.
        const what = [s(d.side), d.quantity !== undefined ? short(s(d.quantity)) : ''].filter(Boolean).join(' ')
        return `order ${s(d.client_order_id)}${what ? ` ${what}` : ''}: ${s(d.state)}${d.reason ? ` (${s(d.reason).replace(/_/g, ' ')})` : ''}${d.reconciled ? ', reconciled' : ''}`
      }
      return d.event === 'submitted'
        ? `order ${s(d.order)} submitted: ${s(d.side)}${d.purpose ? ` (${s(d.purpose)})` : ''}`
        : `order ${s(d.order)} ${s(d.status) || s(d.event)}${d.reason ? `: ${s(d.reason)}` : ''}`
    case 'state':
      return `state: ${s(d.state)}`
    case 'settings':
      return `Limits changed: ${describeLimits(d.risk)}${d.rev !== undefined && d.rev !== null ? ` (revision ${s(d.rev)})` : ''}`
    case 'summary': {
      const pnl = Number(d.pnl)
      const n = (v: unknown, one: string) => `${s(v)} ${one}${Number(v) === 1 ? '' : 's'}`
      return `${s(d.day)}: PnL ${pnl > 0 ? '+' : ''}${formatMoney(pnl)} (${formatPct(Number(d.pnl_pct), 2, true)}), equity ${formatMoney(Number(d.equity))}, ${n(d.orders, 'order')}, ${n(d.fills, 'fill')}`
    }
    case 'log':
      return s(d.message)
    case 'mismatch':
      return `${s(d.kind).replace(/_/g, ' ')}: ${s(d.message)}`
    case 'risk':
      return `${s(d.event)}${d.message ? `: ${s(d.message)}` : d.reason ? `: ${s(d.reason)}` : d.protection ? `: ${s(d.protection)}` : ''}`
    default:
      return JSON.stringify(d)
  }
}

function EventLog({ events }: { events: BotEvent[] }) {
  if (!events.length) return <EmptyState title="No events yet">Orders, fills, risk checks and state changes appear here as they happen.</EmptyState>
  const newest = events.slice().reverse()
  return (
    <ol className="max-h-80 overflow-auto text-sm" aria-label="Event log">
      {newest.map((e) => {
        const hi =
          e.kind === 'risk'
            ? 'bg-rose-950/50 text-rose-200'
            : e.kind === 'state'
              ? 'bg-sky-950/50 text-sky-200'
              : e.kind === 'settings'
                ? 'bg-amber-950/40 text-amber-100'
                : 'text-slate-300'
        return (
          <li key={e.seq} className={`flex flex-wrap gap-x-3 border-b border-slate-800/60 px-2 py-1 sm:flex-nowrap ${hi}`} data-kind={e.kind}>
            <span className="shrink-0 tabular-nums text-slate-500">#{e.seq}</span>
            <span className="shrink-0 text-slate-500">{formatTime(e.ts)}</span>
            <span className="w-12 shrink-0 font-medium">{e.kind}</span>
            <span className="min-w-0 basis-full break-words sm:basis-auto">{describeEvent(e)}</span>
          </li>
        )
      })}
    </ol>
  )
}
