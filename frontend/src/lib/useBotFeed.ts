// A bot's events, live: the log read over HTTP (pages of 5000), with the `bot:{id}`
// websocket's pushes on top. Pushes that arrive before the history, or after a missed one
// (a reconnect), wait in the fold until the log read from the last applied event fills
// the gap; nothing is applied twice.
import { useCallback, useEffect, useReducer, useRef, useState } from 'react'
import { api } from '../api/client'
import { emptyView, hasGap, mergeEvents, type BotEvent, type BotView } from './bots'
import { useChannel } from './channel'

const PAGE = 5000
/** At most this many pages at a time (a bot replaying 100,000 bars at full speed). */
const MAX_PAGES = 40

function reduce(view: BotView, action: BotEvent[] | 'reset'): BotView {
  return action === 'reset' ? emptyView : mergeEvents(view, action)
}

export function useBotFeed(base: string, id: string | undefined) {
  const [view, dispatch] = useReducer(reduce, emptyView)
  const [loaded, setLoaded] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const viewRef = useRef(view)
  viewRef.current = view
  const fetching = useRef(false)
  const [synced, setSynced] = useState(0)

  const sync = useCallback(async () => {
    if (!id || fetching.current) return
    fetching.current = true
    try {
      let after = viewRef.current.lastSeq
      for (let i = 0; i < MAX_PAGES; i++) {
        const page = await api.get<BotEvent[]>(`${base}/bots/${id}/events?after=${after}&limit=${PAGE}`)
        if (page.length) dispatch(page)
        if (page.length < PAGE) break
        after = page[page.length - 1].seq
      }
      setLoaded(true)
      setError(null)
    } catch (e) {
      setError(e)
    } finally {
      fetching.current = false
      setSynced((n) => n + 1)
    }
  }, [base, id])

  useEffect(() => {
    dispatch('reset')
    setLoaded(false)
    void sync()
  }, [sync])

  const { connected } = useChannel(id ? `bot:${id}` : null, (event, data) => {
    if (event !== 'bot' || !data) return
    dispatch([data as BotEvent])
  })

  // A push ahead of a missing event: read the log from the last applied one.
  const gap = loaded && hasGap(view)
  useEffect(() => {
    if (!gap) return
    const t = setTimeout(() => void sync(), 300)
    return () => clearTimeout(t)
  }, [gap, synced, sync])

  // Pushes are not replayed after a reconnect: catch up from the log.
  const wasConnected = useRef(false)
  useEffect(() => {
    if (connected && !wasConnected.current && loaded) void sync()
    wasConnected.current = connected
  }, [connected])

  return { view, loaded, error, connected }
}
