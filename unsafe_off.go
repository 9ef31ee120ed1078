//go:build impalalb_nounsafe_driver

package impalalb

import (
	"database/sql/driver"
	"time"
)

// The helpers of unsafe.go without package unsafe, for measuring what it
// buys (-tags impalalb_nounsafe_driver): the compiler boxes, copying the
// value.

func boxInt64(p *int64) driver.Value     { return *p }
func boxFloat64(p *float64) driver.Value { return *p }
func boxString(p *string) driver.Value   { return *p }
func boxTime(p *time.Time) driver.Value  { return *p }
