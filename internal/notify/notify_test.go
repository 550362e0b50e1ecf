package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// token stands for the credentials a notification URL holds; no error may
// show it.
const token = "s3cr3t-T0K3N"

// hook is a local HTTP endpoint on 127.0.0.1 that records what it gets.
type hook struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
}

type request struct {
	path, contentType string
	body              []byte
}

func newHook(t *testing.T, handler func(w http.ResponseWriter, r *http.Request)) *hook {
	t.Helper()
	h := &hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.requests = append(h.requests, request{path: r.URL.Path, contentType: r.Header.Get("Content-Type"), body: body})
		h.mu.Unlock()
		if handler != nil {
			handler(w, r)
		}
	}))
	t.Cleanup(h.Close)
	if !strings.HasPrefix(h.URL, "http://127.0.0.1:") {
		t.Fatalf("test server not on 127.0.0.1: %s", h.URL)
	}
	return h
}

// newHungHook is an endpoint that never answers until release is called
// (at the latest when the test ends, before the server closes: Close waits
// for handlers).
func newHungHook(t *testing.T) (h *hook, release func()) {
	t.Helper()
	ch := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	h = newHook(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-ch:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(release) // runs before the server's Close, registered earlier
	return h, release
}

func (h *hook) host() string { return strings.TrimPrefix(h.URL, "http://") }

func (h *hook) got() []request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]request(nil), h.requests...)
}

func mustParse(t *testing.T, lines ...string) []URL {
	t.Helper()
	urls, err := ParseURLs([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatalf("ParseURLs: %v", err)
	}
	return urls
}

func newNotifier(t *testing.T, opts Options) (*Notifier, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	n, err := New(reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return n, reg
}

func count(n *Notifier, result string) float64 {
	return testutil.ToFloat64(n.total.WithLabelValues(result))
}

// TestSendGenericAndMattermost sends one message to a generic webhook and
// to Mattermost (its host pointed at a local server) and checks what
// arrived.
func TestSendGenericAndMattermost(t *testing.T) {
	t.Parallel()
	generic := newHook(t, nil)
	mattermost := newHook(t, nil)
	urls := mustParse(t,
		"# on-call",
		"generic+"+generic.URL+"/vobox/"+token+"?template=json",
		"",
		"mattermost://"+mattermost.host()+"/"+token+"/oncall?disabletls=yes\r",
	)
	n, reg := newNotifier(t, Options{Timeout: 10 * time.Second})
	const title, message = "power-stop: Down done", "power-stop: all 11 hosts are down; reboot now."
	if err := n.Send(context.Background(), urls, title, message); err != nil {
		t.Fatalf("Send: %v", err)
	}

	g := generic.got()
	if len(g) != 1 || g[0].path != "/vobox/"+token || !strings.HasPrefix(g[0].contentType, "application/json") {
		t.Fatalf("generic webhook got %+v", g)
	}
	var payload map[string]string
	if err := json.Unmarshal(g[0].body, &payload); err != nil || payload["title"] != title || payload["message"] != message {
		t.Errorf("generic payload %s (%v), want title and message", g[0].body, err)
	}

	m := mattermost.got()
	if len(m) != 1 || m[0].path != "/hooks/"+token {
		t.Fatalf("mattermost got %+v", m)
	}
	var mm struct{ Text, Channel string }
	if err := json.Unmarshal(m[0].body, &mm); err != nil || mm.Text != message || mm.Channel != "oncall" {
		t.Errorf("mattermost payload %s (%v)", m[0].body, err)
	}

	if got := count(n, ResultSent); got != 2 {
		t.Errorf("sent = %v, want 2", got)
	}
	if got, err := testutil.GatherAndCount(reg, "vobox_notifications_total"); err != nil || got != 4 {
		t.Errorf("vobox_notifications_total series = %d (%v), want one per result", got, err)
	}
}

// TestSendFailures: a refusing endpoint, a closed port and a hung endpoint
// each give their SendError, the healthy destination still gets the
// message, Send returns within its timeout, and no error shows the token.
func TestSendFailures(t *testing.T) {
	t.Parallel()
	ok := newHook(t, nil)
	refusing := newHook(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no such hook "+token, http.StatusInternalServerError)
	})
	hung, _ := newHungHook(t)
	closed := closedPort(t)
	urls := mustParse(t,
		"generic+"+ok.URL+"/"+token,
		"generic+"+refusing.URL+"/"+token,
		"mattermost://"+closed+"/"+token+"?disabletls=yes",
		"generic+"+hung.URL+"/"+token,
	)
	const timeout = 500 * time.Millisecond
	n, _ := newNotifier(t, Options{Timeout: timeout})

	start := time.Now()
	err := n.Send(context.Background(), urls, "t", "m")
	took := time.Since(start)
	if took > timeout+time.Second {
		t.Errorf("Send took %s with a %s timeout", took, timeout)
	}
	var sendErrs []*SendError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var se *SendError
		if !errors.As(e, &se) {
			t.Fatalf("%T %v is not a SendError", e, e)
		}
		sendErrs = append(sendErrs, se)
	}
	want := map[int]string{2: ResultFailed, 3: ResultFailed, 4: ResultTimeout}
	if len(sendErrs) != len(want) {
		t.Fatalf("Send = %v, want %d errors", err, len(want))
	}
	for _, se := range sendErrs {
		if want[se.URL.Line] != se.Result {
			t.Errorf("line %d: result %s, want %s (%v)", se.URL.Line, se.Result, want[se.URL.Line], se)
		}
	}
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("Send = %v, want it to wrap ErrTimeout", err)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "/hooks/") {
		t.Errorf("error shows the URL: %v", err)
	}
	if !strings.Contains(err.Error(), "url line 3 (mattermost) failed") {
		t.Errorf("error does not name the destination: %v", err)
	}
	if len(ok.got()) != 1 {
		t.Errorf("the healthy endpoint got %d requests", len(ok.got()))
	}
	for result, want := range map[string]float64{ResultSent: 1, ResultFailed: 2, ResultTimeout: 1, ResultDropped: 0} {
		if got := count(n, result); got != want {
			t.Errorf("%s = %v, want %v", result, got, want)
		}
	}
}

