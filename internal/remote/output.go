package remote

import "sync"

// DefaultMaxOutputBytes is the default cap on each of stdout and stderr.
const DefaultMaxOutputBytes = 64 << 10

// tailBuffer keeps the last max bytes written to it. It is safe for
// concurrent use, so that a command abandoned on timeout can be read while the
// SSH library still writes into it.
type tailBuffer struct {
	mu        sync.Mutex
	max       int
	buf       []byte
	truncated bool
}

func newTailBuffer(maxBytes int) *tailBuffer {
	return &tailBuffer{max: maxBytes}
}

// Write never fails: output beyond the cap drops the oldest bytes.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.max {
		t.truncated = t.truncated || len(t.buf) > 0 || len(p) > t.max
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	t.buf = append(t.buf, p...)
	// Compact only when the buffer doubles the cap, so that a stream of small
	// writes costs amortised O(1) per byte.
	if len(t.buf) > 2*t.max {
		t.compact()
	}
	return n, nil
}

func (t *tailBuffer) compact() {
	if len(t.buf) > t.max {
		t.truncated = true
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
}

// bytes returns a copy of the kept tail and whether anything was dropped.
func (t *tailBuffer) bytes() ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.compact()
	if len(t.buf) == 0 {
		return nil, t.truncated
	}
	return append([]byte(nil), t.buf...), t.truncated
}
