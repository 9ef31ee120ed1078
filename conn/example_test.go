package conn_test

import (
	"context"
	"fmt"
	"io"
	"log"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// Example starts a test coordinator in-process, opens an HS2 session and
// runs `select 1`.
func Example() {
	co, err := impalad.Start(impalad.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer co.Close()

	ctx := context.Background()
	s, err := conn.Dial(ctx, co.HS2Addr(), conn.Options{User: "demo"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	op, err := s.Execute(ctx, "select 1 as one", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close(ctx)
	c := op.Columns()[0]
	fmt.Println(c.Name, c.TypeName)
	for {
		b, err := op.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		for r := 0; r < b.Len(); r++ {
			fmt.Println(b.Value(0, r))
		}
	}
	// Output:
	// one TINYINT
	// 1
}
