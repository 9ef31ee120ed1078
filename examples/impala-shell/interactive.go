package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// ctrlCReader notes whether a Ctrl-C byte went by, because term.Terminal
// reports Ctrl-C and Ctrl-D on an empty line both as io.EOF.
type ctrlCReader struct {
	r    io.Reader
	seen atomic.Bool
}

func (c *ctrlCReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if bytes.IndexByte(p[:n], 3) >= 0 {
		c.seen.Store(true)
	}
	return n, err
}

// runInteractive is the read-eval-print loop on a terminal. The terminal is
// in raw mode only while a line is read, so that Ctrl-C during a statement
// arrives as SIGINT and cancels the statement, not the shell.
func runInteractive(ctx context.Context, sh *shell, stdin *os.File, stdout, stderr io.Writer) int {
	fd := int(stdin.Fd())
	fmt.Fprintf(stderr, "impalalb impala-shell: balancing over %s with %s. Type help; for commands, quit; to exit.\n",
		describeCoordinators(sh.pool), sh.opts.balance)
	sh.progress = progressReporter(stderr)
	if _, err := sh.connect(ctx); err != nil {
		fmt.Fprintf(stderr, "ERROR: %s\n", err)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)

	cr := &ctrlCReader{r: stdin}
	rw := struct {
		io.Reader
		io.Writer
	}{cr, stdout}
	t := term.NewTerminal(rw, "")
	var buf string
	for {
		if ctx.Err() != nil {
			return 0
		}
		prompt := sh.prompt()
		if buf != "" {
			prompt = strings.Repeat(" ", max(len(prompt)-2, 0)) + "> "
		}
		t.SetPrompt(prompt)
		old, err := term.MakeRaw(fd)
		if err != nil {
			fmt.Fprintf(stderr, "ERROR: terminal: %v\n", err)
			return 1
		}
		line, rerr := t.ReadLine()
		_ = term.Restore(fd, old)
		if rerr == io.EOF {
			if cr.seen.Swap(false) {
				// Ctrl-C at the prompt drops what was typed.
				fmt.Fprintln(stdout, "^C")
				buf = ""
				h := t.History
				t = term.NewTerminal(rw, "")
				t.History = h
				continue
			}
			fmt.Fprintln(stdout, "Goodbye")
			return 0
		}
		if rerr != nil && !errors.Is(rerr, term.ErrPasteIndicator) {
			fmt.Fprintf(stderr, "ERROR: terminal: %v\n", rerr)
			return 1
		}
		if buf == "" {
			// Shell commands of one word need no ';'.
			switch w := strings.ToLower(strings.TrimSpace(line)); w {
			case "quit", "exit":
				fmt.Fprintln(stdout, "Goodbye")
				return 0
			case "help", "summary", "profile", "set", "connect":
				line += ";"
			}
		}
		buf += line + "\n"
		raws, rest, pending := splitRaw(buf)
		buf = ""
		if pending {
			buf = rest
		}
		for _, raw := range raws {
			st, err := sh.prepare(raw)
			if err != nil {
				fmt.Fprintf(stderr, "ERROR: %s\n", err)
				continue
			}
			if st == "" {
				continue
			}
			err = runCancellable(ctx, sigs, func(ctx context.Context) error { return sh.runStatement(ctx, st) })
			if errors.Is(err, errQuit) {
				fmt.Fprintln(stdout, "Goodbye")
				return 0
			}
			if err != nil {
				fmt.Fprintf(stderr, "ERROR: %s\n", err)
			}
		}
	}
}

// runCancellable runs fn with a context that SIGINT (Ctrl-C) cancels.
func runCancellable(ctx context.Context, sigs <-chan os.Signal, fn func(context.Context) error) error {
	for len(sigs) > 0 { // forget a Ctrl-C from before
		<-sigs
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-sigs:
			cancel()
		case <-done:
		}
	}()
	err := fn(ctx)
	close(done)
	wg.Wait()
	return err
}

// prompt is impala-shell's: the coordinator and the database.
func (sh *shell) prompt() string {
	c := sh.coordinator()
	if c == "" {
		return "[Not connected] > "
	}
	db := sh.db
	if db == "" {
		db = "default"
	}
	return fmt.Sprintf("[%s] %s> ", c, db)
}

// progressDelay is how long a statement runs before its progress line shows.
const progressDelay = time.Second

// progressReporter returns a function that, for each statement, draws a
// progress line on w once the statement has run for progressDelay, and
// erases it when the returned stop function is called. update feeds it the
// completed fraction from the coordinator's exec summary (negative:
// unknown, the bar sweeps).
func progressReporter(w io.Writer) func(coord string) (update func(float64), stop func()) {
	return func(coord string) (func(float64), func()) {
		done := make(chan struct{})
		var frac atomic.Uint64
		frac.Store(math.Float64bits(-1))
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			delay := time.NewTimer(progressDelay)
			defer delay.Stop()
			select {
			case <-done:
				return
			case <-delay.C:
			}
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				fmt.Fprintf(w, "\r%s", progressLine(time.Since(start), math.Float64frombits(frac.Load()), coord))
				select {
				case <-done:
					fmt.Fprint(w, "\r\x1b[K")
					return
				case <-tick.C:
				}
			}
		}()
		update := func(f float64) { frac.Store(math.Float64bits(f)) }
		stop := func() {
			close(done)
			wg.Wait()
		}
		return update, stop
	}
}

// progressBarWidth is the inside width of the progress bar.
const progressBarWidth = 30

// progressLine draws "Query progress: [#####     ] 50% 3.2s on coord".
// A negative frac (progress unknown) draws a block sweeping the bar.
func progressLine(elapsed time.Duration, frac float64, coord string) string {
	bar := make([]byte, progressBarWidth)
	for i := range bar {
		bar[i] = ' '
	}
	pct := ""
	if frac >= 0 {
		if frac > 1 {
			frac = 1
		}
		n := int(frac * progressBarWidth)
		for i := 0; i < n; i++ {
			bar[i] = '#'
		}
		pct = fmt.Sprintf(" %3.0f%%", frac*100)
	} else {
		const block = 6
		steps := 2 * (progressBarWidth - block)
		pos := int(elapsed/(100*time.Millisecond)) % steps
		if pos >= progressBarWidth-block {
			pos = steps - pos
		}
		for i := pos; i < pos+block; i++ {
			bar[i] = '='
		}
	}
	return fmt.Sprintf("Query progress: [%s]%s %.1fs on %s (Ctrl-C cancels)", bar, pct, elapsed.Seconds(), coord)
}
