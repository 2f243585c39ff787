// Pieces shared by the run pages: the live list of jobs of one kind, and the live job.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useEffect, useRef } from 'react'
import { api, qs, type Job, type Page } from '../../api/client'
import { isDone } from '../../components/runs/JobStateBadge'
import { Button, ErrorBox } from '../../components/ui'
import { useJobEvents, useLiveJob } from '../../lib/jobs'
import { useWorkspace, useWsBase } from '../../session'

export type RunKind = 'backtests' | 'optimizations' | 'walkforwards'

/** The job kind the server records for each kind of run page. */
const JOB_KIND: Record<RunKind, string> = { backtests: 'backtest', optimizations: 'optimize', walkforwards: 'walkforward' }

/** Jobs per list page. */
export const LIST_PAGE = 20

/** The jobs of one kind (one page, newest first), updated from the websocket's job events. */
export function useLiveJobs(kind: RunKind, offset = 0) {
  const ws = useWorkspace()
  const base = useWsBase()
  const qc = useQueryClient()
  const key = ['runs', base, kind, offset]
  const jobKind = JOB_KIND[kind]
  const list = useQuery({ queryKey: key, queryFn: () => api.get<Page<Job>>(`${base}/${kind}${qs({ limit: LIST_PAGE, offset })}`) })
  const { connected } = useJobEvents(ws.id, (e) => {
    if (e.kind !== jobKind) return
    const page = qc.getQueryData<Page<Job>>(key)
    const known = page?.items.find((j) => j.id === e.id)
    if (!known) {
      if (offset === 0) void qc.invalidateQueries({ queryKey: key }) // a new job on the first page
      return
    }
    if (isDone(e.state) && !isDone(known.state)) {
      void qc.invalidateQueries({ queryKey: key }) // its summary to read
      return
    }
    qc.setQueryData<Page<Job>>(key, (p) =>
      p ? { ...p, items: p.items.map((j) => (j.id === e.id ? { ...j, state: e.state, progress: e.progress, message: e.message, error: e.error } : j)) } : p,
    )
  })
  // Events are not replayed: re-read when the socket (re)connects.
  const wasConnected = useRef(false)
  useEffect(() => {
    if (connected && !wasConnected.current) void qc.invalidateQueries({ queryKey: key })
    wasConnected.current = connected
  }, [connected])
  return list
}

/** One job: the HTTP snapshot, with the websocket's state and progress on top; re-read when it ends. */
export function useJob(kind: RunKind, id: string | undefined) {
  const ws = useWorkspace()
  const base = useWsBase()
  const job = useQuery({
    queryKey: ['run', base, kind, id],
    queryFn: () => api.get<Job>(`${base}/${kind}/${id}`),
    enabled: !!id,
    // A slow fallback in case an event is missed (events are not replayed).
    refetchInterval: (q) => (q.state.data && isDone(q.state.data.state) ? false : 4000),
  })
  const live = useLiveJob(ws.id, id)
  const refetch = job.refetch
  const snapshotDone = job.data ? isDone(job.data.state) : false
  useEffect(() => {
    if (live && isDone(live.state) && !snapshotDone) void refetch()
  }, [live, snapshotDone, refetch])
  const state = snapshotDone ? job.data!.state : (live?.state ?? job.data?.state)
  const progress = snapshotDone ? job.data!.progress : Math.max(live?.progress ?? 0, job.data?.progress ?? 0)
  const message = live?.message ?? job.data?.message
  return { job, state, progress, message }
}

export function Pager({ offset, count, onChange }: { offset: number; count: number; onChange: (offset: number) => void }) {
  if (offset === 0 && count < LIST_PAGE) return null
  return (
    <div className="mt-2 flex items-center justify-end gap-2 text-sm text-slate-400">
      <Button variant="secondary" disabled={offset === 0} onClick={() => onChange(Math.max(0, offset - LIST_PAGE))}>
        Newer
      </Button>
      <span>
        {offset + 1}–{offset + count}
      </span>
      <Button variant="secondary" disabled={count < LIST_PAGE} onClick={() => onChange(offset + LIST_PAGE)}>
        Older
      </Button>
    </div>
  )
}

/** Asks the server to cancel a queued or running job (analyst role or above). */
export function CancelJob({ id, onDone }: { id: string; onDone: () => void }) {
  const base = useWsBase()
  const ws = useWorkspace()
  const cancel = useMutation({ mutationFn: () => api.post(`${base}/jobs/${id}/cancel`), onSuccess: onDone })
  if (!ws.canWrite) return null
  return (
    <div className="flex flex-col items-end gap-1">
      <Button variant="secondary" disabled={cancel.isPending || cancel.isSuccess} onClick={() => cancel.mutate()}>
        {cancel.isSuccess ? 'Cancel requested' : 'Cancel'}
      </Button>
      <ErrorBox error={cancel.error} />
    </div>
  )
}
