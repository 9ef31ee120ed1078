package sasl_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/impalalb/impalalb/conn/sasl"
)

// Example runs a PLAIN handshake between a client and a server over an
// in-memory connection, then sends one frame.
func Example() {
	clientConn, serverConn := net.Pipe()
	defer clientConn.Close()
	defer serverConn.Close()

	check := func(user, password string) error {
		if user == "alice" && password == "wonderland" {
			return nil
		}
		return errors.New("invalid credentials")
	}
	type accepted struct {
		tr   *sasl.Transport
		user string
		err  error
	}
	done := make(chan accepted, 1)
	go func() {
		tr, user, err := sasl.Accept(serverConn, map[string]sasl.ServerMechanismFactory{
			sasl.PlainName: sasl.NewPlainServer(check),
		}, sasl.Config{})
		done <- accepted{tr, user, err}
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
	server := <-done
	if server.err != nil {
		fmt.Println(server.err)
		return
	}
	fmt.Println("authenticated:", server.user)

	go func() {
		_, _ = client.Write([]byte("hello"))
		_ = client.Flush(context.Background())
	}()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(server.tr, buf); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("received:", string(buf))
	// Output:
	// authenticated: alice
	// received: hello
}

// ExampleHandshakeError shows how a wrong password looks to the client.
func ExampleHandshakeError() {
	clientConn, serverConn := net.Pipe()
	defer clientConn.Close()
	defer serverConn.Close()

	go func() {
		_, _, _ = sasl.Accept(serverConn, map[string]sasl.ServerMechanismFactory{
			sasl.PlainName: sasl.NewPlainServer(func(string, string) error { return errors.New("invalid credentials") }),
		}, sasl.Config{})
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
	// BAD sasl: PLAIN: authentication failed for user "alice": invalid credentials
}
