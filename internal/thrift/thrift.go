// Package thrift holds the Thrift interface definitions impalalb speaks
// (idl/) and the Go generated from them (gen/). Regenerate with
// `go generate ./internal/thrift/`; never edit gen/ by hand.
package thrift

//go:generate ./gen.sh
