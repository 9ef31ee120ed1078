// impalalb's subset of the beeswax interface that Impala serves on port
// 21000 (deprecated by Impala in favour of HiveServer2, still in use).
// Field ids, types and method names follow Apache Impala's definitions
// (beeswax.thrift and the two metastore structs it uses); the text is ours.

namespace go beeswax

// A column of a result schema (the metastore's FieldSchema).
struct FieldSchema {
  1: string name
  // The type name as Impala prints it: "int", "decimal(10,2)", "varchar(5)".
  2: string type
  3: string comment
}

// A result schema (the metastore's Schema).
struct Schema {
  1: list<FieldSchema> fieldSchemas
  2: map<string, string> properties
}

struct Query {
  1: string query
  // Query options as "key=value" strings.
  3: list<string> configuration
  4: string hadoop_user
}

typedef string LogContextId

enum QueryState {
  CREATED = 0
  INITIALIZED = 1
  COMPILED = 2
  RUNNING = 3
  FINISHED = 4
  EXCEPTION = 5
}

struct QueryHandle {
  1: string id
  2: LogContextId log_context
}

struct QueryExplanation {
  1: string textual
}

// One batch of rows. Each row of data is one string, columns separated by
// the delimiter of ResultsMetadata (a tab), NULL spelled "NULL".
struct Results {
  1: bool ready
  2: list<string> columns
  3: list<string> data
  4: i64 start_row
  5: bool has_more
}

struct ResultsMetadata {
  1: Schema schema
  2: string table_dir
  3: string in_tablename
  4: string delim
}

exception BeeswaxException {
  1: string message
  2: LogContextId log_context
  3: QueryHandle handle
  4: optional i32 errorCode = 0
  5: optional string SQLState = "     "
}

exception QueryNotFoundException {
}

enum TQueryOptionLevel {
  REGULAR = 0
  ADVANCED = 1
  DEVELOPMENT = 2
  DEPRECATED = 3
  REMOVED = 4
}

struct ConfigVariable {
  1: string key
  2: string value
  3: string description
  4: optional TQueryOptionLevel level
}

service BeeswaxService {
  QueryHandle query(1: Query query) throws (1: BeeswaxException error)
  QueryHandle executeAndWait(1: Query query, 2: LogContextId clientCtx) throws (1: BeeswaxException error)
  QueryExplanation explain(1: Query query) throws (1: BeeswaxException error)
  Results fetch(1: QueryHandle query_id, 2: bool start_over, 3: i32 fetch_size = -1) throws (1: QueryNotFoundException error, 2: BeeswaxException error2)
  QueryState get_state(1: QueryHandle handle) throws (1: QueryNotFoundException error)
  ResultsMetadata get_results_metadata(1: QueryHandle handle) throws (1: QueryNotFoundException error)
  string echo(1: string s)
  string dump_config()
  string get_log(1: LogContextId context) throws (1: QueryNotFoundException error)
  list<ConfigVariable> get_default_configuration(1: bool include_hadoop)
  void close(1: QueryHandle handle) throws (1: QueryNotFoundException error, 2: BeeswaxException error2)
  void clean(1: LogContextId log_context)
}
