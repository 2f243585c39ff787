// The new paper bot form: a name, the strategy and dataset (as for a backtest), parameters,
// the replay speed and how many bars at the end of the dataset are paced, and the account.
// "Create and start" creates the bot and asks it to run; "Create" leaves it stopped.
import { useMutation } from '@tanstack/react-query'
import { useEffect, useRef, useState, type FormEvent } from 'react'
import { Link, useNavigate } from 'react-router'
import { api } from '../../api/client'
import { paramDefault, specParams } from '../../components/runs/report'
import { RunSourceFields, useRunSource } from '../../components/runs/RunSource'
import { Button, Card, ErrorBox, Field, Input, PageTitle } from '../../components/ui'
import type { Bot, BotBody } from '../../lib/bots'
import { useWorkspace, useWsBase } from '../../session'
import { ParamInput } from '../runs/NewBacktest'

export function NewBot() {
  const ws = useWorkspace()
  const base = useWsBase()
  const navigate = useNavigate()
  const src = useRunSource()
  const params = specParams(src.spec)
  const [name, setName] = useState('')
  const [values, setValues] = useState<Record<string, string>>({})
  const [speed, setSpeed] = useState('20')
  const [paced, setPaced] = useState('300')
  const [cash, setCash] = useState('10000')
  const [commission, setCommission] = useState('0.001')
  const startAfter = useRef(true)
  const specKey = src.spec ? src.specKey : ''
  useEffect(() => {
    if (specKey) setValues(Object.fromEntries(specParams(src.spec).map(([k, p]) => [k, String(paramDefault(p))])))
  }, [specKey])
  const create = useMutation({
    mutationFn: async ({ body, start }: { body: BotBody; start: boolean }) => {
      const bot = await api.post<Bot>(`${base}/bots`, body)
      if (start) {
        try {
          await api.post<Bot>(`${base}/bots/${bot.id}/start`)
        } catch {
          /* created: its page offers Start again */
        }
      }
      return bot
    },
    onSuccess: (bot) => navigate(`/w/${ws.id}/bots/${bot.id}`),
  })
  const onSubmit = (e: FormEvent) => {
    e.preventDefault()
    const p: Record<string, number> = {}
    for (const [k] of params) if (values[k] !== undefined && values[k] !== '') p[k] = Number(values[k])
    create.mutate({
      start: startAfter.current,
      body: {
        name: name.trim(),
        run: { ...src.body, params: p, cash: cash.trim() || undefined, commission: commission.trim() || undefined },
        speed: Number(speed),
        paced_bars: Number(paced),
      },
    })
  }
  if (!ws.canWrite)
    return (
      <div>
        <PageTitle>New paper bot</PageTitle>
        <ErrorBox error={new Error('Your role in this workspace (viewer) cannot create bots.')} />
      </div>
    )
  const ds = src.selectedDataset
  const pacedN = Number(paced)
  const seconds = Number(speed) > 0 && pacedN > 0 ? pacedN / Number(speed) : 0
  return (
    <div className="max-w-3xl">
      <PageTitle>New paper bot</PageTitle>
      <p className="mb-4 text-sm text-slate-400">
        A paper bot trades a dataset&apos;s bars replayed at a chosen speed: the bars before the paced part are replayed at once (the
        strategy&apos;s warm-up and history), then the last bars arrive one at a time. Orders are simulated; nothing reaches an exchange.
      </p>
      <form onSubmit={onSubmit} className="flex flex-col gap-4" aria-label="New paper bot">
        <Card title="Bot">
          <Field label="Name" hint="unique in this workspace">
            <Input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} placeholder="e.g. SMA BTC paper" />
          </Field>
        </Card>
        <Card title="Strategy and data">
          <RunSourceFields src={src} />
        </Card>
        <Card title="Parameters">
          {!src.spec ? (
            <p className="text-sm text-slate-400">Choose a strategy to see its parameters.</p>
          ) : params.length ? (
            <div className="grid gap-3 sm:grid-cols-2 md:grid-cols-3">
              {params.map(([k, p]) => (
                <ParamInput key={`${specKey}:${k}`} name={k} spec={p} value={values[k] ?? ''} onChange={(v) => setValues((o) => ({ ...o, [k]: v }))} />
              ))}
            </div>
          ) : (
            <p className="text-sm text-slate-400">This strategy has no parameters.</p>
          )}
        </Card>
        <Card title="Replay">
          <div className="grid gap-3 sm:grid-cols-2">
            <Field label="Speed (bars per second)" hint="0.1 to 1000">
              <Input type="number" inputMode="decimal" min={0.1} max={1000} step="any" value={speed} onChange={(e) => setSpeed(e.target.value)} required />
            </Field>
            <Field
              label="Paced bars"
              hint={`the last bars, one at a time${ds ? ` (of ${ds.bars.toLocaleString('en-US')})` : ''}${seconds ? `: about ${seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`}` : ''}`}
            >
              <Input type="number" inputMode="numeric" min={1} step={1} value={paced} onChange={(e) => setPaced(e.target.value)} required />
            </Field>
          </div>
        </Card>
        <Card title="Account">
          <div className="grid gap-3 sm:grid-cols-2">
            <Field label="Starting cash" hint={ds ? `in ${ds.symbol.split('/')[1] ?? 'quote currency'}` : undefined}>
              <Input inputMode="decimal" value={cash} onChange={(e) => setCash(e.target.value)} pattern="[0-9]*\.?[0-9]*" required />
            </Field>
            <Field label="Commission per fill" hint="fraction: 0.001 = 0.1 %">
              <Input inputMode="decimal" value={commission} onChange={(e) => setCommission(e.target.value)} pattern="[0-9]*\.?[0-9]*" />
            </Field>
          </div>
        </Card>
        <ErrorBox error={create.error} />
        <div className="flex flex-wrap gap-2">
          <Button type="submit" disabled={!src.ready || create.isPending} onClick={() => (startAfter.current = true)}>
            {create.isPending && startAfter.current ? 'Creating…' : 'Create and start'}
          </Button>
          <Button type="submit" variant="secondary" disabled={!src.ready || create.isPending} onClick={() => (startAfter.current = false)}>
            Create
          </Button>
          <Link to={`/w/${ws.id}/bots`} className="rounded-md px-3 py-1.5 text-sm text-slate-300 hover:bg-slate-800">
            Cancel
          </Link>
        </div>
      </form>
    </div>
  )
}
