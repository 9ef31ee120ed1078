package conn

// QueryIDFromGUID exposes queryIDFromGUID to the external tests.
var QueryIDFromGUID = queryIDFromGUID

// MajorVersion exposes majorVersion to the external tests.
var MajorVersion = majorVersion
