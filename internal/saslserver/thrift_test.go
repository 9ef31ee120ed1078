package saslserver_test

import (
	"context"
	"net"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/saslserver"
	"github.com/impalalb/impalalb/internal/sasltest"
)

// TestThriftRoundTrip runs a Thrift call and its reply with the binary
// protocol over both ends of a SASL transport.
func TestThriftRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		pair  func(testing.TB) (net.Conn, net.Conn)
		mech  func() sasl.Mechanism
		mechs map[string]saslserver.MechanismFactory
	}{
		{name: "plain over tcp", pair: sasltest.TCPPair,
			mech:  func() sasl.Mechanism { return sasl.NewPlain(testUser, testPassword) },
			mechs: plainMechs()},
		{name: "xor layer over pipe", pair: sasltest.PipePair,
			mech: func() sasl.Mechanism { return &sasltest.XORClient{XORLayer: sasltest.XORLayer{Key: 0x77}} },
			mechs: map[string]saslserver.MechanismFactory{"XOR-TEST": func() saslserver.Mechanism {
				return &sasltest.XORServer{XORLayer: sasltest.XORLayer{Key: 0x77}}
			}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := tc.pair(t)
			res := serve(t, sc, tc.mechs)
			ctr, err := sasl.NewClient(cc, tc.mech(), sasl.Config{})
			require.NoError(t, err)
			ctx := sasltest.Ctx(t)
			require.NoError(t, ctr.Handshake(ctx, "localhost"))
			r := <-res
			require.NoError(t, r.err)

			conf := &thrift.TConfiguration{}
			client := thrift.NewTBinaryProtocolConf(ctr, conf)
			server := thrift.NewTBinaryProtocolConf(r.tr, conf)

			serverDone := make(chan error, 1)
			go func() { serverDone <- echoOnce(ctx, server) }()

			big := make([]byte, 200<<10) // spans many bufio fills
			for i := range big {
				big[i] = byte(i)
			}
			require.NoError(t, writeCall(ctx, client, "GetInfo", 7, "hello", big))
			name, typ, seq, err := client.ReadMessageBegin(ctx)
			require.NoError(t, err)
			require.Equal(t, "GetInfo", name)
			require.Equal(t, thrift.REPLY, typ)
			require.EqualValues(t, 7, seq)
			s, b := readArgs(ctx, t, client)
			require.NoError(t, client.ReadMessageEnd(ctx))
			require.Equal(t, "echo: hello", s)
			require.Equal(t, big, b)
			require.NoError(t, <-serverDone)
		})
	}
}

// writeCall writes a message whose struct has field 1 (string) and
// field 2 (binary).
func writeCall(ctx context.Context, p thrift.TProtocol, name string, seq int32, s string, b []byte) error {
	return writeMessage(ctx, p, name, thrift.CALL, seq, s, b)
}

func writeMessage(ctx context.Context, p thrift.TProtocol, name string, typ thrift.TMessageType, seq int32, s string, b []byte) error {
	steps := []func() error{
		func() error { return p.WriteMessageBegin(ctx, name, typ, seq) },
		func() error { return p.WriteStructBegin(ctx, "args") },
		func() error { return p.WriteFieldBegin(ctx, "s", thrift.STRING, 1) },
		func() error { return p.WriteString(ctx, s) },
		func() error { return p.WriteFieldEnd(ctx) },
		func() error { return p.WriteFieldBegin(ctx, "b", thrift.STRING, 2) },
		func() error { return p.WriteBinary(ctx, b) },
		func() error { return p.WriteFieldEnd(ctx) },
		func() error { return p.WriteFieldStop(ctx) },
		func() error { return p.WriteStructEnd(ctx) },
		func() error { return p.WriteMessageEnd(ctx) },
		func() error { return p.Flush(ctx) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func readArgs(ctx context.Context, t *testing.T, p thrift.TProtocol) (string, []byte) {
	t.Helper()
	s, b, err := readArgsErr(ctx, p)
	require.NoError(t, err)
	return s, b
}

func readArgsErr(ctx context.Context, p thrift.TProtocol) (s string, b []byte, err error) {
	if _, err = p.ReadStructBegin(ctx); err != nil {
		return
	}
	for {
		var (
			typ thrift.TType
			id  int16
		)
		_, typ, id, err = p.ReadFieldBegin(ctx)
		if err != nil {
			return
		}
		if typ == thrift.STOP {
			break
		}
		switch id {
		case 1:
			s, err = p.ReadString(ctx)
		case 2:
			b, err = p.ReadBinary(ctx)
		default:
			err = p.Skip(ctx, typ)
		}
		if err != nil {
			return
		}
		if err = p.ReadFieldEnd(ctx); err != nil {
			return
		}
	}
	err = p.ReadStructEnd(ctx)
	return
}

// echoOnce reads one call and answers it with a reply that echoes it.
func echoOnce(ctx context.Context, p thrift.TProtocol) error {
	name, _, seq, err := p.ReadMessageBegin(ctx)
	if err != nil {
		return err
	}
	s, b, err := readArgsErr(ctx, p)
	if err != nil {
		return err
	}
	if err := p.ReadMessageEnd(ctx); err != nil {
		return err
	}
	return writeMessage(ctx, p, name, thrift.REPLY, seq, "echo: "+s, b)
}
