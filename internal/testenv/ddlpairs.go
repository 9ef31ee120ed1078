package testenv

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/impalalb/impalalb/internal/impalad"
)

// Pair is one round of the DDL-then-query workload: a CREATE TABLE on one
// acquire of a key's session, then a SELECT from that table on a second
// acquire of the same key, as a Hue user's statements arrive.
type Pair struct {
	Key                string
	Round              int
	CreateOn, SelectOn string // coordinators ("" when the acquire failed)
	CreateErr          error
	SelectErr          error
	At                 time.Time // when the pair started
}

// Split reports whether both statements ran but on different coordinators.
func (p Pair) Split() bool {
	return p.CreateErr == nil && p.SelectErr == nil && p.CreateOn != p.SelectOn
}

// Failed reports whether a statement of the pair failed.
func (p Pair) Failed() bool { return p.CreateErr != nil || p.SelectErr != nil }

// RunOnKey runs one statement on a session acquired for key (a new
// acquire each call) and returns the coordinator it ran on.
type RunOnKey func(ctx context.Context, key, stmt string) (coord string, err error)

// DDLPairs runs pairs for every key, one goroutine per key, until stop is
// closed or ctx ends (bounded: at most maxRounds rounds a key), and
// returns every pair. Table names are unique per key and round.
func DDLPairs(ctx context.Context, keys []string, run RunOnKey, stop <-chan struct{}, maxRounds int) []Pair {
	var (
		mu  sync.Mutex
		out []Pair
		wg  sync.WaitGroup
	)
	for ki, key := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range maxRounds {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				p := Pair{Key: key, Round: r, At: time.Now()}
				table := fmt.Sprintf("pair_k%d_r%d", ki, r)
				p.CreateOn, p.CreateErr = run(ctx, key, "create table "+table+" (id int)")
				if p.CreateErr == nil {
					p.SelectOn, p.SelectErr = run(ctx, key, "select count(*) from "+table)
				}
				mu.Lock()
				out = append(out, p)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// CheckPairs requires of pairs what sticky affinity promises: no pair ran
// its two statements on different coordinators; the keys whose
// coordinator was victim when kill came (keys placed there) changed
// coordinator once, and failed only pairs that started within a second of
// the kill (those the kill cut: a key whose sessions were all on the
// victim may have had more than one in flight); every other key never
// changed coordinator nor failed. It returns the keys that lived on the
// victim.
func CheckPairs(t testing.TB, pairs []Pair, victim string, kill time.Time) []string {
	t.Helper()
	byKey := map[string][]Pair{}
	for _, p := range pairs {
		byKey[p.Key] = append(byKey[p.Key], p)
	}
	var victims []string
	for key, ps := range byKey {
		// The coordinator of each pair, and changes between pairs.
		var coords []string
		failed, late := 0, 0
		onVictim := false
		for _, p := range ps {
			if p.Split() {
				t.Errorf("key %s round %d: CREATE on %s, SELECT on %s", key, p.Round, p.CreateOn, p.SelectOn)
			}
			if p.Failed() {
				failed++
				if d := p.At.Sub(kill); d < -time.Second || d > time.Second {
					late++
				}
			}
			if p.CreateOn == victim && p.At.Before(kill) {
				onVictim = true
			}
			for _, c := range []string{p.CreateOn, p.SelectOn} {
				if c != "" && (len(coords) == 0 || coords[len(coords)-1] != c) {
					coords = append(coords, c)
				}
			}
		}
		if onVictim {
			victims = append(victims, key)
			if len(coords) != 2 || late > 0 {
				t.Errorf("key %s of the killed coordinator: %s, %d failed pairs, %d of them away from the kill (want one move, failures only at the kill)", key, path(coords), failed, late)
				logFailures(t, ps)
			}
			continue
		}
		if len(coords) != 1 || failed > 0 {
			t.Errorf("key %s: %s, %d failed pairs (want no move, no failure)", key, path(coords), failed)
			logFailures(t, ps)
		}
	}
	return victims
}

// path shows the coordinators a key went through, the first few of them.
func path(coords []string) string {
	const show = 6
	if len(coords) <= show {
		return "coordinators " + strings.Join(coords, " → ")
	}
	return fmt.Sprintf("%d changes of coordinator, %s → ...", len(coords)-1, strings.Join(coords[:show], " → "))
}

func logFailures(t testing.TB, ps []Pair) {
	t.Helper()
	for _, p := range ps {
		if p.Failed() {
			t.Logf("  round %d (create on %s, select on %s): create %v / select %v", p.Round, p.CreateOn, p.SelectOn, p.CreateErr, p.SelectErr)
		}
	}
}

// MostKeys returns the coordinator that holds the most of keys (the one
// whose loss moves the most keys) and the number of keys on each, placed
// saying where a key is (false when it is not placed yet).
func MostKeys(cos []*impalad.Coordinator, keys []string, placed func(key string) (string, bool)) (most *impalad.Coordinator, perCoord map[string]int) {
	perCoord = map[string]int{}
	for _, k := range keys {
		if a, ok := placed(k); ok {
			perCoord[a]++
		}
	}
	most = cos[0]
	for _, co := range cos {
		if perCoord[co.HS2Addr()] > perCoord[most.HS2Addr()] {
			most = co
		}
	}
	return most, perCoord
}
