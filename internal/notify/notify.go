package notify

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/types"
	"github.com/prometheus/client_golang/prometheus"
)

// Results counted in vobox_notifications_total.
const (
	// ResultSent: the service accepted the message.
	ResultSent = "sent"
	// ResultFailed: the service refused it or could not be reached.
	ResultFailed = "failed"
	// ResultTimeout: no answer within the timeout (or the caller's context
	// ended first).
	ResultTimeout = "timeout"
	// ResultDropped: not sent because too many earlier sends still hang.
	ResultDropped = "dropped"
)

// ErrTimeout is wrapped by a *SendError whose destination did not answer in
// time.
var ErrTimeout = errors.New("notification timed out")

// ErrDropped is wrapped by a *SendError that was not attempted because
// Options.MaxInFlight sends were still running.
var ErrDropped = errors.New("notification dropped: too many sends in flight")

// Options tune a Notifier.
type Options struct {
	// Timeout bounds one Send; 0 means 10s.
	Timeout time.Duration
	// MaxInFlight bounds the sends running at once, those a timed-out Send
	// left behind included (some services use an HTTP client without a
	// deadline, so a hung endpoint holds its goroutine until the connection
	// dies); beyond it messages are dropped, never queued. 0 means 32.
	MaxInFlight int
}

// Notifier sends messages. It is safe for concurrent use.
type Notifier struct {
	timeout  time.Duration
	inFlight chan struct{}
	total    *prometheus.CounterVec
	newSend  func(raw string) (sendFunc, error)
}

// sendFunc sends one message to one destination.
type sendFunc func(message string, params *types.Params) error

// New returns a Notifier whose counter vobox_notifications_total{result} is
// registered on reg (none when nil).
func New(reg prometheus.Registerer, opts Options) (*Notifier, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 32
	}
	n := &Notifier{
		timeout:  opts.Timeout,
		inFlight: make(chan struct{}, opts.MaxInFlight),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vobox_notifications_total",
			Help: "Notifications by result: sent, failed, timeout or dropped.",
		}, []string{"result"}),
		newSend: shoutrrrSend,
	}
	for _, r := range []string{ResultSent, ResultFailed, ResultTimeout, ResultDropped} {
		n.total.WithLabelValues(r)
	}
	if reg != nil {
		if err := reg.Register(n.total); err != nil {
			return nil, fmt.Errorf("failed to register vobox_notifications_total: %w", err)
		}
	}
	return n, nil
}

func shoutrrrSend(raw string) (sendFunc, error) {
	r, err := newSender(raw)
	if err != nil {
		return nil, err
	}
	// The router's own timeout is not relied on: Send has its own.
	r.Timeout = 24 * time.Hour
	return func(message string, params *types.Params) error {
		return errors.Join(r.Send(message, params)...)
	}, nil
}

// SendError says that one destination did not get the message. Its text
// names the destination by line and service and holds no URL credentials.
type SendError struct {
	// URL is the destination.
	URL URL
	// Result is ResultFailed, ResultTimeout or ResultDropped.
	Result string
	// msg is the redacted cause.
	msg string
	// err is ErrTimeout, ErrDropped or nil.
	err error
}

func (e *SendError) Error() string {
	return fmt.Sprintf("notification to %s %s: %s", e.URL, e.Result, e.msg)
}

// Unwrap returns ErrTimeout or ErrDropped for those results, else nil: the
// service's own error may hold the URL and is not kept.
func (e *SendError) Unwrap() error { return e.err }

// outcome is what one destination's send came to.
type outcome struct {
	index int
	err   *SendError // nil when sent
}

// Send sends title and message to every destination at once and returns
// when all have answered, or when the Notifier's timeout or ctx ends,
// whichever comes first; it never blocks longer. The error joins one
// *SendError per destination that did not get the message; nil means all
// did. Each destination is counted once in vobox_notifications_total, with
// the result Send reports (an answer after the timeout is not counted
// again). The title is a subject or heading where the service has one
// (e-mail, Slack, Teams, generic JSON); Mattermost shows only the message,
// so the message should stand on its own.
func (n *Notifier) Send(ctx context.Context, urls []URL, title, message string) error {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	// Buffered so that a send finishing after Send returned never blocks.
	results := make(chan outcome, len(urls))
	pending := make(map[int]bool, len(urls))
	var errs []error
	for i, u := range urls {
		select {
		case n.inFlight <- struct{}{}:
		default:
			n.total.WithLabelValues(ResultDropped).Inc()
			errs = append(errs, &SendError{URL: u, Result: ResultDropped, msg: ErrDropped.Error(), err: ErrDropped})
			continue
		}
		pending[i] = true
		go func() {
			defer func() { <-n.inFlight }()
			results <- outcome{index: i, err: n.sendOne(u, title, message)}
		}()
	}
	for len(pending) > 0 {
		select {
		case o := <-results:
			delete(pending, o.index)
			if o.err != nil {
				n.total.WithLabelValues(ResultFailed).Inc()
				errs = append(errs, o.err)
			} else {
				n.total.WithLabelValues(ResultSent).Inc()
			}
		case <-ctx.Done():
			for i := range urls {
				if !pending[i] {
					continue
				}
				n.total.WithLabelValues(ResultTimeout).Inc()
				errs = append(errs, &SendError{URL: urls[i], Result: ResultTimeout, err: ErrTimeout,
					msg: fmt.Sprintf("no answer within %s (%v)", n.timeout, context.Cause(ctx))})
			}
			clear(pending)
		}
	}
	return errors.Join(errs...)
}

// sendOne sends to one destination and returns a *SendError if it failed.
func (n *Notifier) sendOne(u URL, title, message string) *SendError {
	send, err := n.newSend(u.raw)
	if err == nil {
		err = send(message, &types.Params{"title": title})
	}
	if err != nil {
		return &SendError{URL: u, Result: ResultFailed, msg: redact(err.Error())}
	}
	return nil
}

// urlPattern matches a URL in an error's text.
var urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]*`)

// redact cuts every URL in s to its scheme: the path, query, user and even
// host of a notification URL may be its token.
func redact(s string) string {
	return urlPattern.ReplaceAllStringFunc(s, func(u string) string {
		scheme, _, _ := strings.Cut(u, "://")
		return scheme + "://[redacted]"
	})
}
