// The workspace's bots at a glance: totals (paper and live apart), open positions and PnL per
// bot, from each bot's stored summary. Kept live by the workspace channel's bot events (the
// Bots list's query, shared): re-read every 2 s while any bot is starting, running or paused
// only while the websocket is not connected.
import { Link } from 'react-router'
import { Badge, Card, ErrorBox, PageTitle, Spinner } from '../../components/ui'
import { PnlChart } from '../../components/portfolio/PnlChart'
import { NoBots } from '../../components/bots/NoBots'
import type { Bot } from '../../lib/bots'
import { formatMoney, formatNumber, formatPrice } from '../../lib/format'
import { openPositions, pnlPerBot, portfolioTotals, type Mode, type Position, type Totals } from '../../lib/portfolio'
import { useWorkspace } from '../../session'
import { useBots } from '../bots/BotsList'

const pnlTone = (n: number | undefined) => (!n ? 'text-slate-200' : n > 0 ? 'text-emerald-400' : 'text-rose-400')
const signedMoney = (n: number, currency = '') => `${n > 0 ? '+' : ''}${formatMoney(n, currency)}`

export function ModeBadge({ mode }: { mode: Mode }) {
  return <Badge tone={mode === 'live' ? 'amber' : 'sky'}>{mode}</Badge>
}

function Stat({ id, label, children, className = 'text-slate-100' }: { id: string; label: string; children: React.ReactNode; className?: string }) {
  return (
    <div className="min-w-0 rounded-md bg-slate-950/60 px-3 py-2">
      <dt className="truncate text-xs text-slate-400">{label}</dt>
      <dd data-testid={id} className={`mt-0.5 truncate text-lg font-semibold tabular-nums ${className}`}>
        {children}
      </dd>
    </div>
  )
}

const MODE_TEXT: Record<Mode, { title: string; note: string }> = {
  paper: { title: 'Paper bots', note: 'Simulated: replayed data, no real orders.' },
  live: { title: 'Live bots', note: 'Real orders on an exchange account.' },
}

function TotalsRow({ mode, t }: { mode: Mode; t: Totals }) {
  const { title, note } = MODE_TEXT[mode]
  const headingId = `totals-${mode}-title`
  return (
    <section aria-labelledby={headingId} data-testid={`totals-${mode}`} className="rounded-lg border border-slate-800 bg-slate-900/70 p-4">
      <div className="mb-3 flex flex-wrap items-baseline gap-x-3 gap-y-1">
        <h2 id={headingId} className="text-sm font-semibold uppercase tracking-wide text-slate-300">
          {title}
        </h2>
        <ModeBadge mode={mode} />
        <span className="text-xs text-slate-500">
          {note}
          {t.bots > 0 && ` ${t.bots === 1 ? '1 bot' : `${t.bots} bots`}${t.currency ? `, amounts in ${t.currency}` : ''}.`}
        </span>
      </div>
      {t.bots === 0 ? (
        <p className="text-sm text-slate-500">No {mode} bots in this workspace.</p>
      ) : (
        <dl className="grid grid-cols-2 gap-2 sm:grid-cols-4 2xl:grid-cols-8">
          <Stat id={`${mode}-pnl`} label="Total PnL" className={pnlTone(t.pnl)}>
            {signedMoney(t.pnl)}
          </Stat>
          <Stat id={`${mode}-running`} label="Running">
            {t.running}
          </Stat>
          <Stat id={`${mode}-paused`} label="Paused">
            {t.paused}
          </Stat>
          <Stat id={`${mode}-stopped`} label="Stopped / finished">
            {t.stopped}
          </Stat>
          <Stat id={`${mode}-failed`} label="Killed / error" className={t.failed ? 'text-rose-400' : 'text-slate-100'}>
            {t.failed}
          </Stat>
          <Stat id={`${mode}-fills`} label="Fills">
            {t.fills.toLocaleString('en-US')}
          </Stat>
          <Stat id={`${mode}-fees`} label="Fees">
            {formatMoney(t.fees)}
          </Stat>
          <Stat id={`${mode}-positions`} label="Open positions">
            {t.openPositions}
          </Stat>
        </dl>
      )}
    </section>
  )
}

