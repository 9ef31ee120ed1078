package conn

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
)

// This file decodes TIMESTAMP and DATE columns into time.Time values, for
// an Operation whose SetDecodeTimes is on. From the buffered transport of
// a NOSASL connection the values are parsed in place from the bytes the
// coordinator sent, with ParseTimestamp's rules, and the text is never
// kept; only the text of a value that does not parse is (a string of its
// own, so that it can still be handed out). From other transports, and
// for beeswax, the text is read as usual and parsed when the batch is
// complete: the result is the same.

// timeData holds the values of a TIMESTAMP or DATE column decoded into
// times. tm has one element per row: the zero Time for NULL and for a
// value that is not a timestamp. bad marks the latter (bit r%8 of byte
// r/8; nil when there are none, and shorter than the rows when the last
// ones parse); badRows lists, in ascending order, the rows among them
// whose text is not empty, and badStrs that text.
type timeData struct {
	tm      []time.Time
	bad     []byte
	badRows []int32
	badStrs []string
}

// isBad reports whether row's value is not a timestamp.
func (d *timeData) isBad(row int) bool { return isNull(d.bad, row) }

// badText returns the text of a value that is not a timestamp.
func (d *timeData) badText(row int) string {
	if i, ok := slices.BinarySearch(d.badRows, int32(row)); ok {
		return d.badStrs[i]
	}
	return ""
}

// markBad records that the value of row (the last one so far) is not a
// timestamp; text is its text, owned by d.
func (d *timeData) markBad(row int, text string) {
	if d.bad == nil {
		// Room for every row (NULLs, sent as "", come here first).
		d.bad = make([]byte, 0, (max(cap(d.tm), row+1)+7)/8)
	}
	for len(d.bad) <= row>>3 {
		d.bad = append(d.bad, 0)
	}
	d.bad[row>>3] |= 1 << (row & 7)
	if text != "" {
		d.badRows = append(d.badRows, int32(row))
		d.badStrs = append(d.badStrs, text)
	}
}

// text returns the text of a value that is not NULL: the text sent for a
// value that is not a timestamp, the time formatted as Impala prints it
// otherwise.
func (d *timeData) text(row int, typ Type) string {
	if d.isBad(row) {
		return d.badText(row)
	}
	t := d.tm[row]
	switch {
	case typ == TypeDate && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0:
		return t.Format("2006-01-02")
	case t.Nanosecond() != 0:
		return t.Format("2006-01-02 15:04:05.000000000")
	}
	return t.Format("2006-01-02 15:04:05")
}

// applyNulls makes NULL cells hold the zero Time and not count as bad:
// the values are decoded before the null bitmap (which follows them on
// the wire) is known, and Impala sends "" for NULL.
func (d *timeData) applyNulls(nulls []byte) {
	if len(nulls) == 0 {
		return
	}
	for j, m := range nulls {
		if m == 0 {
			continue
		}
		if j < len(d.bad) {
			d.bad[j] &^= m
		}
		for k := 0; k < 8; k++ {
			if row := j<<3 | k; m&(1<<k) != 0 && row < len(d.tm) {
				d.tm[row] = time.Time{}
			}
		}
	}
	if len(d.badRows) > 0 {
		w := 0
		for i, row := range d.badRows {
			if !isNull(nulls, int(row)) {
				d.badRows[w], d.badStrs[w] = row, d.badStrs[i]
				w++
			}
		}
		clear(d.badStrs[w:])
		d.badRows, d.badStrs = d.badRows[:w], d.badStrs[:w]
	}
	for _, m := range d.bad {
		if m != 0 {
			return
		}
	}
	d.bad = nil
}

// timeDecoder is the state of an operation's reader carried from batch to
// batch: the columns to decode into times when SetDecodeTimes is on (none
// otherwise) and the string block; the goroutine that fetches owns it.
type timeDecoder struct {
	cols  []bool      // the TIMESTAMP and DATE columns, by index; nil when none
	times []*timeData // of the batch read last, by column; nil when not read in place
	// block is the arena block the strings of the batch read last went
	// into, carried over to the next batch, which fills its unused tail
	// (bytes that no string points into) rather than start a new block:
	// the strings of a batch of a thousand rows fill a fraction of a
	// block, and a block per batch would waste the rest. A block may then
	// hold the strings of two batches.
	block []byte
}

func newTimeDecoder(cols []Column) *timeDecoder {
	d := &timeDecoder{}
	for i, c := range cols {
		if isTimeType(c.Type) {
			if d.cols == nil {
				d.cols = make([]bool, len(cols))
			}
			d.cols[i] = true
		}
	}
	return d
}

// start sets up sr, which reads in place, to read a batch.
func (d *timeDecoder) start(sr *stringReader) {
	sr.timeCols, sr.times, sr.block = d.cols, nil, d.block
	if d.cols != nil {
		sr.times = make([]*timeData, len(d.cols))
	}
	d.times = sr.times
}

// end keeps what sr leaves for the next batch.
func (d *timeDecoder) end(sr *stringReader) { d.block = sr.block }

// isTimeType reports whether columns of type t are decoded into times.
func isTimeType(t Type) bool { return t == TypeTimestamp || t == TypeDate }

