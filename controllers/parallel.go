package controllers

import (
	"errors"
	"sync"
)

// The one bounded-parallel loop of the controller: the hosts of a tier, the
// preflight probes and the Lease requests all go through it.

// inParallel runs fn(0..n-1) with at most limit at once and joins the errors.
func inParallel(n, limit int, fn func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
