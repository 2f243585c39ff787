// Click-to-sort tables: a hook that keeps the sort column and direction, and a header cell
// with a keyboard-usable button and aria-sort.
import { useMemo, useState } from 'react'

export type SortDir = 'asc' | 'desc'

export function useSorted<T, K extends string>(
  rows: T[],
  value: (row: T, key: K) => number | string | null | undefined,
  initial: { key: K; dir: SortDir } | null = null,
) {
  const [sort, setSort] = useState<{ key: K; dir: SortDir } | null>(initial)
  const sorted = useMemo(() => {
    if (!sort) return rows
    const mul = sort.dir === 'asc' ? 1 : -1
    return [...rows].sort((a, b) => {
      const va = value(a, sort.key)
      const vb = value(b, sort.key)
      const na = va === null || va === undefined || (typeof va === 'number' && Number.isNaN(va))
      const nb = vb === null || vb === undefined || (typeof vb === 'number' && Number.isNaN(vb))
      if (na || nb) return na === nb ? 0 : na ? 1 : -1 // missing values last
      if (typeof va === 'number' && typeof vb === 'number') return (va - vb) * mul
      return String(va).localeCompare(String(vb)) * mul
    })
  }, [rows, sort])
  const toggle = (key: K) =>
    setSort((s) => (s && s.key === key ? { key, dir: s.dir === 'asc' ? 'desc' : 'asc' } : { key, dir: 'desc' }))
  return { sorted, sort, toggle }
}

export function SortHeader<K extends string>({
  label,
  k,
  sort,
  onSort,
  align = 'right',
}: {
  label: string
  k: K
  sort: { key: K; dir: SortDir } | null
  onSort: (k: K) => void
  align?: 'left' | 'right'
}) {
  const active = sort?.key === k
  const ariaSort = active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'
  return (
    <th scope="col" aria-sort={ariaSort} className={`px-2 py-1.5 font-medium ${align === 'right' ? 'text-right' : 'text-left'}`}>
      <button
        type="button"
        onClick={() => onSort(k)}
        className="inline-flex items-center gap-1 rounded px-1 text-slate-300 hover:text-white focus-visible:outline focus-visible:outline-sky-500"
      >
        {label}
        <span aria-hidden="true" className="text-xs text-slate-500">
          {active ? (sort.dir === 'asc' ? '▲' : '▼') : '↕'}
        </span>
      </button>
    </th>
  )
}
