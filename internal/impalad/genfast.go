package impalad

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"time"
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
		var d [decimalMax]byte
		return append(buf, d[:putDecimal2(d[:], genDecimalUnscaled(r))]...)
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
		sec, nsec := genTimestampUnix(r)
		return f.appendTimestamp(buf, sec, int(nsec))
	case 13:
		// genDateBase is day 10957 of the Unix epoch.
		return appendDate(buf, 10957+r%100000)
	case 14:
		return append(buf, 0xde, 0xad, byte('a'+r%26))
	}
	return append(buf, genText(col, r)...)
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

// digitPairs16 holds digitPairs two bytes at a time, in the byte order of
// binary.LittleEndian, so that put2 stores both digits at once.
var digitPairs16 = func() (t [100]uint16) {
	for i := range t {
		t[i] = uint16(digitPairs[2*i]) | uint16(digitPairs[2*i+1])<<8
	}
	return t
}()

// put2 writes v (0 <= v < 100) as two digits at b[0:2].
func put2[T int64 | uint64 | uint32](b []byte, v T) {
	binary.LittleEndian.PutUint16(b, digitPairs16[v])
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
// nsec nanoseconds after the Unix epoch.
func (f *tsFormatter) appendTimestamp(buf []byte, sec int64, nsec int) []byte {
	at := len(buf)
	buf = slices.Grow(buf, tsMax)
	if n := f.put(buf[at:at+tsMax], sec, int64(nsec)); n > 0 {
		return buf[:at+n]
	}
	return append(buf, formatTimestamp(unixUTC(sec, nsec))...)
}

// tsMax is the length of the longest text put writes.
const tsMax = 29

// put writes formatTimestamp of the UTC time sec seconds and nsec
// nanoseconds after the Unix epoch at dst[0:tsMax] and returns its length,
// or 0, having written nothing, when the time is not one of the years 0 to
// 9999 or nsec is not within 0 to 999999999 (the caller then formats it
// with the time package).
func (f *tsFormatter) put(dst []byte, sec, nsec int64) int {
	b := dst[:tsMax]
	if nsec < 0 || nsec > 999_999_999 {
		return 0
	}
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		days--
		rem += 86400
	}
	if !f.ok || f.days != days {
		y, m, d := civil(days)
		if y < 0 || y > 9999 {
			f.ok = false
			return 0
		}
		putDate(f.date[:], y, m, d)
		f.days, f.ok = days, true
	}
	*(*[10]byte)(b) = f.date
	b[10] = ' '
	t := uint32(rem) // 32-bit arithmetic from here: cheaper divisions
	h := t / 3600
	t -= h * 3600
	put2(b[11:], h)
	b[13] = ':'
	put2(b[14:], t/60)
	b[16] = ':'
	put2(b[17:], t%60)
	if nsec == 0 {
		return 19
	}
	ns := uint32(nsec)
	b[19] = '.'
	hi := ns / 100_000_000
	b[20] = byte('0' + hi)
	lo := ns - hi*100_000_000 // 8 digits
	q := lo / 10_000
	r := lo - q*10_000
	put2(b[21:], q/100)
	put2(b[23:], q%100)
	put2(b[25:], r/100)
	put2(b[27:], r%100)
	return 29
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
	all := sharedString(buf)
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

// genTimestampBaseUnix is genTimestampBase in seconds after the Unix epoch.
var genTimestampBaseUnix = genTimestampBase.Unix()

// genTimestampUnix returns genTimestamp(r) as seconds and nanoseconds
// (0 to 999999999) after the Unix epoch, by time.Time.Add's arithmetic
// on the same (wrapping) offset, without building the time.Time.
func genTimestampUnix(r int64) (sec, nsec int64) {
	ns := int64(0)
	if r%2 == 1 {
		ns = (r % 1000) * 1_000_123
	}
	d := r*3601*int64(time.Second) + ns
	sec = genTimestampBaseUnix + d/1_000_000_000
	nsec = d % 1_000_000_000
	if nsec < 0 {
		sec--
		nsec += 1_000_000_000
	}
	return sec, nsec
}

// pow10 holds the powers of ten that fit a uint64.
var pow10 = func() (t [20]uint64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

// decLen returns the number of decimal digits of u (1 for 0).
func decLen(u uint64) int {
	// t is floor(log10(2) * bits): u has t or t+1 digits.
	t := bits.Len64(u) * 1233 >> 12
	if u >= pow10[t] {
		t++
	}
	return max(t, 1)
}

// putUint writes the decimal digits of u filling dst, which has exactly
// decLen(u) bytes.
func putUint(dst []byte, u uint64) {
	i := len(dst)
	for u >= 100 {
		q := u / 100
		i -= 2
		put2(dst[i:], u-q*100)
		u = q
	}
	if u >= 10 {
		put2(dst[i-2:], u)
	} else {
		dst[i-1] = byte('0' + u)
	}
}

// decimalMax is the length of the longest text putDecimal2 writes.
const decimalMax = 24

// putDecimal2 writes formatDecimal(unscaled, 2) at dst[0:decimalMax] and
// returns its length.
func putDecimal2(dst []byte, unscaled int64) int {
	b := dst[:decimalMax]
	u := uint64(unscaled)
	k := 0
	if unscaled < 0 {
		b[0] = '-'
		u = -u
		k = 1
	}
	ip := u / 100
	if ip < 100_000_000 {
		// Up to 8 digits before the point (DECIMAL(10,2)): two groups of
		// four in 32 bits.
		hi, lo := uint32(ip)/10000, uint32(ip)%10000
		if hi > 0 {
			k += putUpTo4(b[k:], hi)
			put2(b[k:], lo/100)
			put2(b[k+2:], lo%100)
			k += 4
		} else {
			k += putUpTo4(b[k:], lo)
		}
	} else {
		n := decLen(ip)
		putUint(b[k:k+n], ip)
		k += n
	}
	b[k] = '.'
	put2(b[k+1:], u-ip*100)
	return k + 3
}

// putUpTo4 writes the decimal digits of x (0 to 9999) at b and returns
// how many.
func putUpTo4(b []byte, x uint32) int {
	switch {
	case x >= 1000:
		put2(b, x/100)
		put2(b[2:], x%100)
		return 4
	case x >= 100:
		b[0] = byte('0' + x/100)
		put2(b[1:], x%100)
		return 3
	case x >= 10:
		put2(b, x)
		return 2
	}
	b[0] = byte('0' + x)
	return 1
}

// decCounter holds the decimal digits of a non-negative number that is
// counted up by one at a time: the row numbers of a batch, one after the
// other, without a division each.
type decCounter struct {
	d [24]byte // the digits, in d[:n]; zero bytes past them
	n int
}

// set makes the counter's number u.
func (c *decCounter) set(u uint64) {
	c.d = [24]byte{}
	c.n = decLen(u)
	putUint(c.d[:c.n], u)
}

// inc adds one to the counter's number.
func (c *decCounter) inc() {
	for i := c.n - 1; i >= 0; i-- {
		if c.d[i] != '9' {
			c.d[i]++
			return
		}
		c.d[i] = '0'
	}
	// All nines: one digit more, 1 then zeros.
	c.d[0] = '1'
	c.d[c.n] = '0'
	c.n++
}

// genNulls sets nulls, of (n+7)/8 bytes, to the NULL bitmap of generated
// column col over rows [from, from+n), from >= 0, and returns the index of
// the batch's first NULL, or n when it has none: GenIsNull's NULLs come
// every 8th row.
func genNulls(nulls []byte, col int, from int64, n int) int {
	clear(nulls)
	if col == 0 {
		return n
	}
	first := int((int64(col%8) - from%8 + 8) % 8)
	for i := first; i < n; i += 8 {
		nulls[i>>3] |= 1 << (i & 7)
	}
	return min(first, n)
}

// genTextSlack is the room appendGenTextValues keeps past a value's end:
// the putters write fixed-size blocks (decCounter's digits, tsMax,
// decimalMax) past the text they keep.
const genTextSlack = 64

// appendGenTextValues appends the list elements (length, then bytes) of
// the texts of rows [from, from+n) of string-encoded generated column col,
// whose first NULL is at index first (then every 8th), as appendVarValues
// appends them: an empty string for a NULL.
//
//nolint:gocognit // one case per generated column's text form, in a loop kept free of calls (the fetch path)
func appendGenTextValues(b []byte, col int, from int64, n, first int) []byte {
	step := 4 + genTextMax(col)
	b = slices.Grow(b, n*step+genTextSlack)
	next := first
	switch col {
	case 8:
		for i := range n {
			if cap(b)-len(b) < step+genTextSlack {
				b = slices.Grow(b, (n-i)*step+genTextSlack)
			}
			at := len(b)
			w := 0
			if i == next {
				next += 8
			} else {
				w = putDecimal2(b[at+4:at+4+decimalMax], genDecimalUnscaled(from+int64(i)))
			}
			binary.BigEndian.PutUint32(b[at:at+4], uint32(w))
			b = b[:at+4+w]
		}
	case 9:
		var c decCounter
		c.set(uint64(from))
		m5, m13 := from%5, from%13
		for i := range n {
			if cap(b)-len(b) < step+genTextSlack {
				b = slices.Grow(b, (n-i)*step+genTextSlack)
			}
			at := len(b)
			v := b[at : at+4+32]
			w := 0
			switch {
			case i == next:
				next += 8
			case m13 == 5:
			case m5 == 2:
				// "ü-" + digits + "-ß"
				v[4], v[5], v[6] = 0xc3, 0xbc, '-'
				*(*[24]byte)(v[7:31]) = c.d
				w = 3 + c.n
				v[4+w], v[5+w], v[6+w] = '-', 0xc3, 0x9f
				w += 3
			default:
				binary.LittleEndian.PutUint32(v[4:], 'r'|'o'<<8|'w'<<16|'-'<<24)
				*(*[24]byte)(v[8:32]) = c.d
				w = 4 + c.n
			}
			binary.BigEndian.PutUint32(v, uint32(w))
			b = b[:at+4+w]
			c.inc()
			if m5++; m5 == 5 {
				m5 = 0
			}
			if m13++; m13 == 13 {
				m13 = 0
			}
		}
	case 12:
		var f tsFormatter
		for i := range n {
			if cap(b)-len(b) < step+genTextSlack {
				b = slices.Grow(b, (n-i)*step+genTextSlack)
			}
			at := len(b)
			w := 0
			if i == next {
				next += 8
			} else {
				sec, nsec := genTimestampUnix(from + int64(i))
				w = f.put(b[at+4:at+4+tsMax], sec, nsec)
				if w == 0 {
					b = f.appendTimestamp(b[:at+4], sec, int(nsec))
					w = len(b) - at - 4
				}
			}
			binary.BigEndian.PutUint32(b[at:at+4], uint32(w))
			b = b[:at+4+w]
		}
	default:
		var f tsFormatter
		for i := range n {
			at := len(b)
			b = append(b, 0, 0, 0, 0)
			if i == next {
				next += 8
			} else {
				b = appendGenText(b, col, from+int64(i), &f)
			}
			binary.BigEndian.PutUint32(b[at:], uint32(int32(len(b)-at-4)))
		}
	}
	return b
}
