// Sign in and sign up. After either, the dashboard opens the user's first workspace (or the
// invitation they came for).
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'
import { Link, useNavigate, useSearchParams } from 'react-router'
import { api, setCsrf } from '../api/client'
import { Button, ErrorBox, Field, Input } from '../components/ui'

type Session = { token: string; csrf_token: string }

function Frame({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <div className="w-full max-w-sm rounded-lg border border-slate-800 bg-slate-900 p-6">
        <div className="mb-1 text-2xl font-bold text-sky-400">SKEET</div>
        <h1 className="mb-4 text-lg text-slate-200">{title}</h1>
        {children}
      </div>
    </main>
  )
}

function useSignIn() {
  const qc = useQueryClient()
  const navigate = useNavigate()
  const [params] = useSearchParams()
  return async (email: string, password: string, totp?: string) => {
    const s = await api.post<Session>('/api/auth/login', { email, password, totp: totp || undefined })
    setCsrf(s.csrf_token)
    // Reset, not invalidate: a cached "signed out" answer of /api/me must not survive into
    // the page the user came for (it is not on screen, so invalidating would not refetch).
    await qc.resetQueries()
    navigate(params.get('next') ?? '/')
  }
}

export function LoginPage() {
  const signIn = useSignIn()
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [totp, setTotp] = useState('')
  const [needTotp, setNeedTotp] = useState(false)
  const [params] = useSearchParams()
  const m = useMutation({
    mutationFn: () => signIn(email, password, totp),
    onError: (e: unknown) => {
      if ((e as { code?: string }).code === 'totp_required') setNeedTotp(true)
    },
  })
  const submit = (e: FormEvent) => {
    e.preventDefault()
    m.mutate()
  }
  return (
    <Frame title="Sign in">
      <form className="flex flex-col gap-3" onSubmit={submit}>
        <Field label="Email">
          <Input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field label="Password">
          <Input type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        {needTotp && (
          <Field label="Two-factor code" hint="The 6-digit code of your authenticator app">
            <Input inputMode="numeric" autoComplete="one-time-code" value={totp} onChange={(e) => setTotp(e.target.value)} />
          </Field>
        )}
        {m.error && (m.error as { code?: string }).code !== 'totp_required' ? <ErrorBox error={m.error} /> : null}
        <Button type="submit" disabled={m.isPending}>
          {m.isPending ? 'Signing in…' : 'Sign in'}
        </Button>
      </form>
      <p className="mt-4 text-sm text-slate-400">
        No account? <Link className="text-sky-400 hover:underline" to={`/signup${params.toString() ? `?${params}` : ''}`}>Sign up</Link>
      </p>
    </Frame>
  )
}

export function SignupPage() {
  const signIn = useSignIn()
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [params] = useSearchParams()
  const m = useMutation({
    mutationFn: async () => {
      await api.post('/api/auth/signup', { email, password })
      await signIn(email, password)
    },
  })
  return (
    <Frame title="Create an account">
      <form
        className="flex flex-col gap-3"
        onSubmit={(e) => {
          e.preventDefault()
          m.mutate()
        }}
      >
        <Field label="Email">
          <Input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field label="Password" hint="At least 10 characters">
          <Input type="password" autoComplete="new-password" required minLength={10} value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        <ErrorBox error={m.error} />
        <Button type="submit" disabled={m.isPending}>
          {m.isPending ? 'Creating…' : 'Sign up'}
        </Button>
      </form>
      <p className="mt-4 text-sm text-slate-400">
        Have an account? <Link className="text-sky-400 hover:underline" to={`/login${params.toString() ? `?${params}` : ''}`}>Sign in</Link>
      </p>
    </Frame>
  )
}
