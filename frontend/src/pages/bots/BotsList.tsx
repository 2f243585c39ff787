// The workspace's bots: state, market, progress and headline numbers, with their controls
// and the workspace kill switch. Kept live by the workspace channel's bot events; re-read
// every 2 s while any bot is starting, running or paused only when the websocket is not
// connected.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useEffect, useRef, useState } from 'react'
import { Link } from 'react-router'
import { api, type Schemas } from '../../api/client'
import { BotControls, BotStateBadge, ConfirmDialog } from '../../components/bots/BotControls'
import { NoBots } from '../../components/bots/NoBots'
import { ErrorBox, PageTitle, Spinner, Button } from '../../components/ui'
import { botsKey, cacheBot, canStopAll, configOf, isActive, pendingText, summaryOf, type Bot } from '../../lib/bots'
import { formatMoney, formatTime, quoteOf } from '../../lib/format'
import { useWorkspaceEvents } from '../../lib/jobs'
import { useWorkspace, useWsBase } from '../../session'
import { useBotStrategyName } from './names'

/**
 * The workspace's bots (newest first), updated from the `bot` events of the workspace
 * channel (into this list and the cached bot of the bot page). Polls every 2 s while any bot
 * is active only when the websocket is not connected.
 */
export function useBots() {
  const ws = useWorkspace()
  const base = useWsBase()
  const qc = useQueryClient()
  const { connected } = useWorkspaceEvents(ws.id, (event, data) => {
    if (event === 'bot' && data && typeof data === 'object') cacheBot(qc, base, data as Bot)
  })
  // Events are not replayed: re-read when the socket (re)connects.
  const wasConnected = useRef(false)
  useEffect(() => {
    if (connected && !wasConnected.current) void qc.invalidateQueries({ queryKey: botsKey(base) })
    wasConnected.current = connected
  }, [connected, base, qc])
  return useQuery({
    queryKey: botsKey(base),
    queryFn: () => api.get<Bot[]>(`${base}/bots`),
    refetchInterval: (q) => (!connected && q.state.data?.some(isActive) ? 2000 : false),
  })
}

function StopAll({ running }: { running: number }) {
  const base = useWsBase()
  const qc = useQueryClient()
  const [open, setOpen] = useState(false)
  const [done, setDone] = useState<number | null>(null)
  const stop = useMutation({
    mutationFn: () => api.post<Schemas['Stopped']>(`${base}/bots/stop-all`),
    onSuccess: (r) => {
      setOpen(false)
      setDone(r.stopped)
      void qc.invalidateQueries({ queryKey: botsKey(base) })
    },
  })
  return (
    <>
      <Button variant="danger" onClick={() => setOpen(true)}>
        Stop all bots
      </Button>
      {done !== null && (
        <span role="status" className="self-center text-xs text-slate-400">
          {done} asked to stop
        </span>
      )}
      {open && (
        <ConfirmDialog
          title="Stop every bot of this workspace?"
          confirmLabel="Stop all bots"
          busy={stop.isPending}
          error={stop.error}
          onConfirm={() => stop.mutate()}
          onCancel={() => {
            stop.reset()
            setOpen(false)
          }}
        >
          {running === 1 ? 'One bot is' : `${running} bots are`} starting, running or paused. Each stops at its next heartbeat (within a
          second), keeping its position and history. They do not start again on their own.
        </ConfirmDialog>
      )}
    </>
  )
}

