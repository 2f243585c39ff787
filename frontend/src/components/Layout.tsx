// The application shell: navigation for the open workspace, the workspace switcher and the
// account menu. Collapses to a top bar on phone-width screens.
import { useState } from 'react'
import { NavLink, Outlet, useNavigate } from 'react-router'
import { useMe, useSignOut, useWorkspace } from '../session'

const NAV = [
  ['datasets', 'Datasets'],
  ['strategies', 'Strategies'],
  ['backtests', 'Backtests'],
  ['optimizations', 'Optimisations'],
  ['walkforwards', 'Walk-forward'],
  ['portfolio', 'Portfolio'],
  ['bots', 'Bots'],
  ['members', 'Members'],
  ['markets', 'Markets'],
  ['credentials', 'Exchange accounts'],
] as const

export function Layout() {
  const ws = useWorkspace()
  const me = useMe().data
  const signOut = useSignOut()
  const navigate = useNavigate()
  const [open, setOpen] = useState(false)
  return (
    <div className="min-h-screen md:flex">
      <aside className="border-b border-slate-800 bg-slate-900 md:min-h-screen md:w-56 md:border-b-0 md:border-r">
        <div className="flex items-center justify-between px-4 py-3">
          <span className="text-lg font-bold tracking-tight text-sky-400">SKEET</span>
          <button
            type="button"
            className="rounded px-2 py-1 text-slate-300 md:hidden"
            aria-expanded={open}
            aria-controls="main-nav"
            onClick={() => setOpen((o) => !o)}
          >
            Menu
          </button>
        </div>
        <div className={`${open ? 'block' : 'hidden'} px-3 pb-3 md:block`}>
          <label className="mb-3 block text-xs text-slate-400">
            Workspace
            <select
              aria-label="Workspace"
              className="mt-1 w-full rounded-md border border-slate-700 bg-slate-950 px-2 py-1.5 text-sm text-slate-100"
              value={ws.id}
              onChange={(e) => navigate(`/w/${e.target.value}/datasets`)}
            >
              {me?.workspaces.map((w) => (
                <option key={w.workspace_id} value={w.workspace_id}>
                  {w.name} ({w.role})
                </option>
              ))}
            </select>
          </label>
          <nav id="main-nav" aria-label="Main" className="flex flex-col gap-1">
            {NAV.map(([path, label]) => (
              <NavLink
                key={path}
                to={`/w/${ws.id}/${path}`}
                className={({ isActive }) =>
                  `rounded-md px-3 py-2 text-sm ${isActive ? 'bg-slate-800 text-white' : 'text-slate-300 hover:bg-slate-800/60'}`
                }
                onClick={() => setOpen(false)}
              >
                {label}
              </NavLink>
            ))}
          </nav>
          <div className="mt-6 border-t border-slate-800 pt-3 text-xs text-slate-400">
            <div className="truncate" title={me?.user.email}>
              {me?.user.email}
            </div>
            <div className="mt-1">
              Role here: <span className="text-slate-200">{ws.role}</span>
            </div>
            <button type="button" className="mt-2 text-sky-400 hover:underline" onClick={signOut}>
              Sign out
            </button>
          </div>
        </div>
      </aside>
      <main className="min-w-0 flex-1 p-4 md:p-6">
        <Outlet />
      </main>
    </div>
  )
}
