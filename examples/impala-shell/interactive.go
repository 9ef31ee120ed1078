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

	"github.com/impalalb/impalalb/conn"
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
	if sh.verbose {
		fmt.Fprintf(stdout, "%s\n%s\n(%s)\nBalancing over %s with %s.\nType help; for the commands, quit; to leave.\n%s\n",
			welcomeRule, "Welcome to the Impala shell.", versionString, describeCoordinators(sh.pool), sh.opts.balance, welcomeRule)
	}
	sh.progress = progressReporter(stderr, sh)
	sh.history = loadHistory(expandHome(sh.opts.historyFile), sh.opts.historyMax, stderr)
	defer sh.history.save(stderr)
	sh.startup(ctx)
	for _, q := range sh.queue {
		sh.onecmd(ctx, sanitise(q))
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	sh.sigint = sigs

	cr := &ctrlCReader{r: stdin}
	rw := struct {
		io.Reader
		io.Writer
	}{cr, stdout}
	t := term.NewTerminal(rw, "")
	t.History = sh.history
	var buf string
	lines := 0 // lines of buf, each its own history entry until the statement is complete
	for !sh.quit {
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
		if errors.Is(rerr, io.EOF) {
			if cr.seen.Swap(false) {
				// Ctrl-C at the prompt drops what was typed.
				fmt.Fprintln(stderr, "^C")
				sh.history.dropLast(lines)
				buf, lines = "", 0
				t = term.NewTerminal(rw, "")
				t.History = sh.history
				continue
			}
			if buf != "" {
				// Ctrl-D in a statement drops it.
				fmt.Fprint(stdout, "\n\n")
				sh.history.dropLast(lines)
				buf, lines = "", 0
				continue
			}
			sh.onecmd(ctx, "quit")
			return 0
		}
		if rerr != nil && !errors.Is(rerr, term.ErrPasteIndicator) {
			fmt.Fprintf(stderr, "ERROR: terminal: %v\n", rerr)
			return 1
		}
		if buf == "" {
			// Shell commands of one word need no ';'.
			switch w := strings.ToLower(strings.TrimSpace(line)); w {
			case "quit", "exit", "help", "summary", "profile", "set", "connect", "version", "history", "tip":
				line += ";"
			}
		}
		if buf != "" {
			buf += "\n"
		}
		buf += line
		if strings.TrimSpace(line) != "" {
			lines++
		}
		pieces := splitSQL(buf)
		if len(pieces) == 0 || !endsStatement(pieces[len(pieces)-1]) {
			continue
		}
		sh.history.dropLast(lines)
		sh.history.Add(buf)
		buf, lines = "", 0
		for _, raw := range pieces {
			q := sanitise(raw)
			if q == "" {
				continue
			}
			runCancellable(ctx, sigs, func(ctx context.Context) { sh.onecmd(ctx, q) })
			if sh.quit {
				break
			}
		}
	}
	return 0
}

// welcomeRule frames the welcome message.
const welcomeRule = "***********************************************************************************"

// endsStatement reports whether a piece of input ends with a ';' outside
// quotes and comments, so that it can run.
func endsStatement(piece string) bool {
	toks := lexSQL(piece)
	for i := len(toks) - 1; i >= 0; i-- {
		switch toks[i].kind {
		case tokSpace, tokNewline, tokLineComment, tokBlockComment:
			continue
		}
		return toks[i].kind == tokPunct && toks[i].text == ";"
	}
	return false
}

// runCancellable runs fn with a context that SIGINT (Ctrl-C) cancels.
func runCancellable(ctx context.Context, sigs <-chan os.Signal, fn func(context.Context)) {
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
	fn(ctx)
	close(done)
	wg.Wait()
}

// prompt is impala-shell's: the coordinator and the database.
func (sh *shell) prompt() string {
	c := sh.coordinator()
	if c == "" {
		return "[Not connected] > "
	}
	db := sh.db
	if !sh.dbSet || db == "" {
		db = "default"
	}
	return fmt.Sprintf("[%s] %s> ", hostPort(c), db)
}

