// impalalb's subset of Impala's own services: the HiveServer2 extensions
// (ImpalaHiveServer2Service) and the beeswax extensions (ImpalaService),
// with the few structs of Status.thrift and ExecStats.thrift they carry.
// Field ids, types and method names follow Apache Impala's definitions;
// fields the library does not read are left out (Thrift skips them).

namespace go impala

include "TCLIService.thrift"
include "beeswax.thrift"

// Impala's error codes (ErrorCodes.thrift); only the ones we name.
enum TErrorCode {
  OK = 0
  UNUSED = 1
  GENERAL = 2
  CANCELLED = 3
}

// Impala's own status (Status.thrift), returned by beeswax Cancel.
struct TStatus {
  1: required TErrorCode status_code
  2: list<string> error_msgs
}

enum TExecState {
  REGISTERED = 0
  PLANNING = 1
  QUEUED = 2
  RUNNING = 3
  FINISHED = 4
  CANCELLED = 5
  FAILED = 6
}

struct TExecStats {
  1: optional i64 latency_ns
  2: optional i64 cpu_time_ns
  3: optional i64 cardinality
  4: optional i64 memory_used
}

struct TPlanNodeExecSummary {
  1: required i32 node_id
  2: required i32 fragment_idx
  3: required string label
  4: optional string label_detail
  5: required i32 num_children
  6: optional TExecStats estimated_stats
  7: optional list<TExecStats> exec_stats
  9: optional i32 num_hosts
}

struct TExecProgress {
  1: optional i64 total_scan_ranges
  2: optional i64 num_completed_scan_ranges
}

struct TExecSummary {
  1: required TExecState state
  2: optional TStatus status
  3: optional list<TPlanNodeExecSummary> nodes
  4: optional map<i32, i32> exch_to_sender_map
  5: optional list<string> error_logs
  6: optional TExecProgress progress
  7: optional bool is_queued
  8: optional string queued_reason
}

// Rows changed by a DML statement, per partition ("" for an unpartitioned table).
struct TDmlResult {
  1: required map<string, i64> rows_modified
  2: optional i64 num_row_errors
  3: optional map<string, i64> rows_deleted
}

struct TPingImpalaServiceResp {
  1: string version
  2: string webserver_address
}

struct TPingImpalaHS2ServiceReq {
  1: required TCLIService.TSessionHandle sessionHandle
}

struct TPingImpalaHS2ServiceResp {
  1: required TCLIService.TStatus status
  2: optional string version
  3: optional string webserver_address
  4: optional i64 timestamp
}

struct TCloseImpalaOperationReq {
  1: required TCLIService.TOperationHandle operationHandle
}

struct TCloseImpalaOperationResp {
  1: required TCLIService.TStatus status
  2: optional TDmlResult dml_result
}

enum TRuntimeProfileFormat {
  STRING = 0
  BASE64 = 1
  THRIFT = 2
  JSON = 3
}

struct TGetExecSummaryReq {
  1: optional TCLIService.TOperationHandle operationHandle
  2: optional TCLIService.TSessionHandle sessionHandle
  3: optional bool include_query_attempts = false
}

struct TGetExecSummaryResp {
  1: required TCLIService.TStatus status
  2: optional TExecSummary summary
  3: optional list<TExecSummary> failed_summaries
}

struct TGetRuntimeProfileReq {
  1: optional TCLIService.TOperationHandle operationHandle
  2: optional TCLIService.TSessionHandle sessionHandle
  3: optional TRuntimeProfileFormat format = TRuntimeProfileFormat.STRING
  4: optional bool include_query_attempts = false
}

struct TGetRuntimeProfileResp {
  1: required TCLIService.TStatus status
  2: optional string profile
  4: optional list<string> failed_profiles
}

service ImpalaService extends beeswax.BeeswaxService {
  TStatus Cancel(1: beeswax.QueryHandle query_id) throws (1: beeswax.BeeswaxException error)
  string GetRuntimeProfile(1: beeswax.QueryHandle query_id) throws (1: beeswax.BeeswaxException error)
  TDmlResult CloseInsert(1: beeswax.QueryHandle handle) throws (1: beeswax.QueryNotFoundException error, 2: beeswax.BeeswaxException error2)
  TPingImpalaServiceResp PingImpalaService()
  TExecSummary GetExecSummary(1: beeswax.QueryHandle handle) throws (1: beeswax.QueryNotFoundException error, 2: beeswax.BeeswaxException error2)
}

service ImpalaHiveServer2Service extends TCLIService.TCLIService {
  TGetExecSummaryResp GetExecSummary(1: TGetExecSummaryReq req)
  TGetRuntimeProfileResp GetRuntimeProfile(1: TGetRuntimeProfileReq req)
  TPingImpalaHS2ServiceResp PingImpalaHS2Service(1: TPingImpalaHS2ServiceReq req)
  TCloseImpalaOperationResp CloseImpalaOperation(1: TCloseImpalaOperationReq req)
}
