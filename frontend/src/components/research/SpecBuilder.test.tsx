import { fireEvent, render, screen } from '@testing-library/react'
import { useState } from 'react'
import { describe, expect, it, vi } from 'vitest'
import { SpecBuilder } from './SpecBuilder'
import { minimalSpec, type Spec } from './spec'

function Harness({ initial, onSpec, readOnly }: { initial: Spec; onSpec: (s: Spec) => void; readOnly?: boolean }) {
  const [spec, setSpec] = useState(initial)
  return (
    <SpecBuilder
      spec={spec}
      readOnly={readOnly}
      onChange={(s) => {
        setSpec(s)
        onSpec(s)
      }}
    />
  )
}

describe('SpecBuilder', () => {
  it('shows the rules of an existing spec', () => {
    render(<Harness initial={minimalSpec('t')} onSpec={() => {}} />)
    expect(screen.getByLabelText('entry.long condition 1 left operand')).toHaveValue('fast_ma')
    expect(screen.getByLabelText('entry.long condition 1 operator')).toHaveValue('crossover')
    expect(screen.getByLabelText('entry.long condition 1 right operand')).toHaveValue('slow_ma')
    expect(screen.getByLabelText('Indicator 1 expression')).toHaveValue('sma(close, $fast)')
    expect(screen.getByLabelText('Parameter 2 max')).toHaveValue('200')
  })

  it('editing a condition updates the spec', () => {
    const onSpec = vi.fn()
    render(<Harness initial={minimalSpec('t')} onSpec={onSpec} />)
    fireEvent.change(screen.getByLabelText('entry.long condition 1 operator'), { target: { value: '>' } })
    expect(onSpec).toHaveBeenLastCalledWith(expect.objectContaining({ entry: { long: 'fast_ma > slow_ma' } }))
    fireEvent.change(screen.getByLabelText('entry.long condition 1 right operand'), { target: { value: '$slow' } })
    expect((onSpec.mock.lastCall![0] as Spec).entry).toEqual({ long: 'fast_ma > $slow' })
  })

  it('adds a condition, switches to OR, and adds a short rule', () => {
    const onSpec = vi.fn()
    render(<Harness initial={minimalSpec('t')} onSpec={onSpec} />)
    fireEvent.click(screen.getByRole('button', { name: 'Add condition to entry.long' }))
    fireEvent.change(screen.getByLabelText('entry.long condition 2 left operand'), { target: { value: 'close' } })
    fireEvent.change(screen.getByLabelText('entry.long condition 2 operator'), { target: { value: '>' } })
    fireEvent.change(screen.getByLabelText('entry.long condition 2 right operand'), { target: { value: '100' } })
    expect((onSpec.mock.lastCall![0] as Spec).entry).toEqual({ long: 'crossover(fast_ma, slow_ma) and close > 100' })
    fireEvent.change(screen.getByLabelText('entry.long join'), { target: { value: 'or' } })
    expect((onSpec.mock.lastCall![0] as Spec).entry).toEqual({ long: 'crossover(fast_ma, slow_ma) or close > 100' })
    fireEvent.click(screen.getByRole('button', { name: 'Add condition to entry.short' }))
    const last = onSpec.mock.lastCall![0] as Spec
    expect(last.entry).toEqual({ long: 'crossover(fast_ma, slow_ma) or close > 100', short: 'crossover(fast_ma, slow_ma)' })
  })

  it('keeps rules it cannot parse as editable custom text', () => {
    const onSpec = vi.fn()
    const spec: Spec = { version: 1, name: 'x', entry: { long: 'close > highest(high, 20)[1] and rsi < 30' } }
    render(<Harness initial={spec} onSpec={onSpec} />)
    const custom = screen.getByLabelText('entry.long condition 1 custom expression')
    expect(custom).toHaveValue('close > highest(high, 20)[1]')
    expect(screen.getByLabelText('entry.long condition 2 left operand')).toHaveValue('rsi')
    fireEvent.change(custom, { target: { value: 'close > highest(high, 50)[1]' } })
    expect((onSpec.mock.lastCall![0] as Spec).entry).toEqual({ long: 'close > highest(high, 50)[1] and rsi < 30' })
  })

  it('edits parameters and indicators', () => {
    const onSpec = vi.fn()
    render(<Harness initial={minimalSpec('t')} onSpec={onSpec} />)
    fireEvent.change(screen.getByLabelText('Parameter 1 default'), { target: { value: '12' } })
    expect((onSpec.mock.lastCall![0] as Spec).parameters).toEqual({
      fast: { int: [2, 50], step: 1, default: 12 },
      slow: { int: [10, 200], step: 10, default: 30 },
    })
    fireEvent.change(screen.getByLabelText('Indicator 2 name'), { target: { value: 'slow' } })
    expect((onSpec.mock.lastCall![0] as Spec).indicators).toEqual({ fast_ma: 'sma(close, $fast)', slow: 'sma(close, $slow)' })
  })

  it('is read-only for viewers', () => {
    render(<Harness initial={minimalSpec('t')} onSpec={() => {}} readOnly />)
    expect(screen.getByLabelText('entry.long condition 1 left operand')).toBeDisabled()
    expect(screen.queryByRole('button', { name: /Add condition/ })).toBeNull()
  })
})
