package conn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/impalalb/impalalb/internal/saslwire"
)

// This file bounds what one reply of the coordinator can make the client
// hold. The wire size of a message is bounded by Options.MaxMessageSize
// (countingConn counts the bytes of each call's reply; over HS2HTTP the
// transport bounds each reply's body the same, http.go), but what decoding
// creates can be many times the bytes it came from: an empty string costs
// 4 bytes on the wire and 16 in Go (its header), an empty BINARY value 24,
// an empty struct 1 byte and its whole Go size. Every reply is therefore
// read against a budget of memory, Options.MaxReplyMemory, charged with
// what decoding creates: headers of strings and slices, elements of
// lists and maps at their Go size, structs and their fields, and the
// bytes of strings and binaries. A list's elements are charged when its
// header arrives, before the generated code allocates room for them. The
// fast FetchResults reader (fastread.go) charges what it creates itself,
// more precisely; everything else is read through budgetProtocol.

// ErrReplyTooLarge is wrapped by the error of a reply that is larger than
// the client accepts: more bytes on the wire than Options.MaxMessageSize
// (over HS2HTTP, in the reply's body), or more memory once decoded than
// Options.MaxReplyMemory, over either transport. No real Impala
// reply comes near either with the defaults; a hostile or broken peer
// does, and the connection is then closed (the error's Session is
// Broken).
var ErrReplyTooLarge = errors.New("conn: reply too large")

// Go sizes charged to the budget (64-bit platforms; budget_test.go checks
// them against unsafe.Sizeof).
const (
	costString = 16 // a string header
	costSlice  = 24 // a slice header ([]byte and other slices)
	costPtr    = 8  // a pointer (an element of a list of structs)
	costTime   = 24 // a time.Time
	// costStruct is charged for each struct the generated code reads (it
	// allocates one per struct), costField for each field (optional
	// scalars are boxed behind a pointer).
	costStruct = 64
	costField  = 16
	// costMapEntry is a map entry's share of the map's buckets, beyond
	// its key and value.
	costMapEntry = 16
	// costColumn is one column of a result batch beyond its values: the
	// TColumn, its typed value struct, its pointer in the list, its
	// colData in the Batch and its timeData when decoded into times.
	costColumn = 512
)

// replyBudget counts the memory that decoding one reply creates.
type replyBudget struct {
	limit int // Options.MaxReplyMemory
	left  int // what the reply being read may still take
}

// reset starts a new reply.
func (b *replyBudget) reset() { b.left = b.limit }

// take charges n bytes (n ≥ 0), or fails when the reply would exceed the
// budget.
func (b *replyBudget) take(n int) error {
	if n <= b.left {
		b.left -= n
		return nil
	}
	return b.exceeded()
}

// takeN charges count elements of size bytes each, without overflow.
func (b *replyBudget) takeN(count, size int) error {
	if count < 0 || (size > 0 && count > b.left/size) {
		return b.exceeded()
	}
	return b.take(count * size)
}

// exceeded is the error of a reply over the budget: a protocol exception,
// which every reader passes on and the wire takes as the end of the
// stream (the rest of the reply is never read).
func (b *replyBudget) exceeded() error {
	b.left = 0
	return thrift.NewTProtocolExceptionWithType(thrift.UNKNOWN_PROTOCOL_EXCEPTION,
		fmt.Errorf("%w: decoding it would hold more than %d bytes of memory (Options.MaxReplyMemory; max_reply_memory in a DSN)", ErrReplyTooLarge, b.limit))
}

// elemCost is what one element of a container of type t costs in Go,
// beyond what its own reading charges (a struct, a string's bytes).
func elemCost(t thrift.TType) int {
	switch t {
	case thrift.BOOL, thrift.BYTE:
		return 1
	case thrift.I16:
		return 2
	case thrift.I32:
		return 4
	case thrift.I64, thrift.DOUBLE:
		return 8
	case thrift.STRUCT, thrift.MAP:
		return costPtr
	}
	// STRING (a string or a []byte: the larger header), LIST, SET, UUID
	// and anything unknown.
	return costSlice
}

// budgetProtocol is the binary protocol a connection reads its replies
// with, charging a replyBudget with what the generated code creates from
// each reply. ReadMessageBegin starts a new reply. Skipped values are read
// by the binary protocol itself and charge nothing: they are not kept.
type budgetProtocol struct {
	// TProtocol is the binary protocol (in tests, any protocol).
	thrift.TProtocol
	// trans is the binary protocol's transport, which it reads directly;
	// nil for another protocol, whose strings are charged once read.
	trans  io.Reader
	budget replyBudget
}

func newBudgetProtocol(p thrift.TProtocol, limit int) *budgetProtocol {
	bp := &budgetProtocol{TProtocol: p, budget: replyBudget{limit: limit, left: limit}}
	if b, ok := p.(*thrift.TBinaryProtocol); ok {
		bp.trans = b.Transport()
	}
	return bp
}

func (p *budgetProtocol) ReadMessageBegin(ctx context.Context) (string, thrift.TMessageType, int32, error) {
	p.budget.reset()
	return p.TProtocol.ReadMessageBegin(ctx)
}

