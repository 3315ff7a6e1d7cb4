// Package realmta holds the integration tests that run real Postfix 3.7 and
// Exim 4.96 (installed by scripts/real-mta.sh), drive mail through them to a
// Go SMTP sink, and compare what cutover counts from their logs with what
// pflogsumm and eximstats report from the same logs.
//
// The tests that need the real MTAs are behind the build tag realmta:
//
//	go test -tags realmta ./ingest/realmta/...
//
// They skip when the MTAs or root are missing, except when CI=true, where
// they fail. The sink and the pflogsumm/eximstats report parsers have plain
// tests that run everywhere (on saved output in testdata/).
//
// testdata/ keeps one real Postfix maillog_file and one real Exim mainlog
// with the pflogsumm and eximstats reports made from them, for the parser
// authors; see testdata/README.
package realmta
