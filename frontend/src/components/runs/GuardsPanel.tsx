// The overfitting guards of an optimisation (docs/optimization.md, "Reading the guards"),
// explained in plain words.
import { formatNumber, formatPct } from '../../lib/format'
import { Badge } from '../ui'
import type { Guards } from './report'

type Verdict = { tone: 'green' | 'amber' | 'red' | 'slate'; word: string }

export function plateauVerdict(r: number | null | undefined): Verdict {
  if (r === null || r === undefined || !Number.isFinite(r)) return { tone: 'slate', word: 'unknown' }
  if (r >= 0.8) return { tone: 'green', word: 'plateau' }
  if (r >= 0.5) return { tone: 'amber', word: 'slope' }
  return { tone: 'red', word: 'spike' }
}

export function deflatedVerdict(p: number | null | undefined): Verdict {
  if (p === null || p === undefined || !Number.isFinite(p)) return { tone: 'slate', word: 'unknown' }
  if (p >= 0.95) return { tone: 'green', word: 'convincing' }
  if (p >= 0.5) return { tone: 'amber', word: 'weak' }
  return { tone: 'red', word: 'likely luck' }
}

export function GuardsPanel({ guards, objective }: { guards: Guards; objective: string }) {
  const pv = plateauVerdict(guards.plateau_ratio)
  const dv = deflatedVerdict(guards.deflated_sharpe)
  return (
    <dl className="grid gap-3 text-sm md:grid-cols-3">
      <div className="rounded-md border border-slate-800 p-3">
        <dt className="text-xs uppercase tracking-wide text-slate-400">Trials</dt>
        <dd className="text-lg font-semibold tabular-nums">{formatNumber(guards.trials, 0)}</dd>
        <dd className="mt-1 text-slate-400">
          Parameter sets tried. The more you try, the more likely the best one only looks good by chance.
        </dd>
      </div>
      <div className="rounded-md border border-slate-800 p-3">
        <dt className="text-xs uppercase tracking-wide text-slate-400">
          Plateau ratio <Badge tone={pv.tone}>{pv.word}</Badge>
        </dt>
        <dd className="text-lg font-semibold tabular-nums">{formatNumber(guards.plateau_ratio, 2)}</dd>
        <dd className="mt-1 text-slate-400">
          {guards.neighbours
            ? `The ${guards.neighbours} neighbours of the best point (one step in any parameter) average ${formatNumber(guards.neighbour_mean, 3)} ${objective} (worst ${formatNumber(guards.neighbour_min, 3)}). `
            : 'The best point has no grid neighbours to compare with. '}
          Near 1 means small parameter changes give similar results, which is what you want live; low or negative means the best is an isolated spike, probably noise.
        </dd>
      </div>
      <div className="rounded-md border border-slate-800 p-3">
        <dt className="text-xs uppercase tracking-wide text-slate-400">
          Deflated Sharpe <Badge tone={dv.tone}>{dv.word}</Badge>
        </dt>
        <dd className="text-lg font-semibold tabular-nums">
          {guards.deflated_sharpe === null || guards.deflated_sharpe === undefined ? '—' : formatPct(guards.deflated_sharpe * 100, 1)}
        </dd>
        <dd className="mt-1 text-slate-400">
          The probability that the best trial's true Sharpe ratio is above zero once the number of trials, their spread and fat tails are accounted for. Above 95 % is the usual bar.
        </dd>
      </div>
    </dl>
  )
}
