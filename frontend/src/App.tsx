// Routing: sign-in pages outside; everything else inside a workspace (/w/:ws/...), behind
// the session check. Deep links work: the server answers every non-API path with index.html.
import { Navigate, Outlet, createBrowserRouter, useLocation } from 'react-router'
import { Layout } from './components/Layout'
import { Spinner } from './components/ui'
import { LoginPage, SignupPage } from './pages/Auth'
import { researchRoutes, researchTopRoutes } from './routes/research'
import { botsRoutes } from './routes/bots'
import { portfolioRoutes } from './routes/portfolio'
import { runsRoutes } from './routes/runs'
import { useMe, WorkspaceProvider } from './session'

function RequireSession() {
  const me = useMe()
  const loc = useLocation()
  if (me.isPending) return <div className="p-6"><Spinner /></div>
  if (!me.data) return <Navigate to={`/login?next=${encodeURIComponent(loc.pathname + loc.search)}`} replace />
  return <Outlet context={me.data} />
}

function WorkspaceRoute() {
  const me = useMe().data
  if (!me) return null
  return (
    <WorkspaceProvider me={me}>
      <Layout />
    </WorkspaceProvider>
  )
}

function Home() {
  const me = useMe().data
  const first = me?.workspaces[0]
  if (!first) return <p className="p-6">You are not a member of any workspace.</p>
  return <Navigate to={`/w/${first.workspace_id}/datasets`} replace />
}

export const router = createBrowserRouter([
  { path: '/login', element: <LoginPage /> },
  { path: '/signup', element: <SignupPage /> },
  {
    element: <RequireSession />,
    children: [
      { path: '/', element: <Home /> },
      ...researchTopRoutes,
      {
        path: '/w/:ws',
        element: <WorkspaceRoute />,
        children: [{ index: true, element: <Navigate to="datasets" replace /> }, ...researchRoutes, ...runsRoutes, ...portfolioRoutes, ...botsRoutes],
      },
      { path: '*', element: <p className="p-6">There is no such page.</p> },
    ],
  },
])
