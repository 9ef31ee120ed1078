package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// A hostile coordinator that sends big replies, within the message size
// limit or beyond it, made to cost the client far more memory than their
// bytes: tens of millions of empty strings (4 bytes on the wire, 16 in
// Go), empty BINARY values (24), row-based rows, more rows than the fetch
// asked for, a session handshake or a schema of millions of entries. Each
// case runs in a child process (the test binary again) whose peak RSS
// (VmHWM) is measured before and after, so that the figure is the
// client's alone; the hostile coordinator runs in the test and streams its
// reply. Asserted: a typed error naming the coordinator within the
// timeouts, no row beyond what was asked, and an RSS growth bounded by a
// multiple of the memory budget (conn.Options.MaxReplyMemory).
//

// memCase is one hostile reply.
type memCase struct {
	name string
	// budget is the child's MaxReplyMemory (0: the default).
	budget int
	// maxMessage is the child's MaxMessageSize (0: the default).
	maxMessage int
	// sasl frames the connection with SASL PLAIN.
	sasl bool
	// http speaks HiveServer2 over HTTP: each reply an HTTP response,
	// chunked (its size unknown until its end) unless httpLength is set.
	http bool
	// httpLength is the Content-Length the hostile replies announce (0:
	// chunked).
	httpLength int64
	// schema is the metadata's column types (nil: one BIGINT).
	schema []tcli.TTypeId
	// openSession and fetch stream the reply to that call (nil: a valid
	// one).
	openSession, fetch func(w *bufio.Writer)
	// want is what the error must wrap.
	want error
}

const (
	issueRows   = 10240    // the fetch size of every case
	smallBudget = 32 << 20 // the budget of the cases that need the budget
)

// The replies of the cases; each is a reply body (the result struct),
// written after the message header.
var memCases = []memCase{
	{name: "60M empty strings, 240 MB", schema: []tcli.TTypeId{tcli.TTypeId_STRING_TYPE}, fetch: func(w *bufio.Writer) {
		columns(w, 1, thrift.STRING, 60_000_000, func(int) { w.Write(be32(0)) })
	}, want: conn.ErrBadRowSet},
	{name: "10240 rows of 3000 empty strings, 123 MB", budget: smallBudget, schema: repeatType(tcli.TTypeId_STRING_TYPE, 3000), fetch: func(w *bufio.Writer) {
		columns(w, 3000, thrift.STRING, issueRows, func(int) { w.Write(be32(0)) })
	}, want: conn.ErrReplyTooLarge},
	{name: "same over SASL PLAIN", sasl: true, budget: smallBudget, schema: repeatType(tcli.TTypeId_STRING_TYPE, 3000), fetch: func(w *bufio.Writer) {
		columns(w, 3000, thrift.STRING, issueRows, func(int) { w.Write(be32(0)) })
	}, want: conn.ErrReplyTooLarge},
	{name: "10240 rows of 3000 empty BINARY, 123 MB", budget: smallBudget, schema: repeatType(tcli.TTypeId_BINARY_TYPE, 3000), fetch: func(w *bufio.Writer) {
		columnsOf(w, 3000, 8, thrift.STRING, issueRows, func(int) { w.Write(be32(0)) })
	}, want: conn.ErrReplyTooLarge},
	{name: "25M row-based rows, 225 MB", fetch: func(w *bufio.Writer) {
		rowBased(w, 25_000_000, 0)
	}, want: conn.ErrBadRowSet},
	{name: "10240 row-based rows of 400 empty values", budget: smallBudget, fetch: func(w *bufio.Writer) {
		rowBased(w, issueRows, 400)
	}, want: conn.ErrReplyTooLarge},
	{name: "30M rows of 3 BIGINT columns, 720 MB", schema: repeatType(tcli.TTypeId_BIGINT_TYPE, 3), fetch: func(w *bufio.Writer) {
		columns(w, 3, thrift.I64, 30_000_000, func(i int) { w.Write(binary.BigEndian.AppendUint64(nil, uint64(i))) })
	}, want: conn.ErrBadRowSet},
	{name: "48 MB of unknown fields, message limit 16 MB", maxMessage: 16 << 20, fetch: unknownFields48MB, want: conn.ErrReplyTooLarge},
	{name: "over hs2-http: 10240 rows of 3000 empty strings, 123 MB, chunked", http: true, budget: smallBudget, schema: repeatType(tcli.TTypeId_STRING_TYPE, 3000), fetch: func(w *bufio.Writer) {
		columns(w, 3000, thrift.STRING, issueRows, func(int) { w.Write(be32(0)) })
	}, want: conn.ErrReplyTooLarge},
	{name: "over hs2-http: 48 MB body, chunked, message limit 16 MB", http: true, maxMessage: 16 << 20, fetch: unknownFields48MB, want: conn.ErrReplyTooLarge},
	{name: "over hs2-http: Content-Length of 2 GiB", http: true, httpLength: claimed, fetch: unknownFields48MB, want: conn.ErrReplyTooLarge},
	{name: "OpenSession configuration of 4M empty entries, 32 MB", budget: smallBudget, openSession: func(w *bufio.Writer) {
		// success { configuration: map<string,string> }
		w.Write(fieldStruct(0))
		w.Write(fieldMap(4))
		w.Write([]byte{byte(thrift.STRING), byte(thrift.STRING)})
		w.Write(be32(4 << 20))
		for i := range 4 << 20 {
			if i%(1<<16) == 0 && gone(w) {
				return
			}
			w.Write(be32(4))
			w.Write(be32(int32(i)))
			w.Write(be32(0))
		}
		w.Write([]byte{byte(thrift.STOP), byte(thrift.STOP)})
	}, want: conn.ErrReplyTooLarge},
}

