package notify

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"
)

const (
	// SecretKeyURL is the key of spec.notify.urlSecretRef's Secret that
	// holds the URLs, one per line.
	SecretKeyURL = "url"
	// MaxURLs bounds the destinations of one intervention.
	MaxURLs = 16
	// maxURLLength bounds one line.
	maxURLLength = 2048
)

// URL is one notification destination.
type URL struct {
	// Line is the URL's line number in the Secret, which names it in errors
	// and logs since the URL itself holds credentials.
	Line int
	// Service is the shoutrrr service, e.g. "slack" or "generic".
	Service string
	// raw is the URL as written.
	raw string
}

// String names the destination without its credentials.
func (u URL) String() string { return fmt.Sprintf("url line %d (%s)", u.Line, u.Service) }

// ParseURLs parses the value of the Secret key SecretKeyURL: one URL per
// line, surrounding blanks trimmed, empty lines and lines starting with '#'
// skipped. Each must be a URL of a service shoutrrr supports, with a valid
// configuration for it. An error names the line and the service, never the
// URL. No URL at all is an error.
func ParseURLs(data []byte) ([]URL, error) {
	var urls []URL
	for n, line := range bytes.Split(data, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		u, err := parseURL(n+1, s)
		if err != nil {
			return nil, err
		}
		if len(urls) == MaxURLs {
			return nil, fmt.Errorf("key %q: more than %d URLs", SecretKeyURL, MaxURLs)
		}
		urls = append(urls, u)
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("key %q holds no URL", SecretKeyURL)
	}
	return urls, nil
}

func parseURL(line int, s string) (URL, error) {
	u := URL{Line: line, raw: s}
	if len(s) > maxURLLength {
		return u, fmt.Errorf("key %q line %d: longer than %d bytes", SecretKeyURL, line, maxURLLength)
	}
	scheme, _, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return u, fmt.Errorf("key %q line %d: not a URL (want service://...)", SecretKeyURL, line)
	}
	u.Service, _, _ = strings.Cut(strings.ToLower(scheme), "+")
	if _, err := newSender(s); err != nil {
		return u, fmt.Errorf("key %q line %d: invalid %s URL: %s", SecretKeyURL, line, u.Service, redact(err.Error()))
	}
	return u, nil
}

// newSender builds a router for one URL. A router is made per send: a
// service's configuration is updated by the parameters of each message, so
// one router may not serve two sends at once.
func newSender(raw string) (*router.ServiceRouter, error) {
	return router.New(nil, raw)
}
