import type { JobState } from '../../api/client'
import { Badge } from '../ui'

const TONES: Record<JobState, 'slate' | 'green' | 'red' | 'amber' | 'sky'> = {
  queued: 'slate',
  running: 'sky',
  succeeded: 'green',
  failed: 'red',
  cancelled: 'amber',
}

export function JobStateBadge({ state }: { state: JobState }) {
  return <Badge tone={TONES[state] ?? 'slate'}>{state}</Badge>
}

export function isDone(state: JobState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled'
}
