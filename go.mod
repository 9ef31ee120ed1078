module github.com/impalalb/impalalb

go 1.26.0

require (
	github.com/apache/thrift v0.25.0 // indirect
	github.com/jcmturner/gokrb5/v8 v8.4.4 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/sync v0.25.0 // indirect
)