function PositionsTable({ rows, wsId }: { rows: Position[]; wsId: string }) {
  if (!rows.length) return <p className="text-sm text-slate-500">No bot holds a position.</p>
  return (
    <div className="overflow-x-auto rounded-lg border border-slate-800">
      <table className="w-full min-w-[720px] text-sm" aria-label="Open positions" data-testid="positions-table">
        <thead className="border-b border-slate-800 bg-slate-900 text-left text-xs text-slate-400">
          <tr>
            <th scope="col" className="px-3 py-2 font-medium">Bot</th>
            <th scope="col" className="px-3 py-2 font-medium">Mode</th>
            <th scope="col" className="px-3 py-2 font-medium">Symbol</th>
            <th scope="col" className="px-3 py-2 text-right font-medium">Position</th>
            <th scope="col" className="px-3 py-2 text-right font-medium">Last price</th>
            <th scope="col" className="px-3 py-2 text-right font-medium">Value</th>
            <th scope="col" className="px-3 py-2 text-right font-medium">PnL</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((p) => (
            <tr key={p.bot.id} className="border-b border-slate-800/60 hover:bg-slate-800/40" data-bot={p.bot.name}>
              <td className="px-3 py-2">
                <Link to={`/w/${wsId}/bots/${p.bot.id}`} className="font-medium text-sky-400 hover:underline">
                  {p.bot.name}
                </Link>
              </td>
              <td className="px-3 py-2">
                <ModeBadge mode={p.mode} />
              </td>
              <td className="px-3 py-2 whitespace-nowrap text-slate-300">{p.symbol || '—'}</td>
              <td className="px-3 py-2 text-right whitespace-nowrap tabular-nums">{formatNumber(Number(p.position), 8)}</td>
              <td className="px-3 py-2 text-right whitespace-nowrap tabular-nums">{formatPrice(p.lastPrice)}</td>
              <td className="px-3 py-2 text-right whitespace-nowrap tabular-nums">{p.value === undefined ? '—' : formatMoney(p.value, p.currency)}</td>
              <td className={`px-3 py-2 text-right whitespace-nowrap tabular-nums ${pnlTone(p.pnl)}`}>
                {p.pnl === undefined ? '—' : signedMoney(p.pnl)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function Overview({ bots, wsId }: { bots: Bot[]; wsId: string }) {
  const totals = portfolioTotals(bots)
  const positions = openPositions(bots)
  const pnl = pnlPerBot(bots)
  return (
    <div className="flex flex-col gap-4">
      <TotalsRow mode="paper" t={totals.paper} />
      <TotalsRow mode="live" t={totals.live} />
      <Card title="Open positions">
        <PositionsTable rows={positions} wsId={wsId} />
      </Card>
      <Card title="PnL per bot">
        {pnl.length ? <PnlChart data={pnl} /> : <p className="text-sm text-slate-500">No bot has run yet.</p>}
      </Card>
    </div>
  )
}

export function Portfolio() {
  const ws = useWorkspace()
  const list = useBots()
  const newBot = (
    <Link to={`/w/${ws.id}/bots/new`} className="rounded-md bg-sky-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-500">
      New paper bot
    </Link>
  )
  return (
    <div>
      <PageTitle actions={ws.canWrite && newBot}>Portfolio</PageTitle>
      <p className="mb-4 max-w-3xl text-sm text-slate-400">
        Every bot of this workspace at a glance, from each bot&apos;s latest numbers. Paper and live bots are totalled apart: paper
        money is simulated and is never added to real money.
      </p>
      {list.isPending ? (
        <Spinner label="Loading bots" />
      ) : list.error ? (
        <ErrorBox error={list.error} />
      ) : !list.data.length ? (
        <NoBots wsId={ws.id} canWrite={ws.canWrite} />
      ) : (
        <Overview bots={list.data} wsId={ws.id} />
      )}
    </div>
  )
}
