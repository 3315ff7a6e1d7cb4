package ingest

import (
	"context"
	"errors"
	"testing"
	"time"

	"cutover/model"
)

type memCache map[string]string

func (m memCache) ISPCacheGet(d string) (string, bool) { v, ok := m[d]; return v, ok }
func (m memCache) ISPCachePut(d, isp string, _ time.Duration) error {
	m[d] = isp
	return nil
}

func TestClassifier(t *testing.T) {
	calls := 0
	c := NewClassifier(model.NewISPTable(map[string]string{"corp.example": "microsoft"}, nil))
	c.Cache = memCache{}
	c.Lookup = func(_ context.Context, d string) ([]string, error) {
		calls++
		switch d {
		case "workspace.example":
			return []string{"aspmx.l.google.com", "alt1.aspmx.l.google.com"}, nil
		case "tenant.example":
			return []string{"tenant-example.mail.protection.outlook.com"}, nil
		case "mixed.example":
			return []string{"aspmx.l.google.com", "mx.mimecast.com"}, nil
		}
		return nil, errors.New("nxdomain")
	}
	for d, want := range map[string]string{
		"gmail.com": "google", "hotmail.co.uk": "microsoft", "aol.com": "yahoo", "corp.example": "microsoft",
		"workspace.example": "google", "tenant.example": "microsoft", "mixed.example": "other", "nx.example": "other",
	} {
		if got := c.ISP(d); got != want {
			t.Errorf("%s: got %s want %s", d, got, want)
		}
	}
	before := calls
	c.ISP("workspace.example")
	if calls != before {
		t.Errorf("second lookup not cached")
	}
	if got := c.Cache.(memCache)["workspace.example"]; got != "google" {
		t.Errorf("persistent cache has %q", got)
	}
	if _, ok := c.Cache.(memCache)["nx.example"]; ok {
		t.Errorf("failed lookup must not be persisted")
	}
}
