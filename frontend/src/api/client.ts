// The one way the dashboard talks to `skeet serve`: same-origin fetch with the session
// cookie, the CSRF token on every state-changing request, and `{code, message}` errors
// turned into ApiError. Types come from the generated OpenAPI schema (src/api/schema.d.ts,
// `npm run gen:api`), never written by hand.
import type { components } from './schema'

export type Schemas = components['schemas']
export type User = Schemas['User']
export type Membership = Schemas['Membership']
export type Role = Schemas['Role']
export type Dataset = Schemas['Dataset']
export type Strategy = Schemas['Strategy']
export type StrategyVersion = Schemas['StrategyVersion']
export type Job = Schemas['Job']
export type JobState = Schemas['JobState']
export type Member = Schemas['Member']
export type Invitation = Schemas['Invitation']
export type Candles = Schemas['Candles']
export type Validation = Schemas['Validation']
export type SpecProblem = Schemas['SpecProblem']
export type Template = Schemas['Template']
export type BacktestBody = Schemas['BacktestBody']
export type OptimizeBody = Schemas['OptimizeBody']

/** An error answered by the API (or a network failure, status 0). */
export class ApiError extends Error {
  status: number
  code: string
  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

const CSRF_KEY = 'skeet.csrf'

/** Remembers the CSRF token of the session (the session itself is an HttpOnly cookie). */
export function setCsrf(token: string | null) {
  if (token) localStorage.setItem(CSRF_KEY, token)
  else localStorage.removeItem(CSRF_KEY)
}

export function csrf(): string {
  return localStorage.getItem(CSRF_KEY) ?? ''
}

async function parse<T>(res: Response): Promise<T> {
  if (res.status === 204) return undefined as T
  const text = await res.text()
  let body: unknown = undefined
  try {
    body = text ? JSON.parse(text) : undefined
  } catch {
    body = undefined
  }
  if (!res.ok) {
    const e = body as { code?: string; message?: string } | undefined
    throw new ApiError(res.status, e?.code ?? 'error', e?.message ?? `HTTP ${res.status}`)
  }
  return body as T
}

async function request<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: {
        ...(body !== undefined && !(body instanceof Blob) && typeof body !== 'string' ? { 'Content-Type': 'application/json' } : {}),
        ...(method !== 'GET' ? { 'X-CSRF-Token': csrf() } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : body instanceof Blob || typeof body === 'string' ? body : JSON.stringify(body),
    })
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check that SKEET is running.')
  }
  return parse<T>(res)
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown, headers?: Record<string, string>) => request<T>('POST', path, body, headers),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, body),
  patch: <T>(path: string, body?: unknown) => request<T>('PATCH', path, body),
  del: <T>(path: string) => request<T>('DELETE', path),
}

/** Query-string helper that leaves out empty values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v))
  const s = p.toString()
  return s ? `?${s}` : ''
}

/** Uploads a file with progress (fetch cannot report upload progress). */
export function upload<T>(path: string, file: Blob, onProgress: (fraction: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', path)
    xhr.withCredentials = true
    xhr.setRequestHeader('Content-Type', 'text/csv')
    xhr.setRequestHeader('X-CSRF-Token', csrf())
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total)
    }
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload failed: the server cannot be reached.'))
    xhr.onload = () => {
      let body: { code?: string; message?: string } | undefined
      try {
        body = JSON.parse(xhr.responseText)
      } catch {
        body = undefined
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as T)
      else reject(new ApiError(xhr.status, body?.code ?? 'error', body?.message ?? `HTTP ${xhr.status}`))
    }
    xhr.send(file)
  })
}

/** A page of items as the API lists them. */
export type Page<T> = { items: T[]; limit: number; offset: number }