// historyDelim stands for a newline of a statement in the history file, as
// impala-shell writes it.
const historyDelim = "_IMP_DELIM_"

// history is the interactive history, kept in impala-shell's file format:
// one statement a line, its newlines written as historyDelim. It
// implements term.History.
type history struct {
	path    string
	max     int
	entries []string // oldest first
}

// loadHistory reads the history file (a missing one is empty).
func loadHistory(path string, maxLen int, stderr io.Writer) *history {
	h := &history{path: path, max: maxLen}
	if h.max <= 0 {
		h.max = 1000
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "WARNING: Unable to load command history (disabling impala-shell command history): %s\n", pyOSError(err))
			h.path = ""
		}
		return h
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l != "" {
			h.entries = append(h.entries, strings.ReplaceAll(l, historyDelim, "\n"))
		}
	}
	h.trim()
	return h
}

func (h *history) trim() {
	if len(h.entries) > h.max {
		h.entries = h.entries[len(h.entries)-h.max:]
	}
}

// Add implements term.History.
func (h *history) Add(entry string) {
	if strings.TrimSpace(entry) == "" {
		return
	}
	h.entries = append(h.entries, entry)
	h.trim()
}

// Len implements term.History.
func (h *history) Len() int { return len(h.entries) }

// At implements term.History: 0 is the newest entry.
func (h *history) At(i int) string { return h.entries[len(h.entries)-1-i] }

// AtOldest returns the entries from the oldest (0).
func (h *history) AtOldest(i int) string { return h.entries[i] }

// dropLast removes the n newest entries (the lines of a statement, which
// the statement as a whole replaces).
func (h *history) dropLast(n int) {
	h.entries = h.entries[:max(len(h.entries)-n, 0)]
}

// save writes the history file.
func (h *history) save(stderr io.Writer) {
	if h.path == "" {
		return
	}
	var sb strings.Builder
	for _, e := range h.entries {
		sb.WriteString(strings.ReplaceAll(e, "\n", historyDelim))
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(h.path, []byte(sb.String()), 0o600); err != nil {
		fmt.Fprintf(stderr, "Unable to save command history (disabling history collection): %s\n", pyOSError(err))
	}
}

// progressDelay is how long a statement runs before its progress shows.
const progressDelay = time.Second

// progressReporter returns a function that, for each statement, draws the
// live progress (and with --live_summary the summary table) on w once the
// statement has run for progressDelay, and erases it when the returned stop
// function is called. update feeds it the coordinator's exec summary.
func progressReporter(w io.Writer, sh *shell) func(coord string) (update func(*conn.Summary), stop func()) {
	return func(coord string) (func(*conn.Summary), func()) {
		done := make(chan struct{})
		var mu sync.Mutex
		var last *conn.Summary
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
			drawn := 0 // lines drawn last time
			for {
				mu.Lock()
				s := last
				mu.Unlock()
				text := ""
				if sh.liveProgress {
					frac := -1.0
					if s != nil && s.TotalScanRanges > 0 {
						frac = s.Progress()
					}
					text = progressLine(time.Since(start), frac, coord) + "\n"
				}
				if sh.liveSummary && s != nil && s.Plan != nil {
					text += prettyTable(summaryHeader, summaryRows(s)) + "\n"
				}
				fmt.Fprint(w, strings.Repeat("\x1b[A", drawn)+"\r\x1b[J"+text)
				drawn = strings.Count(text, "\n")
				select {
				case <-done:
					fmt.Fprint(w, strings.Repeat("\x1b[A", drawn)+"\r\x1b[J")
					return
				case <-tick.C:
				}
			}
		}()
		update := func(s *conn.Summary) {
			mu.Lock()
			last = s
			mu.Unlock()
		}
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
		frac = math.Min(frac, 1)
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
