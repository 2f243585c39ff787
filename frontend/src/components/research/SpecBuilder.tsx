// The visual strategy builder: parameters, named indicators and the entry/exit rules of a
// spec, edited as forms. It works on the same spec document as the JSON editor: every edit
// calls onChange with the whole new spec, and outside changes are read back in.
import { useId, useState } from 'react'
import { Button, Input, Select } from '../ui'
import { newCondition, OPS, parseRule, PRICE_FIELDS, printRule, type Condition, type Op, type RuleModel } from './rules'
import { asRecord, getRule, RULE_SLOTS, setRule, type ParamDef, type RuleSlot, type Spec } from './spec'

/** Local editing state that follows `value` when it changes from outside. */
function useSynced<V, M>(value: V, toModel: (v: V) => M, fromModel: (m: M) => V): [M, (m: M) => void] {
  const [model, setModel] = useState(() => toModel(value))
  const key = JSON.stringify(value)
  const [seen, setSeen] = useState(key)
  if (key !== seen) {
    setSeen(key)
    if (JSON.stringify(fromModel(model)) !== key) setModel(toModel(value))
  }
  return [model, setModel]
}

const cell = 'px-1 py-1 align-top'

type Props = { spec: Spec; onChange: (spec: Spec) => void; readOnly?: boolean }

export function SpecBuilder({ spec, onChange, readOnly = false }: Props) {
  const listId = useId()
  const params = Object.keys(asRecord(spec.parameters))
  const indicators = Object.keys(asRecord(spec.indicators))
  const suggestions = [...indicators, ...PRICE_FIELDS, ...params.map((p) => `$${p}`)]
  return (
    <div className="flex flex-col gap-5 [&_:disabled]:cursor-not-allowed [&_:disabled]:opacity-70" data-testid="spec-builder">
      <datalist id={listId}>
        {suggestions.map((s) => (
          <option key={s} value={s} />
        ))}
      </datalist>
      <label className="flex max-w-md flex-col gap-1 text-sm">
        <span className="text-slate-300">Spec name</span>
        <Input
          value={typeof spec.name === 'string' ? spec.name : ''}
          disabled={readOnly}
          onChange={(e) => onChange({ ...spec, name: e.target.value })}
        />
      </label>
      <ParamsEditor spec={spec} onChange={onChange} readOnly={readOnly} />
      <IndicatorsEditor spec={spec} onChange={onChange} readOnly={readOnly} />
      <section>
        <h3 className="mb-2 text-sm font-semibold text-slate-200">Rules</h3>
        <div className="grid gap-3">
          {RULE_SLOTS.map((slot) => (
            <RuleEditor
              key={slot.join('.')}
              slot={slot}
              value={getRule(spec, slot)}
              onChange={(rule) => onChange(setRule(spec, slot, rule))}
              readOnly={readOnly}
              listId={listId}
              names={[...indicators, ...PRICE_FIELDS]}
            />
          ))}
        </div>
      </section>
    </div>
  )
}

// ---- parameters ----

type ParamRow = { name: string; kind: 'int' | 'float' | 'choice'; def: string; min: string; max: string; step: string; values: string; extra: Record<string, unknown> }

function toParamRows(v: Record<string, unknown>): ParamRow[] {
  return Object.entries(v).map(([name, raw]) => {
    const d = asRecord(raw) as ParamDef
    const { int, float, choice, step, default: def, ...extra } = d
    const kind = choice ? 'choice' : float ? 'float' : 'int'
    const range = (int ?? float ?? []) as number[]
    return {
      name,
      kind,
      def: def === undefined ? '' : String(def),
      min: range[0] === undefined ? '' : String(range[0]),
      max: range[1] === undefined ? '' : String(range[1]),
      step: step === undefined ? '' : String(step),
      values: choice ? choice.join(', ') : '',
      extra,
    }
  })
}

const num = (s: string): number | string => (s.trim() === '' || Number.isNaN(Number(s)) ? s.trim() : Number(s))

function fromParamRows(rows: ParamRow[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const r of rows) {
    const d: Record<string, unknown> = { ...r.extra }
    if (r.kind === 'choice') d.choice = r.values.split(',').map((s) => s.trim()).filter(Boolean).map(num)
    else d[r.kind] = [num(r.min), num(r.max)]
    if (r.step.trim() !== '' && r.kind !== 'choice') d.step = num(r.step)
    if (r.def.trim() !== '') d.default = num(r.def)
    out[r.name] = d
  }
  return out
}

function withKey(spec: Spec, key: string, value: Record<string, unknown>): Spec {
  const next = { ...spec }
  if (Object.keys(value).length) next[key] = value
  else delete next[key]
  return next
}

