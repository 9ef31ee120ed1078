package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDemoShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errs bytes.Buffer
	code := run(ctx, []string{"-duration", "6s", "-users", "4"}, &out, &errs, false)
	s := out.String()
	require.Equal(t, 0, code, "%s\n%s", s, errs.String())
	require.Contains(t, s, "failed statements: 0\n")
	require.Regexp(t, `coordinator 127\.0\.0\.1:\d+ shutting down gracefully`, s)
	require.Regexp(t, `pool: coordinator 127\.0\.0\.1:\d+ is draining`, s)
	require.Regexp(t, `coordinator 127\.0\.0\.1:\d+ crashed`, s)
	require.Regexp(t, `coordinator 127\.0\.0\.1:\d+ restarted`, s)
	for _, ph := range phases {
		require.Contains(t, s, ph.name)
	}
	m := regexp.MustCompile(`leastconn \+ SYNC_DDL: +CREATE TABLE then SELECT on a second session: (\d+) of (\d+) SELECTs missed`).FindStringSubmatch(s)
	require.NotNil(t, m, s)
	require.Equal(t, "0", m[1], "SYNC_DDL: no SELECT misses its table")
	m = regexp.MustCompile(`affinity: +CREATE TABLE then SELECT on a second session: (\d+) of (\d+) worked`).FindStringSubmatch(s)
	require.NotNil(t, m, s)
	ok, _ := strconv.Atoi(m[1])
	require.Positive(t, ok)
}

func TestDemoFlags(t *testing.T) {
	for _, args := range [][]string{{"-duration", "1s"}, {"-users", "0"}, {"-coordinators", "1"}, {"-ddl-delay", "-1s"}, {"extra"}, {"-nope"}} {
		var out, errs bytes.Buffer
		code := run(context.Background(), args, &out, &errs, false)
		require.NotEqual(t, 0, code, args)
	}
}