export function BotsList() {
  const ws = useWorkspace()
  const list = useBots()
  const strategyName = useBotStrategyName()
  const active = list.data?.filter(isActive).length ?? 0
  const actions = (
    <>
      {canStopAll(ws.role) && !!list.data?.length && <StopAll running={active} />}
      {ws.canWrite && (
        <Link to={`/w/${ws.id}/bots/new`} className="rounded-md bg-sky-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-500">
          New paper bot
        </Link>
      )}
    </>
  )
  return (
    <div>
      <PageTitle actions={actions}>Bots</PageTitle>
      <p className="mb-4 max-w-3xl text-sm text-slate-400">
        Paper bots run a strategy on a dataset&apos;s bars replayed at a chosen speed, or on a venue&apos;s live candles, with the
        backtest&apos;s engine: orders, fills and equity arrive live and no real orders are sent. Live bots (owners and traders) trade a
        venue through an exchange account with real orders.
      </p>
      {list.isPending ? (
        <Spinner label="Loading bots" />
      ) : list.error ? (
        <ErrorBox error={list.error} />
      ) : !list.data.length ? (
        <NoBots wsId={ws.id} canWrite={ws.canWrite} />
      ) : (
        <div className="relative overflow-x-auto rounded-lg border border-slate-800">
          <table className="w-full min-w-[900px] text-sm" aria-label="Bots">
            <thead className="border-b border-slate-800 bg-slate-900 text-left text-xs text-slate-400">
              <tr>
                <th scope="col" className="px-3 py-2 font-medium">Name</th>
                <th scope="col" className="px-3 py-2 font-medium">State</th>
                <th scope="col" className="px-3 py-2 font-medium">Mode</th>
                <th scope="col" className="px-3 py-2 font-medium">Market</th>
                <th scope="col" className="px-3 py-2 font-medium">Progress</th>
                <th scope="col" className="px-3 py-2 text-right font-medium">Equity</th>
                <th scope="col" className="px-3 py-2 text-right font-medium">PnL</th>
                <th scope="col" className="px-3 py-2 text-right font-medium">Fills</th>
                {ws.canWrite && (
                  <th scope="col" className="px-3 py-2 text-right font-medium">
                    <span className="sr-only">Controls</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {list.data.map((b) => (
                <BotRow key={b.id} bot={b} wsId={ws.id} strategy={strategyName(b)} controls={ws.canWrite} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}

function BotRow({ bot, wsId, strategy, controls }: { bot: Bot; wsId: string; strategy: string; controls: boolean }) {
  const s = summaryOf(bot)
  const run = configOf(bot).run ?? {}
  const symbol = s.symbol ?? run.symbol ?? ''
  const timeframe = s.timeframe ?? run.timeframe ?? ''
  const quote = quoteOf(symbol)
  const ran = s.bars !== undefined && s.started_at !== undefined
  const pnl = s.pnl ?? 0
  const pending = pendingText(bot)
  return (
    <tr className="border-b border-slate-800/60 hover:bg-slate-800/40" data-bot={bot.name}>
      <td className="px-3 py-2">
        <Link to={`/w/${wsId}/bots/${bot.id}`} className="font-medium text-sky-400 hover:underline">
          {bot.name}
        </Link>
        <div className="text-xs text-slate-500">
          {strategy} · created {formatTime(bot.created_at)}
        </div>
      </td>
      <td className="px-3 py-2">
        <BotStateBadge state={bot.state} />
        {pending && (
          <div className="text-xs text-slate-500" data-testid="bot-pending">
            → {pending}
          </div>
        )}
      </td>
      <td className="px-3 py-2 text-slate-300">
        {bot.mode} · {bot.venue}
      </td>
      <td className="px-3 py-2 whitespace-nowrap text-slate-300">
        {symbol} {timeframe}
      </td>
      <td className="px-3 py-2 whitespace-nowrap tabular-nums text-slate-300">
        {ran ? `${(s.bar ?? 0).toLocaleString('en-US')} / ${(s.bars ?? 0).toLocaleString('en-US')}` : '—'}
      </td>
      <td className="px-3 py-2 text-right whitespace-nowrap tabular-nums">{ran ? formatMoney(s.equity, quote) : '—'}</td>
      <td className={`px-3 py-2 text-right whitespace-nowrap tabular-nums ${!ran || pnl === 0 ? 'text-slate-300' : pnl > 0 ? 'text-emerald-400' : 'text-rose-400'}`}>
        {ran ? `${pnl > 0 ? '+' : ''}${formatMoney(pnl)}` : '—'}
      </td>
      <td className="px-3 py-2 text-right tabular-nums">{ran ? (s.fills ?? 0) : '—'}</td>
      {controls && (
        <td className="px-3 py-2">
          <BotControls bot={bot} compact />
        </td>
      )}
    </tr>
  )
}
