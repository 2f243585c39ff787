import { QueryClient } from '@tanstack/react-query'
import {
  botActions,
  botKey,
  botsKey,
  cacheBot,
  canStopAll,
  emptyView,
  hasGap,
  isActive,
  isStopping,
  liveSummary,
  LOG_SIZE,
  mergeEvents,
  newerBot,
  pendingText,
  stateTone,
  withBot,
  type Bot,
  type BotEvent,
} from './bots'

const bar = (seq: number, t: number, c = 100): BotEvent => ({ seq, ts: t, kind: 'bar', data: { t, o: c, h: c + 1, l: c - 1, c, v: 1 } as never })
const equity = (seq: number, t: number, eq: number): BotEvent => ({ seq, ts: t, kind: 'equity', data: { t, equity: eq, cash: String(eq), position: '0' } as never })
const fill = (seq: number, t: number, side = 'buy'): BotEvent => ({
  seq,
  ts: t,
  kind: 'fill',
  data: { bar: 1, ts: t, event: 'filled', order: 'o1', side, quantity: '0.5', price: '100', fee: '0.05', status: 'filled' } as never,
})
const submitted = (seq: number, t: number): BotEvent => ({
  seq,
  ts: t,
  kind: 'order',
  data: { bar: 1, ts: t, event: 'submitted', order: 'o1', instrument: 'BTC/USDT', side: 'buy', trigger: { type: 'market' }, purpose: 'entry' } as never,
})
const state = (seq: number, s: string): BotEvent => ({ seq, ts: 0, kind: 'state', data: { state: s } as never })

/** A log: state running, then bars with equity points, an order and a fill. */
function log(): BotEvent[] {
  const h = 3_600_000
  return [state(1, 'running'), bar(2, h), equity(3, h, 10000), bar(4, 2 * h), submitted(5, 2 * h), equity(6, 2 * h, 10000), bar(7, 3 * h), fill(8, 3 * h), equity(9, 3 * h, 10010)]
}

describe('mergeEvents', () => {
  it('folds the log in order: candles, equity, orders, fills, log', () => {
    const v = mergeEvents(emptyView, log())
    expect(v.lastSeq).toBe(9)
    expect(v.candles.map((k) => k.t)).toEqual([3_600_000, 7_200_000, 10_800_000])
    expect(v.bars).toBe(3)
    expect(v.equity.map((p) => p.equity)).toEqual([10000, 10000, 10010])
    expect(v.fills).toHaveLength(1)
    expect(v.fills[0]).toMatchObject({ side: 'buy', quantity: '0.5', price: '100', fee: '0.05' })
    expect(v.orders).toEqual([expect.objectContaining({ order: 'o1', side: 'buy', trigger: 'market', purpose: 'entry', status: 'filled' })])
    expect(v.log.map((e) => e.kind)).toEqual(['state', 'order', 'fill'])
    expect(v.state).toBe('running')
    expect(v.account).toEqual({ equity: 10010, cash: '10010', position: '0' })
  })

  it('merges HTTP history with live events without duplicates, whatever arrives first', () => {
    const all = log()
    // Live pushes arrive before the history read (seq 8 and 9), then the history (1..8).
    let v = mergeEvents(emptyView, [all[7]])
    v = mergeEvents(v, [all[8]])
    expect(v.lastSeq).toBe(0)
    expect(hasGap(v)).toBe(true)
    v = mergeEvents(v, all.slice(0, 8))
    expect(hasGap(v)).toBe(false)
    expect(v.lastSeq).toBe(9)
    // The same events again (a catch-up read after a reconnect, a repeated push).
    const again = mergeEvents(v, all)
    expect(again).toBe(v)
    expect(v.fills).toHaveLength(1)
    expect(v.candles).toHaveLength(3)
    expect(v.equity).toHaveLength(3)
    expect(v).toEqual(mergeEvents(emptyView, all))
  })

  it('keeps events after a gap waiting until the gap is filled', () => {
    const all = log()
    let v = mergeEvents(emptyView, all.slice(0, 3))
    v = mergeEvents(v, [all[5], all[6]]) // 6 and 7: 4 and 5 are missing
    expect(v.lastSeq).toBe(3)
    expect(v.candles).toHaveLength(1)
    expect(hasGap(v)).toBe(true)
    v = mergeEvents(v, all.slice(3)) // the log from seq 4 (with 6 and 7 again)
    expect(v.lastSeq).toBe(9)
    expect(hasGap(v)).toBe(false)
    expect(v.candles).toHaveLength(3)
  })

  it('keeps only the latest events in the log', () => {
    const many = Array.from({ length: LOG_SIZE + 20 }, (_, i) => fill(i + 1, i * 1000, i % 2 ? 'sell' : 'buy'))
    const v = mergeEvents(emptyView, many)
    expect(v.log).toHaveLength(LOG_SIZE)
    expect(v.log[v.log.length - 1].seq).toBe(LOG_SIZE + 20)
    expect(v.fills).toHaveLength(LOG_SIZE + 20)
  })
})

