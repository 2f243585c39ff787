import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { act, fireEvent, render, screen } from '@testing-library/react'
import { MemoryRouter, Route, Routes } from 'react-router'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '../../api/client'
import { WorkspaceProvider, type Me } from '../../session'
import { UploadForm } from './Datasets'

const uploadMock = vi.hoisted(() => vi.fn())
vi.mock('../../api/client', async (orig) => ({ ...(await orig<typeof import('../../api/client')>()), upload: uploadMock }))

const me: Me = {
  user: { id: 'u1', email: 'a@b.c', is_admin: false, created_at: 0 },
  workspaces: [{ workspace_id: 'w1', name: 'Mine', role: 'analyst', personal: true }],
  totp_enabled: false,
}

function renderForm() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } })
  render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={['/w/w1/datasets']}>
        <Routes>
          <Route
            path="/w/:ws/datasets"
            element={
              <WorkspaceProvider me={me}>
                <UploadForm />
              </WorkspaceProvider>
            }
          />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  )
}

function fill() {
  const file = new File(['time,open,high,low,close,volume\n'], 'bars.csv', { type: 'text/csv' })
  fireEvent.change(screen.getByLabelText(/CSV file/), { target: { files: [file] } })
  fireEvent.change(screen.getByLabelText(/^Symbol/), { target: { value: 'ETH/USDT' } })
  fireEvent.change(screen.getByLabelText(/If the series exists/), { target: { value: 'merge' } })
  return file
}

describe('UploadForm', () => {
  beforeEach(() => {
    uploadMock.mockReset()
  })

  it('uploads with progress to the workspace, with the chosen settings', async () => {
    let finish: (v: unknown) => void = () => {}
    uploadMock.mockImplementation((_path: string, _file: Blob, onProgress: (f: number) => void) => {
      onProgress(0.4)
      return new Promise((r) => (finish = r))
    })
    renderForm()
    const file = fill()
    fireEvent.submit(screen.getByRole('form', { name: 'Upload a CSV' }))
    expect(await screen.findByRole('progressbar', { name: 'Upload progress' })).toHaveAttribute('aria-valuenow', '40')
    expect(uploadMock.mock.calls[0]).toEqual(['/api/workspaces/w1/datasets/upload?symbol=ETH%2FUSDT&timeframe=1d&mode=merge', file, expect.any(Function)])
    await act(async () => finish({ name: 'ETH/USDT 1d', bars: 3 }))
    expect(await screen.findByText(/Uploaded ETH\/USDT 1d \(3 bars\)/)).toBeInTheDocument()
    expect(screen.queryByRole('progressbar')).toBeNull()
  })

  it('shows the server error naming the CSV line', async () => {
    uploadMock.mockRejectedValue(new ApiError(400, 'bad_request', "line 3: has 2 fields, but column 'high' is field 3"))
    renderForm()
    fill()
    fireEvent.submit(screen.getByRole('form', { name: 'Upload a CSV' }))
    expect(await screen.findByRole('alert')).toHaveTextContent("line 3: has 2 fields, but column 'high' is field 3")
  })
})
