package conn

// QueryIDFromGUID exposes queryIDFromGUID to the external tests.
var QueryIDFromGUID = queryIDFromGUID