const bot = (over: Partial<Bot> = {}): Bot => ({
  id: 'b1',
  workspace_id: 'w',
  name: 'bot',
  mode: 'paper',
  venue: 'replay',
  config: { run: { cash: '10000' }, paced_bars: 300 } as never,
  state: 'running',
  desired: 'running',
  fence: 1,
  settings_rev: 0,
  summary: { bar: 17220, bars: 17520, equity: 10000, pnl: 0, initial_cash: '10000', fills: 4, orders: 5 } as never,
  created_at: 0,
  updated_at: 0,
  ...over,
})

describe('liveSummary', () => {
  it('puts the latest equity, fills and progress from the events on the stored summary', () => {
    const s = liveSummary(bot(), mergeEvents(emptyView, log()))
    expect(s.equity).toBe(10010)
    expect(s.pnl).toBe(10)
    expect(s.pnl_pct).toBeCloseTo(0.1)
    expect(s.fills).toBe(4) // the stored count is larger (history fills)
    expect(s.bar).toBe(17520 - 300 + 3)
  })
})

describe('botActions', () => {
  const a = (state: string, desired: string, role: 'owner' | 'trader' | 'analyst' | 'viewer' = 'analyst') => botActions({ state, desired }, role)
  it('offers Start on a stopped bot, Delete too', () => {
    expect(a('stopped', 'stopped')).toEqual({ start: true, startLabel: 'Start', pause: false, stop: false, flatten: false, remove: true })
  })
  it('offers Pause and Stop while running (and while starting)', () => {
    expect(a('running', 'running')).toEqual({ start: false, startLabel: 'Start', pause: true, stop: true, flatten: true, remove: false })
    expect(a('starting', 'running')).toMatchObject({ start: false, pause: true, stop: true, remove: false })
    // Asked to run, the worker has not picked it up yet: no second Start, no Delete.
    expect(a('stopped', 'running')).toMatchObject({ start: false, stop: true, remove: false })
  })
  it('offers Resume and Stop when paused', () => {
    expect(a('paused', 'paused')).toEqual({ start: true, startLabel: 'Resume', pause: false, stop: true, flatten: true, remove: false })
  })
  it('offers only Delete once finished or killed, Start again after an error', () => {
    expect(a('finished', 'stopped')).toEqual({ start: false, startLabel: 'Start', pause: false, stop: false, flatten: false, remove: true })
    expect(a('killed', 'stopped')).toMatchObject({ start: false, remove: true })
    expect(a('error', 'stopped')).toMatchObject({ start: true, remove: true })
  })
  it('while stopping: nothing but the wait', () => {
    expect(a('running', 'stopped')).toEqual({ start: false, startLabel: 'Start', pause: false, stop: false, flatten: false, remove: false })
  })
  it('while cancelling its orders to stop (desired cancel): stopping, nothing but the wait', () => {
    const none = { start: false, startLabel: 'Start', pause: false, stop: false, flatten: false, remove: false }
    expect(a('running', 'cancel', 'owner')).toEqual(none)
    expect(a('paused', 'cancel', 'owner')).toEqual({ ...none, startLabel: 'Resume' })
    // Not picked up by a worker yet: still no Start (nor Delete) until it has stopped.
    expect(a('stopped', 'cancel', 'owner')).toEqual(none)
    expect(isActive({ state: 'running', desired: 'cancel' })).toBe(true)
    expect(isActive({ state: 'stopped', desired: 'cancel' })).toBe(true)
    expect(isStopping({ state: 'running', desired: 'cancel' })).toBe(true)
    expect(isStopping({ state: 'running', desired: 'stopped' })).toBe(true)
    expect(isStopping({ state: 'running', desired: 'flatten' })).toBe(false)
    expect(isStopping({ state: 'stopped', desired: 'stopped' })).toBe(false)
  })
  it('gives viewers no controls at all', () => {
    for (const [s, d] of [['stopped', 'stopped'], ['running', 'running'], ['paused', 'paused'], ['finished', 'stopped']])
      expect(a(s, d, 'viewer')).toEqual({ start: false, startLabel: 'Start', pause: false, stop: false, flatten: false, remove: false })
  })
  it('keeps the kill switch to owners and traders', () => {
    expect(canStopAll('owner')).toBe(true)
    expect(canStopAll('trader')).toBe(true)
    expect(canStopAll('analyst')).toBe(false)
    expect(canStopAll('viewer')).toBe(false)
  })
  it('colours states', () => {
    expect(stateTone('running')).toBe('green')
    expect(stateTone('paused')).toBe('amber')
    expect(stateTone('error')).toBe('red')
    expect(stateTone('killed')).toBe('red')
    expect(stateTone('finished')).toBe('sky')
    expect(stateTone('stopped')).toBe('slate')
  })
})

