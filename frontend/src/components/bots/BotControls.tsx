// A bot's state badge and its controls (Start / Pause / Stop / Delete, per state and role),
// and the confirmation dialog the dangerous ones ask through (Stop asks, on a bot trading on
// a venue, whether to cancel its working orders there).
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useEffect, useRef, useState, type ReactNode } from 'react'
import { api, qs } from '../../api/client'
import { botActions, botKey, botsKey, cacheBot, stateTone, tradesOnVenue, type Bot } from '../../lib/bots'
import { useWorkspace, useWsBase } from '../../session'
import { Badge, Button, ErrorBox } from '../ui'

export function BotStateBadge({ state, testId }: { state: string; testId?: string }) {
  return (
    <span data-testid={testId}>
      <Badge tone={stateTone(state)}>{state}</Badge>
    </span>
  )
}

/**
 * A modal question with a confirm and a cancel button (Escape cancels), and optionally a
 * second, milder way to go on (`altLabel`, `onAlt`) between them.
 */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  altLabel,
  busy,
  error,
  onConfirm,
  onAlt,
  onCancel,
}: {
  title: string
  children?: ReactNode
  confirmLabel: string
  altLabel?: string
  busy?: boolean
  error?: unknown
  onConfirm: () => void
  onAlt?: () => void
  onCancel: () => void
}) {
  const box = useRef<HTMLDivElement>(null)
  const cancelRef = useRef(onCancel)
  cancelRef.current = onCancel
  useEffect(() => {
    box.current?.querySelector('button')?.focus() // Cancel: the safe default
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') cancelRef.current()
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
  return (
    <div className="fixed inset-0 z-50 flex items-center justify-center bg-slate-950/70 p-4">
      <div ref={box} role="dialog" aria-modal="true" aria-labelledby="confirm-title" className="w-full max-w-md rounded-lg border border-slate-700 bg-slate-900 p-4 shadow-xl">
        <h2 id="confirm-title" className="text-base font-semibold text-slate-100">
          {title}
        </h2>
        {children && <div className="mt-2 text-sm text-slate-300">{children}</div>}
        <div className="mt-3">
          <ErrorBox error={error} />
        </div>
        <div className="mt-4 flex flex-wrap justify-end gap-2">
          <Button variant="secondary" onClick={onCancel}>
            Cancel
          </Button>
          {altLabel && onAlt && (
            <Button variant="secondary" disabled={busy} onClick={onAlt}>
              {altLabel}
            </Button>
          )}
          <Button variant="danger" disabled={busy} onClick={onConfirm}>
            {confirmLabel}
          </Button>
        </div>
      </div>
    </div>
  )
}

/** `stop-leave`: stop a bot on a venue leaving its working orders there (`?cancel_orders=false`). */
type Command = 'start' | 'pause' | 'stop' | 'stop-leave' | 'flatten' | 'delete'

/** The request of a command (the bot's `…/bots/{id}` path prefixed). */
export function commandPath(c: Exclude<Command, 'delete'>): string {
  return c === 'stop-leave' ? `stop${qs({ cancel_orders: 'false' })}` : c
}

/**
 * The controls of one bot for the caller's role. `compact` is the list's row version (no
 * Delete). Commands answer with the bot (its new `desired`), which goes into the caches.
 * Stop on a bot that trades on a venue asks whether to cancel its working orders there
 * first (the default) or leave them working (adopted when it starts again); a replayed bot
 * stops in one click.
 */
export function BotControls({ bot, compact = false, onDeleted }: { bot: Bot; compact?: boolean; onDeleted?: () => void }) {
  const ws = useWorkspace()
  const base = useWsBase()
  const qc = useQueryClient()
  const [confirmDelete, setConfirmDelete] = useState(false)
  const [confirmStop, setConfirmStop] = useState(false)
  const act = useMutation({
    mutationFn: async (c: Command) => {
      if (c === 'delete') {
        await api.del(`${base}/bots/${bot.id}`)
        return null
      }
      return api.post<Bot>(`${base}/bots/${bot.id}/${commandPath(c)}`)
    },
    onSuccess: (b, c) => {
      if (c === 'delete') {
        setConfirmDelete(false)
        qc.removeQueries({ queryKey: botKey(base, bot.id) })
        void qc.invalidateQueries({ queryKey: botsKey(base) })
        onDeleted?.()
        return
      }
      if (c === 'stop' || c === 'stop-leave') setConfirmStop(false)
      // Newer wins: the workspace channel may already have pushed the bot's next state.
      if (b) cacheBot(qc, base, b)
    },
  })
  const askStop = tradesOnVenue(bot)
  const a = botActions(bot, ws.role)
  // The bot moved on (stopped, or asked to stop elsewhere): the question no longer applies.
  useEffect(() => {
    if (!a.stop) setConfirmStop(false)
  }, [a.stop])
  if (!a.start && !a.pause && !a.stop && !(a.remove && !compact)) {
    if (ws.role === 'viewer' && !compact) return <p className="text-xs text-slate-500">Viewers cannot control bots.</p>
    return null
  }
  const busy = act.isPending
  const label = (text: string) => `${text}${compact ? ` ${bot.name}` : ''}`
  return (
    <div className="flex flex-col items-end gap-1">
      <div className={`flex justify-end gap-2 ${compact ? 'flex-nowrap' : 'flex-wrap'}`} role="group" aria-label={`Controls of ${bot.name}`}>
        {a.start && (
          <Button disabled={busy} onClick={() => act.mutate('start')} aria-label={label(a.startLabel)}>
            {a.startLabel}
          </Button>
        )}
        {a.pause && (
          <Button variant="secondary" disabled={busy} onClick={() => act.mutate('pause')} aria-label={label('Pause')}>
            Pause
          </Button>
        )}
        {a.flatten && !compact && (
          <Button
            variant="secondary"
            disabled={busy}
            onClick={() => {
              if (window.confirm(`Close ${bot.name}'s position with a market order and stop it?`)) act.mutate('flatten')
            }}
          >
            Flatten
          </Button>
        )}
        {a.stop && (
          <Button
            variant="danger"
            disabled={busy}
            onClick={() => {
              if (!askStop) return act.mutate('stop')
              act.reset()
              setConfirmStop(true)
            }}
            aria-label={label('Stop')}
            aria-haspopup={askStop ? 'dialog' : undefined}
          >
            Stop
          </Button>
        )}
        {a.remove && !compact && (
          <Button variant="ghost" disabled={busy} onClick={() => setConfirmDelete(true)}>
            Delete
          </Button>
        )}
      </div>
      {!confirmDelete && !(confirmStop && a.stop) && <ErrorBox error={act.error} />}
      {confirmStop && a.stop && (
        <ConfirmDialog
          title={`Stop ${bot.name}?`}
          confirmLabel="Stop and cancel open orders"
          altLabel="Stop, leave orders working"
          busy={busy}
          error={act.error}
          onConfirm={() => act.mutate('stop')}
          onAlt={() => act.mutate('stop-leave')}
          onCancel={() => {
            act.reset()
            setConfirmStop(false)
          }}
        >
          {bot.name} trades on {bot.venue}. By default its working orders are cancelled before it stops. Left working, they stay open
          (and can still fill) while it is stopped, and it takes them back when it starts again. Its position is kept either way.
        </ConfirmDialog>
      )}
      {confirmDelete && (
        <ConfirmDialog
          title={`Delete ${bot.name}?`}
          confirmLabel="Delete bot"
          busy={busy}
          error={act.error}
          onConfirm={() => act.mutate('delete')}
          onCancel={() => {
            act.reset()
            setConfirmDelete(false)
          }}
        >
          Its settings, events, fills and orders are deleted for good.
        </ConfirmDialog>
      )}
    </div>
  )
}
