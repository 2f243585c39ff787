// One walk-forward analysis: live progress, then the verdict from the efficiency ratio, the
// stitched out-of-sample metrics and equity, and the windows.
import { Link, useParams } from 'react-router'
import { isDone, JobStateBadge } from '../../components/runs/JobStateBadge'
import { MetricsCards } from '../../components/runs/MetricsCards'
import { runSourceQuery } from '../../components/runs/RunSource'
import { walkForwardRun, type WalkForwardPayload, type WalkForwardReport } from '../../components/runs/WalkForwardReport'
import { WalkForwardEquity, WalkForwardObjectiveChart, WalkForwardVerdict, WalkForwardWindows } from '../../components/runs/WalkForwardResults'
import { Card, EmptyState, ErrorBox, PageTitle, ProgressBar, Spinner } from '../../components/ui'
import { formatTime, quoteOf } from '../../lib/format'
import { useWorkspace } from '../../session'
import { CancelJob, useJob } from './common'
import { useNames } from './names'

export function WalkForwardPage() {
  const { id } = useParams()
  const ws = useWorkspace()
  const names = useNames()
  const { job, state, progress, message } = useJob('walkforwards', id)
  if (job.isPending) return <Spinner label="Loading the walk-forward" />
  if (job.error) return <ErrorBox error={job.error} />
  const j = job.data
  const run = walkForwardRun(j)
  const p = (j.payload ?? {}) as WalkForwardPayload
  const objective = p.search?.objective ?? 'sharpe'
  const report = state === 'succeeded' && j.state === 'succeeded' ? (j.result as WalkForwardReport | null) : null
  const currency = quoteOf(run.symbol ?? '')
  return (
    <div className="flex flex-col gap-4">
      <PageTitle
        actions={
          <Link to={`/w/${ws.id}/walkforwards`} className="rounded-md px-3 py-1.5 text-sm text-slate-300 hover:bg-slate-800">
            All walk-forwards
          </Link>
        }
      >
        Walk-forward: {names.strategy(run)} on {names.dataset(run)}
      </PageTitle>
      <div className="flex flex-wrap items-center gap-x-4 gap-y-1 text-sm text-slate-400">
        <span aria-live="polite">
          State: <JobStateBadge state={state ?? j.state} />
        </span>
        <span>
          {p.windows ?? 5} {p.anchored ? 'anchored' : 'rolling'} windows
          {p.in_sample ? `, ${p.in_sample} bars in sample` : ''}
          {p.out_of_sample ? `, ${p.out_of_sample} bars out of sample` : ''}
        </span>
        <span>
          {p.search?.method ?? 'grid'} search, objective {objective}
        </span>
        {p.search?.ranges && <span>Ranges: {Object.entries(p.search.ranges).map(([k, v]) => `${k} ${v}`).join(', ')}</span>}
        <span>Created {formatTime(j.created_at)} UTC</span>
      </div>
      {state && !isDone(state) && (
        <Card title={state === 'queued' ? 'Waiting for a worker' : 'Walking forward'}>
          <div className="flex items-start gap-4">
            <div className="flex-1">
              <ProgressBar value={progress ?? 0} label="Walk-forward progress" />
            </div>
            <CancelJob id={j.id} onDone={() => void job.refetch()} />
          </div>
          {message && <p className="mt-1 text-xs text-slate-400">{message}</p>}
        </Card>
      )}
      {state === 'failed' && (
        <div>
          <h2 className="mb-1 font-medium text-rose-300">The walk-forward failed</h2>
          <ErrorBox error={new Error(j.error ?? 'No reason was recorded.')} />
        </div>
      )}
      {state === 'cancelled' && <EmptyState title="This walk-forward was cancelled" />}
      {state === 'succeeded' && !report && <Spinner label="Loading the results" />}
      {report && (
        <>
          <WalkForwardVerdict report={report} />
          <Card
            title="Stitched out-of-sample result"
            actions={
              <Link
                to={`/w/${ws.id}/backtests/new${runSourceQuery(run, report.windows.at(-1)?.params)}`}
                className="rounded-md border border-slate-600 bg-slate-800 px-3 py-1.5 text-sm text-slate-100 hover:bg-slate-700"
              >
                Backtest the last window's parameters
              </Link>
            }
          >
            <MetricsCards metrics={report.out_of_sample} currency={currency} />
          </Card>
          <Card title="Out-of-sample equity">
            {report.equity.length ? <WalkForwardEquity equity={report.equity} currency={currency} /> : <p className="text-sm text-slate-400">No equity was recorded.</p>}
          </Card>
          <Card title={`${objective} per window`}>
            <WalkForwardObjectiveChart windows={report.windows} objective={objective} />
          </Card>
          <Card title="Windows">
            <WalkForwardWindows windows={report.windows} objective={objective} />
            {report.seconds !== undefined && <p className="mt-2 text-xs text-slate-500">Computed in {report.seconds.toFixed(1)} s.</p>}
          </Card>
        </>
      )}
    </div>
  )
}
