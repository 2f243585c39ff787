// Live job state over the websocket (`/api/ws`): subscribe to the workspace channel and keep
// the latest event per job. Reconnects with backoff; on reconnect, pages re-read over HTTP
// (events are not replayed).
import { useEffect, useRef, useState } from 'react'
import type { JobState } from '../api/client'

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

type Listener = (e: JobEvent) => void

/** Calls `onEvent` for every job event of workspace `ws` while mounted. */
export function useJobEvents(ws: string, onEvent: Listener): { connected: boolean } {
  const [connected, setConnected] = useState(false)
  const handler = useRef(onEvent)
  handler.current = onEvent
  useEffect(() => {
    let socket: WebSocket | null = null
    let closed = false
    let retry = 0
    let timer: ReturnType<typeof setTimeout> | undefined
    const open = () => {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
      socket = new WebSocket(`${proto}//${location.host}/api/ws`)
      socket.onopen = () => {
        retry = 0
        socket?.send(JSON.stringify({ op: 'subscribe', channel: `workspace:${ws}` }))
      }
      socket.onmessage = (m) => {
        try {
          const msg = JSON.parse(String(m.data))
          if (msg.type === 'subscribed') setConnected(true)
          if (msg.type === 'event' && msg.event === 'job') handler.current(msg.data as JobEvent)
        } catch {
          /* not ours */
        }
      }
      socket.onclose = () => {
        setConnected(false)
        if (closed) return
        retry = Math.min(retry + 1, 6)
        timer = setTimeout(open, 250 * 2 ** retry)
      }
    }
    open()
    return () => {
      closed = true
      clearTimeout(timer)
      socket?.close()
    }
  }, [ws])
  return { connected }
}

/** The latest state of one job: the websocket's events on top of the HTTP snapshot. */
export function useLiveJob(ws: string, id: string | undefined): JobEvent | null {
  const [latest, setLatest] = useState<JobEvent | null>(null)
  useJobEvents(ws, (e) => {
    if (e.id === id) setLatest((old) => (old && old.updated_at > e.updated_at ? old : e))
  })
  return latest
}
