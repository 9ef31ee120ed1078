package impalad_test

import (
	"fmt"
	"time"

	"github.com/impalalb/impalalb/internal/impalad"
)

// Three coordinators sharing a catalog whose DDL reaches the others after
// 50 ms, as a test of session affinity would start them.
func Example() {
	cluster := impalad.NewCluster(50 * time.Millisecond)
	cos, err := cluster.StartN(3, impalad.Config{DisableBeeswax: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		for _, co := range cos {
			co.Close()
		}
	}()
	for _, co := range cos {
		_ = co.HS2Addr() // dial this with the client under test
	}
	cos[1].Faults().SetDelay(10 * time.Millisecond) // a slow coordinator
	fmt.Println(len(cos), cos[0].Stats().SessionsOpen)
	// Output: 3 0
}

// Client tests compare what they decode from gen.rows_N with GenValue.
func ExampleGenValue() {
	schema := impalad.GenSchema()
	for _, col := range []int{0, 8, 9, 13} {
		fmt.Printf("%s %s = %v\n", schema[col].Name, schema[col].Type, impalad.FormatValue(schema[col].Type, impalad.GenValue(col, 3)))
	}
	fmt.Println(impalad.GenIsNull(3, 3), impalad.GenValue(3, 3))
	// Output:
	// id bigint = 3
	// decimal_col decimal(10,2) = -46.97
	// string_col string = row-3
	// date_col date = 2000-01-04
	// true <nil>
}
