// Bots: what each state allows, and the bot's event log (`GET /bots/{id}/events` and the
// `bot:{id}` websocket channel) folded into what the bot page draws. Events are numbered
// 1, 2, ... per bot; the fold applies each one once, in order, whichever way it arrived.
import type { QueryClient } from '@tanstack/react-query'
import type { Role, Schemas } from '../api/client'

export type Bot = Schemas['Bot']
export type BotEvent = Schemas['BotEvent']
export type BotBody = Schemas['BotBody']
export type BotSettingsBody = Schemas['BotSettingsBody']

/** The bot's `summary` (JSON the worker writes; `{}` before the first run). */
export type BotSummary = {
  bar?: number
  bars?: number
  equity?: number
  pnl?: number
  initial_cash?: string
  cash?: string
  position?: string
  fees?: string
  last_price?: number
  orders?: number
  fills?: number
  symbol?: string
  timeframe?: string
  started_at?: number
}

/** The bot's `config` (its settings as created, the run resolved by the server). */
export type BotConfig = {
  run?: {
    dataset?: string
    strategy?: string
    strategy_id?: string
    strategy_version?: number
    spec?: { name?: string }
    params?: Record<string, number>
    cash?: string
    commission?: string
    symbol?: string
    timeframe?: string
  }
  speed?: number
  paced_bars?: number | null
  /** Risk limits (`max_order_notional`, ...): absent or null = no limit. */
  risk?: Record<string, number | null> | null
}

export const summaryOf = (b: Bot) => (b.summary ?? {}) as BotSummary
export const configOf = (b: Bot) => (b.config ?? {}) as BotConfig

/** The default number of paced bars (the server's). */
export const DEFAULT_PACED = 500

export type Tone = 'slate' | 'green' | 'red' | 'amber' | 'sky'

export function stateTone(state: string): Tone {
  switch (state) {
    case 'running':
      return 'green'
    case 'starting':
    case 'paused':
      return 'amber'
    case 'error':
    case 'killed':
      return 'red'
    case 'finished':
      return 'sky'
    default:
      return 'slate'
  }
}

/** States in which a worker holds the bot (or is about to). */
export function isActive(b: Pick<Bot, 'state' | 'desired'>): boolean {
  return b.state === 'starting' || b.state === 'running' || b.state === 'paused' || b.desired !== 'stopped'
}

/**
 * Asked to stop, not stopped yet: `desired` is `stopped`, or `cancel` (a bot on a venue
 * cancelling its working orders before it stops: the worker then sets `stopped`).
 */
export function isStopping(b: Pick<Bot, 'state' | 'desired'>): boolean {
  return b.desired === 'cancel' || (b.desired === 'stopped' && (b.state === 'starting' || b.state === 'running' || b.state === 'paused'))
}

/** True for a bot that trades on a venue (live, or paper on a venue's data): its orders live at the venue. */
export const tradesOnVenue = (b: Pick<Bot, 'venue'>) => b.venue !== 'replay'

/**
 * What the bot was asked to do while it is not done yet (`→ …` next to its state), or null
 * when nothing is pending.
 */
export function pendingText(b: Pick<Bot, 'state' | 'desired'>): string | null {
  const { state, desired } = b
  if (desired === 'cancel') return 'stopping, cancelling orders'
  if (desired === state || (desired === 'stopped' && ['finished', 'killed', 'error'].includes(state))) return null
  return desired === 'stopped' ? 'stopping' : desired
}

export type BotActions = {
  start: boolean
  startLabel: 'Start' | 'Resume'
  pause: boolean
  stop: boolean
  /** Close the position with a market order, then stop. */
  flatten: boolean
  remove: boolean
}

/**
 * The controls shown for a bot in its state, to a member with this role. `desired` is what
 * was last asked for: the worker follows within a second, so a bot asked to run but still
 * `stopped` shows Stop (and no second Start). A bot asked to stop (`stopped`, or `cancel`:
 * cancelling its orders at the venue first) offers nothing until it has stopped.
 */
export function botActions(b: Pick<Bot, 'state' | 'desired'>, role: Role): BotActions {
  const none: BotActions = { start: false, startLabel: 'Start', pause: false, stop: false, flatten: false, remove: false }
  if (role === 'viewer') return none
  const { state, desired } = b
  const resting = desired === 'stopped' && (state === 'stopped' || state === 'finished' || state === 'killed' || state === 'error')
  return {
    // A finished replay has no bars left; a killed bot (drawdown limit) stays stopped.
    start: (desired === 'stopped' && (state === 'stopped' || state === 'error')) || (desired === 'paused' && state === 'paused'),
    startLabel: state === 'paused' ? 'Resume' : 'Start',
    pause: desired === 'running' && (state === 'running' || state === 'starting' || state === 'stopped'),
    stop: desired !== 'stopped' && desired !== 'cancel',
    flatten: (state === 'running' || state === 'paused') && (desired === 'running' || desired === 'paused'),
    remove: resting,
  }
}

