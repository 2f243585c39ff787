// Backtests of the workspace, live: state and progress follow the websocket.
import { useState } from 'react'
import { Link } from 'react-router'
import type { Job } from '../../api/client'
import { JobStateBadge } from '../../components/runs/JobStateBadge'
import { paramsText, runOf, type BacktestReport } from '../../components/runs/report'
import { EmptyState, ErrorBox, PageTitle, ProgressBar, Spinner } from '../../components/ui'
import { formatNumber, formatPct, formatTime } from '../../lib/format'
import { useWorkspace } from '../../session'
import { Pager, useLiveJobs } from './common'
import { useNames } from './names'

export function BacktestsList() {
  const ws = useWorkspace()
  const [offset, setOffset] = useState(0)
  const list = useLiveJobs('backtests', offset)
  const names = useNames()
  const newLink = (
    <Link to={`/w/${ws.id}/backtests/new`} className="rounded-md bg-sky-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-500">
      New backtest
    </Link>
  )
  return (
    <div>
      <PageTitle actions={ws.canWrite ? newLink : undefined}>Backtests</PageTitle>
      {list.isPending ? (
        <Spinner />
      ) : list.error ? (
        <ErrorBox error={list.error} />
      ) : !list.data.items.length && offset === 0 ? (
        <EmptyState title="No backtests yet">
          {ws.canWrite ? (
            <Link className="text-sky-400 underline" to={`/w/${ws.id}/backtests/new`}>
              New backtest
            </Link>
          ) : (
            'Members with the analyst role or above can run one.'
          )}
        </EmptyState>
      ) : (
        <div className="relative overflow-x-auto rounded-lg border border-slate-800">
          <table className="w-full min-w-[720px] text-sm">
            <thead className="border-b border-slate-800 bg-slate-900 text-left text-xs text-slate-400">
              <tr>
                <th scope="col" className="px-3 py-2 font-medium">Strategy</th>
                <th scope="col" className="px-3 py-2 font-medium">Dataset</th>
                <th scope="col" className="px-3 py-2 font-medium">State</th>
                <th scope="col" className="px-3 py-2 font-medium">Created (UTC)</th>
                <th scope="col" className="px-3 py-2 text-right font-medium">Return</th>
                <th scope="col" className="px-3 py-2 text-right font-medium">Sharpe</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((j) => (
                <BacktestRow key={j.id} job={j} wsId={ws.id} names={names} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.data && <Pager offset={offset} count={list.data.items.length} onChange={setOffset} />}
    </div>
  )
}

function BacktestRow({ job, wsId, names }: { job: Job; wsId: string; names: ReturnType<typeof useNames> }) {
  const run = runOf(job)
  // Lists carry the job's summary (headline numbers), not the whole report.
  const m = job.state === 'succeeded' ? (job.summary as Pick<BacktestReport['metrics'], 'total_return_pct' | 'sharpe'> | null | undefined) ?? undefined : undefined
  return (
    <tr className="border-b border-slate-800/60 hover:bg-slate-800/40">
      <td className="px-3 py-2">
        <Link to={`/w/${wsId}/backtests/${job.id}`} className="font-medium text-sky-400 hover:underline">
          {names.strategy(run)}
        </Link>
        <div className="text-xs text-slate-500">{paramsText(run.params)}</div>
      </td>
      <td className="px-3 py-2 text-slate-300">{names.dataset(run)}</td>
      <td className="px-3 py-2">
        <div className="flex min-w-28 flex-col items-start gap-1">
          <JobStateBadge state={job.state} />
          {(job.state === 'running' || job.state === 'queued') && <ProgressBar value={job.progress} label={`Progress of backtest ${job.id}`} />}
        </div>
      </td>
      <td className="px-3 py-2 whitespace-nowrap text-slate-300">{formatTime(job.created_at)}</td>
      <td className={`px-3 py-2 text-right tabular-nums ${m ? (m.total_return_pct >= 0 ? 'text-emerald-400' : 'text-rose-400') : 'text-slate-500'}`}>
        {m ? formatPct(m.total_return_pct, 2, true) : '—'}
      </td>
      <td className="px-3 py-2 text-right tabular-nums">{m ? formatNumber(m.sharpe, 2) : '—'}</td>
    </tr>
  )
}