// TestSendDropsBeyondMaxInFlight: sends left hanging by a timeout hold
// their slot, so new ones are dropped at once rather than piling up.
func TestSendDropsBeyondMaxInFlight(t *testing.T) {
	t.Parallel()
	hung, release := newHungHook(t)
	urls := mustParse(t, "generic+"+hung.URL+"/x")
	n, _ := newNotifier(t, Options{Timeout: 100 * time.Millisecond, MaxInFlight: 1})
	if err := n.Send(context.Background(), urls, "t", "m"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("first Send = %v, want a timeout", err)
	}
	start := time.Now()
	if err := n.Send(context.Background(), urls, "t", "m"); !errors.Is(err, ErrDropped) {
		t.Fatalf("second Send = %v, want dropped", err)
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Errorf("a dropped Send took %s", took)
	}
	release()
	// Once the hung send returns, its slot is free again.
	deadline := time.Now().Add(5 * time.Second)
	for len(n.inFlight) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := n.Send(context.Background(), urls, "t", "m"); err != nil {
		t.Errorf("Send after the hung one returned = %v", err)
	}
	if got := count(n, ResultDropped); got != 1 {
		t.Errorf("dropped = %v, want 1", got)
	}
}

// TestSendHonoursContext: the caller's context ends Send early.
func TestSendHonoursContext(t *testing.T) {
	t.Parallel()
	hung, _ := newHungHook(t)
	n, _ := newNotifier(t, Options{Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := n.Send(ctx, mustParse(t, "generic+"+hung.URL+"/x"), "t", "m")
	if !errors.Is(err, ErrTimeout) || time.Since(start) > 2*time.Second {
		t.Errorf("Send = %v after %s", err, time.Since(start))
	}
}

func TestNewRegisters(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg, Options{}); err == nil {
		t.Error("a second Notifier registered the same counter")
	}
	if _, err := New(nil, Options{}); err != nil {
		t.Errorf("New(nil) = %v", err)
	}
}

// closedPort returns 127.0.0.1:port where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}
