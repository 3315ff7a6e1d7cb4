package ingest

import (
	"testing"

	"cutover/model"
)

func TestSideMap(t *testing.T) {
	m, err := ParseSideMap("vmta-old-*=old, 198.51.100.0/24=new, 203.0.113.7=old, pool-warm=old")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ev   model.Event
		want model.Side
	}{
		{model.Event{VMTA: "vmta-old-3"}, model.SideOld},
		{model.Event{VMTA: "vmta-new-1", SourceIP: "198.51.100.9"}, model.SideNew},
		{model.Event{SourceIP: "203.0.113.7"}, model.SideOld},
		{model.Event{SourceIP: "203.0.113.8"}, model.SideNew}, // default
		{model.Event{Pool: "pool-warm", SourceIP: "192.0.2.1"}, model.SideOld},
		{model.Event{Pool: "pool-warm", SourceIP: "198.51.100.1"}, model.SideNew}, // first match wins
		{model.Event{SourceIP: "garbage"}, model.SideNew},
	}
	for _, c := range cases {
		if got := m.Side(&c.ev, model.SideNew); got != c.want {
			t.Errorf("%+v: got %v want %v", c.ev, got, c.want)
		}
	}
	for _, bad := range []string{"novalue", "x=middle", "[=old"} {
		if _, err := ParseSideMap(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}
