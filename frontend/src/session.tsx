// Who is signed in and which workspace is open. The session is the HttpOnly cookie set by
// sign-in; /api/me tells whether it is still valid.
import { useQuery, useQueryClient } from '@tanstack/react-query'
import { createContext, useContext, type ReactNode } from 'react'
import { useParams } from 'react-router'
import { api, ApiError, setCsrf, type Membership, type Role, type User } from './api/client'

export type Me = { user: User; workspaces: Membership[]; totp_enabled: boolean }

export function useMe() {
  return useQuery<Me | null>({
    queryKey: ['me'],
    queryFn: async () => {
      try {
        return await api.get<Me>('/api/me')
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return null
        throw e
      }
    },
    staleTime: 30_000,
  })
}

export function useSignOut() {
  const qc = useQueryClient()
  return async () => {
    try {
      await api.post('/api/auth/logout')
    } finally {
      setCsrf(null)
      qc.clear()
      window.location.assign('/login')
    }
  }
}

type WorkspaceCtx = { id: string; name: string; role: Role; canWrite: boolean; isOwner: boolean }

const Ctx = createContext<WorkspaceCtx | null>(null)

/** Provides the workspace of the `/w/:ws/...` route to the pages under it. */
export function WorkspaceProvider({ me, children }: { me: Me; children: ReactNode }) {
  const { ws } = useParams()
  const m = me.workspaces.find((w) => w.workspace_id === ws)
  if (!m) {
    return <p className="p-6 text-slate-300">This workspace does not exist, or you are not a member of it.</p>
  }
  const value: WorkspaceCtx = {
    id: m.workspace_id,
    name: m.name,
    role: m.role,
    canWrite: m.role !== 'viewer',
    isOwner: m.role === 'owner',
  }
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>
}

/** The open workspace: id, name, the caller's role and what it allows. */
export function useWorkspace(): WorkspaceCtx {
  const v = useContext(Ctx)
  if (!v) throw new Error('useWorkspace outside a workspace route')
  return v
}

/** `/api/workspaces/{ws}` of the open workspace. */
export function useWsBase(): string {
  return `/api/workspaces/${useWorkspace().id}`
}
