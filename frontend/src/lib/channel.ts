// A websocket subscription to one channel of `/api/ws` (e.g. `ticker:binance:BTC/USDT`):
// calls `onEvent(event, data)` for every event while mounted, reconnecting with backoff.
// The server feeds a ticker channel once per second while anyone watches it.
import { useEffect, useRef, useState } from 'react'

type Listener = (event: string, data: unknown) => void

export function useChannel(channel: string | null, onEvent: Listener): { connected: boolean; error: string | null } {
  const [connected, setConnected] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const handler = useRef(onEvent)
  handler.current = onEvent
  useEffect(() => {
    if (!channel) return
    let socket: WebSocket | null = null
    let closed = false
    let retry = 0
    let timer: ReturnType<typeof setTimeout> | undefined
    const open = () => {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
      socket = new WebSocket(`${proto}//${location.host}/api/ws`)
      socket.onopen = () => {
        retry = 0
        socket?.send(JSON.stringify({ op: 'subscribe', channel }))
      }
      socket.onmessage = (m) => {
        try {
          const msg = JSON.parse(String(m.data))
          if (msg.channel !== channel) return
          if (msg.type === 'subscribed') {
            setConnected(true)
            setError(null)
          }
          if (msg.type === 'error') setError(String(msg.message))
          if (msg.type === 'event') handler.current(String(msg.event), msg.data)
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
  }, [channel])
  return { connected, error }
}