function ParamsEditor({ spec, onChange, readOnly }: Props) {
  const [rows, setRows] = useSynced(asRecord(spec.parameters), toParamRows, fromParamRows)
  const update = (next: ParamRow[]) => {
    setRows(next)
    onChange(withKey(spec, 'parameters', fromParamRows(next)))
  }
  const set = (i: number, patch: Partial<ParamRow>) => update(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)))
  const dupes = rows.filter((r, i) => rows.findIndex((o) => o.name === r.name) !== i).map((r) => r.name)
  return (
    <section>
      <h3 className="mb-2 text-sm font-semibold text-slate-200">Parameters</h3>
      {rows.length === 0 ? (
        <p className="text-sm text-slate-500">No parameters. Parameters are tunable numbers used as $name.</p>
      ) : (
        <div className="relative overflow-x-auto">
          <table className="min-w-full text-sm">
            <thead className="text-left text-xs text-slate-400">
              <tr>
                <th className={cell}>Name</th>
                <th className={cell}>Kind</th>
                <th className={cell}>Default</th>
                <th className={cell}>Min</th>
                <th className={cell}>Max</th>
                <th className={cell}>Step</th>
                <th className={cell}>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r, i) => (
                <tr key={i}>
                  <td className={cell}>
                    <Input aria-label={`Parameter ${i + 1} name`} className="w-28" value={r.name} disabled={readOnly} onChange={(e) => set(i, { name: e.target.value })} />
                  </td>
                  <td className={cell}>
                    <Select aria-label={`Parameter ${i + 1} kind`} value={r.kind} disabled={readOnly} onChange={(e) => set(i, { kind: e.target.value as ParamRow['kind'] })}>
                      <option value="int">integer</option>
                      <option value="float">decimal</option>
                      <option value="choice">choice</option>
                    </Select>
                  </td>
                  <td className={cell}>
                    <Input aria-label={`Parameter ${i + 1} default`} className="w-20" inputMode="decimal" value={r.def} disabled={readOnly} onChange={(e) => set(i, { def: e.target.value })} />
                  </td>
                  {r.kind === 'choice' ? (
                    <td className={cell} colSpan={3}>
                      <Input aria-label={`Parameter ${i + 1} values`} placeholder="10, 20, 50" className="w-full" value={r.values} disabled={readOnly} onChange={(e) => set(i, { values: e.target.value })} />
                    </td>
                  ) : (
                    <>
                      <td className={cell}>
                        <Input aria-label={`Parameter ${i + 1} min`} className="w-20" inputMode="decimal" value={r.min} disabled={readOnly} onChange={(e) => set(i, { min: e.target.value })} />
                      </td>
                      <td className={cell}>
                        <Input aria-label={`Parameter ${i + 1} max`} className="w-20" inputMode="decimal" value={r.max} disabled={readOnly} onChange={(e) => set(i, { max: e.target.value })} />
                      </td>
                      <td className={cell}>
                        <Input aria-label={`Parameter ${i + 1} step`} className="w-20" inputMode="decimal" value={r.step} disabled={readOnly} onChange={(e) => set(i, { step: e.target.value })} />
                      </td>
                    </>
                  )}
                  <td className={cell}>
                    {!readOnly && (
                      <Button variant="ghost" aria-label={`Remove parameter ${r.name || i + 1}`} onClick={() => update(rows.filter((_, j) => j !== i))}>
                        ✕
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {dupes.length > 0 && <p className="mt-1 text-xs text-amber-300">Parameter names must be unique: {dupes.join(', ')}.</p>}
      {!readOnly && (
        <Button
          variant="secondary"
          className="mt-2"
          onClick={() => {
            let n = rows.length + 1
            while (rows.some((r) => r.name === `p${n}`)) n++
            update([...rows, { name: `p${n}`, kind: 'int', def: '10', min: '1', max: '100', step: '1', values: '', extra: {} }])
          }}
        >
          Add parameter
        </Button>
      )}
    </section>
  )
}

// ---- indicators ----

type IndRow = { name: string; expr: string }

const toIndRows = (v: Record<string, unknown>): IndRow[] => Object.entries(v).map(([name, expr]) => ({ name, expr: typeof expr === 'string' ? expr : JSON.stringify(expr) }))
const fromIndRows = (rows: IndRow[]): Record<string, unknown> => Object.fromEntries(rows.map((r) => [r.name, r.expr]))

function IndicatorsEditor({ spec, onChange, readOnly }: Props) {
  const [rows, setRows] = useSynced(asRecord(spec.indicators), toIndRows, fromIndRows)
  const update = (next: IndRow[]) => {
    setRows(next)
    onChange(withKey(spec, 'indicators', fromIndRows(next)))
  }
  const set = (i: number, patch: Partial<IndRow>) => update(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)))
  return (
    <section>
      <h3 className="mb-2 text-sm font-semibold text-slate-200">Indicators</h3>
      {rows.length === 0 && <p className="text-sm text-slate-500">No named indicators. Add one, e.g. fast_ma = sma(close, $fast).</p>}
      <ul className="flex flex-col gap-2">
        {rows.map((r, i) => (
          <li key={i} className="flex flex-wrap items-center gap-2">
            <Input aria-label={`Indicator ${i + 1} name`} className="w-32 font-mono" value={r.name} disabled={readOnly} onChange={(e) => set(i, { name: e.target.value })} />
            <span className="text-slate-500">=</span>
            <Input aria-label={`Indicator ${i + 1} expression`} className="min-w-0 flex-1 font-mono" value={r.expr} disabled={readOnly} onChange={(e) => set(i, { expr: e.target.value })} />
            {!readOnly && (
              <Button variant="ghost" aria-label={`Remove indicator ${r.name || i + 1}`} onClick={() => update(rows.filter((_, j) => j !== i))}>
                ✕
              </Button>
            )}
          </li>
        ))}
      </ul>
      {!readOnly && (
        <Button
          variant="secondary"
          className="mt-2"
          onClick={() => {
            let n = rows.length + 1
            while (rows.some((r) => r.name === `ind${n}`)) n++
            update([...rows, { name: `ind${n}`, expr: 'sma(close, 20)' }])
          }}
        >
          Add indicator
        </Button>
      )}
    </section>
  )
}

// ---- rules ----

function RuleEditor({ slot, value, onChange, readOnly, listId, names }: { slot: RuleSlot; value: string; onChange: (rule: string) => void; readOnly: boolean; listId: string; names: string[] }) {
  const [model, setModel] = useSynced(value, parseRule, printRule)
  const label = slot.join('.')
  const update = (m: RuleModel) => {
    setModel(m)
    onChange(printRule(m))
  }
  const setCond = (i: number, c: Condition) => update({ ...model, conditions: model.conditions.map((o, j) => (j === i ? c : o)) })
  const title = `${slot[0] === 'entry' ? 'Entry' : 'Exit'} ${slot[1]}`
  return (
    <fieldset className="rounded-md border border-slate-800 p-3" aria-label={`${title} rule`}>
      <legend className="px-1 text-sm font-medium text-slate-200">
        {title} <span className="font-mono text-xs text-slate-500">{label}</span>
      </legend>
      {model.conditions.length === 0 && <p className="text-sm text-slate-500">No rule: never fires.</p>}
      {model.conditions.length > 1 && (
        <label className="mb-2 flex items-center gap-2 text-xs text-slate-400">
          Join conditions with
          <Select aria-label={`${label} join`} value={model.joiner} disabled={readOnly} onChange={(e) => update({ ...model, joiner: e.target.value as RuleModel['joiner'] })}>
            <option value="and">AND (all must hold)</option>
            <option value="or">OR (any may hold)</option>
          </Select>
        </label>
      )}
      <ol className="flex flex-col gap-2">
        {model.conditions.map((c, i) => {
          const n = `${label} condition ${i + 1}`
          return (
            <li key={i} className="flex flex-wrap items-center gap-2">
              {i > 0 && <span className="w-9 text-xs font-semibold uppercase text-sky-400">{model.joiner}</span>}
              {c.kind === 'custom' ? (
                <>
                  <Input aria-label={`${n} custom expression`} className="min-w-0 flex-1 font-mono" value={c.text} disabled={readOnly} onChange={(e) => setCond(i, { kind: 'custom', text: e.target.value })} />
                  <span className="text-xs text-slate-500">custom</span>
                </>
              ) : (
                <>
                  <Input aria-label={`${n} left operand`} list={listId} className="w-28 font-mono" value={c.left} disabled={readOnly} onChange={(e) => setCond(i, { ...c, left: e.target.value })} />
                  <Select aria-label={`${n} operator`} value={c.op} disabled={readOnly} onChange={(e) => setCond(i, { ...c, op: e.target.value as Op })}>
                    {OPS.map((o) => (
                      <option key={o.value} value={o.value}>
                        {o.label}
                      </option>
                    ))}
                  </Select>
                  <Input aria-label={`${n} right operand`} list={listId} className="w-28 font-mono" value={c.right} disabled={readOnly} onChange={(e) => setCond(i, { ...c, right: e.target.value })} />
                </>
              )}
              {!readOnly && (
                <Button variant="ghost" aria-label={`Remove ${n}`} onClick={() => update({ ...model, conditions: model.conditions.filter((_, j) => j !== i) })}>
                  ✕
                </Button>
              )}
            </li>
          )
        })}
      </ol>
      {!readOnly && (
        <div className="mt-2 flex flex-wrap gap-2">
          <Button variant="secondary" aria-label={`Add condition to ${label}`} onClick={() => update({ ...model, conditions: [...model.conditions, newCondition(names)] })}>
            Add condition
          </Button>
          <Button variant="ghost" aria-label={`Add custom expression to ${label}`} onClick={() => update({ ...model, conditions: [...model.conditions, { kind: 'custom', text: '' }] })}>
            Add custom expression
          </Button>
        </div>
      )}
      <p className="mt-2 break-all font-mono text-xs text-slate-500" aria-label={`${label} as text`}>
        {printRule(model) || '—'}
      </p>
    </fieldset>
  )
}
