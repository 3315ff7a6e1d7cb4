package exim

import (
	"time"

	"cutover/ingest/lex"
)

// The byte-level helpers live in ingest/lex, shared by the three parsers.
type (
	zoneCache = lex.ZoneCache
	interner  = lex.Interner
)

func clock(b []byte) (h, m, s int, ok bool) { return lex.Clock(b) }
func zone(b []byte, loc *time.Location, zc *zoneCache) (*time.Location, bool) {
	return lex.Zone(b, loc, zc)
}
func atoi(b []byte) (int, bool) { return lex.Atoi(b) }
func codeLen(b []byte) int      { return lex.CodeLen(b) }
func findCode(b []byte) []byte  { return lex.FindCode(b) }