// unknownFields48MB writes success { 99: list<binary> of 48 values of 1
// MiB }, which the client skips.
func unknownFields48MB(w *bufio.Writer) {
	w.Write(fieldStruct(0))
	w.Write([]byte{byte(thrift.LIST), 0, 99, byte(thrift.STRING)})
	w.Write(be32(48))
	chunk := make([]byte, 1<<20)
	for i := range 48 {
		if i%8 == 0 && gone(w) {
			return
		}
		w.Write(be32(int32(len(chunk))))
		w.Write(chunk)
	}
	w.Write([]byte{byte(thrift.STOP), byte(thrift.STOP)})
}

func repeatType(t tcli.TTypeId, n int) []tcli.TTypeId {
	out := make([]tcli.TTypeId, n)
	for i := range out {
		out[i] = t
	}
	return out
}

// resultsStart writes success { status, hasMoreRows: false, results {
// startRowOffset: 0, ... (the caller goes on with the row set's fields.
func resultsStart(w *bufio.Writer) {
	w.Write(fieldStruct(0))
	w.Write(fieldStruct(1))
	w.Write([]byte{byte(thrift.I32), 0, 1})
	w.Write(be32(0))
	w.Write([]byte{byte(thrift.STOP)})
	w.Write([]byte{byte(thrift.BOOL), 0, 2, 0})
	w.Write(fieldStruct(3))
	w.Write([]byte{byte(thrift.I64), 0, 1, 0, 0, 0, 0, 0, 0, 0, 0})
}

// resultsEnd closes the row set, the response and the result struct.
func resultsEnd(w *bufio.Writer) {
	w.Write([]byte{byte(thrift.STOP), byte(thrift.STOP), byte(thrift.STOP)})
}

// columns writes a columnar batch of cols columns of n values of type t
// (each written by value), in the TColumn field of that type.
func columns(w *bufio.Writer, cols int, t thrift.TType, n int, value func(i int)) {
	field := map[thrift.TType]int16{thrift.STRING: 7, thrift.I64: 5}[t]
	columnsOf(w, cols, field, t, n, value)
}

