package impalad

import (
	"context"
	"testing"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// BenchmarkSelectOne measures one statement's full round trip (execute,
// status, metadata, fetch, close) on one session, client included.
func BenchmarkSelectOne(b *testing.B) {
	b.ReportAllocs()
	co := startCoord(b, Config{DisableBeeswax: true})
	h := dialHS2(b, co.HS2Addr())
	h.mustOpen()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		resp, err := h.c.ExecuteStatement(ctx, &tcli.TExecuteStatementReq{SessionHandle: h.sess, Statement: "select 1"})
		if err != nil || resp.Status.StatusCode != tcli.TStatusCode_SUCCESS_STATUS {
			b.Fatal(err, resp)
		}
		op := resp.OperationHandle
		if _, err := h.c.GetOperationStatus(ctx, &tcli.TGetOperationStatusReq{OperationHandle: op}); err != nil {
			b.Fatal(err)
		}
		if _, err := h.c.FetchResults(ctx, &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: 1024}); err != nil {
			b.Fatal(err)
		}
		if _, err := h.c.CloseOperation(ctx, &tcli.TCloseOperationReq{OperationHandle: op}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFetchGen measures fetching generated rows (all 15 columns), in
// rows per second, client decoding by the generated Thrift code included.
func BenchmarkFetchGen(b *testing.B) {
	b.ReportAllocs()
	co := startCoord(b, Config{DisableBeeswax: true})
	h := dialHS2(b, co.HS2Addr())
	h.mustOpen()
	ctx := context.Background()
	resp, err := h.c.ExecuteStatement(ctx, &tcli.TExecuteStatementReq{SessionHandle: h.sess, Statement: "select * from gen.rows_1000000000"})
	if err != nil {
		b.Fatal(err)
	}
	op := resp.OperationHandle
	b.ResetTimer()
	for b.Loop() {
		fr, err := h.c.FetchResults(ctx, &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: 1024})
		if err != nil || len(fr.Results.Columns) != 15 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1024/b.Elapsed().Seconds(), "rows/s")
}
