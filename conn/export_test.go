package conn

import (
	"bufio"
	"bytes"
)

// QueryIDFromGUID exposes queryIDFromGUID to the external tests.
var QueryIDFromGUID = queryIDFromGUID

// MajorVersion exposes majorVersion to the external tests.
var MajorVersion = majorVersion

// ReadHTTPHead runs readHead over b: the HS2HTTP transport's parser of an
// HTTP reply head, for its tests.
func ReadHTTPHead(b []byte) (status int, length int64, chunked, close bool, err error) {
	var h replyHead
	err = readHead(bufio.NewReaderSize(bytes.NewReader(b), 4096), &h)
	return h.status, h.length, h.chunked, h.close, err
}