func columnsOf(w *bufio.Writer, cols int, field int16, t thrift.TType, n int, value func(i int)) {
	resultsStart(w)
	w.Write([]byte{byte(thrift.LIST), 0, 2, byte(thrift.STRUCT)})
	w.Write(be32(0))
	w.Write([]byte{byte(thrift.LIST), 0, 3, byte(thrift.STRUCT)})
	w.Write(be32(int32(cols)))
	for range cols {
		w.Write(fieldStruct(field))
		w.Write([]byte{byte(thrift.LIST), 0, 1, byte(t)})
		w.Write(be32(int32(n)))
		for i := range n {
			if i%(1<<16) == 0 && gone(w) {
				return
			}
			value(i)
		}
		w.Write(fieldString(2))
		w.Write(be32(0))
		w.Write([]byte{byte(thrift.STOP), byte(thrift.STOP)})
	}
	resultsEnd(w)
}

// rowBased writes n row-based rows of vals empty string values each.
func rowBased(w *bufio.Writer, n, vals int) {
	resultsStart(w)
	w.Write([]byte{byte(thrift.LIST), 0, 2, byte(thrift.STRUCT)})
	w.Write(be32(int32(n)))
	for i := range n {
		if i%(1<<16) == 0 && gone(w) {
			return
		}
		w.Write([]byte{byte(thrift.LIST), 0, 1, byte(thrift.STRUCT)})
		w.Write(be32(int32(vals)))
		for range vals {
			w.Write(fieldStruct(7))
			w.Write([]byte{byte(thrift.STOP), byte(thrift.STOP)})
		}
		w.Write([]byte{byte(thrift.STOP)})
	}
	resultsEnd(w)
}

// gone reports that the client stopped reading: the writer's error.
func gone(w *bufio.Writer) bool {
	_, err := w.Write(nil)
	return err != nil
}

// streamServer is a hostile coordinator whose replies are streamed: valid
// ones but for the case's calls.
type streamServer struct{ c memCase }

func startStream(t *testing.T, c memCase) string {
	return serveLoopback(t, (&streamServer{c: c}).serve)
}

// framer sends what is written to it as SASL data frames.
type framer struct{ w io.Writer }

func (f framer) Write(p []byte) (int, error) {
	if _, err := f.w.Write(be32(int32(len(p)))); err != nil {
		return 0, err
	}
	return f.w.Write(p)
}

// answer is the reply to the call name: whole, or streamed by stream
// after its message header.
func (s *streamServer) answer(name string, seq int32) (reply []byte, stream func(w *bufio.Writer)) {
	switch name {
	case "OpenSession":
		stream = s.c.openSession
	case "FetchResults":
		stream = s.c.fetch
	case "GetResultSetMetadata":
		return schemaReply(name, seq, s.c.schema), nil
	}
	if stream == nil {
		return validReply(name, seq), nil
	}
	return nil, stream
}

func (s *streamServer) serve(nc net.Conn) {
	if s.c.http {
		s.serveHTTP(nc)
		return
	}
	r := bufio.NewReader(nc)
	if s.c.sasl {
		for range 2 { // START and the PLAIN response
			if saslMessage(r) != nil {
				return
			}
		}
		if _, err := nc.Write([]byte{5, 0, 0, 0, 0}); err != nil {
			return
		}
	}
	var out io.Writer = nc
	if s.c.sasl {
		out = framer{nc}
	}
	w := bufio.NewWriterSize(out, 1<<20)
	for {
		var src io.Reader = r
		if s.c.sasl {
			var n [4]byte
			if _, err := io.ReadFull(r, n[:]); err != nil {
				return
			}
			body := make([]byte, binary.BigEndian.Uint32(n[:])&(1<<20-1))
			if _, err := io.ReadFull(r, body); err != nil {
				return
			}
			src = bytesReader(body)
		}
		prot := thrift.NewTBinaryProtocolConf(thrift.NewStreamTransportR(src), nil)
		ctx := context.Background()
		name, _, seq, err := prot.ReadMessageBegin(ctx)
		if err != nil || prot.Skip(ctx, thrift.STRUCT) != nil || prot.ReadMessageEnd(ctx) != nil {
			return
		}
		reply, stream := s.answer(name, seq)
		if stream == nil {
			w.Write(reply)
		} else {
			w.Write(header(name, seq))
			stream(w)
		}
		if w.Flush() != nil {
			return
		}
	}
}

