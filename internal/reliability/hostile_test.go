package reliability

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
	"github.com/impalalb/impalalb/secret"
)

// A hostile coordinator: raw TCP on loopback that speaks enough HS2 (binary
// Thrift, NOSASL or SASL PLAIN framing) to get the client to a given call,
// then answers it with bytes chosen to hurt: a length of 2 GiB, a string
// length of -1, a result with more columns than its schema, garbage after
// a valid reply. The client must fail with a clear error, allocate far less
// than what was claimed and not panic. These tests do not run in parallel,
// so that the process-wide allocation counter measures them alone.

const claimed = 2 << 30 // 2 GiB

// reply writes the whole reply to one call, raw.
type replyFunc func(name string, seq int32) []byte

// hostileServer serves one scripted coordinator on loopback.
type hostileServer struct {
	sasl  bool                 // SASL framing (PLAIN) instead of NOSASL
	saslH func(w io.Writer)    // the SASL server's answer to START; nil: COMPLETE
	reply map[string]replyFunc // by method; missing: a valid reply
}

func startHostile(t *testing.T, h *hostileServer) string {
	return serveLoopback(t, h.serve)
}

// serveLoopback listens on loopback and serves each connection with serve
// on a goroutine of its own; at cleanup it closes the listener and every
// connection and waits for the goroutines. It returns the address.
func serveLoopback(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// saslMessage reads one SASL negotiation message: status byte, 4-byte
// length, payload.
func saslMessage(r *bufio.Reader) error {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > 1<<16 {
		return errors.New("too long")
	}
	_, err := io.CopyN(io.Discard, r, int64(n))
	return err
}

func (h *hostileServer) serve(c net.Conn) {
	r := bufio.NewReader(c)
	var in io.Reader = r
	if h.sasl {
		// Two messages: START (mechanism name) and the PLAIN response.
		for range 2 {
			if saslMessage(r) != nil {
				return
			}
		}
		if h.saslH != nil {
			h.saslH(c)
			return
		}
		_, _ = c.Write([]byte{5, 0, 0, 0, 0}) // COMPLETE, empty
	}
	for {
		var body []byte
		if h.sasl {
			var n [4]byte
			if _, err := io.ReadFull(in, n[:]); err != nil {
				return
			}
			body = make([]byte, binary.BigEndian.Uint32(n[:])&(1<<20-1))
			if _, err := io.ReadFull(in, body); err != nil {
				return
			}
		}
		src := in
		if h.sasl {
			src = bytesReader(body)
		}
		prot := thrift.NewTBinaryProtocolConf(thrift.NewStreamTransportR(src), nil)
		ctx := context.Background()
		name, _, seq, err := prot.ReadMessageBegin(ctx)
		if err != nil {
			return
		}
		if prot.Skip(ctx, thrift.STRUCT) != nil || prot.ReadMessageEnd(ctx) != nil {
			return
		}
		var out []byte
		if f, ok := h.reply[name]; ok {
			out = f(name, seq)
		} else {
			out = validReply(name, seq)
		}
		if out == nil {
			return // hang up
		}
		if h.sasl {
			var n [4]byte
			binary.BigEndian.PutUint32(n[:], uint32(len(out)))
			out = append(n[:], out...)
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

type byteReader struct{ b []byte }

func bytesReader(b []byte) *byteReader { return &byteReader{b} }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// encode writes a Thrift reply message with result as its body.
func encode(name string, seq int32, result thrift.TStruct) []byte {
	buf := thrift.NewTMemoryBuffer()
	p := thrift.NewTBinaryProtocolConf(buf, nil)
	ctx := context.Background()
	_ = p.WriteMessageBegin(ctx, name, thrift.REPLY, seq)
	_ = result.Write(ctx, p)
	_ = p.WriteMessageEnd(ctx)
	_ = p.Flush(ctx)
	return buf.Bytes()
}

var ok = &tcli.TStatus{StatusCode: tcli.TStatusCode_SUCCESS_STATUS}

func handle() *tcli.THandleIdentifier {
	return &tcli.THandleIdentifier{GUID: make([]byte, 16), Secret: make([]byte, 16)}
}

// schemaCols is how many BIGINT columns the metadata reply announces.
const schemaCols = 1

// validReply answers the calls conn makes with a well-formed reply: a V6
// session, a statement with a result set, finished at once, one BIGINT
// column, three rows.
func validReply(name string, seq int32) []byte {
	switch name {
	case "OpenSession":
		return encode(name, seq, &tcli.TCLIServiceOpenSessionResult{Success: &tcli.TOpenSessionResp{
			Status: ok, ServerProtocolVersion: tcli.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V6,
			SessionHandle: &tcli.TSessionHandle{SessionId: handle()},
		}})
	case "PingImpalaHS2Service":
		v := "hostile"
		return encode(name, seq, &impala.ImpalaHiveServer2ServicePingImpalaHS2ServiceResult{Success: &impala.TPingImpalaHS2ServiceResp{Status: ok, Version: &v}})
	case "ExecuteStatement":
		return encode(name, seq, &tcli.TCLIServiceExecuteStatementResult{Success: &tcli.TExecuteStatementResp{
			Status: ok, OperationHandle: &tcli.TOperationHandle{OperationId: handle(), OperationType: tcli.TOperationType_EXECUTE_STATEMENT, HasResultSet: true},
		}})
	case "GetOperationStatus":
		st := tcli.TOperationState_FINISHED_STATE
		return encode(name, seq, &tcli.TCLIServiceGetOperationStatusResult{Success: &tcli.TGetOperationStatusResp{Status: ok, OperationState: &st}})
	case "GetResultSetMetadata":
		var cols []*tcli.TColumnDesc
		for i := range schemaCols {
			cols = append(cols, &tcli.TColumnDesc{ColumnName: "c", Position: int32(i + 1),
				TypeDesc: &tcli.TTypeDesc{Types: []*tcli.TTypeEntry{{PrimitiveEntry: &tcli.TPrimitiveTypeEntry{Type: tcli.TTypeId_BIGINT_TYPE}}}}})
		}
		return encode(name, seq, &tcli.TCLIServiceGetResultSetMetadataResult{Success: &tcli.TGetResultSetMetadataResp{Status: ok, Schema: &tcli.TTableSchema{Columns: cols}}})
	case "FetchResults":
		return fetchReply(name, seq, schemaCols)
	case "CloseImpalaOperation":
		return encode(name, seq, &impala.ImpalaHiveServer2ServiceCloseImpalaOperationResult{Success: &impala.TCloseImpalaOperationResp{Status: ok}})
	case "CloseSession":
		return encode(name, seq, &tcli.TCLIServiceCloseSessionResult{Success: &tcli.TCloseSessionResp{Status: ok}})
	}
	return nil
}

// fetchReply is a final batch of three rows in cols BIGINT columns.
func fetchReply(name string, seq int32, cols int) []byte {
	more := false
	var cs []*tcli.TColumn
	for range cols {
		cs = append(cs, &tcli.TColumn{I64Val: &tcli.TI64Column{Values: []int64{1, 2, 3}, Nulls: []byte{}}})
	}
	return encode(name, seq, &tcli.TCLIServiceFetchResultsResult{Success: &tcli.TFetchResultsResp{
		Status: ok, HasMoreRows: &more, Results: &tcli.TRowSet{Rows: []*tcli.TRow{}, Columns: cs},
	}})
}

// be32 is a big-endian int32.
func be32(v int32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(v))
	return b[:]
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Binary protocol pieces.
var (
	replyVersion = be32(int32(-2147418110)) // 0x80010002: version 1, REPLY
	fieldStruct  = func(id int16) []byte { return []byte{byte(thrift.STRUCT), byte(id >> 8), byte(id)} }
	fieldString  = func(id int16) []byte { return []byte{byte(thrift.STRING), byte(id >> 8), byte(id)} }
	fieldMap     = func(id int16) []byte { return []byte{byte(thrift.MAP), byte(id >> 8), byte(id)} }
)

// header is a reply message header for name.
func header(name string, seq int32) []byte {
	return cat(replyVersion, be32(int32(len(name))), []byte(name), be32(seq))
}

// The hostile replies; each is the reply to OpenSession unless said.
var hostileCases = []struct {
	name   string
	sasl   bool
	saslH  func(w io.Writer)
	method string
	reply  replyFunc
	want   error // a sentinel the error must match, nil: any *conn.Error
}{
	{name: "sasl-frame-2GiB-in-handshake", sasl: true, saslH: func(w io.Writer) {
		_, _ = w.Write(cat([]byte{5}, be32(int32(-2147483648)))) // COMPLETE claiming 2 GiB
	}},
	{name: "sasl-data-frame-2GiB", sasl: true, method: "OpenSession", reply: func(string, int32) []byte {
		return nil // replaced below: the server writes its own frame header
	}},
	{name: "message-name-length-2GiB", method: "OpenSession", reply: func(name string, seq int32) []byte {
		return cat(replyVersion, be32(claimed-1), []byte("OpenSession"))
	}},
	{name: "message-name-length-minus-1", method: "OpenSession", reply: func(name string, seq int32) []byte {
		return cat(replyVersion, be32(-1), []byte("OpenSession"))
	}},
	{name: "string-length-minus-1", method: "OpenSession", reply: func(name string, seq int32) []byte {
		// success { status { sqlState: string of length -1 } }
		return cat(header(name, seq), fieldStruct(0), fieldStruct(1), fieldString(3), be32(-1), []byte("xx"))
	}},
	{name: "string-length-2GiB", method: "OpenSession", reply: func(name string, seq int32) []byte {
		return cat(header(name, seq), fieldStruct(0), fieldStruct(1), fieldString(5), be32(claimed-1), []byte("xx"))
	}},
	{name: "map-size-2G-entries", method: "OpenSession", reply: func(name string, seq int32) []byte {
		// success { configuration: map<string,string> of 2^31-1 entries }
		return cat(header(name, seq), fieldStruct(0), fieldMap(4), []byte{byte(thrift.STRING), byte(thrift.STRING)}, be32(claimed-1), []byte("xx"))
	}},
	{name: "garbage-after-valid-reply", method: "OpenSession", reply: func(name string, seq int32) []byte {
		return cat(validReply(name, seq), []byte("\x80\x01\x00\x02garbage\xff\xff\xff\xff not thrift at all"))
	}},
	{name: "columns-disagree-with-schema", method: "FetchResults", reply: func(name string, seq int32) []byte {
		return fetchReply(name, seq, schemaCols+2)
	}, want: conn.ErrBadRowSet},
	{name: "fetch-column-values-2G", method: "FetchResults", reply: func(name string, seq int32) []byte {
		// results { startRowOffset, rows: [], columns: [ { i64Val { values: list of 2^31-1 } } ] }
		list := func(id int16) []byte { return []byte{byte(thrift.LIST), byte(id >> 8), byte(id)} }
		i64 := []byte{0, 0, 0, 0, 0, 0, 0, 0}
		return cat(header(name, seq), fieldStruct(0), fieldStruct(1), []byte{byte(thrift.I32), 0, 1}, be32(0), []byte{0},
			fieldStruct(3), []byte{byte(thrift.I64), 0, 1}, i64,
			list(2), []byte{byte(thrift.STRUCT)}, be32(0),
			list(3), []byte{byte(thrift.STRUCT)}, be32(1),
			fieldStruct(5), list(1), []byte{byte(thrift.I64)}, be32(claimed-1), i64)
	}},
}

// TestHostileCoordinator drives conn.Dial, a statement and the pool against
// each hostile reply.
func TestHostileCoordinator(t *testing.T) {
	healthy, hAddrs := startCluster(t, 1, impalad.Config{})
	_ = healthy
	for _, c := range hostileCases {
		t.Run(c.name, func(t *testing.T) {
			h := &hostileServer{sasl: c.sasl, saslH: c.saslH, reply: map[string]replyFunc{}}
			if c.method != "" {
				h.reply[c.method] = c.reply
			}
			if c.name == "sasl-data-frame-2GiB" {
				h.reply = nil
				h.saslH = func(w io.Writer) {
					_, _ = w.Write([]byte{5, 0, 0, 0, 0})
					_, _ = w.Write(be32(int32(-2147483648))) // first data frame: 2 GiB
				}
			}
			addr := startHostile(t, h)
			opts := fastOpts()
			if c.sasl {
				opts.Password = secret.New("hostile-pw")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			err := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				s, err := conn.Dial(ctx, addr, opts)
				if err != nil {
					return err
				}
				defer s.Close()
				return runStmt(ctx, s, "select c from t")
			}()
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc

			require.Error(t, err)
			requireTyped(t, err, addr)
			if c.want != nil {
				require.ErrorIs(t, err, c.want)
			}
			within(t, elapsed, stmtTimeout, c.name)
			require.Less(t, alloc, uint64(64<<20), "allocated %d bytes for a claim of %d", alloc, claimed)
			t.Logf("%s: %v (allocated %d KiB, %v)", c.name, err, alloc>>10, elapsed.Round(time.Millisecond))

			// Through the pool: the hostile coordinator is skipped, the
			// healthy one serves.
			p := newPool(t, []string{addr, hAddrs[0]}, opts, func(cfg *balancer.Config) {
				cfg.Retries = 2
			})
			if c.sasl {
				// The healthy coordinator speaks NOSASL; a pool of its own.
				p = newPool(t, []string{addr}, opts, nil)
				_, err := p.Acquire(ctx, "")
				require.Error(t, err)
				requireTyped(t, err, addr)
				return
			}
			for range 4 {
				l, err := p.Acquire(ctx, "")
				require.NoError(t, err)
				err = runStmt(ctx, sess(l), "select 1")
				if err != nil {
					requireTyped(t, err, addr)
					l.Discard()
					continue
				}
				l.Release()
			}
		})
	}
}
