package notify

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseURLs(t *testing.T) {
	t.Parallel()
	valid := []string{
		"slack://hook:WNA3PBYV6-F20DUQND3RQ-Webc4MAvoacrpPakR8phF0zi@webhook",
		"slack://xoxb:123456789012-1234567890123-4mt0t4l1YL3g1T5L4cK70k3N@C001CH4NN3L",
		"mattermost://mattermost.example.org/" + token + "/oncall",
		"teams://11111111-4444-4444-8444-cccccccccccc@22222222-4444-4444-8444-cccccccccccc/33333333012222222222333333333344/44444444-4444-4444-8444-cccccccccccc/V2ESyij_gAljSoUQHvZoZYzlpAoAXExyOl26dlf1xHEx05?host=contoso.webhook.office.com",
		"smtp://vobox:" + token + "@smtp.example.org:587/?fromaddress=vobox@example.org&toaddresses=oncall@example.org,lead@example.org",
		"generic+https://hooks.example.org/vobox/" + token + "?template=json",
		"generic://hooks.example.org/vobox?disabletls=yes",
	}
	urls, err := ParseURLs([]byte("# on-call\n\n  " + strings.Join(valid, "\r\n") + "  \n# end\n"))
	if err != nil {
		t.Fatalf("ParseURLs: %v", err)
	}
	wantServices := []string{"slack", "slack", "mattermost", "teams", "smtp", "generic", "generic"}
	if len(urls) != len(wantServices) {
		t.Fatalf("got %d URLs, want %d", len(urls), len(wantServices))
	}
	for i, u := range urls {
		if u.Service != wantServices[i] || u.Line != i+3 {
			t.Errorf("URL %d = line %d service %s, want line %d %s", i, u.Line, u.Service, i+3, wantServices[i])
		}
		if strings.Contains(u.String(), token) || strings.Contains(fmt.Sprint(u), "example.org") {
			t.Errorf("URL %d prints its address: %s", i, u)
		}
	}

	many := strings.Repeat("generic://h.example.org/x\n", MaxURLs+1)
	for _, tc := range []struct {
		name, data, message string
	}{
		{"empty", "", `key "url" holds no URL`},
		{"comments only", "# nothing\n\n", `key "url" holds no URL`},
		{"not a URL", "generic://h/x\nhooks.example.org/" + token, `key "url" line 2: not a URL`},
		{"unknown service", "gopher://" + token + "@h/x", `key "url" line 1: invalid gopher URL`},
		{"invalid slack", "slack://" + token, `key "url" line 1: invalid slack URL`},
		{"too long", "generic://h/" + strings.Repeat("x", maxURLLength), "longer than"},
		{"too many", many, fmt.Sprintf("more than %d URLs", MaxURLs)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseURLs([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("ParseURLs = %v, want an error saying %q", err, tc.message)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error shows the URL: %v", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`Post "https://hooks.slack.com/services/T0/B0/` + token + `": dial tcp: refused`: `Post "https://[redacted]": dial tcp: refused`,
		"slack://" + token + "@webhook: failed to convert custom URL":                    "slack://[redacted] failed to convert custom URL",
		"no URL here": "no URL here",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
