// Live workspace events over the websocket (`/api/ws`): the workspace channel carries job
// events (the latest state of each job) and bot events (a bot whose state or numbers
// changed). Reconnects with backoff; on reconnect, pages re-read over HTTP (events are not
// replayed).
import { useState } from 'react'
import type { JobState } from '../api/client'
import { useChannel } from './channel'

export type JobEvent = {
  id: string
  workspace_id: string
  kind: string
  state: JobState
  progress: number
  message?: string | null
  error?: string | null
  attempts: number
  created_at: number
  started_at?: number | null
  finished_at?: number | null
  updated_at: number
}

/**
 * Calls `onEvent(event, data)` for every event of the workspace channel `workspace:{ws}`
 * while mounted: `job` (a job's state, a `JobEvent`) and `bot` (a bot whose state or numbers
 * changed, the whole `Bot`). The connection (reconnects with backoff) is `useChannel`'s.
 * `connected` is true while subscribed; events are not replayed after a reconnect.
 */
export function useWorkspaceEvents(ws: string, onEvent: (event: string, data: unknown) => void): { connected: boolean } {
  const { connected } = useChannel(`workspace:${ws}`, onEvent)
  return { connected }
}

/** Calls `onEvent` for every job event of workspace `ws` while mounted. */
export function useJobEvents(ws: string, onEvent: (e: JobEvent) => void): { connected: boolean } {
  return useWorkspaceEvents(ws, (event, data) => {
    if (event === 'job' && data) onEvent(data as JobEvent)
  })
}

/** The latest state of one job: the websocket's events on top of the HTTP snapshot. */
export function useLiveJob(ws: string, id: string | undefined): JobEvent | null {
  const [latest, setLatest] = useState<JobEvent | null>(null)
  useJobEvents(ws, (e) => {
    if (e.id === id) setLatest((old) => (old && old.updated_at > e.updated_at ? old : e))
  })
  return latest
}
