package impalad

import (
	"slices"
	"time"
	"unsafe"
)

// The fetch path of the generated tables: the text of a batch's values is
// appended to one buffer per column, with no fmt, no time.Format and no
// allocation per value. The text is exactly genText's (TestGenTextFast
// compares them over many rows, large row numbers included).

// genTextMax is an upper bound of the length of the text of a value of
// each string-encoded generated column, used to size a batch's buffer.
func genTextMax(col int) int {
	switch col {
	case 8: // DECIMAL(10,2): sign, 8 digits, point, 2 digits
		return 24
	case 9: // "ü-" + digits + "-ß"
		return 32
	case 10, 11:
		return 10
	case 12: // "YYYY-MM-DD HH:MM:SS.fffffffff"
		return 29
	case 13:
		return 10
	case 14:
		return 3
	}
	return 16
}

// appendGenText appends the text of the non-NULL value of string-encoded
// generated column col (DECIMAL, STRING, VARCHAR, CHAR, TIMESTAMP, DATE or
// BINARY) of row r to buf: the same bytes as genText(col, r). f formats
// the timestamps.
func appendGenText(buf []byte, col int, r int64, f *tsFormatter) []byte {
	switch col {
	case 8:
		return appendDecimal(buf, genDecimalUnscaled(r), 2)
	case 9:
		switch {
		case r%13 == 5:
			return buf
		case r%5 == 2:
			buf = append(buf, "ü-"...)
			buf = appendInt(buf, r)
			return append(buf, "-ß"...)
		}
		buf = append(buf, "row-"...)
		return appendInt(buf, r)
	case 10:
		start := len(buf)
		buf = append(buf, 'v')
		buf = appendInt(buf, r)
		if len(buf)-start > 10 {
			buf = buf[:start+10]
		}
		return buf
	case 11:
		start := len(buf)
		buf = append(buf, 'c')
		buf = appendInt(buf, r%10000)
		for len(buf)-start < 5 {
			buf = append(buf, ' ')
		}
		return buf
	case 12:
		t := genTimestamp(r)
		return f.appendTimestamp(buf, t.Unix(), t.Nanosecond())
	case 13:
		// genDateBase is day 10957 of the Unix epoch.
		return appendDate(buf, 10957+r%100000)
	case 14:
		return append(buf, 0xde, 0xad, byte('a'+r%26))
	}
	return append(buf, genText(col, r)...)
}

// appendDecimal appends formatDecimal(unscaled, scale).
func appendDecimal(buf []byte, unscaled int64, scale int) []byte {
	u := uint64(unscaled)
	if unscaled < 0 {
		buf = append(buf, '-')
		u = -u
	}
	var tmp [24]byte
	d := appendUint(tmp[:0], u)
	if scale <= 0 {
		return append(buf, d...)
	}
	if len(d) <= scale {
		buf = append(buf, '0', '.')
		for i := len(d); i < scale; i++ {
			buf = append(buf, '0')
		}
		return append(buf, d...)
	}
	buf = append(buf, d[:len(d)-scale]...)
	buf = append(buf, '.')
	return append(buf, d[len(d)-scale:]...)
}

// civil returns the proleptic Gregorian date of day days of the Unix epoch
// (day 0 is 1970-01-01).
func civil(days int64) (year, month, day int64) {
	z := days + 719468 // days since 0000-03-01
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365], from March 1
	mp := (5*doy + 2) / 153                                // [0, 11], March is 0
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if mp >= 10 {
		month = mp - 9
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
}

// digitPairs holds "00" to "99", for formatting two digits at a time.
const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// put2 writes v (0 <= v < 100) as two digits at b[0:2].
func put2(b []byte, v int64) {
	_ = b[1]
	b[0], b[1] = digitPairs[2*v], digitPairs[2*v+1]
}

// putDate writes year (0 to 9999), month and day as "YYYY-MM-DD" at
// b[0:10].
func putDate(b []byte, year, month, day int64) {
	_ = b[9]
	put2(b[0:], year/100)
	put2(b[2:], year%100)
	b[4] = '-'
	put2(b[5:], month)
	b[7] = '-'
	put2(b[8:], day)
}