// serveHTTP serves HiveServer2 over HTTP: each request's body is one
// Thrift call, each response's body its reply; a hostile reply is
// streamed chunked, or after a Content-Length of httpLength.
func (s *streamServer) serveHTTP(nc net.Conn) {
	r := bufio.NewReader(nc)
	w := bufio.NewWriterSize(nc, 1<<20)
	ctx := context.Background()
	for {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		req.Body.Close()
		if err != nil {
			return
		}
		prot := thrift.NewTBinaryProtocolConf(thrift.NewStreamTransportR(bytes.NewReader(body)), nil)
		name, _, seq, err := prot.ReadMessageBegin(ctx)
		if err != nil {
			return
		}
		reply, stream := s.answer(name, seq)
		const head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-thrift\r\n"
		switch {
		case stream == nil:
			fmt.Fprintf(w, head+"Content-Length: %d\r\n\r\n", len(reply))
			w.Write(reply)
		case s.c.httpLength > 0:
			fmt.Fprintf(w, head+"Content-Length: %d\r\n\r\n", s.c.httpLength)
			w.Write(header(name, seq))
			stream(w)
		default:
			w.WriteString(head + "Transfer-Encoding: chunked\r\n\r\n")
			cw := httputil.NewChunkedWriter(w)
			bw := bufio.NewWriterSize(cw, 1<<20)
			bw.Write(header(name, seq))
			stream(bw)
			if bw.Flush() != nil || cw.Close() != nil {
				return
			}
			w.WriteString("\r\n")
		}
		if w.Flush() != nil {
			return
		}
	}
}

// schemaReply is a GetResultSetMetadata reply of columns of the given
// types (nil: one BIGINT).
func schemaReply(name string, seq int32, types []tcli.TTypeId) []byte {
	if types == nil {
		types = []tcli.TTypeId{tcli.TTypeId_BIGINT_TYPE}
	}
	var cols []*tcli.TColumnDesc
	for i, t := range types {
		cols = append(cols, &tcli.TColumnDesc{ColumnName: "c" + strconv.Itoa(i), Position: int32(i + 1),
			TypeDesc: &tcli.TTypeDesc{Types: []*tcli.TTypeEntry{{PrimitiveEntry: &tcli.TPrimitiveTypeEntry{Type: t}}}}})
	}
	return encode(name, seq, &tcli.TCLIServiceGetResultSetMetadataResult{Success: &tcli.TGetResultSetMetadataResp{Status: ok, Schema: &tcli.TTableSchema{Columns: cols}}})
}

// memResult is what the child reports.
type memResult struct {
	HWMBefore, HWMAfter int64 // VmHWM in bytes
	Alloc               uint64
	Rows                int
	Err                 string
	Addr                string // of the *conn.Error
	Is                  []string
	Elapsed             time.Duration
}

// vmHWM reads the process's peak resident set.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}

