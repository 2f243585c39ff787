// One optimisation: live progress, then the heat map of the first two searched parameters,
// the top results and the overfitting guards.
import { Link, useParams } from 'react-router'
import { GuardsPanel } from '../../components/runs/GuardsPanel'
import { Heatmap } from '../../components/runs/Heatmap'
import { isDone, JobStateBadge } from '../../components/runs/JobStateBadge'
import { runSourceQuery } from '../../components/runs/RunSource'
import { paramsText, runOf, type OptimizationReport, type OptimizePayload } from '../../components/runs/report'
import { TopTrials } from '../../components/runs/TopTrials'
import { Card, EmptyState, ErrorBox, PageTitle, ProgressBar, Spinner } from '../../components/ui'
import { formatNumber, formatPct, formatTime } from '../../lib/format'
import { useWorkspace } from '../../session'
import { CancelJob, useJob } from './common'
import { useNames } from './names'
import { walkForwardQuery } from './WalkForwardNew'

export function OptimizationPage() {
  const { id } = useParams()
  const ws = useWorkspace()
  const names = useNames()
  const { job, state, progress, message } = useJob('optimizations', id)
  if (job.isPending) return <Spinner label="Loading the optimisation" />
  if (job.error) return <ErrorBox error={job.error} />
  const j = job.data
  const run = runOf(j)
  const p = (j.payload ?? {}) as OptimizePayload
  const objective = p.objective ?? 'sharpe'
  const report = state === 'succeeded' && j.state === 'succeeded' ? (j.result as OptimizationReport | null) : null
  return (
    <div className="flex flex-col gap-4">
      <PageTitle
        actions={
          <div className="flex flex-wrap gap-2">
            {ws.canWrite && (
              <Link
                to={`/w/${ws.id}/walkforwards/new${walkForwardQuery(runSourceQuery(run), p.ranges, p.method, p.objective)}`}
                className="rounded-md border border-slate-600 bg-slate-800 px-3 py-1.5 text-sm text-slate-100 hover:bg-slate-700"
              >
                Walk-forward with these ranges
              </Link>
            )}
            <Link to={`/w/${ws.id}/optimizations`} className="rounded-md px-3 py-1.5 text-sm text-slate-300 hover:bg-slate-800">
              All optimisations
            </Link>
          </div>
        }
      >
        Optimisation: {names.strategy(run)} on {names.dataset(run)}
      </PageTitle>
      <div className="flex flex-wrap items-center gap-x-4 gap-y-1 text-sm text-slate-400">
        <span aria-live="polite">
          State: <JobStateBadge state={state ?? j.state} />
        </span>
        <span>
          {p.method ?? 'grid'} search, objective {objective}
        </span>
        {p.ranges && <span>Ranges: {Object.entries(p.ranges).map(([k, v]) => `${k} ${v}`).join(', ')}</span>}
        <span>Created {formatTime(j.created_at)} UTC</span>
      </div>
      {state && !isDone(state) && (
        <Card title={state === 'queued' ? 'Waiting for a worker' : 'Searching'}>
          <div className="flex items-start gap-4">
            <div className="flex-1">
              <ProgressBar value={progress ?? 0} label="Optimisation progress" />
            </div>
            <CancelJob id={j.id} onDone={() => void job.refetch()} />
          </div>
          {message && <p className="mt-1 text-xs text-slate-400">{message}</p>}
        </Card>
      )}
      {state === 'failed' && (
        <div>
          <h2 className="mb-1 font-medium text-rose-300">The optimisation failed</h2>
          <ErrorBox error={new Error(j.error ?? 'No reason was recorded.')} />
        </div>
      )}
      {state === 'cancelled' && <EmptyState title="This optimisation was cancelled" />}
      {state === 'succeeded' && !report && <Spinner label="Loading the results" />}
      {report && <Results report={report} objective={objective} backtestLink={(params) => `/w/${ws.id}/backtests/new${runSourceQuery(run, params)}`} />}
    </div>
  )
}

function Results({ report, objective, backtestLink }: { report: OptimizationReport; objective: string; backtestLink: (params: Record<string, number>) => string }) {
  const best = report.best !== null && report.best !== undefined ? report.trials[report.best] : undefined
  const params = report.space?.map((s) => s.name) ?? Object.keys(report.trials[0]?.params ?? {})
  return (
    <>
      <Card
        title="Best parameters"
        actions={
          best && (
            <Link to={backtestLink(best.params)} className="rounded-md border border-slate-600 bg-slate-800 px-3 py-1.5 text-sm text-slate-100 hover:bg-slate-700">
              Backtest these parameters
            </Link>
          )
        }
      >
        {best ? (
          <dl className="flex flex-wrap gap-x-6 gap-y-2 text-sm">
            <div>
              <dt className="text-xs text-slate-400">Parameters</dt>
              <dd className="font-semibold">{paramsText(best.params)}</dd>
            </div>
            <div>
              <dt className="text-xs text-slate-400">{objective}</dt>
              <dd className="font-semibold tabular-nums">{formatNumber(best.objective, 4)}</dd>
            </div>
            <div>
              <dt className="text-xs text-slate-400">Return</dt>
              <dd className="tabular-nums">{formatPct(best.metrics?.return_pct, 2, true)}</dd>
            </div>
            <div>
              <dt className="text-xs text-slate-400">Max drawdown</dt>
              <dd className="tabular-nums">{formatPct(best.metrics?.max_drawdown_pct, 2)}</dd>
            </div>
            <div>
              <dt className="text-xs text-slate-400">Trades</dt>
              <dd className="tabular-nums">{formatNumber(best.metrics?.trades, 0)}</dd>
            </div>
            <div>
              <dt className="text-xs text-slate-400">Trials</dt>
              <dd className="tabular-nums">
                {report.trials.length}
                {report.seconds !== undefined && ` in ${report.seconds.toFixed(1)} s`}
              </dd>
            </div>
          </dl>
        ) : (
          <p className="text-sm text-slate-400">No trial was feasible (too few trades or an undefined objective).</p>
        )}
      </Card>
      <Card title="Heat map">
        {report.heatmap && report.heatmap.x.length && report.heatmap.y.length ? (
          <Heatmap data={report.heatmap} objective={objective} best={best?.params} />
        ) : (
          <p className="text-sm text-slate-400">A heat map needs at least two searched parameters.</p>
        )}
      </Card>
      {report.guards && (
        <Card title="Overfitting guards">
          <GuardsPanel guards={report.guards} objective={objective} />
        </Card>
      )}
      <Card title="Top results">
        <TopTrials trials={report.trials} params={params} best={report.best} />
      </Card>
    </>
  )
}
