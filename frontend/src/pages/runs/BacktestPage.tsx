// One backtest: live progress over the websocket, then the report (metrics, equity and
// drawdown, candles with trade markers, trades). The report is read once from job.result:
// one request instead of three (/metrics, /equity, /trades), and the curve is already
// thinned to ~2000 points by the server.
import { useParams, Link } from 'react-router'
import { CandleChart } from '../../components/runs/CandleChart'
import { EquityCharts } from '../../components/runs/EquityCharts'
import { isDone, JobStateBadge } from '../../components/runs/JobStateBadge'
import { MetricsCards } from '../../components/runs/MetricsCards'
import { currencyOf, paramsText, pricePrecision, runOf, type BacktestReport } from '../../components/runs/report'
import { TradeTable } from '../../components/runs/TradeTable'
import { Card, EmptyState, ErrorBox, PageTitle, ProgressBar, Spinner } from '../../components/ui'
import { formatMoney, formatTime } from '../../lib/format'
import { useWorkspace, useWsBase } from '../../session'
import { CancelJob, useJob } from './common'
import { useNames } from './names'

export function BacktestPage() {
  const { id } = useParams()
  const ws = useWorkspace()
  const base = useWsBase()
  const names = useNames()
  const { job, state, progress, message } = useJob('backtests', id)
  if (job.isPending) return <Spinner label="Loading the backtest" />
  if (job.error) return <ErrorBox error={job.error} />
  const j = job.data
  const run = runOf(j)
  const report = state === 'succeeded' && j.state === 'succeeded' ? (j.result as BacktestReport | null) : null
  const currency = currencyOf(j, report)
  return (
    <div className="flex flex-col gap-4">
      <PageTitle actions={<Link to={`/w/${ws.id}/backtests`} className="rounded-md px-3 py-1.5 text-sm text-slate-300 hover:bg-slate-800">All backtests</Link>}>
        Backtest: {names.strategy(run)} on {names.dataset(run)}
      </PageTitle>
      <div className="flex flex-wrap items-center gap-x-4 gap-y-1 text-sm text-slate-400">
        <span aria-live="polite">
          State: <JobStateBadge state={state ?? j.state} />
        </span>
        <span>Parameters: {paramsText(report?.params ?? run.params) || 'defaults'}</span>
        <span>Created {formatTime(j.created_at)} UTC</span>
        {j.finished_at && <span>Finished {formatTime(j.finished_at)} UTC</span>}
      </div>
      {state && !isDone(state) && (
        <Card title={state === 'queued' ? 'Waiting for a worker' : 'Running'}>
          <div className="flex items-start gap-4">
            <div className="flex-1">
              <ProgressBar value={progress ?? 0} label="Backtest progress" />
            </div>
            <CancelJob id={j.id} onDone={() => void job.refetch()} />
          </div>
          {message && <p className="mt-1 text-xs text-slate-400">{message}</p>}
        </Card>
      )}
      {state === 'failed' && (
        <div>
          <h2 className="mb-1 font-medium text-rose-300">The backtest failed</h2>
          <ErrorBox error={new Error(j.error ?? 'No reason was recorded.')} />
        </div>
      )}
      {state === 'cancelled' && <EmptyState title="This backtest was cancelled" />}
      {state === 'succeeded' && !report && <Spinner label="Loading the report" />}
      {report && <Report report={report} currency={currency} wsBase={base} dataset={run.dataset} />}
    </div>
  )
}

function Report({ report, currency, wsBase, dataset }: { report: BacktestReport; currency: string; wsBase: string; dataset?: string }) {
  const digits = pricePrecision(report.trades)
  return (
    <>
      <MetricsCards metrics={report.metrics} currency={currency} />
      {report.warnings?.length ? (
        <ul className="list-disc pl-5 text-sm text-amber-300">
          {report.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      ) : null}
      <Card title="Equity and drawdown">
        <EquityCharts curve={report.equity_curve} currency={currency} />
        <p className="mt-1 text-xs text-slate-500">
          Started with {formatMoney(report.metrics.initial_equity ?? null, currency)}; fees paid {formatMoney(report.metrics.total_fees ?? null, currency)}; buy and hold
          returned {report.metrics.buy_and_hold_return_pct?.toFixed(2) ?? '—'} %.
        </p>
      </Card>
      <Card title="Price and trades">
        {dataset ? <CandleChart wsBase={wsBase} dataset={dataset} trades={report.trades} digits={digits} /> : <p className="text-sm text-slate-400">This run did not use a stored dataset.</p>}
      </Card>
      <Card title={`Trades (${report.trades.length})`}>
        <TradeTable trades={report.trades} currency={currency} />
      </Card>
    </>
  )
}