describe('pendingText', () => {
  it('says what the bot was asked to do until it has', () => {
    expect(pendingText({ state: 'running', desired: 'running' })).toBeNull()
    expect(pendingText({ state: 'finished', desired: 'stopped' })).toBeNull()
    expect(pendingText({ state: 'killed', desired: 'stopped' })).toBeNull()
    expect(pendingText({ state: 'running', desired: 'stopped' })).toBe('stopping')
    expect(pendingText({ state: 'running', desired: 'cancel' })).toBe('stopping, cancelling orders')
    expect(pendingText({ state: 'stopped', desired: 'cancel' })).toBe('stopping, cancelling orders')
    expect(pendingText({ state: 'running', desired: 'paused' })).toBe('paused')
    expect(pendingText({ state: 'running', desired: 'flatten' })).toBe('flatten')
  })
})

describe('bot updates into the caches', () => {
  const b1 = bot({ id: 'b1', created_at: 30, updated_at: 100 })
  const b2 = bot({ id: 'b2', created_at: 20, updated_at: 100 })
  const b3 = bot({ id: 'b3', created_at: 10, updated_at: 100 })

  it('replaces the older copy of a bot in the list', () => {
    const list = [b1, b2, b3]
    const pushed = { ...b2, state: 'paused', summary: { ...(b2.summary as object), fills: 9 } as never, updated_at: 150 }
    const out = withBot(list, pushed)
    expect(out.map((b) => b.id)).toEqual(['b1', 'b2', 'b3'])
    expect(out[1]).toBe(pushed)
    expect(out[0]).toBe(b1)
    expect(list[1]).toBe(b2) // not changed in place
  })

  it('keeps the list when it already has this version or a newer one', () => {
    const list = [b1, { ...b2, updated_at: 200 }, b3]
    expect(withBot(list, { ...b2, state: 'stopped', updated_at: 150 })).toBe(list)
    expect(withBot(list, { ...b2, state: 'stopped', updated_at: 200 })).toBe(list)
  })

  it('inserts a bot it did not have where the server puts it (newest first)', () => {
    const b = bot({ id: 'new', created_at: 25, updated_at: 100 })
    expect(withBot([b1, b2, b3], b).map((x) => x.id)).toEqual(['b1', 'new', 'b2', 'b3'])
    expect(withBot([b1, b2, b3], bot({ id: 'n0', created_at: 5 })).map((x) => x.id)).toEqual(['b1', 'b2', 'b3', 'n0'])
    expect(withBot([], b)).toEqual([b])
  })

  it('keeps the newer single bot, and leaves an uncached one uncached', () => {
    expect(newerBot(undefined, b1)).toBeUndefined()
    const newer = { ...b1, updated_at: 200 }
    expect(newerBot(b1, newer)).toBe(newer)
    expect(newerBot(newer, b1)).toBe(newer)
  })

  it('updates the list query and the bot page query of the workspace', () => {
    const qc = new QueryClient()
    const base = '/api/workspaces/w'
    qc.setQueryData(botsKey(base), [b1, b2])
    qc.setQueryData(botKey(base, 'b2'), b2)
    qc.setQueryData(botsKey('/api/workspaces/other'), [b2])
    const pushed = { ...b2, state: 'stopped', desired: 'stopped', updated_at: 300 }
    cacheBot(qc, base, pushed)
    // (The cache shares what did not change with the old data: compare by value.)
    expect(qc.getQueryData<Bot[]>(botsKey(base))).toEqual([b1, pushed])
    expect(qc.getQueryData(botKey(base, 'b2'))).toEqual(pushed)
    expect(qc.getQueryData<Bot[]>(botsKey('/api/workspaces/other'))).toEqual([b2])
    // A bot whose page is not open is not cached on its own.
    cacheBot(qc, base, { ...b1, updated_at: 300 })
    expect(qc.getQueryData(botKey(base, 'b1'))).toBeUndefined()
    expect(qc.getQueryData<Bot[]>(botsKey(base))?.[0].updated_at).toBe(300)
  })
})