// toTimes decodes c, a TIMESTAMP or DATE column read as text, into times.
// NULL cells are not parsed.
func (c *colData) toTimes() {
	var d timeData
	switch c.kind {
	case kindString:
		d.tm = make([]time.Time, len(c.str))
		for row, s := range c.str {
			if isNull(c.nulls, row) {
				continue
			}
			if t, ok := parseTimestamp(s); ok {
				d.tm[row] = t
			} else {
				d.markBad(row, s)
			}
		}
	case kindBinary:
		d.tm = make([]time.Time, len(c.bin))
		for row, p := range c.bin {
			if isNull(c.nulls, row) {
				continue
			}
			if t, ok := parseTimestamp(p); ok {
				d.tm[row] = t
			} else {
				d.markBad(row, string(p))
			}
		}
	default:
		return
	}
	c.kind, c.str, c.bin, c.times = kindTime, nil, nil, &d
}

// decodeTimes decodes the TIMESTAMP and DATE columns of b that are still
// text into times.
func (b *Batch) decodeTimes() {
	for i := range b.cols {
		if c := &b.cols[i]; isTimeType(c.typ) {
			c.toTimes()
		}
	}
}

// Times returns the values of a TIMESTAMP or DATE column decoded into
// times (Operation.SetDecodeTimes), in UTC, or nil for another column.
// A NULL cell, and a value that is not a timestamp (see BadTimes), holds
// the zero Time. Not a copy.
func (b *Batch) Times(col int) []time.Time {
	if c := &b.cols[col]; c.kind == kindTime {
		return c.times.tm
	}
	return nil
}

// BadTimes returns the bitmap of the values of a column decoded into times
// that are not timestamps (bit r%8 of byte r/8 set for row r; the bitmap
// may be shorter than Len()/8), or nil when every value parsed. String and
// Value return the text of such a value. Not a copy: do not modify it.
func (b *Batch) BadTimes(col int) []byte {
	if c := &b.cols[col]; c.kind == kindTime {
		return c.times.bad
	}
	return nil
}

// readTimes reads the n elements of the string list of a TIMESTAMP or
// DATE column, whose header was read (and charged at costTime each), in
// place from the peeker's buffer (sr.win.pk is set), parsing each into a
// time. Only the text of the values that do not parse is kept, charged
// with its bookkeeping.
func (sr *stringReader) readTimes(n int) (*timeData, error) {
	w := &sr.win
	defer w.release()
	// The bitmap of values that are not timestamps, if one is needed.
	if err := sr.bud.take((n + 7) / 8); err != nil {
		return nil, err
	}
	d := &timeData{tm: make([]time.Time, 0, n)}
	var scratch [64]byte
	for row := range n {
		b, err := w.avail(4)
		if err != nil {
			return nil, thrift.NewTProtocolException(err)
		}
		size := int32(binary.BigEndian.Uint32(b))
		w.consume(4)
		if size < 0 {
			return nil, negative(size)
		}
		k := int(size)
		var (
			t  time.Time
			ok bool
		)
		switch {
		case k == 0:
			// Not a timestamp (NULL, as a rule): no text to keep.
		case k <= len(b)-4:
			// The whole value is in the window: parse it there.
			p := b[4 : 4+k]
			if t, ok = parseTimestamp(p); !ok {
				if err := sr.bud.take(k + costBadTime); err != nil {
					return nil, err
				}
				d.tm = append(d.tm, time.Time{})
				d.markBad(row, string(p))
				w.consume(k)
				continue
			}
			w.consume(k)
		case k <= len(scratch):
			// Split across two reads of the transport.
			for at := 0; at < k; {
				p, err := w.take(k - at)
				if err != nil {
					return nil, err
				}
				at += copy(scratch[at:k], p)
			}
			if t, ok = parseTimestamp(scratch[:k]); !ok {
				if err := sr.bud.take(k + costBadTime); err != nil {
					return nil, err
				}
				d.tm = append(d.tm, time.Time{})
				d.markBad(row, string(scratch[:k]))
				continue
			}
		default:
			// Too long for a timestamp: keep the text (readLong charges
			// its bytes).
			if err := sr.bud.take(costBadTime); err != nil {
				return nil, err
			}
			s, err := sr.readLong(k)
			if err != nil {
				return nil, err
			}
			d.tm = append(d.tm, time.Time{})
			d.markBad(row, s)
			continue
		}
		d.tm = append(d.tm, t)
		if !ok {
			d.markBad(row, "")
		}
	}
	return d, nil
}

// costBadTime is what a value that is not a timestamp costs beyond its
// text: its string header and row number in timeData.
const costBadTime = costString + 4

// SetDecodeTimes asks that the TIMESTAMP and DATE columns of the batches
// that Next returns from now on be decoded into time.Time values (read
// with Batch.Times and Batch.BadTimes) instead of being kept as text:
// on an HS2 connection without SASL, straight from the bytes received,
// which saves the text's memory and a parse pass over it. Values are
// parsed as ParseTimestamp does; the text of a value that does not parse
// is kept and returned by Batch.String and Batch.Value. For those columns
// Batch.Strings and Batch.Binaries return nil and Batch.String formats
// the time. Off by default; the database/sql driver turns it on.
func (op *Operation) SetDecodeTimes(on bool) {
	op.decodeTimes = on
	if h, ok := op.impl.(*hs2Op); ok {
		h.setDecodeTimes(on)
	}
}
