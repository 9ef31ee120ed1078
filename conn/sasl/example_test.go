package sasl_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/impalalb/impalalb/conn/sasl"
)

// Example runs a PLAIN handshake against a server written out byte by
// byte over an in-memory connection, then sends one frame.
func Example() {
	clientConn, serverConn := net.Pipe()
	defer clientConn.Close()
	defer serverConn.Close()

	// The server: read START ("PLAIN") and the initial response, answer
	// COMPLETE with no data, then read one data frame.
	got := make(chan string, 1)
	go func() {
		for range 2 {
			hdr := make([]byte, 5) // status byte, 4-byte length
			if _, err := io.ReadFull(serverConn, hdr); err != nil {
				got <- err.Error()
				return
			}
			n := int(hdr[1])<<24 | int(hdr[2])<<16 | int(hdr[3])<<8 | int(hdr[4])
			if _, err := io.ReadFull(serverConn, make([]byte, n)); err != nil {
				got <- err.Error()
				return
			}
		}
		_, _ = serverConn.Write([]byte{byte(sasl.StatusComplete), 0, 0, 0, 0})
		frame := make([]byte, 4+5)
		if _, err := io.ReadFull(serverConn, frame); err != nil {
			got <- err.Error()
			return
		}
		got <- string(frame[4:])
	}()

	client, err := sasl.NewClient(clientConn, sasl.NewPlain("alice", "wonderland"), sasl.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := client.Handshake(context.Background(), "impalad-1.example.com"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("authenticated with", client.Mechanism())
	_, _ = client.Write([]byte("hello"))
	if err := client.Flush(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("server received:", <-got)
	// Output:
	// authenticated with PLAIN
	// server received: hello
}

// ExampleHandshakeError shows how a wrong password looks to the client.
func ExampleHandshakeError() {
	clientConn, serverConn := net.Pipe()
	defer clientConn.Close()
	defer serverConn.Close()

	go func() {
		_, _ = io.ReadFull(serverConn, make([]byte, 5+len("PLAIN")))
		_, _ = io.ReadFull(serverConn, make([]byte, 5+len("\x00alice\x00typo")))
		msg := "authentication failed for user alice"
		_, _ = serverConn.Write(append([]byte{byte(sasl.StatusBad), 0, 0, 0, byte(len(msg))}, msg...))
	}()
	client, _ := sasl.NewClient(clientConn, sasl.NewPlain("alice", "typo"), sasl.Config{})
	err := client.Handshake(context.Background(), "impalad-1.example.com")
	fmt.Println(errors.Is(err, sasl.ErrRejected))
	var he *sasl.HandshakeError
	if errors.As(err, &he) {
		fmt.Println(he.Status, he.PeerMessage)
	}
	// Output:
	// true
	// BAD authentication failed for user alice
}
