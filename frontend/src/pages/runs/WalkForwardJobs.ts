// Live walk-forward jobs: the list (one page, newest first) and one job, as `useLiveJobs` and
// `useJob` of ./common do for backtests and optimisations (job kind `walkforward`).
import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useEffect, useRef } from 'react'
import { api, qs, type Job, type Page } from '../../api/client'
import { isDone } from '../../components/runs/JobStateBadge'
import { useJobEvents, useLiveJob } from '../../lib/jobs'
import { useWorkspace, useWsBase } from '../../session'
import { LIST_PAGE } from './common'

const KIND = 'walkforwards'
const JOB_KIND = 'walkforward'

/** Walk-forward jobs of the workspace (one page), updated from the websocket's job events. */
export function useLiveWalkForwards(offset = 0) {
  const ws = useWorkspace()
  const base = useWsBase()
  const qc = useQueryClient()
  const key = ['runs', base, KIND, offset]
  const list = useQuery({ queryKey: key, queryFn: () => api.get<Page<Job>>(`${base}/${KIND}${qs({ limit: LIST_PAGE, offset })}`) })
  const { connected } = useJobEvents(ws.id, (e) => {
    if (e.kind !== JOB_KIND) return
    const page = qc.getQueryData<Page<Job>>(key)
    const known = page?.items.find((j) => j.id === e.id)
    if (!known) {
      if (offset === 0) void qc.invalidateQueries({ queryKey: key })
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

/** One walk-forward job: the HTTP snapshot with the websocket's state and progress on top. */
export function useWalkForward(id: string | undefined) {
  const ws = useWorkspace()
  const base = useWsBase()
  const job = useQuery({
    queryKey: ['run', base, KIND, id],
    queryFn: () => api.get<Job>(`${base}/${KIND}/${id}`),
    enabled: !!id,
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
