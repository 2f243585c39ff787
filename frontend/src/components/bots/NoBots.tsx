// The empty state of the pages that list a workspace's bots (Bots, Portfolio).
import { Link } from 'react-router'
import { EmptyState } from '../ui'

/** "No bots yet", with a link to create one for members who may. */
export function NoBots({ wsId, canWrite }: { wsId: string; canWrite: boolean }) {
  return (
    <EmptyState title="No bots yet">
      {canWrite ? (
        <Link className="text-sky-400 underline" to={`/w/${wsId}/bots/new`}>
          New paper bot
        </Link>
      ) : (
        'Members with the analyst role or above can create one.'
      )}
    </EmptyState>
  )
}