func (p *budgetProtocol) ReadStructBegin(ctx context.Context) (string, error) {
	if err := p.budget.take(costStruct); err != nil {
		return "", err
	}
	return p.TProtocol.ReadStructBegin(ctx)
}

func (p *budgetProtocol) ReadFieldBegin(ctx context.Context) (string, thrift.TType, int16, error) {
	if err := p.budget.take(costField); err != nil {
		return "", thrift.STOP, 0, err
	}
	return p.TProtocol.ReadFieldBegin(ctx)
}

func (p *budgetProtocol) ReadListBegin(ctx context.Context) (thrift.TType, int, error) {
	t, n, err := p.TProtocol.ReadListBegin(ctx)
	if err == nil {
		err = p.budget.takeN(n, costSlice+elemCost(t))
	}
	return t, n, err
}

func (p *budgetProtocol) ReadSetBegin(ctx context.Context) (thrift.TType, int, error) {
	t, n, err := p.TProtocol.ReadSetBegin(ctx)
	if err == nil {
		err = p.budget.takeN(n, costSlice+elemCost(t))
	}
	return t, n, err
}

func (p *budgetProtocol) ReadMapBegin(ctx context.Context) (thrift.TType, thrift.TType, int, error) {
	k, v, n, err := p.TProtocol.ReadMapBegin(ctx)
	if err == nil {
		// The generated code makes the map at the size the header claims.
		err = p.budget.takeN(n, 2*(elemCost(k)+elemCost(v)+costMapEntry))
	}
	return k, v, n, err
}

func (p *budgetProtocol) ReadString(ctx context.Context) (string, error) {
	b, err := p.readBody(ctx, costString)
	if err != nil || len(b) == 0 {
		return "", err
	}
	return stringAt(b, 0, len(b)), nil
}

func (p *budgetProtocol) ReadBinary(ctx context.Context) ([]byte, error) {
	return p.readBody(ctx, costSlice)
}

// readBody reads a string or binary value, charged at header plus its
// bytes.
func (p *budgetProtocol) readBody(ctx context.Context, header int) ([]byte, error) {
	if p.trans == nil {
		b, err := p.TProtocol.ReadBinary(ctx)
		if err == nil {
			err = p.budget.take(header + len(b))
		}
		return b, err
	}
	return readCharged(ctx, p.TProtocol, p.trans, &p.budget, header)
}

// readCharged reads a string or binary value of the binary protocol p,
// whose bytes come from r (p's transport, read directly), charging b with
// header plus its length before anything of that size is allocated; the
// buffer then grows as the bytes arrive, not at the length the prefix
// claims.
func readCharged(ctx context.Context, p thrift.TProtocol, r io.Reader, b *replyBudget, header int) ([]byte, error) {
	size, err := p.ReadI32(ctx)
	if err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, negative(size)
	}
	if err := b.take(header + int(size)); err != nil {
		return nil, err
	}
	buf, err := readGrowing(r, int(size))
	if err != nil {
		return nil, thrift.NewTProtocolException(err)
	}
	return buf, nil
}

// growChunk is the first allocation of a buffer read as its bytes arrive
// (as saslwire.ReadBounded's).
const growChunk = 64 << 10

// readGrowing reads exactly n bytes into a new buffer that grows, from
// growChunk and never past n, as the bytes arrive, so that memory follows
// what was received and not what a length claimed.
func readGrowing(r io.Reader, n int) ([]byte, error) {
	if n == 0 {
		return []byte{}, nil // as the binary protocol reads an empty value
	}
	buf, err := saslwire.ReadBounded(r, nil, n)
	if err != nil {
		return nil, err
	}
	return buf, nil
}

// readLimitSlack is what the bytes received during one call may exceed
// Options.MaxMessageSize by: read-ahead of the buffered reader, SASL frame
// headers.
const readLimitSlack = 1 << 20

// errMessageTooLarge is the read error of a call whose reply went past
// Options.MaxMessageSize on the wire.
type errMessageTooLarge struct{ limit int64 }

func (e *errMessageTooLarge) Error() string {
	return fmt.Sprintf("%s: more than %d bytes on the wire (Options.MaxMessageSize)", ErrReplyTooLarge, e.limit)
}

func (e *errMessageTooLarge) Unwrap() error { return ErrReplyTooLarge }

// readLimited is the read side of countingConn: a call's reply may not
// exceed a number of bytes (zero: no limit, as during the handshakes).
type readLimited struct {
	read, limit int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	if c.rl.limit > 0 && c.rl.read >= c.rl.limit {
		return 0, &errMessageTooLarge{limit: c.rl.limit - readLimitSlack}
	}
	n, err := c.Conn.Read(p)
	c.rl.read += int64(n)
	return n, err
}

// limitReads bounds what the next call may receive to max bytes plus
// slack.
func (c *countingConn) limitReads(max int) {
	c.rl = readLimited{limit: int64(max) + readLimitSlack}
}

var _ net.Conn = (*countingConn)(nil)
