package balancer

import "sync"

// tasks counts goroutines started for background work (resets and closes
// after Release) so that Close can wait for them. Unlike a
// sync.WaitGroup, work may start while Close waits: a session released
// after Close is still closed, and waited for.
type tasks struct {
	mu   sync.Mutex
	n    int
	cond *sync.Cond // signalled when n drops to zero; uses mu
}

// goDo runs fn on a goroutine of its own, counted.
func (t *tasks) goDo(fn func()) {
	t.mu.Lock()
	if t.cond == nil {
		t.cond = sync.NewCond(&t.mu)
	}
	t.n++
	t.mu.Unlock()
	go func() {
		defer t.done()
		fn()
	}()
}

func (t *tasks) done() {
	t.mu.Lock()
	t.n--
	if t.n == 0 {
		t.cond.Broadcast()
	}
	t.mu.Unlock()
}

// wait blocks until no task runs.
func (t *tasks) wait() {
	t.mu.Lock()
	for t.n > 0 {
		t.cond.Wait()
	}
	t.mu.Unlock()
}