// appendDate appends the date of day days of the Unix epoch as
// "YYYY-MM-DD", as time.Format does for years 0 to 9999.
func appendDate(buf []byte, days int64) []byte {
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		// Outside time.Format's four-digit years: let it print.
		return append(buf, unixUTC(days*86400, 0).Format("2006-01-02")...)
	}
	var b [10]byte
	putDate(b[:], y, m, d)
	return append(buf, b[:]...)
}

// tsFormatter formats timestamps; it remembers the date of the last day
// it formatted, which consecutive generated rows share for about a day's
// worth of rows.
type tsFormatter struct {
	days int64
	date [10]byte
	ok   bool // days and date are set
}

// appendTimestamp appends formatTimestamp of the UTC time sec seconds and
// nsec (0 to 999999999) nanoseconds after the Unix epoch.
func (f *tsFormatter) appendTimestamp(buf []byte, sec int64, nsec int) []byte {
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		days--
		rem += 86400
	}
	if !f.ok || f.days != days {
		y, m, d := civil(days)
		if y < 0 || y > 9999 || nsec < 0 || nsec > 999_999_999 {
			f.ok = false
			return append(buf, formatTimestamp(unixUTC(sec, nsec))...)
		}
		putDate(f.date[:], y, m, d)
		f.days, f.ok = days, true
	}
	if nsec < 0 || nsec > 999_999_999 {
		return append(buf, formatTimestamp(unixUTC(sec, nsec))...)
	}
	n := 19
	if nsec != 0 {
		n = 29
	}
	at := len(buf)
	buf = slices.Grow(buf, n)[:at+n]
	b := buf[at:]
	copy(b, f.date[:])
	b[10] = ' '
	put2(b[11:], rem/3600)
	b[13] = ':'
	put2(b[14:], rem/60%60)
	b[16] = ':'
	put2(b[17:], rem%60)
	if nsec == 0 {
		return buf
	}
	ns := int64(nsec)
	b[19] = '.'
	b[20] = byte('0' + ns/100_000_000)
	ns %= 100_000_000
	put2(b[21:], ns/1_000_000)
	put2(b[23:], ns/10_000%100)
	put2(b[25:], ns/100%100)
	put2(b[27:], ns%100)
	return buf
}

// appendTimestamp appends formatTimestamp of the UTC time sec seconds and
// nsec nanoseconds after the Unix epoch.
func appendTimestamp(buf []byte, sec int64, nsec int) []byte {
	var f tsFormatter
	return f.appendTimestamp(buf, sec, nsec)
}

// appendUint appends the decimal digits of u, as strconv.AppendUint does.
func appendUint(buf []byte, u uint64) []byte {
	var b [20]byte
	i := len(b)
	for u >= 100 {
		q := u / 100
		r := u - q*100
		i -= 2
		b[i], b[i+1] = digitPairs[2*r], digitPairs[2*r+1]
		u = q
	}
	if u >= 10 {
		i -= 2
		b[i], b[i+1] = digitPairs[2*u], digitPairs[2*u+1]
	} else {
		i--
		b[i] = byte('0' + u)
	}
	return append(buf, b[i:]...)
}

// appendInt appends the decimal digits of v, as strconv.AppendInt does.
func appendInt(buf []byte, v int64) []byte {
	u := uint64(v)
	if v < 0 {
		buf = append(buf, '-')
		u = -u
	}
	return appendUint(buf, u)
}

// genTextColumn returns the text of rows [from, from+n) of string-encoded
// generated column col and sets their NULL bits in nulls. The texts of the
// batch share one buffer, never written once the strings point into it.
func genTextColumn(col int, from int64, n int, nulls []byte) []string {
	vals := make([]string, n)
	if n == 0 {
		return vals
	}
	var f tsFormatter
	ends := make([]int32, n)
	buf := make([]byte, 0, n*genTextMax(col))
	for i := range n {
		row := from + int64(i)
		if GenIsNull(col, row) {
			nulls[i>>3] |= 1 << (i & 7)
		} else {
			buf = appendGenText(buf, col, row, &f)
		}
		ends[i] = int32(len(buf))
	}
	if len(buf) == 0 {
		return vals
	}
	// buf is not written again: the strings may share it.
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	start := int32(0)
	for i, end := range ends {
		vals[i] = all[start:end]
		start = end
	}
	return vals
}

// unixUTC is the UTC time sec seconds and nsec nanoseconds after the Unix
// epoch.
func unixUTC(sec int64, nsec int) time.Time { return time.Unix(sec, int64(nsec)).UTC() }
