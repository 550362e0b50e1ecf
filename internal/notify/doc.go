// Package notify sends on-call messages ("Down done, reboot now", "Up done",
// "host X failed", "awaiting approval") to chat, e-mail and webhooks, through
// github.com/nicholas-fedor/shoutrrr (the maintained fork of the library
// kured uses): one URL per destination, e.g.
//
//	slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook
//	mattermost://mattermost.example.org/token/oncall
//	teams://group@tenant/altId/groupOwner/extraId?host=example.webhook.office.com
//	smtp://user:pass@smtp.example.org:587/?fromaddress=vobox@example.org&toaddresses=oncall@example.org
//	generic+https://hooks.example.org/vobox?template=json
//
// The URLs live in a Secret (they hold tokens): ParseURLs reads its "url"
// key, one URL per line.
//
// A notification never holds up or fails what it reports: Notifier.Send
// returns within its timeout whatever the endpoints do, and the caller
// records the error (an event, a log line) and goes on. Every outcome is
// counted in vobox_notifications_total{result}.
//
// Errors never carry a URL's credentials: a destination is named by its
// line number and service, and any URL in an underlying error is cut to its
// scheme.
package notify