/**
 * `list` with `b` (a bot pushed on the workspace channel, or answered by a command) in place
 * of its older copy, or inserted where the server's order (newest first) puts it. Returns
 * `list` itself when it already holds this version or a newer one.
 */
export function withBot(list: Bot[], b: Bot): Bot[] {
  const i = list.findIndex((x) => x.id === b.id)
  if (i >= 0) {
    if (list[i].updated_at >= b.updated_at) return list
    const out = list.slice()
    out[i] = b
    return out
  }
  const at = list.findIndex((x) => x.created_at < b.created_at || (x.created_at === b.created_at && x.id < b.id))
  const out = list.slice()
  out.splice(at < 0 ? out.length : at, 0, b)
  return out
}

/** The newer of the cached bot and a pushed copy (by `updated_at`); nothing cached stays so. */
export function newerBot(old: Bot | undefined, b: Bot): Bot | undefined {
  if (!old) return old
  return old.updated_at >= b.updated_at ? old : b
}

/** The query keys of the bots list and of one bot (the bot page's), per workspace base. */
export const botsKey = (base: string) => ['bots', base]
export const botKey = (base: string, id: string | undefined) => ['bot', base, id]

/**
 * Puts a newer copy of a bot (a `bot` event of the workspace channel, or a command's answer)
 * into the cached list and the cached bot, where they are cached.
 */
export function cacheBot(qc: QueryClient, base: string, b: Bot) {
  qc.setQueryData<Bot[]>(botsKey(base), (list) => (list ? withBot(list, b) : list))
  qc.setQueryData<Bot>(botKey(base, b.id), (old) => newerBot(old, b))
}

/** The workspace kill switch is for owners and traders. */
export function canStopAll(role: Role): boolean {
  return role === 'owner' || role === 'trader'
}

// ---- the event fold ----

export type LiveCandle = { t: number; o: number; h: number; l: number; c: number; v: number }
export type EquityPoint = { t: number; equity: number }
export type Fill = { seq: number; bar?: number; ts: number; side: string; quantity: string; price: string; fee: string; order?: unknown }
export type Order = {
  order: string
  seq: number
  ts: number
  side?: string
  instrument?: string
  trigger?: string
  purpose?: string
  status: string
  reason?: string
}

export type BotView = {
  /** The last event applied: every event up to it has been applied, once. */
  lastSeq: number
  /** Events that came ahead of a missing one (waiting for it). */
  pending: Record<number, BotEvent>
  candles: LiveCandle[]
  equity: EquityPoint[]
  fills: Fill[]
  orders: Order[]
  /** The latest events other than bars and equity points (newest last, at most LOG_SIZE). */
  log: BotEvent[]
  bars: number
  /** Latest account numbers from `equity` events. */
  account: { equity: number; cash: string; position: string } | null
  state: string | null
  /** The sequence number of the last state event (0: none yet). */
  stateSeq: number
}

export const LOG_SIZE = 100

export const emptyView: BotView = {
  lastSeq: 0,
  pending: {},
  candles: [],
  equity: [],
  fills: [],
  orders: [],
  log: [],
  bars: 0,
  account: null,
  state: null,
  stateSeq: 0,
}

type D = Record<string, unknown>
const str = (v: unknown) => (v === undefined || v === null ? '' : String(v))

function triggerText(t: unknown): string {
  if (!t || typeof t !== 'object') return str(t)
  const o = t as D
  const type = str(o.type)
  const price = o.price ?? o.limit ?? o.stop
  return price !== undefined ? `${type} ${str(price)}` : type
}

/**
 * Applies events (history pages, live pushes, in any order and with repeats): each event is
 * applied once, in sequence order; events after a gap wait in `pending` until it is filled.
 */
