package tlsfiles

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Value is a value parsed from one or more files (a CA bundle; a
// certificate and its key) that is parsed again when any of the files
// changes on disk.
//
// Get is called from handshake goroutines, any number at once. It stats the
// files (no lock, no allocation beyond what os.Stat does) and returns the
// current value when nothing changed. When something did, one caller reads
// and parses the files (the others wait for it through singleflight) and
// publishes a new snapshot through an atomic pointer. A change is a
// different size, modification time or file identity (inode, so that a file
// renamed over the old one counts even within one clock tick); the content
// hash then tells a real change from a touch. A file modified less than
// racyWindow before it was read could change again without its size or
// modification time changing on a file system with coarse timestamps, so
// until racyWindow has passed since its modification time it is read and
// hashed at every check (the "racily clean" rule of git's index).
//
// A file that cannot be read or parsed (half-written, a certificate whose
// new key is not there yet, deleted) leaves the last good value in place;
// the failure is logged once and the files are tried again when they change
// next. Connections already open are never affected: they hold on to what
// they were handshaken with.
type Value[T any] struct {
	prefix string   // of log messages: the package using it, "tlsconf:"
	fields []string // Config field names, parallel to paths, for errors
	paths  []string
	parse  func(data [][]byte) (T, error)
	log    *slog.Logger

	cur atomic.Pointer[fileSnap[T]]
	sf  singleflight.Group
}

// racyWindow is how long after its modification time a file is hashed at
// every check: no finer than the timestamps of common file systems (FAT
// keeps modification times to 2 s; ext4, XFS, tmpfs to 1 ns).
const racyWindow = 2 * time.Second

// fileSnap is one immutable generation of a Value.
type fileSnap[T any] struct {
	infos   []os.FileInfo
	sums    [][sha256.Size]byte
	val     T
	lastErr string    // message of the last failed reload, so that it is logged once
	settled time.Time // before this, stamps alone cannot prove a file unchanged
	loads   uint64    // how many times val was parsed (for tests and stats)
}

// New reads and parses the files once; an error here is a configuration
// error and is returned as is (an *Error when a file cannot be read).
// fields name the configuration fields of paths, parallel to them, for
// errors and logs; prefix starts the log messages ("tlsconf:"), which go to
// log (not nil).
func New[T any](prefix string, fields, paths []string, parse func([][]byte) (T, error), log *slog.Logger) (*Value[T], error) {
	f := &Value[T]{prefix: prefix, fields: fields, paths: paths, parse: parse, log: log}
	infos, sums, data, err := f.read()
	if err != nil {
		return nil, err
	}
	val, err := parse(data)
	if err != nil {
		return nil, err
	}
	f.cur.Store(&fileSnap[T]{infos: infos, sums: sums, val: val, loads: 1, settled: settledAt(infos)})
	return f, nil
}

// Get returns the current value, reloading it first if a file changed.
func (f *Value[T]) Get() T {
	s := f.cur.Load()
	if f.unchanged(s) {
		return s.val
	}
	v, _, _ := f.sf.Do("", func() (any, error) { return f.reload(), nil })
	return v.(T)
}

// Loads reports how many times the value has been parsed.
func (f *Value[T]) Loads() uint64 { return f.cur.Load().loads }

func (f *Value[T]) unchanged(s *fileSnap[T]) bool {
	if time.Now().Before(s.settled) {
		return false
	}
	for i, p := range f.paths {
		fi, err := os.Stat(p)
		if err != nil || !sameStamp(s.infos[i], fi) {
			return false
		}
	}
	return true
}

func sameStamp(a, b os.FileInfo) bool {
	return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && os.SameFile(a, b)
}

// settledAt returns when the newest of infos leaves the racy window.
func settledAt(infos []os.FileInfo) time.Time {
	var t time.Time
	for _, fi := range infos {
		if m := fi.ModTime().Add(racyWindow); m.After(t) {
			t = m
		}
	}
	return t
}

// read stats and reads every file. The stat comes first so that a change
// racing with the read shows up at the next check.
func (f *Value[T]) read() ([]os.FileInfo, [][sha256.Size]byte, [][]byte, error) {
	infos := make([]os.FileInfo, len(f.paths))
	sums := make([][sha256.Size]byte, len(f.paths))
	data := make([][]byte, len(f.paths))
	for i, p := range f.paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, nil, nil, &Error{Field: f.fields[i], File: p, Err: pathErr(err)}
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, nil, &Error{Field: f.fields[i], File: p, Err: pathErr(err)}
		}
		infos[i], sums[i], data[i] = fi, sha256.Sum256(b), b
	}
	return infos, sums, data, nil
}

// reload runs under singleflight: never two at once.
func (f *Value[T]) reload() T {
	old := f.cur.Load()
	if f.unchanged(old) {
		return old.val // another caller reloaded while we stat'ed
	}
	next := *old
	infos, sums, data, err := f.read()
	if err == nil {
		next.infos, next.sums, next.settled = infos, sums, settledAt(infos)
		if slices.Equal(sums, old.sums) {
			// Touched or rewritten with the same bytes: keep the value.
			f.cur.Store(&next)
			return next.val
		}
		var val T
		val, err = f.parse(data)
		if err == nil {
			next.val, next.lastErr = val, ""
			next.loads++
			f.cur.Store(&next)
			f.log.Info(f.prefix+" reloaded", "field", f.fields[0], "files", f.paths)
			return val
		}
	}
	// Keep the last good value. When the files could be read, the snapshot
	// takes their stamps so that they are not parsed again until they
	// change; when they could not, the next handshake tries again.
	if msg := err.Error(); msg != old.lastErr {
		next.lastErr = msg
		f.log.Warn(f.prefix+" reload failed; still using the previous files", "field", f.fields[0], "err", err)
	}
	f.cur.Store(&next)
	return next.val
}

// pathErr drops the *fs.PathError around err: an Error names the file
// already. errors.Is(err, fs.ErrNotExist) still holds.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
