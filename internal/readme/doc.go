// Package readme holds the Go snippets of the repository's README.md, one
// file per snippet, so that they are compiled and vetted with the module;
// its test keeps them equal to the README.
package readme