// memChild runs one case against the coordinator at addr and prints what
// happened as JSON.
func memChild(c memCase, addr string) memResult {
	opts := conn.Options{User: "rel", ConnectTimeout: connectTimeout, CancelTimeout: cancelTimeout,
		FetchSize: issueRows, MaxMessageSize: c.maxMessage, MaxReplyMemory: c.budget}
	if c.sasl {
		opts.Mechanism = sasl.PlainFactory("rel", "hostile-pw")
	}
	if c.http {
		opts.Protocol = conn.HS2HTTP
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var res memResult
	var ms runtime.MemStats
	runtime.GC()
	res.HWMBefore = vmHWM()
	runtime.ReadMemStats(&ms)
	alloc := ms.TotalAlloc
	start := time.Now()
	err := func() error {
		s, err := conn.Dial(ctx, addr, opts)
		if err != nil {
			return err
		}
		defer s.Close()
		op, err := s.Execute(ctx, "select c from t", nil)
		if err != nil {
			return err
		}
		defer op.Close(ctx)
		for {
			b, err := op.Next(ctx)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			res.Rows += b.Len()
		}
	}()
	res.Elapsed = time.Since(start)
	res.HWMAfter = vmHWM()
	runtime.ReadMemStats(&ms)
	res.Alloc = ms.TotalAlloc - alloc
	if err != nil {
		res.Err = err.Error()
		var ce *conn.Error
		if errors.As(err, &ce) {
			res.Addr = ce.Addr
		}
		for name, s := range map[string]error{"ErrBadRowSet": conn.ErrBadRowSet, "ErrReplyTooLarge": conn.ErrReplyTooLarge} {
			if errors.Is(err, s) {
				res.Is = append(res.Is, name)
			}
		}
	}
	return res
}

// TestHostileMemory runs each case in a child process.
func TestHostileMemory(t *testing.T) {
	if name := os.Getenv("IMPALALB_MEM_CASE"); name != "" {
		for _, c := range memCases {
			if c.name == name {
				out, _ := json.Marshal(memChild(c, os.Getenv("IMPALALB_MEM_ADDR")))
				fmt.Printf("MEMRESULT %s\n", out)
				return
			}
		}
		t.Fatalf("no case %q", name)
	}
	for _, c := range memCases {
		t.Run(c.name, func(t *testing.T) {
			addr := startStream(t, c)
			cmd := exec.Command(os.Args[0], "-test.run=^TestHostileMemory$", "-test.count=1")
			cmd.Env = append(os.Environ(), "IMPALALB_MEM_CASE="+c.name, "IMPALALB_MEM_ADDR="+addr)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "child:\n%s", out)
			_, js, found := strings.Cut(string(out), "MEMRESULT ")
			require.True(t, found, "child:\n%s", out)
			js, _, _ = strings.Cut(js, "\n")
			var res memResult
			require.NoError(t, json.Unmarshal([]byte(js), &res))
			budget := c.budget
			if budget == 0 {
				budget = conn.DefaultMaxMessageSize
			}
			growth := res.HWMAfter - res.HWMBefore
			t.Logf("%s: %s; rows %d; RSS peak %d → %d MiB (+%d MiB, budget %d MiB); allocated %d MiB; %v",
				c.name, firstLine(res.Err), res.Rows, res.HWMBefore>>20, res.HWMAfter>>20, growth>>20, budget>>20, res.Alloc>>20, res.Elapsed.Round(time.Millisecond))

			require.NotEmpty(t, res.Err, "the reply was accepted")
			require.Equal(t, addr, res.Addr, "the error names the coordinator: %s", res.Err)
			require.Contains(t, res.Err, addr)
			require.Contains(t, res.Is, sentinelName(c.want), res.Err)
			require.Zero(t, res.Rows, "rows handed out")
			within(t, res.Elapsed, stmtTimeout, c.name)
			// What the reply made the client allocate and hold: a small
			// multiple of the budget (decoding up to the budget, the Go
			// heap's growth before a collection), whatever it claimed.
			require.Less(t, res.Alloc, uint64(2*budget+64<<20), "allocated")
			require.Less(t, growth, memBound(budget), "RSS growth")
		})
	}
}

// memBound is the RSS growth allowed for a budget: the decoded reply up
// to the budget, as much garbage again before the collector runs (GOGC
// 100), buffers. Under the race detector every byte of heap has its
// shadow.
func memBound(budget int) int64 {
	if raceEnabled {
		return int64(6*budget) + 256<<20
	}
	return int64(3*budget) + 64<<20
}

func sentinelName(err error) string {
	if errors.Is(err, conn.ErrBadRowSet) {
		return "ErrBadRowSet"
	}
	return "ErrReplyTooLarge"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
