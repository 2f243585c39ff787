// The JSON side of the strategy editor: a monospace text area with line numbers, checked by
// the server (POST /api/strategies/validate, the text sent as a string so positions point
// into it) 400 ms after the last keystroke. Problems are listed with their path, position,
// message and hint, and their lines are marked in the gutter.
import { useQuery } from '@tanstack/react-query'
import { useEffect, useId, useRef, useState } from 'react'
import { api, type SpecProblem, type Validation } from '../../api/client'
import { lineOfPath } from './spec'

export function useDebounced<T>(value: T, ms = 400): T {
  const [v, setV] = useState(value)
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms)
    return () => clearTimeout(t)
  }, [value, ms])
  return v
}

/** Validates spec text on the server, debounced. */
export function useValidation(text: string) {
  const debounced = useDebounced(text)
  return useQuery({
    queryKey: ['validate', debounced],
    queryFn: () => api.post<Validation>('/api/strategies/validate', { spec: debounced }),
    staleTime: Infinity,
    retry: false,
  })
}

/** The line in the text a problem is about: the text position for JSON errors, the rule's key otherwise. */
export function problemLine(text: string, p: SpecProblem): number | null {
  if (!p.path) return p.line ?? null
  const at = lineOfPath(text, p.path)
  if (at === null) return null
  return at + Math.max(0, (p.line ?? 1) - 1)
}

function describePosition(p: SpecProblem, line: number | null): string {
  if (!p.path) return p.line ? `line ${p.line}:${p.column ?? 1}` : ''
  const inRule = p.line ? ` (rule ${p.line}:${p.column ?? 1})` : ''
  return `${line ? `line ${line}` : ''}${inRule}`.trim()
}

type Props = {
  value: string
  onChange: (text: string) => void
  readOnly?: boolean
  validation?: { data?: Validation; isFetching: boolean; error: unknown }
  stale?: boolean
}

export function SpecJsonEditor({ value, onChange, readOnly = false, validation, stale = false }: Props) {
  const id = useId()
  const gutter = useRef<HTMLDivElement>(null)
  const area = useRef<HTMLTextAreaElement>(null)
  const goTo = (line: number) => {
    const t = area.current
    if (!t) return
    const start = value.split('\n').slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0)
    const end = start + (value.split('\n')[line - 1]?.length ?? 0)
    t.focus()
    t.setSelectionRange(start, end)
    t.scrollTop = Math.max(0, (line - 3) * 20) // leading-5 = 20 px a line
    if (gutter.current) gutter.current.scrollTop = t.scrollTop
  }
  const lines = value.split('\n').length
  const problems = validation?.data?.errors ?? []
  const marked = new Map<number, SpecProblem>()
  for (const p of problems) {
    const l = problemLine(value, p)
    if (l) marked.set(l, p)
  }
  return (
    <div className="flex flex-col gap-2">
      <label htmlFor={id} className="text-sm text-slate-300">
        Spec JSON
      </label>
      <div className="flex h-[28rem] overflow-hidden rounded-md border border-slate-700 bg-slate-950 focus-within:border-sky-500">
        <div ref={gutter} aria-hidden="true" className="select-none overflow-hidden border-r border-slate-800 py-2 text-right font-mono text-xs leading-5 text-slate-600">
          {Array.from({ length: lines }, (_, i) => (
            <div key={i} className={`px-2 ${marked.has(i + 1) ? 'bg-rose-900/70 text-rose-200' : ''}`} data-error-line={marked.has(i + 1) ? i + 1 : undefined}>
              {i + 1}
            </div>
          ))}
        </div>
        <textarea
          ref={area}
          id={id}
          spellCheck={false}
          readOnly={readOnly}
          aria-invalid={problems.length > 0}
          aria-describedby={`${id}-status`}
          className="min-w-0 flex-1 resize-none whitespace-pre bg-transparent px-2 py-2 font-mono text-xs leading-5 text-slate-100 outline-none"
          value={value}
          wrap="off"
          onChange={(e) => onChange(e.target.value)}
          onScroll={(e) => {
            if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop
          }}
        />
      </div>
      <div id={`${id}-status`} aria-live="polite" className="text-sm">
        {validation?.error ? (
          <p className="text-amber-300">The spec could not be checked: {validation.error instanceof Error ? validation.error.message : 'unknown error'}</p>
        ) : !validation?.data || stale ? (
          <p className="text-slate-500">Checking…</p>
        ) : validation.data.valid ? (
          <p className="text-emerald-300" data-testid="spec-valid">
            ✓ Valid
            {validation.data.warmup_bars !== null && validation.data.warmup_bars !== undefined && (
              <span className="text-slate-400"> · warm-up {validation.data.warmup_bars} bars</span>
            )}
          </p>
        ) : (
          <ul className="flex flex-col gap-1" data-testid="spec-errors">
            {problems.map((p, i) => {
              const line = problemLine(value, p)
              return (
                <li key={i} className="rounded-md border border-rose-800 bg-rose-950/50 px-2 py-1 text-rose-200">
                  <span className="font-mono text-xs text-rose-300">
                    {p.path || 'JSON'}
                    {describePosition(p, line) && ` · ${describePosition(p, line)}`}
                  </span>
                  <span className="block">{p.message}</span>
                  {p.hint && <span className="block text-xs text-rose-300/80">Hint: {p.hint}</span>}
                  {line && (
                    <button type="button" className="mt-1 text-xs text-sky-300 underline hover:text-sky-200" onClick={() => goTo(line)}>
                      Go to line {line}
                    </button>
                  )}
                </li>
              )
            })}
          </ul>
        )}
      </div>
    </div>
  )
}
