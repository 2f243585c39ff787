// Walk-forward analyses of the workspace, live.
import { useState } from 'react'
import { Link } from 'react-router'
import type { Job } from '../../api/client'
import { JobStateBadge } from '../../components/runs/JobStateBadge'
import { verdictOf, walkForwardRun, type WalkForwardPayload, type WalkForwardSummary } from '../../components/runs/WalkForwardReport'
import { EmptyState, ErrorBox, PageTitle, ProgressBar, Spinner } from '../../components/ui'
import { formatNumber, formatPct, formatTime } from '../../lib/format'
import { useWorkspace } from '../../session'
import { Pager, useLiveJobs } from './common'
import { useNames } from './names'

export function WalkForwardList() {
  const ws = useWorkspace()
  const [offset, setOffset] = useState(0)
  const list = useLiveJobs('walkforwards', offset)
  const names = useNames()
  const newLink = (
    <Link to={`/w/${ws.id}/walkforwards/new`} className="rounded-md bg-sky-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-500">
      New walk-forward
    </Link>
  )
  return (
    <div>
      <PageTitle actions={ws.canWrite ? newLink : undefined}>Walk-forward analyses</PageTitle>
      {list.isPending ? (
        <Spinner />
      ) : list.error ? (
        <ErrorBox error={list.error} />
      ) : !list.data.items.length && offset === 0 ? (
        <EmptyState title="No walk-forward analyses yet">
          {ws.canWrite ? (
            <>
              A walk-forward re-runs the optimisation on rolling training windows and trades the chosen parameters on the data that follows.{' '}
              <Link className="text-sky-400 underline" to={`/w/${ws.id}/walkforwards/new`}>
                New walk-forward
              </Link>
            </>
          ) : (
            'Members with the analyst role or above can run one.'
          )}
        </EmptyState>
      ) : (
        <div className="relative overflow-x-auto rounded-lg border border-slate-800">
          <table className="w-full min-w-[760px] text-sm" aria-label="Walk-forward analyses">
            <thead className="border-b border-slate-800 bg-slate-900 text-left text-xs text-slate-400">
              <tr>
                <th scope="col" className="px-3 py-2 font-medium">Strategy</th>
                <th scope="col" className="px-3 py-2 font-medium">Dataset</th>
                <th scope="col" className="px-3 py-2 text-right font-medium">Windows</th>
                <th scope="col" className="px-3 py-2 font-medium">State</th>
                <th scope="col" className="px-3 py-2 font-medium">Created (UTC)</th>
                <th scope="col" className="px-3 py-2 text-right font-medium">Efficiency</th>
                <th scope="col" className="px-3 py-2 text-right font-medium">OOS return</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((j) => (
                <Row key={j.id} job={j} wsId={ws.id} names={names} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.data && <Pager offset={offset} count={list.data.items.length} onChange={setOffset} />}
    </div>
  )
}

const EFF_TONES = { green: 'text-emerald-400', amber: 'text-amber-300', red: 'text-rose-400' } as const

function Row({ job, wsId, names }: { job: Job; wsId: string; names: ReturnType<typeof useNames> }) {
  const run = walkForwardRun(job)
  const p = (job.payload ?? {}) as WalkForwardPayload
  // Lists carry the job's summary (headline numbers), not the whole result.
  const s = job.state === 'succeeded' ? ((job.summary as WalkForwardSummary | null | undefined) ?? null) : null
  const ret = s?.out_of_sample_return_pct
  return (
    <tr className="border-b border-slate-800/60 hover:bg-slate-800/40">
      <td className="px-3 py-2">
        <Link to={`/w/${wsId}/walkforwards/${job.id}`} className="font-medium text-sky-400 hover:underline">
          {names.strategy(run)}
        </Link>
        <div className="text-xs text-slate-500">
          {p.search?.method ?? 'grid'} · {p.search?.objective ?? 'sharpe'}
          {p.anchored ? ' · anchored' : ''}
        </div>
      </td>
      <td className="px-3 py-2 text-slate-300">{names.dataset(run)}</td>
      <td className="px-3 py-2 text-right tabular-nums text-slate-300">{s?.windows ?? p.windows ?? 5}</td>
      <td className="px-3 py-2">
        <div className="flex min-w-28 flex-col items-start gap-1">
          <JobStateBadge state={job.state} />
          {(job.state === 'running' || job.state === 'queued') && <ProgressBar value={job.progress} label={`Progress of walk-forward ${job.id}`} />}
        </div>
      </td>
      <td className="px-3 py-2 whitespace-nowrap text-slate-300">{formatTime(job.created_at)}</td>
      <td className={`px-3 py-2 text-right tabular-nums ${s ? EFF_TONES[verdictOf(s.efficiency).tone] : ''}`} title={s ? verdictOf(s.efficiency).headline : undefined}>
        {s ? formatNumber(s.efficiency, 2) : '—'}
      </td>
      <td className={`px-3 py-2 text-right tabular-nums ${ret ? (ret > 0 ? 'text-emerald-400' : 'text-rose-400') : ''}`}>{s ? formatPct(ret, 2, true) : '—'}</td>
    </tr>
  )
}
