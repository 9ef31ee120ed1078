package conn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http/httputil"
	"strconv"
	"strings"
)

// replyHead is what the HS2HTTP transport takes from the head of an HTTP
// reply. readHead fills it without allocating for the common reply (200,
// application/x-thrift, a Content-Length, no cookie).
type replyHead struct {
	status int
	// reason is the status line's text after the code ("Bad Gateway"),
	// kept for a status other than 200.
	reason string
	// length is the Content-Length, -1 when the reply has none (chunked,
	// or until the connection closes).
	length  int64
	chunked bool
	// close says the connection ends after this reply (Connection:
	// close, or an HTTP/1.0 reply without keep-alive).
	close bool
	// thrift says the Content-Type is Thrift's; contentType keeps any
	// other ("" when there is none).
	thrift      bool
	contentType string
	location    string
	// authenticate are the WWW-Authenticate values, setCookie the
	// Set-Cookie values.
	authenticate []string
	setCookie    []string
}

// maxHeaderLines bounds the header fields of one reply.
const maxHeaderLines = 200

// errBadHead is wrapped by every malformed reply head.
var errBadHead = errors.New("malformed HTTP reply head")

// reset empties h for the next reply, keeping its slices' room.
func (h *replyHead) reset() {
	*h = replyHead{length: -1, authenticate: h.authenticate[:0], setCookie: h.setCookie[:0]}
}

// readHead reads the status line and the header fields of a reply from
// br (RFC 9112): lines end in CRLF or LF, no line may be longer than br's
// buffer, a folded header line or a header name that is not a token is
// malformed, conflicting Content-Lengths are refused, and a
// Transfer-Encoding other than chunked is not supported.
func readHead(br *bufio.Reader, h *replyHead) error {
	h.reset()
	line, err := headLine(br)
	if err != nil {
		return err
	}
	// HTTP/1.x SP 3DIGIT [SP reason]
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[7] < '0' || line[7] > '9' || line[8] != ' ' {
		return fmt.Errorf("%w: status line %q", errBadHead, printableText(string(line), 60))
	}
	code := line[9:12]
	if code[0] < '1' || code[0] > '5' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' || len(line) > 12 && line[12] != ' ' {
		return fmt.Errorf("%w: status line %q", errBadHead, printableText(string(line), 60))
	}
	h.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if h.status != 200 && len(line) > 13 {
		h.reason = printableText(string(line[13:]), 100)
	}
	http10 := line[7] == '0'
	keepAlive := false
	for n := 0; ; n++ {
		line, err := headLine(br)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // after the status line
		}
		if err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
		if n == maxHeaderLines {
			return fmt.Errorf("%w: more than %d header fields", errBadHead, maxHeaderLines)
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(string(line[:colon])) {
			// A name that is not a token, or a folded line.
			return fmt.Errorf("%w: header line %q", errBadHead, printableText(string(line), 60))
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		ka, err := h.field(name, value)
		if err != nil {
			return err
		}
		keepAlive = keepAlive || ka
	}
	if http10 && !keepAlive {
		h.close = true
	}
	if h.chunked {
		h.length = -1
	}
	if h.status < 200 || h.status == 204 || h.status == 304 {
		h.length, h.chunked = 0, false
	}
	return nil
}

// field takes one header field of a reply into h; keepAlive reports a
// "Connection: keep-alive".
func (h *replyHead) field(name, value []byte) (bool, error) {
	keepAlive := false
	switch {
	case fold(name, "content-length"):
		v, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil || v < 0 || value[0] == '+' {
			return false, fmt.Errorf("%w: Content-Length %q", errBadHead, printableText(string(value), 30))
		}
		if h.length >= 0 && h.length != v {
			return false, fmt.Errorf("%w: two Content-Lengths", errBadHead)
		}
		h.length = v
	case fold(name, "transfer-encoding"):
		if !fold(value, "chunked") {
			return false, fmt.Errorf("%w: Transfer-Encoding %q is not supported", errBadHead, printableText(string(value), 30))
		}
		h.chunked = true
	case fold(name, "connection"):
		for rest := value; len(rest) > 0; {
			var tok []byte
			tok, rest, _ = bytes.Cut(rest, []byte(","))
			tok = bytes.Trim(tok, " \t")
			switch {
			case fold(tok, "close"):
				h.close = true
			case fold(tok, "keep-alive"):
				keepAlive = true
			}
		}
	case fold(name, "content-type"):
		mt, _, _ := bytes.Cut(value, []byte(";"))
		mt = bytes.Trim(mt, " \t")
		h.thrift = fold(mt, "application/x-thrift") || fold(mt, "application/vnd.apache.thrift.binary")
		if !h.thrift {
			h.contentType = printableText(string(value), 100)
		}
	case fold(name, "location"):
		h.location = printableText(string(value), 200)
	case fold(name, "www-authenticate"):
		h.authenticate = append(h.authenticate, string(value))
	case fold(name, "set-cookie"):
		h.setCookie = append(h.setCookie, string(value))
	}
	return keepAlive, nil
}

// headLine reads one line of a head without its CRLF (or LF). The slice is
// valid until the next read of br.
func headLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("%w: a line longer than %d bytes", errBadHead, br.Size())
	case err == io.EOF && len(line) > 0:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// fold reports whether b equals the lower-case ASCII s, in any case.
func fold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// chunkedBody reads a chunked reply body from br, and its trailer
// section, so that the connection is at the next reply when it ends.
type chunkedBody struct {
	br  *bufio.Reader
	r   io.Reader // httputil's chunked reader over br
	end bool
}

func newChunkedBody(br *bufio.Reader) *chunkedBody {
	return &chunkedBody{br: br, r: httputil.NewChunkedReader(br)}
}

func (c *chunkedBody) Read(p []byte) (int, error) {
	if c.end {
		return 0, io.EOF
	}
	n, err := c.r.Read(p)
	if err == io.EOF {
		// The last chunk: the trailer fields, up to an empty line.
		for i := 0; ; i++ {
			line, lerr := headLine(c.br)
			if lerr != nil {
				return n, lerr
			}
			if len(line) == 0 {
				break
			}
			if i == maxHeaderLines {
				return n, fmt.Errorf("%w: more than %d trailer fields", errBadHead, maxHeaderLines)
			}
		}
		c.end = true
	}
	return n, err
}

// statusText is "<code> <reason>" of h.
func (h *replyHead) statusText() string {
	s := strconv.Itoa(h.status)
	if h.reason != "" {
		s += " " + h.reason
	} else if h.status == 200 {
		s += " OK"
	}
	return strings.TrimSpace(s)
}
