package remote

import (
	"context"
	"errors"
)

// Fake is an Executor for other packages' unit tests. Each call is handed to
// RunFunc, which can inspect the target and argv and return whatever the test
// needs, including the typed errors of this package.
type Fake struct {
	// RunFunc implements Run. A nil RunFunc makes Run fail.
	RunFunc func(ctx context.Context, target Target, cmd Command) (Result, error)
}

var _ Executor = (*Fake)(nil)

// Run calls f.RunFunc.
func (f *Fake) Run(ctx context.Context, target Target, cmd Command) (Result, error) {
	if f.RunFunc == nil {
		return Result{}, errors.New("remote.Fake: RunFunc is nil")
	}
	return f.RunFunc(ctx, target, cmd)
}