export function mergeEvents(view: BotView, events: BotEvent[]): BotView {
  const pending = { ...view.pending }
  let added = false
  for (const e of events) {
    if (e.seq > view.lastSeq && !pending[e.seq]) {
      pending[e.seq] = e
      added = true
    }
  }
  if (!added) return view
  if (!pending[view.lastSeq + 1]) return { ...view, pending }
  const candles = view.candles.slice()
  const equity = view.equity.slice()
  const fills = view.fills.slice()
  const orders = view.orders.slice()
  let log = view.log.slice()
  let { lastSeq, bars, account, state, stateSeq } = view
  for (let e = pending[lastSeq + 1]; e; e = pending[lastSeq + 1]) {
    delete pending[e.seq]
    lastSeq = e.seq
    const d = (e.data ?? {}) as D
    switch (e.kind) {
      case 'bar': {
        const k = { t: Number(d.t ?? e.ts), o: Number(d.o), h: Number(d.h), l: Number(d.l), c: Number(d.c), v: Number(d.v ?? 0) }
        const last = candles[candles.length - 1]
        if (last && last.t === k.t) candles[candles.length - 1] = k
        else if (!last || last.t < k.t) candles.push(k)
        bars += 1
        break
      }
      case 'equity': {
        account = { equity: Number(d.equity), cash: str(d.cash), position: str(d.position) }
        const t = Number(d.t ?? e.ts)
        const last = equity[equity.length - 1]
        if (last && last.t === t) equity[equity.length - 1] = { t, equity: account.equity }
        else equity.push({ t, equity: account.equity })
        break
      }
      case 'fill':
        fills.push({
          seq: e.seq,
          bar: d.bar as number | undefined,
          ts: Number(d.ts ?? e.ts),
          side: str(d.side),
          quantity: str(d.quantity),
          price: str(d.price),
          fee: str(d.fee),
          order: d.order,
        })
        break
      case 'order': {
        const id = str(d.order)
        if (d.event === 'submitted') {
          orders.push({
            order: id,
            seq: e.seq,
            ts: Number(d.ts ?? e.ts),
            side: str(d.side),
            instrument: str(d.instrument),
            trigger: triggerText(d.trigger),
            purpose: str(d.purpose),
            status: 'open',
          })
        } else {
          const i = orders.findIndex((o) => o.order === id)
          const status = str(d.status) || str(d.event)
          if (i >= 0) orders[i] = { ...orders[i], status, reason: str(d.reason) || undefined }
        }
        break
      }
      case 'state':
        state = str(d.state)
        stateSeq = e.seq
        break
    }
    if (e.kind === 'fill') {
      // A fill closes its order when nothing else says so.
      const i = orders.findIndex((o) => o.order === str(d.order))
      if (i >= 0 && orders[i].status === 'open') orders[i] = { ...orders[i], status: str(d.status) || 'filled' }
    }
    if (e.kind !== 'bar' && e.kind !== 'equity') log.push(e)
  }
  if (log.length > LOG_SIZE) log = log.slice(log.length - LOG_SIZE)
  return { lastSeq, pending, candles, equity, fills, orders, log, bars, account, state, stateSeq }
}

/** True when events wait behind a missing one (read the log over HTTP from `lastSeq`). */
export function hasGap(view: BotView): boolean {
  for (const _ in view.pending) return true
  return false
}

/**
 * The summary to show: the stored one, with what the events since tell on top (the stored
 * summary is as of the last time the page read the bot).
 */
export function liveSummary(bot: Bot, view: BotView): BotSummary & { pnl_pct?: number } {
  const s = { ...summaryOf(bot) }
  const cfg = configOf(bot)
  const initial = Number(s.initial_cash ?? cfg.run?.cash ?? '10000')
  if (view.account) {
    s.equity = view.account.equity
    s.cash = view.account.cash
    s.position = view.account.position
    s.pnl = view.account.equity - initial
  }
  s.fills = Math.max(s.fills ?? 0, view.fills.length)
  s.orders = Math.max(s.orders ?? 0, view.orders.length)
  if (s.bars !== undefined && view.bars > 0) {
    // Every paced bar publishes a bar event; the paced part is the end of the series.
    const paced = Math.min(cfg.paced_bars ?? DEFAULT_PACED, s.bars)
    s.bar = Math.min(s.bars, Math.max(s.bar ?? 0, s.bars - paced + view.bars))
  }
  const lastCandle = view.candles[view.candles.length - 1]
  if (lastCandle) s.last_price = lastCandle.c
  const pnl = s.pnl
  return { ...s, pnl_pct: pnl !== undefined && initial > 0 ? (pnl / initial) * 100 : undefined }
}

/** Display name of the bot's strategy without the strategy list (template or spec name). */
export function strategyLabel(cfg: BotConfig): string {
  return cfg.run?.strategy ?? cfg.run?.spec?.name ?? 'Strategy'
}
