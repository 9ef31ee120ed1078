package conn

import (
	"context"
	"time"
)

// progressKey keys the progress callback in a context.
type progressKey struct{}

type progressHook struct {
	every time.Duration
	fn    func(*Summary)
}

// WithProgress returns a context under which Execute reports the progress
// of a statement while it waits for the coordinator to finish it: about
// every interval (at least 100 ms) it fetches the exec summary
// (GetExecSummary) and calls fn with it, from the goroutine that called
// Execute. A shell draws its progress bar from [Summary.Progress]. A failed
// summary fetch is skipped silently; it never fails the statement.
func WithProgress(ctx context.Context, every time.Duration, fn func(*Summary)) context.Context {
	return context.WithValue(ctx, progressKey{}, &progressHook{every: max(every, 100*time.Millisecond), fn: fn})
}

// wantsProgress reports whether ctx carries a progress callback
// (WithProgress), which needs Execute to poll.
func wantsProgress(ctx context.Context) bool {
	return newProgressTicker(ctx).h != nil
}

// progressTicker calls the context's progress hook, if any, when its
// interval has passed since the last call.
type progressTicker struct {
	h    *progressHook
	next time.Time
}

func newProgressTicker(ctx context.Context) progressTicker {
	h, _ := ctx.Value(progressKey{}).(*progressHook)
	if h == nil || h.fn == nil {
		return progressTicker{}
	}
	return progressTicker{h: h, next: time.Now().Add(h.every)}
}

// tick fetches a summary with get and reports it when due.
func (t *progressTicker) tick(ctx context.Context, get func(context.Context) (*Summary, error)) {
	if t.h == nil || time.Now().Before(t.next) {
		return
	}
	t.next = time.Now().Add(t.h.every)
	if s, err := get(ctx); err == nil && s != nil {
		t.h.fn(s)
	}
}
